//! The HTML reports in a real browser (Debian's headless chromium): every page
//! loads without a console error, its script runs to the end, it shows the
//! verdict, and a hostile name from a capture is text, not markup.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// What chromium made of a page: the DOM after the scripts ran, and its log.
struct Loaded {
    dom: String,
    log: String,
}

fn load(chromium: &Path, page: &Path, profile: &Path) -> Loaded {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed on {}", page.display());
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Console messages (script errors, CSP violations) in chromium's log.
fn console_messages(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught") || l.contains("Content Security Policy"))
        .collect()
}

fn capdoc_to(args: &[&str], file: &Path) -> i32 {
    let out = common::capdoc(args);
    std::fs::write(file, &out.stdout).expect("write page");
    out.status.code().unwrap_or(-1)
}

fn assert_loads(chromium: &Path, page: &Path, profile: &Path, must_show: &[&str]) -> String {
    let loaded = load(chromium, page, profile);
    let console = console_messages(&loaded.log);
    assert!(
        console.is_empty(),
        "{}: console messages:\n{}",
        page.display(),
        console.join("\n")
    );
    assert!(
        loaded.dom.contains("data-capdoc=\"ready\""),
        "{}: the page's script did not run to its end",
        page.display()
    );
    for text in must_show {
        assert!(loaded.dom.contains(text), "{}: {text:?} not in the DOM", page.display());
    }
    loaded.dom
}

fn project(path: &str) -> String {
    common::project_dir().join(path).display().to_string()
}

#[test]
fn hostile_names_are_text_and_the_page_loads_cleanly() {
    let Some(chromium) = common::chromium() else { return };
    let dir = common::temp_dir("html-hostile");
    let page = dir.join("hostile.html");
    let code = capdoc_to(
        &[
            "analyze",
            "--format",
            "html",
            "--ca-set",
            &project("captures/proxy-ca-set.pem"),
            &project("captures/proxy-hostile-names.eth.pcap"),
        ],
        &page,
    );
    assert_eq!(code, 1, "the capture has an error finding");
    let dom = assert_loads(&chromium, &page, &dir.join("profile"), &["PROBLEMS"]);
    // Both names are in the page as text (the DOM serialiser writes a text `<` as `&lt;`)...
    for name in ["alert(1)", "alert(2)"] {
        let text = format!("&lt;script&gt;{name}&lt;/script&gt;");
        assert!(dom.contains(&text), "{name} is not shown as text");
    }
    // ...and never as an element: the page's own script is the only one.
    assert_eq!(dom.matches("<script").count(), 1, "an injected script element");
    assert!(!dom.contains("<script>alert"), "an injected script element");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reports_index_and_diff_load_in_a_browser() {
    let Some(chromium) = common::chromium() else { return };
    let dir = common::temp_dir("html-pages");
    let profile = dir.join("profile");
    let blocked = project("captures/connector-blocked.pcapng");
    let ok = project("captures/direct-ok.eth.pcap");

    let page = dir.join("blocked.html");
    capdoc_to(&["analyze", "--format", "html", &blocked], &page);
    let dom = assert_loads(
        &chromium,
        &page,
        &profile,
        &[
            "PROBLEMS",
            "syn-unanswered",
            "Required URLs",
            "Timeline",
            "All attempts",
            "Capture facts",
        ],
    );
    assert!(dom.contains("<svg class=\"timeline\""), "no timeline");
    assert!(dom.contains("st-failed\">failed"), "no failed row in the URL table");

    let page = dir.join("healthy.html");
    capdoc_to(&["analyze", "--format", "html", &ok], &page);
    assert_loads(&chromium, &page, &profile, &["HEALTHY"]);

    // A file that is not a capture still gives a page that says so.
    let bogus = dir.join("bogus.pcap");
    std::fs::write(&bogus, b"not a capture at all").expect("write");
    let page = dir.join("bogus.html");
    let code = capdoc_to(&["analyze", "--format", "html", bogus.to_str().unwrap()], &page);
    assert_eq!(code, 2);
    assert_loads(&chromium, &page, &profile, &["NOT READ", "not a capture"]);

    // A batch's index, with links to every report.
    let out_dir = dir.join("reports");
    let out = common::capdoc(&["analyze", "-q", "-o", out_dir.to_str().unwrap(), &blocked, &ok]);
    assert_eq!(out.status.code(), Some(1));
    let dom = assert_loads(
        &chromium,
        &out_dir.join("index.html"),
        &profile,
        &[
            "connector-blocked.pcapng.capdoc.html",
            "direct-ok.eth.pcap.capdoc.html",
            "syn-unanswered",
        ],
    );
    assert!(dom.contains("PROBLEMS") && dom.contains("HEALTHY"));

    let page = dir.join("diff.html");
    capdoc_to(&["diff", "--format", "html", &blocked, &ok], &page);
    assert_loads(
        &chromium,
        &page,
        &profile,
        &["BEFORE: PROBLEMS", "AFTER: HEALTHY", "removed"],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_bundled_capture_renders_a_page_with_its_verdict() {
    let Some(chromium) = common::chromium() else { return };
    let dir = common::temp_dir("html-all");
    let profile = dir.join("profile");
    let captures: Vec<PathBuf> = common::own_captures();
    assert!(captures.len() > 20);
    for capture in captures {
        let json = common::json_report(&capture);
        let word = json["verdict"]["status"].as_str().unwrap().to_uppercase();
        let page = dir.join("page.html");
        capdoc_to(&["analyze", "--format", "html", capture.to_str().unwrap()], &page);
        assert_loads(&chromium, &page, &profile, &[word.as_str()]);
    }
    std::fs::remove_dir_all(&dir).ok();
}
