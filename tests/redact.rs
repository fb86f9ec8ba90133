//! `--redact`: no internal address, host name or site detail of any capture in
//! captures/ reaches any output format, the required endpoints stay, and what
//! the report concludes is unchanged.
//!
//! What counts as internal is taken from the capture's unredacted report: every
//! address that appears in its connections and DNS answers, every name asked or
//! connected to, minus what the redacted report may keep (required endpoints,
//! their addresses, what required names resolved to).

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

const KEY: (&str, &str) = ("CAPDOC_REDACT_KEY", "test passphrase");

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_capdoc"))
        .args(args)
        .env(KEY.0, KEY.1)
        .output()
        .expect("capdoc runs")
}

fn host_of(endpoint: &str) -> String {
    match endpoint.parse::<std::net::SocketAddr>() {
        Ok(sa) => sa.ip().to_string(),
        Err(_) => endpoint.to_string(),
    }
}

/// Whether `word` occurs in `text` as a whole address or name.
fn occurs(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let after_rest = &text[at + word.len()..];
        // `name.` at the end of a sentence still counts.
        let after_ok = match after {
            Some('.') | Some(':') => after_rest[1..]
                .chars()
                .next()
                .is_none_or(|c| !c.is_ascii_alphanumeric()),
            Some(c) => !part(c),
            None => true,
        };
        before.is_none_or(|c| !part(c)) && after_ok
    })
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// What the unredacted report reveals, and what the redacted one may keep.
struct Secrets {
    internal: BTreeSet<String>,
}

fn secrets(plain: &Value, redacted: &Value) -> Secrets {
    let mut seen = BTreeSet::new();
    for c in plain["connections"].as_array().unwrap() {
        seen.insert(host_of(c["client"].as_str().unwrap()));
        seen.insert(host_of(c["server"].as_str().unwrap()));
    }
    for a in plain["attempts"].as_array().unwrap() {
        seen.insert(host_of(a["client"].as_str().unwrap()));
        seen.extend(a["destination"]["name"].as_str().map(str::to_string));
        seen.extend(a["destination"]["ip"].as_str().map(str::to_string));
        seen.extend(a["proxy"].as_str().map(host_of));
        seen.extend(a["tls"]["sni"].as_str().map(str::to_string));
    }
    for l in plain["dns"].as_array().unwrap() {
        seen.insert(l["name"].as_str().unwrap().to_string());
        for a in l["addresses"].as_array().unwrap() {
            seen.insert(a.as_str().unwrap().to_string());
        }
    }
    let c = &plain["capture"];
    for field in [&c["application"], &c["os"]] {
        seen.extend(field.as_str().map(str::to_string));
    }
    for i in c["interfaces"].as_array().unwrap() {
        seen.extend(i["name"].as_str().map(str::to_string));
    }
    for name in c["windows"]["counted_on"].as_array().unwrap() {
        seen.insert(name.as_str().unwrap().to_string());
    }
    // What may stay: required endpoints and the addresses required names resolved to.
    let mut kept = BTreeSet::new();
    for a in redacted["attempts"].as_array().unwrap() {
        if !a["required"].is_null() {
            kept.extend(a["destination"]["name"].as_str().map(str::to_string));
            if a["path"] == "direct" {
                kept.extend(a["destination"]["ip"].as_str().map(str::to_string));
            }
        }
    }
    for l in redacted["dns"].as_array().unwrap() {
        let name = l["name"].as_str().unwrap();
        if !name.ends_with(".redacted.invalid") {
            kept.insert(name.to_string());
            kept.extend(
                l["addresses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_string()),
            );
        }
    }
    // Names of the required-URL table are public whatever the capture did.
    let internal = seen
        .into_iter()
        .filter(|s| !s.is_empty() && !kept.contains(s))
        .filter(|s| !s.ends_with(".msappproxy.net") && !s.ends_with(".servicebus.windows.net"))
        .collect();
    Secrets { internal }
}

#[test]
fn no_internal_address_or_name_reaches_any_format() {
    let mut checked = 0;
    for capture in common::own_captures() {
        let path = capture.to_str().unwrap();
        let plain = common::json_report(&capture);
        if plain["error"].is_string() {
            continue;
        }
        let redacted_out = run(&["analyze", "--redact", "--format", "json", path]);
        let redacted: Value = serde_json::from_slice(&redacted_out.stdout).unwrap();
        let s = secrets(&plain, &redacted);
        let dir = capture.parent().unwrap().to_str().unwrap();
        for format in ["json", "text", "md", "html"] {
            let out = run(&["analyze", "--redact", "--color", "never", "--format", format, path]);
            let all = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
            for secret in &s.internal {
                assert!(
                    !occurs(&all, secret),
                    "{}: --redact --format {format} shows {secret:?}",
                    common::short(&capture)
                );
            }
            assert!(
                !all.contains(dir),
                "{}: --format {format} shows the directory",
                common::short(&capture)
            );
            checked += s.internal.len();
        }
        // The conclusions do not change.
        assert_eq!(plain["verdict"]["status"], redacted["verdict"]["status"]);
        let codes = |r: &Value| -> Vec<String> {
            r["findings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["code"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(codes(&plain), codes(&redacted), "{}", common::short(&capture));
        assert_eq!(
            plain["attempts"].as_array().unwrap().len(),
            redacted["attempts"].as_array().unwrap().len()
        );
        for (p, r) in plain["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .zip(redacted["attempts"].as_array().unwrap())
        {
            assert_eq!(p["outcome"], r["outcome"]);
            assert_eq!(p["required"], r["required"], "required endpoints stay named");
            if !p["required"].is_null() {
                assert_eq!(p["destination"]["name"], r["destination"]["name"]);
            }
        }
    }
    assert!(checked > 100, "only {checked} checks: the test would prove little");
}

#[test]
fn pseudonyms_are_consistent_within_a_run_and_keyed() {
    let capture = common::project_dir().join("captures/proxy-auth-407.eth.pcap");
    let path = capture.to_str().unwrap();
    let once = run(&["analyze", "--redact", "--format", "json", path]);
    let twice = run(&["analyze", "--redact", "--format", "json", path, path]);
    let one: Value = serde_json::from_slice(&once.stdout).unwrap();
    let both: Value = serde_json::from_slice(&twice.stdout).unwrap();
    assert_eq!(
        both[0]["attempts"], both[1]["attempts"],
        "one run, one pseudonym per address"
    );
    assert_eq!(
        one["attempts"], both[0]["attempts"],
        "the same key gives the same pseudonyms"
    );
    let proxy = one["attempts"][0]["proxy"].as_str().unwrap();
    assert!(
        proxy.starts_with("24") || proxy.starts_with("25"),
        "{proxy}: from 240.0.0.0/4"
    );

    // Without CAPDOC_REDACT_KEY the key is random: another run, other pseudonyms.
    let random = |_: ()| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_capdoc"))
            .args(["analyze", "--redact", "--format", "json", path])
            .env_remove(KEY.0)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["attempts"][0]["proxy"].as_str().unwrap().to_string()
    };
    assert_ne!(random(()), random(()));

    // diff lines up: the same destinations on both sides, no change reported.
    let diff = run(&["diff", "--redact", "--format", "json", path, path]);
    let d: Value = serde_json::from_slice(&diff.stdout).unwrap();
    let mut all = Vec::new();
    strings(&d, &mut all);
    assert!(
        !all.iter().any(|s| occurs(s, "192.0.2.10")),
        "diff output is redacted too"
    );
}

#[test]
fn batch_outputs_are_redacted() {
    let dir = common::temp_dir("redact-batch");
    let capture = common::project_dir().join("captures/proxy-wpad.eth.pcap");
    let plain = common::json_report(&capture);
    let out = run(&[
        "analyze",
        "--redact",
        "-q",
        "-o",
        dir.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    let redacted: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("proxy-wpad.eth.pcap.capdoc.json")).expect("json written"),
    )
    .unwrap();
    let s = secrets(&plain, &redacted);
    assert!(!s.internal.is_empty());
    for entry in std::fs::read_dir(&dir).unwrap() {
        let file = entry.unwrap().path();
        let text = std::fs::read_to_string(&file).unwrap();
        for secret in &s.internal {
            assert!(!occurs(&text, secret), "{}: shows {secret:?}", file.display());
        }
        assert!(
            !text.contains(capture.parent().unwrap().to_str().unwrap()),
            "{}",
            file.display()
        );
    }
}
