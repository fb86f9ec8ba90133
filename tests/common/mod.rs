//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod payloads;

/// Set (as CI does) to turn "skipped: tool or data absent" into a failure.
pub const REQUIRE_VAR: &str = "CAPDOC_REQUIRE_ORACLES";

pub fn project_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared` beside the project, when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = project_dir().join("../shared");
    dir.is_dir().then_some(dir)
}

/// Reports a missing prerequisite: a skip for a newcomer, a failure in CI.
pub fn skip(what: &str) {
    if std::env::var_os(REQUIRE_VAR).is_some_and(|v| v != "0") {
        panic!("{what} is required because {REQUIRE_VAR} is set");
    }
    eprintln!("skipped: {what} is not available");
}

pub fn have_tshark() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Every capture file under `dir` (recognised by magic, as capdoc does), sorted.
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if capdoc::analyze::looks_like_capture(&path) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The public captures in `../shared/captures/public`, or none (after `skip`).
pub fn public_captures() -> Vec<PathBuf> {
    match shared_dir().map(|d| d.join("captures/public")).filter(|d| d.is_dir()) {
        Some(dir) => captures_under(&dir),
        None => {
            skip("../shared/captures/public");
            Vec::new()
        }
    }
}

/// The project's own captures in `captures/`.
pub fn own_captures() -> Vec<PathBuf> {
    captures_under(&project_dir().join("captures"))
}

/// Runs the capdoc binary built for these tests.
pub fn capdoc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_capdoc"))
        .args(args)
        .output()
        .expect("capdoc runs")
}

/// Runs capdoc on one capture and parses its JSON report.
pub fn json_report(path: &Path) -> serde_json::Value {
    let out = capdoc(&["analyze", "--format", "json", path.to_str().expect("utf-8 path")]);
    assert!(
        matches!(out.status.code(), Some(0..=2)),
        "{}: exit {:?}\n{}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{}: JSON: {e}", path.display()))
}

pub fn short(path: &Path) -> String {
    let s = path.display().to_string();
    match s.find("captures/") {
        Some(i) => s[i..].to_string(),
        None => s,
    }
}

/// Debian's chromium, for the HTML tests, or None (after `skip`).
pub fn chromium() -> Option<PathBuf> {
    let found = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if found.is_none() {
        skip("chromium (apt-get install chromium)");
    }
    found
}

/// A fresh, empty temporary folder for one test.
pub fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("capdoc-{tag}-{}", std::process::id()));
    std::fs::remove_dir_all(&dir).ok();
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs a command to its end, or kills it after `limit` and panics: a hang on
/// crafted input must fail a test, not stall the suite. Returns the exit status and stderr.
pub fn run_with_watchdog(mut command: Command, limit: std::time::Duration) -> (std::process::ExitStatus, String) {
    let mut child = command
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("command starts");
    // Read stderr on a thread, so a chatty child never blocks on a full pipe.
    let mut pipe = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut text).ok();
        text
    });
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().ok();
            panic!("{command:?} did not finish within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    (status, reader.join().expect("stderr reader"))
}
