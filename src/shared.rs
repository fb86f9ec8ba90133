//! Values that many connections repeat (server names, hosts, TLS handshakes),
//! kept once.
//!
//! The connections of a long capture go to a few dozen names over and over: a
//! copy of `*.msappproxy.net` per connection, then another per attempt, was a
//! large share of what a multi-gigabyte capture kept in memory.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::hash::Hash;
use std::sync::Arc;

/// Each distinct value once, up to `MAX`; later ones are still given out,
/// unshared, so a capture of ever new values costs what it did before.
#[derive(Debug)]
pub struct Shared<T: ?Sized, const MAX: usize> {
    /// aHash, keyed per run: the values come from the capture.
    known: HashSet<Arc<T>, ahash::RandomState>,
}

/// Server names, hosts, HTTP methods and reason phrases; DNS answers' names.
pub type Names = Shared<str, 16_384>;

impl<T: ?Sized, const MAX: usize> Default for Shared<T, MAX> {
    fn default() -> Self {
        Shared {
            known: HashSet::default(),
        }
    }
}

impl<T: ?Sized + Hash + Eq, const MAX: usize> Shared<T, MAX> {
    pub const MAX: usize = MAX;

    /// The shared copy of `value`: borrowed (`&str`), owned, or already in an
    /// `Arc`, which then becomes the shared copy without another allocation.
    pub fn share<V: Borrow<T>>(&mut self, value: V) -> Arc<T>
    where
        Arc<T>: From<V>,
    {
        if let Some(known) = self.known.get(value.borrow()) {
            return Arc::clone(known);
        }
        let value = Arc::from(value);
        if self.known.len() < MAX {
            self.known.insert(Arc::clone(&value));
        }
        value
    }

    /// How many values are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.known.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_kept_once_until_the_cap() {
        let mut names = Names::default();
        let a = names.share("relay.servicebus.windows.net");
        let b = names.share("relay.servicebus.windows.net");
        assert!(Arc::ptr_eq(&a, &b));
        for i in 0..Names::MAX {
            names.share(format!("n{i}.example").as_str());
        }
        assert_eq!(names.len(), Names::MAX);
        // Past the cap a name is still right, but no longer shared.
        let late = names.share("late.example");
        let again = names.share("late.example");
        assert_eq!(&*late, "late.example");
        assert!(!Arc::ptr_eq(&late, &again));
        assert!(Arc::ptr_eq(&a, &names.share("relay.servicebus.windows.net")));
    }
}
