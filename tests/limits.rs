//! The documented limits hold against crafted captures (README, "Limits"): a SYN
//! flood from thousands of addresses, and records that claim 4 GiB. When a limit
//! is hit the report says so, and what was analysed up to it stays correct.

mod common;

use std::path::{Path, PathBuf};

use etherparse::PacketBuilder;
use serde_json::Value;

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

/// A classic pcap (microsecond, Ethernet) written record by record.
struct Pcap(Vec<u8>);

impl Pcap {
    fn new() -> Self {
        let mut b = Vec::new();
        b.extend(0xa1b2_c3d4u32.to_le_bytes());
        b.extend(2u16.to_le_bytes());
        b.extend(4u16.to_le_bytes());
        b.extend([0; 8]);
        b.extend(65_535u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        Pcap(b)
    }

    fn record(&mut self, micros: u64, frame: &[u8]) {
        self.0.extend(((micros / 1_000_000) as u32).to_le_bytes());
        self.0.extend(((micros % 1_000_000) as u32).to_le_bytes());
        self.0.extend((frame.len() as u32).to_le_bytes());
        self.0.extend((frame.len() as u32).to_le_bytes());
        self.0.extend(frame);
    }

    /// A segment without payload: a SYN (`ack` None) or an ACK, a SYN-ACK with `syn`.
    fn tcp(&mut self, micros: u64, src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, ack: Option<u32>, syn: bool) {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(src.0, dst.0, 64)
            .tcp(src.1, dst.1, seq, 64_240);
        let b = match (syn, ack) {
            (true, None) => b.syn(),
            (true, Some(ack)) => b.syn().ack(ack),
            (false, ack) => b.ack(ack.unwrap_or(0)),
        };
        let mut frame = Vec::new();
        b.write(&mut frame, &[]).unwrap();
        self.record(micros, &frame);
    }

    fn save(&self, tag: &str) -> PathBuf {
        let path = common::temp_dir(tag).join(format!("{tag}.pcap"));
        std::fs::write(&path, &self.0).unwrap();
        path
    }
}

const CONNECTOR: [u8; 4] = [192, 0, 2, 10];
const VICTIM: ([u8; 4], u16) = ([192, 0, 2, 80], 443);

/// One answered connection from the connector, then `syns` SYNs from
/// addresses all over 198.51.100.0/24 and 203.0.113.0/24 to one server.
fn syn_flood(syns: u32) -> Pcap {
    let mut p = Pcap::new();
    let service = ([203, 0, 113, 200], 443);
    p.tcp(1_000, (CONNECTOR, 50_000), service, 1000, None, true);
    p.tcp(21_000, service, (CONNECTOR, 50_000), 7000, Some(1001), true);
    p.tcp(21_100, (CONNECTOR, 50_000), service, 1001, Some(7001), false);
    let mut x: u32 = 0x1234_5678;
    for i in 0..syns {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let net = if x & 1 == 0 { [198, 51, 100] } else { [203, 0, 113] };
        let src = (
            [net[0], net[1], net[2], (x >> 8) as u8 | 1],
            1024 + (x >> 16) as u16 % 60_000,
        );
        p.tcp(100_000 + u64::from(i) * 10, src, VICTIM, x, None, true);
    }
    // The capture goes on long enough for the missing answers to count.
    p.tcp(5_000_000, (CONNECTOR, 50_000), service, 1001, Some(7001), false);
    p
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The report, groups and limits included, matches the documented schema.
fn valid(report: &Value) {
    let path = common::project_dir().join("docs/report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

fn limits_hit(report: &Value) -> Vec<&str> {
    report["capture"]["limits_hit"]
        .as_array()
        .map(|hits| hits.iter().filter_map(|h| h["limit"].as_str()).collect())
        .unwrap_or_default()
}

fn analyse(path: &Path, extra: &[&str]) -> (Value, std::process::Output) {
    let mut args = vec!["analyze", "--format", "json"];
    args.extend(extra);
    let path = path.to_str().unwrap();
    args.push(path);
    let out = common::capdoc(&args);
    (json(&out), out)
}

#[test]
fn a_syn_flood_is_tracked_up_to_the_connection_limit_and_counted_beyond_it() {
    const SYNS: u32 = 30_000;
    const TRACKED: u64 = 20_000;
    let path = syn_flood(SYNS).save("syn-flood");
    let (r, out) = analyse(&path, &["--max-connections", "20000", "--max-listed", "500"]);
    assert_eq!(out.status.code(), Some(1), "the flood's unanswered SYNs are errors");
    assert_eq!(r["capture"]["packets"], u64::from(SYNS) + 4);
    valid(&r);
    let hits = limits_hit(&r);
    assert!(
        hits.contains(&"--max-connections") && hits.contains(&"--max-listed"),
        "{hits:?}"
    );

    // Every tracked connection is an attempt: listed, or counted in a group.
    let attempts = r["attempts"].as_array().unwrap();
    let groups = r["attempt_groups"].as_array().unwrap();
    assert!(attempts.len() <= 500);
    let counted: u64 = groups.iter().map(|g| g["count"].as_u64().unwrap()).sum();
    assert_eq!(attempts.len() as u64 + counted, TRACKED);
    assert_eq!(r["connections"].as_array().unwrap().len(), 500);
    assert_eq!(r["connections_unlisted"], TRACKED - 500);

    // The connector's one good connection stays listed beside the flood.
    let ok: Vec<&Value> = attempts.iter().filter(|a| a["outcome"] == "ok").collect();
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0]["destination"]["ip"], "203.0.113.200");

    // The flood is one group: the victim, unanswered, with the listed ones beside it.
    let [flood] = &groups[..] else { panic!("{groups:#?}") };
    assert_eq!(flood["destination"]["ip"], "192.0.2.80");
    assert_eq!(flood["outcome"], "syn_unanswered");
    assert_eq!(
        flood["count"].as_u64().unwrap() + flood["listed"].as_u64().unwrap(),
        TRACKED - 1
    );

    // The finding about the victim counts what it does not list.
    let finding = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "syn-unanswered")
        .expect("syn-unanswered");
    let listed = finding["attempts"].as_array().unwrap().len() as u64;
    assert_eq!(listed + finding["unlisted_attempts"].as_u64().unwrap(), TRACKED - 1);

    // Every format says so.
    let text = common::capdoc(&[
        "analyze",
        "--max-connections",
        "20000",
        "--max-listed",
        "500",
        path.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("limit reached (--max-connections 20000)"), "{text}");
    assert!(text.contains("192.0.2.80:443"), "{text}");
    assert!(
        text.contains(&format!("{} more", flood["count"])),
        "the text names the unlisted count:\n{text}"
    );
}

#[test]
fn the_flood_within_the_default_limits_is_analysed_whole() {
    let path = syn_flood(3_000).save("small-flood");
    let (r, _) = analyse(&path, &[]);
    assert!(limits_hit(&r).is_empty(), "{:?}", r["capture"]["limits_hit"]);
    assert_eq!(r["attempts"].as_array().unwrap().len(), 3_001);
    assert!(r.get("attempt_groups").is_none());
}

/// Section header, one Ethernet interface, one packet, then a block that claims
/// `claimed` bytes followed by a few real bytes.
fn pcapng_with_claim(claimed: u32) -> Vec<u8> {
    let block = |kind: u32, body: &[u8]| {
        let len = 12 + body.len() as u32;
        let mut b = Vec::new();
        b.extend(kind.to_le_bytes());
        b.extend(len.to_le_bytes());
        b.extend(body);
        b.extend(len.to_le_bytes());
        b
    };
    let mut shb = Vec::new();
    shb.extend(0x1a2b_3c4du32.to_le_bytes());
    shb.extend(1u16.to_le_bytes());
    shb.extend(0u16.to_le_bytes());
    shb.extend((-1i64).to_le_bytes());
    let mut idb = Vec::new();
    idb.extend(1u16.to_le_bytes());
    idb.extend(0u16.to_le_bytes());
    idb.extend(65_535u32.to_le_bytes());
    let mut frame = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(CONNECTOR, VICTIM.0, 64)
        .tcp(50_000, 443, 1, 64_240)
        .syn()
        .write(&mut frame, &[])
        .unwrap();
    frame.resize(frame.len().next_multiple_of(4), 0);
    let mut epb = Vec::new();
    epb.extend(0u32.to_le_bytes());
    epb.extend(0u32.to_le_bytes());
    epb.extend(1_000_000u32.to_le_bytes());
    epb.extend(54u32.to_le_bytes());
    epb.extend(54u32.to_le_bytes());
    epb.extend(&frame);
    let mut file = [block(0x0a0d_0d0a, &shb), block(1, &idb), block(6, &epb)].concat();
    file.extend(6u32.to_le_bytes());
    file.extend(claimed.to_le_bytes());
    file.extend([0u8; 64]);
    file
}

#[test]
fn a_block_claiming_4_gib_ends_the_file_with_a_warning_naming_its_offset() {
    let bytes = pcapng_with_claim(0xffff_fffc);
    let offset = bytes.len() - 72;
    let path = common::temp_dir("block-4g").join("block-4g.pcapng");
    std::fs::write(&path, &bytes).unwrap();
    let (r, out) = analyse(&path, &[]);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    assert_eq!(r["capture"]["packets"], 1, "the packet before the claim is read");
    assert_eq!(r["capture"]["cut_at_offset"], offset as u64);
    let warnings = r["capture"]["warnings"].to_string();
    assert!(
        warnings.contains(&format!("block at offset {offset} claims 4294967292 bytes")),
        "{warnings}"
    );
}

#[test]
fn a_pcap_record_claiming_4_gib_ends_the_file_with_a_warning() {
    let mut p = syn_flood(2);
    let offset = p.0.len();
    p.0.extend([0u8; 8]);
    p.0.extend(u32::MAX.to_le_bytes());
    p.0.extend(u32::MAX.to_le_bytes());
    p.0.extend([0u8; 100]);
    let path = p.save("record-4g");
    let (r, _) = analyse(&path, &[]);
    assert_eq!(r["capture"]["packets"], 6);
    assert_eq!(r["capture"]["cut_at_offset"], offset as u64);
    assert!(r["capture"]["warnings"]
        .to_string()
        .contains(&format!("record at offset {offset} claims 4294967295 captured bytes")));
}

#[test]
fn max_record_is_a_flag() {
    // The same well-formed file, with a limit below its first packet block (84 bytes).
    let path = common::temp_dir("max-record").join("max-record.pcapng");
    std::fs::write(&path, pcapng_with_claim(16)).unwrap();
    let (r, _) = analyse(&path, &["--max-record", "64"]);
    assert_eq!(r["capture"]["packets"], 0);
    assert!(r["capture"]["warnings"]
        .to_string()
        .contains("over the limit of 64 bytes"));
    let bad = common::capdoc(&["analyze", "--max-record", "lots", path.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a size"));
}

#[test]
fn too_many_findings_are_cut_to_the_most_severe() {
    // 40 destinations, each unanswered: one finding each, and more.
    let mut p = Pcap::new();
    for i in 0..40u8 {
        p.tcp(
            1_000 + u64::from(i) * 10,
            (CONNECTOR, 40_000 + u16::from(i)),
            ([203, 0, 113, i + 1], 443),
            9,
            None,
            true,
        );
    }
    p.tcp(9_000_000, (CONNECTOR, 39_999), ([203, 0, 113, 1], 443), 11, None, true);
    let path = p.save("many-findings");
    let (all, _) = analyse(&path, &[]);
    let total = all["findings"].as_array().unwrap().len();
    assert!(total > 10, "{total}");
    let (cut, _) = analyse(&path, &["--max-findings", "10"]);
    let findings = cut["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 10);
    assert_eq!(
        findings[..],
        all["findings"].as_array().unwrap()[..10],
        "the first ten, in the same order"
    );
    assert!(limits_hit(&cut).contains(&"--max-findings"));
}

#[test]
fn frames_nested_deeper_than_the_vlan_limit_are_skipped_and_counted() {
    let mut p = Pcap::new();
    let mut syn = Vec::new();
    PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4(CONNECTOR, VICTIM.0, 64)
        .tcp(50_000, 443, 1, 64_240)
        .syn()
        .write(&mut syn, &[])
        .unwrap();
    for tags in [2usize, 5] {
        // MACs, then `tags` 802.1Q tags, then the EtherType and the IP packet.
        let mut frame = syn[..12].to_vec();
        for _ in 0..tags {
            frame.extend([0x81, 0x00, 0x00, 0x0a]);
        }
        frame.extend(&syn[12..]);
        p.record(1_000 * tags as u64, &frame);
    }
    let path = p.save("vlan-depth");
    let (r, _) = analyse(&path, &[]);
    valid(&r);
    assert_eq!(
        r["connections"].as_array().unwrap().len(),
        1,
        "QinQ is read, five tags are not"
    );
    let hit = r["capture"]["limits_hit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["limit"] == "VLAN tags")
        .expect("the limit is reported");
    assert_eq!(hit["value"], 4);
    assert_eq!(hit["effect"], "1 frame with more stacked VLAN tags was skipped");
}
