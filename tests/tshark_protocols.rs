//! Differential test of the protocol stage against tshark, on every capture
//! (ours and ../shared/captures/public): CONNECT targets, the codes that
//! answered them, TLS server names, and DNS answers.
//!
//! Known differences are listed per file with the reason.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Files where capdoc and tshark legitimately disagree on one of the lists, and why.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "captures/pktmon-truncated.etl2pcapng.pcapng",
        "dns",
        "the DNS answer for contoso.msappproxy.net is cut at 128 bytes: tshark lists the name without addresses, \
         capdoc does not read a cut message",
    ),
    (
        "suricata-verify/bug-7851-01/connect.pcap",
        "connect",
        "\"CONNECT / HTTP/1.1\" names no host:port; tshark lists \"/\" as the target, capdoc does not count it as a CONNECT",
    ),
    (
        "captures/proxy-credentials.eth.pcap",
        "connect",
        "two CONNECT targets carry hostile bytes: tshark shows every byte above 0x7f as U+FFFD (even valid UTF-8 such as \
         U+009B and U+202E), keeps controls raw and ends the target at its CR; capdoc escapes controls as \\xNN and bidi \
         overrides as \\u{NNNN} (src/untrusted.rs) and reads the whole target",
    ),
    (
        "captures/proxy-credentials.eth.pcap",
        "codes",
        "the same two CONNECT targets, rendered as above; the codes (400, 500, 200, 200) agree",
    ),
    (
        "captures/proxy-credentials.eth.pcap",
        "sni",
        "an SNI with ESC, BEL, CR and the bytes FF FE: tshark keeps the controls raw (CR as \\r), capdoc escapes them as \\xNN; \
         both show FF FE as U+FFFD",
    ),
];

fn tshark(file: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(file)
        .args(["-Y", filter, "-T", "fields", "-E", "separator=|", "-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('|').map(str::to_string).collect())
        .collect()
}

fn count<I: IntoIterator<Item = String>>(items: I) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

struct Lists {
    connect: BTreeMap<String, usize>,
    codes: BTreeMap<String, usize>,
    sni: BTreeMap<String, usize>,
    /// (asked name, addresses) per answer.
    dns: Vec<(String, Vec<String>)>,
}

/// Same answers by name, and every address capdoc gives is one tshark shows.
fn same_dns(theirs: &[(String, Vec<String>)], ours: &[(String, Vec<String>)]) -> bool {
    // As sets: a capture that logged one answer at several points (pktmon
    // components) shows it several times to tshark and once to capdoc.
    let mut t = theirs.to_vec();
    let mut o = ours.to_vec();
    t.sort();
    t.dedup();
    o.sort();
    o.dedup();
    t.len() == o.len()
        && t.iter().zip(&o).all(|((tn, ta), (on, oa))| {
            tn == on && oa.iter().all(|a| ta.contains(a)) && (oa.is_empty() == ta.is_empty())
        })
}

fn theirs(file: &Path) -> Lists {
    let connect = count(
        tshark(file, "http.request.method==\"CONNECT\"", &["http.request.uri"])
            .into_iter()
            .map(|r| r[0].to_ascii_lowercase()),
    );
    // Responses to CONNECT: their request URI is an authority, not a URL or a path.
    let codes = count(
        tshark(file, "http.response", &["http.response_for.uri", "http.response.code"])
            .into_iter()
            .filter(|r| r.len() == 2 && !r[0].is_empty() && !r[0].contains("://") && !r[0].starts_with('/'))
            .map(|r| format!("{} {}", r[0].to_ascii_lowercase(), r[1])),
    );
    let sni = count(
        tshark(file, "tls.handshake.type==1", &["tls.handshake.extensions_server_name"])
            .into_iter()
            .filter(|r| !r[0].is_empty())
            .map(|r| r[0].to_ascii_lowercase()),
    );
    // tshark's dns.a/dns.aaaa also hold glue records from the authority and
    // additional sections; capdoc keeps the addresses of the asked name only.
    // So names are compared exactly and capdoc's addresses must be among tshark's.
    let dns = tshark(
        file,
        "dns.flags.response==1 && dns.flags.rcode==0 && (udp.port==53 || tcp.port==53 || udp.port==5355)",
        &["dns.qry.name", "dns.a", "dns.aaaa"],
    )
    .into_iter()
    .map(|r| {
        let addrs: Vec<String> = r[1..]
            .iter()
            .flat_map(|f| f.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        (r[0].to_ascii_lowercase(), addrs)
    })
    .collect();
    Lists {
        connect,
        codes,
        sni,
        dns,
    }
}

fn ours(report: &Value) -> Lists {
    let attempts = report["attempts"].as_array().cloned().unwrap_or_default();
    let connects: Vec<&Value> = attempts
        .iter()
        .filter(|a| {
            a["name_source"] == "connect"
                || (a["path"] == "proxy"
                    && a["destination"]["ip"].is_string()
                    && a["destination"]["port"].is_u64()
                    && a["name_source"].is_null())
        })
        .collect();
    let target = |a: &Value| {
        let d = &a["destination"];
        let host = d["name"].as_str().or(d["ip"].as_str()).unwrap_or_default().to_string();
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        format!("{host}:{}", d["port"])
    };
    let connect = count(connects.iter().map(|a| target(a)));
    let codes = count(
        connects
            .iter()
            .filter(|a| a["http_status"].is_u64())
            .map(|a| format!("{} {}", target(a), a["http_status"])),
    );
    let sni = count(
        attempts
            .iter()
            .filter_map(|a| a["tls"]["sni"].as_str().map(str::to_string)),
    );
    let dns = report["dns"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|l| l["rcode"] == "NOERROR" && l["protocol"] != "nbns")
        .map(|l| {
            let addrs = l["addresses"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect();
            (l["name"].as_str().unwrap().to_string(), addrs)
        })
        .collect();
    Lists {
        connect,
        codes,
        sni,
        dns,
    }
}

fn compare(files: &[std::path::PathBuf]) {
    let mut failures = Vec::new();
    for file in files {
        let name = common::short(file);
        let (t, o) = (theirs(file), ours(&common::json_report(file)));
        let dns_same = same_dns(&t.dns, &o.dns);
        for (what, same, detail) in [
            (
                "connect",
                t.connect == o.connect,
                format!("tshark {:?}, capdoc {:?}", t.connect, o.connect),
            ),
            (
                "codes",
                t.codes == o.codes,
                format!("tshark {:?}, capdoc {:?}", t.codes, o.codes),
            ),
            ("sni", t.sni == o.sni, format!("tshark {:?}, capdoc {:?}", t.sni, o.sni)),
            ("dns", dns_same, format!("tshark {:?}, capdoc {:?}", t.dns, o.dns)),
        ] {
            let known = KNOWN_DIFFERENCES
                .iter()
                .find(|(f, w, _)| name.ends_with(f) && *w == what);
            match (same, known) {
                (true, None) => {}
                (false, Some((_, _, why))) => eprintln!("{name}: {what} differs as expected: {why}"),
                (true, Some(_)) => failures.push(format!("{name}: {what} listed as a known difference but agrees")),
                (false, None) => failures.push(format!("{name}: {what}: {detail}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "disagreements with tshark:\n{}",
        failures.join("\n")
    );
}

#[test]
fn own_captures_agree_with_tshark() {
    if !common::have_tshark() {
        return common::skip("tshark");
    }
    compare(&common::own_captures());
}

#[test]
fn public_captures_agree_with_tshark() {
    if !common::have_tshark() {
        return common::skip("tshark");
    }
    compare(&common::public_captures());
}
