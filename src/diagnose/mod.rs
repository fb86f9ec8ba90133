//! Connections → attempts with outcomes → findings with evidence and fixes →
//! a verdict.

mod findings;
pub mod time;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use crate::analyze::{Options, PacketPass};
use crate::capture::CaptureError;
use crate::endpoints::Table;
use crate::flow::{Connection, Side};
use crate::proto::dns::DnsLog;
use crate::report::model::*;

/// How long after its last SYN a capture must go on before a missing answer
/// counts as "unanswered" rather than "the capture stopped too early". A
/// SYN-ACK takes one round trip (milliseconds, even over satellite well under
/// a second); Linux retransmits the SYN after 1 s and Windows after 3 s.
pub const ANSWER_GRACE_NANOS: i64 = 1_000_000_000;

/// Which CA set is in use; TLS checks come with the protocol stage.
const CA_SET_LABEL: &str = "none (TLS certificate checks not enabled)";

/// Builds the report of a capture that was read.
pub fn report(file: &str, pass: PacketPass, opts: &Options) -> CaptureReport {
    let names = NameBook::new(&pass.dns, &pass.info.name_records);
    let capture_end = pass.info.capture_end().unwrap_or(0);
    let mut attempts = Vec::new();
    for conn in &pass.connections.connections {
        if let Some(host) = opts.host {
            if conn.client.ip() != host {
                continue;
            }
        }
        if let Some(attempt) = direct_attempt(conn, attempts.len() as u32 + 1, capture_end, &names, &opts.table) {
            attempts.push(attempt);
        }
    }
    let capture = capture_facts(&pass);
    let endpoints = coverage(&opts.table, &attempts);
    let findings = findings::findings(&capture, &pass, &attempts);
    let verdict = verdict(&attempts, &findings);
    let connections = pass
        .connections
        .connections
        .iter()
        .filter(|c| opts.host.is_none_or(|h| c.client.ip() == h || c.server.ip() == h))
        .map(connection_summary)
        .collect();
    CaptureReport {
        schema: SCHEMA_VERSION,
        capdoc: env!("CARGO_PKG_VERSION").to_string(),
        file: file.to_string(),
        error: None,
        capture,
        tables: tables(&opts.table),
        attempts,
        findings,
        endpoints,
        verdict,
        connections,
    }
}

/// The report of a file that could not be read at all.
pub fn error_report(file: &str, error: &CaptureError, opts: &Options) -> CaptureReport {
    let message = format!("{file}: {error}");
    CaptureReport {
        schema: SCHEMA_VERSION,
        capdoc: env!("CARGO_PKG_VERSION").to_string(),
        file: file.to_string(),
        error: Some(message.clone()),
        capture: CaptureFacts::default(),
        tables: tables(&opts.table),
        attempts: Vec::new(),
        findings: Vec::new(),
        endpoints: coverage(&opts.table, &[]),
        verdict: Verdict {
            status: VerdictStatus::Inconclusive,
            summary: format!("Not analysed: {message}."),
        },
        connections: Vec::new(),
    }
}

fn tables(table: &Table) -> Tables {
    Tables {
        urls: table.label(),
        ca_set: CA_SET_LABEL.to_string(),
    }
}

/// Names known for addresses, with where each came from.
struct NameBook<'a> {
    dns: &'a DnsLog,
    nrb: HashMap<IpAddr, String>,
}

impl<'a> NameBook<'a> {
    fn new(dns: &'a DnsLog, records: &[(IpAddr, String)]) -> Self {
        let mut nrb = HashMap::new();
        for (ip, name) in records {
            nrb.entry(*ip).or_insert_with(|| name.clone());
        }
        NameBook { dns, nrb }
    }

    /// The DNS answer that mapped `ip` most recently before `ts`, else a pcapng
    /// name record.
    fn name_of(&self, ip: IpAddr, ts: i64) -> Option<(String, NameSource)> {
        if let Some(r) = self.dns.name_for(ip, ts) {
            return Some((r.name.clone(), NameSource::Dns));
        }
        self.nrb.get(&ip).map(|n| (n.clone(), NameSource::Nrb))
    }
}

/// Formats an endpoint as the schema wants: `ip:port`, IPv6 in brackets.
pub fn host_port(addr: SocketAddr) -> String {
    addr.to_string()
}

fn direct_attempt(conn: &Connection, id: u32, capture_end: i64, names: &NameBook, table: &Table) -> Option<Attempt> {
    let opened_by_syn = !conn.syns.is_empty();
    let carried_request = conn.bytes[Side::Client as usize] > 0;
    if !opened_by_syn && !carried_request {
        return None;
    }
    let (outcome, detail) = outcome(conn, capture_end);
    let name = names.name_of(conn.server.ip(), conn.first.ts);
    let required = name
        .as_ref()
        .and_then(|(n, _)| table.lookup(n, conn.server.port(), None))
        .map(|row| RequiredRef {
            pattern: row.pattern.clone(),
            port: row.port,
            purpose: row.purpose.clone(),
        });
    Some(Attempt {
        id,
        connection: conn.id,
        client: host_port(conn.client),
        destination: Destination {
            name: name.as_ref().map(|(n, _)| n.clone()),
            ip: Some(conn.server.ip().to_string()),
            port: Some(conn.server.port()),
        },
        name_source: name.map(|(_, source)| source),
        path: Path::Direct,
        proxy: None,
        outcome,
        http_status: None,
        syn_retransmits: conn.syn_retransmits,
        conn_state: conn.conn_state(),
        start: time::rfc3339(conn.first.ts),
        frames: evidence_frames(conn),
        wireshark_filter: connection_filter(conn),
        required,
        tls: None,
        pid: None,
        detail,
        start_nanos: conn.first.ts,
    })
}

/// The outcome of a direct connection, with a one-line account.
fn outcome(conn: &Connection, capture_end: i64) -> (Outcome, String) {
    let server_reset = conn.reset.filter(|r| r.from == Side::Server);
    let sent = conn.syn_retransmits + 1;
    let Some(syn_ack) = conn.syn_ack else {
        if conn.syns.is_empty() {
            // Picked up mid-stream with a request in it.
            return if conn.bytes[Side::Server as usize] > 0 {
                (
                    Outcome::Ok,
                    "connection already open when the capture started; the server sent data".into(),
                )
            } else {
                (
                    Outcome::Incomplete,
                    "connection already open when the capture started; no answer seen".into(),
                )
            };
        }
        if let Some(icmp) = conn.icmp {
            return (
                Outcome::IcmpUnreachable,
                format!(
                    "{} answered the SYN with ICMP destination unreachable ({}), frame {}",
                    icmp.from,
                    icmp.message.describe(),
                    icmp.frame.number
                ),
            );
        }
        if let Some(reset) = server_reset {
            return (
                Outcome::Reset,
                format!("SYN answered by RST, frame {}", reset.frame.number),
            );
        }
        let last_syn = conn.last_syn().map_or(conn.first.ts, |s| s.ts);
        if let Some(abort) = conn.reset.filter(|r| r.from == Side::Client) {
            // The client gave up on its own SYN (Zeek RSTOS0): unanswered only if it waited.
            let waited = abort.frame.ts - last_syn;
            return if waited >= ANSWER_GRACE_NANOS {
                (
                    Outcome::SynUnanswered,
                    format!(
                        "{sent} SYN{} over {}, no answer; the client gave up",
                        plural(sent),
                        time::span(last_syn - conn.first.ts)
                    ),
                )
            } else {
                (
                    Outcome::Incomplete,
                    format!(
                        "the client abandoned the attempt {} after its SYN (frame {})",
                        time::span(waited),
                        abort.frame.number
                    ),
                )
            };
        }
        let waited = capture_end - last_syn;
        return if waited >= ANSWER_GRACE_NANOS {
            (
                Outcome::SynUnanswered,
                format!(
                    "{sent} SYN{} over {}, no answer",
                    plural(sent),
                    time::span(last_syn - conn.first.ts)
                ),
            )
        } else {
            (
                Outcome::Incomplete,
                format!(
                    "capture ended {} after the last SYN, too soon to expect an answer",
                    time::span(waited)
                ),
            )
        };
    };
    let server_data = conn.first_data[Side::Server as usize];
    if let Some(reset) = server_reset {
        let before_data = server_data.is_none_or(|d| d.ts > reset.frame.ts);
        if before_data {
            return (
                Outcome::Reset,
                format!(
                    "connected, then reset by the server (frame {}) before it sent any data",
                    reset.frame.number
                ),
            );
        }
    }
    let client_data = conn.first_data[Side::Client as usize];
    if let (Some(request), None) = (client_data, server_data) {
        let ended = conn.reset.is_some() || conn.fin.iter().any(Option::is_some);
        return if ended {
            (
                Outcome::NoResponse,
                format!(
                    "connected and sent data (frame {}), the server never answered",
                    request.number
                ),
            )
        } else {
            (
                Outcome::Incomplete,
                format!(
                    "connected and sent data (frame {}); the capture ended before any answer",
                    request.number
                ),
            )
        };
    }
    let connect = time::span(syn_ack.ts - conn.syns.first().map_or(syn_ack.ts, |s| s.ts));
    let detail = if conn.syn_retransmits > 0 {
        format!("connected after {sent} SYNs ({connect})")
    } else {
        format!("connected in {connect}")
    };
    (Outcome::Ok, detail)
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The frames that show what happened, the first SYN first.
fn evidence_frames(conn: &Connection) -> Vec<u64> {
    let mut frames: Vec<u64> = conn.syns.iter().map(|f| f.number).collect();
    if frames.is_empty() {
        frames.push(conn.first.number);
    }
    frames.extend(conn.syn_ack.map(|f| f.number));
    frames.extend(conn.icmp.map(|i| i.frame.number));
    frames.extend(conn.reset.map(|r| r.frame.number));
    frames.extend(conn.first_data.iter().flatten().map(|f| f.number));
    frames.sort_unstable();
    frames.dedup();
    frames
}

fn ip_field(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "ipv6"
    } else {
        "ip"
    }
}

/// A display filter that shows this connection's packets in both directions.
pub fn connection_filter(conn: &Connection) -> String {
    let f = ip_field(conn.client.ip());
    let tcp = format!(
        "{f}.addr=={} && tcp.port=={} && {f}.addr=={} && tcp.port=={}",
        conn.client.ip(),
        conn.client.port(),
        conn.server.ip(),
        conn.server.port()
    );
    match conn.icmp {
        Some(icmp) => format!("({tcp}) || frame.number=={}", icmp.frame.number),
        None => tcp,
    }
}

/// A display filter that shows every SYN to a destination.
pub fn syn_filter(ip: IpAddr, port: u16) -> String {
    format!(
        "tcp.flags.syn==1 && tcp.flags.ack==0 && {}.dst=={ip} && tcp.dstport=={port}",
        ip_field(ip)
    )
}

fn capture_facts(pass: &PacketPass) -> CaptureFacts {
    let info = &pass.info;
    let mut link_types: Vec<String> = Vec::new();
    for iface in &info.interfaces {
        let name = iface.link_type.name();
        if !link_types.contains(&name) {
            link_types.push(name);
        }
    }
    let packets = info.frames;
    CaptureFacts {
        format: info.format.map(|f| f.name()),
        compressed: info.compression.map(|c| c.name()),
        link_types,
        interfaces: info
            .interfaces
            .iter()
            .map(|i| InterfaceFacts {
                name: i.name.clone(),
                link_type: i.link_type.name(),
            })
            .collect(),
        application: info.application().map(str::to_string),
        os: info.os().map(str::to_string),
        packets,
        unique_packets: packets.saturating_sub(pass.duplicates_folded),
        bytes: info.bytes,
        start: info.first_ts.map(time::rfc3339),
        end: info.last_ts.map(time::rfc3339),
        truncated_packets: info.truncated_packets,
        warnings: info.all_warnings(),
        duplicates_folded: pass.duplicates_folded,
        unsupported_link_frames: pass
            .unsupported_links
            .iter()
            .map(|(link, frames)| LinkCount {
                link_type: link.name(),
                frames: *frames,
            })
            .collect(),
        cut_at_offset: info.cut_at,
    }
}

fn coverage(table: &Table, attempts: &[Attempt]) -> Vec<EndpointCoverage> {
    table
        .rows
        .iter()
        .map(|row| {
            let ids: Vec<u32> = attempts
                .iter()
                .filter(|a| {
                    a.required
                        .as_ref()
                        .is_some_and(|r| r.pattern == row.pattern && r.port == row.port)
                })
                .map(|a| a.id)
                .collect();
            let reached = attempts.iter().any(|a| ids.contains(&a.id) && a.outcome.reached());
            let status = match (ids.is_empty(), reached) {
                (true, _) => Coverage::NotSeen,
                (false, true) => Coverage::Reached,
                (false, false) => Coverage::Failed,
            };
            EndpointCoverage {
                pattern: row.pattern.clone(),
                port: row.port,
                purpose: row.purpose.clone(),
                status,
                attempts: ids,
                requirement: row.status.to_string(),
            }
        })
        .collect()
}

fn verdict(attempts: &[Attempt], findings: &[Finding]) -> Verdict {
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.severity == Severity::Error).collect();
    if let Some(first) = errors.first() {
        let more = errors.len() - 1;
        let summary = if more == 0 {
            first.title.clone()
        } else {
            format!(
                "{} (and {more} more problem{})",
                first.title,
                if more == 1 { "" } else { "s" }
            )
        };
        return Verdict {
            status: VerdictStatus::Problems,
            summary,
        };
    }
    let decided = attempts.iter().filter(|a| a.outcome != Outcome::Incomplete).count();
    if attempts.is_empty() {
        return Verdict {
            status: VerdictStatus::Inconclusive,
            summary: "No outbound TCP connection attempt is in this capture; it was probably not taken while the \
                      connector service started."
                .into(),
        };
    }
    if decided == 0 {
        return Verdict {
            status: VerdictStatus::Inconclusive,
            summary: format!(
                "The capture ends before any of its {} connection attempts could be answered.",
                attempts.len()
            ),
        };
    }
    let warnings = findings.iter().filter(|f| f.severity == Severity::Warning).count();
    let mut summary = format!(
        "All {decided} connection attempts that could be judged were answered{}.",
        if decided < attempts.len() {
            format!(
                " ({} more were cut off by the end of the capture)",
                attempts.len() - decided
            )
        } else {
            String::new()
        }
    );
    if warnings > 0 {
        summary.push_str(&format!(
            " {warnings} warning{} below.",
            if warnings == 1 { "" } else { "s" }
        ));
    }
    Verdict {
        status: VerdictStatus::Healthy,
        summary,
    }
}

fn ms(nanos: i64) -> f64 {
    (nanos as f64 / 1_000.0).round() / 1_000.0
}

fn connection_summary(conn: &Connection) -> ConnectionSummary {
    ConnectionSummary {
        id: conn.id,
        client: host_port(conn.client),
        server: host_port(conn.server),
        isn: conn.isn.map(|s| s.0),
        conn_state: conn.conn_state(),
        history: conn.history.as_str().to_string(),
        start: time::rfc3339(conn.first.ts),
        first_frame: conn.first.number,
        syn_frames: conn.syns.iter().map(|f| f.number).collect(),
        syn_retransmits: conn.syn_retransmits,
        syn_ack_frame: conn.syn_ack.map(|f| f.number),
        connect_ms: conn.connect_time().map(ms),
        handshake_rtt_ms: conn.handshake_rtt().map(ms),
        reset: conn.reset.map(|r| ResetSummary {
            from: match r.from {
                Side::Client => "client",
                Side::Server => "server",
            },
            frame: r.frame.number,
            after_handshake: r.after_handshake,
        }),
        icmp: conn.icmp.map(|i| IcmpSummary {
            frame: i.frame.number,
            from: i.from.to_string(),
            icmp_type: i.message.icmp_type,
            code: i.message.code,
            meaning: i.message.describe(),
        }),
        client_bytes: conn.bytes[0],
        server_bytes: conn.bytes[1],
        client_packets: conn.packets[0],
        server_packets: conn.packets[1],
        duration_ms: ms(conn.last_ts - conn.first.ts),
    }
}
