//! The two-thread pipeline and parallel batches change how fast a report comes,
//! never what it says: every capture (ours and the public ones) gives the same
//! JSON on one thread, split over two (`--pipeline on`), and in a parallel batch.

mod common;

use std::path::PathBuf;

use capdoc::report::json;
use common::{capdoc, own_captures, public_captures};

fn json_lines(args: &[&str], files: &[PathBuf]) -> Vec<String> {
    let mut all: Vec<&str> = vec!["analyze", "--format", "jsonl", "--quiet"];
    all.extend_from_slice(args);
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    all.extend(names.iter().map(String::as_str));
    let out = capdoc(&all);
    assert!(out.status.code().is_some_and(|c| c <= 2), "capdoc ran: {out:?}");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn threads_do_not_change_any_report() {
    let mut files = own_captures();
    files.extend(public_captures());
    assert!(files.len() >= 30, "captures found: {}", files.len());
    let single = json_lines(&["--jobs", "1", "--pipeline", "off"], &files);
    let pipelined = json_lines(&["--jobs", "1", "--pipeline", "on"], &files);
    let parallel = json_lines(&["--jobs", "2"], &files);
    assert_eq!(single.len(), files.len(), "one line per capture");
    for (i, file) in files.iter().enumerate() {
        assert_eq!(single[i], pipelined[i], "the pipeline differs on {}", file.display());
        assert_eq!(single[i], parallel[i], "parallel batch differs on {}", file.display());
    }
}

/// Pretty JSON of one capture (`--format json`): the long lists are rendered
/// on two threads unless `--pipeline off`, into the same bytes.
fn pretty(pipeline: &str, file: &std::path::Path) -> Vec<u8> {
    let name = file.display().to_string();
    let out = capdoc(&["analyze", "--format", "json", "--quiet", "--pipeline", pipeline, &name]);
    assert!(out.status.code().is_some_and(|c| c <= 2), "capdoc ran: {out:?}");
    out.stdout
}

#[test]
fn json_written_on_two_threads_is_the_same() {
    let mut files = own_captures();
    files.extend(public_captures());
    for file in &files {
        let (one, two) = (pretty("off", file), pretty("on", file));
        assert!(one.starts_with(b"{"), "a report for {}", file.display());
        assert!(one == two, "two-thread JSON differs on {}", file.display());
    }
}

/// A report whose lists are long enough for many blocks on each thread: a
/// bundled capture's attempts, connections and lookups, each repeated.
#[test]
fn json_of_long_lists_on_two_threads_is_the_same() {
    let path = common::project_dir().join("captures/connector-blocked.pcapng");
    let mut report = capdoc::analyze::analyze_path(&path, "blocked", &capdoc::analyze::Options::default());
    assert!(
        !report.attempts.is_empty() && !report.connections.is_empty() && !report.dns.is_empty(),
        "every long list has elements"
    );
    fn repeated<T: Clone>(list: &[T]) -> Vec<T> {
        (0..300).flat_map(|_| list.iter().cloned()).collect()
    }
    // Numbered anew, so that a block out of place or twice shows in the bytes.
    report.attempts = repeated(&report.attempts);
    report.connections = repeated(&report.connections);
    report.dns = repeated(&report.dns);
    for (i, a) in report.attempts.iter_mut().enumerate() {
        a.id = i as u32 + 1;
    }
    for (i, c) in report.connections.iter_mut().enumerate() {
        c.id = i as u32 + 1;
    }
    for (i, l) in report.dns.iter_mut().enumerate() {
        l.query_frame = i as u64 + 1;
    }
    let lengths = |r: &capdoc::report::model::CaptureReport| (r.attempts.len(), r.connections.len(), r.dns.len());
    let before = lengths(&report);
    let mut one = Vec::new();
    json::write_one(&mut one, &report).expect("written");
    let mut two = Vec::new();
    json::write_one_on_two_threads(&mut two, &mut report).expect("written");
    assert!(one == two, "two-thread JSON differs");
    assert_eq!(lengths(&report), before, "the lists are put back");
    let mut again = Vec::new();
    json::write_one(&mut again, &report).expect("written");
    assert!(one == again, "the lists are put back as they were");
    // A writer that fails part way (a closed pipe, a full disk) ends the
    // rendering thread too: an error, not a hang, wherever it fails.
    for room in [10, one.len() / 3, one.len() / 2 + 77, one.len() - 1] {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = json::write_one_on_two_threads(&mut Full { room }, &mut report);
            let _ = done.send((result.is_err(), report));
        });
        let (failed, back) = finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("no answer after {room} bytes: {e}"));
        assert!(failed, "an error after {room} bytes");
        report = back;
    }
    // And with every long list empty.
    report.attempts.clear();
    report.connections.clear();
    report.dns.clear();
    let (mut one, mut two) = (Vec::new(), Vec::new());
    json::write_one(&mut one, &report).expect("written");
    json::write_one_on_two_threads(&mut two, &mut report).expect("written");
    assert_eq!(
        String::from_utf8(one).expect("UTF-8"),
        String::from_utf8(two).expect("UTF-8")
    );
}

/// A writer with room for `room` bytes, failing after.
struct Full {
    room: usize,
}

impl std::io::Write for Full {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::other("no room left"));
        }
        let n = bytes.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A bundled capture's records repeated (times shifted) over several megabytes:
/// its connections and DNS lookups are split between many of the pipeline's
/// batches at many places, and the read buffer is refilled many times.
#[test]
fn pipeline_across_batches() {
    let source = common::project_dir().join("captures/proxy-connect-ok.eth.pcap");
    let file = std::fs::read(&source).expect("bundled capture");
    let (header, records) = file.split_at(24);
    let mut big = header.to_vec();
    for round in 0u32..400 {
        let mut rest = records;
        while rest.len() >= 16 {
            let caplen = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes")) as usize;
            let (record, tail) = rest.split_at(16 + caplen);
            let secs = u32::from_le_bytes(record[..4].try_into().expect("4 bytes")) + round * 100;
            big.extend_from_slice(&secs.to_le_bytes());
            big.extend_from_slice(&record[4..]);
            rest = tail;
        }
        if big.len() > 5 << 20 {
            break;
        }
    }
    assert!(big.len() > 3 << 20, "several chunks: {} bytes", big.len());
    let dir = common::temp_dir("pipeline");
    let path = dir.join("repeated.pcap");
    std::fs::write(&path, &big).expect("written");
    let direct = json_lines(&["--pipeline", "off"], std::slice::from_ref(&path));
    let ahead = json_lines(&["--pipeline", "on"], std::slice::from_ref(&path));
    assert!(
        direct[0].contains("\"packets\""),
        "{}",
        &direct[0][..200.min(direct[0].len())]
    );
    assert_eq!(direct, ahead);
    let _ = std::fs::remove_dir_all(dir);
}
