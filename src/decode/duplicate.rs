//! Capture duplicates: the same packet recorded twice by the capture itself
//! (Npcap on two adapters, a SPAN port seeing both legs, a bridge). A copy is
//! identical from the IP header on, IPv4 identification included, and arrives
//! within [`WINDOW_NANOS`]; a real retransmission gets a new IPv4 ID or at
//! least different TCP timestamps, so it is never folded.

use std::collections::{HashMap, VecDeque};

/// How close in time two copies must be.
pub const WINDOW_NANOS: i64 = 50_000_000;
/// Recent packets are remembered in a set-associative table: `SETS` sets of
/// `WAYS` entries, the oldest entry of a set making room. A burst that
/// overflows a set within 50 ms can let a copy through (counted twice), which
/// costs accuracy in a corner, never a wrong fold; in exchange a packet costs
/// one hash and four compares, with no allocation. 2048 entries (32 KiB) stay
/// in the L1/L2 cache; a table 8 times larger cost 9 % of the whole run in
/// cache misses. Capture duplicates arrive within a few packets of each other.
const SETS: usize = 512;
const WAYS: usize = 4;
/// Bytes hashed from the IP header on: the IP and TCP headers with their
/// options (IPv4 identification, sequence and acknowledgement numbers, TCP
/// timestamps and checksum), plus the length. That tells packets apart, and
/// costs the same on a bulk segment as on a SYN.
const HASHED_PREFIX: usize = 80;

#[derive(Clone, Copy)]
struct Entry {
    fingerprint: u64,
    ts: i64,
}

const EMPTY: Entry = Entry {
    fingerprint: 0,
    ts: i64::MIN,
};

/// Remembers recent packets to recognise their copies.
#[derive(Default)]
pub struct DuplicateFilter {
    /// `SETS * WAYS` entries, allocated on first use.
    table: Vec<Entry>,
    pub folded: u64,
}

impl DuplicateFilter {
    /// Whether the packet of `fingerprint` is a copy of one seen within the
    /// window; remembers it if not.
    pub fn is_copy(&mut self, fingerprint: Fingerprint, ts: i64) -> bool {
        if self.table.is_empty() {
            self.table = vec![EMPTY; SETS * WAYS];
        }
        let fingerprint = fingerprint.0;
        // The top bits pick the set (SETS is a power of two).
        let set = (fingerprint >> (64 - SETS.trailing_zeros())) as usize * WAYS;
        let set = &mut self.table[set..set + WAYS];
        for entry in set.iter() {
            if entry.fingerprint == fingerprint && (0..=WINDOW_NANOS).contains(&ts.wrapping_sub(entry.ts)) {
                self.folded += 1;
                return true;
            }
        }
        let oldest = set.iter_mut().min_by_key(|e| e.ts).expect("WAYS > 0");
        *oldest = Entry { fingerprint, ts };
        false
    }
}

/// What tells a packet from others: a hash of its first bytes from the IP
/// header on. Taken where the packet is decoded, while its bytes are in cache,
/// and checked by [`DuplicateFilter::is_copy`] wherever the filter lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint(u64);

impl Fingerprint {
    pub fn of(ip: &[u8]) -> Fingerprint {
        Fingerprint(fingerprint(ip))
    }
}

/// A folded-multiply hash (as in wyhash and aHash's fallback) over 16-byte
/// blocks of the first bytes, then the length: few dependent multiplies per
/// packet, and well mixed top bits for the set index.
fn fingerprint(ip: &[u8]) -> u64 {
    const K: [u64; 4] = [
        0x243f_6a88_85a3_08d3,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89,
    ];
    let prefix = &ip[..ip.len().min(HASHED_PREFIX)];
    let mut h = K[0];
    let mut blocks = prefix.chunks_exact(16);
    for block in &mut blocks {
        let (lo, hi) = block.split_at(8);
        h = fold(word(lo) ^ K[1] ^ h, word(hi) ^ K[2]);
    }
    let mut tail = [0u8; 16];
    tail[..blocks.remainder().len()].copy_from_slice(blocks.remainder());
    let (lo, hi) = tail.split_at(8);
    h = fold(word(lo) ^ K[1] ^ h, word(hi) ^ K[2]);
    fold(h ^ K[3], ip.len() as u64 ^ K[0])
}

fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

/// The 128-bit product of `a` and `b`, its halves xored.
fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ (product >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_copies_within_the_window_only() {
        let mut f = DuplicateFilter::default();
        let packet = Fingerprint::of(&[0x45u8, 0, 0, 40, 0, 1, 2, 3]);
        assert!(!f.is_copy(packet, 0));
        assert!(f.is_copy(packet, 6_000_000));
        assert!(!f.is_copy(packet, 6_000_000 + WINDOW_NANOS + 1));
        let other = Fingerprint::of(&[0x45u8, 0, 0, 40, 0, 2, 2, 3]);
        assert!(!f.is_copy(other, 6_000_000 + WINDOW_NANOS + 2));
        assert_eq!(f.folded, 1);
    }

    #[test]
    fn a_crowded_set_forgets_its_oldest_packet_only() {
        let mut f = DuplicateFilter::default();
        // Many distinct packets at one instant: each is new, and recent ones are still recognised.
        let packets: Vec<Fingerprint> = (0..20_000u32)
            .map(|i| Fingerprint::of(&[0x45, 0, 0, 40, (i >> 8) as u8, i as u8, 1, 2]))
            .collect();
        for (n, &p) in packets.iter().enumerate() {
            assert!(!f.is_copy(p, 0), "packet {n} is not a copy");
        }
        assert!(f.is_copy(packets[19_999], 1));
    }
}

/// Packet ids seen (pcapng `epb_packetid`, which etl2pcapng gives every
/// appearance of one packet at the stack's components): the first appearance
/// counts, the others are copies. Remembers the most recent ids only.
#[derive(Default)]
pub struct PacketIds {
    seen: HashMap<(usize, u64), (), ahash::RandomState>,
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
