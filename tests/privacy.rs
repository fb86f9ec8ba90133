//! Never leak, and output hygiene.
//!
//! Credentials captured on the wire never appear in any output: no format of
//! `analyze` (stdout and stderr), no file written with `-o DIR`, no format of
//! `diff`. The expected files name the secrets their capture carries
//! (generate-proxy.sh sends them with curl --proxy-user, -H Authorization,
//! -H Cookie, and the origin answers with Set-Cookie), and the test first
//! checks that they are really in the capture, so it cannot pass by testing
//! nothing.
//!
//! Hostile bytes in a capture (terminal escapes, BEL, CR, C1 controls,
//! bidirectional overrides, bytes that are not UTF-8, all sent for real in
//! `captures/proxy-credentials.eth.pcap`) never reach a report as themselves.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The capture made for these tests: every kind of credential and hostile names.
const CREDENTIALS: &str = "captures/proxy-credentials.eth.pcap";
/// A capture without either, to diff against.
const PLAIN: &str = "captures/proxy-connect-ok.eth.pcap";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn project(path: &str) -> String {
    common::project_dir().join(path).display().to_string()
}

/// Every output capdoc makes about `capture`, each with a label saying where it came from:
/// stdout and stderr of `analyze` in every format, every file written with `-o DIR`, and
/// `diff` in every format (the capture against itself and against `other`, both ways).
fn every_output(capture: &str, other: &str, tag: &str) -> Vec<(String, Vec<u8>)> {
    let mut outputs = Vec::new();
    let mut run = |label: String, args: &[&str]| {
        let out = common::capdoc(args);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "{label}: exit {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((format!("{label} (stdout)"), out.stdout));
        outputs.push((format!("{label} (stderr)"), out.stderr));
    };
    for format in ["text", "json", "jsonl", "html", "md"] {
        run(
            format!("analyze --format {format}"),
            &["analyze", "--format", format, capture],
        );
    }
    run(
        "analyze --color always".into(),
        &["analyze", "--format", "text", "--color", "always", capture],
    );
    for format in ["text", "json"] {
        run(
            format!("analyze --redact --format {format}"),
            &["analyze", "--redact", "--format", format, capture],
        );
    }
    for format in ["text", "json", "md", "html"] {
        for (before, after) in [(capture, capture), (capture, other), (other, capture)] {
            run(
                format!("diff --format {format} {before} {after}"),
                &["diff", "--format", format, before, after],
            );
        }
    }
    let dir = common::temp_dir(tag);
    run(
        format!("analyze -o {}", dir.display()),
        &["analyze", "-o", dir.to_str().expect("utf-8 path"), capture],
    );
    let mut written: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("-o DIR")
        .flatten()
        .map(|e| e.path())
        .collect();
    written.sort();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for want in [
        ".capdoc.html",
        ".capdoc.json",
        ".capdoc.md",
        "index.html",
        "summary.json",
    ] {
        assert!(
            names.iter().any(|n| n.ends_with(want)),
            "-o wrote no *{want}, only {names:?}"
        );
    }
    for path in written {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        outputs.push((format!("-o file {}", path.display()), bytes));
    }
    std::fs::remove_dir_all(&dir).ok();
    outputs
}

#[test]
fn no_credential_reaches_any_output() {
    let mut checked = Vec::new();
    for expected_path in common::own_captures()
        .iter()
        .map(|c| PathBuf::from(format!("{}.expected.json", c.display())))
        .filter(|p| p.exists())
    {
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let secrets: Vec<&str> = expected["secrets"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if secrets.is_empty() {
            continue;
        }
        let capture = expected_path
            .to_string_lossy()
            .trim_end_matches(".expected.json")
            .to_string();
        let name = common::short(Path::new(&capture));
        let raw = std::fs::read(&capture).unwrap();
        for secret in &secrets {
            assert!(
                contains(&raw, secret.as_bytes()),
                "{name}: the secret {secret:?} is not in the capture, so this test would prove nothing"
            );
        }
        let tag = format!("privacy-{}", name.replace(['/', '.'], "-"));
        for (label, bytes) in every_output(&capture, &project(PLAIN), &tag) {
            // Every password and cookie of proxy-credentials starts so: a Basic credential
            // shown decoded is caught too.
            assert!(
                !contains(&bytes, b"capdocSecret"),
                "{name}: {label} shows a (decoded?) credential:\n{}",
                String::from_utf8_lossy(&bytes)
            );
            for secret in &secrets {
                // A Basic credential shown without its padding is still the credential.
                let core = secret.trim_end_matches('=');
                assert!(
                    !contains(&bytes, core.as_bytes()),
                    "{name}: {label} shows the credential {secret:?}:\n{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        checked.push(name);
    }
    assert!(
        checked.iter().any(|c| c.ends_with("proxy-credentials.eth.pcap")),
        "{CREDENTIALS} (every kind of credential) was not checked; checked: {checked:?}"
    );
}

/// The capture made for these tests really carries every kind of credential header.
#[test]
fn the_credentials_capture_carries_every_credential_header() {
    let raw = std::fs::read(project(CREDENTIALS)).expect("capture");
    for header in ["Proxy-Authorization", "Authorization", "Cookie", "Set-Cookie"] {
        // At the start of a header line, so `Authorization` is not found inside
        // `Proxy-Authorization`, nor `Cookie` inside `Set-Cookie`.
        let line = format!("\r\n{header}: ");
        assert!(contains(&raw, line.as_bytes()), "no {header} header in {CREDENTIALS}");
    }
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(project(&format!("{CREDENTIALS}.expected.json"))).unwrap())
            .unwrap();
    assert!(
        expected["secrets"].as_array().is_some_and(|s| s.len() >= 4),
        "{CREDENTIALS}.expected.json lists fewer than the four credentials"
    );
}

/// What must not reach a report as itself: C0 controls but LF and TAB, DEL, C1
/// controls, bidirectional embedding/override/isolate characters.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The forbidden characters of `text` with some context, for the failure message.
fn offences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars
        .iter()
        .enumerate()
        .filter(|(_, c)| forbidden(**c))
        .take(10)
        .map(|(i, c)| {
            let from = i.saturating_sub(30);
            let to = (i + 30).min(chars.len());
            let context: String = chars[from..to].iter().collect();
            format!("U+{:04X} in {context:?}", *c as u32)
        })
        .collect()
}

/// Every string (and key) in a JSON document.
fn strings<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                strings(v, out);
            }
        }
        _ => {}
    }
}

/// Checks one output meant for people (text, Markdown, HTML): UTF-8, nothing forbidden.
fn assert_clean_text(label: &str, bytes: &[u8]) -> String {
    let text = String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| {
        panic!(
            "{label}: not UTF-8 (bytes of the capture copied as they are?): {e}\n{}",
            String::from_utf8_lossy(bytes)
        )
    });
    let bad = offences(&text);
    assert!(
        bad.is_empty(),
        "{label}: control or bidi characters:\n{}",
        bad.join("\n")
    );
    text
}

/// Checks one JSON document: it parses, and none of its strings holds a forbidden
/// character (a JSON escape like \u001b is well-formed JSON but still a raw ESC in
/// the string a consumer prints).
fn assert_clean_json(label: &str, doc: &Value) -> Vec<String> {
    let mut all = Vec::new();
    strings(doc, &mut all);
    let bad: Vec<String> = all.iter().flat_map(|s| offences(s)).collect();
    assert!(
        bad.is_empty(),
        "{label}: JSON strings with control or bidi characters:\n{}",
        bad.join("\n")
    );
    all.into_iter().map(str::to_string).collect()
}

#[test]
fn hostile_bytes_never_reach_a_report_as_themselves() {
    let capture = project(CREDENTIALS);
    let raw = std::fs::read(&capture).expect("capture");
    // Precondition: the hostile bytes are in the capture (SNI, CONNECT targets, Host).
    for needle in [
        &b"\x1b[31mred\x1b]0;pwned\x07\rcr\xff\xfe"[..],
        "\u{9b}31m\u{202e}rtl".as_bytes(),
    ] {
        assert!(
            contains(&raw, needle),
            "{CREDENTIALS} lacks {needle:?}, so this test would prove nothing"
        );
    }
    let analyze = |args: &[&str]| -> (Vec<u8>, Vec<u8>) {
        let mut argv = vec!["analyze"];
        argv.extend_from_slice(args);
        argv.push(&capture);
        let out = common::capdoc(&argv);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "analyze {args:?}: exit {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        (out.stdout, out.stderr)
    };

    // Text and Markdown: no ESC, BEL, CR or other control, no bidi override, valid UTF-8;
    // the hostile SNI still shows, in its escaped form.
    for (format, args) in [
        ("text", &["--format", "text", "--color", "never"][..]),
        ("md", &["--format", "md"][..]),
    ] {
        let (stdout, stderr) = analyze(args);
        let text = assert_clean_text(&format!("--format {format}"), &stdout);
        assert_clean_text(&format!("--format {format} (stderr)"), &stderr);
        assert!(
            text.contains("pwned") && text.contains("x1b") && text.contains("x07"),
            "--format {format}: the hostile SNI is not shown (escaped) at all:\n{text}"
        );
        assert!(
            text.contains("x9b31m") && text.contains("u{202e}"),
            "--format {format}: the CONNECT target with U+009B and U+202E is not shown (escaped):\n{text}"
        );
    }
    let (text, _) = analyze(&["--format", "text", "--color", "never"]);
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.contains(r"sni\x1b[31mred\x1b]0;pwned\x07\x0dcr"),
        "--format text does not show the SNI's controls as \\xNN:\n{text}"
    );

    // JSON and JSON Lines: parse; no string holds a control (but LF/TAB) or bidi character;
    // the bytes that are not UTF-8 show as U+FFFD, the controls as \xNN.
    let (json, stderr) = analyze(&["--format", "json"]);
    assert_clean_text("--format json (stderr)", &stderr);
    let doc: Value = serde_json::from_slice(&json).expect("--format json parses");
    let all = assert_clean_json("--format json", &doc);
    assert!(
        all.iter().any(|s| s.contains("cr\u{fffd}\u{fffd}.msappproxy.net")),
        "--format json: the SNI's bytes FF FE do not show as U+FFFD U+FFFD"
    );
    assert!(
        all.iter().any(|s| s.contains(r"\x1b[31mred\x1b]0;pwned\x07\x0dcr")),
        "--format json: the SNI's controls do not show as \\xNN"
    );
    let (jsonl, _) = analyze(&["--format", "jsonl"]);
    let jsonl = String::from_utf8(jsonl).expect("--format jsonl is UTF-8");
    for (i, line) in jsonl.lines().enumerate() {
        let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("--format jsonl line {}: {e}", i + 1));
        assert_clean_json(&format!("--format jsonl line {}", i + 1), &doc);
    }

    // HTML: no raw control or bidi character, no <script> beyond the page's own
    // (as many as a page about a capture without hostile names has), and the hostile
    // names shown as escaped text.
    let (html, _) = analyze(&["--format", "html"]);
    let html = assert_clean_text("--format html", &html);
    let plain = common::capdoc(&["analyze", "--format", "html", &project(PLAIN)]);
    let own_scripts = String::from_utf8_lossy(&plain.stdout).matches("<script").count();
    assert_eq!(
        html.matches("<script").count(),
        own_scripts,
        "--format html has another <script> than the page's own"
    );
    assert!(
        html.contains(r"\x1b[31mred\x1b]0;pwned\x07\x0dcr") || html.contains(r"\\x1b[31mred\\x1b]0;pwned\\x07\\x0dcr"),
        "--format html does not show the hostile SNI escaped"
    );

    // The same for the files of -o DIR and for diff.
    let dir = common::temp_dir("privacy-hygiene");
    let out = common::capdoc(&["analyze", "-o", dir.to_str().unwrap(), &capture]);
    assert!(matches!(out.status.code(), Some(0..=2)), "-o: exit {:?}", out.status);
    assert_clean_text("-o (stderr)", &out.stderr);
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("-o DIR").flatten() {
        let path = entry.path();
        let label = format!("-o file {}", path.display());
        let bytes = std::fs::read(&path).expect("read");
        if path.extension().is_some_and(|e| e == "json") {
            let doc: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_clean_json(&label, &doc);
        } else {
            assert_clean_text(&label, &bytes);
        }
        files += 1;
    }
    assert!(files >= 5, "-o wrote {files} files");
    std::fs::remove_dir_all(&dir).ok();
    let plain_path = project(PLAIN);
    for format in ["text", "md", "html", "json"] {
        let out = common::capdoc(&["diff", "--format", format, &plain_path, &capture]);
        assert!(
            matches!(out.status.code(), Some(0..=2)),
            "diff --format {format}: exit {:?}",
            out.status
        );
        let label = format!("diff --format {format}");
        assert_clean_text(&format!("{label} (stderr)"), &out.stderr);
        if format == "json" {
            let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_clean_json(&label, &doc);
        } else {
            assert_clean_text(&label, &out.stdout);
        }
    }
}
