//! Capture files -> frames.
//!
//! [`CaptureReader`] reads classic pcap and pcapng (optionally gzip/zstd
//! compressed) as a stream through one reusable buffer that grows only when a
//! record is larger than it. It hands out [`Frame`]s that borrow from that
//! buffer, numbered as Wireshark numbers them, and collects [`CaptureInfo`]
//! (interfaces, section header strings, warnings) on the way.
//!
//! Framing (record and block lengths) is checked here, against [`Limits`],
//! before any byte is given to pcap-parser, so that a crafted length can
//! neither exhaust memory nor make the parser ask for more than is there.

mod linktype;
mod netmon;
mod pcap;
mod pcapng;
pub mod source;

pub use linktype::LinkType;
pub use source::Compression;

use std::io::{self, Read};
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

/// File format of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
    /// Microsoft Network Monitor 2.x.
    Netmon,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
            Format::Netmon => "netmon",
        }
    }
}

/// Direction of a packet as recorded by the capturing host (pcapng `epb_flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// Per-packet metadata from pcapng Enhanced Packet Block options
/// (pcapng draft, section 4.3.1). All absent in classic pcap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    pub direction: Option<Direction>,
    /// `epb_packetid`: the same value on every copy of one packet.
    pub packet_id: Option<u64>,
    /// `epb_verdict` said the packet was dropped by the capturing host.
    pub dropped: bool,
    /// `epb_processid_threadid` (Windows captures).
    pub process_id: Option<u32>,
}

/// One record that Wireshark lists as a frame.
#[derive(Debug)]
pub struct Frame<'a> {
    /// 1-based, over every record Wireshark counts as a frame.
    pub number: u64,
    /// Nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    /// Index into [`CaptureInfo::interfaces`].
    pub interface: usize,
    /// 0-based pcapng section (packet ids are unique within one).
    pub section: usize,
    pub link_type: LinkType,
    /// Length of the packet on the wire; `data.len()` is what was captured.
    pub orig_len: u32,
    pub data: &'a [u8],
    pub meta: PacketMeta,
    /// `opt_comment` of the record, raw.
    pub comment: Option<&'a [u8]>,
}

/// An interface (pcapng IDB, or the single implicit one of a pcap file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: Option<String>,
    pub description: Option<String>,
    pub link_type: LinkType,
    pub snaplen: u32,
    /// 0-based section the interface belongs to.
    pub section: usize,
}

/// Strings from a pcapng Section Header Block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Section {
    pub application: Option<String>,
    pub os: Option<String>,
    pub hardware: Option<String>,
    pub comments: Vec<String>,
}

/// What the reader learned about the file besides its frames.
#[derive(Clone, Debug, Default)]
pub struct CaptureInfo {
    pub format: Option<Format>,
    pub compression: Option<Compression>,
    pub interfaces: Vec<Interface>,
    pub sections: Vec<Section>,
    /// Address-to-name records from pcapng Name Resolution Blocks.
    pub name_records: Vec<(IpAddr, String)>,
    /// Records Wireshark lists as frames, including ones without a packet.
    pub frames: u64,
    /// Captured bytes of all packet records.
    pub bytes: u64,
    /// Records whose captured length is below the original length.
    pub truncated_packets: u64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// When the capturing tool says it stopped (pcapng interface statistics),
    /// which may be well after the last packet.
    pub recorded_end: Option<i64>,
    /// Set when the file ends in the middle of a record: the offset of that record.
    pub cut_at: Option<u64>,
    pub warnings: Vec<String>,
    suppressed_warnings: u64,
    clamped_timestamps: bool,
}

/// At most this many distinct warnings are kept; the rest are counted.
const MAX_WARNINGS: usize = 32;

impl CaptureInfo {
    pub(crate) fn warn(&mut self, text: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(text);
        } else {
            self.suppressed_warnings += 1;
        }
    }

    /// Warnings, with a last line counting those left out.
    pub fn all_warnings(&self) -> Vec<String> {
        let mut all = self.warnings.clone();
        if self.suppressed_warnings > 0 {
            all.push(format!("{} more warnings not shown", self.suppressed_warnings));
        }
        all
    }

    /// The last moment the capture is known to have been recording.
    pub fn capture_end(&self) -> Option<i64> {
        match (self.last_ts, self.recorded_end) {
            (Some(last), Some(end)) => Some(last.max(end)),
            (last, end) => last.or(end),
        }
    }

    pub fn application(&self) -> Option<&str> {
        self.sections.iter().find_map(|s| s.application.as_deref())
    }

    pub fn os(&self) -> Option<&str> {
        self.sections.iter().find_map(|s| s.os.as_deref())
    }
}

/// Bounds that hold whatever a (possibly crafted) file claims.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest pcap record or pcapng block accepted, in bytes. Wireshark's own
    /// ceiling for a packet is 256 KiB; blocks may legitimately be larger
    /// (journal exports, big comments), so the default is generous.
    pub max_record: usize,
    /// Name Resolution Block entries kept.
    pub max_name_records: usize,
    /// Largest Network Monitor file read (it is read whole: its frame table comes last).
    pub max_netmon_file: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record: 16 * 1024 * 1024,
            max_name_records: 65_536,
            max_netmon_file: 1 << 30,
        }
    }
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    #[error("empty file")]
    Empty,
    #[error("not a capture file (starts with {head}){hint}")]
    NotACapture { head: String, hint: String },
    #[error("{format} header at offset 0: {reason}")]
    BadHeader { format: &'static str, reason: String },
}

/// The read side of one capture file.
pub struct CaptureReader {
    stream: ByteStream,
    kind: Kind,
    pub info: CaptureInfo,
    limits: Limits,
    next_frame: u64,
    finished: bool,
}

enum Kind {
    Pcap(pcap::State),
    PcapNg(pcapng::State),
    Netmon(netmon::State),
}

/// Classic pcap magics, as the first four bytes read in file order
/// (tcpdump.org "pcap" file format, section 4).
const PCAP_MAGICS: [[u8; 4]; 6] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    // Alexey Kuznetzov's "modified" pcap.
    [0x34, 0xcd, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xcd, 0x34],
];
/// pcapng Section Header Block type, palindromic so it reads the same in both orders.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// Network Monitor 2.x.
const NETMON2_MAGIC: [u8; 4] = *b"GMBU";

impl CaptureReader {
    /// Opens a file (`-` for stdin) and reads its header.
    pub fn open(path: &Path, limits: Limits) -> Result<Self, CaptureError> {
        Self::new(source::open(path)?, limits)
    }

    /// Reads a capture from any byte source.
    pub fn from_reader(reader: Box<dyn Read + Send>, limits: Limits) -> Result<Self, CaptureError> {
        Self::new(source::from_reader(reader)?, limits)
    }

    fn new(source: source::Source, limits: Limits) -> Result<Self, CaptureError> {
        let mut stream = ByteStream::new(source.reader);
        let info = CaptureInfo {
            compression: source.compression,
            ..CaptureInfo::default()
        };
        let head = stream.fill(4)?;
        if head.is_empty() {
            return Err(CaptureError::Empty);
        }
        let magic: [u8; 4] = match head.get(..4) {
            Some(m) => [m[0], m[1], m[2], m[3]],
            None => return Err(not_a_capture(head)),
        };
        let mut reader = CaptureReader {
            stream,
            kind: Kind::Pcap(pcap::State::default()),
            info,
            limits,
            next_frame: 1,
            finished: false,
        };
        if PCAP_MAGICS.contains(&magic) {
            reader.kind = Kind::Pcap(pcap::read_header(&mut reader.stream, &mut reader.info)?);
            reader.info.format = Some(Format::Pcap);
        } else if magic == PCAPNG_MAGIC {
            reader.kind = Kind::PcapNg(pcapng::State::default());
            reader.info.format = Some(Format::PcapNg);
        } else if magic == NETMON2_MAGIC {
            reader.kind = Kind::Netmon(netmon::read_header(
                &mut reader.stream,
                &mut reader.info,
                &reader.limits,
            )?);
            reader.info.format = Some(Format::Netmon);
        } else {
            let head = reader.stream.fill(16)?.to_vec();
            return Err(not_a_capture(&head));
        }
        Ok(reader)
    }

    /// The next frame, or `None` at the end of the capture. Damage after the
    /// header ends the capture early with a warning in [`CaptureInfo`], never
    /// with an error: everything before it stays usable.
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        let record = self.next_record()?;
        Some(self.frame(record))
    }

    /// Like [`CaptureReader::next_frame`], with the buffer the frame's bytes are
    /// in: a holder of that buffer can keep the frame's bytes past the next call
    /// (after [`CaptureReader::share_buffers`]).
    pub fn next_frame_in_buffer(&mut self) -> Option<(Frame<'_>, &Arc<Vec<u8>>)> {
        let record = self.next_record()?;
        Some((self.frame(record), self.stream.buffer()))
    }

    /// Buffers are not reused while someone holds them, so frames handed out
    /// stay valid in the buffer [`CaptureReader::next_frame_in_buffer`] names.
    pub fn share_buffers(&mut self) {
        self.stream.share_buffers();
    }

    /// Inlined into the frame loop, so that a record read in place is built
    /// where the loop uses it rather than moved out through a return value.
    #[inline(always)]
    fn next_record(&mut self) -> Option<Record> {
        let buffered = match &mut self.kind {
            Kind::Pcap(state) if !self.finished => {
                pcap::buffered_record(state, &mut self.stream, &mut self.info, &self.limits)
            }
            Kind::PcapNg(state) if !self.finished => {
                pcapng::buffered_record(state, &mut self.stream, &mut self.info, &self.limits)
            }
            _ => None,
        };
        let record = match buffered {
            Some(record) => {
                self.next_frame += 1;
                self.info.frames += 1;
                record
            }
            None => self.framed_record()?,
        };
        self.info.bytes += record.data.len as u64;
        if record.data.len < record.orig_len as usize {
            self.info.truncated_packets += 1;
        }
        self.info.first_ts.get_or_insert(record.ts_nanos);
        // The latest time, not the last record's: merged captures are not always in order.
        self.info.last_ts = Some(self.info.last_ts.map_or(record.ts_nanos, |t| t.max(record.ts_nanos)));
        Some(record)
    }

    /// The next record through the framing step of the file's format, which
    /// also counts frames that carry no packet and reports where the file ends.
    #[inline(never)]
    fn framed_record(&mut self) -> Option<Record> {
        loop {
            if self.finished {
                return None;
            }
            let step = match &mut self.kind {
                Kind::Pcap(state) => pcap::next_record(state, &mut self.stream, &mut self.info, &self.limits),
                Kind::PcapNg(state) => pcapng::next_block(state, &mut self.stream, &mut self.info, &self.limits),
                Kind::Netmon(state) => netmon::next_record(state, &mut self.stream, &mut self.info),
            };
            match step {
                Step::Frame(record) => {
                    self.next_frame += 1;
                    self.info.frames += 1;
                    // A frame without a packet (systemd journal export) is only counted.
                    if record.is_some() {
                        return record;
                    }
                }
                Step::Skip => {}
                Step::End => self.finished = true,
            }
        }
    }

    fn frame(&self, record: Record) -> Frame<'_> {
        Frame {
            number: self.next_frame - 1,
            ts_nanos: record.ts_nanos,
            interface: record.interface,
            section: record.section,
            link_type: record.link_type,
            orig_len: record.orig_len,
            data: self.stream.slice(record.data),
            meta: record.meta,
            comment: record.comment.map(|r| self.stream.slice(r)),
        }
    }
}

fn not_a_capture(head: &[u8]) -> CaptureError {
    let shown: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let hint = if head.len() >= 2 && head[..2] == [0x4d, 0x5a] {
        "; this looks like a Windows program, not a capture".to_string()
    } else if head.starts_with(b"RTSS") {
        "; this is a Network Monitor 1.x file: open it in Wireshark and save it as pcapng".to_string()
    } else {
        String::new()
    };
    CaptureError::NotACapture {
        head: if shown.is_empty() {
            "nothing".into()
        } else {
            shown.join(" ")
        },
        hint,
    }
}

/// The result of one framing step.
pub(crate) enum Step {
    /// A record Wireshark counts as a frame; `None` when it carries no packet.
    Frame(Option<Record>),
    /// A block that is not a frame (interface description, statistics, ...).
    Skip,
    End,
}

/// A packet record located in the stream buffer.
pub(crate) struct Record {
    pub ts_nanos: i64,
    pub interface: usize,
    pub section: usize,
    pub link_type: LinkType,
    pub orig_len: u32,
    pub data: Span,
    pub comment: Option<Span>,
    pub meta: PacketMeta,
}

/// A byte range inside the stream's current buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Span {
    pub start: usize,
    pub len: usize,
}

impl Span {
    /// The span of `inner`, a subslice of `outer`, with `outer` at buffer position `base`.
    pub fn within(base: usize, outer: &[u8], inner: &[u8]) -> Span {
        let offset = (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize);
        Span {
            start: base + offset.min(outer.len()),
            len: inner.len().min(outer.len().saturating_sub(offset)),
        }
    }
}

/// A forward-only byte stream with one reusable buffer.
///
/// `fill(n)` makes the next `n` bytes contiguous (growing the buffer only if
/// `n` exceeds it); `consume(n)` moves past them. `offset()` is the position in
/// the decompressed stream, for error messages.
///
/// The buffer is reference-counted so that a reader on another thread can keep
/// the frames of a buffer after the stream has moved on (see
/// [`ByteStream::share_buffers`]); the stream never writes into a buffer that is
/// shared (`Arc::make_mut` would copy it first, so even a mistake stays correct).
pub(crate) struct ByteStream {
    src: Box<dyn Read + Send>,
    buf: Arc<Vec<u8>>,
    pos: usize,
    end: usize,
    consumed: u64,
    eof: bool,
    /// A read error after the first bytes: the stream ends there, and the error
    /// becomes the capture's warning.
    pub(crate) read_error: Option<io::Error>,
    /// With shared buffers: the buffers left behind, to be reused once nobody else holds them.
    spare: Option<Vec<Arc<Vec<u8>>>>,
}

/// The buffer's size, unless a record needs more. On two threads six are in
/// use (four batches queued, one applied, one filled), so it counts six times
/// in the peak: 256 KiB ran as fast as 1 MiB, with 5 MB less memory.
pub const INITIAL_BUFFER: usize = 1 << 18;
/// Buffers kept for reuse with shared buffers; those still held elsewhere are freed by their last holder.
const MAX_SPARE: usize = 8;

impl ByteStream {
    fn new(src: Box<dyn Read + Send>) -> Self {
        ByteStream {
            src,
            buf: Arc::new(vec![0; INITIAL_BUFFER]),
            pos: 0,
            end: 0,
            consumed: 0,
            eof: false,
            read_error: None,
            spare: None,
        }
    }

    /// From now on, bytes handed out stay where they are: when more are needed,
    /// the unread tail moves to another buffer, filled before any frame in it is
    /// handed out. A holder of [`ByteStream::buffer`] can then keep frames.
    pub fn share_buffers(&mut self) {
        self.spare.get_or_insert_with(Vec::new);
    }

    /// The buffer that the bytes handed out last are in.
    pub fn buffer(&self) -> &Arc<Vec<u8>> {
        &self.buf
    }

    /// Offset in the stream of the next unconsumed byte.
    pub fn offset(&self) -> u64 {
        self.consumed
    }

    /// Returns at least `n` unconsumed bytes, or fewer only at the end of input
    /// (or after a read error, kept in `read_error`).
    #[inline]
    pub fn fill(&mut self, n: usize) -> io::Result<&[u8]> {
        // Almost every call finds its bytes already buffered.
        if self.end - self.pos >= n || self.eof {
            return Ok(&self.buf[self.pos..self.end]);
        }
        self.refill(n)
    }

    /// The slow side of [`ByteStream::fill`]: moves, grows or reads the buffer.
    #[inline(never)]
    fn refill(&mut self, n: usize) -> io::Result<&[u8]> {
        let fill_up = self.spare.is_some();
        if fill_up {
            self.move_to_spare(n);
        } else if self.buf.len() - self.pos < n {
            // Move the unconsumed tail to the front; grow only if still too small.
            let buf = Arc::make_mut(&mut self.buf);
            buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
            if buf.len() < n {
                buf.resize(n.next_power_of_two(), 0);
            }
        }
        // A shared buffer is filled to the end at once: it is not written again.
        while self.end - self.pos < n || (fill_up && self.end < self.buf.len()) {
            match self.src.read(&mut Arc::make_mut(&mut self.buf)[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if let Some(e) = self.fail(e) {
                        return Err(e);
                    }
                    break;
                }
            }
        }
        Ok(&self.buf[self.pos..self.end])
    }

    /// With shared buffers: continues in a buffer that nobody else holds, with
    /// the unread tail copied to its start, and room for at least `n` bytes.
    fn move_to_spare(&mut self, n: usize) {
        let Some(spare) = self.spare.as_mut() else { return };
        let tail = self.end - self.pos;
        let size = INITIAL_BUFFER.max(n.max(tail).next_power_of_two());
        let mut next = match spare.iter().position(|b| Arc::strong_count(b) == 1) {
            Some(i) => spare.swap_remove(i),
            None => Arc::new(Vec::new()),
        };
        let buf = Arc::make_mut(&mut next);
        if buf.len() < size {
            // Bytes past `end` are never handed out, so a reused buffer needs no clearing.
            buf.resize(size, 0);
        }
        buf[..tail].copy_from_slice(&self.buf[self.pos..self.end]);
        let left = std::mem::replace(&mut self.buf, next);
        // A buffer grown for a huge record is not kept: a crafted capture of such
        // records would otherwise fill the spares with them.
        if spare.len() < MAX_SPARE && left.len() <= INITIAL_BUFFER {
            spare.push(left);
        }
        self.pos = 0;
        self.end = tail;
    }

    /// A read error: returned when nothing was read yet (the file is unreadable),
    /// else kept for the warning, and the stream ends here.
    fn fail(&mut self, e: io::Error) -> Option<io::Error> {
        self.eof = true;
        if self.pos == self.end && self.consumed == 0 {
            return Some(e);
        }
        self.read_error = Some(e);
        None
    }

    /// Buffer position of the next unconsumed byte (for [`Span`]s).
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes read and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..self.end]
    }

    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.pos);
        self.pos += n;
        self.consumed += n as u64;
    }

    pub fn slice(&self, span: Span) -> &[u8] {
        self.buf.get(span.start..span.start + span.len).unwrap_or_default()
    }

    /// Reads the rest of the input into the buffer, at most `max` bytes.
    pub fn fill_all(&mut self, max: usize) -> io::Result<&[u8]> {
        while !self.eof && self.end - self.pos < max {
            let buf = Arc::make_mut(&mut self.buf);
            if self.end == buf.len() {
                let grown = (buf.len() * 2).min(self.pos + max).max(self.end + 1);
                buf.resize(grown, 0);
            }
            match self.src.read(&mut buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(k) => self.end += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(&self.buf[self.pos..self.end])
    }

    /// Converts a failed or short `fill` into the warning the report shows.
    pub fn end_warning(&mut self, needed: usize, available: usize, what: &str) -> String {
        match self.read_error.take() {
            Some(e) => format!(
                "read error at offset {} inside a {what}: {e}; results are up to that point",
                self.consumed
            ),
            None => format!(
                "file ends mid-record at offset {}: the {what} needs {needed} bytes, {available} are present",
                self.consumed
            ),
        }
    }
}

/// The 32-bit word at `at`, in the file's or section's byte order. Callers check the length.
pub(crate) fn u32_at(bytes: &[u8], at: usize, big_endian: bool) -> u32 {
    let word = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
    if big_endian {
        u32::from_be_bytes(word)
    } else {
        u32::from_le_bytes(word)
    }
}

/// Converts a timestamp in `units_per_sec` ticks plus an offset in seconds to
/// Unix nanoseconds. Values beyond what i64 nanoseconds hold (years 1677-2262)
/// are clamped and flagged in `info`, once per file.
#[inline]
pub(crate) fn ticks_to_nanos(ticks: u64, units_per_sec: u64, offset_secs: i64, info: &mut CaptureInfo) -> i64 {
    // Microseconds and nanoseconds (nearly every file): integer scaling, no 128-bit division.
    if offset_secs == 0 && (units_per_sec == 1_000_000 || units_per_sec == 1_000_000_000) {
        let fast = ticks
            .checked_mul(1_000_000_000 / units_per_sec)
            .and_then(|n| i64::try_from(n).ok());
        if let Some(nanos) = fast {
            return nanos;
        }
    }
    ticks_to_nanos_slow(ticks, units_per_sec, offset_secs, info)
}

/// [`ticks_to_nanos`] for other units, offsets, and values that overflow.
#[cold]
#[inline(never)]
fn ticks_to_nanos_slow(ticks: u64, units_per_sec: u64, offset_secs: i64, info: &mut CaptureInfo) -> i64 {
    let units = u128::from(units_per_sec.max(1));
    let nanos = i128::try_from(u128::from(ticks) * 1_000_000_000 / units).unwrap_or(i128::MAX)
        + i128::from(offset_secs) * 1_000_000_000;
    let clamped = nanos.clamp(i128::from(i64::MIN), i128::from(i64::MAX));
    if clamped != nanos && !info.clamped_timestamps {
        info.clamped_timestamps = true;
        info.warn("some timestamps lie outside the years 1677-2262 and were clamped".to_string());
    }
    clamped as i64
}

/// Whether a file starts with the magic of a format capdoc reads (after any
/// compression), without reading further: for sorting files in a folder.
pub fn is_capture(path: &Path) -> bool {
    let Ok(mut source) = source::open(path) else {
        return false;
    };
    let mut magic = [0u8; 4];
    if source.reader.read_exact(&mut magic).is_err() {
        return false;
    }
    PCAP_MAGICS.contains(&magic) || magic == PCAPNG_MAGIC || magic == NETMON2_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_at_any_resolution() {
        let mut info = CaptureInfo::default();
        assert_eq!(ticks_to_nanos(1_500_000, 1_000_000, 0, &mut info), 1_500_000_000);
        assert_eq!(ticks_to_nanos(3, 1, 10, &mut info), 13_000_000_000);
        // 2^-10 s resolution
        assert_eq!(ticks_to_nanos(1024, 1024, 0, &mut info), 1_000_000_000);
        assert!(info.warnings.is_empty());
        assert_eq!(ticks_to_nanos(u64::MAX, 1, 0, &mut info), i64::MAX);
        assert_eq!(ticks_to_nanos(u64::MAX, 1, 0, &mut info), i64::MAX);
        assert_eq!(info.warnings.len(), 1, "warned once");
    }

    #[test]
    fn rejects_text_and_empty_input() {
        let err = CaptureReader::from_reader(Box::new(&b"hello world, not a capture"[..]), Limits::default())
            .err()
            .expect("text is not a capture");
        assert!(err.to_string().contains("68 65 6c 6c"), "{err}");
        let err = CaptureReader::from_reader(Box::new(&b""[..]), Limits::default())
            .err()
            .expect("empty");
        assert!(matches!(err, CaptureError::Empty));
    }
}

#[cfg(test)]
mod pcapng_tests {
    //! pcapng written block by block in both byte orders, to pin down what the
    //! public captures do not cover: big-endian sections, several sections,
    //! `if_tsresol`/`if_tsoffset`, EPB options, SPB, the obsolete Packet Block
    //! and systemd journal export blocks in the frame numbering.
    use super::*;

    /// A SYN 192.0.2.1:40000 -> 203.0.113.5:443 as raw IPv4.
    const SYN: [u8; 40] = [
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 203, 0, 113, 5, 0x9c, 0x40, 0x01, 0xbb, 0, 0, 0x03,
        0xe8, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
    ];

    struct Writer {
        be: bool,
        out: Vec<u8>,
    }

    impl Writer {
        fn u16(&self, v: u16) -> [u8; 2] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn u32(&self, v: u32) -> [u8; 4] {
            if self.be {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn option(&self, code: u16, value: &[u8]) -> Vec<u8> {
            let mut o = Vec::new();
            o.extend(self.u16(code));
            o.extend(self.u16(value.len() as u16));
            o.extend(value);
            while o.len() % 4 != 0 {
                o.push(0);
            }
            o
        }
        fn block(&mut self, block_type: u32, body: &[u8]) {
            let mut body = body.to_vec();
            while body.len() % 4 != 0 {
                body.push(0);
            }
            let len = 12 + body.len() as u32;
            let mut b = Vec::new();
            b.extend(self.u32(block_type));
            b.extend(self.u32(len));
            b.extend(body);
            b.extend(self.u32(len));
            self.out.extend(b);
        }
        fn shb(&mut self, app: &str) {
            let mut body = Vec::new();
            body.extend(self.u32(0x1A2B_3C4D));
            body.extend(self.u16(1));
            body.extend(self.u16(0));
            body.extend((-1i64).to_le_bytes());
            body.extend(self.option(4, app.as_bytes()));
            body.extend(self.option(0, &[]));
            self.block(0x0A0D_0D0A, &body);
        }
        fn idb(&mut self, link: u16, name: &str, tsresol: u8, tsoffset: i64) {
            let mut body = Vec::new();
            body.extend(self.u16(link));
            body.extend(self.u16(0));
            body.extend(self.u32(0));
            body.extend(self.option(2, name.as_bytes()));
            body.extend(self.option(9, &[tsresol]));
            let off = if self.be {
                tsoffset.to_be_bytes()
            } else {
                tsoffset.to_le_bytes()
            };
            body.extend(self.option(14, &off));
            body.extend(self.option(0, &[]));
            self.block(1, &body);
        }
        fn epb(&mut self, if_id: u32, ticks: u64, data: &[u8], orig_len: u32, options: &[Vec<u8>]) {
            let mut body = Vec::new();
            body.extend(self.u32(if_id));
            body.extend(self.u32((ticks >> 32) as u32));
            body.extend(self.u32(ticks as u32));
            body.extend(self.u32(data.len() as u32));
            body.extend(self.u32(orig_len));
            body.extend(data);
            while body.len() % 4 != 0 {
                body.push(0);
            }
            for o in options {
                body.extend(o);
            }
            if !options.is_empty() {
                body.extend(self.option(0, &[]));
            }
            self.block(6, &body);
        }
    }

    fn sample(be: bool) -> Vec<u8> {
        let mut w = Writer { be, out: Vec::new() };
        w.shb("capdoc test");
        w.idb(101, "nic0", 9, 0); // raw IP, nanoseconds
        w.idb(1, "eth1", 6, 100); // Ethernet, microseconds, +100 s
        let flags = w.option(2, &w.u32(2));
        let packet_id = w.option(5, &if be { 77u64.to_be_bytes() } else { 77u64.to_le_bytes() });
        let verdict = w.option(7, &[2, 1, 0, 0, 0, 0, 0, 0, 0]);
        let comment = w.option(1, b"PID=1234 TID=5678");
        w.epb(0, 1_500_000_000, &SYN, 40, &[flags, packet_id, verdict, comment]);
        w.block(9, b"__CURSOR=x\n"); // systemd journal export: a frame without a packet
        let mut eth = vec![0u8; 12];
        eth.extend([0x08, 0x00]);
        eth.extend(&SYN[..30]);
        w.epb(1, 2_000_000, &eth, 54, &[]);
        // The obsolete Packet Block on interface 0.
        let mut pb = Vec::new();
        pb.extend(w.u16(0));
        pb.extend(w.u16(0));
        pb.extend(w.u32(0));
        pb.extend(w.u32(3_000_000_000));
        pb.extend(w.u32(SYN.len() as u32));
        pb.extend(w.u32(SYN.len() as u32));
        pb.extend(SYN);
        w.block(2, &pb);
        // A second section with a Simple Packet Block.
        w.shb("second");
        w.idb(101, "nic9", 6, 0);
        let mut spb = Vec::new();
        spb.extend(w.u32(SYN.len() as u32));
        spb.extend(SYN);
        w.block(3, &spb);
        w.out
    }

    /// Frame number, time, interface, captured length, metadata, comment.
    type Seen = (u64, i64, usize, usize, PacketMeta, Option<Vec<u8>>);

    fn read(bytes: Vec<u8>) -> (Vec<Seen>, CaptureInfo) {
        let mut r =
            CaptureReader::from_reader(Box::new(std::io::Cursor::new(bytes)), Limits::default()).expect("opens");
        let mut frames = Vec::new();
        while let Some(f) = r.next_frame() {
            frames.push((
                f.number,
                f.ts_nanos,
                f.interface,
                f.data.len(),
                f.meta,
                f.comment.map(<[u8]>::to_vec),
            ));
        }
        (frames, r.info)
    }

    #[test]
    fn both_byte_orders_read_the_same() {
        for be in [false, true] {
            let (frames, info) = read(sample(be));
            let numbers: Vec<u64> = frames.iter().map(|f| f.0).collect();
            // Frame 2 is the journal export block: counted, not returned.
            assert_eq!(numbers, vec![1, 3, 4, 5], "be={be}");
            assert_eq!(info.frames, 5);
            assert_eq!(frames[0].1, 1_500_000_000, "nanosecond resolution");
            assert_eq!(frames[1].1, 102_000_000_000, "microseconds plus if_tsoffset");
            assert_eq!(frames[1].2, 1);
            assert_eq!(frames[1].3, 44);
            assert_eq!(info.truncated_packets, 1);
            let meta = frames[0].4;
            assert_eq!(meta.direction, Some(Direction::Outbound));
            assert_eq!(meta.packet_id, Some(77));
            assert!(meta.dropped);
            assert_eq!(frames[0].5.as_deref(), Some(&b"PID=1234 TID=5678"[..]));
            assert_eq!(frames[2].1, 3_000_000_000, "obsolete packet block");
            assert_eq!(frames[3].2, 2, "second section's interface 0 is the third interface");
            assert_eq!(frames[3].1, 3_000_000_000, "SPB carries the previous timestamp");
            assert_eq!(info.sections.len(), 2);
            assert_eq!(info.application(), Some("capdoc test"));
            let names: Vec<_> = info
                .interfaces
                .iter()
                .map(|i| i.name.clone().unwrap_or_default())
                .collect();
            assert_eq!(names, ["nic0", "eth1", "nic9"]);
        }
    }

    /// Every frame as `next_frame` reads it (bare packet blocks in place), or
    /// with every block through the framing step.
    fn frames_of(bytes: &[u8], in_place: bool) -> (Vec<String>, u64, Vec<String>) {
        let source = Box::new(std::io::Cursor::new(bytes.to_vec()));
        let mut r = CaptureReader::from_reader(source, Limits::default()).expect("opens");
        let mut seen = Vec::new();
        loop {
            let record = if in_place { r.next_record() } else { r.framed_record() };
            let Some(record) = record else { break };
            let f = r.frame(record);
            seen.push(format!(
                "{} {} {} {} {:?} {} {:?} {:?} {:?}",
                f.number, f.ts_nanos, f.interface, f.section, f.link_type, f.orig_len, f.data, f.meta, f.comment
            ));
        }
        (seen, r.info.frames, r.info.warnings.clone())
    }

    /// A bare packet block read in place gives what the framing step gives: in
    /// both byte orders, on each interface and resolution, beside blocks with
    /// options, in a second section, and on an interface no block describes
    /// (left to the framing step, which warns and still numbers the frame).
    #[test]
    fn packets_read_in_place_as_the_framing_step_reads_them() {
        for be in [false, true] {
            let mut w = Writer { be, out: sample(be) };
            w.idb(1, "eth2", 3, -5); // milliseconds, -5 s
            for i in 0..5u32 {
                let data: Vec<u8> = (0..40 + i).map(|k| k as u8).collect();
                w.epb(i % 2, 7_000_000 + u64::from(i), &data, 1500, &[]);
                w.epb(1, 9_000 + u64::from(i), &data[..i as usize], 40 + i, &[]);
            }
            w.epb(7, 1, &SYN, 40, &[]);
            w.epb(0, 2, &SYN, 40, &[]);
            let (in_place, frames, warnings) = frames_of(&w.out, true);
            let framed = frames_of(&w.out, false);
            assert_eq!(in_place.len(), 4 + 10 + 1, "be={be}");
            assert_eq!(
                (&in_place, frames, &warnings),
                (&framed.0, framed.1, &framed.2),
                "be={be}"
            );
            assert!(warnings.iter().any(|w| w.contains("interface 7")), "{warnings:?}");
        }
    }

    /// Record `i` of the test below: a length from 1 to 3,001 bytes, which does
    /// not divide the buffer, and bytes that say which record and offset they are.
    fn record_bytes(i: u32) -> Vec<u8> {
        let len = 1 + (i.wrapping_mul(2_654_435_761) >> 20) % 3001;
        (0..len).map(|k| (i.wrapping_mul(31).wrapping_add(k)) as u8).collect()
    }

    /// Enough records for several buffers: records straddle every refill.
    const MANY: u32 = 5_000;

    /// A source that hands out at most 7,919 bytes per read, so the buffer is
    /// filled in uneven steps as a pipe or a decompressor would.
    struct Trickle(std::io::Cursor<Vec<u8>>);

    impl std::io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7_919);
            self.0.read(&mut buf[..n])
        }
    }

    /// Every frame's bytes and time as written, in pcap and pcapng, with and
    /// without shared buffers: where a record starts in the buffer must be
    /// taken after the bytes were moved for it.
    #[test]
    fn records_straddling_refills_keep_their_bytes() {
        let mut pcap = Vec::new();
        pcap.extend(0xa1b2_c3d4u32.to_le_bytes());
        pcap.extend(2u16.to_le_bytes());
        pcap.extend(4u16.to_le_bytes());
        pcap.extend([0u8; 8]);
        pcap.extend(65_535u32.to_le_bytes());
        pcap.extend(101u32.to_le_bytes());
        let mut ng = Writer {
            be: false,
            out: Vec::new(),
        };
        ng.shb("capdoc test");
        ng.idb(101, "nic0", 6, 0);
        for i in 0..MANY {
            let data = record_bytes(i);
            let len = data.len() as u32;
            for field in [1_000 + i, i, len, len] {
                pcap.extend(field.to_le_bytes());
            }
            pcap.extend(&data);
            ng.epb(0, u64::from(1_000 + i) * 1_000_000 + u64::from(i), &data, len, &[]);
        }
        assert!(pcap.len() > 3 * INITIAL_BUFFER, "several buffers: {}", pcap.len());
        for (format, bytes) in [("pcap", pcap), ("pcapng", ng.out)] {
            for shared in [false, true] {
                let source = Box::new(Trickle(std::io::Cursor::new(bytes.clone())));
                let mut r = CaptureReader::from_reader(source, Limits::default()).expect("opens");
                if shared {
                    r.share_buffers();
                }
                let mut i = 0;
                while let Some(frame) = r.next_frame() {
                    let at = format!("{format}, shared buffers {shared}, record {i}");
                    assert_eq!(frame.data, record_bytes(i).as_slice(), "{at}");
                    assert_eq!(
                        frame.ts_nanos,
                        i64::from(1_000 + i) * 1_000_000_000 + i64::from(i) * 1_000,
                        "{at}"
                    );
                    i += 1;
                }
                assert_eq!(i, MANY, "{format}, shared buffers {shared}");
                assert!(r.info.warnings.is_empty(), "{:?}", r.info.warnings);
            }
        }
    }

    #[test]
    fn cut_anywhere_keeps_what_came_before() {
        let whole = sample(false);
        let (all, _) = read(whole.clone());
        for cut in 0..whole.len() {
            let bytes = whole[..cut].to_vec();
            let Ok(mut r) = CaptureReader::from_reader(Box::new(std::io::Cursor::new(bytes)), Limits::default()) else {
                continue;
            };
            let mut n = 0;
            while r.next_frame().is_some() {
                n += 1;
            }
            assert!(n <= all.len());
            let at_boundary = r.info.cut_at.is_none();
            assert!(
                at_boundary || r.info.warnings.iter().any(|w| w.contains("offset")),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn huge_block_length_is_refused_not_allocated() {
        let mut bytes = sample(false);
        let shb_len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        // Claim 4 GiB - 4 for the first IDB.
        bytes[shb_len + 4..shb_len + 8].copy_from_slice(&0xFFFF_FFFCu32.to_le_bytes());
        let (frames, info) = read(bytes);
        assert!(frames.is_empty());
        assert!(
            info.warnings.iter().any(|w| w.contains("over the limit")),
            "{:?}",
            info.warnings
        );
    }
}
