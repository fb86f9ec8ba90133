//! What a batch over many captures found, one row per capture: the table
//! printed at the end of a batch, `summary.json` and `index.html` (schema in
//! `docs/summary-schema.md`).

use std::io::{self, Write};

use serde::Serialize;

use super::model::{CaptureReport, Severity, VerdictStatus};
use super::text::{clean, fit};

pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct BatchSummary {
    pub schema: u32,
    pub capdoc: String,
    /// The exit code of the run: 0, 1 (a finding at or above `--fail-on`), 2 (a capture not read).
    pub exit_code: u8,
    pub fail_on: Severity,
    pub totals: Totals,
    /// In input order.
    pub captures: Vec<CaptureSummary>,
    /// What the folders held that was not analysed, and why (absent when nothing was skipped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedFile>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SkippedFile {
    pub file: String,
    pub reason: &'static str,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    pub captures: usize,
    pub healthy: usize,
    pub problems: usize,
    pub inconclusive: usize,
    /// Captures that could not be read at all (`error` set).
    pub unreadable: usize,
    pub attempts: usize,
    pub attempts_failed: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct CaptureSummary {
    pub file: String,
    /// Why nothing could be read; the other fields are then empty.
    pub error: Option<String>,
    pub verdict: Option<VerdictStatus>,
    /// The verdict's sentence.
    pub summary: Option<String>,
    /// The most important finding (findings come most severe first).
    pub main_finding: Option<MainFinding>,
    pub findings: SeverityCounts,
    pub attempts: usize,
    /// Attempts that were judged and not answered ([`Outcome::failed`](super::model::Outcome::failed)).
    pub attempts_failed: usize,
    /// The capture's warnings (a file cut off mid-record, ...).
    pub warnings: Vec<String>,
    /// Report files written with `-o DIR`, relative to DIR.
    pub reports: Option<ReportFiles>,
}

#[derive(Clone, Debug, Serialize)]
pub struct MainFinding {
    pub code: &'static str,
    pub severity: Severity,
    pub title: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct SeverityCounts {
    pub error: usize,
    pub warning: usize,
    pub info: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReportFiles {
    pub html: String,
    pub json: String,
    pub md: String,
}

/// The exit code a set of reports deserves: 2 when one could not be read, else 1
/// when a finding is at least as severe as `fail_on`, else 0.
pub fn exit_code(reports: &[CaptureReport], fail_on: Severity) -> u8 {
    if reports.iter().any(|r| r.error.is_some()) {
        2
    } else if reports.iter().any(|r| r.findings.iter().any(|f| f.severity <= fail_on)) {
        1
    } else {
        0
    }
}

impl CaptureSummary {
    pub fn of(r: &CaptureReport) -> Self {
        let mut findings = SeverityCounts::default();
        for f in &r.findings {
            match f.severity {
                Severity::Error => findings.error += 1,
                Severity::Warning => findings.warning += 1,
                Severity::Info => findings.info += 1,
            }
        }
        let read = r.error.is_none();
        CaptureSummary {
            file: r.file.clone(),
            error: r.error.clone(),
            verdict: read.then_some(r.verdict.status),
            summary: read.then(|| r.verdict.summary.clone()),
            main_finding: r.findings.first().map(|f| MainFinding {
                code: f.code,
                severity: f.severity,
                title: f.title.clone(),
            }),
            findings,
            attempts: r.attempts.len(),
            attempts_failed: r.attempts.iter().filter(|a| a.outcome.failed()).count(),
            warnings: r.capture.warnings.clone(),
            reports: None,
        }
    }
}

impl BatchSummary {
    /// `files` holds the report files written for each capture (same order), when any were.
    pub fn new(reports: &[CaptureReport], fail_on: Severity, files: Option<Vec<ReportFiles>>) -> Self {
        let mut captures: Vec<CaptureSummary> = reports.iter().map(CaptureSummary::of).collect();
        if let Some(files) = files {
            for (c, f) in captures.iter_mut().zip(files) {
                c.reports = Some(f);
            }
        }
        let mut totals = Totals {
            captures: captures.len(),
            ..Totals::default()
        };
        for c in &captures {
            match c.verdict {
                Some(VerdictStatus::Healthy) => totals.healthy += 1,
                Some(VerdictStatus::Problems) => totals.problems += 1,
                Some(VerdictStatus::Inconclusive) => totals.inconclusive += 1,
                None => totals.unreadable += 1,
            }
            totals.attempts += c.attempts;
            totals.attempts_failed += c.attempts_failed;
        }
        BatchSummary {
            schema: SUMMARY_SCHEMA_VERSION,
            capdoc: env!("CARGO_PKG_VERSION").to_string(),
            exit_code: exit_code(reports, fail_on),
            fail_on,
            totals,
            captures,
            skipped: Vec::new(),
        }
    }

    /// Adds what walking the folders left out; with `--redact`, without directories.
    pub fn with_skipped(mut self, skipped: &[crate::batch::Skipped], redact: bool) -> Self {
        self.skipped = skipped
            .iter()
            .map(|s| SkippedFile {
                file: match (redact, s.path.file_name()) {
                    (true, Some(name)) => name.to_string_lossy().into_owned(),
                    _ => s.path.display().to_string(),
                },
                reason: s.reason.describe(),
            })
            .collect();
        self
    }
}

/// The table printed after a batch: capture, verdict, main finding, attempts failed/total.
/// `width` limits the line length (the main finding gives up room first).
pub fn write_table<W: Write>(out: &mut W, s: &BatchSummary, width: Option<usize>) -> io::Result<()> {
    let rows: Vec<[String; 4]> = s
        .captures
        .iter()
        .map(|c| {
            let verdict = match c.verdict {
                Some(VerdictStatus::Healthy) => "healthy",
                Some(VerdictStatus::Problems) => "problems",
                Some(VerdictStatus::Inconclusive) => "inconclusive",
                None => "ERROR",
            };
            let main = match (&c.error, &c.main_finding) {
                (Some(e), _) => e.clone(),
                (None, Some(m)) => format!("{}: {}", m.code, m.title),
                (None, None) => "-".to_string(),
            };
            let attempts = if c.error.is_some() {
                "-".to_string()
            } else {
                format!("{}/{}", c.attempts_failed, c.attempts)
            };
            [clean(&c.file), verdict.to_string(), clean(&main), attempts]
        })
        .collect();
    let header = ["capture", "verdict", "main finding", "failed/total"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    if let Some(width) = width {
        let total = widths.iter().sum::<usize>() + 2 * 3;
        let excess = total.saturating_sub(width);
        widths[2] = widths[2].saturating_sub(excess).max(20.min(widths[2]));
    }
    let line = |cells: &[String]| -> String {
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| fit(&cells[i], widths[i]));
        format!(
            "{a:<wa$}  {b:<wb$}  {c:<wc$}  {d:>wd$}",
            wa = widths[0],
            wb = widths[1],
            wc = widths[2],
            wd = widths[3]
        )
    };
    writeln!(out, "{}", line(&header.map(str::to_string)))?;
    for row in &rows {
        writeln!(out, "{}", line(row))?;
    }
    let t = &s.totals;
    writeln!(
        out,
        "{} captures: {} healthy, {} with problems, {} inconclusive, {} not read; {} of {} attempts failed",
        t.captures, t.healthy, t.problems, t.inconclusive, t.unreadable, t.attempts_failed, t.attempts
    )
}

/// `summary.json`.
pub fn write_json<W: Write>(out: &mut W, s: &BatchSummary) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, s)?;
    out.write_all(b"\n")
}
