//! Findings about the required-URL table as a whole: revocation checks, names
//! never contacted, names that do not resolve, and proxy auto-discovery.

use super::{frames_of, ids, unattached};
use crate::pass::PacketPass;
use crate::proto::dns::Lookup;
use crate::report::model::*;

/// How long a DNS question may stay unanswered before the capture's end for it
/// to count as unanswered (resolvers retry after 1-2 s).
const DNS_GRACE_NANOS: i64 = 2_000_000_000;

pub(super) fn findings(
    attempts: &[Attempt],
    endpoints: &[EndpointCoverage],
    table_lookups: &[&Lookup],
    pass: &PacketPass,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let crl: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| {
            a.required
                .as_ref()
                .is_some_and(|r| &*r.purpose == "certificate-revocation")
                && a.outcome.failed()
        })
        .collect();
    if !crl.is_empty() {
        let mut names: Vec<&str> = crl.iter().filter_map(|a| a.destination.name.as_deref()).collect();
        names.sort_unstable();
        names.dedup();
        let mut f = unattached(
            Severity::Error,
            "crl-blocked",
            format!("Certificate revocation checks fail ({})", names.join(", ")),
            "The connector downloads certificate revocation lists and OCSP answers over plain HTTP on port 80. \
             When they cannot be fetched, certificate validation fails and so does the connection to the service."
                .into(),
            "Allow outbound HTTP (port 80) from the connector server, directly or through the proxy, to the \
             revocation endpoints: crl3.digicert.com, crl4.digicert.com, ocsp.digicert.com, crl.microsoft.com, \
             oneocsp.microsoft.com, ocsp.msocsp.com.",
        );
        f.attempts = ids(&crl);
        f.frames = frames_of(&crl);
        f.wireshark_filter = Some("tcp.port==80 && (tcp.flags.syn==1 || http)".into());
        out.push(f);
    }
    let any_required = attempts.iter().any(|a| a.required.is_some());
    if any_required {
        for e in endpoints
            .iter()
            .filter(|e| e.status == Coverage::NotSeen && e.purpose == "connector-service")
        {
            if e.requirement != "required" {
                continue;
            }
            let mut f = unattached(
                Severity::Warning,
                "required-not-seen",
                format!("The connector never contacted {}:{}", e.pattern, e.port),
                "The capture shows connector traffic, but no connection to this required endpoint. Either the \
                 capture stopped too early, or something prevented the connector from getting this far (look at \
                 the other findings first)."
                    .into(),
                "Capture the whole start of the connector service (stop the service, start the capture, start the \
                 service, wait a minute).",
            );
            f.rank = 0;
            out.push(f);
        }
    }
    // DNS: failed lookups of names in the required-URL table.
    let capture_end = pass.info.capture_end().unwrap_or(0);
    let failed: Vec<_> = table_lookups
        .iter()
        .copied()
        .filter(|l| match l.rcode {
            Some(rcode) => rcode == 2 || rcode == 3,
            None => {
                capture_end.saturating_sub(l.ts) >= DNS_GRACE_NANOS
                    && !pass
                        .dns
                        .lookups
                        .iter()
                        .any(|other| other.name == l.name && other.rcode == Some(0))
            }
        })
        .collect();
    if !failed.is_empty() {
        let mut names: Vec<String> = Vec::new();
        for l in &failed {
            let what = match l.rcode {
                Some(3) => "NXDOMAIN",
                Some(2) => "SERVFAIL",
                _ => "no answer",
            };
            let entry = format!("{} ({what})", l.name);
            if !names.contains(&entry) {
                names.push(entry);
            }
        }
        let mut f = unattached(
            Severity::Error,
            "dns-failure",
            format!("Required names do not resolve: {}", names.join(", ")),
            "The connector's DNS server could not resolve these names, so no connection was even attempted.".into(),
            "Make sure the DNS servers the connector server uses can resolve public Internet names (directly or \
             through forwarders); split-horizon or filtering DNS must not block the required names.",
        );
        f.frames = failed
            .iter()
            .flat_map(|l| [Some(l.query_frame), l.answer_frame])
            .flatten()
            .collect();
        f.frames.sort_unstable();
        f.frames.dedup();
        f.wireshark_filter =
            Some("dns.flags.rcode != 0 || (dns.flags.response==0 && dns.qry.name contains \"microsoft\")".into());
        f.rank = 0;
        out.push(f);
    }
    // WPAD: proxy auto-discovery that found something.
    let wpad_lookups: Vec<_> = pass
        .dns
        .lookups
        .iter()
        .filter(|l| l.name == "wpad" || l.name.starts_with("wpad."))
        .filter(|l| !l.addresses.is_empty())
        .collect();
    let pac = &pass.pac_proxies;
    if !wpad_lookups.is_empty() || !pac.is_empty() {
        let found = wpad_lookups
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let title = if pac.is_empty() {
            format!("WPAD proxy discovery is answered on this network ({found})")
        } else {
            format!("WPAD proxy discovery picked a proxy: {}", pac.join(", "))
        };
        let mut f = unattached(
            Severity::Info,
            "wpad-proxy",
            title,
            format!(
                "Windows components the connector relies on look for a proxy with WPAD: a DNS lookup of \
                 wpad.<domain>, then a download of wpad.dat. {}",
                if pac.is_empty() {
                    format!("The lookup of {found} was answered, so a proxy configuration script may be in use.")
                } else {
                    "A proxy configuration script was downloaded and names the proxy above.".to_string()
                }
            ),
            "If the connector should go direct, or through a specific proxy, configure that explicitly \
             (ApplicationProxyConnectorService.exe.config) so that WPAD cannot pick another one.",
        );
        f.frames = wpad_lookups
            .iter()
            .map(|l| l.query_frame)
            .chain(pass.dhcp_wpad.iter().map(|(_, frame)| *frame))
            .collect();
        f.frames.sort_unstable();
        f.frames.dedup();
        f.frames.truncate(50);
        f.wireshark_filter = Some("dns.qry.name contains \"wpad\" || nbns.name contains \"WPAD\" || dhcp.option.type==252 || http.request.uri contains \"wpad\"".into());
        f.rank = 3;
        out.push(f);
    }
    out
}
