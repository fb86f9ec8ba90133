//! Every capture in captures/ against its `<capture>.expected.json`, which
//! captures/generate.sh wrote from the scenario it ran (not from capdoc).

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};

fn expected_files() -> Vec<PathBuf> {
    let dir = common::project_dir().join("captures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("captures/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    files.sort();
    files
}

fn capture_of(expected: &Path) -> PathBuf {
    PathBuf::from(expected.to_string_lossy().trim_end_matches(".expected.json"))
}

/// The fields of `want` (an expected attempt) that `got` must have, as a list of mismatches.
fn mismatches(want: &Value, got: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, w: &Value, g: &Value| {
        if w != g {
            out.push(format!("{what}: expected {w}, got {g}"));
        }
    };
    for key in ["outcome", "syn_retransmits", "conn_state", "path", "http_status"] {
        if let Some(w) = want.get(key) {
            check(key, w, &got[key]);
        }
    }
    for key in ["ip", "port", "name"] {
        if let Some(w) = want["destination"].get(key) {
            check(&format!("destination.{key}"), w, &got["destination"][key]);
        }
    }
    if let Some(tls) = want.get("tls").and_then(Value::as_object) {
        for (key, w) in tls {
            check(&format!("tls.{key}"), w, &got["tls"][key]);
        }
    }
    out
}

fn same_destination(want: &Value, got: &Value) -> bool {
    ["ip", "port", "name"]
        .iter()
        .all(|k| match want["destination"].get(*k) {
            Some(w) if *k != "name" => *w == got["destination"][*k],
            _ => true,
        })
}

#[test]
fn every_scenario_gives_the_expected_attempts() {
    let files = expected_files();
    assert!(files.len() >= 15, "only {} expected files in captures/", files.len());
    let mut failures = Vec::new();
    for expected_path in &files {
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(expected_path).expect("read"))
            .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let capture = capture_of(expected_path);
        let name = common::short(&capture);
        let mut args = vec!["analyze".to_string(), "--format".into(), "json".into()];
        if let Some(client) = expected["client"].as_str() {
            args.extend(["--host".into(), client.into()]);
        }
        if let Some(ca) = expected["ca_set"].as_str() {
            args.extend(["--ca-set".into(), common::project_dir().join(ca).display().to_string()]);
        }
        args.push(capture.display().to_string());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::capdoc(&argv);
        let report: Value = match serde_json::from_slice(&out.stdout) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!(
                    "{name}: no JSON ({e}): {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
                continue;
            }
        };
        for key in ["format", "compressed"] {
            if let Some(w) = expected.get(key) {
                if *w != report["capture"][key] {
                    failures.push(format!(
                        "{name}: capture.{key} expected {w}, got {}",
                        report["capture"][key]
                    ));
                }
            }
        }
        if let Some(link) = expected.get("link_type") {
            if !report["capture"]["link_types"]
                .as_array()
                .is_some_and(|l| l.contains(link))
            {
                failures.push(format!(
                    "{name}: link type {link} not in {}",
                    report["capture"]["link_types"]
                ));
            }
        }
        if let Some(offset) = expected["truncated_at_offset"].as_u64() {
            if report["capture"]["cut_at_offset"].as_u64() != Some(offset) {
                failures.push(format!(
                    "{name}: cut_at_offset expected {offset}, got {}",
                    report["capture"]["cut_at_offset"]
                ));
            }
            let warnings = report["capture"]["warnings"].to_string();
            if !warnings.contains(&format!("offset {offset}")) {
                failures.push(format!("{name}: no warning naming offset {offset}: {warnings}"));
            }
        }
        let got = report["attempts"].as_array().cloned().unwrap_or_default();
        let want = expected["attempts"].as_array().cloned().unwrap_or_default();
        if got.len() != want.len() {
            failures.push(format!(
                "{name}: expected {} attempts, got {}: {}",
                want.len(),
                got.len(),
                summary(&got)
            ));
            continue;
        }
        // Attempts are in time order in both; pair them by destination in that order.
        let mut used = vec![false; got.len()];
        for w in &want {
            let Some(i) = (0..got.len()).find(|&i| !used[i] && same_destination(w, &got[i])) else {
                failures.push(format!(
                    "{name}: no attempt to {} in {}",
                    w["destination"],
                    summary(&got)
                ));
                continue;
            };
            used[i] = true;
            for m in mismatches(w, &got[i]) {
                failures.push(format!("{name}: attempt {}: {m}", got[i]["id"]));
            }
        }
        if let Some(codes) = expected["findings"].as_array() {
            let have: Vec<&str> = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["code"].as_str())
                .collect();
            for code in codes.iter().filter_map(Value::as_str) {
                if !have.contains(&code) {
                    failures.push(format!("{name}: finding {code} missing (have {have:?})"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn summary(attempts: &[Value]) -> String {
    let parts: Vec<String> = attempts
        .iter()
        .map(|a| {
            format!(
                "{}:{} {}",
                a["destination"]["ip"], a["destination"]["port"], a["outcome"]
            )
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

#[test]
fn compressed_copies_report_the_same_as_the_original() {
    let dir = common::project_dir().join("captures");
    let plain = common::json_report(&dir.join("direct-ok.eth.pcap"));
    for copy in ["direct-ok.eth.pcap.gz", "direct-ok.eth.pcap.zst"] {
        let r = common::json_report(&dir.join(copy));
        assert_eq!(r["attempts"], plain["attempts"], "{copy}");
        assert_eq!(r["connections"], plain["connections"], "{copy}");
        assert!(r["capture"]["compressed"].is_string(), "{copy}");
    }
}

#[test]
fn link_layer_variants_give_the_same_connections() {
    let dir = common::project_dir().join("captures");
    let strip = |r: &Value| -> Vec<(Value, Value, Value)> {
        r["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["conn_state"].clone(),
                    c["history"].clone(),
                    c["syn_retransmits"].clone(),
                )
            })
            .collect()
    };
    let base = strip(&common::json_report(&dir.join("direct-ok.eth.pcap")));
    for variant in ["direct-ok.eth.pcapng", "direct-ok.sll.pcap", "direct-ok.vlan.pcap"] {
        assert_eq!(strip(&common::json_report(&dir.join(variant))), base, "{variant}");
    }
}
