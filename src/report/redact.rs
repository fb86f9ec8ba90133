//! `--redact`: a report that can leave the company.
//!
//! Every address and host name that is not a required endpoint (or an address
//! a required name resolved to) is replaced by a pseudonym, and what names the
//! site is dropped: interface and component names, the capture's application
//! and OS strings, the directory part of file paths. Pseudonyms are keyed
//! hashes (HMAC-SHA-256), so the same address gets the same pseudonym
//! everywhere in one run (reports of a batch, both sides of a `diff`) and,
//! with `CAPDOC_REDACT_KEY`, across runs; without the key nobody can test a
//! guess. Pseudonyms stay well-formed and say what they are:
//!
//! - IPv4 addresses become addresses in 240.0.0.0/4 (reserved, never routed);
//! - IPv6 addresses become addresses in 100::/64 (RFC 6666, discard-only);
//! - host names become `host-<8 hex digits>.redacted.invalid` (RFC 2606).
//!
//! Redaction works on the finished report: findings are judged on the real
//! data first, then every field and every sentence is rewritten with one map,
//! so what the report concludes does not change, only what it reveals.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::model::*;
use crate::endpoints::Table;

/// The secret that pseudonyms are derived from.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    /// A key derived from a passphrase (`CAPDOC_REDACT_KEY`): the same passphrase
    /// gives the same pseudonyms in every run.
    pub fn from_passphrase(passphrase: &str) -> Key {
        Key(hmac_sha256(b"capdoc redaction key", passphrase.as_bytes()))
    }

    /// A key for this run only, from the operating system's random source.
    pub fn random() -> std::io::Result<Key> {
        use std::io::Read;
        let mut key = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut key)?;
        Ok(Key(key))
    }

    fn tag(&self, kind: &[u8], value: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(kind);
        mac.update(&[0]);
        mac.update(value);
        mac.finalize().into_bytes().into()
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Originals and their pseudonyms for one report.
struct Pseudonyms<'a> {
    key: &'a Key,
    table: &'a Table,
    /// Addresses that stay: those of required endpoints and what required names resolved to.
    public: HashSet<IpAddr>,
    addresses: HashMap<IpAddr, IpAddr>,
    names: HashMap<String, String>,
    /// Interface and component names and their replacements (`interface 0`).
    labels: HashMap<String, String>,
    used: HashSet<IpAddr>,
}

impl<'a> Pseudonyms<'a> {
    fn new(key: &'a Key, table: &'a Table) -> Self {
        Pseudonyms {
            key,
            table,
            public: HashSet::new(),
            addresses: HashMap::new(),
            names: HashMap::new(),
            labels: HashMap::new(),
            used: HashSet::new(),
        }
    }

    fn is_required_name(&self, name: &str) -> bool {
        // Any port: the name is Microsoft's whatever port the capture used.
        self.table.has_name(name)
    }

    fn address(&mut self, ip: IpAddr) -> IpAddr {
        if self.public.contains(&ip) {
            return ip;
        }
        if let Some(&p) = self.addresses.get(&ip) {
            return p;
        }
        let tag = self.key.tag(b"address", ip.to_string().as_bytes());
        let mut pseudonym = match ip {
            IpAddr::V4(_) => {
                let bits = u32::from_be_bytes([tag[0], tag[1], tag[2], tag[3]]) & 0x0fff_ffff;
                IpAddr::V4(Ipv4Addr::from(0xf000_0000 | bits))
            }
            IpAddr::V6(_) => {
                let mut octets = [0u8; 16];
                octets[0] = 0x01;
                octets[8..].copy_from_slice(&tag[..8]);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        };
        // Two originals must never share a pseudonym: step on from a collision.
        while self.used.contains(&pseudonym) {
            pseudonym = match pseudonym {
                IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(
                    0xf000_0000 | (u32::from(v4).wrapping_add(1) & 0x0fff_ffff),
                )),
                IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6).wrapping_add(1))),
            };
        }
        self.used.insert(pseudonym);
        self.addresses.insert(ip, pseudonym);
        pseudonym
    }

    fn name(&mut self, name: &str) -> String {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.address(ip).to_string();
        }
        if name.is_empty() || self.is_required_name(name) {
            return name.to_string();
        }
        if let Some(p) = self.names.get(name) {
            return p.clone();
        }
        let tag = self.key.tag(b"name", name.to_ascii_lowercase().as_bytes());
        let p = format!(
            "host-{:02x}{:02x}{:02x}{:02x}.redacted.invalid",
            tag[0], tag[1], tag[2], tag[3]
        );
        self.names.insert(name.to_string(), p.clone());
        p
    }

    /// The address pseudonymized, the port kept.
    fn socket(&mut self, addr: SocketAddr) -> SocketAddr {
        SocketAddr::new(self.address(addr.ip()), addr.port())
    }

    /// `ip:port`, `[v6]:port`, a bare address, or anything else left as it is.
    fn endpoint(&mut self, text: &str) -> String {
        if let Ok(sa) = text.parse::<SocketAddr>() {
            return self.socket(sa).to_string();
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return self.address(ip).to_string();
        }
        text.to_string()
    }

    /// Rewrites every known original in free text, and any other address found in it.
    fn sentence(&mut self, text: &str) -> String {
        let mut out = replace_addresses(text, |ip| self.address(ip));
        let mut names: Vec<(&String, &String, bool)> = self
            .names
            .iter()
            // A single-label name (`proxy`, `wpad`) is often also a word of the sentence
            // itself: it is replaced only where it names a host, before `:port`.
            .map(|(original, pseudonym)| (original, pseudonym, !original.contains('.')))
            .chain(self.labels.iter().map(|(original, label)| (original, label, false)))
            .collect();
        // Longest first, so `a.contoso.local` is not half-replaced by `contoso.local`.
        names.sort_by_key(|(original, _, _)| std::cmp::Reverse(original.len()));
        for (original, pseudonym, before_port) in names {
            out = replace_word(&out, original, pseudonym, before_port);
        }
        out
    }
}

/// Replaces `word` where it stands alone: not inside a longer name or address;
/// with `before_port`, only where a `:port` follows it.
fn replace_word(text: &str, word: &str, with: &str, before_port: bool) -> String {
    if word.is_empty() || !text.contains(word) {
        return text.to_string();
    }
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        // A trailing dot ends a sentence, not a name.
        let following = &rest[at + word.len()..];
        let after_ok = match after {
            _ if before_port => following.starts_with(':') && following[1..].starts_with(|c: char| c.is_ascii_digit()),
            Some('.') => following[1..].chars().next().is_none_or(|c| !part_of_name(c)),
            Some(c) => !part_of_name(c),
            None => true,
        };
        out.push_str(&rest[..at]);
        if before.is_none_or(|c| !part_of_name(c)) && after_ok {
            out.push_str(with);
        } else {
            out.push_str(word);
        }
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// Finds IPv4 and IPv6 addresses in text and replaces each through `map`.
fn replace_addresses(text: &str, mut map: impl FnMut(IpAddr) -> IpAddr) -> String {
    let is_addr_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(is_addr_char) {
        out.push_str(&rest[..start]);
        let run_len = rest[start..]
            .find(|c: char| !is_addr_char(c))
            .unwrap_or(rest.len() - start);
        let run = &rest[start..start + run_len];
        // A run glued to a letter is part of a word (`abc.def`), not an address.
        let glued = rest[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-');
        out.push_str(&if glued {
            run.to_string()
        } else {
            rewrite_run(run, &mut map)
        });
        rest = &rest[start + run_len..];
    }
    out.push_str(rest);
    out
}

/// One run of address characters: an address, `v4:port`, or neither.
fn rewrite_run(run: &str, map: &mut impl FnMut(IpAddr) -> IpAddr) -> String {
    let trimmed = run.trim_end_matches(['.', ':']);
    let tail = &run[trimmed.len()..];
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return format!("{}{tail}", map(ip));
    }
    if let Some((host, port)) = trimmed.rsplit_once(':') {
        if let (Ok(ip), true) = (host.parse::<Ipv4Addr>(), port.bytes().all(|b| b.is_ascii_digit())) {
            return format!("{}:{port}{tail}", map(IpAddr::V4(ip)));
        }
    }
    run.to_string()
}

/// The file name without its directory.
fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Rewrites `report` in place; see the module documentation for what changes.
pub fn redact(report: &mut CaptureReport, table: &Table, key: &Key) {
    let mut p = Pseudonyms::new(key, table);
    // What stays: the addresses of required endpoints and what required names resolved to.
    for a in &report.attempts {
        if a.required.is_some() && a.path == Path::Direct {
            p.public.extend(a.destination.ip);
        }
    }
    for l in &report.dns {
        if p.is_required_name(&l.name) {
            p.public
                .extend(l.addresses.iter().filter_map(|a| a.parse::<IpAddr>().ok()));
        }
    }
    // Names first (free text is rewritten with the full map afterwards).
    let mut names: Vec<String> = Vec::new();
    for a in &report.attempts {
        names.extend(a.destination.name.as_deref().map(str::to_string));
        if let Some(tls) = &a.tls {
            names.extend(tls.sni.as_deref().map(str::to_string));
            names.extend(tls.dns_names().iter().cloned());
        }
    }
    for g in &report.attempt_groups {
        names.extend(g.destination.name.as_deref().map(str::to_string));
    }
    for l in &report.dns {
        names.push(l.name.clone());
        names.extend(l.cnames.iter().cloned());
    }
    for name in &names {
        p.name(name);
    }

    let original_file = report.file.clone();
    let file = base_name(&original_file).to_string();
    let sentence = |p: &mut Pseudonyms<'_>, s: &mut String| {
        let replaced = s.replace(&original_file, &file);
        *s = p.sentence(&replaced);
    };

    report.file = file.clone();
    if let Some(e) = &mut report.error {
        sentence(&mut p, e);
    }
    let c = &mut report.capture;
    c.application = None;
    c.os = None;
    // Interface and component names also appear in sentences (findings about duplicates).
    for (i, iface) in c.interfaces.iter_mut().enumerate() {
        if let Some(name) = iface.name.take() {
            let label = format!("interface {i}");
            p.labels.entry(name).or_insert_with(|| label.clone());
            iface.name = Some(label);
        }
    }
    for (i, name) in c.windows.counted_on.iter_mut().enumerate() {
        let label = p
            .labels
            .entry(std::mem::take(name))
            .or_insert_with(|| format!("component {}", i + 1))
            .clone();
        *name = label;
    }
    for w in &mut c.warnings {
        sentence(&mut p, w);
    }
    for hit in &mut c.limits_hit {
        sentence(&mut p, &mut hit.effect);
    }
    report.tables.urls = base_name(&report.tables.urls).to_string();
    report.tables.ca_set = base_name(&report.tables.ca_set).to_string();

    for a in &mut report.attempts {
        redact_destination(&mut p, &mut a.destination);
        if let Some(shared) = &mut a.tls {
            // This attempt's own copy of the handshake, and of its certificate below.
            let tls = Arc::make_mut(shared);
            tls.sni = tls.sni.as_deref().map(|n| p.name(n).into());
            if let Some(shared) = &mut tls.certificate {
                let certificate = Arc::make_mut(shared);
                certificate.dns_names = certificate.dns_names.iter().map(|n| p.name(n)).collect();
                sentence(&mut p, &mut certificate.subject);
            }
        }
        // The filter's two ends are also the attempt's client and proxy.
        let filter = a.wireshark_filter;
        a.wireshark_filter = filter.with_ends(p.socket(filter.client()), p.socket(filter.server()));
        sentence(&mut p, &mut a.detail);
    }
    for g in &mut report.attempt_groups {
        redact_destination(&mut p, &mut g.destination);
        g.proxy = g.proxy.as_deref().map(|x| p.endpoint(x));
        sentence(&mut p, &mut g.wireshark_filter);
    }
    for f in &mut report.findings {
        sentence(&mut p, &mut f.title);
        sentence(&mut p, &mut f.detail);
        sentence(&mut p, &mut f.remediation);
        if let Some(filter) = &mut f.wireshark_filter {
            sentence(&mut p, filter);
        }
    }
    sentence(&mut p, &mut report.verdict.summary);
    for conn in &mut report.connections {
        conn.client = p.endpoint(&conn.client);
        conn.server = p.endpoint(&conn.server);
        if let Some(icmp) = &mut conn.icmp {
            icmp.from = p.endpoint(&icmp.from);
        }
    }
    for l in &mut report.dns {
        l.name = p.name(&l.name);
        l.cnames = l.cnames.iter().map(|n| p.name(n)).collect();
        l.addresses = l.addresses.iter().map(|a| p.endpoint(a)).collect();
    }
}

fn redact_destination(p: &mut Pseudonyms<'_>, d: &mut Destination) {
    d.name = d.name.as_deref().map(|n| p.name(n).into());
    d.ip = d.ip.map(|ip| p.address(ip));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudonyms<'a>(key: &'a Key, table: &'a Table) -> Pseudonyms<'a> {
        Pseudonyms::new(key, table)
    }

    #[test]
    fn pseudonyms_are_stable_well_formed_and_keyed() {
        let table = Table::public();
        let (k1, k2) = (Key::from_passphrase("one"), Key::from_passphrase("two"));
        let mut a = pseudonyms(&k1, &table);
        let mut b = pseudonyms(&k1, &table);
        let mut c = pseudonyms(&k2, &table);
        let ip: IpAddr = "192.0.2.10".parse().unwrap();
        let p = a.address(ip);
        assert_eq!(p, b.address(ip), "same key, same pseudonym");
        assert_ne!(p, c.address(ip), "another key, another pseudonym");
        assert!(matches!(p, IpAddr::V4(v4) if v4.octets()[0] >= 240));
        let v6 = a.address("2001:db8::10".parse().unwrap());
        assert!(v6.to_string().starts_with("100::"), "{v6}");
        let name = a.name("proxy.contoso.local");
        assert!(
            name.starts_with("host-") && name.ends_with(".redacted.invalid"),
            "{name}"
        );
        assert_eq!(
            a.name("login.microsoftonline.com"),
            "login.microsoftonline.com",
            "required names stay"
        );
        assert_eq!(a.name("contoso.msappproxy.net"), "contoso.msappproxy.net");
    }

    #[test]
    fn free_text_is_rewritten_where_words_stand_alone() {
        let table = Table::public();
        let key = Key::from_passphrase("k");
        let mut p = pseudonyms(&key, &table);
        let proxy = p.name("proxy.contoso.local");
        let ten = p.address("10.0.0.1".parse().unwrap());
        let text = "proxy.contoso.local (10.0.0.1:3128) refused; xproxy.contoso.local and 10.0.0.10 differ. \
                    See proxy.contoso.local.";
        let out = p.sentence(text);
        assert!(
            out.starts_with(&format!("{proxy} ({ten}:3128) refused; xproxy.contoso.local and ")),
            "{out}"
        );
        assert!(
            !out.contains("10.0.0.10") && !out.contains(" 10.0.0.1"),
            "every address is replaced: {out}"
        );
        assert!(out.ends_with(&format!("See {proxy}.")), "{out}");
        let filter = "ip.addr==10.0.0.1 && tcp.port==3128 && ipv6.addr==2001:db8::5";
        let out = p.sentence(filter);
        assert!(
            out.starts_with(&format!("ip.addr=={ten} && tcp.port==3128 && ipv6.addr==100::")),
            "{out}"
        );
    }

    #[test]
    fn single_label_names_are_replaced_only_where_they_name_a_host() {
        let table = Table::public();
        let key = Key::from_passphrase("k");
        let mut p = pseudonyms(&key, &table);
        let proxy = p.name("proxy");
        let out = p.sentence("The proxy at proxy:3128 refused; ask the proxy team.");
        assert_eq!(out, format!("The proxy at {proxy}:3128 refused; ask the proxy team."));
        assert_eq!(p.name("proxy"), proxy, "the field itself is still replaced");
    }

    #[test]
    fn words_that_look_like_hex_are_not_addresses() {
        let mut seen = Vec::new();
        let out = replace_addresses("a ClientHello, cafe: dead.beef 1.2 frames 12:30", |ip| {
            seen.push(ip);
            ip
        });
        assert_eq!(out, "a ClientHello, cafe: dead.beef 1.2 frames 12:30");
        assert!(seen.is_empty(), "{seen:?}");
    }

    /// A certificate shared by two attempts: both show pseudonyms for its internal
    /// names, and the shared original is left as it was.
    #[test]
    fn shared_certificate_names_are_redacted_in_each_attempt() {
        let table = Table::public();
        let certificate = Arc::new(crate::proto::tls::Certificate {
            subject: "CN=app.contoso.local".into(),
            issuer: "CN=Contoso Issuing CA".into(),
            dns_names: vec!["app.contoso.local".into()],
            ..Default::default()
        });
        let attempt = |id: u32| Attempt {
            id,
            connection: id,
            destination: Destination {
                name: Some("app.contoso.local".into()),
                ip: Some("192.0.2.80".parse().expect("addr")),
                port: Some(443),
            },
            name_source: Some(NameSource::Sni),
            path: Path::Direct,
            outcome: Outcome::Ok,
            http_status: None,
            syn_retransmits: 0,
            conn_state: "SF",
            frames: vec![1].into(),
            wireshark_filter: ConnectionFilter::new(
                "192.0.2.10:50000".parse().expect("addr"),
                "203.0.113.5:443".parse().expect("addr"),
            ),
            required: None,
            tls: Some(Arc::new(TlsFacts {
                sni: Some("app.contoso.local".into()),
                version: Some("TLS 1.2"),
                client_max_version: Some("TLS 1.3"),
                alert: None,
                certificate: Some(Arc::clone(&certificate)),
                certificate_request: false,
            })),
            pid: None,
            detail: String::new(),
            service_tag: None,
            start_nanos: 1_714_564_800 * 1_000_000_000,
        };
        let mut report = crate::diagnose::error_report(
            "t",
            &crate::capture::CaptureError::Empty,
            &crate::analyze::Options::default(),
        );
        report.attempts = vec![attempt(1), attempt(2)];
        redact(&mut report, &table, &Key::from_passphrase("k"));
        let seen: Vec<(&str, &[String])> = report
            .attempts
            .iter()
            .map(|a| a.tls.as_ref().expect("tls"))
            .map(|t| (t.subject().expect("subject"), t.dns_names()))
            .collect();
        let pseudonym = &seen[0].1[0];
        assert!(pseudonym.ends_with(".redacted.invalid"), "{pseudonym}");
        assert_eq!(seen[0].0, format!("CN={pseudonym}"));
        assert_eq!(seen[0], seen[1], "the same pseudonyms in both attempts");
        assert_eq!(
            certificate.subject, "CN=app.contoso.local",
            "the shared original is untouched"
        );
    }
}
