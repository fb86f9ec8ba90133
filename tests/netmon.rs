//! Network Monitor 2.x files (what Network Monitor and Message Analyzer saved)
//! give the same attempts as the capture they were converted from. The .cap
//! files are written at test time by Wireshark's editcap from our own captures.

mod common;

use std::process::Command;

#[test]
fn netmon_copy_reports_the_same_attempts() {
    if Command::new("editcap").arg("-h").output().is_err() {
        return common::skip("editcap (Wireshark)");
    }
    let dir = std::env::temp_dir().join(format!("capdoc-netmon-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut compared = 0;
    for name in [
        "rst.eth.pcap",
        "syn-dropped.eth.pcap",
        "connector-blocked.pcapng",
        "direct-ok.vlan.pcap",
    ] {
        let source = common::project_dir().join("captures").join(name);
        let cap = dir.join(format!("{name}.cap"));
        let status = Command::new("editcap")
            .args(["-F", "netmon2"])
            .arg(&source)
            .arg(&cap)
            .status()
            .expect("editcap");
        assert!(status.success(), "editcap could not write {name} as netmon2");
        let original = common::json_report(&source);
        let netmon = common::json_report(&cap);
        assert_eq!(netmon["capture"]["format"], "netmon", "{name}");
        assert_eq!(netmon["capture"]["packets"], original["capture"]["packets"], "{name}");
        // Network Monitor stores the start time in milliseconds and offsets in
        // microseconds, so times may differ from the original by a microsecond.
        let starts = |r: &serde_json::Value| -> Vec<String> {
            r["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["start"].as_str().unwrap()[..23].to_string())
                .collect()
        };
        assert_eq!(starts(&netmon), starts(&original), "{name}: start, to the millisecond");
        for key in ["destination", "outcome", "frames", "syn_retransmits", "conn_state"] {
            let pick = |r: &serde_json::Value| -> Vec<serde_json::Value> {
                r["attempts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a[key].clone())
                    .collect()
            };
            assert_eq!(pick(&netmon), pick(&original), "{name}: {key}");
        }
        compared += 1;
    }
    assert_eq!(compared, 4);
    std::fs::remove_dir_all(&dir).ok();
}
