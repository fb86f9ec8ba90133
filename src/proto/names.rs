//! Names that many connections share (server names, proxy targets), kept once.
//!
//! The connections of a long capture go to a few dozen names over and over: a
//! copy of `*.msappproxy.net` per connection, then another per attempt, was a
//! large share of what a multi-gigabyte capture kept in memory.

use std::collections::HashSet;
use std::sync::Arc;

/// Each distinct name once, up to [`Names::MAX`]; later ones are still given
/// out, unshared, so a capture of ever new names costs what it did before.
#[derive(Debug, Default)]
pub struct Names {
    /// aHash, keyed per run: the names come from the capture.
    known: HashSet<Arc<str>, ahash::RandomState>,
}

impl Names {
    pub const MAX: usize = 16_384;

    /// The shared copy of `name`.
    pub fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(known) = self.known.get(name) {
            return Arc::clone(known);
        }
        let name: Arc<str> = Arc::from(name);
        if self.known.len() < Self::MAX {
            self.known.insert(Arc::clone(&name));
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_kept_once_until_the_cap() {
        let mut names = Names::default();
        let a = names.intern("relay.servicebus.windows.net");
        let b = names.intern("relay.servicebus.windows.net");
        assert!(Arc::ptr_eq(&a, &b));
        for i in 0..Names::MAX {
            names.intern(&format!("n{i}.example"));
        }
        assert_eq!(names.known.len(), Names::MAX);
        // Past the cap a name is still right, but no longer shared.
        let late = names.intern("late.example");
        let again = names.intern("late.example");
        assert_eq!(&*late, "late.example");
        assert!(!Arc::ptr_eq(&late, &again));
        assert!(Arc::ptr_eq(&a, &names.intern("relay.servicebus.windows.net")));
    }
}
