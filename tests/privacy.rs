//! Credentials captured on the wire never appear in any output format.
//! The expected files name the secrets their capture carries (generate-proxy.sh
//! sends them with curl --proxy-user), and the test first checks that they are
//! really in the capture, so it cannot pass by testing nothing.

mod common;

use serde_json::Value;

#[test]
fn no_credential_reaches_any_output() {
    let mut checked = 0;
    for expected_path in common::own_captures()
        .iter()
        .map(|c| std::path::PathBuf::from(format!("{}.expected.json", c.display())))
        .filter(|p| p.exists())
    {
        let expected: Value = serde_json::from_str(&std::fs::read_to_string(&expected_path).unwrap()).unwrap();
        let Some(secrets) = expected["secrets"].as_array() else {
            continue;
        };
        let capture = expected_path
            .to_string_lossy()
            .trim_end_matches(".expected.json")
            .to_string();
        let raw = std::fs::read(&capture).unwrap();
        for secret in secrets.iter().filter_map(Value::as_str) {
            assert!(
                raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{capture}: the secret {secret:?} is not in the capture, so this test would prove nothing"
            );
            for format in ["text", "json", "jsonl"] {
                let out = common::capdoc(&["analyze", "--format", format, &capture]);
                let all = [out.stdout, out.stderr].concat();
                assert!(
                    !all.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{capture}: --format {format} printed a credential"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 0, "no capture with a credential was checked");
}
