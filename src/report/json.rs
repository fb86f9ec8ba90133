//! JSON and JSON Lines output (schema in `docs/report-schema.md`).

use std::io::{self, Write};

use super::model::CaptureReport;

/// One report as a pretty-printed JSON object.
pub fn write_one<W: Write>(out: &mut W, report: &CaptureReport) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// Several reports as a JSON array, in input order.
pub fn write_array<W: Write>(out: &mut W, reports: &[CaptureReport]) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, reports)?;
    out.write_all(b"\n")
}

/// One report as one line.
pub fn write_line<W: Write>(out: &mut W, report: &CaptureReport) -> io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    out.write_all(b"\n")
}
