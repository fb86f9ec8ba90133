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

/// [`write_one`]'s bytes, with a second thread rendering half of the long
/// lists (attempts, connections, DNS lookups: nearly all of a large report) in
/// blocks that this thread writes in turn. Memory stays at a few blocks. The
/// lists are set aside while the rest of the report is written around them,
/// and put back.
pub fn write_one_on_two_threads<W: Write>(out: &mut W, report: &mut CaptureReport) -> io::Result<()> {
    let attempts = std::mem::take(&mut report.attempts);
    let connections = std::mem::take(&mut report.connections);
    let dns = std::mem::take(&mut report.dns);
    let mut outline = Vec::new();
    let written = write_pretty(&mut outline, &*report);
    report.attempts = attempts;
    report.connections = connections;
    report.dns = dns;
    written?;
    let mut rest = &outline[..];
    write_list(out, &mut rest, "attempts", &report.attempts)?;
    write_list(out, &mut rest, "connections", &report.connections)?;
    write_list(out, &mut rest, "dns", &report.dns)?;
    out.write_all(rest)?;
    out.write_all(b"\n")
}

/// Writes `outline` up to the report's empty list `key`, then `items` in it,
/// and moves `outline` past the list's opening bracket.
fn write_list<W: Write, T: Serialize + Sync>(
    out: &mut W,
    outline: &mut &[u8],
    key: &str,
    items: &[T],
) -> io::Result<()> {
    // A key at the report's first level starts a line, which no string can (a
    // newline in a value is escaped), so it is found only where it stands.
    let empty = format!("\n  \"{key}\": []");
    let at = memchr::memmem::find(outline, empty.as_bytes())
        .ok_or_else(|| io::Error::other(format!("JSON outline without the {key} list")))?;
    let (before, after) = outline.split_at(at + empty.len() - 1);
    out.write_all(before)?;
    *outline = after;
    if items.is_empty() {
        return Ok(());
    }
    write_elements(out, items)?;
    // The closing bracket on its own line, as after any non-empty list.
    Pretty {
        depth: 1,
        has_value: true,
    }
    .line(out, true)
}

/// Elements rendered in one block: about 60 KB of attempts.
const BLOCK: usize = 128;

/// The elements of a first-level list, each on its own line as the pretty
/// printer puts them: even blocks rendered here, odd ones on a second thread
/// into buffers that go back to it once written.
fn write_elements<W: Write, T: Serialize + Sync>(out: &mut W, items: &[T]) -> io::Result<()> {
    let (rendered_tx, rendered) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
    let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (i, block) in items.chunks(BLOCK).enumerate().skip(1).step_by(2) {
                let mut buffer = recycled.try_recv().unwrap_or_default();
                buffer.clear();
                let done = render(&mut buffer, i * BLOCK, block).map(|()| buffer);
                // The writer stopped on an error: nothing more is wanted.
                if rendered_tx.send(done).is_err() {
                    return;
                }
            }
        });
        // Takes the receiver: returning, even on an error, lets the renderer stop.
        write_in_turn(out, items, rendered, recycle)
    })
}

/// The writing side of [`write_elements`].
fn write_in_turn<W: Write, T: Serialize>(
    out: &mut W,
    items: &[T],
    rendered: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: std::sync::mpsc::Sender<Vec<u8>>,
) -> io::Result<()> {
    for (i, block) in items.chunks(BLOCK).enumerate() {
        if i % 2 == 0 {
            render(&mut *out, i * BLOCK, block)?;
        } else {
            let buffer = rendered
                .recv()
                .map_err(|_| io::Error::other("the JSON rendering thread stopped"))??;
            out.write_all(&buffer)?;
            // The renderer may be done: then the buffer is simply freed.
            let _ = recycle.send(buffer);
        }
    }
    Ok(())
}

/// `block`, the elements from position `first` of a first-level list.
fn render<W: Write, T: Serialize>(out: &mut W, first: usize, block: &[T]) -> io::Result<()> {
    const DEPTH: usize = 2;
    for (i, item) in block.iter().enumerate() {
        Pretty {
            depth: DEPTH,
            has_value: false,
        }
        .line(&mut *out, first + i == 0)?;
        let mut ser = serde_json::Serializer::with_formatter(
            &mut *out,
            Pretty {
                depth: DEPTH,
                has_value: false,
            },
        );
        item.serialize(&mut ser)?;
    }
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
