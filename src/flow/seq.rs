//! TCP sequence numbers: 32-bit and wrapping (RFC 9293 section 3.4), so
//! "before" and "after" are decided by the sign of the wrapped difference.

use std::cmp::Ordering;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Bytes from `earlier` to `self`, negative when `self` comes first.
    pub fn distance_from(self, earlier: SeqNumber) -> i64 {
        i64::from(self.0.wrapping_sub(earlier.0) as i32)
    }

    pub fn wrapping_add(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.distance_from(*other).cmp(&0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_across_the_wrap() {
        let before = SeqNumber(u32::MAX - 10);
        let after = before.wrapping_add(20);
        assert_eq!(after.0, 9);
        assert!(after > before);
        assert_eq!(after.distance_from(before), 20);
        assert_eq!(before.distance_from(after), -20);
    }
}
