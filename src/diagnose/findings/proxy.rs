//! Findings about outbound proxies and TLS: what the proxy answered, and what
//! happened to the TLS handshake (inside a tunnel or direct).

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use super::{attempts_phrase, frames_of, ids, rank};
use crate::diagnose::{ip_field, text};
use crate::report::model::*;

/// At most this many names are listed in a title or detail.
const MAX_NAMES: usize = 5;

/// The distinct destinations of some attempts, as a short list.
fn targets(group: &[&Attempt]) -> String {
    let mut names: Vec<String> = Vec::new();
    for a in group {
        if names.len() > MAX_NAMES {
            break;
        }
        let d = &a.destination;
        let t = match (&d.name, d.ip, d.port) {
            (Some(n), _, Some(p)) => format!("{n}:{p}"),
            (None, Some(ip), Some(p)) => format!("{ip}:{p}"),
            _ => continue,
        };
        if !names.contains(&t) {
            names.push(t);
        }
    }
    let more = names.len() > MAX_NAMES;
    names.truncate(MAX_NAMES);
    let mut text = names.join(", ");
    if more {
        text.push_str(" and more");
    }
    text
}

fn codes(group: &[&Attempt]) -> String {
    let mut codes: Vec<u16> = group.iter().filter_map(|a| a.http_status).collect();
    codes.sort_unstable();
    codes.dedup();
    codes.iter().map(u16::to_string).collect::<Vec<_>>().join("/")
}

fn best_rank(group: &[&Attempt]) -> u8 {
    group.iter().map(|a| rank(a)).min().unwrap_or(3)
}

fn proxy_filter(proxy: &str, status: Option<&str>) -> String {
    let Ok(addr) = proxy.parse::<std::net::SocketAddr>() else {
        return String::new();
    };
    let (field, host, port) = (ip_field(addr.ip()), addr.ip(), addr.port());
    match status {
        Some(codes) => format!(
            "{field}.src=={host} && tcp.srcport=={port} && http.response.code in {{{}}}",
            codes.replace('/', " ")
        ),
        None => format!("{field}.addr=={host} && tcp.port=={port}"),
    }
}

struct Spec {
    code: &'static str,
    severity: Severity,
    title: String,
    detail: String,
    remediation: String,
    filter: Option<String>,
}

fn finding(spec: Spec, group: &[&Attempt]) -> Finding {
    Finding {
        severity: spec.severity,
        code: spec.code,
        title: spec.title,
        detail: spec.detail,
        remediation: spec.remediation,
        attempts: ids(group),
        frames: frames_of(group),
        wireshark_filter: spec.filter,
        rank: best_rank(group),
        unlisted_attempts: 0,
    }
}

/// Proxy answers, per proxy.
pub(super) fn findings(attempts: &[Attempt]) -> Vec<Finding> {
    // Grouped by address, then put in the order of their text, as reports show them.
    let mut by_address: HashMap<SocketAddr, Vec<&Attempt>> = HashMap::new();
    for a in attempts {
        if let Some(p) = a.proxy() {
            by_address.entry(p).or_default().push(a);
        }
    }
    let by_proxy: BTreeMap<String, Vec<&Attempt>> = by_address
        .into_iter()
        .map(|(p, group)| (text::socket(p), group))
        .collect();
    let mut out = Vec::new();
    for (proxy, group) in &by_proxy {
        let proxy = proxy.as_str();
        let requests = group
            .iter()
            .filter(|a| a.http_status.is_some() || a.destination.port.is_some())
            .count();
        let of = |o: Outcome| -> Vec<&Attempt> { group.iter().copied().filter(|a| a.outcome == o).collect() };
        let auth = of(Outcome::ProxyAuthRequired);
        if !auth.is_empty() {
            out.push(finding(
                Spec {
                    code: "proxy-auth-required",
                    severity: Severity::Error,
                    title: format!(
                        "The proxy at {proxy} requires authentication (407) for {} of {requests} requests; the connector cannot authenticate to a proxy",
                        auth.len()
                    ),
                    detail: format!(
                        "Requests for {} were answered 407 Proxy Authentication Required ({}). The connector runs as a \
                         service account and sends no proxy credentials, so every such request fails for it, even if \
                         another client in the capture retried with credentials.",
                        targets(&auth),
                        auth[0].detail
                    ),
                    remediation: "On the proxy, let the connector server through without authentication: add a rule \
                                  that allows its address (or the required connector URLs) before the rule that \
                                  demands authentication. Alternatively configure the connector to bypass the proxy \
                                  and allow its outbound traffic on the firewall."
                        .into(),
                    filter: Some(proxy_filter(proxy, Some("407"))),
                },
                &auth,
            ));
        }
        let denied = of(Outcome::ProxyDenied);
        if !denied.is_empty() {
            out.push(finding(
                Spec {
                    code: "proxy-denied",
                    severity: Severity::Error,
                    title: format!(
                        "The proxy at {proxy} refuses requests to {} ({})",
                        targets(&denied),
                        codes(&denied)
                    ),
                    detail: format!(
                        "{} refused by the proxy itself: {}. The destination was never contacted.",
                        attempts_phrase(&denied),
                        denied[0].detail
                    ),
                    remediation: "Allow the connector's required URLs on the proxy (for CONNECT to port 443 and plain \
                                  HTTP to port 80). Run `capdoc urls` for the list; allow them by name, with their \
                                  wildcards, not by address."
                        .into(),
                    filter: Some(proxy_filter(proxy, Some(&codes(&denied)))),
                },
                &denied,
            ));
        }
        let upstream = of(Outcome::ProxyUpstreamError);
        if !upstream.is_empty() {
            out.push(finding(
                Spec {
                    code: "proxy-upstream-error",
                    severity: Severity::Error,
                    title: format!(
                        "The proxy at {proxy} cannot reach {} ({})",
                        targets(&upstream),
                        codes(&upstream)
                    ),
                    detail: format!(
                        "{} failed at the proxy: {}. The proxy accepted the request but could not connect onwards.",
                        attempts_phrase(&upstream),
                        upstream[0].detail
                    ),
                    remediation: "The problem is beyond the proxy: check the proxy's own DNS resolution of these \
                                  names and its outbound firewall for ports 443 and 80. Squid's X-Squid-Error (e.g. \
                                  ERR_DNS_FAIL, ERR_CONNECT_FAIL) names the step that failed."
                        .into(),
                    filter: Some(proxy_filter(proxy, Some(&codes(&upstream)))),
                },
                &upstream,
            ));
        }
        let unreachable: Vec<&Attempt> = group
            .iter()
            .copied()
            .filter(|a| a.destination.port.is_none())
            .filter(|a| {
                matches!(
                    a.outcome,
                    Outcome::SynUnanswered | Outcome::IcmpUnreachable | Outcome::Reset
                )
            })
            .collect();
        if !unreachable.is_empty() {
            out.push(finding(
                Spec {
                    code: "proxy-unreachable",
                    severity: Severity::Error,
                    title: format!(
                        "The proxy at {proxy} cannot be reached ({})",
                        attempts_phrase(&unreachable)
                    ),
                    detail: format!("{}.", unreachable[0].detail),
                    remediation: "Check that the proxy address and port configured for the connector are right and \
                                  that the path from the connector server to the proxy is open."
                        .into(),
                    filter: Some(proxy_filter(proxy, None)),
                },
                &unreachable,
            ));
        }
        // Reset by the proxy in the middle of an exchange (no answer, or before a ServerHello in the tunnel).
        let reset: Vec<&Attempt> = group
            .iter()
            .copied()
            .filter(|a| a.destination.port.is_some() && a.outcome == Outcome::Reset)
            .collect();
        if !reset.is_empty() {
            out.push(finding(
                Spec {
                    code: "connection-reset",
                    severity: Severity::Error,
                    title: format!(
                        "Requests through the proxy at {proxy} are reset ({})",
                        attempts_phrase(&reset)
                    ),
                    detail: format!("{}.", reset[0].detail),
                    remediation: "The proxy (or a device behind it) resets the connection instead of answering: \
                                  check its logs for the rule or error, and its TLS inspection settings."
                        .into(),
                    filter: Some(format!("tcp.flags.reset==1 && {}", proxy_filter(proxy, None))),
                },
                &reset,
            ));
        }
        let silent = of(Outcome::NoResponse);
        if !silent.is_empty() {
            out.push(finding(
                Spec {
                    code: "proxy-no-response",
                    severity: Severity::Error,
                    title: format!("The proxy at {proxy} never answers ({})", attempts_phrase(&silent)),
                    detail: format!("{}.", silent[0].detail),
                    remediation: "The proxy accepted the connection but did not answer the request. Check the \
                                  proxy's logs and health, and its timeouts for CONNECT."
                        .into(),
                    filter: Some(proxy_filter(proxy, None)),
                },
                &silent,
            ));
        }
    }
    let http: Vec<&Attempt> = attempts.iter().filter(|a| a.outcome == Outcome::HttpError).collect();
    if !http.is_empty() {
        out.push(finding(
            Spec {
                code: "http-error",
                severity: Severity::Warning,
                title: format!("HTTP errors from {} ({})", targets(&http), codes(&http)),
                detail: format!("{}: {}.", http[0].destination_label(), http[0].detail),
                remediation: "The destination itself answered with an error; the network path works. Check the URL \
                              and the server."
                    .into(),
                filter: Some(format!("http.response.code in {{{}}}", codes(&http).replace('/', " "))),
            },
            &http,
        ));
    }
    out
}

fn version_below_1_2(name: Option<&str>) -> bool {
    matches!(name, Some("SSL 3.0" | "TLS 1.0" | "TLS 1.1"))
}

/// TLS: inspection, old versions, alerts, a tunnel whose SNI is not the CONNECT host.
pub(super) fn tls_findings(attempts: &[Attempt]) -> Vec<Finding> {
    let mut out = Vec::new();
    let inspected: Vec<&Attempt> = attempts.iter().filter(|a| a.outcome == Outcome::TlsInspected).collect();
    if !inspected.is_empty() {
        let mut issuers: Vec<&str> = inspected.iter().filter_map(|a| a.tls.as_ref()?.issuer()).collect();
        issuers.dedup();
        out.push(finding(
            Spec {
                code: "tls-inspection",
                severity: Severity::Error,
                title: format!(
                    "TLS to {} is intercepted: the certificate comes from \"{}\"",
                    targets(&inspected),
                    issuers.join("\", \"")
                ),
                detail: "The server certificate for a required name was not issued by the certificate authorities \
                         Microsoft uses for these endpoints. A device in the path (usually the proxy or a firewall \
                         with TLS inspection) terminates the TLS connection and re-signs it. The connector and the \
                         service authenticate each other with certificates, so this breaks the connection."
                    .into(),
                remediation: "Exclude the connector server's traffic, or the required connector URLs, from TLS \
                              inspection (\"SSL bumping\", \"HTTPS inspection\") on the proxy or firewall."
                    .into(),
                filter: Some("tls.handshake.type==11".into()),
            },
            &inspected,
        ));
    }
    let old: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| {
            a.tls
                .as_ref()
                .is_some_and(|t| version_below_1_2(t.version) || version_below_1_2(t.client_max_version))
        })
        .collect();
    if !old.is_empty() {
        let t = old[0].tls.as_ref();
        let what = match (t.and_then(|t| t.version), t.and_then(|t| t.client_max_version)) {
            (Some(v), _) if version_below_1_2(Some(v)) => format!("{v} was negotiated"),
            (_, Some(v)) => format!("the client offered at most {v}"),
            _ => "an old version was used".to_string(),
        };
        out.push(finding(
            Spec {
                code: "tls-version",
                severity: if old.iter().any(|a| a.required.is_some()) {
                    Severity::Error
                } else {
                    Severity::Warning
                },
                title: format!("TLS below 1.2 with {} ({what})", targets(&old)),
                detail: "The connector requires TLS 1.2; connections that negotiate or offer only an older version \
                         fail."
                    .into(),
                remediation: "Enable TLS 1.2 on the connector server (Schannel registry settings and \
                              SchUseStrongCrypto for .NET), and make sure no device in the path downgrades the \
                              handshake."
                    .into(),
                filter: Some("tls.handshake.type==1 || tls.handshake.type==2 || tls.alert_message".into()),
            },
            &old,
        ));
    }
    let alerts: Vec<&Attempt> = attempts.iter().filter(|a| a.outcome == Outcome::TlsAlert).collect();
    if !alerts.is_empty() {
        let mut names: Vec<&str> = alerts
            .iter()
            .filter_map(|a| a.tls.as_ref()?.alert.as_ref().map(|x| x.description))
            .collect();
        names.sort_unstable();
        names.dedup();
        let required = alerts.iter().any(|a| a.required.is_some());
        out.push(finding(
            Spec {
                code: "tls-alert",
                severity: if required { Severity::Error } else { Severity::Warning },
                title: format!(
                    "TLS handshakes with {} end in an alert ({})",
                    targets(&alerts),
                    names.join(", ")
                ),
                detail: format!("{}.", alerts[0].detail),
                remediation: "A protocol_version or handshake_failure alert means the two sides share no TLS \
                              version or cipher: check TLS 1.2 and the cipher suites on the connector server and on \
                              any inspecting device in between."
                    .into(),
                filter: Some("tls.alert_message".into()),
            },
            &alerts,
        ));
    }
    let mismatch: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.path == Path::Proxy)
        .filter(|a| {
            match (
                a.tls.as_ref().and_then(|t| t.sni.as_deref()),
                a.destination.name.as_deref(),
            ) {
                (Some(sni), Some(host)) => !sni.eq_ignore_ascii_case(host),
                _ => false,
            }
        })
        .collect();
    if !mismatch.is_empty() {
        out.push(finding(
            Spec {
                code: "sni-mismatch",
                severity: Severity::Warning,
                title: match mismatch.len() {
                    1 => "The TLS server name inside a tunnel differs from the CONNECT host".to_string(),
                    n => format!("The TLS server name inside {n} tunnels differs from the CONNECT host"),
                },
                detail: format!(
                    "CONNECT {} carried a ClientHello for {}.",
                    mismatch[0].destination.name.as_deref().unwrap_or("?"),
                    mismatch[0].tls.as_ref().and_then(|t| t.sni.as_deref()).unwrap_or("?")
                ),
                remediation: "Proxies that check the SNI against the CONNECT host may refuse such tunnels; this is \
                              unusual for the connector and worth checking."
                    .into(),
                filter: Some("http.request.method==\"CONNECT\" || tls.handshake.type==1".into()),
            },
            &mismatch,
        ));
    }
    out
}
