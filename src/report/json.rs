//! JSON and JSON Lines output (schema in `docs/report-schema.md`).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

use super::model::*;

/// One report as a pretty-printed JSON object. A large one is written in two
/// halves at once: the fields from `findings` on are rendered on a second
/// thread while this one writes those before them, and follow them unchanged.
pub fn write_one<W: Write>(out: &mut W, report: &CaptureReport) -> io::Result<()> {
    let large = report.attempts.len() + report.connections.len() >= SPLIT_FROM;
    write_report(out, report, large)
}

fn write_report<W: Write>(out: &mut W, report: &CaptureReport, in_halves: bool) -> io::Result<()> {
    if !in_halves {
        write_pretty(&mut *out, report)?;
        return out.write_all(b"\n");
    }
    let (head, tail) = halves(report);
    std::thread::scope(|scope| {
        let tail = scope.spawn(|| {
            let mut bytes = Vec::new();
            write_part(&mut bytes, &tail, Part::Tail).map(|()| bytes)
        });
        write_part(&mut *out, &head, Part::Head)?;
        let tail = tail.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        out.write_all(&tail)?;
        out.write_all(b"\n")
    })
}

/// Attempts and connections listed from which [`write_one`] uses two threads:
/// below it the thread costs more than it saves.
const SPLIT_FROM: usize = 2000;

/// The fields of a [`CaptureReport`] up to its attempts...
#[derive(Serialize)]
struct Head<'a> {
    schema: u32,
    capdoc: &'a str,
    file: &'a str,
    error: &'a Option<String>,
    capture: &'a CaptureFacts,
    tables: &'a Tables,
    attempts: &'a [Attempt],
}

/// ...and the rest, as `#[derive(Serialize)]` writes them on the report.
#[derive(Serialize)]
struct Tail<'a> {
    findings: &'a [Finding],
    endpoints: &'a [EndpointCoverage],
    verdict: &'a Verdict,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    attempt_groups: &'a [AttemptGroup],
    connections: &'a [ConnectionSummary],
    #[serde(skip_serializing_if = "is_zero")]
    connections_unlisted: u64,
    dns: &'a [DnsLookup],
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn halves(report: &CaptureReport) -> (Head<'_>, Tail<'_>) {
    // Every field named, so that a new one cannot be left out of both halves.
    let CaptureReport {
        schema,
        capdoc,
        file,
        error,
        capture,
        tables,
        attempts,
        findings,
        endpoints,
        verdict,
        attempt_groups,
        connections,
        connections_unlisted,
        dns,
    } = report;
    let head = Head {
        schema: *schema,
        capdoc,
        file,
        error,
        capture,
        tables,
        attempts,
    };
    let tail = Tail {
        findings,
        endpoints,
        verdict,
        attempt_groups,
        connections,
        connections_unlisted: *connections_unlisted,
        dns,
    };
    (head, tail)
}

fn write_part<W: Write, T: Serialize>(out: W, value: &T, part: Part) -> io::Result<()> {
    let pretty = Pretty {
        part,
        ..Pretty::default()
    };
    value.serialize(&mut serde_json::Serializer::with_formatter(out, pretty))?;
    Ok(())
}

/// Several reports as a JSON array, in input order.
pub fn write_array<W: Write>(out: &mut W, reports: &[CaptureReport]) -> io::Result<()> {
    write_pretty(&mut *out, reports)?;
    out.write_all(b"\n")
}

/// One report as one line.
pub fn write_line<W: Write>(out: &mut W, report: &CaptureReport) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    out.write_all(b"\n")
}

/// The bytes of `serde_json::to_writer_pretty`, at a fraction of the cost.
fn write_pretty<W: Write, T: Serialize + ?Sized>(out: W, value: &T) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Pretty::default());
    value.serialize(&mut ser)?;
    Ok(())
}

/// `",\n"` and then the deepest indentation written in one piece.
const BREAK: &[u8; 2 + 2 * 32] = b",\n                                                                ";

/// serde_json's `PrettyFormatter` with its two-space indent, writing each line
/// break and its indentation in one call instead of one call per level: a
/// report is mostly short lines, so those calls were most of the cost.
#[derive(Default)]
struct Pretty {
    depth: usize,
    has_value: bool,
    part: Part,
}

/// Which part of one object a [`Pretty`] writes.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum Part {
    #[default]
    Whole,
    /// The object's first fields: it is left open.
    Head,
    /// Its last fields: the object is already open and has fields.
    Tail,
}

impl Pretty {
    /// A line break (after a comma unless `first`) indented to the current depth.
    fn line<W: ?Sized + Write>(&self, out: &mut W, first: bool) -> io::Result<()> {
        let start = usize::from(first);
        match BREAK.get(start..2 + 2 * self.depth) {
            Some(bytes) => out.write_all(bytes),
            None => {
                out.write_all(&BREAK[start..2])?;
                (0..self.depth).try_for_each(|_| out.write_all(b"  "))
            }
        }
    }

    fn open<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        out.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, out: &mut W, bracket: &[u8]) -> io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(out, true)?;
        }
        out.write_all(bracket)
    }
}

impl Formatter for Pretty {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.open(out, b"[")
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"]")
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.line(out, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        if self.part == Part::Tail && self.depth == 0 {
            self.depth = 1;
            return Ok(());
        }
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        if self.part == Part::Head && self.depth == 1 {
            self.depth = 0;
            return Ok(());
        }
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        // The tail's first field follows the head's last.
        let follows = self.part == Part::Tail && self.depth == 1;
        self.line(out, first && !follows)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        out.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _out: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_write_the_same_bytes() {
        let mut checked = 0;
        for entry in std::fs::read_dir("captures").expect("bundled captures") {
            let path = entry.expect("entry").path();
            if !crate::analyze::looks_like_capture(&path) {
                continue;
            }
            // With every attempt listed, and with one (attempt groups and unlisted connections).
            for max_listed in [10_000, 1] {
                let mut opts = crate::analyze::Options::default();
                opts.listing.max_listed = max_listed;
                let report = crate::analyze::analyze_path(&path, "x", &opts);
                let (mut whole, mut halves) = (Vec::new(), Vec::new());
                write_report(&mut whole, &report, false).unwrap();
                write_report(&mut halves, &report, true).unwrap();
                assert_eq!(
                    String::from_utf8(halves).unwrap(),
                    String::from_utf8(whole).unwrap(),
                    "{path:?}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 10, "{checked} captures");
    }

    #[test]
    fn same_bytes_as_serde_json_pretty() {
        let deep = (0..40).fold(
            serde_json::json!([]),
            |inner, i| serde_json::json!({ "k": [i, inner, {}] }),
        );
        let value = serde_json::json!({
            "a": [], "b": {}, "c": [1, [2, []], {"d": null, "e": "x\"y\n"}], "deep": deep,
        });
        let mut ours = Vec::new();
        write_pretty(&mut ours, &value).unwrap();
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }
}
