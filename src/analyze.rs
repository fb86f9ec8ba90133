//! One capture, start to finish: read → decode → flow → diagnose → report.

use std::collections::BTreeMap;
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::capture::{CaptureError, CaptureInfo, CaptureReader, Limits, LinkType};
use crate::decode::duplicate::{DuplicateFilter, PacketIds};
use crate::decode::{Decoder, LinkSkip, Skip, Transport};
use crate::diagnose;
use crate::endpoints::ca_set::CaSet;
use crate::endpoints::service_tags::ServiceTags;
use crate::endpoints::Table;
use crate::flow::{ConnectionTable, FlowLimits, FrameRef, Origin, Readiness};
use crate::proto::dns::{self, DnsLog};
use crate::proto::{self, wpad, Protocols};
use crate::report::model::CaptureReport;

/// What the user asked for that changes the analysis.
#[derive(Clone, Debug)]
pub struct Options {
    /// Analyse only connections opened by this host.
    pub host: Option<IpAddr>,
    pub table: Table,
    /// Switch to the US Government table when the capture shows its names
    /// (off when the user chose a table).
    pub detect_cloud: bool,
    /// Issuers expected on the leaf certificates of required names.
    pub ca_set: CaSet,
    /// Azure service tags, to name addresses that no DNS answer explains.
    pub service_tags: ServiceTags,
    /// Proxies named by the user, on top of those recognised by behaviour.
    pub proxies: Vec<SocketAddr>,
    pub limits: Limits,
    pub flow_limits: FlowLimits,
    /// Read files on a second thread (same results). Off by default: on the
    /// reference machine it cost more than it saved (README, Performance).
    pub read_ahead: bool,
    /// Only frames with `from <= timestamp <= to` (Unix nanoseconds) are analysed
    /// (`--since`/`--until`); frame numbers stay those of the whole file.
    pub window: Option<(i64, i64)>,
    /// How many attempts, connections and findings a report lists.
    pub listing: diagnose::listing::ListLimits,
    /// Replace internal addresses and names with pseudonyms derived from this key (`--redact`).
    pub redact: Option<crate::report::redact::Key>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: None,
            table: Table::public(),
            detect_cloud: true,
            ca_set: CaSet::azure(),
            proxies: Vec::new(),
            service_tags: ServiceTags::default(),
            limits: Limits::default(),
            flow_limits: FlowLimits::default(),
            read_ahead: false,
            window: None,
            listing: Default::default(),
            redact: None,
        }
    }
}

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
        static NOTHING: std::sync::LazyLock<Protocols> = std::sync::LazyLock::new(Protocols::default);
        let nothing: &Protocols = &NOTHING;
        self.connections
            .connections
            .iter()
            .zip(&self.protocols)
            .map(move |(c, p)| (c, p.as_deref().unwrap_or(nothing)))
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

/// `PID=1234 TID=5678`, as netsh/etl2pcapng write in packet comments.
fn pid_from_comment(comment: &[u8]) -> Option<u32> {
    let at = comment.windows(4).position(|w| w == b"PID=")? + 4;
    let digits = &comment[at..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

/// Runs the protocol parsers over a connection's streams, keeps their compact
/// result, and frees the streams: memory follows live connections only.
fn read_streams(
    connections: &mut ConnectionTable,
    index: usize,
    protocols: &mut Vec<Option<Box<Protocols>>>,
    dns_log: &mut DnsLog,
) {
    let conn = &connections.connections[index];
    if conn.server.port() == dns::DNS_PORT {
        // DNS over TCP: client questions, then server answers.
        for (side, at) in [(0, conn.first), (1, conn.syn_ack.unwrap_or(conn.first))] {
            for bytes in dns::tcp_messages(conn.streams[side].contiguous()) {
                if let Some(message) = dns::parse(bytes) {
                    dns_log.record(&message, at.ts, at.number, "dns");
                }
            }
        }
    }
    if protocols.len() <= index {
        protocols.resize_with(index + 1, || None);
    }
    let carried_payload = conn.streams.iter().any(|s| !s.contiguous().is_empty());
    protocols[index] = carried_payload.then(|| Box::new(proto::inspect(conn)));
    connections.release_streams(index);
}

/// Reads every frame once and rebuilds the connections.
pub fn packet_pass(mut reader: CaptureReader, opts: &Options) -> PacketPass {
    let mut decoder = Decoder::default();
    let mut duplicates = DuplicateFilter::default();
    let mut packet_ids = PacketIds::default();
    let mut windows = WindowsFacts::default();
    let mut connections = ConnectionTable::new(opts.flow_limits);
    let mut unsupported_links = BTreeMap::new();
    let mut dns_log = DnsLog::default();
    let mut dhcp_wpad = Vec::new();
    let mut too_many_vlan_tags = 0u64;
    let mut protocols: Vec<Option<Box<Protocols>>> = Vec::new();
    while let Some(frame) = reader.next_frame() {
        if opts
            .window
            .is_some_and(|(from, to)| frame.ts_nanos < from || frame.ts_nanos > to)
        {
            continue;
        }
        let at = FrameRef {
            number: frame.number,
            ts: frame.ts_nanos,
        };
        // One packet recorded at several components carries one packet id: count it
        // once, whatever it holds (ARP and other non-IP copies too).
        let first = match frame.meta.packet_id {
            Some(id) => packet_ids.first_sighting(frame.section, id),
            None => true,
        };
        if first && frame.meta.packet_id.is_some() {
            *windows.kept_on.entry(frame.interface).or_insert(0) += 1;
        }
        if frame.meta.dropped {
            windows.dropped_frames += 1;
        }
        let packet = match decoder.decode(frame.link_type, frame.data, frame.ts_nanos) {
            Ok(p) => p,
            Err(Skip::Link(LinkSkip::UnsupportedLink)) => {
                *unsupported_links.entry(frame.link_type).or_insert(0u64) += 1;
                continue;
            }
            Err(Skip::Link(LinkSkip::TooManyVlanTags)) => {
                too_many_vlan_tags += 1;
                continue;
            }
            Err(_) => {
                // Not IP (ARP, ...): still fold identical copies, so unique_packets is right.
                if first {
                    duplicates.is_copy(frame.data, frame.ts_nanos);
                }
                continue;
            }
        };
        let counted = first && !duplicates.is_copy(packet.ip, frame.ts_nanos);
        if !counted {
            // A drop inside the capturing host (pktmon via etl2pcapng) is recorded on a
            // later copy of the packet: the packet never left the host.
            if let (true, Transport::Tcp(segment)) = (frame.meta.dropped, packet.transport) {
                connections.on_local_drop(at, packet.src, packet.dst, &segment, frame.interface);
            }
            continue;
        }
        let origin = Origin {
            direction: frame.meta.direction,
            process_id: frame
                .meta
                .process_id
                .or_else(|| frame.comment.and_then(pid_from_comment)),
        };
        match packet.transport {
            Transport::Tcp(segment) => {
                connections.on_segment(at, packet.src, packet.dst, &segment, origin);
                if frame.meta.dropped {
                    connections.on_local_drop(at, packet.src, packet.dst, &segment, frame.interface);
                }
                while let Some((index, readiness)) = connections.pop_ready() {
                    let streams = &connections.connections[index].streams;
                    let enough = readiness == Readiness::Final
                        || proto::handshake_complete(streams[0].contiguous(), streams[1].contiguous());
                    if enough {
                        read_streams(&mut connections, index, &mut protocols, &mut dns_log);
                    }
                }
            }
            Transport::Unreachable(message) => connections.on_unreachable(at, packet.src, message),
            Transport::Udp(udp) if udp.src_port == wpad::NBNS_PORT || udp.dst_port == wpad::NBNS_PORT => {
                if let Some(m) = wpad::parse_nbns(udp.payload) {
                    // As a DNS message, so one log holds every kind of name lookup.
                    let message = dns::DnsMessage {
                        id: 0,
                        response: m.response,
                        rcode: m.rcode,
                        question: Some(m.name),
                        addresses: m.address.into_iter().collect(),
                        cnames: Vec::new(),
                    };
                    dns_log.record(&message, frame.ts_nanos, frame.number, "nbns");
                }
            }
            Transport::Udp(udp) if [wpad::DHCP_SERVER_PORT, wpad::DHCP_CLIENT_PORT].contains(&udp.dst_port) => {
                if let Some(url) = wpad::dhcp_wpad_url(udp.payload) {
                    if dhcp_wpad.len() < 16 {
                        dhcp_wpad.push((url, frame.number));
                    }
                }
            }
            Transport::Udp(udp) => {
                let dns_ports = [dns::DNS_PORT, dns::LLMNR_PORT];
                if dns_ports.contains(&udp.src_port) || dns_ports.contains(&udp.dst_port) {
                    if let Some(message) = dns::parse(udp.payload) {
                        let llmnr = udp.src_port == dns::LLMNR_PORT || udp.dst_port == dns::LLMNR_PORT;
                        let protocol = if llmnr { "llmnr" } else { "dns" };
                        dns_log.record(&message, frame.ts_nanos, frame.number, protocol);
                    }
                }
            }
            Transport::Other(_) => {}
        }
    }
    for index in connections.end_of_capture() {
        read_streams(&mut connections, index, &mut protocols, &mut dns_log);
    }
    debug_assert_eq!(
        protocols.len(),
        connections.connections.len(),
        "every connection was read"
    );
    let pac_proxies = protocols
        .iter()
        .flatten()
        .flat_map(|p| p.pac_proxies.iter().cloned())
        .collect();
    PacketPass {
        info: reader.info,
        connections,
        duplicates_folded: duplicates.folded + packet_ids.folded,
        windows: WindowsFacts {
            copies_folded: packet_ids.folded,
            ..windows
        },
        protocols,
        pac_proxies,
        dhcp_wpad,
        dns: dns_log,
        unsupported_links,
        too_many_vlan_tags,
        fragments_abandoned: decoder.fragments.abandoned,
    }
}

/// Analyses a file (`-` is stdin). Never fails: a file that cannot be read
/// gives a report with `error` set.
pub fn analyze_path(path: &Path, display_name: &str, opts: &Options) -> CaptureReport {
    let reader = if opts.read_ahead {
        CaptureReader::open_read_ahead(path, opts.limits)
    } else {
        CaptureReader::open(path, opts.limits)
    };
    match reader {
        Ok(reader) => diagnose::report(display_name, packet_pass(reader, opts), opts),
        Err(e) => diagnose::error_report(display_name, &etl_hint(path, e), opts),
    }
}

/// A Windows event trace (pktmon, `netsh trace`) given directly: say how to convert it.
fn etl_hint(path: &Path, error: CaptureError) -> CaptureError {
    let is_etl = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("etl"));
    match error {
        CaptureError::NotACapture { head, .. } if is_etl => CaptureError::NotACapture {
            head,
            hint: "; this is a Windows event trace (.etl) from pktmon or netsh trace: convert it first with \
                   `etl2pcapng trace.etl trace.pcapng` (github.com/microsoft/etl2pcapng, keeps dropped packets \
                   and stack components) or `pktmon etl2pcap trace.etl --out trace.pcapng`"
                .to_string(),
        },
        other => other,
    }
}

/// Analyses bytes from any reader.
pub fn analyze_reader(reader: Box<dyn Read + Send>, display_name: &str, opts: &Options) -> CaptureReport {
    match CaptureReader::from_reader(reader, opts.limits) {
        Ok(reader) => diagnose::report(display_name, packet_pass(reader, opts), opts),
        Err(e) => diagnose::error_report(display_name, &e, opts),
    }
}

/// Whether a file starts like something capdoc reads (for walking folders).
pub fn looks_like_capture(path: &Path) -> bool {
    crate::capture::is_capture(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_from_netsh_comment() {
        assert_eq!(pid_from_comment(b"PID=1234 TID=5678"), Some(1234));
        assert_eq!(pid_from_comment(b"no pid here"), None);
        assert_eq!(pid_from_comment(b"PID="), None);
    }
}
