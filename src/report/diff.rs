//! What changed between two captures of the same connector (before and after
//! a firewall or proxy change): the required-URL rows whose status moved and
//! the findings that appeared or went away (schema in `docs/diff-schema.md`).

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::model::{Attempt, CaptureReport, Coverage, Finding, Severity, VerdictStatus};

pub const DIFF_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct ReportDiff {
    pub schema: u32,
    pub capdoc: String,
    pub before: Side,
    pub after: Side,
    pub counts: DiffCounts,
    /// Every row of either capture's required-URL table, changed rows first.
    pub endpoints: Vec<EndpointChange>,
    /// Every finding of either capture, added and removed first.
    pub findings: Vec<FindingChange>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub file: String,
    pub error: Option<String>,
    pub verdict: Option<VerdictStatus>,
    pub summary: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct DiffCounts {
    pub endpoints_improved: usize,
    pub endpoints_regressed: usize,
    pub endpoints_changed: usize,
    pub findings_added: usize,
    pub findings_removed: usize,
    /// Added findings of error severity.
    pub errors_added: usize,
}

/// The one-sentence tally every diff format prints.
impl std::fmt::Display for DiffCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} endpoints improved, {} regressed, {} changed otherwise; {} findings new, {} gone",
            self.endpoints_improved,
            self.endpoints_regressed,
            self.endpoints_changed,
            self.findings_added,
            self.findings_removed
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointChangeKind {
    /// Now reached, and not before.
    Improved,
    /// Failing now, and not before (reached or not tried).
    Regressed,
    /// Any other move (reached or failed to not seen, a row only one table has).
    Changed,
    Unchanged,
}

impl EndpointChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointChangeKind::Improved => "improved",
            EndpointChangeKind::Regressed => "regressed",
            EndpointChangeKind::Changed => "changed",
            EndpointChangeKind::Unchanged => "unchanged",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct EndpointChange {
    pub pattern: String,
    pub port: u16,
    pub purpose: String,
    /// null when that capture's table has no such row.
    pub before: Option<Coverage>,
    pub after: Option<Coverage>,
    pub change: EndpointChangeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingChangeKind {
    Added,
    Removed,
    Unchanged,
}

impl FindingChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingChangeKind::Added => "added",
            FindingChangeKind::Removed => "removed",
            FindingChangeKind::Unchanged => "unchanged",
        }
    }
}

/// A finding is "the same" in both captures when its code and the destinations
/// of its attempts are: titles carry counts and frame numbers that always differ.
#[derive(Clone, Debug, Serialize)]
pub struct FindingChange {
    pub code: String,
    pub severity: Severity,
    /// The destinations of the finding's attempts (`name:port` or `ip:port`, sorted), if it has any.
    pub target: Option<String>,
    /// The finding's title in each capture; null where it is absent.
    pub before: Option<String>,
    pub after: Option<String>,
    pub change: FindingChangeKind,
}

fn side(r: &CaptureReport) -> Side {
    let read = r.error.is_none();
    Side {
        file: r.file.clone(),
        error: r.error.clone(),
        verdict: read.then_some(r.verdict.status),
        summary: read.then(|| r.verdict.summary.clone()),
    }
}

fn endpoint_change(before: Option<Coverage>, after: Option<Coverage>) -> EndpointChangeKind {
    match (before, after) {
        (Some(b), Some(a)) if a == b => EndpointChangeKind::Unchanged,
        (Some(_), Some(Coverage::Reached)) => EndpointChangeKind::Improved,
        // Not being tried (not seen) says less than failing: only a new failure is a regression.
        (Some(_), Some(Coverage::Failed)) => EndpointChangeKind::Regressed,
        _ => EndpointChangeKind::Changed,
    }
}

fn target(f: &Finding, attempts: &[Attempt]) -> Option<String> {
    let mut targets: Vec<String> = f
        .attempts
        .iter()
        .filter_map(|id| attempts.iter().find(|a| a.id == *id))
        .map(|a| {
            let d = &a.destination;
            let host = d
                .name
                .as_deref()
                .map(str::to_string)
                .or_else(|| d.ip.map(|ip| ip.to_string()))
                .unwrap_or_else(|| "?".into());
            match (d.port, a.proxy()) {
                (Some(port), None) => format!("{host}:{port}"),
                (Some(port), Some(proxy)) => format!("{host}:{port} via {proxy}"),
                (None, Some(proxy)) => format!("proxy {proxy}"),
                (None, None) => host,
            }
        })
        .collect();
    targets.sort();
    targets.dedup();
    (!targets.is_empty()).then(|| targets.join(", "))
}

/// Compares two reports; `before` is the older capture.
pub fn diff(before: &CaptureReport, after: &CaptureReport) -> ReportDiff {
    // (pattern, port) -> (purpose, status before, status after)
    type Row = (String, Option<Coverage>, Option<Coverage>);
    let mut rows: BTreeMap<(String, u16), Row> = BTreeMap::new();
    let mut order: Vec<(String, u16)> = Vec::new();
    for (i, r) in [before, after].into_iter().enumerate() {
        for e in &r.endpoints {
            let key = (e.pattern.clone(), e.port);
            let row = rows.entry(key.clone()).or_insert_with(|| {
                order.push(key);
                (e.purpose.clone(), None, None)
            });
            if i == 0 {
                row.1 = Some(e.status);
            } else {
                row.2 = Some(e.status);
            }
        }
    }
    let mut endpoints: Vec<EndpointChange> = order
        .into_iter()
        .map(|key| {
            let (purpose, b, a) = rows.remove(&key).unwrap_or_default();
            EndpointChange {
                pattern: key.0,
                port: key.1,
                purpose,
                before: b,
                after: a,
                change: endpoint_change(b, a),
            }
        })
        .collect();
    // Stable: within a kind, the table's own order.
    endpoints.sort_by_key(|e| e.change);

    let keyed = |r: &CaptureReport| -> Vec<((String, Option<String>), Severity, String)> {
        r.findings
            .iter()
            .map(|f| {
                (
                    (f.code.to_string(), target(f, &r.attempts)),
                    f.severity,
                    f.title.clone(),
                )
            })
            .collect()
    };
    let (old, new) = (keyed(before), keyed(after));
    let mut findings: Vec<FindingChange> = Vec::new();
    for (key, severity, title) in &new {
        let was = old.iter().find(|(k, _, _)| k == key);
        findings.push(FindingChange {
            code: key.0.clone(),
            severity: *severity,
            target: key.1.clone(),
            before: was.map(|(_, _, t)| t.clone()),
            after: Some(title.clone()),
            change: if was.is_some() {
                FindingChangeKind::Unchanged
            } else {
                FindingChangeKind::Added
            },
        });
    }
    for (key, severity, title) in &old {
        if !new.iter().any(|(k, _, _)| k == key) {
            findings.push(FindingChange {
                code: key.0.clone(),
                severity: *severity,
                target: key.1.clone(),
                before: Some(title.clone()),
                after: None,
                change: FindingChangeKind::Removed,
            });
        }
    }
    findings.sort_by_key(|f| (f.change, f.severity));

    let mut counts = DiffCounts::default();
    for e in &endpoints {
        match e.change {
            EndpointChangeKind::Improved => counts.endpoints_improved += 1,
            EndpointChangeKind::Regressed => counts.endpoints_regressed += 1,
            EndpointChangeKind::Changed => counts.endpoints_changed += 1,
            EndpointChangeKind::Unchanged => {}
        }
    }
    for f in &findings {
        match f.change {
            FindingChangeKind::Added => {
                counts.findings_added += 1;
                if f.severity == Severity::Error {
                    counts.errors_added += 1;
                }
            }
            FindingChangeKind::Removed => counts.findings_removed += 1,
            FindingChangeKind::Unchanged => {}
        }
    }
    ReportDiff {
        schema: DIFF_SCHEMA_VERSION,
        capdoc: env!("CARGO_PKG_VERSION").to_string(),
        before: side(before),
        after: side(after),
        counts,
        endpoints,
        findings,
    }
}

impl ReportDiff {
    /// 2 when a capture could not be read, 1 when something got worse (an endpoint
    /// regressed or a new error finding), else 0.
    pub fn exit_code(&self) -> u8 {
        if self.before.error.is_some() || self.after.error.is_some() {
            2
        } else if self.counts.endpoints_regressed > 0 || self.counts.errors_added > 0 {
            1
        } else {
            0
        }
    }
}

fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

fn coverage(c: Option<Coverage>) -> &'static str {
    match c {
        Some(Coverage::Reached) => "reached",
        Some(Coverage::Failed) => "failed",
        Some(Coverage::NotSeen) => "not seen",
        None => "not in table",
    }
}

fn verdict(s: &Side) -> String {
    match (&s.error, s.verdict) {
        (Some(e), _) => format!("NOT READ: {}", clean(e)),
        (None, Some(v)) => format!(
            "{}: {}",
            match v {
                VerdictStatus::Healthy => "HEALTHY",
                VerdictStatus::Problems => "PROBLEMS",
                VerdictStatus::Inconclusive => "INCONCLUSIVE",
            },
            clean(s.summary.as_deref().unwrap_or(""))
        ),
        (None, None) => String::new(),
    }
}

/// `capdoc diff` for people.
pub fn write_text<W: Write>(out: &mut W, d: &ReportDiff) -> io::Result<()> {
    writeln!(out, "Before: {}\n  {}", clean(&d.before.file), verdict(&d.before))?;
    writeln!(out, "After:  {}\n  {}", clean(&d.after.file), verdict(&d.after))?;
    writeln!(out, "\n{}", d.counts)?;
    let moved: Vec<&EndpointChange> = d
        .endpoints
        .iter()
        .filter(|e| e.change != EndpointChangeKind::Unchanged)
        .collect();
    if !moved.is_empty() {
        writeln!(out, "\nRequired URLs that changed")?;
        for e in moved {
            writeln!(
                out,
                "  {:<9}  {}:{} [{}]: {} -> {}",
                e.change.as_str(),
                clean(&e.pattern),
                e.port,
                clean(&e.purpose),
                coverage(e.before),
                coverage(e.after)
            )?;
        }
    }
    let changed: Vec<&FindingChange> = d
        .findings
        .iter()
        .filter(|f| f.change != FindingChangeKind::Unchanged)
        .collect();
    if !changed.is_empty() {
        writeln!(out, "\nFindings that changed")?;
        for f in changed {
            let title = f.after.as_deref().or(f.before.as_deref()).unwrap_or("");
            writeln!(
                out,
                "  {:<7}  [{}] {}: {}",
                f.change.as_str(),
                f.severity.as_str(),
                f.code,
                clean(title)
            )?;
        }
    }
    let same = d
        .findings
        .iter()
        .filter(|f| f.change == FindingChangeKind::Unchanged)
        .count();
    if same > 0 {
        writeln!(out, "\n{same} findings are in both captures")?;
    }
    Ok(())
}

/// `capdoc diff --format json`.
pub fn write_json<W: Write>(out: &mut W, d: &ReportDiff) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, d)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_moves_are_named_by_direction() {
        use Coverage::*;
        assert_eq!(
            endpoint_change(Some(Failed), Some(Reached)),
            EndpointChangeKind::Improved
        );
        assert_eq!(
            endpoint_change(Some(NotSeen), Some(Reached)),
            EndpointChangeKind::Improved
        );
        assert_eq!(
            endpoint_change(Some(Reached), Some(Failed)),
            EndpointChangeKind::Regressed
        );
        assert_eq!(
            endpoint_change(Some(NotSeen), Some(Failed)),
            EndpointChangeKind::Regressed
        );
        assert_eq!(
            endpoint_change(Some(Failed), Some(NotSeen)),
            EndpointChangeKind::Changed
        );
        assert_eq!(endpoint_change(None, Some(Reached)), EndpointChangeKind::Changed);
        assert_eq!(
            endpoint_change(Some(Failed), Some(Failed)),
            EndpointChangeKind::Unchanged
        );
    }
}
