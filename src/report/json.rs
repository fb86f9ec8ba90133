//! JSON and JSON Lines output (schema in `docs/report-schema.md`).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::Formatter;

use super::model::{Attempt, CaptureReport, ConnectionSummary, DnsLookup};

/// One report as a pretty-printed JSON object.
pub fn write_one<W: Write>(out: &mut W, report: &CaptureReport) -> io::Result<()> {
    write_pretty(&mut *out, report)?;
    out.write_all(b"\n")
}

/// [`write_one`]'s bytes, with a second thread rendering half of the long
/// lists (attempts, connections, DNS lookups: nearly all of a large report) in
/// blocks that this thread writes in turn. The lists are set aside while the
/// report is written, and written where their empty places open (see
/// [`Splicing`]); then they are put back. Nothing is held but a few blocks.
pub fn write_one_on_two_threads<W: Write>(out: &mut W, report: &mut CaptureReport) -> io::Result<()> {
    let attempts = std::mem::take(&mut report.attempts);
    let connections = std::mem::take(&mut report.connections);
    let dns = std::mem::take(&mut report.dns);
    let mut splicing = Splicing {
        pretty: Pretty::default(),
        in_key: false,
        next: None,
        attempts: &attempts,
        connections: &connections,
        dns: &dns,
        spliced: 0,
    };
    let written = report.serialize(&mut serde_json::Serializer::with_formatter(&mut *out, &mut splicing));
    let spliced = splicing.spliced;
    report.attempts = attempts;
    report.connections = connections;
    report.dns = dns;
    written?;
    // Each list has its place in the report, so a renamed field cannot drop one unnoticed.
    if spliced != LongList::ALL.len() {
        return Err(io::Error::other("a long list of the report found no place in its JSON"));
    }
    out.write_all(b"\n")
}

/// The report's lists that [`write_one_on_two_threads`] renders on two threads.
#[derive(Clone, Copy)]
enum LongList {
    Attempts,
    Connections,
    Dns,
}

impl LongList {
    const ALL: [LongList; 3] = [LongList::Attempts, LongList::Connections, LongList::Dns];

    /// The list whose field name is `key`.
    fn named(key: &str) -> Option<LongList> {
        match key {
            "attempts" => Some(LongList::Attempts),
            "connections" => Some(LongList::Connections),
            "dns" => Some(LongList::Dns),
            _ => None,
        }
    }
}

/// [`Pretty`], for a report whose long lists were set aside: when one of their
/// (empty) lists opens at the report's first level, its elements are written
/// into it, so that it closes as a list with elements.
struct Splicing<'a> {
    pretty: Pretty,
    /// Writing an object's key (its text is a key, not a value).
    in_key: bool,
    /// The long list whose key was just written at the first level.
    next: Option<LongList>,
    attempts: &'a [Attempt],
    connections: &'a [ConnectionSummary],
    dns: &'a [DnsLookup],
    /// Lists written so far.
    spliced: usize,
}

impl Formatter for &mut Splicing<'_> {
    fn begin_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        let list = match self.pretty.depth {
            REPORT_FIELDS => self.next.take(),
            _ => None,
        };
        self.pretty.begin_array(out)?;
        let Some(list) = list else { return Ok(()) };
        self.spliced += 1;
        let any = match list {
            LongList::Attempts => write_elements(out, self.attempts)?,
            LongList::Connections => write_elements(out, self.connections)?,
            LongList::Dns => write_elements(out, self.dns)?,
        };
        // The list closes on its own line, as any list with elements.
        self.pretty.has_value = any;
        Ok(())
    }

    fn end_array<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.pretty.end_array(out)
    }

    fn begin_array_value<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.pretty.begin_array_value(out, first)
    }

    fn end_array_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(out)
    }

    fn begin_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.pretty.begin_object(out)
    }

    fn end_object<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.pretty.end_object(out)
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, out: &mut W, first: bool) -> io::Result<()> {
        self.in_key = true;
        self.pretty.begin_object_key(out, first)
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.in_key = false;
        self.pretty.end_object_key(out)
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(out)
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, out: &mut W) -> io::Result<()> {
        self.next = None;
        self.pretty.end_object_value(out)
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, out: &mut W, fragment: &str) -> io::Result<()> {
        if self.in_key && self.pretty.depth == REPORT_FIELDS {
            self.next = LongList::named(fragment);
        }
        out.write_all(fragment.as_bytes())
    }
}

/// The pretty printer's depth inside the report object, and inside its lists.
const REPORT_FIELDS: usize = 1;
const LIST_ELEMENTS: usize = 2;

/// Elements rendered in one block: about 60 KB of attempts.
const BLOCK: usize = 128;

/// Writes the elements of a first-level list, each on its own line as the
/// pretty printer puts them: even blocks rendered here, odd ones on a second
/// thread into buffers that go back to it once written. Whether there were any.
fn write_elements<W: ?Sized + Write, T: Serialize + Sync>(out: &mut W, items: &[T]) -> io::Result<bool> {
    if items.len() <= BLOCK {
        render(out, 0, items)?;
        return Ok(!items.is_empty());
    }
    let (rendered_tx, rendered) = std::sync::mpsc::sync_channel::<io::Result<Vec<u8>>>(2);
    let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (first, block) in blocks(items).skip(1).step_by(2) {
                let mut buffer = recycled.try_recv().unwrap_or_default();
                buffer.clear();
                let done = render(&mut buffer, first, block).map(|()| buffer);
                let failed = done.is_err();
                // The writer stopped on an error: nothing more is wanted.
                if rendered_tx.send(done).is_err() || failed {
                    return;
                }
            }
        });
        // Takes the receiver: returning, even on an error, lets the renderer stop.
        write_in_turn(out, items, rendered, recycle)
    })?;
    Ok(true)
}

/// `items` in blocks, each with the position of its first element.
fn blocks<T>(items: &[T]) -> impl Iterator<Item = (usize, &[T])> {
    items.chunks(BLOCK).enumerate().map(|(i, block)| (i * BLOCK, block))
}

/// The writing side of [`write_elements`].
fn write_in_turn<W: ?Sized + Write, T: Serialize>(
    out: &mut W,
    items: &[T],
    rendered: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: std::sync::mpsc::Sender<Vec<u8>>,
) -> io::Result<()> {
    for (i, (first, block)) in blocks(items).enumerate() {
        if i % 2 == 0 {
            render(out, first, block)?;
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
fn render<W: ?Sized + Write, T: Serialize>(out: &mut W, first: usize, block: &[T]) -> io::Result<()> {
    for (i, item) in block.iter().enumerate() {
        Pretty::at(LIST_ELEMENTS).line(out, first + i == 0)?;
        item.serialize(&mut serde_json::Serializer::with_formatter(
            &mut *out,
            Pretty::at(LIST_ELEMENTS),
        ))?;
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
    /// A printer whose output goes inside something already open at `depth`.
    fn at(depth: usize) -> Self {
        Pretty {
            depth,
            has_value: false,
        }
    }

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
