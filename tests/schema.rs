//! Every report capdoc writes validates against the JSON schema: the minimum
//! shape other tools rely on (../shared/report.schema.json) and the project's
//! published copy (docs/report.schema.json).

mod common;

use serde_json::Value;

fn validators() -> Vec<(String, jsonschema::Validator)> {
    let mut paths = vec![common::project_dir().join("docs/report.schema.json")];
    match common::shared_dir() {
        Some(shared) => paths.push(shared.join("report.schema.json")),
        None => common::skip("../shared/report.schema.json"),
    }
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .expect("schema compiles");
            (p.display().to_string(), validator)
        })
        .collect()
}

fn check(report: &Value, name: &str, validators: &[(String, jsonschema::Validator)]) {
    for (schema, v) in validators {
        let errors: Vec<String> = v
            .iter_errors(report)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{name} does not match {schema}:\n{}",
            errors.join("\n")
        );
    }
}

#[test]
fn reports_of_all_captures_match_the_schema() {
    let validators = validators();
    let mut files = common::own_captures();
    files.extend(common::public_captures());
    for file in &files {
        check(&common::json_report(file), &common::short(file), &validators);
    }
}

#[test]
fn the_schema_rejects_a_wrong_report() {
    // Guards the test above against a validator that accepts anything.
    let validators = validators();
    let mut files = common::own_captures();
    files.extend(common::public_captures());
    let file = files.iter().find(|f| {
        common::json_report(f)["attempts"]
            .as_array()
            .is_some_and(|a| !a.is_empty())
    });
    let Some(file) = file else {
        return common::skip("a capture with attempts");
    };
    let mut report = common::json_report(file);
    report["attempts"][0]["outcome"] = Value::from("blocked-ish");
    for (schema, v) in &validators {
        assert!(!v.is_valid(&report), "{schema} accepted an unknown outcome");
    }
}

#[test]
fn error_reports_match_the_schema() {
    let validators = validators();
    let dir = std::env::temp_dir().join(format!("capdoc-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bogus = dir.join("notes.txt");
    std::fs::write(&bogus, "not a capture at all").expect("write");
    let report = common::json_report(&bogus);
    assert!(
        report["error"].as_str().is_some_and(|e| e.contains("not a capture")),
        "{report}"
    );
    check(&report, "error report", &validators);
    std::fs::remove_dir_all(&dir).ok();
}
