//! The command line as users run it: inputs (files, folders, stdin), formats,
//! exit codes, and errors that name the file.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capdoc-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Any capture of ours or the public ones with at least one attempt.
fn some_capture() -> Option<PathBuf> {
    common::own_captures()
        .into_iter()
        .chain(common::public_captures())
        .find(|f| {
            common::json_report(f)["attempts"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
        })
}

#[test]
fn not_a_capture_is_an_error_naming_the_file_with_exit_2() {
    let dir = temp_dir("bad");
    let bad = dir.join("readme.txt");
    std::fs::write(&bad, "hello").expect("write");
    let out = common::capdoc(&["analyze", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("readme.txt") && stderr.contains("not a capture"),
        "{stderr}"
    );
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, b"").expect("write");
    let out = common::capdoc(&["analyze", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("empty"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn folders_are_walked_and_non_captures_skipped() {
    let Some(capture) = some_capture() else {
        return common::skip("a capture with attempts");
    };
    let dir = temp_dir("walk");
    std::fs::create_dir_all(dir.join("sub")).expect("mkdir");
    std::fs::copy(&capture, dir.join("sub/b.bin")).expect("copy");
    std::fs::copy(&capture, dir.join("a.pcap")).expect("copy");
    std::fs::write(dir.join("notes.txt"), "notes").expect("write");
    let out = common::capdoc(&["analyze", "--format", "jsonl", dir.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let files: Vec<String> = stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("jsonl line")["file"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(files.len(), 2, "{stdout}");
    assert!(
        files[0].ends_with("a.pcap") && files[1].ends_with("sub/b.bin"),
        "{files:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped"));
    assert_ne!(out.status.code(), Some(2), "skipped files are not errors");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn stdin_gives_the_same_report_as_the_file() {
    let Some(capture) = some_capture() else {
        return common::skip("a capture with attempts");
    };
    let from_file = common::json_report(&capture);
    let mut child = Command::new(env!("CARGO_BIN_EXE_capdoc"))
        .args(["analyze", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let bytes = std::fs::read(&capture).expect("read");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&bytes)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    let from_stdin: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(from_stdin["file"], "-");
    assert_eq!(from_stdin["attempts"], from_file["attempts"]);
    assert_eq!(from_stdin["findings"], from_file["findings"]);
}

#[test]
fn json_with_several_captures_is_an_array_in_input_order() {
    let files: Vec<PathBuf> = common::own_captures()
        .into_iter()
        .chain(common::public_captures())
        .take(3)
        .collect();
    if files.len() < 3 {
        return common::skip("three captures");
    }
    let args: Vec<&str> = ["analyze", "--format", "json"]
        .into_iter()
        .chain(files.iter().rev().map(|f| f.to_str().unwrap()))
        .collect();
    let out = common::capdoc(&args);
    let reports: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json array");
    let names: Vec<&str> = reports
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = files.iter().rev().map(|f| f.to_str().unwrap()).collect();
    assert_eq!(names, expected);
}

#[test]
fn exit_code_follows_the_worst_finding() {
    for file in common::own_captures().into_iter().chain(common::public_captures()) {
        let report = common::json_report(&file);
        let has_error = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "error");
        let has_warning = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "warning");
        let out = common::capdoc(&["analyze", "--format", "json", file.to_str().unwrap()]);
        assert_eq!(
            out.status.code(),
            Some(if has_error { 1 } else { 0 }),
            "{}",
            file.display()
        );
        let out = common::capdoc(&[
            "analyze",
            "--fail-on",
            "warning",
            "--format",
            "json",
            file.to_str().unwrap(),
        ]);
        assert_eq!(
            out.status.code(),
            Some(if has_error || has_warning { 1 } else { 0 }),
            "{}",
            file.display()
        );
    }
}

#[test]
fn urls_prints_the_table_and_accepts_a_users_table() {
    let out = common::capdoc(&["urls"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("*.msappproxy.net") && text.contains("crl3.digicert.com"),
        "{text}"
    );
    let dir = temp_dir("urls");
    let mine = dir.join("mine.tsv");
    std::fs::write(&mine, "@name\tmine\n*.example.net\t443\tconnector-service\trequired\n").expect("write");
    let out = common::capdoc(&["urls", "--urls", mine.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("*.example.net") && !text.contains("msappproxy"), "{text}");
    std::fs::write(&mine, "broken line\n").expect("write");
    let out = common::capdoc(&["urls", "--urls", mine.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn service_tags_name_addresses_without_a_name() {
    // port-reuse connects to a literal address: no DNS answer names it.
    let capture = common::project_dir().join("captures/port-reuse.eth.pcap");
    let dir = temp_dir("tags");
    let tags = dir.join("ServiceTags_Public.json");
    std::fs::write(
        &tags,
        r#"{"changeNumber": 1, "cloud": "Public", "values": [
            {"name": "AzureCloud", "id": "AzureCloud", "properties": {"addressPrefixes": ["203.0.113.0/24"]}}]}"#,
    )
    .expect("write");
    let out = common::capdoc(&[
        "analyze",
        "--format",
        "json",
        "--service-tags",
        tags.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let attempts = report["attempts"].as_array().expect("attempts");
    assert!(!attempts.is_empty());
    assert!(
        attempts
            .iter()
            .all(|a| a["destination"]["name"].is_null() && a["service_tag"] == "AzureCloud"),
        "{report}"
    );
    let without = common::json_report(&capture);
    assert!(without["attempts"][0]["service_tag"].is_null());
    std::fs::write(&tags, "{}").expect("write");
    let out = common::capdoc(&[
        "analyze",
        "--service-tags",
        tags.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ServiceTags_Public.json"));
    std::fs::remove_dir_all(&dir).ok();
}
