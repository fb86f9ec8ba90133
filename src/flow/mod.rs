//! TCP connections rebuilt from segments.
//!
//! A connection is one 4-tuple plus the client's initial sequence number: a
//! later SYN with the same ISN is a retransmission, one with another ISN is a
//! new connection on a reused port. Each connection keeps the evidence the
//! diagnosis needs (which frames were SYNs, what answered them and when) and
//! the first bytes of each direction for the protocol parsers.

pub mod reassembly;
pub mod seq;

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU64;

use crate::capture::Direction;
use crate::decode::{TcpSegment, Unreachable};
use reassembly::{Insert, Stream};
use seq::SeqNumber;
use smallvec::SmallVec;

/// Which end of a connection sent a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The originator (sent the SYN).
    Client = 0,
    Server = 1,
}

/// A frame, as evidence: its number and time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameRef {
    /// Frames are numbered from 1, so 0 is free to mean "none": an optional
    /// frame costs no more than a frame, and a connection holds several of them.
    number: NonZeroU64,
    pub ts: i64,
}

impl FrameRef {
    /// Frame `number` (from 1; a 0 is taken as 1) at `ts`.
    pub fn new(number: u64, ts: i64) -> Self {
        debug_assert!(number > 0, "frames are numbered from 1");
        FrameRef {
            number: NonZeroU64::new(number).unwrap_or(NonZeroU64::MIN),
            ts,
        }
    }

    /// The frame's number, as Wireshark shows it.
    pub fn number(self) -> u64 {
        self.number.get()
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Reset {
    pub from: Side,
    pub frame: FrameRef,
    /// Whether the server had sent a SYN-ACK before the reset.
    pub after_handshake: bool,
}

#[derive(Clone, Copy, Debug)]
pub struct IcmpError {
    pub frame: FrameRef,
    /// The router or host that sent it.
    pub from: IpAddr,
    pub message: Unreachable,
}

/// What the capturing host recorded about a packet (Windows captures).
#[derive(Clone, Copy, Debug, Default)]
pub struct Origin {
    pub direction: Option<Direction>,
    pub process_id: Option<u32>,
}

/// A packet dropped inside the capturing host, and by which interface/component.
#[derive(Clone, Copy, Debug)]
pub struct LocalDrop {
    pub frame: FrameRef,
    pub interface: usize,
}

/// At most this many SYN frames are listed per connection (all are counted).
pub const MAX_SYN_FRAMES: usize = 16;
// `Connection::answered_syn` is a position among them.
const _: () = assert!(MAX_SYN_FRAMES <= 256);

#[derive(Debug)]
pub struct Connection {
    pub id: u32,
    client: End,
    server: End,
    /// The client's initial sequence number, when its SYN was captured.
    pub isn: Option<SeqNumber>,
    pub first: FrameRef,
    pub last_ts: i64,
    /// The client's SYNs: the first, then retransmissions (capped at [`MAX_SYN_FRAMES`]).
    /// Most connections send one, which is kept inline: no allocation per connection.
    pub syns: SmallVec<[FrameRef; 1]>,
    pub syn_retransmits: u32,
    pub syn_ack: Option<FrameRef>,
    /// Which of `syns` the SYN-ACK most likely answered (the last one before
    /// it), by position: a frame would take 16 bytes of every record.
    answered_syn: Option<u8>,
    pub reset: Option<Reset>,
    pub fin: [Option<FrameRef>; 2],
    /// Payload bytes sent by each side (from IP lengths, so truncation does not hide them).
    pub bytes: [u64; 2],
    pub packets: [u64; 2],
    pub first_data: [Option<FrameRef>; 2],
    /// Rare, and large (it quotes addresses): boxed, so other connections pay a pointer.
    pub icmp: Option<Box<IcmpError>>,
    /// A SYN of this connection dropped inside the capturing host (rare: boxed).
    pub local_drop: Option<Box<LocalDrop>>,
    /// Process id recorded with the client's packets (not always the owner).
    pub process_id: Option<u32>,
    pub history: History,
    /// The first bytes of each direction (client, server), until the parsers
    /// have read them; then freed, box and all, so that the connections of a
    /// long capture keep only their facts (see [`Connection::stream`]).
    streams: Option<Box<[Stream; 2]>>,
    /// Whether the streams were handed to the parsers (no more data is kept).
    pub streams_done: bool,
}

/// An address and port in 20 bytes, where a `SocketAddr` takes 32 for IPv6
/// flow information and scope, which packets never set: a long capture keeps
/// a record per connection, and the report an attempt. The address is packed
/// as in [`FlowKey`] (IPv4 in its IPv4-mapped form, the family apart), so two
/// ends compare as bytes: the flow index compares one with every probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct End {
    ip: [u8; 16],
    port: u16,
    v6: bool,
}

impl End {
    fn new(ip: IpAddr, port: u16) -> Self {
        End {
            ip: packed_ip(ip).to_ne_bytes(),
            port,
            v6: ip.is_ipv6(),
        }
    }

    fn packed_ip(&self) -> u128 {
        u128::from_ne_bytes(self.ip)
    }
}

impl From<End> for SocketAddr {
    fn from(end: End) -> Self {
        let v6 = Ipv6Addr::from_bits(end.packed_ip());
        let ip = match (end.v6, v6.to_ipv4_mapped()) {
            (false, Some(v4)) => IpAddr::V4(v4),
            _ => IpAddr::V6(v6),
        };
        SocketAddr::new(ip, end.port)
    }
}

impl From<SocketAddr> for End {
    fn from(addr: SocketAddr) -> Self {
        End::new(addr.ip(), addr.port())
    }
}

impl Connection {
    /// The end that sent the SYN (or that [`guess_roles`] took for it).
    pub fn client(&self) -> SocketAddr {
        self.client.into()
    }

    pub fn server(&self) -> SocketAddr {
        self.server.into()
    }

    /// What is kept of each direction's bytes (client, server); nothing once released.
    pub fn streams(&self) -> [&Stream; 2] {
        match self.streams.as_deref() {
            Some([client, server]) => [client, server],
            None => [&reassembly::NO_STREAM; 2],
        }
    }

    /// What is kept of one direction's bytes; nothing once released.
    pub fn stream(&self, side: Side) -> &Stream {
        self.streams()[side as usize]
    }

    /// Whether this connection is the one between `a` and `b`, either way round.
    /// Comparing the ends costs less than packing a [`FlowKey`], and means the
    /// same: both are built from the packets' IP addresses and ports alone.
    fn is_between(&self, a: End, b: End) -> bool {
        (self.client == a && self.server == b) || (self.client == b && self.server == a)
    }

    fn stream_mut(&mut self, side: Side) -> Option<&mut Stream> {
        Some(&mut self.streams.as_deref_mut()?[side as usize])
    }

    /// Time from the first SYN to the SYN-ACK, in nanoseconds.
    pub fn connect_time(&self) -> Option<i64> {
        Some(self.syn_ack?.ts.saturating_sub(self.syns.first()?.ts))
    }

    /// The SYN that the SYN-ACK most likely answered (the last one before it).
    pub fn answered_syn(&self) -> Option<FrameRef> {
        self.syns.get(usize::from(self.answered_syn?)).copied()
    }

    /// Round trip of the handshake: the answered SYN to its SYN-ACK.
    pub fn handshake_rtt(&self) -> Option<i64> {
        Some(self.syn_ack?.ts.saturating_sub(self.answered_syn()?.ts))
    }

    /// Whether either side closed (FIN) or reset the connection.
    pub fn ended(&self) -> bool {
        self.reset.is_some() || self.fin.iter().any(Option::is_some)
    }

    pub fn last_syn(&self) -> Option<FrameRef> {
        self.syns.last().copied()
    }

    /// Zeek's `conn_state` for this connection (Zeek `base/protocols/conn/main.zeek`).
    pub fn conn_state(&self) -> &'static str {
        let syn = !self.syns.is_empty();
        let answered = self.syn_ack.is_some();
        let client_rst = self.reset.is_some_and(|r| r.from == Side::Client);
        let server_rst = self.reset.is_some_and(|r| r.from == Side::Server);
        let [client_fin, server_fin] = [self.fin[0].is_some(), self.fin[1].is_some()];
        match (syn, answered) {
            (true, false) => {
                if server_rst {
                    "REJ"
                } else if client_rst {
                    "RSTOS0"
                } else if client_fin {
                    "SH"
                } else if self.packets[Side::Server as usize] > 0 {
                    "OTH"
                } else {
                    "S0"
                }
            }
            (true, true) => {
                if client_rst {
                    "RSTO"
                } else if server_rst {
                    "RSTR"
                } else if client_fin && server_fin {
                    "SF"
                } else if client_fin {
                    "S2"
                } else if server_fin {
                    "S3"
                } else {
                    "S1"
                }
            }
            (false, true) => {
                if server_rst {
                    "RSTRH"
                } else if server_fin {
                    "SHR"
                } else {
                    "OTH"
                }
            }
            (false, false) => "OTH",
        }
    }

    fn side_of(&self, from: End) -> Side {
        if self.client == from {
            Side::Client
        } else {
            Side::Server
        }
    }
}

/// Zeek's `history` string: one letter per event kind and direction, upper
/// case for the originator, in the order first seen.
///
/// Noted on every segment, so it is kept inline: the letters sit in a small
/// array in order, which a new letter is looked up in (fourteen bytes at most;
/// a bitmap beside them would make every connection record 8 bytes larger).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct History {
    len: u8,
    letters: [u8; History::CAPACITY],
}

impl History {
    /// Seven event kinds (s h a d f r t), in two cases.
    const CAPACITY: usize = 14;
    #[cfg(test)]
    const KINDS: &'static [u8; 7] = b"shadfrt";

    fn note(&mut self, side: Side, letter: char) {
        let letter = match side {
            Side::Client => letter.to_ascii_uppercase(),
            Side::Server => letter.to_ascii_lowercase(),
        } as u8;
        let seen = &self.letters[..usize::from(self.len)];
        if seen.contains(&letter) || seen.len() == Self::CAPACITY {
            return;
        }
        self.letters[usize::from(self.len)] = letter;
        self.len += 1;
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.letters[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// Why a connection's streams are offered to the parsers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Nothing more will be kept: both directions ended, or one is full.
    Final,
    /// A stream grew past a checkpoint; the parsers may already have all they read.
    Partial,
}

/// Limits of the connection table.
#[derive(Clone, Copy, Debug)]
pub struct FlowLimits {
    /// Connections tracked; packets of further new connections are counted only.
    pub max_connections: usize,
    /// Bytes kept per direction for the protocol parsers.
    pub stream_bytes: u32,
    /// Bytes held for reassembly across all live connections.
    pub total_stream_bytes: usize,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits {
            max_connections: 100_000,
            stream_bytes: 64 * 1024,
            total_stream_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The two endpoints in a fixed order, so both directions find one entry.
///
/// Packed into integers (IPv4 as its IPv4-mapped IPv6 form, with the family
/// kept apart) because it is built and hashed for every segment; hashing two
/// `SocketAddr`s walks their enums field by field. [`FlowIndex`] keeps no key:
/// it hashes this one and compares the connection records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct FlowKey {
    low: u128,
    high: u128,
    /// The low end's port in the top half, the high end's below; bit 32: IPv6.
    ports: u64,
}

impl FlowKey {
    fn new(a: End, b: End) -> Self {
        let v6 = u64::from(a.v6) << 32;
        let (a, b) = ((a.packed_ip(), a.port), (b.packed_ip(), b.port));
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            low: low.0,
            high: high.0,
            ports: v6 | u64::from(low.1) << 16 | u64::from(high.1),
        }
    }

    fn of(conn: &Connection) -> Self {
        FlowKey::new(conn.client, conn.server)
    }
}

/// The newest connection on each 4-tuple, by its index in the connection list.
///
/// The table holds the index alone (4 bytes a slot, against 64 for a key and a
/// value) and compares a probe with the connection record the index names: a
/// match is about to be updated, so that record is read anyway, and at 4 GiB
/// of capture the index is about 0.5 MB instead of 8. aHash is keyed per run
/// like SipHash, so a crafted capture cannot force collisions, at a fraction
/// of SipHash's cost.
///
/// In front of the table, the four connections found last, compared with their
/// records (still in the cache) before anything is hashed: in the reference
/// capture's first 40 MB, 38 % of the segments belong to the connection of the
/// segment before and 81 % to one of those four (2: 62 %, 8: 88 %, for more
/// comparisons when none matches). A new connection clears them, since it may
/// be newer than one of them on the same 4-tuple; nothing else changes what
/// the table answers.
#[derive(Default)]
struct FlowIndex {
    slots: hashbrown::HashTable<u32>,
    hasher: ahash::RandomState,
    /// Connection indices (plus one; zero for none), the last found first.
    recent: [u32; RECENT],
}

const RECENT: usize = 4;

impl FlowIndex {
    /// The newest connection between `a` and `b`, either way round.
    fn get(&mut self, a: End, b: End, connections: &[Connection]) -> Option<usize> {
        for k in 0..RECENT {
            let Some(index) = self.recent[k].checked_sub(1) else {
                break;
            };
            if connections[index as usize].is_between(a, b) {
                self.recent[..=k].rotate_right(1);
                return Some(index as usize);
            }
        }
        let hash = self.hasher.hash_one(FlowKey::new(a, b));
        let found = *self.slots.find(hash, |&i| connections[i as usize].is_between(a, b))?;
        self.recent.rotate_right(1);
        self.recent[0] = found + 1;
        Some(found as usize)
    }

    /// Points the 4-tuple of `connections[index]` at it, in place of any older
    /// connection on the same 4-tuple.
    fn insert(&mut self, index: usize, connections: &[Connection]) {
        let (client, server) = (connections[index].client, connections[index].server);
        let hasher = &self.hasher;
        let entry = self.slots.entry(
            hasher.hash_one(FlowKey::new(client, server)),
            |&i| connections[i as usize].is_between(client, server),
            |&i| hasher.hash_one(FlowKey::of(&connections[i as usize])),
        );
        self.recent = [0; RECENT];
        // Connection ids are u32 (index + 1), so an index fits.
        let index = index as u32;
        match entry {
            hashbrown::hash_table::Entry::Occupied(mut older) => *older.get_mut() = index,
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert(index);
            }
        }
    }
}

fn packed_ip(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().to_bits(),
        IpAddr::V6(v6) => v6.to_bits(),
    }
}

/// Every TCP connection of a capture.
#[derive(Default)]
pub struct ConnectionTable {
    pub connections: Vec<Connection>,
    /// The newest connection on each 4-tuple.
    latest: FlowIndex,
    limits: FlowLimits,
    stream_bytes_used: usize,
    /// Connections whose streams are worth reading, oldest first, waiting for
    /// [`ConnectionTable::pop_ready`].
    ready: VecDeque<(usize, Readiness)>,
    /// Segments of connections not tracked because a limit was reached.
    pub untracked_segments: u64,
    /// Whether the reassembly budget ran out (some streams were cut short).
    pub stream_budget_exhausted: bool,
}

impl ConnectionTable {
    pub fn new(limits: FlowLimits) -> Self {
        ConnectionTable {
            limits,
            ..Default::default()
        }
    }

    pub fn on_segment(&mut self, frame: FrameRef, src: IpAddr, dst: IpAddr, seg: &TcpSegment<'_>, origin: Origin) {
        // Packed once: the index, the record and the side are all compared with these.
        let (from, to) = (End::new(src, seg.src_port), End::new(dst, seg.dst_port));
        let flags = seg.flags;
        let existing = self.latest.get(from, to, &self.connections);
        let index = if flags.syn() && !flags.ack() {
            match existing {
                Some(i) if self.is_same_syn(i, from, seg.seq) => {
                    let conn = &mut self.connections[i];
                    conn.syn_retransmits += 1;
                    if conn.syns.len() < MAX_SYN_FRAMES {
                        conn.syns.push(frame);
                    }
                    conn.last_ts = conn.last_ts.max(frame.ts);
                    conn.packets[Side::Client as usize] += 1;
                    return;
                }
                _ => match self.open(frame, from, to) {
                    Some(i) => {
                        let conn = &mut self.connections[i];
                        conn.isn = Some(SeqNumber(seg.seq));
                        conn.syns.push(frame);
                        if let Some(stream) = conn.stream_mut(Side::Client) {
                            stream.set_base(SeqNumber(seg.seq));
                        }
                        i
                    }
                    None => return,
                },
            }
        } else {
            match existing {
                Some(i) => i,
                None => {
                    let (client, server) = guess_roles(from, to, flags.syn() && flags.ack(), origin.direction);
                    match self.open(frame, client, server) {
                        Some(i) => i,
                        None => return,
                    }
                }
            }
        };
        self.update(index, frame, from, seg);
        let conn = &mut self.connections[index];
        if origin.process_id.is_some() && conn.process_id.is_none() && conn.client == from {
            conn.process_id = origin.process_id;
        }
    }

    /// Marks the connection whose SYN this is as dropped inside the capturing host.
    pub fn on_local_drop(&mut self, frame: FrameRef, src: IpAddr, dst: IpAddr, seg: &TcpSegment<'_>, interface: usize) {
        if !seg.flags.syn() || seg.flags.ack() {
            return;
        }
        let from = End::new(src, seg.src_port);
        let to = End::new(dst, seg.dst_port);
        let Some(index) = self.latest.get(from, to, &self.connections) else {
            return;
        };
        let conn = &mut self.connections[index];
        if conn.client == from && conn.isn == Some(SeqNumber(seg.seq)) {
            conn.local_drop.get_or_insert(Box::new(LocalDrop { frame, interface }));
        }
    }

    fn is_same_syn(&self, index: usize, from: End, seq: u32) -> bool {
        let conn = &self.connections[index];
        conn.client == from && conn.isn == Some(SeqNumber(seq))
    }

    fn open(&mut self, frame: FrameRef, client: End, server: End) -> Option<usize> {
        if self.connections.len() >= self.limits.max_connections {
            self.untracked_segments += 1;
            return None;
        }
        let index = self.connections.len();
        self.connections.push(Connection {
            id: index as u32 + 1,
            client,
            server,
            isn: None,
            first: frame,
            last_ts: frame.ts,
            syns: SmallVec::new(),
            syn_retransmits: 0,
            syn_ack: None,
            answered_syn: None,
            reset: None,
            fin: [None; 2],
            bytes: [0; 2],
            packets: [0; 2],
            first_data: [None; 2],
            icmp: None,
            local_drop: None,
            process_id: None,
            history: History::default(),
            streams: Some(Box::new([
                Stream::new(self.limits.stream_bytes),
                Stream::new(self.limits.stream_bytes),
            ])),
            streams_done: false,
        });
        self.latest.insert(index, &self.connections);
        Some(index)
    }

    fn update(&mut self, index: usize, frame: FrameRef, from: End, seg: &TcpSegment<'_>) {
        let conn = &mut self.connections[index];
        let side = conn.side_of(from);
        let s = side as usize;
        let flags = seg.flags;
        conn.last_ts = conn.last_ts.max(frame.ts);
        conn.packets[s] += 1;
        if flags.syn() {
            conn.history.note(side, if flags.ack() { 'h' } else { 's' });
            let acks_our_syn = conn.isn.is_none_or(|isn| seg.ack == isn.0.wrapping_add(1));
            if flags.ack() && side == Side::Server && conn.syn_ack.is_none() && acks_our_syn {
                conn.syn_ack = Some(frame);
                conn.answered_syn = conn.syns.iter().rposition(|s| s.ts <= frame.ts).map(|i| i as u8);
                if let Some(stream) = conn.stream_mut(Side::Server) {
                    stream.set_base(SeqNumber(seg.seq));
                }
            }
        }
        if flags.rst() {
            conn.history.note(side, 'r');
            if conn.reset.is_none() {
                conn.reset = Some(Reset {
                    from: side,
                    frame,
                    after_handshake: conn.syn_ack.is_some(),
                });
            }
        }
        if flags.fin() {
            conn.history.note(side, 'f');
            conn.fin[s].get_or_insert(frame);
        }
        if seg.wire_len > 0 {
            conn.bytes[s] += u64::from(seg.wire_len);
            conn.first_data[s].get_or_insert(frame);
            let done = conn.streams_done;
            let Some(stream) = conn.stream_mut(side).filter(|_| !done) else {
                // Read (or about to be) and released: bulk data is only counted.
                conn.history.note(side, 'd');
                return;
            };
            // Data on a SYN (TCP Fast Open, RFC 7413) starts after the SYN's own sequence number.
            let data_seq = if flags.syn() { seg.seq.wrapping_add(1) } else { seg.seq };
            if self.stream_bytes_used >= self.limits.total_stream_bytes {
                stream.stop_growing();
                self.stream_budget_exhausted |= stream.cut_short;
            }
            let held = stream.memory();
            let inserted = stream.insert(SeqNumber(data_seq), seg.payload, frame.number());
            self.stream_bytes_used += stream.memory() - held;
            match inserted {
                Insert::Repeat => conn.history.note(side, 't'),
                Insert::New | Insert::Ignored => conn.history.note(side, 'd'),
            }
        } else if flags.ack() && !flags.syn() && !flags.fin() && !flags.rst() {
            conn.history.note(side, 'a');
        }
        if conn.streams_done {
            return;
        }
        // The parsers read the start of each direction: once both directions have
        // ended, or one has all the bytes kept, nothing they need is still to come.
        let both_closed = conn.reset.is_some() || conn.fin.iter().all(Option::is_some);
        if both_closed || conn.streams().into_iter().any(Stream::is_full) {
            conn.streams_done = true;
            self.ready.push_back((index, Readiness::Final));
        } else if seg.wire_len > 0 && conn.stream_mut(side).is_some_and(Stream::passed_checkpoint) {
            self.ready.push_back((index, Readiness::Partial));
        }
    }

    /// The next connection whose streams are worth reading. After a
    /// [`Readiness::Final`], or a partial one the parsers found enough in, call
    /// [`ConnectionTable::release_streams`].
    pub fn pop_ready(&mut self) -> Option<(usize, Readiness)> {
        self.ready.pop_front()
    }

    /// The capture has ended: frees the 4-tuple index (no segment will be looked
    /// up again) and returns every connection whose streams the parsers have not
    /// read yet.
    pub fn end_of_capture(&mut self) -> Vec<usize> {
        self.ready = VecDeque::new();
        self.latest = FlowIndex::default();
        (0..self.connections.len())
            .filter(|&i| !self.connections[i].streams_done)
            .collect()
    }

    /// Frees the streams of a connection the parsers have read; later data is counted only.
    pub fn release_streams(&mut self, index: usize) {
        let conn = &mut self.connections[index];
        conn.streams_done = true;
        if let Some(streams) = conn.streams.take() {
            self.stream_bytes_used -= streams.iter().map(Stream::memory).sum::<usize>();
        }
    }

    /// Bytes held for reassembly right now.
    pub fn stream_bytes_held(&self) -> usize {
        self.stream_bytes_used
    }

    /// Attaches an ICMP destination-unreachable to the connection whose SYN it quotes.
    pub fn on_unreachable(&mut self, frame: FrameRef, from: IpAddr, message: Unreachable) {
        let Some(quoted) = message.quoted else { return };
        let client = End::new(quoted.src, quoted.src_port);
        let server = End::new(quoted.dst, quoted.dst_port);
        let Some(index) = self.latest.get(client, server, &self.connections) else {
            return;
        };
        let conn = &mut self.connections[index];
        let same_syn = conn.isn.is_none_or(|isn| isn.0 == quoted.seq);
        if conn.client == client && conn.icmp.is_none() && same_syn {
            conn.icmp = Some(Box::new(IcmpError { frame, from, message }));
        }
    }
}

/// Without a SYN, decide who is the client: the sender of a SYN-ACK is the
/// server; a packet the capturing host marked outbound or inbound says who
/// sent it; otherwise a well-known port (< 1024) against an ephemeral one marks
/// the server; otherwise the first sender is taken as the client (as Zeek does).
fn guess_roles(from: End, to: End, is_syn_ack: bool, direction: Option<Direction>) -> (End, End) {
    let server_sent = match direction {
        _ if is_syn_ack => true,
        Some(Direction::Outbound) => false,
        Some(Direction::Inbound) => true,
        None => from.port < 1024 && to.port >= 1024,
    };
    if server_sent {
        (to, from)
    } else {
        (from, to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;
    use std::net::Ipv4Addr;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
    const SERVER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);

    fn seg(from_client: bool, flags: u8, seq: u32, payload: &'static [u8]) -> (IpAddr, IpAddr, TcpSegment<'static>) {
        let (src, dst, sp, dp) = if from_client {
            (CLIENT, SERVER, 50000, 443)
        } else {
            (SERVER, CLIENT, 443, 50000)
        };
        (
            src.into(),
            dst.into(),
            TcpSegment {
                src_port: sp,
                dst_port: dp,
                seq,
                ack: 0,
                flags: TcpFlags(flags),
                window: 1000,
                payload,
                wire_len: payload.len() as u32,
            },
        )
    }

    fn acked(
        (src, dst, mut s): (IpAddr, IpAddr, TcpSegment<'static>),
        ack: u32,
    ) -> (IpAddr, IpAddr, TcpSegment<'static>) {
        s.ack = ack;
        (src, dst, s)
    }

    #[test]
    fn syn_ack_for_another_isn_is_not_an_answer() {
        let mut t = ConnectionTable::default();
        feed(&mut t, 1, 0, seg(true, SYN, 100, b""));
        feed(&mut t, 2, 20, acked(seg(false, SYNACK, 500, b""), 7777));
        assert!(t.connections[0].syn_ack.is_none());
        feed(&mut t, 3, 21, acked(seg(false, SYNACK, 500, b""), 101));
        assert_eq!(t.connections[0].syn_ack.map(FrameRef::number), Some(3));
    }

    fn feed(table: &mut ConnectionTable, n: u64, ms: i64, (src, dst, s): (IpAddr, IpAddr, TcpSegment<'static>)) {
        table.on_segment(FrameRef::new(n, ms * 1_000_000), src, dst, &s, Origin::default());
    }

    const SYN: u8 = TcpFlags::SYN;
    const SYNACK: u8 = TcpFlags::SYN | TcpFlags::ACK;
    const ACK: u8 = TcpFlags::ACK;
    const RST: u8 = TcpFlags::RST | TcpFlags::ACK;
    const FIN: u8 = TcpFlags::FIN | TcpFlags::ACK;

    #[test]
    fn unanswered_syns_are_retransmits_of_one_connection() {
        let mut t = ConnectionTable::default();
        feed(&mut t, 1, 0, seg(true, SYN, 7, b""));
        feed(&mut t, 2, 1000, seg(true, SYN, 7, b""));
        // ECN bits differ on retransmits from some stacks; still the same SYN.
        feed(&mut t, 3, 3000, seg(true, SYN | 0xc0, 7, b""));
        assert_eq!(t.connections.len(), 1);
        let c = &t.connections[0];
        assert_eq!(c.syn_retransmits, 2);
        assert_eq!(c.conn_state(), "S0");
        assert_eq!(c.history.as_str(), "S");
    }

    #[test]
    fn new_isn_on_same_tuple_is_a_new_connection() {
        let mut t = ConnectionTable::default();
        feed(&mut t, 1, 0, seg(true, SYN, 7, b""));
        feed(&mut t, 2, 1, seg(false, RST, 0, b""));
        feed(&mut t, 3, 1000, seg(true, SYN, 9999, b""));
        feed(&mut t, 4, 1001, seg(false, RST, 0, b""));
        assert_eq!(t.connections.len(), 2);
        assert!(t
            .connections
            .iter()
            .all(|c| c.syn_retransmits == 0 && c.conn_state() == "REJ"));
    }

    #[test]
    fn full_connection_is_sf_with_history() {
        let mut t = ConnectionTable::default();
        feed(&mut t, 1, 0, seg(true, SYN, 100, b""));
        feed(&mut t, 2, 20, acked(seg(false, SYNACK, 500, b""), 101));
        feed(&mut t, 3, 21, seg(true, ACK, 101, b""));
        feed(&mut t, 4, 22, seg(true, ACK, 101, b"hello"));
        feed(&mut t, 5, 40, seg(false, ACK, 501, b"world"));
        feed(&mut t, 6, 41, seg(true, FIN, 106, b""));
        feed(&mut t, 7, 60, seg(false, FIN, 506, b""));
        let c = &t.connections[0];
        assert_eq!(c.conn_state(), "SF");
        assert_eq!(c.history.as_str(), "ShADdFf");
        assert_eq!(c.handshake_rtt(), Some(20_000_000));
        assert_eq!(c.stream(Side::Client).contiguous(), b"hello");
        assert_eq!(c.stream(Side::Server).contiguous(), b"world");
        assert_eq!(c.bytes, [5, 5]);
    }

    #[test]
    fn capture_direction_decides_roles_without_a_syn() {
        let mut t = ConnectionTable::default();
        // The server's packet comes first; the host marked it inbound.
        let (src, dst, s) = seg(false, ACK, 1, b"data");
        let inbound = Origin {
            direction: Some(Direction::Inbound),
            process_id: None,
        };
        t.on_segment(FrameRef::new(1, 0), src, dst, &s, inbound);
        assert_eq!(t.connections[0].server().port(), 443);
        let (src, dst, s) = seg(false, ACK, 1, b"data");
        let mut t = ConnectionTable::default();
        let outbound = Origin {
            direction: Some(Direction::Outbound),
            process_id: Some(4),
        };
        t.on_segment(FrameRef::new(1, 0), src, dst, &s, outbound);
        assert_eq!(
            t.connections[0].client().port(),
            443,
            "an outbound packet comes from the client"
        );
        assert_eq!(t.connections[0].process_id, Some(4));
    }

    #[test]
    fn local_drop_marks_the_syn_s_connection() {
        let mut t = ConnectionTable::default();
        let (src, dst, s) = seg(true, SYN, 7, b"");
        t.on_segment(FrameRef::new(1, 0), src, dst, &s, Origin::default());
        t.on_local_drop(FrameRef::new(2, 1), src, dst, &s, 3);
        let drop = t.connections[0].local_drop.as_deref().expect("marked");
        assert_eq!((drop.frame.number(), drop.interface), (2, 3));
    }

    #[test]
    fn reassembly_budget_bounds_the_bytes_held() {
        let limits = FlowLimits {
            max_connections: 2,
            stream_bytes: 64 * 1024,
            total_stream_bytes: 4096,
        };
        let mut t = ConnectionTable::new(limits);
        feed(&mut t, 1, 0, seg(true, SYN, 100, b""));
        feed(&mut t, 2, 1, seg(true, ACK, 101, &[b'x'; 1400]));
        feed(&mut t, 3, 2, seg(true, ACK, 1501, &[b'y'; 1400]));
        // Same client port, new ISN: a second connection, with the budget spent.
        feed(&mut t, 4, 3, seg(true, SYN, 9000, b""));
        feed(&mut t, 5, 4, seg(true, ACK, 9001, &[b'z'; 1400]));
        feed(&mut t, 6, 5, seg(true, ACK, 10401, &[b'z'; 1400]));
        assert!(t.stream_budget_exhausted);
        assert!(t.stream_bytes_held() <= 4096 + 4096, "over by at most one growth step");
        feed(&mut t, 7, 6, seg(true, SYN, 5000, b""));
        assert_eq!(t.connections.len(), 2);
        assert_eq!(t.untracked_segments, 1, "the connection limit holds");
    }

    #[test]
    fn streams_are_handed_out_once_and_released() {
        let mut t = ConnectionTable::default();
        feed(&mut t, 1, 0, seg(true, SYN, 100, b""));
        feed(&mut t, 2, 20, acked(seg(false, SYNACK, 500, b""), 101));
        feed(&mut t, 3, 22, seg(true, ACK, 101, b"hello"));
        assert_eq!(t.pop_ready(), None, "still open");
        feed(&mut t, 4, 41, seg(true, FIN, 106, b""));
        feed(&mut t, 5, 60, seg(false, FIN, 501, b""));
        assert_eq!(t.pop_ready(), Some((0, Readiness::Final)));
        assert!(t.stream_bytes_held() > 0);
        t.release_streams(0);
        assert_eq!(t.stream_bytes_held(), 0);
        assert!(
            t.connections[0].stream(Side::Client).contiguous().is_empty(),
            "released"
        );
        // Later data is counted, not kept; a late SYN-ACK finds no stream to set.
        feed(&mut t, 6, 70, seg(true, ACK, 107, b"late"));
        feed(&mut t, 7, 71, acked(seg(false, SYNACK, 500, b""), 101));
        assert_eq!(t.connections[0].bytes[Side::Client as usize], 9);
        assert_eq!(t.stream_bytes_held(), 0);
        assert!(t.end_of_capture().is_empty(), "not handed out twice");
    }

    #[test]
    fn an_end_gives_back_the_address_it_was_made_of() {
        for text in ["192.0.2.1:40000", "[2001:db8::5]:443", "[::ffff:192.0.2.1]:40000"] {
            let addr: SocketAddr = text.parse().expect("addr");
            assert_eq!(SocketAddr::from(End::from(addr)), addr, "{text}");
        }
        // An IPv4-mapped IPv6 address is not the IPv4 end.
        let v4: SocketAddr = "192.0.2.1:40000".parse().expect("addr");
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:40000".parse().expect("addr");
        assert_ne!(End::from(v4), End::from(mapped));
    }

    #[test]
    fn one_key_for_both_directions_and_none_shared_across_families() {
        let key = |a: SocketAddr, b: SocketAddr| FlowKey::new(a.into(), b.into());
        let a: SocketAddr = "192.0.2.1:40000".parse().expect("addr");
        let b: SocketAddr = "203.0.113.5:443".parse().expect("addr");
        assert_eq!(key(a, b), key(b, a));
        // The same ports with the addresses swapped between ends is another connection.
        let swapped: SocketAddr = "203.0.113.5:40000".parse().expect("addr");
        assert_ne!(key(a, b), key(swapped, "192.0.2.1:443".parse().expect("addr")));
        // An IPv4-mapped IPv6 address on the wire is not the IPv4 connection.
        let mapped_a: SocketAddr = "[::ffff:192.0.2.1]:40000".parse().expect("addr");
        let mapped_b: SocketAddr = "[::ffff:203.0.113.5]:443".parse().expect("addr");
        assert_ne!(key(a, b), key(mapped_a, mapped_b));
    }

    #[test]
    fn the_index_finds_every_connection_both_ways_as_it_grows() {
        let server_v6: IpAddr = "2001:db8::5".parse().expect("addr");
        let client_v6: IpAddr = "2001:db8::10".parse().expect("addr");
        let ends = |i: u16| {
            if i % 3 == 0 {
                (client_v6, server_v6)
            } else {
                (IpAddr::from(CLIENT), IpAddr::from(SERVER))
            }
        };
        let segment = |src_port, dst_port, seq, flags| TcpSegment {
            src_port,
            dst_port,
            seq,
            ack: 0,
            flags: TcpFlags(flags),
            window: 1000,
            payload: b"",
            wire_len: 0,
        };
        let mut t = ConnectionTable::default();
        // Enough connections for the index to grow several times over.
        const N: u16 = 3000;
        for i in 0..N {
            let (client, server) = ends(i);
            let syn = segment(10_000 + i, 443, u32::from(i), SYN);
            t.on_segment(
                FrameRef::new(u64::from(i) + 1, 0),
                client,
                server,
                &syn,
                Origin::default(),
            );
        }
        for i in 0..N {
            let (client, server) = ends(i);
            let answer = segment(443, 10_000 + i, 0, SYNACK);
            t.on_segment(
                FrameRef::new(u64::from(N + i) + 1, 1),
                server,
                client,
                &answer,
                Origin::default(),
            );
        }
        assert_eq!(t.connections.len(), usize::from(N));
        for (i, c) in t.connections.iter().enumerate() {
            assert_eq!(c.client().port(), 10_000 + i as u16);
            assert_eq!(c.packets, [1, 1], "connection {i} got its answer and nothing else");
        }
        // A new SYN on a used 4-tuple opens a connection, and the index moves to it.
        let (client, server) = ends(7);
        let reuse = segment(10_007, 443, 99_999, SYN);
        t.on_segment(FrameRef::new(10_000, 2), client, server, &reuse, Origin::default());
        let answer = segment(443, 10_007, 0, SYNACK);
        t.on_segment(FrameRef::new(10_001, 3), server, client, &answer, Origin::default());
        assert_eq!(t.connections.len(), usize::from(N) + 1);
        assert_eq!(t.connections[7].packets, [1, 1]);
        assert_eq!(t.connections[usize::from(N)].packets, [1, 1]);
    }

    #[test]
    fn history_keeps_each_letter_once_in_order() {
        let mut h = History::default();
        for (side, letter) in [
            (Side::Client, 's'),
            (Side::Server, 'h'),
            (Side::Client, 'a'),
            (Side::Client, 'd'),
            (Side::Client, 'd'),
            (Side::Server, 'd'),
            (Side::Client, 's'),
        ] {
            h.note(side, letter);
        }
        assert_eq!(h.as_str(), "ShADd");
        // Every kind from both sides, twice: fourteen letters, each once.
        let mut all = History::default();
        for _ in 0..2 {
            for &kind in History::KINDS {
                for side in [Side::Client, Side::Server] {
                    all.note(side, char::from(kind));
                }
            }
        }
        assert_eq!(all.as_str(), "SsHhAaDdFfRrTt");
    }

    #[test]
    fn midstream_traffic_guesses_the_server_by_port() {
        let mut t = ConnectionTable::default();
        feed(&mut t, 1, 0, seg(false, ACK, 1, b"data"));
        let c = &t.connections[0];
        assert_eq!(c.server().port(), 443);
        assert_eq!(c.conn_state(), "OTH");
    }
}
