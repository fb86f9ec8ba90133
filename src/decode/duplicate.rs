//! Capture duplicates: the same packet recorded twice by the capture itself
//! (Npcap on two adapters, a SPAN port seeing both legs, a bridge). A copy is
//! identical from the IP header on, IPv4 identification included, and arrives
//! within [`WINDOW_NANOS`]; a real retransmission gets a new IPv4 ID or at
//! least different TCP timestamps, so it is never folded.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

/// How close in time two copies must be.
pub const WINDOW_NANOS: i64 = 50_000_000;
/// Most packets remembered (a burst of more than this within 50 ms is not
/// checked further back than this).
const MAX_REMEMBERED: usize = 65_536;
/// Bytes hashed from the IP header on: headers and the start of the payload,
/// plus the length. Enough to tell packets apart, cheap on bulk data.
const HASHED_PREFIX: usize = 128;

#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // FNV-1a over 8-byte words: fast and good enough for a fingerprint.
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h ^= u64::from_le_bytes(word);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            h ^= h >> 29;
        }
        self.0 = h;
    }
}

type FnvBuild = BuildHasherDefault<Fnv>;

/// Remembers recent packets to recognise their copies.
#[derive(Default)]
pub struct DuplicateFilter {
    recent: HashMap<u64, (i64, u64), BuildHasherDefault<IdentityHasher>>,
    order: VecDeque<(i64, u64)>,
    pub folded: u64,
}

impl DuplicateFilter {
    /// Returns the frame number of the earlier copy when `ip` is a duplicate.
    pub fn check(&mut self, ip: &[u8], ts: i64, frame: u64) -> Option<u64> {
        while let Some(&(old_ts, key)) = self.order.front() {
            if ts.saturating_sub(old_ts) <= WINDOW_NANOS && self.order.len() < MAX_REMEMBERED {
                break;
            }
            self.order.pop_front();
            if self.recent.get(&key).is_some_and(|&(t, _)| t == old_ts) {
                self.recent.remove(&key);
            }
        }
        let key = fingerprint(ip);
        if let Some(&(seen_ts, seen_frame)) = self.recent.get(&key) {
            let delta = ts.saturating_sub(seen_ts);
            if (0..=WINDOW_NANOS).contains(&delta) {
                self.folded += 1;
                return Some(seen_frame);
            }
        }
        self.recent.insert(key, (ts, frame));
        self.order.push_back((ts, key));
        None
    }
}

fn fingerprint(ip: &[u8]) -> u64 {
    let mut h = FnvBuild::default().build_hasher();
    h.write(&ip[..ip.len().min(HASHED_PREFIX)]);
    h.write(&(ip.len() as u64).to_le_bytes());
    h.finish()
}

/// The keys are already hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_copies_within_the_window_only() {
        let mut f = DuplicateFilter::default();
        let packet = [0x45u8, 0, 0, 40, 0, 1, 2, 3];
        assert_eq!(f.check(&packet, 0, 1), None);
        assert_eq!(f.check(&packet, 6_000_000, 2), Some(1));
        assert_eq!(f.check(&packet, 6_000_000 + WINDOW_NANOS + 1, 3), None);
        let other = [0x45u8, 0, 0, 40, 0, 2, 2, 3];
        assert_eq!(f.check(&other, 6_000_000 + WINDOW_NANOS + 2, 4), None);
        assert_eq!(f.folded, 1);
    }
}

/// Packet ids seen (pcapng `epb_packetid`, which etl2pcapng gives every
/// appearance of one packet at the stack's components): the first appearance
/// counts, the others are copies. Remembers the most recent ids only.
#[derive(Default)]
pub struct PacketIds {
    seen: HashMap<(usize, u64), ()>,
    order: VecDeque<(usize, u64)>,
    pub folded: u64,
}

/// Copies of one packet arrive together; this many ids back is plenty.
const MAX_PACKET_IDS: usize = 65_536;

impl PacketIds {
    /// Whether this is the first appearance of `id` in `section`.
    pub fn first_sighting(&mut self, section: usize, id: u64) -> bool {
        if self.seen.contains_key(&(section, id)) {
            self.folded += 1;
            return false;
        }
        if self.order.len() >= MAX_PACKET_IDS {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
        self.seen.insert((section, id), ());
        self.order.push_back((section, id));
        true
    }
}

#[cfg(test)]
mod packet_id_tests {
    use super::*;

    #[test]
    fn copies_are_per_section() {
        let mut ids = PacketIds::default();
        assert!(ids.first_sighting(0, 7));
        assert!(!ids.first_sighting(0, 7));
        assert!(ids.first_sighting(1, 7));
        assert_eq!(ids.folded, 1);
    }
}
