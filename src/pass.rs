//! The packet pass: every frame read once, in two halves.
//!
//! The [`Front`] half turns frames into [`Step`]s: it reads the file, decodes
//! link, IP and transport headers, folds copies of one packet by packet id,
//! and fingerprints each packet. The [`Back`] half applies the steps in frame
//! order: it folds capture duplicates by fingerprint, then TCP connections,
//! reassembly, the parsers of their streams, and the UDP name protocols (DNS,
//! LLMNR, NBNS, DHCP). The halves run one after the other on one thread
//! ([`packet_pass`]), or on two threads joined by a queue of [`Batch`]es
//! ([`packet_pass_pipelined`]). A batch holds the read buffer its frames are in,
//! so payloads cross threads without a copy. The back half sees the same steps
//! in the same order either way, so both give the same [`PacketPass`].

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::{mpsc, Arc};

use crate::analyze::Options;
use crate::capture::{CaptureInfo, CaptureReader, Direction, Frame, LinkType, INITIAL_BUFFER};
use crate::decode::duplicate::{DuplicateFilter, Fingerprint, PacketIds};
use crate::decode::{Decoder, LinkSkip, Skip, TcpFlags, TcpSegment, Transport, Unreachable};
use crate::flow::{ConnectionTable, FrameRef, Origin, Readiness, Side};
use crate::proto::dns::{self, DnsLog, DnsMessage};
use crate::proto::{self, tls, wpad, Protocols};

/// Everything the packet pass produced, before diagnosis.
pub struct PacketPass {
    pub info: CaptureInfo,
    pub connections: ConnectionTable,
    pub duplicates_folded: u64,
    pub dns: DnsLog,
    pub windows: WindowsFacts,
    /// WPAD URLs handed out by DHCP (option 252), with their frames.
    pub dhcp_wpad: Vec<(String, u64)>,
    /// What each connection carried, index for index with `connections`; `None`
    /// for a connection that carried no payload (most of a SYN flood), which
    /// then costs a pointer instead of a parse result. See [`PacketPass::carried`].
    pub protocols: Vec<Option<Box<Protocols>>>,
    /// `PROXY host:port` directives of every PAC file served, in connection order:
    /// kept apart so the parse results can be freed before the report is built.
    pub pac_proxies: Vec<String>,
    /// Frames on link types capdoc cannot decode, per link type.
    pub unsupported_links: BTreeMap<LinkType, u64>,
    /// Frames skipped for more VLAN tags than [`crate::decode::link::MAX_VLAN_TAGS`].
    pub too_many_vlan_tags: u64,
    /// IP datagrams whose fragments were dropped before they were complete (pool limits).
    pub fragments_abandoned: u64,
}

impl PacketPass {
    /// Each connection with what it carried.
    pub fn carried(&self) -> impl Iterator<Item = (&crate::flow::Connection, &Protocols)> {
        self.connections
            .connections
            .iter()
            .zip(&self.protocols)
            .map(|(c, p)| (c, p.as_deref().unwrap_or(Protocols::nothing())))
    }
}

/// What Windows capture metadata (pktmon, etl2pcapng) told.
#[derive(Clone, Debug, Default)]
pub struct WindowsFacts {
    /// Appearances of a packet after its first (same packet id), not counted again.
    pub copies_folded: u64,
    /// First appearances per interface (component): where counted packets came from.
    pub kept_on: BTreeMap<usize, u64>,
    /// Records with a drop verdict.
    pub dropped_frames: u64,
}

/// What one frame asks of the back half. A step with a `fingerprint` is the
/// packet's first appearance by packet id; the back half first checks that it
/// is not a capture duplicate, and counts it only then.
#[derive(Debug)]
pub enum Step<'a> {
    /// A TCP segment; `dropped_on` is the interface that dropped it inside the
    /// capturing host, if one did.
    Tcp {
        at: FrameRef,
        src: IpAddr,
        dst: IpAddr,
        segment: TcpSegment<'a>,
        origin: Origin,
        dropped_on: Option<usize>,
        fingerprint: Fingerprint,
    },
    /// A later appearance of a TCP segment (same packet id), with a drop
    /// verdict: the packet never left the host.
    LocalDrop {
        at: FrameRef,
        src: IpAddr,
        dst: IpAddr,
        segment: TcpSegment<'a>,
        interface: usize,
    },
    Unreachable {
        at: FrameRef,
        from: IpAddr,
        message: Unreachable,
        fingerprint: Fingerprint,
    },
    /// A UDP datagram of a name or address protocol, parsed in the back half,
    /// which has less to do per frame.
    Datagram {
        at: FrameRef,
        protocol: Lookup,
        payload: &'a [u8],
        fingerprint: Fingerprint,
    },
    /// Any other packet: only remembered, so that its copies are folded too.
    Other { ts: i64, fingerprint: Fingerprint },
}

/// The UDP protocols that name hosts or hand out a proxy, by port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Dns,
    Llmnr,
    /// NetBIOS name service, read as DNS so one log holds every kind of lookup.
    Nbns,
    /// DHCP, for its WPAD option (252).
    Dhcp,
}

impl Lookup {
    /// What a datagram between these ports carries, if it is one of these.
    fn of(src_port: u16, dst_port: u16) -> Option<Lookup> {
        let either = |port| src_port == port || dst_port == port;
        if either(wpad::NBNS_PORT) {
            Some(Lookup::Nbns)
        } else if [wpad::DHCP_SERVER_PORT, wpad::DHCP_CLIENT_PORT].contains(&dst_port) {
            Some(Lookup::Dhcp)
        } else if either(dns::LLMNR_PORT) {
            Some(Lookup::Llmnr)
        } else if either(dns::DNS_PORT) {
            Some(Lookup::Dns)
        } else {
            None
        }
    }
}

impl<'a> Step<'a> {
    /// The bytes the back half reads of this step: a TCP segment's or a
    /// datagram's payload (a local drop needs only its segment's header).
    fn payload(&self) -> &'a [u8] {
        match self {
            Step::Tcp { segment, .. } => segment.payload,
            Step::Datagram { payload, .. } => payload,
            Step::LocalDrop { .. } | Step::Unreachable { .. } | Step::Other { .. } => &[],
        }
    }

    /// The same step with `bytes` as its payload.
    fn carrying(self, bytes: &[u8]) -> Step<'_> {
        match self {
            Step::Tcp {
                at,
                src,
                dst,
                segment,
                origin,
                dropped_on,
                fingerprint,
            } => Step::Tcp {
                at,
                src,
                dst,
                segment: TcpSegment {
                    payload: bytes,
                    ..segment
                },
                origin,
                dropped_on,
                fingerprint,
            },
            Step::LocalDrop {
                at,
                src,
                dst,
                segment,
                interface,
            } => Step::LocalDrop {
                at,
                src,
                dst,
                segment: TcpSegment {
                    payload: bytes,
                    ..segment
                },
                interface,
            },
            Step::Unreachable {
                at,
                from,
                message,
                fingerprint,
            } => Step::Unreachable {
                at,
                from,
                message,
                fingerprint,
            },
            Step::Datagram {
                at,
                protocol,
                fingerprint,
                ..
            } => Step::Datagram {
                at,
                protocol,
                payload: bytes,
                fingerprint,
            },
            Step::Other { ts, fingerprint } => Step::Other { ts, fingerprint },
        }
    }
}

/// The front half: frames to steps.
#[derive(Default)]
pub struct Front {
    decoder: Decoder,
    packet_ids: PacketIds,
    windows: WindowsFacts,
    unsupported_links: BTreeMap<LinkType, u64>,
    too_many_vlan_tags: u64,
    window: Option<(i64, i64)>,
}

/// What the front half counted, for the [`PacketPass`].
struct FrontFacts {
    windows: WindowsFacts,
    unsupported_links: BTreeMap<LinkType, u64>,
    too_many_vlan_tags: u64,
    fragments_abandoned: u64,
}

impl Front {
    pub fn new(opts: &Options) -> Self {
        Front {
            window: opts.window,
            ..Front::default()
        }
    }

    /// What a frame asks of the back half, if anything.
    pub fn step<'a>(&'a mut self, frame: &Frame<'a>) -> Option<Step<'a>> {
        if self
            .window
            .is_some_and(|(from, to)| frame.ts_nanos < from || frame.ts_nanos > to)
        {
            return None;
        }
        let at = FrameRef::new(frame.number, frame.ts_nanos);
        // One packet recorded at several components carries one packet id: count it
        // once, whatever it holds (ARP and other non-IP copies too).
        let first = match frame.meta.packet_id {
            Some(id) => self.packet_ids.first_sighting(frame.section, id),
            None => true,
        };
        if first && frame.meta.packet_id.is_some() {
            *self.windows.kept_on.entry(frame.interface).or_insert(0) += 1;
        }
        if frame.meta.dropped {
            self.windows.dropped_frames += 1;
        }
        let packet = match self.decoder.decode(frame.link_type, frame.data, frame.ts_nanos) {
            Ok(p) => p,
            Err(Skip::Link(LinkSkip::UnsupportedLink)) => {
                *self.unsupported_links.entry(frame.link_type).or_insert(0u64) += 1;
                return None;
            }
            Err(Skip::Link(LinkSkip::TooManyVlanTags)) => {
                self.too_many_vlan_tags += 1;
                return None;
            }
            Err(_) => {
                // Not IP (ARP, ...): still fold identical copies, so unique_packets is right.
                return first.then(|| Step::Other {
                    ts: frame.ts_nanos,
                    fingerprint: Fingerprint::of(frame.data),
                });
            }
        };
        if !first {
            // A drop inside the capturing host (pktmon via etl2pcapng) is recorded on a
            // later appearance of the packet: the packet never left the host.
            return match (frame.meta.dropped, packet.transport) {
                (true, Transport::Tcp(segment)) => Some(Step::LocalDrop {
                    at,
                    src: packet.src,
                    dst: packet.dst,
                    segment,
                    interface: frame.interface,
                }),
                _ => None,
            };
        }
        let fingerprint = Fingerprint::of(packet.ip);
        Some(match packet.transport {
            Transport::Tcp(segment) => Step::Tcp {
                at,
                src: packet.src,
                dst: packet.dst,
                segment,
                origin: Origin {
                    direction: frame.meta.direction,
                    process_id: frame
                        .meta
                        .process_id
                        .or_else(|| frame.comment.and_then(pid_from_comment)),
                },
                dropped_on: frame.meta.dropped.then_some(frame.interface),
                fingerprint,
            },
            Transport::Unreachable(message) => Step::Unreachable {
                at,
                from: packet.src,
                message,
                fingerprint,
            },
            Transport::Udp(udp) => match Lookup::of(udp.src_port, udp.dst_port) {
                Some(protocol) => Step::Datagram {
                    at,
                    protocol,
                    payload: udp.payload,
                    fingerprint,
                },
                None => Step::Other { ts: at.ts, fingerprint },
            },
            Transport::Other(_) => Step::Other { ts: at.ts, fingerprint },
        })
    }

    fn finish(self) -> FrontFacts {
        FrontFacts {
            windows: WindowsFacts {
                copies_folded: self.packet_ids.folded,
                ..self.windows
            },
            unsupported_links: self.unsupported_links,
            too_many_vlan_tags: self.too_many_vlan_tags,
            fragments_abandoned: self.decoder.fragments.abandoned,
        }
    }
}

/// The back half: steps to connections, parse results and the DNS log.
pub struct Back {
    duplicates: DuplicateFilter,
    certificates: tls::Certificates,
    names: crate::shared::Names,
    connections: ConnectionTable,
    protocols: Vec<Option<Box<Protocols>>>,
    dns_log: DnsLog,
    dhcp_wpad: Vec<(String, u64)>,
}

/// DHCP WPAD offers kept (a capture repeats the same one at every renewal).
const MAX_DHCP_WPAD: usize = 16;

impl Back {
    pub fn new(opts: &Options) -> Self {
        Back {
            duplicates: DuplicateFilter::default(),
            certificates: tls::Certificates::default(),
            names: crate::shared::Names::default(),
            connections: ConnectionTable::new(opts.flow_limits),
            protocols: Vec::new(),
            dns_log: DnsLog::default(),
            dhcp_wpad: Vec::new(),
        }
    }

    pub fn apply(&mut self, step: Step<'_>) {
        match step {
            Step::Tcp {
                at,
                src,
                dst,
                segment,
                origin,
                dropped_on,
                fingerprint,
            } => {
                let counted = !self.duplicates.is_copy(fingerprint, at.ts);
                if counted {
                    self.connections.on_segment(at, src, dst, &segment, origin);
                }
                // On a capture duplicate too, as on a later appearance by packet id:
                // a drop verdict means the packet never left the host.
                if let Some(interface) = dropped_on {
                    self.connections.on_local_drop(at, src, dst, &segment, interface);
                }
                if !counted {
                    return;
                }
                while let Some((index, readiness)) = self.connections.pop_ready() {
                    let [client, server] = self.connections.connections[index].streams();
                    let enough = readiness == Readiness::Final
                        || proto::handshake_complete(client.contiguous(), server.contiguous(), &mut self.names);
                    if enough {
                        self.read_streams(index);
                    }
                }
            }
            Step::LocalDrop {
                at,
                src,
                dst,
                segment,
                interface,
            } => self.connections.on_local_drop(at, src, dst, &segment, interface),
            Step::Unreachable {
                at,
                from,
                message,
                fingerprint,
            } => {
                if !self.duplicates.is_copy(fingerprint, at.ts) {
                    self.connections.on_unreachable(at, from, message);
                }
            }
            Step::Datagram {
                at,
                protocol,
                payload,
                fingerprint,
            } => {
                if !self.duplicates.is_copy(fingerprint, at.ts) {
                    self.on_datagram(at, protocol, payload);
                }
            }
            Step::Other { ts, fingerprint } => {
                self.duplicates.is_copy(fingerprint, ts);
            }
        }
    }

    fn on_datagram(&mut self, at: FrameRef, protocol: Lookup, payload: &[u8]) {
        let message = match protocol {
            Lookup::Dhcp => {
                if let Some(url) = wpad::dhcp_wpad_url(payload) {
                    if self.dhcp_wpad.len() < MAX_DHCP_WPAD {
                        self.dhcp_wpad.push((url, at.number()));
                    }
                }
                return;
            }
            Lookup::Nbns => wpad::parse_nbns(payload).map(|m| DnsMessage {
                id: 0,
                response: m.response,
                rcode: m.rcode,
                question: Some(m.name),
                addresses: m.address.into_iter().collect(),
                cnames: Vec::new(),
            }),
            Lookup::Dns | Lookup::Llmnr => dns::parse(payload),
        };
        if let Some(message) = message {
            let name = match protocol {
                Lookup::Nbns => "nbns",
                Lookup::Llmnr => "llmnr",
                _ => "dns",
            };
            self.dns_log.record(message, at.ts, at.number(), name);
        }
    }

    /// Runs the protocol parsers over a connection's streams, keeps their compact
    /// result, and frees the streams: memory follows live connections only.
    fn read_streams(&mut self, index: usize) {
        let conn = &self.connections.connections[index];
        if conn.server().port() == dns::DNS_PORT {
            // DNS over TCP: client questions, then server answers.
            for (side, at) in [
                (Side::Client, conn.first),
                (Side::Server, conn.syn_ack.unwrap_or(conn.first)),
            ] {
                for bytes in dns::tcp_messages(conn.stream(side).contiguous()) {
                    if let Some(message) = dns::parse(bytes) {
                        self.dns_log.record(message, at.ts, at.number(), "dns");
                    }
                }
            }
        }
        if self.protocols.len() <= index {
            self.protocols.resize_with(index + 1, || None);
        }
        let carried_payload = conn.streams().iter().any(|s| !s.contiguous().is_empty());
        self.protocols[index] =
            carried_payload.then(|| Box::new(proto::inspect(conn, &mut self.certificates, &mut self.names)));
        self.connections.release_streams(index);
    }

    fn finish(mut self, info: CaptureInfo, front: FrontFacts) -> PacketPass {
        for index in self.connections.end_of_capture() {
            self.read_streams(index);
        }
        debug_assert_eq!(
            self.protocols.len(),
            self.connections.connections.len(),
            "every connection was read"
        );
        let pac_proxies = self
            .protocols
            .iter()
            .flatten()
            .filter_map(|p| p.http.as_ref())
            .flat_map(|h| h.pac_proxies.iter().cloned())
            .collect();
        PacketPass {
            info,
            connections: self.connections,
            duplicates_folded: self.duplicates.folded + front.windows.copies_folded,
            windows: front.windows,
            protocols: self.protocols,
            pac_proxies,
            dhcp_wpad: self.dhcp_wpad,
            dns: self.dns_log,
            unsupported_links: front.unsupported_links,
            too_many_vlan_tags: front.too_many_vlan_tags,
            fragments_abandoned: front.fragments_abandoned,
        }
    }
}

/// `PID=1234 TID=5678`, as netsh/etl2pcapng write in packet comments.
fn pid_from_comment(comment: &[u8]) -> Option<u32> {
    let at = comment.windows(4).position(|w| w == b"PID=")? + 4;
    let digits = &comment[at..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

/// Reads every frame once and rebuilds the connections, on this thread.
pub fn packet_pass(mut reader: CaptureReader, opts: &Options) -> PacketPass {
    let mut front = Front::new(opts);
    let mut back = Back::new(opts);
    while let Some(frame) = reader.next_frame() {
        if let Some(step) = front.step(&frame) {
            back.apply(step);
        }
    }
    back.finish(reader.info, front.finish())
}

/// Where a stored step's payload is.
#[derive(Clone, Debug)]
enum Held {
    Nothing,
    /// In the read buffer the batch holds.
    InBuffer(Range<usize>),
    /// In the batch's own bytes.
    Copied(Range<usize>),
}

/// A step as a batch stores it. Nearly every step of a capture is a counted,
/// undropped TCP segment between IPv4 addresses with its payload in the read
/// buffer: that one is packed here in 64 bytes, where the [`Step`] and the
/// [`Held`] take 152, so that handing steps between the threads moves less than
/// half the memory. Any other step is kept whole in [`Batch::others`], in
/// order, and its packed form only marks its turn.
#[derive(Clone, Copy, Default)]
struct PackedStep {
    number: u64,
    ts: i64,
    fingerprint: Fingerprint,
    src: [u8; 4],
    dst: [u8; 4],
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    /// The payload's start in the read buffer.
    at: u32,
    len: u32,
    wire_len: u32,
    window: u16,
    flags: u8,
    direction: Option<Direction>,
    whole: bool,
}

const _: () = assert!(std::mem::size_of::<PackedStep>() == 64);

impl PackedStep {
    /// `step` packed, if it is the common kind, with its payload at `at` in the
    /// read buffer (none when the payload is empty).
    fn pack(step: &Step<'_>, at: Option<u32>) -> Option<PackedStep> {
        let Step::Tcp {
            at: frame,
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            segment,
            origin: Origin {
                direction,
                process_id: None,
            },
            dropped_on: None,
            fingerprint,
        } = *step
        else {
            return None;
        };
        let at = match at {
            Some(at) => at,
            None if segment.payload.is_empty() => 0,
            None => return None,
        };
        Some(PackedStep {
            number: frame.number(),
            ts: frame.ts,
            fingerprint,
            src: src.octets(),
            dst: dst.octets(),
            src_port: segment.src_port,
            dst_port: segment.dst_port,
            seq: segment.seq,
            ack: segment.ack,
            at,
            len: segment.payload.len() as u32,
            wire_len: segment.wire_len,
            window: segment.window,
            flags: segment.flags.0,
            direction,
            whole: false,
        })
    }

    /// The turn of the next step kept whole in [`Batch::others`].
    fn whole() -> PackedStep {
        PackedStep {
            whole: true,
            ..PackedStep::default()
        }
    }

    /// The step again, its payload in `buffer`.
    fn unpack(self, buffer: &[u8]) -> Step<'_> {
        let at = self.at as usize;
        Step::Tcp {
            at: FrameRef::new(self.number, self.ts),
            src: IpAddr::from(self.src),
            dst: IpAddr::from(self.dst),
            segment: TcpSegment {
                src_port: self.src_port,
                dst_port: self.dst_port,
                seq: self.seq,
                ack: self.ack,
                flags: TcpFlags(self.flags),
                window: self.window,
                payload: &buffer[at..at + self.len as usize],
                wire_len: self.wire_len,
            },
            origin: Origin {
                direction: self.direction,
                process_id: None,
            },
            dropped_on: None,
            fingerprint: self.fingerprint,
        }
    }
}

/// Steps of many frames, for the back half, with the read buffer their bytes
/// are in: the reader leaves a buffer alone while a batch holds it, so payloads
/// cross to the other thread without being copied.
pub struct Batch {
    /// Each step, packed (see [`PackedStep`]).
    steps: Vec<PackedStep>,
    /// The steps that do not pack, with their payload's place (their own
    /// payload slice is left empty).
    others: Vec<(Step<'static>, Held)>,
    /// The read buffer the steps' frames are in, by address (see [`Batch::adopt`]).
    buffer_at: usize,
    /// That buffer, held so that the reader leaves it alone; none for a buffer
    /// grown past [`INITIAL_BUFFER`] for a huge record, whose payloads are copied.
    buffer: Option<Arc<Vec<u8>>>,
    /// Payloads that are not in a buffer the batch holds: datagrams rebuilt from
    /// fragments, and those of frames in a grown buffer.
    copied: Vec<u8>,
    /// Steps handed over at once ([`BATCH_STEPS`]; fewer in tests).
    max_steps: usize,
}

/// A batch is handed over when it holds this many steps (or copied bytes), or
/// when the reader moves to another buffer: large enough that the queue costs
/// little per frame.
const BATCH_STEPS: usize = 2048;
const BATCH_COPIED: usize = 256 * 1024;
/// Batches in flight: the front half may run this far ahead.
const BATCHES: usize = 4;

impl Batch {
    fn new(max_steps: usize) -> Self {
        Batch {
            steps: Vec::with_capacity(max_steps),
            others: Vec::new(),
            buffer_at: 0,
            buffer: None,
            copied: Vec::new(),
            max_steps,
        }
    }

    fn is_full(&self) -> bool {
        self.steps.len() >= self.max_steps || self.copied.len() >= BATCH_COPIED
    }

    /// Whether the steps of a frame in `buffer` can join this batch.
    fn holds(&self, buffer: &Arc<Vec<u8>>) -> bool {
        self.buffer_at == Arc::as_ptr(buffer) as usize
    }

    /// Takes the steps of frames in `buffer` from now on. A buffer grown for a
    /// huge record is not held: each batch in flight could hold one, which would
    /// multiply the reader's memory. Their payloads are copied instead (an IP
    /// datagram's, so usually far less than the record).
    fn adopt(&mut self, buffer: &Arc<Vec<u8>>) {
        self.buffer_at = Arc::as_ptr(buffer) as usize;
        self.buffer = (buffer.len() <= INITIAL_BUFFER).then(|| Arc::clone(buffer));
    }

    /// Where `bytes` will be found again: in the read buffer when they are in it.
    fn hold(&mut self, bytes: &[u8]) -> Held {
        if bytes.is_empty() {
            return Held::Nothing;
        }
        if let Some(buffer) = &self.buffer {
            let (base, at) = (buffer.as_ptr() as usize, bytes.as_ptr() as usize);
            if at >= base && at + bytes.len() <= base + buffer.len() {
                return Held::InBuffer(at - base..at - base + bytes.len());
            }
        }
        let from = self.copied.len();
        self.copied.extend_from_slice(bytes);
        Held::Copied(from..self.copied.len())
    }

    fn push(&mut self, step: Step<'_>) {
        let held = self.hold(step.payload());
        let in_buffer = match &held {
            Held::InBuffer(range) => u32::try_from(range.start).ok(),
            _ => None,
        };
        if let Some(packed) = PackedStep::pack(&step, in_buffer) {
            self.steps.push(packed);
            return;
        }
        self.steps.push(PackedStep::whole());
        self.others.push((step.carrying(&[]), held));
    }

    /// Hands every step to the back half, in order, and empties the batch for
    /// reuse (letting go of its read buffer).
    fn apply_to(&mut self, back: &mut Back) {
        let buffer: &[u8] = self.buffer.as_deref().map_or(&[], Vec::as_slice);
        let mut others = self.others.drain(..);
        for packed in self.steps.drain(..) {
            if !packed.whole {
                back.apply(packed.unpack(buffer));
                continue;
            }
            let (step, held) = others.next().expect("a step kept whole for each turn");
            let bytes = match held {
                Held::Nothing => &[],
                Held::InBuffer(range) => &buffer[range],
                Held::Copied(range) => &self.copied[range],
            };
            back.apply(step.carrying(bytes));
        }
        debug_assert!(others.next().is_none(), "a turn for each step kept whole");
        drop(others);
        self.copied.clear();
        self.buffer = None;
        self.buffer_at = 0;
    }
}

/// The front half's end of the queue between the halves.
struct Queue {
    to_back: mpsc::SyncSender<Batch>,
    recycled: mpsc::Receiver<Batch>,
    /// Batches made so far (they are reused after that).
    made: usize,
    batch_steps: usize,
}

impl Queue {
    /// Sends `batch` to the back half and puts an empty one in its place; false
    /// when the back half has stopped.
    fn hand_over(&mut self, batch: &mut Batch) -> bool {
        let next = match self.recycled.try_recv() {
            Ok(b) => b,
            // Up to BATCHES in the queue, one being applied, one being filled.
            Err(_) if self.made < BATCHES + 2 => {
                self.made += 1;
                Batch::new(self.batch_steps)
            }
            Err(_) => match self.recycled.recv() {
                Ok(b) => b,
                // The back half stopped (it panicked): its join says why.
                Err(_) => return false,
            },
        };
        self.to_back.send(std::mem::replace(batch, next)).is_ok()
    }
}

/// [`packet_pass`] on two threads: a second thread reads and decodes, this one
/// rebuilds connections and runs the parsers. The same result, sooner when both
/// halves have a core of their own.
pub fn packet_pass_pipelined(reader: CaptureReader, opts: &Options) -> PacketPass {
    pipelined(reader, opts, BATCH_STEPS)
}

/// The back half, and so everything that lasts (connections, parse results, and
/// the report built from them), stays on the calling thread: memory it frees is
/// reused by what comes next, where the allocator would keep a second thread's
/// freed memory apart.
fn pipelined(mut reader: CaptureReader, opts: &Options, batch_steps: usize) -> PacketPass {
    let (to_back, from_front) = mpsc::sync_channel::<Batch>(BATCHES);
    let (recycle, recycled) = mpsc::channel::<Batch>();
    reader.share_buffers();
    std::thread::scope(|scope| {
        let front = scope.spawn(move || {
            let mut queue = Queue {
                to_back,
                recycled,
                made: 1,
                batch_steps,
            };
            let mut front = Front::new(opts);
            let mut batch = Batch::new(batch_steps);
            while let Some((frame, buffer)) = reader.next_frame_in_buffer() {
                if !batch.holds(buffer) {
                    if !batch.steps.is_empty() && !queue.hand_over(&mut batch) {
                        break;
                    }
                    batch.adopt(buffer);
                }
                if let Some(step) = front.step(&frame) {
                    batch.push(step);
                }
                if batch.is_full() && !queue.hand_over(&mut batch) {
                    break;
                }
            }
            // The back half may have stopped; then its own panic is what to report.
            let _ = queue.to_back.send(batch);
            (reader.info, front.finish())
        });
        let mut back = Back::new(opts);
        for mut batch in from_front {
            batch.apply_to(&mut back);
            // The front half may have finished; then the batch is just dropped.
            let _ = recycle.send(batch);
        }
        let (info, facts) = match front.join() {
            Ok(done) => done,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        back.finish(info, facts)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same pass, field by field, with batches of every size down to one step
    /// (so each connection and lookup is split across batches everywhere).
    #[test]
    fn two_threads_give_the_same_pass() {
        let captures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let opts = Options::default();
        let open = |name: &str| CaptureReader::open(&captures.join(name), opts.limits).expect("bundled capture");
        let facts = |p: &PacketPass| {
            format!(
                "{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{} {} {} {}",
                p.connections.connections,
                p.protocols,
                p.dns.lookups,
                p.dhcp_wpad,
                p.windows,
                p.unsupported_links,
                p.duplicates_folded,
                p.too_many_vlan_tags,
                p.fragments_abandoned,
                p.dns.lookups_dropped,
            )
        };
        for name in [
            "connector-blocked.pcapng",
            "proxy-auth-407.eth.pcap",
            "proxy-wpad.eth.pcap",
            "pktmon-local-drop.etl2pcapng.pcapng",
            "direct-ok.eth.pcap.gz",
        ] {
            let one = facts(&packet_pass(open(name), &opts));
            assert!(one.len() > 1000, "{name}: {} bytes of facts", one.len());
            for steps in [1, 3, 64, BATCH_STEPS] {
                let two = facts(&pipelined(open(name), &opts, steps));
                assert!(one == two, "{name}, batches of {steps} steps: the passes differ");
            }
        }
    }

    /// A record larger than the read buffer makes the reader grow one for it,
    /// which batches do not hold: the payloads around it are copied instead,
    /// and the pass is still the same.
    #[test]
    fn two_threads_around_a_huge_record() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/proxy-connect-ok.eth.pcap");
        let file = std::fs::read(path).expect("bundled capture");
        let (header, mut rest) = file.split_at(24);
        let mut padded = header.to_vec();
        let mut records = 0;
        while rest.len() >= 16 {
            let caplen = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes")) as usize;
            let (record, tail) = rest.split_at(16 + caplen);
            records += 1;
            if records == 6 {
                // Ethernet padding after the IP datagram, as a capture may keep it.
                let grown = (caplen + 2 * INITIAL_BUFFER) as u32;
                padded.extend_from_slice(&record[..8]);
                padded.extend_from_slice(&grown.to_le_bytes());
                padded.extend_from_slice(&grown.to_le_bytes());
                padded.extend_from_slice(&record[16..]);
                padded.resize(padded.len() + 2 * INITIAL_BUFFER, 0);
            } else {
                padded.extend_from_slice(record);
            }
            rest = tail;
        }
        assert!(records > 20, "{records} records");
        let opts = Options::default();
        let open =
            || CaptureReader::from_reader(Box::new(std::io::Cursor::new(padded.clone())), opts.limits).expect("pcap");
        let facts = |p: &PacketPass| {
            format!(
                "{:?}\n{:?}\n{:?}",
                p.connections.connections, p.protocols, p.dns.lookups
            )
        };
        let one = facts(&packet_pass(open(), &opts));
        assert!(one.contains("msappproxy"), "the proxied names are read");
        for steps in [1, 5, BATCH_STEPS] {
            assert!(
                one == facts(&pipelined(open(), &opts, steps)),
                "batches of {steps} steps"
            );
        }
    }

    /// A packed step unpacks to the step it was, field for field; steps that
    /// do not fit stay whole.
    #[test]
    fn packed_steps_keep_every_field() {
        let buffer: &'static [u8] = b"0123456789abcdefghijklmnopqrstuv";
        let step = |src: IpAddr, payload: &'static [u8], process_id, dropped_on| Step::Tcp {
            at: FrameRef::new(7, -3),
            src,
            dst: IpAddr::from([203, 0, 113, 9]),
            segment: TcpSegment {
                src_port: 49152,
                dst_port: 443,
                seq: 0xdead_beef,
                ack: 0x0bad_cafe,
                flags: TcpFlags(TcpFlags::PSH | TcpFlags::ACK),
                window: 512,
                payload,
                wire_len: 1400,
            },
            origin: Origin {
                direction: Some(Direction::Outbound),
                process_id,
            },
            dropped_on,
            fingerprint: Fingerprint::of(b"packet"),
        };
        let v4 = IpAddr::from([192, 0, 2, 1]);
        for (payload, at) in [(&[][..], None), (&buffer[10..20], Some(10))] {
            let original = step(v4, payload, None, None);
            let packed = PackedStep::pack(&original, at).expect("packs");
            assert_eq!(format!("{:?}", packed.unpack(buffer)), format!("{original:?}"));
        }
        let v6 = IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
        for odd in [
            step(v6, &[], None, None),
            step(v4, &[], Some(4242), None),
            step(v4, &[], None, Some(2)),
            step(v4, b"not in the buffer", None, None),
        ] {
            assert!(PackedStep::pack(&odd, None).is_none(), "{odd:?}");
        }
    }

    #[test]
    fn pid_from_netsh_comment() {
        assert_eq!(pid_from_comment(b"PID=1234 TID=5678"), Some(1234));
        assert_eq!(pid_from_comment(b"no pid here"), None);
        assert_eq!(pid_from_comment(b"PID="), None);
    }

    /// Two TLS 1.2 connections to one server, which sent the same certificate:
    /// both flights hold the one parse of it.
    #[test]
    fn a_certificate_seen_twice_is_kept_once() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("captures/proxy-credentials.eth.pcap");
        let opts = Options::default();
        let reader = CaptureReader::open(&path, opts.limits).expect("bundled capture");
        let pass = packet_pass(reader, &opts);
        let certificates: Vec<&Arc<tls::Certificate>> = pass
            .carried()
            .filter_map(|(_, p)| p.server_flight.as_ref()?.certificate.as_ref())
            .collect();
        let [first, second] = certificates[..] else {
            panic!("two certificates expected, found {}", certificates.len())
        };
        assert_eq!(first.subject, "CN=*.msappproxy.net");
        assert!(Arc::ptr_eq(first, second), "one parse for both connections");
    }
}
