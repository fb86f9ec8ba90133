//! Runs over many captures: the bundled ones plus broken files. Every file is
//! reported, nothing stops the batch, the exit code tells at the end; with
//! `-o DIR` every report, index.html and summary.json are written.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn validator(schema: &str) -> jsonschema::Validator {
    let path = common::project_dir().join("docs").join(schema);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
}

fn check_schema(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{what}:\n{}", errors.join("\n"));
}

/// captures/ plus a file of garbage named like a capture and an empty one.
fn broken_files(dir: &Path) -> (PathBuf, PathBuf) {
    let garbage = dir.join("x.pcap");
    let bytes: Vec<u8> = (0..100u32).map(|i| (i.wrapping_mul(37) ^ 0x5a) as u8).collect();
    std::fs::write(&garbage, bytes).expect("write");
    let empty = dir.join("empty.pcapng");
    std::fs::write(&empty, b"").expect("write");
    (garbage, empty)
}

#[test]
fn a_batch_with_broken_files_reports_every_file_and_exits_2() {
    let dir = common::temp_dir("batch");
    let (garbage, empty) = broken_files(&dir);
    let captures = common::project_dir().join("captures");
    let expected_count = common::own_captures().len() + 2;
    let out = common::capdoc(&[
        "analyze",
        "--format",
        "jsonl",
        "-j",
        "2",
        captures.to_str().unwrap(),
        garbage.to_str().unwrap(),
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // stdout stays clean JSON Lines, one per capture, in input order.
    let reports: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is a report"))
        .collect();
    assert_eq!(reports.len(), expected_count, "{stderr}");
    let files: Vec<&str> = reports.iter().map(|r| r["file"].as_str().unwrap()).collect();
    let mut sorted_captures: Vec<&str> = files[..expected_count - 2].to_vec();
    sorted_captures.sort_unstable();
    assert_eq!(
        &files[..expected_count - 2],
        &sorted_captures[..],
        "folder order is sorted"
    );
    assert_eq!(files[expected_count - 2], garbage.to_str().unwrap());
    assert_eq!(files[expected_count - 1], empty.to_str().unwrap());
    assert!(reports[expected_count - 2]["error"].is_string());
    assert!(reports[expected_count - 1]["error"].is_string());
    // The capture cut off mid-record is analysed up to the cut, with a warning.
    let cut = reports
        .iter()
        .find(|r| r["file"].as_str().unwrap().ends_with("syn-dropped.truncated.pcap"))
        .expect("the truncated capture is in the batch");
    assert!(cut["error"].is_null() && !cut["attempts"].as_array().unwrap().is_empty());
    assert!(
        cut["capture"]["warnings"].to_string().contains("mid-record"),
        "{}",
        cut["capture"]
    );
    // The summary table on stderr names every capture, the broken ones with their error.
    for r in &reports {
        let file = r["file"].as_str().unwrap();
        assert!(stderr.contains(file), "{file} missing from the summary:\n{stderr}");
    }
    let table_line = |file: &str| {
        stderr
            .lines()
            .find(|l| l.starts_with(file))
            .unwrap_or_default()
            .to_string()
    };
    assert!(table_line(garbage.to_str().unwrap()).contains("ERROR"), "{stderr}");
    assert!(table_line(empty.to_str().unwrap()).contains("empty"), "{stderr}");
    assert!(stderr.contains(&format!("{expected_count} captures:")), "{stderr}");
    assert!(stderr.contains("2 not read"), "{stderr}");
    // Not a terminal: no progress bar.
    assert!(!stderr.contains('\r'), "progress drawn on a pipe");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn output_dir_gets_every_report_an_index_and_a_valid_summary() {
    let dir = common::temp_dir("batch-o");
    let (garbage, empty) = broken_files(&dir);
    let out_dir = dir.join("reports");
    let captures = common::project_dir().join("captures");
    // The same capture twice under one name: the second report gets a number.
    let twin_dir = dir.join("twin");
    std::fs::create_dir_all(&twin_dir).unwrap();
    let twin = twin_dir.join("connector-blocked.pcapng");
    std::fs::copy(captures.join("connector-blocked.pcapng"), &twin).unwrap();
    let out = common::capdoc(&[
        "analyze",
        "-o",
        out_dir.to_str().unwrap(),
        captures.to_str().unwrap(),
        garbage.to_str().unwrap(),
        empty.to_str().unwrap(),
        twin.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "with -o nothing goes to stdout");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).expect("summary.json"))
            .expect("summary.json is JSON");
    check_schema(&validator("summary.schema.json"), &summary, "summary.json");
    let rows = summary["captures"].as_array().unwrap();
    assert_eq!(rows.len(), common::own_captures().len() + 3);
    assert_eq!(summary["exit_code"], 2);
    assert_eq!(summary["totals"]["unreadable"], 2);
    let index = std::fs::read_to_string(out_dir.join("index.html")).expect("index.html");
    for row in rows {
        let reports = &row["reports"];
        for kind in ["html", "json", "md"] {
            let name = reports[kind].as_str().unwrap();
            let path = out_dir.join(name);
            assert!(path.is_file(), "{name} not written");
            assert!(index.contains(name), "{name} not linked from index.html");
        }
        // The JSON written is the report of that capture.
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join(reports["json"].as_str().unwrap())).unwrap())
                .unwrap();
        assert_eq!(written["file"], row["file"]);
        assert_eq!(written["error"].is_null(), row["error"].is_null());
    }
    let names: Vec<&str> = rows.iter().map(|r| r["reports"]["html"].as_str().unwrap()).collect();
    assert!(names.contains(&"connector-blocked.pcapng.capdoc.html"));
    assert!(names.contains(&"connector-blocked.pcapng-2.capdoc.html"), "{names:?}");
    // No temporary file left behind.
    let leftovers: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_healthy_batch_exits_0_and_fail_on_warning_raises_it() {
    let captures = common::project_dir().join("captures");
    let ok = captures.join("direct-ok.eth.pcap");
    let ok_ng = captures.join("direct-ok.eth.pcapng");
    let out = common::capdoc(&["analyze", "-q", ok.to_str().unwrap(), ok_ng.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "--quiet: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let blocked = captures.join("connector-blocked.pcapng");
    let out = common::capdoc(&["analyze", "-q", ok.to_str().unwrap(), blocked.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn several_html_pages_need_an_output_dir() {
    let captures = common::project_dir().join("captures");
    let a = captures.join("direct-ok.eth.pcap");
    let out = common::capdoc(&["analyze", "--format", "html", a.to_str().unwrap(), a.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o DIR"));
}

/// A folder holding what is not a regular file: a FIFO nobody writes to, a link to
/// a device, a broken link, a link to a capture. The run must not hang on the
/// FIFO, must analyse the linked capture, and must name every skipped entry.
#[cfg(unix)]
#[test]
fn fifos_devices_and_links_in_a_folder_are_reported_not_opened() {
    use std::os::unix::fs::symlink;
    let dir = common::temp_dir("batch-special");
    let input = dir.join("in");
    std::fs::create_dir(&input).unwrap();
    let capture = common::project_dir().join("captures/direct-ok.eth.pcap");
    symlink(&capture, input.join("linked.pcap")).unwrap();
    symlink("/dev/null", input.join("device.pcap")).unwrap();
    symlink(input.join("gone.pcap"), input.join("broken.pcap")).unwrap();
    let fifo = input.join("pipe.pcap");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let out_dir = dir.join("out");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_capdoc"));
    command.args([
        "analyze",
        "-q",
        "-o",
        out_dir.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    // A FIFO opened by mistake would block here forever: the watchdog turns that into a failure.
    let (status, stderr) = common::run_with_watchdog(command, std::time::Duration::from_secs(60));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
    check_schema(&validator("summary.schema.json"), &summary, "summary.json");
    let analysed: Vec<&str> = summary["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["file"].as_str().unwrap())
        .collect();
    assert_eq!(analysed.len(), 1, "{analysed:?}");
    assert!(analysed[0].ends_with("linked.pcap"));
    let skipped: Vec<(String, String)> = summary["skipped"]
        .as_array()
        .expect("skipped entries are listed")
        .iter()
        .map(|s| {
            (
                s["file"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let reason_of = |name: &str| {
        skipped
            .iter()
            .find(|(f, _)| f.ends_with(name))
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{name} not in {skipped:?}"))
    };
    assert!(reason_of("pipe.pcap").contains("named pipe"));
    assert!(reason_of("device.pcap").contains("device"));
    assert!(reason_of("broken.pcap").contains("symbolic link to nothing"));
    assert!(
        stderr.contains("pipe.pcap"),
        "skipped special files are named even with -q: {stderr}"
    );
    let index = std::fs::read_to_string(out_dir.join("index.html")).unwrap();
    assert!(index.contains("pipe.pcap") && index.contains("Not analysed"));
}
