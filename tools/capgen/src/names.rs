//! The names the simulated connector looks up and connects to, and how they resolve.
//!
//! Everything about a name (addresses, CNAME chain, round-trip time) is derived from a stable hash
//! of the name, so repeated lookups agree with each other and with the addresses connected to.

use crate::dns::Answer;
use crate::rng::{fnv1a, Rng};
use crate::wire::ipv4;

pub const PROXY_NAME: &str = "proxy.corp.contoso.com";
pub const DNS_SUFFIX: &str = "corp.contoso.com";

/// Names of the CRL downloads: (host, path).
pub const CRL_URLS: [(&str, &str); 4] = [
    ("crl3.digicert.com", "/DigiCertGlobalRootG2.crl"),
    ("crl4.digicert.com", "/DigiCertGlobalRootG2.crl"),
    ("crl3.digicert.com", "/DigiCertGlobalG2TLSRSASHA2562020CA1-1.crl"),
    ("crl3.digicert.com", "/DigiCertGlobalRootCA.crl"),
];

pub struct Catalog {
    /// Names the connector needs: msappproxy.net, servicebus.windows.net, sign-in.
    pub connector: Vec<String>,
    /// Service Bus namespaces (long-lived control channels).
    pub servicebus: Vec<String>,
    /// Other HTTPS names (published applications' backends, telemetry, updates).
    pub others: Vec<String>,
    pub proxy_addr: u32,
}

const WORDS: [&str; 24] = [
    "app", "api", "portal", "hr", "intranet", "wiki", "mail", "files", "sso", "crm", "erp", "docs", "git", "ci",
    "status", "time", "pay", "shop", "media", "cdn", "auth", "sync", "data", "ops",
];
const DOMAINS: [&str; 8] = [
    "contoso.com",
    "fabrikam.com",
    "northwindtraders.com",
    "adventure-works.com",
    "tailspintoys.com",
    "wingtiptoys.com",
    "example.net",
    "example.org",
];

fn guid(r: &mut Rng) -> String {
    let b = r.bytes(16);
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Catalog {
    pub fn new(r: &mut Rng) -> Catalog {
        let tenant = guid(r);
        let servicebus: Vec<String> = (0..8)
            .map(|i| {
                format!(
                    "cwap-{}-{}-r{}.servicebus.windows.net",
                    ["nam1", "eur2", "apac1"][i % 3],
                    i / 3 + 1,
                    i
                )
            })
            .collect();
        let mut connector = vec![
            format!("{tenant}.msappproxy.net"),
            format!("{tenant}.bootstrap.msappproxy.net"),
            "login.microsoftonline.com".to_string(),
            "login.windows.net".to_string(),
        ];
        connector.extend(servicebus.iter().cloned());
        let others = (0..400)
            .map(|i| format!("{}{}.{}", r.pick(&WORDS), i, r.pick(&DOMAINS)))
            .collect();
        Catalog {
            connector,
            servicebus,
            others,
            proxy_addr: ipv4(10, 20, 1, 80),
        }
    }

    /// A name for an HTTPS connection: mostly what the connector needs, some other traffic.
    pub fn tls_name(&self, r: &mut Rng) -> String {
        if r.chance(0.7) {
            r.pick(&self.connector).clone()
        } else {
            r.pick(&self.others).clone()
        }
    }

    /// A name that does not exist: DNS suffix-search variants, WPAD, typos.
    pub fn missing_name(&self, r: &mut Rng) -> String {
        match r.below(4) {
            0 => format!("{}.{DNS_SUFFIX}", self.tls_name(r)),
            1 => format!("wpad.{DNS_SUFFIX}"),
            2 => format!("{}.msappproxy.net", guid(r)),
            _ => format!("{}{}.{}", r.pick(&WORDS), r.range(1000, 9999), r.pick(&DOMAINS)),
        }
    }

    /// The resolver's answer for an existing name.
    pub fn resolve(&self, name: &str) -> Answer {
        if name == PROXY_NAME {
            return Answer::Records {
                cnames: vec![],
                addrs: vec![self.proxy_addr],
                ttl: 1200,
            };
        }
        let h = fnv1a(name.as_bytes());
        let mut addrs = vec![address(name)];
        if h & 0x300 == 0 {
            addrs.push(address_salted(name, 1));
        }
        Answer::Records {
            cnames: cname_chain(name, h),
            addrs,
            ttl: 30 + (h >> 20) as u32 % 3570,
        }
    }

    /// Typical round trip to a name's servers, 1-80 ms; per-flow jitter is added by the caller.
    pub fn base_rtt(&self, name: &str) -> u64 {
        let h = fnv1a(name.as_bytes());
        let ms = if name.ends_with("digicert.com") {
            2 + h % 15
        } else {
            1 + (h >> 8) % 80
        };
        ms * 1000
    }
}

/// The first address a name resolves to; connector endpoints live in the documentation ranges.
pub fn address(name: &str) -> u32 {
    address_salted(name, 0)
}

/// The `salt`-th address of a name: same address block, different host.
fn address_salted(name: &str, salt: u8) -> u32 {
    let h = fnv1a(name.as_bytes()).wrapping_add(u64::from(salt).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let host = (h % 250) as u8 + 2;
    if name.ends_with(".msappproxy.net") || name.ends_with(".servicebus.windows.net") {
        if h & 0x1000 == 0 {
            ipv4(203, 0, 113, host)
        } else {
            ipv4(198, 51, 100, host)
        }
    } else if name.starts_with("login.") {
        ipv4(192, 0, 2, host / 2 + 1)
    } else if name.ends_with("digicert.com") {
        ipv4(192, 0, 2, 128 + host / 2)
    } else {
        // Other servers: addresses in a few large public-cloud blocks.
        let first = [13, 20, 40, 52, 104, 151][(h >> 16) as usize % 6];
        ipv4(first, (h >> 24) as u8, (h >> 32) as u8, host)
    }
}

fn cname_chain(name: &str, h: u64) -> Vec<String> {
    let n = h >> 40;
    if name.ends_with(".msappproxy.net") {
        vec![
            format!("cwap-nam1-{}-runtime.trafficmanager.net", n % 6),
            format!("cwap-cu-{}.cloudapp.net", n % 20),
        ]
    } else if name.ends_with(".servicebus.windows.net") {
        vec![format!("ns-sb2-prod-{}.cloudapp.net", n % 50)]
    } else if name == "login.microsoftonline.com" {
        vec![
            "login.mso.msidentity.com".to_string(),
            "ak.privatelink.msidentity.com".to_string(),
            "www.tm.ak.prd.aadg.trafficmanager.net".to_string(),
        ]
    } else if name.ends_with("digicert.com") {
        vec!["cs9.wac.phicdn.net".to_string()]
    } else if n % 3 == 0 {
        vec![format!("{}.azureedge.net", name.split('.').next().unwrap_or("app"))]
    } else {
        vec![]
    }
}
