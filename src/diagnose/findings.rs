//! Findings: what went wrong, per destination, with the evidence and a fix an
//! administrator can apply. Remediation texts are capdoc's own words, built on
//! the facts of Microsoft's connector documentation.

mod coverage;
mod proxy;

use std::collections::HashMap;

use super::{ip_field, syn_filter, time, AHash};
use crate::analyze::Options;
use crate::flow::Connection;
use crate::pass::PacketPass;
use crate::proto::dns::Lookup;
use crate::report::model::*;

/// Service Bus relay and AMQP ports: tried directly first, with HTTPS on 443
/// as the documented fallback.
const SERVICEBUS_DIRECT_PORTS: [u16; 7] = [9350, 9351, 9352, 9353, 9354, 5671, 5672];

/// At most this many frame numbers are listed per finding.
const MAX_FRAMES: usize = 50;

/// The findings of a capture, most severe first: at most `room` of them kept,
/// every one counted.
pub(super) struct Judged {
    /// In [`report_order`], judging order on ties.
    pub kept: Vec<Finding>,
    room: usize,
    /// Findings judged, kept or not.
    pub total: usize,
    pub errors: usize,
    pub warnings: usize,
}

impl Judged {
    /// Keeps the first `room` findings in the report's order (at least one, so
    /// the most severe is always known; up to twice as many between trims).
    fn new(room: usize) -> Self {
        Judged {
            kept: Vec::new(),
            room: room.max(1),
            total: 0,
            errors: 0,
            warnings: 0,
        }
    }

    /// Sorts and cuts the kept findings to `room` whenever they reach twice
    /// that. A stable sort keeps judging order on ties, so the findings kept in
    /// the end are the ones a sort of all of them would put first.
    fn push(&mut self, finding: Finding) {
        self.total += 1;
        match finding.severity {
            Severity::Error => self.errors += 1,
            Severity::Warning => self.warnings += 1,
            Severity::Info => {}
        }
        self.kept.push(finding);
        if self.kept.len() >= self.room.saturating_mul(2) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.kept.sort_by_key(report_order);
        self.kept.truncate(self.room);
    }
}

/// The report's order of findings: most severe first, then what matters most
/// to the connector, then by the time of the first evidence.
fn report_order(f: &Finding) -> (Severity, u8, u64) {
    (f.severity, f.rank, f.frames.first().copied().unwrap_or(u64::MAX))
}

impl Extend<Finding> for Judged {
    fn extend<I: IntoIterator<Item = Finding>>(&mut self, findings: I) {
        findings.into_iter().for_each(|f| self.push(f));
    }
}

/// Every finding of the capture, judged on all attempts. A scan of many
/// destinations gives one finding each, and only `--max-findings` are listed:
/// the rest are counted as they come instead of kept.
pub(super) fn findings(
    capture: &CaptureFacts,
    pass: &PacketPass,
    attempts: &[Attempt],
    endpoints: &[EndpointCoverage],
    one_sided: bool,
    opts: &Options,
) -> Judged {
    let mut out = Judged::new(opts.listing.max_findings);
    let any_443_ok = attempts
        .iter()
        .any(|a| a.destination.port == Some(443) && a.outcome == Outcome::Ok);
    // Direct attempts by destination `ip:port` (an unknown port counts as 0).
    let direct = attempts.iter().filter(|a| a.path == Path::Direct);
    for (_, group) in super::group_in_order(direct, |a| (a.destination.ip, a.destination.port.unwrap_or(0))) {
        out.extend(destination_findings(&group, any_443_ok));
    }
    out.extend(proxy::findings(attempts));
    out.extend(proxy::tls_findings(attempts));
    let table_lookups = table_lookups(pass, opts);
    out.extend(coverage::findings(attempts, endpoints, &table_lookups, pass));
    out.extend(capture_findings(
        capture,
        attempts,
        !table_lookups.is_empty(),
        one_sided,
        opts,
    ));
    out.trim();
    out
}

/// The DNS questions for names of the required-URL table.
fn table_lookups<'a>(pass: &'a PacketPass, opts: &Options) -> Vec<&'a Lookup> {
    // Names repeat (every retry, every client): each is judged once.
    let mut known: HashMap<&str, bool, AHash> = HashMap::default();
    pass.dns
        .lookups
        .iter()
        .filter(|l| *known.entry(&l.name).or_insert_with(|| opts.table.has_name(&l.name)))
        .collect()
}

pub(super) fn frames_of(attempts: &[&Attempt]) -> Vec<u64> {
    let mut frames: Vec<u64> = attempts.iter().flat_map(|a| a.frames.iter().copied()).collect();
    frames.sort_unstable();
    frames.dedup();
    frames.truncate(MAX_FRAMES);
    frames
}

pub(super) fn ids(attempts: &[&Attempt]) -> Vec<u32> {
    attempts.iter().map(|a| a.id).collect()
}

/// "3 attempts over 7.1 s" or "1 attempt".
pub(super) fn attempts_phrase(group: &[&Attempt]) -> String {
    let n = group.len();
    let (first, last) = match (group.first(), group.last()) {
        (Some(f), Some(l)) => (f.start_nanos, l.start_nanos),
        _ => return "no attempts".into(),
    };
    match n {
        1 => "1 attempt".into(),
        _ if last > first => format!("{n} attempts over {}", time::span(last - first)),
        _ => format!("{n} attempts"),
    }
}

/// How much a destination matters to the connector, for ordering findings.
pub(super) fn rank(a: &Attempt) -> u8 {
    match a.required.as_ref().map(|r| &*r.purpose) {
        Some("connector-service") => 0,
        Some("certificate-revocation") => 1,
        Some(_) => 2,
        None => 3,
    }
}

fn destination_findings(group: &[&Attempt], any_443_ok: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(first) = group.first() else { return out };
    let rank = rank(first);
    let dest = first.destination_label();
    let ip = first.destination.ip;
    let port = first.destination.port.unwrap_or(0);
    let reached = group.iter().any(|a| a.outcome.reached());
    let servicebus_direct = SERVICEBUS_DIRECT_PORTS.contains(&port)
        && first
            .destination
            .name
            .as_deref()
            .is_none_or(|n| n.to_ascii_lowercase().contains("servicebus"));
    let not_required = first.destination.name.is_some() && first.required.is_none();
    let failed: Vec<&Attempt> = group.iter().copied().filter(|a| a.outcome.failed()).collect();
    if !failed.is_empty() && servicebus_direct && any_443_ok {
        out.push(Finding {
            severity: Severity::Info,
            code: "servicebus-direct-fallback",
            title: format!("Direct Service Bus port {port} to {dest} is blocked; HTTPS on 443 works"),
            detail: format!(
                "{} to {dest} failed while connections on port 443 succeeded. The connector tries the Service Bus \
                 ports directly first and then falls back to HTTPS on 443, so this is not the cause of a failure.",
                attempts_phrase(&failed)
            ),
            remediation: "Nothing to fix. Opening the port only saves the fallback delay.".into(),
            attempts: ids(&failed),
            frames: frames_of(&failed),
            wireshark_filter: ip.map(|ip| syn_filter(ip, port)),
            rank,
            unlisted_attempts: 0,
        });
        return out;
    }
    // A destination that answered some attempts and failed others is a warning, not a block.
    let severity = if reached || not_required {
        Severity::Warning
    } else {
        Severity::Error
    };
    let of = |outcome: Outcome| -> Vec<&Attempt> { failed.iter().copied().filter(|a| a.outcome == outcome).collect() };
    let not_required_note = if not_required {
        " This destination is not in the connector's required-URL table, so it may be unrelated traffic."
    } else {
        ""
    };
    let partial_note = if reached {
        " Other attempts to the same destination were answered."
    } else {
        ""
    };

    let dropped = of(Outcome::DroppedLocally);
    if !dropped.is_empty() {
        out.push(Finding {
            severity,
            code: "dropped-locally",
            title: format!(
                "SYNs to {dest} are dropped on the connector server itself ({})",
                attempts_phrase(&dropped)
            ),
            detail: format!(
                "{}. The capture recorded the drop inside Windows, so the block is on this server (Windows Filtering \
                 Platform: Windows Defender Firewall or security software), not on the network.{not_required_note}",
                dropped[0].detail
            ),
            remediation: format!(
                "Find the outbound rule on the connector server that blocks TCP port {port}: Windows Defender \
                 Firewall outbound rules, or endpoint security software. `netsh wfp show state` names the filter \
                 that dropped the packet. Allow the connector's traffic to {}.",
                first.destination.name.as_deref().unwrap_or("this address")
            ),
            attempts: ids(&dropped),
            frames: frames_of(&dropped),
            wireshark_filter: ip.map(|ip| syn_filter(ip, port)),
            rank,
            unlisted_attempts: 0,
        });
    }
    let unanswered = of(Outcome::SynUnanswered);
    if !unanswered.is_empty() {
        let syns: u32 = unanswered.iter().map(|a| a.syn_retransmits + 1).sum();
        out.push(Finding {
            severity,
            code: "syn-unanswered",
            title: format!("Connections to {dest} are never answered ({}, {syns} SYNs, no reply)", attempts_phrase(&unanswered)),
            detail: format!(
                "Every SYN to {dest} went unanswered: no SYN-ACK, no RST, no ICMP error. The client retransmitted \
                 the SYN {} times in total. Silence like this is what a firewall that drops packets produces.{partial_note}{not_required_note}",
                syns - unanswered.len() as u32
            ),
            remediation: format!(
                "Allow outbound TCP port {port} from the connector server to {} on every firewall on the path \
                 (host firewall, network firewall, cloud network security group). If the connector must use an \
                 outbound proxy, configure it for the proxy instead of opening direct access.",
                first.destination.name.as_deref().unwrap_or("this address")
            ),
            attempts: ids(&unanswered),
            frames: frames_of(&unanswered),
            wireshark_filter: ip.map(|ip| syn_filter(ip, port)),
            rank,
            unlisted_attempts: 0,
        });
    }
    let unreachable = of(Outcome::IcmpUnreachable);
    if !unreachable.is_empty() {
        out.push(Finding {
            severity,
            code: "icmp-unreachable",
            title: format!(
                "Connections to {dest} are refused with ICMP destination unreachable ({})",
                attempts_phrase(&unreachable)
            ),
            detail: format!("{}.{partial_note}{not_required_note}", unreachable[0].detail),
            remediation: format!(
                "A router or firewall on the path rejects this traffic and says so. Find the device that sent the \
                 ICMP message (its address is in the detail) and allow outbound TCP port {port} from the connector \
                 server to {}.",
                first.destination.name.as_deref().unwrap_or("this address")
            ),
            attempts: ids(&unreachable),
            frames: frames_of(&unreachable),
            // The ICMP error goes back to the client.
            wireshark_filter: Some({
                let client = unreachable[0].client();
                let icmp = if client.is_ipv6() {
                    "icmpv6.type==1"
                } else {
                    "icmp.type==3"
                };
                format!("{icmp} && {}.dst=={}", ip_field(client.ip()), client.ip())
            }),
            rank,
            unlisted_attempts: 0,
        });
    }
    let reset = of(Outcome::Reset);
    if !reset.is_empty() {
        out.push(Finding {
            severity,
            code: "connection-reset",
            title: format!("Connections to {dest} are reset ({})", attempts_phrase(&reset)),
            detail: format!(
                "{}. A reset straight after the SYN means nothing listens there or a firewall rejects the \
                 connection actively; a reset after the handshake often comes from a filtering device that \
                 inspected the first bytes.{partial_note}{not_required_note}",
                reset[0].detail
            ),
            remediation: format!(
                "Check the firewalls and proxies between the connector server and {dest} for a rule that rejects \
                 this traffic, and allow outbound TCP port {port} to it. A device that inspects or filters TLS must \
                 let the connector's traffic through untouched.",
            ),
            attempts: ids(&reset),
            frames: frames_of(&reset),
            wireshark_filter: ip
                .map(|ip| format!("tcp.flags.reset==1 && {}.addr=={ip} && tcp.port=={port}", ip_field(ip))),
            rank,
            unlisted_attempts: 0,
        });
    }
    let silent = of(Outcome::NoResponse);
    if !silent.is_empty() {
        out.push(Finding {
            severity,
            code: "no-response",
            title: format!(
                "{dest} accepts connections but never answers ({})",
                attempts_phrase(&silent)
            ),
            detail: format!("{}.{partial_note}{not_required_note}", silent[0].detail),
            remediation: "Something accepts the TCP connection but does not answer the request: often a device \
                          that intercepts traffic on this port. Check for transparent proxies or TLS inspection \
                          on the path and exclude the connector's traffic from them."
                .into(),
            attempts: ids(&silent),
            frames: frames_of(&silent),
            wireshark_filter: Some(silent[0].wireshark_filter.text()),
            rank,
            unlisted_attempts: 0,
        });
    }
    let slow: Vec<&Attempt> = group
        .iter()
        .copied()
        .filter(|a| a.outcome == Outcome::Ok && a.syn_retransmits > 0)
        .collect();
    if !slow.is_empty() {
        out.push(Finding {
            severity: Severity::Warning,
            code: "slow-handshake",
            title: format!(
                "Connections to {dest} needed SYN retransmissions before being answered ({})",
                attempts_phrase(&slow)
            ),
            detail: format!(
                "{}. The destination is reachable, so this is packet loss or a congested path, not a block.",
                slow[0].detail
            ),
            remediation: "Look for packet loss between the connector server and the destination (a saturated link, \
                          a flapping route, a firewall under load). Connections succeed, but slowly."
                .into(),
            attempts: ids(&slow),
            frames: frames_of(&slow),
            wireshark_filter: ip.map(|ip| syn_filter(ip, port)),
            rank,
            unlisted_attempts: 0,
        });
    }
    out
}

/// A finding not tied to attempts; callers add evidence and rank as they have them.
pub(super) fn unattached(
    severity: Severity,
    code: &'static str,
    title: String,
    detail: String,
    remediation: &str,
) -> Finding {
    Finding {
        severity,
        code,
        title,
        detail,
        remediation: remediation.to_string(),
        attempts: Vec::new(),
        frames: Vec::new(),
        wireshark_filter: None,
        rank: 1,
        unlisted_attempts: 0,
    }
}

fn capture_findings(
    capture: &CaptureFacts,
    attempts: &[Attempt],
    table_name_looked_up: bool,
    one_sided: bool,
    opts: &Options,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |severity, code, title, detail, remediation: &str| Finding {
        rank: 4,
        unlisted_attempts: 0,
        ..unattached(severity, code, title, detail, remediation)
    };
    if capture.truncated_packets > 0 {
        out.push(finding(
            Severity::Warning,
            "capture-truncated",
            format!(
                "{} packets were cut short by the capture's snapshot length",
                capture.truncated_packets
            ),
            "Only the start of these packets was saved. Connection attempts, SYN retransmissions, resets and \
             their outcomes are still visible. What the cut hides cannot be known from this file: the TLS server \
             name and certificate (so TLS inspection cannot be checked), the target of CONNECT requests and the \
             proxy's answers beyond their first bytes, and DNS answers in long responses."
                .into(),
            "Capture again with whole packets. With pktmon, whose default keeps only 128 bytes: \
             `pktmon start --capture --comp nics --pkt-size 0`. Wireshark/dumpcap keep whole packets by default; \
             with tcpdump use -s 0.",
        ));
    }
    if capture.duplicates_folded > 0 {
        out.push(finding(
            Severity::Info,
            "capture-duplicates",
            format!("{} duplicate packets were folded", capture.duplicates_folded),
            {
                let copies = capture.windows.copies_folded;
                let identical = capture.duplicates_folded - copies;
                let mut parts = Vec::new();
                if copies > 0 {
                    parts.push(format!(
                        "{copies} were later appearances of one packet logged at several Windows network stack \
                         components (same packet id); each packet was counted where it first appeared ({})",
                        capture.windows.counted_on.join(", ")
                    ));
                }
                if identical > 0 {
                    parts.push(format!(
                        "{identical} were identical copies within 50 ms (the capture saw them at two points)"
                    ));
                }
                if identical > 0 && copies == 0 && capture.windows.dropped_frames == 0 {
                    parts.push(
                        "if this file was converted with `pktmon etl2pcap`, it also lacks the packets Windows \
                         dropped and the component of each packet: convert the .etl with etl2pcapng to see them"
                            .to_string(),
                    );
                }
                format!(
                    "{}. Counted once, they are not mistaken for retransmissions.",
                    parts.join("; ")
                )
            },
            "Nothing to fix. With pktmon, `--comp nics` records each packet once; elsewhere, capture on a single \
             interface.",
        ));
    }
    let unsupported: u64 = capture.unsupported_link_frames.iter().map(|l| l.frames).sum();
    if unsupported > 0 {
        let kinds: Vec<String> = capture
            .unsupported_link_frames
            .iter()
            .map(|l| format!("{} ({} frames)", l.link_type, l.frames))
            .collect();
        out.push(finding(
            Severity::Warning,
            "capture-unsupported-link",
            format!("{unsupported} frames use link types capdoc cannot decode"),
            format!("Not analysed: {}.", kinds.join(", ")),
            "Capture on the server's Ethernet interface (or any interface that carries IP), or convert the \
             capture to Ethernet/raw IP.",
        ));
    }
    let incomplete: Vec<&Attempt> = attempts.iter().filter(|a| a.outcome == Outcome::Incomplete).collect();
    if !incomplete.is_empty() || capture.cut_at_offset.is_some() {
        let mut f = finding(
            Severity::Warning,
            "capture-incomplete",
            match capture.cut_at_offset {
                Some(offset) => format!("The capture file is cut off at byte {offset}"),
                None => format!(
                    "{} connection attempt{} ended without an outcome",
                    incomplete.len(),
                    if incomplete.len() == 1 { "" } else { "s" }
                ),
            },
            format!(
                "{}{}",
                incomplete
                    .first()
                    .map_or(String::new(), |a| format!("Attempt {}: {}. ", a.id, a.detail)),
                if capture.cut_at_offset.is_some() {
                    "The file ends in the middle of a record; everything before it was analysed."
                } else {
                    "The capture ended, or the client gave up, before an answer could be expected."
                }
            ),
            "Let the capture run for at least 30 seconds after the connector service has started, and stop it \
             cleanly so the file is complete.",
        );
        f.attempts = incomplete.iter().map(|a| a.id).collect();
        f.frames = frames_of(&incomplete);
        out.push(f);
    }
    // Connector traffic: an attempt to a name of the table, or a lookup of one.
    let connector_seen = table_name_looked_up || attempts.iter().any(|a| a.required.is_some());
    if !connector_seen {
        let what = if attempts.is_empty() {
            "The capture holds no TCP connection opened by a client".to_string()
        } else {
            format!(
                "None of the {} connection attempts, and no DNS lookup, goes to a name of the connector's \
                 required-URL table ({})",
                attempts.len(),
                opts.table.label()
            )
        };
        out.push(finding(
            Severity::Warning,
            "capture-missed-start",
            "No connector traffic was captured".into(),
            format!("{what}, so the connector's start-up was probably not recorded (or names are hidden: see capture-truncated)."),
            "Take the capture again: flush the DNS cache (ipconfig /flushdns), stop the connector service, start \
             the capture, start the service, wait a minute, stop the capture.",
        ));
    }
    if one_sided {
        out.push(finding(
            Severity::Warning,
            "capture-one-sided",
            "Only one direction of the traffic was captured".into(),
            "No connection shows a single packet from its server, yet clients sent data that needs an open \
             connection. The capture saw one direction only (asymmetric routing, or a mirror of one side), so \
             unanswered SYNs in it are not evidence of a block."
                .into(),
            "Capture on the connector server itself, or mirror both directions of its traffic.",
        ));
    }
    out
}

/// Only one side's packets: every connection shows traffic from one end only,
/// and some show ACKs or data that imply a handshake nobody captured.
pub(super) fn one_sided(conns: &[Connection]) -> bool {
    !conns.is_empty()
        && conns.iter().all(|c| c.packets[1] == 0)
        && conns
            .iter()
            .any(|c| c.bytes[0] > 0 || (c.syns.is_empty() && c.packets[0] > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(i: u32) -> Finding {
        // Few distinct keys, so that many findings tie and judging order decides.
        let severity = [Severity::Warning, Severity::Error, Severity::Info][(i * 7 % 3) as usize];
        Finding {
            severity,
            code: "syn-unanswered",
            title: format!("finding {i}"),
            detail: String::new(),
            remediation: String::new(),
            attempts: vec![i],
            frames: if i % 5 == 0 {
                Vec::new()
            } else {
                vec![u64::from(i * 13 % 11)]
            },
            wireshark_filter: None,
            unlisted_attempts: 0,
            rank: (i % 2) as u8,
        }
    }

    #[test]
    fn judged_keeps_what_a_sort_of_all_would_list_first() {
        let all: Vec<Finding> = (0..1000).map(finding).collect();
        let mut sorted = all.clone();
        sorted.sort_by_key(report_order);
        for room in [0, 1, 2, 7, 200, 999, 1000, 5000, usize::MAX] {
            let mut judged = Judged::new(room);
            judged.extend(all.iter().cloned());
            judged.trim();
            let titles = |fs: &[Finding]| fs.iter().map(|f| f.title.clone()).collect::<Vec<_>>();
            let expected = &sorted[..room.max(1).min(sorted.len())];
            assert_eq!(titles(&judged.kept), titles(expected), "room {room}");
            assert_eq!(judged.total, 1000);
            let count = |s: Severity| all.iter().filter(|f| f.severity == s).count();
            assert_eq!(
                (judged.errors, judged.warnings),
                (count(Severity::Error), count(Severity::Warning))
            );
        }
    }
}
