//! Captures in the layout Windows tools write (captures/pktmon_reframe.py
//! re-frames the real packets of captures/syn-dropped.eth.pcap) give the same
//! attempts, outcomes and findings as the tcpdump capture of the same traffic,
//! plus what only Windows records.

mod common;

use serde_json::Value;

fn report(name: &str) -> Value {
    common::json_report(&common::project_dir().join("captures").join(name))
}

fn essentials(r: &Value) -> Vec<(Value, Value, Value, Value)> {
    r["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["destination"].clone(),
                a["syn_retransmits"].clone(),
                a["conn_state"].clone(),
                a["start"].clone(),
            )
        })
        .collect()
}

fn codes(r: &Value) -> Vec<String> {
    let mut c: Vec<String> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    c.retain(|code| code != "capture-duplicates" && code != "capture-truncated");
    c.sort();
    c
}

#[test]
fn pktmon_layouts_match_the_tcpdump_capture() {
    let tcpdump = report("syn-dropped.eth.pcap");
    for name in [
        "pktmon-blocked.etl2pcapng.pcapng",
        "pktmon-rawip.etl2pcapng.pcapng",
        "pktmon-truncated.etl2pcapng.pcapng",
        "pktmon-etl2pcap.pcapng",
    ] {
        let windows = report(name);
        assert_eq!(essentials(&windows), essentials(&tcpdump), "{name}: attempts");
        let outcomes = |r: &Value| -> Vec<Value> {
            r["attempts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["outcome"].clone())
                .collect()
        };
        assert_eq!(outcomes(&windows), outcomes(&tcpdump), "{name}: outcomes");
        assert_eq!(codes(&windows), codes(&tcpdump), "{name}: findings");
        assert_eq!(
            windows["capture"]["unique_packets"], tcpdump["capture"]["packets"],
            "{name}: each packet counted once"
        );
    }
}

#[test]
fn local_drop_is_reported_as_local_with_pids() {
    let r = report("pktmon-local-drop.etl2pcapng.pcapng");
    let attempts = r["attempts"].as_array().unwrap();
    assert!(!attempts.is_empty());
    assert!(attempts.iter().all(|a| a["outcome"] == "dropped_locally"), "{r}");
    assert!(
        attempts.iter().all(|a| a["pid"] == 1234),
        "PIDs from the capture metadata"
    );
    assert_eq!(r["findings"][0]["code"], "dropped-locally");
    assert!(
        r["findings"][0]["detail"].as_str().unwrap().contains("WFP"),
        "names the component"
    );
    assert!(r["capture"]["windows"]["dropped_frames"].as_u64().unwrap() > 0);
}

#[test]
fn truncation_says_what_it_hides_and_how_to_recapture() {
    let r = report("pktmon-truncated.etl2pcapng.pcapng");
    let f = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "capture-truncated")
        .expect("reported");
    assert!(f["detail"].as_str().unwrap().contains("TLS server name"));
    assert!(f["remediation"]
        .as_str()
        .unwrap()
        .contains("pktmon start --capture --comp nics --pkt-size 0"));
}
