//! JSON and JSON Lines output (schema in `docs/report-schema.md`).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

use super::model::CaptureReport;

/// One report as a pretty-printed JSON object.
pub fn write_one<W: Write>(out: &mut W, report: &CaptureReport) -> io::Result<()> {
    write_pretty(&mut *out, report)?;
    out.write_all(b"\n")
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
        self.open(out, b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.close(out, b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.line(out, first)
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
