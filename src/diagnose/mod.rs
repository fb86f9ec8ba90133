//! Connections → attempts with outcomes → findings with evidence and fixes →
//! a verdict.

mod attempts;
pub mod catalog;
mod findings;
pub mod listing;
pub(crate) mod text;
pub mod time;

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};

use crate::analyze::Options;
use crate::capture::CaptureError;
use crate::endpoints::{self, Table};
use crate::flow::{Connection, Side};
use crate::pass::PacketPass;
use crate::proto::http::Target;
use crate::proto::Protocols;
use crate::report::model::*;
pub use attempts::{connection_filter, host_port, ip_field, syn_filter, ANSWER_GRACE_NANOS};
use attempts::{Context, HandshakeMemo, NameBook, RowMemo};

/// The hasher of the diagnosis's maps and sets: aHash, keyed per run like the
/// standard library's SipHash (their keys come from the capture), at a fraction
/// of its cost. None of them is iterated into the report, so the order is the
/// report's own.
pub(crate) type AHash = ahash::RandomState;

/// `items` grouped by `key`: groups in order of their first item, with that
/// key, and items in their order within a group. Each key is hashed once, with
/// aHash (keys come from the capture); the map is never iterated, so the order
/// is the items' own.
pub(crate) fn group_in_order<T, K: Hash + Eq + Clone>(
    items: impl IntoIterator<Item = T>,
    key: impl Fn(&T) -> K,
) -> Vec<(K, Vec<T>)> {
    let mut index: HashMap<K, usize, AHash> = HashMap::default();
    let mut groups: Vec<(K, Vec<T>)> = Vec::new();
    for item in items {
        match index.entry(key(&item)) {
            Entry::Occupied(group) => groups[*group.get()].1.push(item),
            Entry::Vacant(slot) => {
                groups.push((slot.key().clone(), vec![item]));
                slot.insert(groups.len() - 1);
            }
        }
    }
    groups
}

/// Whether the capture asks for US Government cloud names (DNS, SNI, CONNECT).
fn uses_usgov(pass: &PacketPass) -> bool {
    let dns = pass.dns.lookups.iter().any(|l| endpoints::is_usgov_name(&l.name));
    let tls_or_http = pass.carried().any(|(_, p)| {
        p.client_hello
            .as_ref()
            .and_then(|h| h.sni.as_deref())
            .is_some_and(endpoints::is_usgov_name)
            || p.exchanges().iter().any(|e| match &e.request.target {
                Target::Authority { host, .. } | Target::Absolute { host, .. } => endpoints::is_usgov_name(host),
                Target::Origin { .. } => false,
            })
    });
    dns || tls_or_http
}

/// Proxies: what the user named, every server that received CONNECT or
/// absolute-URI requests, and `PROXY ip:port` directives of PAC files seen.
fn proxies(pass: &PacketPass, opts: &Options) -> HashSet<SocketAddr, AHash> {
    let mut proxies: HashSet<SocketAddr, AHash> = opts.proxies.iter().copied().collect();
    for (conn, protocols) in pass.carried() {
        if protocols.http.as_ref().is_some_and(|h| h.conversation.is_proxy_use()) {
            proxies.insert(conn.server());
        }
    }
    proxies.extend(pass.pac_proxies.iter().filter_map(|p| p.parse::<SocketAddr>().ok()));
    proxies
}

/// Builds the report of a capture that was read.
pub fn report(file: &str, mut pass: PacketPass, opts: &Options) -> CaptureReport {
    let resolved;
    let opts = if opts.detect_cloud && uses_usgov(&pass) {
        resolved = Options {
            table: Table::usgov(),
            ..opts.clone()
        };
        &resolved
    } else {
        opts
    };
    let proxies = proxies(&pass, opts);
    let cx = Context {
        names: NameBook::new(&pass.dns, &pass.info.name_records),
        service_tags: &opts.service_tags,
        table: &opts.table,
        ca_set: &opts.ca_set,
        proxies: &proxies,
        // With --until, the end of the window is where the capture stops recording for us:
        // a SYN just before it may have been answered just after.
        capture_end: match opts.window {
            Some((_, to)) => pass.info.capture_end().unwrap_or(0).min(to),
            None => pass.info.capture_end().unwrap_or(0),
        },
        interfaces: &pass.info.interfaces,
        rows: RowMemo::default(),
        handshakes: HandshakeMemo::default(),
    };
    let mut capture = capture_facts(&pass);
    for hit in flow_limits_hit(&pass, opts) {
        capture.hit(hit);
    }
    if let Some((from, to)) = opts.window {
        let bound = |t: i64, open: &str| match t {
            i64::MIN | i64::MAX => open.to_string(),
            t => time::rfc3339(t),
        };
        capture.warnings.push(format!(
            "only frames from {} to {} were analysed (--since/--until); the packet counts, start and end describe \
             the whole file",
            bound(from, "the start"),
            bound(to, "the end")
        ));
    }
    let shown = |c: &Connection| opts.host.is_none_or(|h| c.client().ip() == h || c.server().ip() == h);
    let conns = &pass.connections.connections;
    // Summaries cost more than the connections: only those listed are built,
    // the first `max_listed` shown, which all come before `listed_end`.
    let (mut shown_total, mut listed_end) = (0, conns.len());
    for (i, _) in conns.iter().enumerate().filter(|(_, c)| shown(c)) {
        if shown_total == opts.listing.max_listed {
            listed_end = i;
        }
        shown_total += 1;
    }
    let connections_unlisted = shown_total.saturating_sub(opts.listing.max_listed) as u64;
    let one_sided = findings::one_sided(conns);
    // Everything else the report needs of the connection records is taken: the
    // attempts and the listed summaries consume them.
    let listed = |i: usize, c: &Connection| i < listed_end && shown(c);
    let (attempts, connections) = consume_connections(
        &mut pass.connections.connections,
        &mut pass.protocols,
        &cx,
        opts.host,
        listed,
    );
    let endpoints = coverage(&opts.table, &attempts);
    let judged = findings::findings(&capture, &pass, &attempts, &endpoints, one_sided, opts);
    let verdict = verdict(&attempts, &judged);
    let findings_total = judged.total;
    let findings = judged.kept;
    let mut report = CaptureReport {
        schema: SCHEMA_VERSION,
        capdoc: env!("CARGO_PKG_VERSION").to_string(),
        file: file.to_string(),
        error: None,
        capture,
        tables: tables(opts),
        attempts,
        findings,
        endpoints,
        verdict,
        attempt_groups: Vec::new(),
        connections,
        connections_unlisted,
        dns: pass.dns.lookups.iter().map(dns_lookup).collect(),
    };
    // What the report needed of the pass is in it now.
    drop(pass);
    listing::apply(&mut report, opts.listing, findings_total);
    if let Some(key) = &opts.redact {
        crate::report::redact::redact(&mut report, &opts.table, key);
    }
    report
}

/// The attempts of every connection, in connection order and numbered from 1,
/// and the summaries of the `listed` connections. The connection records and
/// their parse results are consumed from the end, and both lists give memory
/// back as they shrink: on a large capture the records and what is made of them
/// would otherwise fill memory at once. The listed connections come first, so
/// their summaries are made last, when little of the records is left.
fn consume_connections(
    conns: &mut Vec<Connection>,
    carried: &mut Vec<Option<Box<Protocols>>>,
    cx: &Context<'_>,
    host: Option<IpAddr>,
    listed: impl Fn(usize, &Connection) -> bool,
) -> (Vec<Attempt>, Vec<ConnectionSummary>) {
    const SHRINK_EVERY: usize = 4096;
    debug_assert_eq!(conns.len(), carried.len(), "one parse result per connection");
    let mut attempts: Vec<Attempt> = Vec::new();
    let mut summaries: Vec<ConnectionSummary> = Vec::new();
    while let Some(conn) = conns.pop() {
        let protocols = carried.pop().flatten();
        if conns.len() % SHRINK_EVERY == 0 {
            conns.shrink_to_fit();
            carried.shrink_to_fit();
        }
        if listed(conns.len(), &conn) {
            summaries.push(connection_summary(&conn));
        }
        if host.is_some_and(|host| conn.client().ip() != host) {
            continue;
        }
        let protocols = protocols.as_deref().unwrap_or(Protocols::nothing());
        if cx.proxies.contains(&conn.server()) {
            attempts.extend(attempts::proxy_attempts(&conn, protocols, cx).into_iter().rev());
        } else if let Some(a) = attempts::direct_attempt(&conn, protocols, cx) {
            attempts.push(a);
        }
    }
    attempts.reverse();
    summaries.reverse();
    for (i, a) in attempts.iter_mut().enumerate() {
        a.id = i as u32 + 1;
    }
    (attempts, summaries)
}

fn dns_lookup(l: &crate::proto::dns::Lookup) -> DnsLookup {
    DnsLookup {
        name: l.name.clone(),
        rcode: l.rcode.map(crate::proto::dns::rcode_name),
        addresses: l.addresses.iter().map(|&a| text::ip(a)).collect(),
        cnames: l.cnames.clone(),
        query_frame: l.query_frame,
        answer_frame: l.answer_frame,
        protocol: l.protocol,
    }
}

/// The report of a file that could not be read at all.
pub fn error_report(file: &str, error: &CaptureError, opts: &Options) -> CaptureReport {
    let message = format!("{file}: {error}");
    let mut report = CaptureReport {
        schema: SCHEMA_VERSION,
        capdoc: env!("CARGO_PKG_VERSION").to_string(),
        file: file.to_string(),
        error: Some(message.clone()),
        capture: CaptureFacts::default(),
        tables: tables(opts),
        attempts: Vec::new(),
        findings: Vec::new(),
        endpoints: coverage(&opts.table, &[]),
        verdict: Verdict {
            status: VerdictStatus::Inconclusive,
            summary: format!("Not analysed: {message}."),
        },
        attempt_groups: Vec::new(),
        connections: Vec::new(),
        connections_unlisted: 0,
        dns: Vec::new(),
    };
    if let Some(key) = &opts.redact {
        crate::report::redact::redact(&mut report, &opts.table, key);
    }
    report
}

fn tables(opts: &Options) -> Tables {
    Tables {
        urls: opts.table.label(),
        ca_set: opts.ca_set.label(),
    }
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
        limits_hit: Vec::new(),
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
        connections_already_open: pass
            .connections
            .connections
            .iter()
            .filter(|c| c.syns.is_empty())
            .count() as u64,
        windows: WindowsCapture {
            copies_folded: pass.windows.copies_folded,
            counted_on: pass
                .windows
                .kept_on
                .keys()
                .map(|&i| {
                    let iface = &info.interfaces[i];
                    iface
                        .name
                        .clone()
                        .or_else(|| iface.description.clone())
                        .unwrap_or_else(|| format!("interface {i}"))
                })
                .collect(),
            dropped_frames: pass.windows.dropped_frames,
        },
    }
}

/// The limits of the packet pass that this capture reached.
fn flow_limits_hit(pass: &PacketPass, opts: &Options) -> Vec<LimitHit> {
    let table = &pass.connections;
    let flow = opts.flow_limits;
    let mut hits = Vec::new();
    if table.untracked_segments > 0 {
        hits.push(LimitHit {
            limit: "--max-connections",
            value: flow.max_connections as u64,
            effect: format!(
                "{} TCP segments of connections beyond the first {} were counted, not analysed",
                table.untracked_segments, flow.max_connections
            ),
        });
    }
    if table.stream_budget_exhausted {
        hits.push(LimitHit {
            limit: "--stream-budget",
            value: flow.total_stream_bytes as u64,
            effect: "some connections were tracked without reading their contents (no HTTP, TLS or DNS facts for \
                     them): the bytes held for reassembly at once reached the limit"
                .to_string(),
        });
    }
    if pass.too_many_vlan_tags > 0 {
        hits.push(LimitHit {
            limit: "VLAN tags",
            value: crate::decode::link::MAX_VLAN_TAGS as u64,
            effect: match pass.too_many_vlan_tags {
                1 => "1 frame with more stacked VLAN tags was skipped".to_string(),
                n => format!("{n} frames with more stacked VLAN tags were skipped"),
            },
        });
    }
    if pass.fragments_abandoned > 0 {
        hits.push(LimitHit {
            limit: "IP fragments",
            value: crate::decode::fragment::MAX_PENDING as u64,
            effect: format!(
                "{} fragmented datagrams were dropped before they were complete (too many pending at once, too \
                 many pieces, or too large)",
                pass.fragments_abandoned
            ),
        });
    }
    if pass.dns.lookups_dropped > 0 {
        hits.push(LimitHit {
            limit: "DNS lookups",
            value: crate::proto::dns::MAX_LOOKUPS as u64,
            effect: format!(
                "{} further DNS questions were not listed or judged (their answers still name addresses)",
                pass.dns.lookups_dropped
            ),
        });
    }
    hits
}

fn coverage(table: &Table, attempts: &[Attempt]) -> Vec<EndpointCoverage> {
    // An attempt names at most one row: one pass over the attempts, where a pass
    // per row read every attempt 34 times.
    let mut by_row: HashMap<(&str, u16), (Vec<u32>, bool), AHash> = HashMap::default();
    for a in attempts {
        if let Some(r) = &a.required {
            let (ids, reached) = by_row.entry((&r.pattern, r.port)).or_default();
            ids.push(a.id);
            *reached |= a.outcome.reached();
        }
    }
    table
        .rows
        .iter()
        .map(|row| {
            let (ids, reached) = by_row
                .get(&(row.pattern.as_str(), row.port))
                .map_or((Vec::new(), false), |(ids, reached)| (ids.clone(), *reached));
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
                unlisted_attempts: 0,
                requirement: row.status.to_string(),
            }
        })
        .collect()
}

fn verdict(attempts: &[Attempt], findings: &findings::Judged) -> Verdict {
    // Errors come first, so the first finding is the first error when there is one.
    if let Some(first) = findings.kept.first().filter(|f| f.severity == Severity::Error) {
        let more = findings.errors - 1;
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
    let warnings = findings.warnings;
    let reached = attempts.iter().filter(|a| a.outcome.reached()).count();
    let mut summary = format!(
        "{} of {decided} connection attempts that could be judged got an answer{}.",
        if reached == decided {
            "All".to_string()
        } else {
            reached.to_string()
        },
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
        client: host_port(conn.client()),
        server: host_port(conn.server()),
        isn: conn.isn.map(|s| s.0),
        conn_state: conn.conn_state(),
        history: conn.history.as_str().to_string(),
        start: time::rfc3339(conn.first.ts),
        first_frame: conn.first.number(),
        syn_frames: conn.syns.iter().map(|f| f.number()).collect(),
        syn_retransmits: conn.syn_retransmits,
        syn_ack_frame: conn.syn_ack.map(|f| f.number()),
        connect_ms: conn.connect_time().map(ms),
        handshake_rtt_ms: conn.handshake_rtt().map(ms),
        reset: conn.reset.map(|r| ResetSummary {
            from: match r.from {
                Side::Client => "client",
                Side::Server => "server",
            },
            frame: r.frame.number(),
            after_handshake: r.after_handshake,
        }),
        icmp: conn.icmp.as_deref().map(|i| IcmpSummary {
            frame: i.frame.number(),
            from: i.from.to_string(),
            icmp_type: i.message.icmp_type,
            code: i.message.code,
            meaning: i.message.describe(),
        }),
        client_bytes: conn.bytes[0],
        server_bytes: conn.bytes[1],
        client_packets: conn.packets[0],
        server_packets: conn.packets[1],
        duration_ms: ms(conn.last_ts.saturating_sub(conn.first.ts)),
        timing: ConnectionTiming {
            start: conn.first.ts,
            end: conn.last_ts,
            syns: conn.syns.iter().map(|f| f.ts).collect(),
            syn_ack: conn.syn_ack.map(|f| f.ts),
            reset: conn.reset.map(|r| r.frame.ts),
            icmp: conn.icmp.as_deref().map(|i| i.frame.ts),
            local_drop: conn.local_drop.as_deref().map(|d| d.frame.ts),
            client_data: conn.first_data[0].map(|f| f.ts),
            server_data: conn.first_data[1].map(|f| f.ts),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::group_in_order;

    #[test]
    fn groups_keep_the_order_of_their_first_item() {
        let words = ["b1", "a1", "b2", "c1", "a2", "b3"];
        let groups = group_in_order(words, |w| w.as_bytes()[0]);
        assert_eq!(
            groups,
            vec![
                (b'b', vec!["b1", "b2", "b3"]),
                (b'a', vec!["a1", "a2"]),
                (b'c', vec!["c1"]),
            ]
        );
        assert!(group_in_order(std::iter::empty::<u8>(), |&b| b).is_empty());
    }
}
