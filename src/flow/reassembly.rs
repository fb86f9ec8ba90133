//! Bounded in-order reassembly of one direction of a TCP connection.
//!
//! Only the first bytes of each direction are kept ([`crate::flow::FlowLimits::stream_bytes`]):
//! what the protocol parsers need (HTTP heads, TLS handshakes) sits at the
//! start of a stream. Segments may arrive out of order or more than once;
//! the first copy of a byte wins, as in most TCP stacks.
//!
//! The buffer grows with the data actually received (doubling, up to the
//! capacity), so an idle or short connection holds little, and the owner
//! can account for every byte held and [`Stream::release`] it once the
//! parsers have read the stream.

use super::seq::SeqNumber;

/// Received byte ranges remembered per direction before giving up on holes.
const MAX_RANGES: usize = 32;

#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of stream byte 0 (ISN + 1, or the first data seen).
    base: Option<SeqNumber>,
    capacity: u32,
    /// Contiguous length at which the owner is next told the stream grew
    /// (doubling from [`FIRST_CHECKPOINT`]).
    checkpoint: u32,
    /// Bytes that fell beyond the capacity (not kept).
    pub dropped_bytes: u64,
    /// Whether the owner stopped this stream from growing (memory budget).
    pub cut_short: bool,
    /// What is kept, allocated with the first byte: most connections carry
    /// nothing, or have been read, and then a stream costs 40 bytes.
    held: Option<Box<Held>>,
}

/// A stream that holds nothing: what a released connection shows.
pub static NO_STREAM: Stream = Stream {
    base: None,
    capacity: 0,
    checkpoint: 0,
    dropped_bytes: 0,
    cut_short: false,
    held: None,
};

#[derive(Debug, Default)]
struct Held {
    data: Vec<u8>,
    /// Received ranges of stream offsets, sorted and merged.
    ranges: Vec<(u32, u32)>,
    /// Where segments started, as (stream offset, frame number), in offset
    /// order, so a message found in the stream can be traced to its frame.
    marks: Vec<(u32, u64)>,
}

/// A TLS handshake up to the server's first application data usually fits.
const FIRST_CHECKPOINT: u32 = 2048;

/// Segment starts remembered per direction; the first ones carry the
/// handshakes and heads that evidence points at.
const MAX_MARKS: usize = 64;

/// What one segment added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Insert {
    /// At least one byte was new.
    New,
    /// Every byte had been seen before: a retransmission.
    Repeat,
    /// Outside the kept window (beyond capacity, or before the stream start).
    Ignored,
}

impl Stream {
    pub fn new(capacity: u32) -> Self {
        Stream {
            capacity,
            ..Stream::default()
        }
    }

    /// Fixes byte 0 at the sequence number after the SYN.
    pub fn set_base(&mut self, isn: SeqNumber) {
        if self.base.is_none() {
            self.base = Some(isn.wrapping_add(1));
        }
    }

    fn ranges(&self) -> &[(u32, u32)] {
        self.held.as_ref().map_or(&[], |h| &h.ranges)
    }

    /// Bytes known without a hole from the start of the stream.
    pub fn contiguous(&self) -> &[u8] {
        match self.held.as_deref() {
            Some(Held { data, ranges, .. }) => match ranges.first() {
                Some(&(0, end)) => &data[..end as usize],
                _ => &[],
            },
            None => &[],
        }
    }

    /// Whether a hole was left before the last byte seen.
    pub fn has_gap(&self) -> bool {
        let ranges = self.ranges();
        ranges.len() > 1 || ranges.first().is_some_and(|r| r.0 > 0)
    }

    /// The frame that carried stream byte `offset` (the segment starting at or before it).
    pub fn frame_at(&self, offset: usize) -> Option<u64> {
        self.held
            .as_ref()?
            .marks
            .iter()
            .rev()
            .find(|(o, _)| *o as usize <= offset)
            .map(|&(_, f)| f)
    }

    /// Whether the contiguous bytes just passed a checkpoint (2 KiB, 4 KiB, 8 KiB, ...):
    /// the moment for the owner to ask whether the parsers already have enough.
    pub fn passed_checkpoint(&mut self) -> bool {
        let len = self.contiguous().len() as u32;
        let next = self.checkpoint.max(FIRST_CHECKPOINT);
        if len < next {
            return false;
        }
        self.checkpoint = len.saturating_mul(2);
        true
    }

    /// Whether every byte up to the capacity has arrived: nothing more will be kept.
    pub fn is_full(&self) -> bool {
        self.capacity > 0 && self.ranges().first() == Some(&(0, self.capacity))
    }

    /// Stops the buffer from growing past what it holds now (the owner's memory budget ran out).
    pub fn stop_growing(&mut self) {
        let held = self.held.as_ref().map_or(0, |h| h.data.capacity());
        if self.capacity as usize > held {
            self.capacity = held as u32;
            self.cut_short = true;
        }
    }

    pub fn insert(&mut self, seq: SeqNumber, payload: &[u8], frame: u64) -> Insert {
        if payload.is_empty() {
            return Insert::Ignored;
        }
        let base = *self.base.get_or_insert(seq);
        let offset = seq.distance_from(base);
        let (mut start, mut bytes) = (offset, payload);
        if start < 0 {
            // Starts before byte 0 (e.g. a retransmitted SYN payload): keep the tail.
            let skip = usize::try_from(-start).unwrap_or(usize::MAX);
            if skip >= bytes.len() {
                return Insert::Repeat;
            }
            bytes = &bytes[skip..];
            start = 0;
        }
        let start = start as u64;
        let capacity = u64::from(self.capacity);
        if start >= capacity {
            self.dropped_bytes += bytes.len() as u64;
            return Insert::Ignored;
        }
        let end = (start + bytes.len() as u64).min(capacity);
        self.dropped_bytes += start + bytes.len() as u64 - end;
        let (start, end) = (start as u32, end as u32);
        let held = self.held.get_or_insert_with(Box::default);
        if held.covered(start, end) {
            return Insert::Repeat;
        }
        if held.ranges.len() >= MAX_RANGES && !held.touches_existing(start, end) {
            return Insert::Ignored;
        }
        if held.data.len() < end as usize {
            held.grow_to(end as usize, self.capacity as usize);
        }
        // First copy wins: write only into holes. (Fields borrowed apart: no copy
        // of the range list per segment.)
        let (ranges, data) = (&held.ranges, &mut held.data);
        let mut write = |from: u32, to: u32| {
            data[from as usize..to as usize].copy_from_slice(&bytes[(from - start) as usize..(to - start) as usize]);
        };
        let mut cursor = start;
        for &(r_start, r_end) in ranges.iter().filter(|&&(s, e)| e > start && s < end) {
            if r_start > cursor {
                write(cursor, r_start);
            }
            cursor = cursor.max(r_end);
        }
        if cursor < end {
            write(cursor, end);
        }
        held.add_range(start, end);
        if held.marks.len() < MAX_MARKS {
            let at = held.marks.partition_point(|&(o, _)| o < start);
            if held.marks.get(at).is_none_or(|&(o, _)| o != start) {
                held.marks.insert(at, (start, frame));
            }
        }
        Insert::New
    }

    /// Bytes of memory held.
    pub fn memory(&self) -> usize {
        self.held.as_ref().map_or(0, |h| {
            std::mem::size_of::<Held>() + h.data.capacity() + h.ranges.capacity() * 8 + h.marks.capacity() * 16
        })
    }
}

impl Held {
    fn covered(&self, start: u32, end: u32) -> bool {
        self.ranges.iter().any(|&(s, e)| s <= start && end <= e)
    }

    fn touches_existing(&self, start: u32, end: u32) -> bool {
        self.ranges.iter().any(|&(s, e)| start <= e && s <= end)
    }

    fn add_range(&mut self, start: u32, end: u32) {
        // Kept sorted and merged in place.
        let at = self.ranges.partition_point(|&(s, _)| s < start);
        self.ranges.insert(at, (start, end));
        let mut merged = 0;
        for i in 1..self.ranges.len() {
            let (s, e) = self.ranges[i];
            if s <= self.ranges[merged].1 {
                self.ranges[merged].1 = self.ranges[merged].1.max(e);
            } else {
                merged += 1;
                self.ranges[merged] = (s, e);
            }
        }
        self.ranges.truncate(merged + 1);
    }

    /// Grows the buffer by doubling (at least 2 KiB, at most `capacity`), so a
    /// stream reallocates a handful of times, not once per segment.
    fn grow_to(&mut self, len: usize, capacity: usize) {
        if self.data.capacity() < len {
            let target = len.max(2 * self.data.capacity()).max(2048).min(capacity);
            self.data.reserve_exact(target.max(len) - self.data.len());
        }
        self.data.resize(len, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_and_out_of_order() {
        let mut s = Stream::new(64);
        s.set_base(SeqNumber(99));
        assert_eq!(s.insert(SeqNumber(106), b"world", 1), Insert::New);
        assert!(s.contiguous().is_empty());
        assert!(s.has_gap());
        assert_eq!(s.insert(SeqNumber(100), b"hello,", 1), Insert::New);
        assert_eq!(s.contiguous(), b"hello,world");
        assert!(!s.has_gap());
    }

    #[test]
    fn retransmission_is_a_repeat_and_first_copy_wins() {
        let mut s = Stream::new(64);
        s.set_base(SeqNumber(u32::MAX));
        assert_eq!(s.insert(SeqNumber(0), b"abc", 1), Insert::New);
        assert_eq!(s.insert(SeqNumber(0), b"abc", 1), Insert::Repeat);
        assert_eq!(s.insert(SeqNumber(1), b"XYZ", 1), Insert::New);
        assert_eq!(s.contiguous(), b"abcZ");
    }

    #[test]
    fn capacity_bounds_memory() {
        let mut s = Stream::new(8);
        s.set_base(SeqNumber(0));
        assert_eq!(s.insert(SeqNumber(1), b"0123456789", 1), Insert::New);
        assert_eq!(s.contiguous(), b"01234567");
        assert_eq!(s.dropped_bytes, 2);
        assert_eq!(s.insert(SeqNumber(20), b"late", 1), Insert::Ignored);
        assert!(s.is_full());
        assert!(s.held.as_ref().is_some_and(|h| h.data.capacity() <= 8));
        assert!(s.memory() > 0);
        assert_eq!(NO_STREAM.memory(), 0);
    }

    #[test]
    fn a_stream_told_to_stop_growing_keeps_what_it_has() {
        let mut s = Stream::new(64 * 1024);
        s.set_base(SeqNumber(0));
        s.insert(SeqNumber(1), &[b'a'; 100], 1);
        let held = s.memory();
        s.stop_growing();
        s.insert(SeqNumber(101), &[b'b'; 5000], 2);
        assert_eq!(s.memory(), held);
        assert!(s.cut_short && s.dropped_bytes > 0);
        assert_eq!(&s.contiguous()[..100], &[b'a'; 100][..]);
    }

    #[test]
    fn a_stream_without_bytes_is_small() {
        assert_eq!(std::mem::size_of::<Stream>(), 40);
    }

    #[test]
    fn range_count_is_bounded() {
        let mut s = Stream::new(10_000);
        s.set_base(SeqNumber(0));
        for i in 0..100u32 {
            s.insert(SeqNumber(1 + i * 10), b"x", 1);
        }
        assert!(s.ranges().len() <= MAX_RANGES);
    }
}
