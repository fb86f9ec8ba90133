//! IPv4 (RFC 791 section 3.2) and IPv6 (RFC 8200 section 4.5) fragment
//! reassembly, bounded: at most [`MAX_PENDING`] datagrams at once, each at most
//! 64 KiB, forgotten after [`FRAGMENT_TIMEOUT_NANOS`] (Linux's `ipfrag_time`).

use std::net::IpAddr;

pub const MAX_PENDING: usize = 64;
pub const FRAGMENT_TIMEOUT_NANOS: i64 = 30_000_000_000;
const MAX_DATAGRAM: usize = 65_535;
/// Byte ranges remembered per datagram; more pieces than this is crafted input.
const MAX_PIECES: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FragmentKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: u8,
    pub id: u32,
}

/// One fragment: where its payload goes in the datagram.
pub struct Fragment<'a> {
    pub key: FragmentKey,
    /// Offset of this piece in bytes (the header field is in 8-byte units).
    pub offset: usize,
    pub more: bool,
    pub payload: &'a [u8],
}

struct Pending {
    key: FragmentKey,
    first_seen: i64,
    data: Vec<u8>,
    /// Received byte ranges, unsorted; few in practice.
    pieces: Vec<(usize, usize)>,
    total: Option<usize>,
}

impl Pending {
    fn is_complete(&self) -> bool {
        let Some(total) = self.total else { return false };
        let mut ranges = self.pieces.clone();
        ranges.sort_unstable();
        let mut covered = 0;
        for (start, end) in ranges {
            if start > covered {
                return false;
            }
            covered = covered.max(end);
        }
        covered >= total
    }
}

#[derive(Default)]
pub struct FragmentPool {
    pending: Vec<Pending>,
    out: Vec<u8>,
    /// Datagrams given up (timeout, eviction, overlong, too many pieces).
    pub abandoned: u64,
}

impl FragmentPool {
    /// Adds a fragment; returns the whole transport payload once every piece is in.
    pub fn insert(&mut self, fragment: Fragment<'_>, ts: i64) -> Option<&[u8]> {
        self.expire(ts);
        let end = fragment.offset.checked_add(fragment.payload.len())?;
        if end > MAX_DATAGRAM {
            self.abandoned += 1;
            return None;
        }
        let index = match self.pending.iter().position(|p| p.key == fragment.key) {
            Some(i) => i,
            None => {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                    self.abandoned += 1;
                }
                self.pending.push(Pending {
                    key: fragment.key,
                    first_seen: ts,
                    data: Vec::new(),
                    pieces: Vec::new(),
                    total: None,
                });
                self.pending.len() - 1
            }
        };
        let entry = &mut self.pending[index];
        if entry.pieces.len() >= MAX_PIECES {
            self.pending.remove(index);
            self.abandoned += 1;
            return None;
        }
        if entry.data.len() < end {
            entry.data.resize(end, 0);
        }
        entry.data[fragment.offset..end].copy_from_slice(fragment.payload);
        entry.pieces.push((fragment.offset, end));
        if !fragment.more {
            entry.total = Some(end);
        }
        if !entry.is_complete() {
            return None;
        }
        let done = self.pending.remove(index);
        let total = done.total.unwrap_or(done.data.len());
        self.out.clear();
        self.out.extend_from_slice(&done.data[..total.min(done.data.len())]);
        Some(&self.out)
    }

    fn expire(&mut self, now: i64) {
        let before = self.pending.len();
        self.pending
            .retain(|p| now.saturating_sub(p.first_seen) <= FRAGMENT_TIMEOUT_NANOS);
        self.abandoned += (before - self.pending.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key() -> FragmentKey {
        FragmentKey {
            src: Ipv4Addr::new(192, 0, 2, 1).into(),
            dst: Ipv4Addr::new(192, 0, 2, 2).into(),
            protocol: 6,
            id: 7,
        }
    }

    #[test]
    fn reassembles_out_of_order() {
        let mut pool = FragmentPool::default();
        let second = Fragment {
            key: key(),
            offset: 8,
            more: false,
            payload: b"world",
        };
        assert!(pool.insert(second, 0).is_none());
        let first = Fragment {
            key: key(),
            offset: 0,
            more: true,
            payload: b"hello, w",
        };
        assert_eq!(pool.insert(first, 1), Some(&b"hello, wworld"[..]));
    }

    #[test]
    fn gives_up_after_timeout_and_bounds_size() {
        let mut pool = FragmentPool::default();
        let first = Fragment {
            key: key(),
            offset: 0,
            more: true,
            payload: b"12345678",
        };
        assert!(pool.insert(first, 0).is_none());
        let last = Fragment {
            key: key(),
            offset: 8,
            more: false,
            payload: b"x",
        };
        assert!(pool.insert(last, FRAGMENT_TIMEOUT_NANOS + 1).is_none());
        assert_eq!(pool.abandoned, 1);
        let huge = Fragment {
            key: key(),
            offset: 65_528,
            more: false,
            payload: &[0; 16],
        };
        assert!(pool.insert(huge, 0).is_none());
    }
}
