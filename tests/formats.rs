//! Every format tells the same facts. For each bundled capture the JSON report
//! is the reference: its verdict, findings, attempt outcomes and required-URL
//! statuses must appear in the text, Markdown and HTML renderings (after undoing
//! each format's escaping). Also: `diff`, `explain`, `--since/--until`, the
//! generated completions and man page.

mod common;

use serde_json::Value;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let out = common::capdoc(args);
    (out.status.code(), String::from_utf8(out.stdout).expect("utf-8"))
}

fn analyze(format: &str, capture: &str) -> String {
    let mut args = vec!["analyze", "--color", "never", "--format", format];
    let ca = common::project_dir().join("captures/proxy-ca-set.pem");
    let ca = ca.to_str().unwrap().to_string();
    if capture.contains("/proxy-") {
        args.extend(["--ca-set", ca.as_str()]);
    }
    args.push(capture);
    run(&args).1
}

/// HTML text back to plain text (the entities capdoc writes).
fn unhtml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Markdown prose back to plain text: entities, then backslash escapes.
fn unmd(s: &str) -> String {
    let s = unhtml(s);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek().is_some_and(|n| n.is_ascii_punctuation()) {
            out.push(chars.next().unwrap());
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn text_markdown_and_html_show_what_the_json_says() {
    let mut failures = Vec::new();
    for capture in common::own_captures() {
        let capture = capture.to_str().unwrap().to_string();
        let json: Value = serde_json::from_str(&analyze("json", &capture)).expect("json");
        let renderings = [
            ("text", analyze("text", &capture)),
            ("md", unmd(&analyze("md", &capture))),
            ("html", unhtml(&analyze("html", &capture))),
        ];
        let mut facts: Vec<String> = vec![
            json["verdict"]["status"].as_str().unwrap().to_uppercase(),
            json["verdict"]["summary"].as_str().unwrap().to_string(),
        ];
        for f in json["findings"].as_array().unwrap() {
            facts.push(f["code"].as_str().unwrap().to_string());
            facts.push(f["title"].as_str().unwrap().to_string());
            if let Some(filter) = f["wireshark_filter"].as_str() {
                facts.push(filter.to_string());
            }
        }
        for a in json["attempts"].as_array().unwrap() {
            facts.push(a["outcome"].as_str().unwrap().to_string());
            if let Some(name) = a["destination"]["name"].as_str() {
                facts.push(name.to_string());
            }
        }
        for e in json["endpoints"].as_array().unwrap() {
            if e["status"] != "not_seen" {
                facts.push(e["pattern"].as_str().unwrap().to_string());
            }
        }
        for (format, rendered) in &renderings {
            for fact in &facts {
                if !rendered.contains(fact.as_str()) {
                    failures.push(format!("{}: {format} lacks {fact:?}", common::short(capture.as_ref())));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn markdown_keeps_hostile_names_as_text() {
    let capture = common::project_dir().join("captures/proxy-hostile-names.eth.pcap");
    let md = analyze("md", capture.to_str().unwrap());
    // Inside code spans markup is shown literally; everywhere else it must be escaped.
    let prose: String = md.split('`').step_by(2).collect();
    assert!(!prose.contains('<'), "raw markup in Markdown prose:\n{md}");
    assert!(prose.contains("&lt;script&gt;alert(2)&lt;/script&gt;"), "{md}");
    let spans: String = md.split('`').skip(1).step_by(2).collect();
    assert!(spans.contains("<script>alert(2)</script>"), "{md}");
}

#[test]
fn diff_names_what_changed_in_every_format() {
    let dir = common::project_dir().join("captures");
    let before = dir.join("connector-blocked.pcapng");
    let after = dir.join("direct-ok.eth.pcap");
    let (b, a) = (before.to_str().unwrap(), after.to_str().unwrap());
    let (code, json) = run(&["diff", "--format", "json", b, a]);
    assert_eq!(code, Some(0), "nothing got worse");
    let d: Value = serde_json::from_str(&json).expect("diff JSON");
    let schema: Value =
        serde_json::from_str(&std::fs::read_to_string(common::project_dir().join("docs/diff.schema.json")).unwrap())
            .unwrap();
    let v = jsonschema::options().build(&schema).expect("schema compiles");
    let errors: Vec<String> = v
        .iter_errors(&d)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let endpoint = |pattern: &str| -> Value {
        d["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["pattern"] == pattern && e["port"] == 443)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        endpoint("*.servicebus.windows.net")["change"],
        "changed",
        "failed -> not seen"
    );
    assert_eq!(endpoint("*.msappproxy.net")["change"], "unchanged");
    let removed: Vec<&str> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["change"] == "removed")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(
        removed.contains(&"syn-unanswered") && removed.contains(&"connection-reset"),
        "{removed:?}"
    );
    // The other way round the same changes are regressions: exit 1.
    let (code, text) = run(&["diff", a, b]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("added") && text.contains("syn-unanswered"), "{text}");
    let (_, md) = run(&["diff", "--format", "md", a, b]);
    assert!(md.contains("**added**") && md.contains("`syn-unanswered`"), "{md}");
    // A capture compared with itself: nothing changed.
    let (code, same) = run(&["diff", "--format", "json", b, b]);
    assert_eq!(code, Some(0));
    let same: Value = serde_json::from_str(&same).unwrap();
    assert_eq!(same["counts"]["findings_added"], 0);
    assert_eq!(same["counts"]["findings_removed"], 0);
    assert!(same["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["change"] == "unchanged"));
}

/// Finding codes named in the source of the diagnosis: `code: "x-y"` fields and
/// the code argument of the finding helpers (a line holding only `"x-y",`).
fn codes_in_source() -> Vec<String> {
    let mut codes = Vec::new();
    let mut stack = vec![common::project_dir().join("src/diagnose")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().is_some_and(|n| n == "catalog.rs") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let line = line.trim();
                let literal = line
                    .strip_prefix("code: \"")
                    .or_else(|| line.strip_prefix('"').filter(|_| line.ends_with("\",")));
                if let Some(rest) = literal {
                    let code = rest.trim_end_matches(',').trim_end_matches('"');
                    if code.contains('-') && code.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                        codes.push(code.to_string());
                    }
                }
            }
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

/// The codes listed in ../shared/REPORT-SCHEMA.md ("Finding codes" section).
fn codes_in_shared_schema() -> Vec<String> {
    let Some(shared) = common::shared_dir() else {
        common::skip("../shared/REPORT-SCHEMA.md");
        return Vec::new();
    };
    let text = std::fs::read_to_string(shared.join("REPORT-SCHEMA.md")).expect("REPORT-SCHEMA.md");
    let section = text.split("Finding codes").nth(1).expect("a Finding codes section");
    let section = section.split("\n\n").next().unwrap_or(section);
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.contains('-'))
        .map(str::to_string)
        .collect()
}

#[test]
fn explain_covers_every_code() {
    let source = codes_in_source();
    assert!(source.len() >= 25, "the source scan found only {source:?}");
    let (code, list) = run(&["explain"]);
    assert_eq!(code, Some(0));
    for c in source.iter().chain(&codes_in_shared_schema()) {
        assert!(list.lines().any(|l| l.starts_with(&format!("{c} "))), "{c} not listed");
        let (status, text) = run(&["explain", c]);
        assert_eq!(status, Some(0), "capdoc explain {c}");
        for part in [
            "What it means",
            "How to confirm it in Wireshark",
            "Filter to start from",
            "How to fix it",
        ] {
            assert!(text.contains(part), "explain {c} lacks {part}");
        }
    }
    let out = common::capdoc(&["explain", "no-such-code"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn since_and_until_keep_only_frames_in_the_window() {
    let capture = common::project_dir().join("captures/connector-blocked.pcapng");
    let path = capture.to_str().unwrap();
    let full: Value = serde_json::from_str(&analyze("json", path)).unwrap();
    let attempts = full["attempts"].as_array().unwrap();
    assert!(attempts.len() >= 3);
    // From the third attempt's start on: the first two are left out.
    let since = attempts[2]["start"].as_str().unwrap();
    let (_, json) = run(&["analyze", "--format", "json", "--since", since, path]);
    let windowed: Value = serde_json::from_str(&json).unwrap();
    let starts: Vec<&str> = windowed["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts.len(), attempts.len() - 2, "{starts:?}");
    assert!(starts.iter().all(|s| *s >= since));
    assert!(windowed["capture"]["warnings"].to_string().contains("--since/--until"));
    // Until just before the first attempt: nothing left.
    let (_, json) = run(&["analyze", "--format", "json", "--until", "2000-01-01T00:00:00Z", path]);
    let empty: Value = serde_json::from_str(&json).unwrap();
    assert!(empty["attempts"].as_array().unwrap().is_empty());
    // Not a time: a usage error.
    let out = common::capdoc(&["analyze", "--since", "yesterday", path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
}

#[test]
fn completions_man_page_version_and_help_come_from_the_cli() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, script) = run(&["completions", shell]);
        assert_eq!(code, Some(0));
        assert!(
            script.contains("analyze") && script.contains("explain") && script.contains("format"),
            "{shell}"
        );
    }
    let (code, man) = run(&["man"]);
    assert_eq!(code, Some(0));
    assert!(man.starts_with(".ie") || man.contains(".TH"), "roff");
    assert!(man.contains("analyze") && man.contains("diff"));
    let (_, version) = run(&["--version"]);
    assert_eq!(version.trim(), format!("capdoc {}", env!("CARGO_PKG_VERSION")));
    let (_, help) = run(&["analyze", "--help"]);
    assert!(help.contains("Examples:") && help.contains("-o out/"), "{help}");
}

#[test]
fn colour_only_when_asked() {
    let capture = common::project_dir().join("captures/connector-blocked.pcapng");
    let path = capture.to_str().unwrap();
    let (_, plain) = run(&["analyze", path]);
    assert!(!plain.contains('\u{1b}'), "colour on a pipe");
    let (_, coloured) = run(&["analyze", "--color", "always", path]);
    assert!(coloured.contains("\u{1b}[1;31m[error]\u{1b}[0m"));
    let strip = |s: &str| {
        let mut out = String::new();
        let mut esc = false;
        for c in s.chars() {
            match (esc, c) {
                (false, '\u{1b}') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    assert_eq!(strip(&coloured), plain, "colour changes nothing but colour");
}

#[test]
fn text_fits_a_narrow_terminal() {
    use capdoc::report::text::{write_styled, Style};
    for capture in common::own_captures() {
        let report = capdoc::analyze::analyze_path(&capture, "c", &capdoc::analyze::Options::default());
        let mut out = Vec::new();
        let style = Style {
            color: false,
            width: Some(100),
        };
        write_styled(&mut out, &report, &style).unwrap();
        let text = String::from_utf8(out).unwrap();
        for line in text.lines() {
            // Display filters are never cut or wrapped: they are meant to be copied whole.
            let copyable = line.contains("Wireshark: ") || line.contains("filter: ");
            assert!(
                copyable || line.chars().count() <= 100,
                "{}: {} columns: {line}",
                common::short(&capture),
                line.chars().count()
            );
        }
    }
}
