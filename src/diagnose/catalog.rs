//! What every finding code means, how to see it for yourself in Wireshark and
//! how to fix it: the text behind `capdoc explain CODE`.
//!
//! Codes are stable (REPORT-SCHEMA.md): an entry is never renamed, and every
//! code the diagnosis can emit has one (tests/explain.rs checks the source).

use crate::report::model::Severity;

/// The family a code belongs to, as the schema groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    Connectivity,
    Proxy,
    Tls,
    Coverage,
    CaptureQuality,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Connectivity => "connectivity",
            Category::Proxy => "proxy",
            Category::Tls => "TLS",
            Category::Coverage => "coverage",
            Category::CaptureQuality => "capture quality",
        }
    }
}

/// One finding code explained.
#[derive(Clone, Copy, Debug)]
pub struct Explanation {
    pub code: &'static str,
    pub category: Category,
    /// The severity the code usually has; `severity_note` says when it differs.
    pub severity: Severity,
    pub severity_note: Option<&'static str>,
    /// One line.
    pub summary: &'static str,
    /// What the capture shows and why it matters to the connector.
    pub meaning: &'static str,
    /// How to see the same evidence in Wireshark.
    pub confirm: &'static str,
    /// A display filter to start from (the report's own filter is narrower).
    pub filter: &'static str,
    pub fix: &'static str,
}

/// Looks a code up (exact, lower case).
pub fn explain(code: &str) -> Option<&'static Explanation> {
    CATALOG.iter().find(|e| e.code == code)
}

/// Every code, in the schema's order.
pub fn all() -> &'static [Explanation] {
    CATALOG
}

use Category::*;
use Severity::*;

const CATALOG: &[Explanation] = &[
    Explanation {
        code: "syn-unanswered",
        category: Connectivity,
        severity: Error,
        severity_note: None,
        summary: "TCP connection attempts that got no answer at all",
        meaning: "The connector sent SYNs (often retransmitted after 1 s, 3 s, 7 s) and nothing came back: no \
                  SYN-ACK, no RST, no ICMP error, although the capture kept running long enough to see one. A \
                  device on the path discards the packets silently, which is what a firewall rule with a DROP \
                  action, a missing route or an outbound filter at the network edge looks like.",
        confirm: "Filter on the SYNs to the destination and check that the same source port repeats with growing \
                  gaps and that no packet from the destination follows. Capture on the far side of the firewall, \
                  if you can, to see where the packets stop.",
        filter: "tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission",
        fix: "Allow outbound TCP to the destination's address and port on every firewall between the connector \
              server and the internet (host firewall, network firewall, NSG or cloud edge). Prefer rules by name \
              (FQDN tags) over fixed addresses, since Microsoft's addresses change.",
    },
    Explanation {
        code: "connection-reset",
        category: Connectivity,
        severity: Error,
        severity_note: None,
        summary: "Connections refused or cut off with a TCP reset",
        meaning: "A RST answered the SYN, or ended the connection before the server sent anything useful (for \
                  a tunnel through a proxy: before the TLS ServerHello). Something actively refuses the \
                  connection: a firewall with a REJECT rule, a proxy that closes tunnels it does not like, or \
                  a load balancer with no healthy backend.",
        confirm: "Look at the RST's source address and its TTL or hop limit: a reset that comes back after far \
                  fewer hops than the server's other packets was sent by a device in between, not by Microsoft.",
        filter: "tcp.flags.reset==1",
        fix: "Find the device that sends the reset (firewall, proxy, IPS) and allow the connector's traffic to \
              the destination. If a proxy resets tunnels, add the connector's names to its allow list and exempt \
              them from TLS inspection.",
    },
    Explanation {
        code: "icmp-unreachable",
        category: Connectivity,
        severity: Error,
        severity_note: None,
        summary: "A router or firewall answered the SYN with an ICMP error",
        meaning: "Instead of the server, a device on the path sent an ICMP or ICMPv6 destination-unreachable \
                  message quoting the connector's SYN. The type and code say why: no route, port unreachable, \
                  or communication administratively prohibited (a filter).",
        confirm: "Open the ICMP packet: the quoted header inside it is the connector's SYN, and the ICMP source \
                  address is the device that refused it.",
        filter: "icmp.type==3 || icmpv6.type==1",
        fix: "On the device that sent the ICMP error, add a route or allow rule for the destination. \
              'Administratively prohibited' means a filter rule; 'network unreachable' means routing.",
    },
    Explanation {
        code: "slow-handshake",
        category: Connectivity,
        severity: Warning,
        severity_note: None,
        summary: "SYNs had to be retransmitted before the server answered",
        meaning: "The connection succeeded in the end, but only after one or more SYN retransmissions, so each \
                  connection took a second or more to open. This points to packet loss, an overloaded firewall \
                  or a rule that was changed during the capture. The connector opens many connections, so \
                  delays add up and can make sign-ins or requests time out.",
        confirm: "Filter on retransmitted SYNs and compare their times with the SYN-ACK that finally answered.",
        filter: "tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission",
        fix: "Look for packet loss or connection-rate limits between the connector and the internet (firewall \
              session tables, IPS throttling, a saturated link). Retest once the path is stable.",
    },
    Explanation {
        code: "dropped-locally",
        category: Connectivity,
        severity: Error,
        severity_note: None,
        summary: "The connector's own server dropped the packet before it left",
        meaning: "The capture was taken with pktmon and converted with etl2pcapng, and the packet carries a drop \
                  verdict from inside Windows. The block is on the connector server itself, usually Windows \
                  Firewall (WFP) or security software, not in the network.",
        confirm: "The dropped copy of the packet carries non-zero packet flags (etl2pcapng stores the drop \
                  there); `pktmon format` on the original .etl file names the dropping component and reason.",
        filter: "frame.packet_flags != 0",
        fix: "Check outbound rules in Windows Defender Firewall and any endpoint security product on the \
              connector server; allow the connector service (WAPCSvc) to reach the destination.",
    },
    Explanation {
        code: "servicebus-direct-fallback",
        category: Connectivity,
        severity: Info,
        severity_note: None,
        summary: "Direct Service Bus ports fail, but 443 works (expected)",
        meaning: "Older connectors first try Service Bus on its own ports (9350-9354, 5671-5672) and fall back to \
                  443 when those fail. The capture shows exactly that fallback, which is normal and needs no \
                  action when 443 works.",
        confirm: "Filter on the Service Bus ports and then on 443 to the same names: the 443 connections succeed.",
        filter: "tcp.dstport in {9350..9354 5671 5672}",
        fix: "Nothing to do. Opening those ports is optional; 443 is enough for current connectors.",
    },
    Explanation {
        code: "no-response",
        category: Connectivity,
        severity: Error,
        severity_note: None,
        summary: "Connected, but the server never answered the request",
        meaning: "The TCP handshake completed and the connector sent its first bytes (a TLS ClientHello or a \
                  request), but no reply came back before the connection ended. Devices that inspect traffic \
                  and silently discard what they do not like cause this, as do paths that lose large packets \
                  (MTU problems).",
        confirm: "Follow the TCP stream: the client's data is there, the server's side is empty; look for \
                  retransmissions of the client's data.",
        filter: "tcp.analysis.retransmission && tcp.len>0",
        fix: "Check IPS or TLS-inspection devices on the path and the path MTU (try a smaller MSS clamp). Allow \
              the destination without inspection.",
    },
    Explanation {
        code: "http-error",
        category: Connectivity,
        severity: Warning,
        severity_note: None,
        summary: "The origin server answered with an HTTP error",
        meaning: "The destination was reached and answered, but with a 4xx or 5xx status that did not come from \
                  a proxy. The network path works; the request itself was refused or failed.",
        confirm: "Filter on HTTP responses with an error status and read the response headers and body.",
        filter: "http.response.code >= 400",
        fix: "Usually nothing on the network: check the URL the connector asked for. For a CRL or OCSP \
              address, make sure no proxy rewrites the request.",
    },
    Explanation {
        code: "proxy-auth-required",
        category: Proxy,
        severity: Error,
        severity_note: None,
        summary: "The proxy demands authentication (HTTP 407)",
        meaning: "The outbound proxy answered the connector's request with 407 Proxy Authentication Required. \
                  The connector runs as a service account and does not answer proxy authentication \
                  challenges, so every request through this proxy fails.",
        confirm: "Filter on the 407 answers; the Proxy-Authenticate header names the scheme the proxy wants \
                  (Basic, NTLM, Negotiate).",
        filter: "http.response.code==407",
        fix: "Let the connector server through the proxy without authentication (an allow rule by source \
              address or by destination name), or bypass the proxy for the connector's names.",
    },
    Explanation {
        code: "proxy-denied",
        category: Proxy,
        severity: Error,
        severity_note: None,
        summary: "The proxy refused the request itself (403 or similar)",
        meaning: "The proxy answered with a refusal it generated itself, usually 403 from an access rule or a \
                  category filter. The request never left the proxy.",
        confirm: "Filter on the proxy's answers; proxy error markers such as X-Squid-Error or Proxy-Status, or \
                  the error page in the body, name the rule.",
        filter: "http.response.code==403",
        fix: "Add the connector's required names (*.msappproxy.net, *.servicebus.windows.net, the sign-in and \
              revocation names) to the proxy's allow list for the connector server.",
    },
    Explanation {
        code: "proxy-upstream-error",
        category: Proxy,
        severity: Error,
        severity_note: None,
        summary: "The proxy could not reach the destination (5xx from the proxy)",
        meaning: "The proxy accepted the request but failed to connect onwards and said so with a 500, 502, 503 \
                  or 504 of its own: the name did not resolve on the proxy, the destination refused or dropped \
                  the proxy's connection, or the proxy timed out. The problem is between the proxy and the \
                  internet.",
        confirm: "Read the proxy's error page or its X-Squid-Error / Proxy-Status header; then check the proxy's \
                  own log or capture on its outside interface.",
        filter: "http.response.code >= 500",
        fix: "Fix name resolution and outbound access on the proxy itself (its DNS servers, its firewall, its \
              upstream proxy).",
    },
    Explanation {
        code: "proxy-unreachable",
        category: Proxy,
        severity: Error,
        severity_note: None,
        summary: "The proxy itself cannot be reached",
        meaning: "Connections to the configured proxy's address and port got no answer, a reset or an ICMP error. \
                  Nothing the connector asks for can work while its proxy is unreachable.",
        confirm: "Filter on SYNs to the proxy's address and port and look for the missing SYN-ACK.",
        filter: "tcp.flags.syn==1 && tcp.flags.ack==0",
        fix: "Check the proxy address and port in the connector's configuration (ApplicationProxyConnectorService.exe.config \
              or the system's WinHTTP settings), and that the proxy service is running and reachable.",
    },
    Explanation {
        code: "proxy-no-response",
        category: Proxy,
        severity: Error,
        severity_note: None,
        summary: "The proxy accepted the connection but never answered",
        meaning: "The connector connected to the proxy and sent a request, but the proxy sent no HTTP answer \
                  before the connection closed or the capture ended.",
        confirm: "Follow the TCP stream to the proxy: the request is there, no response follows.",
        filter: "http.request.method==\"CONNECT\"",
        fix: "Look at the proxy's log for the request; an overloaded proxy or a policy that silently holds \
              connections behaves like this.",
    },
    Explanation {
        code: "wpad-proxy",
        category: Proxy,
        severity: Info,
        severity_note: None,
        summary: "Automatic proxy discovery (WPAD/PAC) chose a proxy",
        meaning: "The capture shows proxy auto-discovery: a WPAD lookup (DNS, NetBIOS or DHCP option 252) and a \
                  PAC file naming a proxy. The connector's traffic then follows whatever that file says, which \
                  can differ from what the administrator expects.",
        confirm: "Filter on the WPAD lookups and the PAC download; read the PROXY lines in the PAC file.",
        filter: "dns.qry.name contains \"wpad\" || http.request.uri contains \"wpad\"",
        fix: "If the connector should go direct or through a specific proxy, configure that explicitly rather \
              than relying on discovery.",
    },
    Explanation {
        code: "tls-inspection",
        category: Tls,
        severity: Error,
        severity_note: None,
        summary: "A certificate from an unexpected issuer: TLS is being inspected",
        meaning: "For a name the connector needs, the server certificate was issued by a CA outside the expected \
                  set (Microsoft's and DigiCert's issuing CAs by default). A device in between terminates TLS \
                  and re-signs the traffic. The connector authenticates with a client certificate, which \
                  cannot pass through such a device, so registration and the service channel break.",
        confirm: "Open the Certificate message of the handshake and read the issuer of the first certificate.",
        filter: "tls.handshake.type==11",
        fix: "Exempt the connector's names from TLS inspection (bypass or do-not-decrypt rule) on the proxy or \
              firewall that re-signs them.",
    },
    Explanation {
        code: "tls-version",
        category: Tls,
        severity: Error,
        severity_note: Some("warning for names that are not in the required-URL table"),
        summary: "TLS below 1.2 negotiated or offered",
        meaning: "The handshake negotiated TLS 1.0 or 1.1, or the connector offered nothing newer. Microsoft's \
                  endpoints accept only TLS 1.2 and later, so such connections fail.",
        confirm: "Compare the versions in the ClientHello (supported_versions) with the ServerHello.",
        filter: "tls.handshake.type==1 || tls.handshake.type==2",
        fix: "Enable TLS 1.2 on the connector server (SCHANNEL registry keys, and .NET strong cryptography \
              settings) and restart the service.",
    },
    Explanation {
        code: "tls-alert",
        category: Tls,
        severity: Error,
        severity_note: Some("warning for names that are not in the required-URL table"),
        summary: "A TLS handshake ended in a fatal alert",
        meaning: "One side aborted the handshake with a fatal alert. The alert's description says which side gave \
                  up and why, for example protocol_version (no common TLS version), unknown_ca (a certificate \
                  is not trusted) or handshake_failure (no common cipher).",
        confirm: "Filter on TLS alerts that are not encrypted and read their level and description.",
        filter: "tls.alert_message",
        fix: "Match the fix to the alert: enable TLS 1.2+ and modern ciphers for protocol_version and \
              handshake_failure; for certificate alerts, check for TLS inspection and the server's trusted \
              root store.",
    },
    Explanation {
        code: "sni-mismatch",
        category: Tls,
        severity: Warning,
        severity_note: None,
        summary: "The tunnel's TLS server name differs from its CONNECT target",
        meaning: "Through a proxy, the client asked for a tunnel to one name but the TLS ClientHello inside the \
                  tunnel names another. Proxies that compare the two, and servers that route by SNI, may refuse \
                  such connections.",
        confirm: "Compare the CONNECT request's authority with the server_name extension of the next ClientHello \
                  on the same TCP stream.",
        filter: "http.request.method==\"CONNECT\" || tls.handshake.extensions_server_name",
        fix: "Make sure nothing rewrites the destination (hosts file entries, a proxy chain that changes the \
              target) and that the connector uses the names Microsoft publishes.",
    },
    Explanation {
        code: "crl-blocked",
        category: Coverage,
        severity: Error,
        severity_note: None,
        summary: "Certificate revocation checks on port 80 fail",
        meaning: "The connector checks revocation of the certificates it sees over plain HTTP (CRL and OCSP, \
                  such as crl3.digicert.com or ocsp.digicert.com on port 80). Those requests failed. Windows \
                  then may refuse the TLS connections that depend on them.",
        confirm: "Filter on HTTP requests to the revocation names and look for failed connections or error \
                  answers.",
        filter: "http.host contains \"crl\" || http.host contains \"ocsp\" || tcp.dstport==80",
        fix: "Allow outbound HTTP (TCP 80) from the connector server to the CRL and OCSP names in the \
              required-URL table, directly or through the proxy.",
    },
    Explanation {
        code: "required-not-seen",
        category: Coverage,
        severity: Warning,
        severity_note: None,
        summary: "A required name was never contacted in the capture",
        meaning: "The required-URL table lists the name, but the capture shows no attempt to reach it. The \
                  capture may have started after the connector came up, the connector may have stopped before \
                  reaching that step, or it may be configured to reach it another way.",
        confirm: "Search the DNS queries and TLS server names for the pattern; if nothing matches, the traffic \
                  is not in the capture.",
        filter: "dns.qry.name contains \"msappproxy\" || tls.handshake.extensions_server_name contains \"msappproxy\"",
        fix: "Capture again covering the start of the connector service (flush DNS, stop the service, start the \
              capture, start the service). If the name is still missing, look at the failures that come before \
              it.",
    },
    Explanation {
        code: "dns-failure",
        category: Coverage,
        severity: Error,
        severity_note: None,
        summary: "Name lookups for required names failed",
        meaning: "DNS answered a query for a name the connector needs with an error (NXDOMAIN or SERVFAIL) or \
                  never answered. Without an address the connector cannot even try to connect.",
        confirm: "Filter on DNS answers with a non-zero response code, and on queries that have no answer.",
        filter: "dns.flags.rcode != 0",
        fix: "Fix the connector server's DNS resolvers or their forwarders so that public Microsoft names \
              resolve; check conditional forwarders and split-horizon zones for msappproxy.net and \
              servicebus.windows.net.",
    },
    Explanation {
        code: "capture-truncated",
        category: CaptureQuality,
        severity: Warning,
        severity_note: None,
        summary: "Packets were cut short when captured (snap length)",
        meaning: "The capture kept only the first bytes of each packet. TCP and IP headers are still visible, but \
                  TLS server names, CONNECT targets and certificates may be missing, so some names and findings \
                  cannot be known.",
        confirm: "In the frame details, 'Frame length on the wire' exceeds 'captured length' on the affected \
                  packets.",
        filter: "frame.len > frame.cap_len",
        fix: "Capture again with full packets: the default in Wireshark and dumpcap, `tcpdump -s 0`, or \
              `pktmon start --capture --pkt-size 0`.",
    },
    Explanation {
        code: "capture-duplicates",
        category: CaptureQuality,
        severity: Info,
        severity_note: None,
        summary: "The same packets were captured more than once",
        meaning: "Identical copies of packets appear within milliseconds, or pktmon logged one packet at several \
                  components. capdoc counts each packet once, so copies are not mistaken for retransmissions; \
                  other tools may count them.",
        confirm: "Wireshark marks such copies as retransmissions or duplicate ACKs: check that they have the same \
                  IP identification and arrive microseconds after the original, or share a pktmon packet id.",
        filter: "tcp.analysis.retransmission || tcp.analysis.duplicate_ack",
        fix: "Nothing to do for capdoc. For other tools, capture on one interface or one pktmon component, or \
              remove duplicates with `editcap -d`.",
    },
    Explanation {
        code: "capture-incomplete",
        category: CaptureQuality,
        severity: Warning,
        severity_note: None,
        summary: "The capture ends before some outcomes are known",
        meaning: "Connections were still waiting for an answer when the capture stopped (within about a second \
                  of their last SYN), so capdoc cannot say whether they would have succeeded.",
        confirm: "Compare the time of the last SYNs with the end of the capture.",
        filter: "tcp.flags.syn==1 && tcp.flags.ack==0",
        fix: "Let the capture run at least a minute after starting the connector service.",
    },
    Explanation {
        code: "capture-missed-start",
        category: CaptureQuality,
        severity: Warning,
        severity_note: None,
        summary: "No connector traffic in the capture",
        meaning: "The capture holds no attempt to any name the connector needs. It was probably started after \
                  the service came up, taken on another host or interface, or filtered too narrowly.",
        confirm: "Search the capture for DNS queries and TLS server names ending in msappproxy.net or \
                  servicebus.windows.net.",
        filter: "dns.qry.name contains \"msappproxy\" || dns.qry.name contains \"servicebus\"",
        fix: "Capture on the connector server's network adapter, with no capture filter, while the connector \
              service starts.",
    },
    Explanation {
        code: "capture-one-sided",
        category: CaptureQuality,
        severity: Warning,
        severity_note: None,
        summary: "Only one direction of the traffic was captured",
        meaning: "The capture shows packets from the connector but none coming back, or the reverse, even for \
                  connections that must have worked. Asymmetric mirroring or a capture filter usually causes \
                  this, and it makes unanswered SYNs look like blocks when they are not.",
        confirm: "Statistics > Conversations: every TCP conversation has packets in one direction only.",
        filter: "tcp",
        fix: "Capture on the connector server itself, or mirror both directions of the port.",
    },
    Explanation {
        code: "capture-unsupported-link",
        category: CaptureQuality,
        severity: Warning,
        severity_note: None,
        summary: "Frames of a link type capdoc cannot decode",
        meaning: "Some frames use a link-layer type capdoc does not read, so whatever they carry was not \
                  analysed.",
        confirm: "Statistics > Capture File Properties lists the encapsulation of each interface.",
        filter: "frame",
        fix: "Capture on an Ethernet or raw-IP interface, or convert with `editcap -T ether` where that is \
              possible.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_lower_case() {
        let mut codes: Vec<&str> = all().iter().map(|e| e.code).collect();
        assert!(codes
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-')));
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len());
        assert!(explain("syn-unanswered").is_some());
        assert!(explain("no-such-code").is_none());
    }
}
