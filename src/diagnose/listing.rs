//! How much a report lists. A crafted or pathological capture (a SYN flood,
//! a scan) can hold hundreds of thousands of attempts; a report a person or a
//! support tool can read lists a bounded number of them and counts the rest
//! per destination and outcome. Findings are judged on every attempt first,
//! so what the report concludes does not depend on what it lists.

use std::net::{IpAddr, SocketAddr};

use super::attempts::syn_filter;
use super::{text, time};
use crate::report::model::*;

/// What a report lists at most.
#[derive(Clone, Copy, Debug)]
pub struct ListLimits {
    /// Attempts listed one by one, and connections listed (`--max-listed`).
    pub max_listed: usize,
    /// Findings listed, most severe first (`--max-findings`).
    pub max_findings: usize,
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits {
            max_listed: 10_000,
            max_findings: 200,
        }
    }
}

/// Attempts alike for a reader: same destination, path, proxy and outcome.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct GroupKey<'a> {
    name: Option<&'a str>,
    ip: Option<IpAddr>,
    port: Option<u16>,
    proxy: Option<SocketAddr>,
    direct: bool,
    outcome: Outcome,
}

impl<'a> GroupKey<'a> {
    fn of(a: &'a Attempt) -> Self {
        GroupKey {
            name: a.destination.name.as_deref(),
            ip: a.destination.ip,
            port: a.destination.port,
            proxy: a.proxy(),
            direct: a.path == Path::Direct,
            outcome: a.outcome,
        }
    }
}

/// The attempts of each group, by position, groups in order of their first
/// attempt; and each attempt's group.
struct Grouping {
    members: Vec<Vec<usize>>,
    group_of: Vec<usize>,
}

impl Grouping {
    /// Hashes each attempt's key once; what follows works on positions.
    fn of(attempts: &[Attempt]) -> Self {
        let members: Vec<Vec<usize>> = super::group_in_order(0..attempts.len(), |&i| GroupKey::of(&attempts[i]))
            .into_iter()
            .map(|(_, members)| members)
            .collect();
        let mut group_of = vec![0; attempts.len()];
        for (g, members) in members.iter().enumerate() {
            for &i in members {
                group_of[i] = g;
            }
        }
        Grouping { members, group_of }
    }
}

/// Chooses which attempts stay listed, by position: every group keeps its
/// first `quota` attempts, with the largest quota that fits `max`. When there
/// are more groups than `max`, the groups of required destinations come first.
fn chosen(attempts: &[Attempt], groups: &[Vec<usize>], max: usize) -> Vec<bool> {
    let listed_with = |quota: usize| groups.iter().map(|g| g.len().min(quota)).sum::<usize>();
    let (mut low, mut high) = (0, attempts.len());
    while low < high {
        let mid = (low + high).div_ceil(2);
        if listed_with(mid) <= max {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    let quota = low;
    let mut keep = vec![false; attempts.len()];
    for &i in groups.iter().flat_map(|g| g.iter().take(quota)) {
        keep[i] = true;
    }
    if quota == 0 {
        // More destinations than room: the first attempt of the groups that matter most.
        let mut order: Vec<&Vec<usize>> = groups.iter().collect();
        order.sort_by_key(|g| (super::findings::rank(&attempts[g[0]]), g[0]));
        for g in order.iter().take(max) {
            keep[g[0]] = true;
        }
    } else {
        // Room left by small groups goes to the earliest remaining attempts.
        let room = max - listed_with(quota);
        for &i in groups.iter().flat_map(|g| g.get(quota)).take(room) {
            keep[i] = true;
        }
    }
    keep
}

/// Lists at most `limits.max_listed` attempts and `limits.max_findings` of the
/// `total_findings` findings; the rest is counted in `attempt_groups` and
/// `limits_hit`.
pub(super) fn apply(report: &mut CaptureReport, limits: ListLimits, total_findings: usize) {
    if total_findings > limits.max_findings {
        report.findings.truncate(limits.max_findings);
        report.capture.hit(LimitHit {
            limit: "--max-findings",
            value: limits.max_findings as u64,
            effect: format!(
                "{} of {total_findings} findings are listed, the most severe first",
                limits.max_findings
            ),
        });
    }
    if report.connections_unlisted > 0 {
        let listed = report.connections.len();
        report.capture.hit(LimitHit {
            limit: "--max-listed",
            value: limits.max_listed as u64,
            effect: format!(
                "{listed} of {} connections are listed",
                listed as u64 + report.connections_unlisted
            ),
        });
    }
    let total = report.attempts.len();
    if total <= limits.max_listed {
        return;
    }
    debug_assert!(
        report.attempts.iter().enumerate().all(|(i, a)| a.id as usize == i + 1),
        "attempts are numbered from 1 in order"
    );
    let grouping = Grouping::of(&report.attempts);
    let keep = chosen(&report.attempts, &grouping.members, limits.max_listed);
    report.attempt_groups = groups(&report.attempts, &grouping, &keep);
    // In place: on a large capture the attempts are the biggest thing in memory,
    // and a second list of them would double the peak. `retain` visits each
    // attempt once, in order.
    let mut position = 0;
    report.attempts.retain(|_| {
        position += 1;
        keep[position - 1]
    });
    report.attempts.shrink_to_fit();
    // Attempts are numbered from 1 in order, so an id is a position plus one.
    let listed = |id: &u32| {
        id.checked_sub(1)
            .and_then(|i| keep.get(i as usize))
            .copied()
            .unwrap_or(false)
    };
    // Keeps the listed ids; returns how many were dropped.
    let only_listed = |ids: &mut Vec<u32>| {
        let before = ids.len();
        ids.retain(listed);
        (before - ids.len()) as u64
    };
    for f in &mut report.findings {
        f.unlisted_attempts = only_listed(&mut f.attempts);
    }
    for e in &mut report.endpoints {
        e.unlisted_attempts = only_listed(&mut e.attempts);
    }
    report.capture.hit(LimitHit {
        limit: "--max-listed",
        value: limits.max_listed as u64,
        effect: format!(
            "{} of {total} attempts are listed; the other {} are counted per destination and outcome in {} groups",
            report.attempts.len(),
            total - report.attempts.len(),
            report.attempt_groups.len()
        ),
    });
}

/// Unlisted attempts counted per group, in order of each group's first
/// unlisted attempt.
fn groups(attempts: &[Attempt], grouping: &Grouping, keep: &[bool]) -> Vec<AttemptGroup> {
    let mut out: Vec<AttemptGroup> = Vec::new();
    // Each group's place in `out`, once it has an unlisted attempt.
    let mut place: Vec<Option<usize>> = vec![None; grouping.members.len()];
    // Each group's latest start, formatted once at the end.
    let mut last_start: Vec<i64> = Vec::new();
    for (i, a) in attempts.iter().enumerate().filter(|&(i, _)| !keep[i]) {
        let group = grouping.group_of[i];
        let at = *place[group].get_or_insert_with(|| {
            let members = &grouping.members[group];
            out.push(AttemptGroup {
                destination: a.destination.clone(),
                path: a.path,
                proxy: a.proxy().map(text::socket),
                outcome: a.outcome,
                required: a.required.clone(),
                count: 0,
                listed: members.iter().filter(|&&m| keep[m]).count() as u64,
                first_start: a.start(),
                last_start: String::new(),
                frames: Vec::new(),
                syn_retransmits: 0,
                wireshark_filter: group_filter(a),
            });
            last_start.push(a.start_nanos);
            out.len() - 1
        });
        let g = &mut out[at];
        g.count += 1;
        last_start[at] = a.start_nanos;
        g.syn_retransmits += u64::from(a.syn_retransmits);
        if g.frames.len() < 10 {
            g.frames.extend(a.frames.first());
        }
    }
    for (g, nanos) in out.iter_mut().zip(last_start) {
        g.last_start = time::rfc3339(nanos);
    }
    out
}

/// Traffic to the group's destination: its SYNs when direct to an address,
/// else the attempt's own filter widened to the proxy's requests for the name.
fn group_filter(a: &Attempt) -> String {
    match (a.path, a.destination.ip, a.destination.port, &a.destination.name) {
        (Path::Direct, Some(ip), Some(port), _) => syn_filter(ip, port),
        (Path::Proxy, _, _, Some(name)) => format!("http.request.uri contains \"{name}\""),
        _ => a.wireshark_filter.text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(id: u32, ip: &str, outcome: Outcome) -> Attempt {
        Attempt {
            id,
            connection: id,
            destination: Destination {
                name: None,
                ip: Some(ip.parse().expect("addr")),
                port: Some(443),
            },
            name_source: None,
            path: Path::Direct,
            outcome,
            http_status: None,
            syn_retransmits: 2,
            conn_state: "S0",
            frames: vec![u64::from(id) * 3].into(),
            wireshark_filter: ConnectionFilter::new(
                "192.0.2.10:50000".parse().expect("addr"),
                SocketAddr::new(ip.parse().expect("addr"), 443),
            ),
            required: None,
            tls: None,
            pid: None,
            detail: String::new(),
            service_tag: None,
            // 2024-05-01T12:00:00Z, plus a second per id.
            start_nanos: (1_714_564_800 + i64::from(id % 60)) * 1_000_000_000,
        }
    }

    fn report(attempts: Vec<Attempt>) -> CaptureReport {
        let mut r = crate::diagnose::error_report(
            "t",
            &crate::capture::CaptureError::Empty,
            &crate::analyze::Options::default(),
        );
        r.error = None;
        r.attempts = attempts;
        r
    }

    #[test]
    fn one_flooded_destination_keeps_the_others_listed() {
        // 1000 attempts to one address, one each to three others, room for 10.
        let mut attempts: Vec<Attempt> = (1..=1000)
            .map(|id| attempt(id, "203.0.113.9", Outcome::SynUnanswered))
            .collect();
        for (id, ip) in [(1001, "198.51.100.1"), (1002, "198.51.100.2"), (1003, "198.51.100.3")] {
            attempts.push(attempt(id, ip, Outcome::Ok));
        }
        let mut r = report(attempts);
        apply(
            &mut r,
            ListLimits {
                max_listed: 10,
                max_findings: 200,
            },
            0,
        );
        assert_eq!(r.attempts.len(), 10);
        for id in 1001..=1003 {
            assert!(
                r.attempts.iter().any(|a| a.id == id),
                "the small group of #{id} stays listed"
            );
        }
        let [flood] = &r.attempt_groups[..] else {
            panic!("{:?}", r.attempt_groups)
        };
        assert_eq!((flood.count, flood.listed), (993, 7));
        assert_eq!(flood.syn_retransmits, 2 * 993);
        assert_eq!(flood.frames.len(), 10);
        assert_eq!(
            flood.wireshark_filter,
            "tcp.flags.syn==1 && tcp.flags.ack==0 && ip.dst==203.0.113.9 && tcp.dstport==443"
        );
        assert_eq!(r.capture.limits_hit.len(), 1);
    }

    #[test]
    fn more_destinations_than_room_lists_one_per_destination() {
        let attempts = (1..=50)
            .map(|id| attempt(id, &format!("203.0.113.{id}"), Outcome::SynUnanswered))
            .collect();
        let mut r = report(attempts);
        apply(
            &mut r,
            ListLimits {
                max_listed: 20,
                max_findings: 200,
            },
            0,
        );
        assert_eq!(r.attempts.len(), 20);
        assert_eq!(r.attempt_groups.len(), 30);
        assert!(r.attempt_groups.iter().all(|g| g.count == 1 && g.listed == 0));
    }

    #[test]
    fn within_the_limit_nothing_changes() {
        let attempts: Vec<Attempt> = (1..=5).map(|id| attempt(id, "203.0.113.9", Outcome::Ok)).collect();
        let mut r = report(attempts);
        apply(&mut r, ListLimits::default(), 0);
        assert_eq!(r.attempts.len(), 5);
        assert!(r.attempt_groups.is_empty() && r.capture.limits_hit.is_empty());
    }
}
