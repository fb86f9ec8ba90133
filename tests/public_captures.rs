//! Every public capture in ../shared/captures/public is read without a panic,
//! its report has the documented shape, and facts that PROVENANCE.md records
//! about some of them hold.

mod common;

use std::path::Path;

#[test]
fn every_public_capture_is_analysed() {
    let files = common::public_captures();
    for file in &files {
        let report = common::json_report(file);
        let name = common::short(file);
        assert!(report["error"].is_null(), "{name}: {}", report["error"]);
        assert_eq!(report["schema"], 1, "{name}");
    }
    if !files.is_empty() {
        assert!(files.len() >= 40, "only {} public captures found", files.len());
    }
}

fn public(rel: &str) -> Option<std::path::PathBuf> {
    let path = common::shared_dir()?.join("captures/public").join(rel);
    path.exists().then_some(path)
}

fn report_of(rel: &str) -> Option<serde_json::Value> {
    match public(rel) {
        Some(p) => Some(common::json_report(Path::new(&p))),
        None => {
            common::skip(rel);
            None
        }
    }
}

#[test]
fn cut_off_file_reports_the_offset() {
    // PROVENANCE: "cut short in the middle of the second record".
    let Some(r) = report_of("ndpi/fuzz-2021-10-13.pcap") else {
        return;
    };
    let warnings = r["capture"]["warnings"].to_string();
    assert!(warnings.contains("offset 24"), "{warnings}");
    // The FCS bits of the link-type field are masked off: NULL/loopback.
    assert_eq!(r["capture"]["link_types"][0], "NULL");
}

#[test]
fn capture_duplicate_syn_is_not_a_retransmit() {
    // PROVENANCE: the second SYN is a capture duplicate 6 ms later.
    let Some(r) = report_of("ndpi/psiphon3.pcap") else {
        return;
    };
    assert_eq!(r["attempts"][0]["syn_retransmits"], 0);
    assert!(r["capture"]["duplicates_folded"].as_u64().unwrap_or(0) >= 1);
    assert!(r["findings"].to_string().contains("capture-duplicates"));
}

#[test]
fn syn_abandoned_by_its_own_client_is_not_a_reset() {
    // PROVENANCE: the RST comes from the originator 0.3 ms after its SYN (Zeek: RSTOS0).
    let Some(r) = report_of("zeek/syn-then-rst.pcap") else {
        return;
    };
    let a = &r["attempts"][0];
    assert_eq!(a["conn_state"], "RSTOS0");
    assert_eq!(a["outcome"], "incomplete");
    assert_eq!(r["verdict"]["status"], "inconclusive");
}

#[test]
fn vlan_syn_retransmit_is_counted() {
    // PROVENANCE: 802.1Q VLAN 3136, SYN to port 80 retransmitted after ~1 s, then answered.
    let Some(r) = report_of("suricata-verify/bug-4376/syn_retransmit_with_ts.pcap") else {
        return;
    };
    let a = &r["attempts"][0];
    assert_eq!(a["syn_retransmits"], 1);
    assert_eq!(a["outcome"], "ok");
    assert!(r["findings"].to_string().contains("slow-handshake"));
}

#[test]
fn fragmented_request_is_reassembled() {
    // PROVENANCE: an HTTP request in 11 IPv4 fragments.
    let Some(r) = report_of("pcapplusplus/frag_http_req.pcap") else {
        return;
    };
    let c = &r["connections"][0];
    assert!(c["client_bytes"].as_u64().unwrap_or(0) > 1000, "{c}");
}

#[test]
fn unsupported_link_type_is_named_not_fatal() {
    let Some(r) = report_of("pcapplusplus/microsecs_big_endian.pcap") else {
        return;
    };
    assert!(r["error"].is_null());
    assert_eq!(r["capture"]["unsupported_link_frames"][0]["link_type"], "NETLINK");
    assert!(r["findings"].to_string().contains("capture-unsupported-link"));
}

#[test]
fn multi_interface_pcapng_keeps_each_link_type() {
    let Some(r) = report_of("pcapplusplus/many_interfaces-1.pcapng") else {
        return;
    };
    assert_eq!(r["capture"]["interfaces"].as_array().map(Vec::len), Some(11));
    let links = r["capture"]["link_types"].to_string();
    assert!(
        links.contains("ETHERNET") && links.contains("NULL") && links.contains("RAW"),
        "{links}"
    );
}

fn wpad_lookups(r: &serde_json::Value, protocol: &str) -> usize {
    r["dns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["protocol"] == protocol && l["name"].as_str().unwrap().starts_with("wpad"))
        .count()
}

#[test]
fn wpad_lookups_over_netbios_llmnr_and_dns() {
    // PROVENANCE: sll.pcap has 3 NBNS queries for WPAD<00>; DnsPackets.pcap has
    // 8 packets asking "wpad" (LLMNR) and 4 for "wpad.HOME" (2 questions, 2 NXDOMAIN answers).
    let Some(sll) = report_of("pcapplusplus/sll.pcap") else {
        return;
    };
    assert_eq!(wpad_lookups(&sll, "nbns"), 3);
    let Some(dns) = report_of("pcapplusplus/DnsPackets.pcap") else {
        return;
    };
    assert_eq!(wpad_lookups(&dns, "llmnr"), 8);
    assert_eq!(wpad_lookups(&dns, "dns"), 2);
    let home = dns["dns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "wpad.home")
        .unwrap();
    assert_eq!(home["rcode"], "NXDOMAIN");
}
