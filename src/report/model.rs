//! The typed report: what every renderer (text, JSON) shows. Field names and
//! enum spellings are the JSON schema (`docs/report-schema.md`, schema 1).

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU64;
use std::sync::Arc;

use serde::{Serialize, Serializer};

use crate::diagnose::text;
use crate::flow::End;
use crate::proto::tls::Certificate;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, Serialize)]
pub struct CaptureReport {
    pub schema: u32,
    pub capdoc: String,
    pub file: String,
    pub error: Option<String>,
    pub capture: CaptureFacts,
    pub tables: Tables,
    pub attempts: Vec<Attempt>,
    pub findings: Vec<Finding>,
    pub endpoints: Vec<EndpointCoverage>,
    pub verdict: Verdict,
    /// Attempts beyond `--max-listed`, counted per destination and outcome
    /// instead of listed one by one (capdoc extension; absent when all are listed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempt_groups: Vec<AttemptGroup>,
    /// Every TCP connection seen, up to `--max-listed` (capdoc extension; attempts refer to them).
    pub connections: Vec<ConnectionSummary>,
    /// Connections beyond `--max-listed`, counted only (capdoc extension).
    #[serde(skip_serializing_if = "is_zero")]
    pub connections_unlisted: u64,
    /// Every DNS/LLMNR question and its answer (capdoc extension).
    pub dns: Vec<DnsLookup>,
}

impl CaptureReport {
    /// The required-URL rows, failed first, then reached, then not seen; the
    /// table's order within each. What renderers for people show.
    pub fn endpoints_by_status(&self) -> Vec<&EndpointCoverage> {
        [Coverage::Failed, Coverage::Reached, Coverage::NotSeen]
            .iter()
            .flat_map(|status| self.endpoints.iter().filter(move |e| e.status == *status))
            .collect()
    }
}

/// One name lookup (capdoc extension).
#[derive(Clone, Debug, Serialize)]
pub struct DnsLookup {
    pub name: String,
    /// `NOERROR`, `NXDOMAIN`, `SERVFAIL`, ...; null when unanswered.
    pub rcode: Option<&'static str>,
    /// Addresses of the asked name, after following `cnames`.
    pub addresses: Vec<String>,
    pub cnames: Vec<String>,
    pub query_frame: u64,
    pub answer_frame: Option<u64>,
    pub protocol: &'static str,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct CaptureFacts {
    pub format: Option<&'static str>,
    pub compressed: Option<&'static str>,
    pub link_types: Vec<String>,
    pub interfaces: Vec<InterfaceFacts>,
    pub application: Option<String>,
    pub os: Option<String>,
    pub packets: u64,
    pub unique_packets: u64,
    pub bytes: u64,
    pub start: Option<String>,
    pub end: Option<String>,
    pub truncated_packets: u64,
    pub warnings: Vec<String>,
    /// capdoc extensions.
    pub duplicates_folded: u64,
    /// Frames with no IP packet capdoc could read, by link type, for the
    /// link types capdoc cannot decode.
    pub unsupported_link_frames: Vec<LinkCount>,
    /// Offset at which the file ended mid-record, if it did.
    pub cut_at_offset: Option<u64>,
    /// capdoc extension: facts from Windows capture metadata (pktmon/etl2pcapng).
    pub windows: WindowsCapture,
    /// capdoc extension: the limits this capture reached (absent when none was).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub limits_hit: Vec<LimitHit>,
    /// capdoc extension: TCP connections already open when the capture started (no SYN seen).
    pub connections_already_open: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct WindowsCapture {
    /// Later appearances of a packet (same packet id) not counted again.
    pub copies_folded: u64,
    /// The interfaces (pktmon components) whose appearance of each packet was the one counted.
    pub counted_on: Vec<String>,
    /// Records with a drop verdict (dropped inside the capturing host).
    pub dropped_frames: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct InterfaceFacts {
    pub name: Option<String>,
    pub link_type: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LinkCount {
    pub link_type: String,
    pub frames: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tables {
    pub urls: String,
    pub ca_set: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    Connect,
    ProxyRequest,
    Sni,
    HttpHost,
    Dns,
    Nrb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Path {
    Direct,
    Proxy,
}

/// Outcomes in order of precedence (REPORT-SCHEMA.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    DroppedLocally,
    SynUnanswered,
    IcmpUnreachable,
    Reset,
    ProxyAuthRequired,
    ProxyDenied,
    ProxyUpstreamError,
    HttpError,
    TlsInspected,
    TlsAlert,
    NoResponse,
    Incomplete,
    Ok,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::DroppedLocally => "dropped_locally",
            Outcome::SynUnanswered => "syn_unanswered",
            Outcome::IcmpUnreachable => "icmp_unreachable",
            Outcome::Reset => "reset",
            Outcome::ProxyAuthRequired => "proxy_auth_required",
            Outcome::ProxyDenied => "proxy_denied",
            Outcome::ProxyUpstreamError => "proxy_upstream_error",
            Outcome::HttpError => "http_error",
            Outcome::TlsInspected => "tls_inspected",
            Outcome::TlsAlert => "tls_alert",
            Outcome::NoResponse => "no_response",
            Outcome::Incomplete => "incomplete",
            Outcome::Ok => "ok",
        }
    }

    /// Whether the destination answered at all (for endpoint coverage).
    pub fn reached(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::HttpError)
    }

    /// Judged and not reached: what findings are about.
    pub fn failed(self) -> bool {
        !self.reached() && self != Outcome::Incomplete
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Destination {
    /// Shared with the connection's parse result and the other attempts to it.
    pub name: Option<Arc<str>>,
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
}

/// The table row an attempt's destination falls under. Every attempt to a
/// required name carries one, so its texts are shared, not copied.
#[derive(Clone, Debug, Serialize)]
pub struct RequiredRef {
    pub pattern: Arc<str>,
    pub port: u16,
    pub purpose: Arc<str>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsFacts {
    pub sni: Option<Arc<str>>,
    /// The negotiated version; null when no ServerHello was seen.
    pub version: Option<&'static str>,
    /// capdoc extension: the highest version the client offered.
    pub client_max_version: Option<&'static str>,
    /// capdoc extension: the first fatal alert in clear, from either side.
    pub alert: Option<TlsAlertFacts>,
    /// The leaf certificate's names, when visible (TLS 1.3 encrypts them), shared
    /// with every attempt that saw the same certificate. The JSON shows them as
    /// `issuer`, `subject` (capdoc extension) and `dns_names` (capdoc extension).
    pub certificate: Option<Arc<Certificate>>,
    /// capdoc extension: the server asked for a client certificate (the connector
    /// authenticates to the service with one).
    pub certificate_request: bool,
}

impl TlsFacts {
    /// The leaf certificate's issuer as a distinguished name.
    pub fn issuer(&self) -> Option<&str> {
        self.certificate.as_deref().map(|c| c.issuer.as_str())
    }

    pub fn subject(&self) -> Option<&str> {
        self.certificate.as_deref().map(|c| c.subject.as_str())
    }

    pub fn dns_names(&self) -> &[String] {
        self.certificate.as_deref().map_or(&[], |c| c.dns_names.as_slice())
    }
}

/// Field by field, in the schema's order, with the certificate's names in place.
impl Serialize for TlsFacts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("TlsFacts", 8)?;
        s.serialize_field("sni", &self.sni)?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("issuer", &self.issuer())?;
        s.serialize_field("client_max_version", &self.client_max_version)?;
        s.serialize_field("alert", &self.alert)?;
        s.serialize_field("subject", &self.subject())?;
        s.serialize_field("dns_names", self.dns_names())?;
        s.serialize_field("certificate_request", &self.certificate_request)?;
        s.end()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct TlsAlertFacts {
    /// `client` or `server`.
    pub from: &'static str,
    pub level: &'static str,
    /// RFC 8446 name, e.g. `protocol_version`, `unknown_ca`.
    pub description: &'static str,
}

/// One attempt (REPORT-SCHEMA.md). A large capture has hundreds of thousands,
/// most of them only counted in groups: what can be derived when shown (the
/// client, the proxy, the start, the filter) is kept as numbers and addresses.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub id: u32,
    pub connection: u32,
    pub destination: Destination,
    pub name_source: Option<NameSource>,
    pub path: Path,
    pub outcome: Outcome,
    pub http_status: Option<u16>,
    pub syn_retransmits: u32,
    pub conn_state: &'static str,
    /// When the connection started, as Unix nanoseconds; see [`Attempt::start`].
    pub start_nanos: i64,
    pub frames: Box<[u64]>,
    /// The connection's two ends, which also give the attempt's client and proxy.
    pub wireshark_filter: ConnectionFilter,
    /// Shared by the attempts to names of the same row.
    pub required: Option<Arc<RequiredRef>>,
    /// Shared by the attempts that saw the same handshake (the same server name,
    /// versions and certificate); a flood of unanswered SYNs pays a pointer.
    pub tls: Option<Arc<TlsFacts>>,
    pub pid: Option<u32>,
    /// capdoc extension: a one-line account of what happened.
    pub detail: String,
    /// capdoc extension: the Azure service tag of the address, for attempts
    /// without a name, when `--service-tags` was given.
    pub service_tag: Option<String>,
}

impl Serialize for Attempt {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut a = serializer.serialize_struct("Attempt", 19)?;
        a.serialize_field("id", &self.id)?;
        a.serialize_field("connection", &self.connection)?;
        a.serialize_field("client", &SocketText(self.client()))?;
        a.serialize_field("destination", &self.destination)?;
        a.serialize_field("name_source", &self.name_source)?;
        a.serialize_field("path", &self.path)?;
        a.serialize_field("proxy", &self.proxy().map(SocketText))?;
        a.serialize_field("outcome", &self.outcome)?;
        a.serialize_field("http_status", &self.http_status)?;
        a.serialize_field("syn_retransmits", &self.syn_retransmits)?;
        a.serialize_field("conn_state", self.conn_state)?;
        a.serialize_field("start", &self.start())?;
        a.serialize_field("frames", &self.frames)?;
        a.serialize_field("wireshark_filter", &self.wireshark_filter)?;
        a.serialize_field("required", &self.required)?;
        a.serialize_field("tls", &self.tls)?;
        a.serialize_field("pid", &self.pid)?;
        a.serialize_field("detail", &self.detail)?;
        a.serialize_field("service_tag", &self.service_tag)?;
        a.end()
    }
}

/// An address and port, serialized as the text `Display` gives (serde's own
/// impl writes that text through the formatting machinery, which cost more than
/// the rest of an attempt's fields).
struct SocketText(SocketAddr);

impl Serialize for SocketText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&text::socket(self.0))
    }
}

/// The Wireshark display filter of an attempt: its connection's packets in
/// both directions, and frames that belong with them. Kept as addresses and
/// written out only when shown, like [`Attempt::start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionFilter {
    client: End,
    server: End,
    /// An ICMP error that quotes the connection's SYN.
    pub icmp_frame: Option<NonZeroU64>,
    /// The request an attempt on a proxy connection stands for.
    pub request_frame: Option<NonZeroU64>,
}

impl ConnectionFilter {
    /// The packets between `client` and `server`, and no other frame yet.
    pub fn new(client: SocketAddr, server: SocketAddr) -> Self {
        ConnectionFilter {
            client: client.into(),
            server: server.into(),
            icmp_frame: None,
            request_frame: None,
        }
    }

    pub fn client(&self) -> SocketAddr {
        self.client.into()
    }

    pub fn server(&self) -> SocketAddr {
        self.server.into()
    }

    /// The same filter between other ends (pseudonyms).
    pub fn with_ends(self, client: SocketAddr, server: SocketAddr) -> Self {
        ConnectionFilter {
            client: client.into(),
            server: server.into(),
            ..self
        }
    }

    /// The filter's text, built without `format!`: a report writes one per
    /// listed attempt, and the formatting machinery cost more than the rest.
    pub fn text(&self) -> String {
        use crate::diagnose::text::{push_ip, push_num};
        let field = crate::diagnose::ip_field(self.client().ip());
        let mut out = String::with_capacity(96);
        if self.icmp_frame.is_some() {
            out.push('(');
        }
        for (i, end) in [self.client(), self.server()].into_iter().enumerate() {
            if i > 0 {
                out.push_str(" && ");
            }
            out.push_str(field);
            out.push_str(".addr==");
            push_ip(&mut out, end.ip());
            out.push_str(" && tcp.port==");
            push_num(&mut out, end.port());
        }
        if let Some(frame) = self.icmp_frame {
            out.push_str(") || frame.number==");
            push_num(&mut out, frame.get());
        }
        if let Some(frame) = self.request_frame {
            out.push_str(" || frame.number==");
            push_num(&mut out, frame.get());
        }
        out
    }
}

impl Serialize for ConnectionFilter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

impl Attempt {
    /// When the connection started, in RFC 3339.
    pub fn start(&self) -> String {
        crate::diagnose::time::rfc3339(self.start_nanos)
    }

    /// The address and port the connection came from.
    pub fn client(&self) -> SocketAddr {
        self.wireshark_filter.client()
    }

    /// The proxy the attempt went through: the server of its connection.
    pub fn proxy(&self) -> Option<SocketAddr> {
        (self.path == Path::Proxy).then(|| self.wireshark_filter.server())
    }

    /// `name (ip):port`, `ip:port` or `name:port`, plus the proxy when there is one.
    pub fn destination_label(&self) -> String {
        let mut label = destination_label(&self.destination, self.service_tag.as_deref());
        if let Some(proxy) = self.proxy() {
            label.push_str(" via proxy ");
            text::push_socket(&mut label, proxy);
        }
        label
    }
}

impl AttemptGroup {
    /// Like [`Attempt::destination_label`].
    pub fn destination_label(&self) -> String {
        let mut label = destination_label(&self.destination, None);
        if let Some(proxy) = &self.proxy {
            label.push_str(" via proxy ");
            label.push_str(proxy);
        }
        label
    }
}

/// Written piece by piece into one string: the JSON report writes one for each
/// attempt, where `format!` made up to four strings.
fn destination_label(d: &Destination, service_tag: Option<&str>) -> String {
    let mut out = String::with_capacity(64);
    let push_ip = |out: &mut String, ip: IpAddr| match ip {
        IpAddr::V4(_) => text::push_ip(out, ip),
        IpAddr::V6(_) => {
            out.push('[');
            text::push_ip(out, ip);
            out.push(']');
        }
    };
    let push_port = |out: &mut String| match d.port {
        Some(port) => text::push_num(out, port),
        None => out.push('?'),
    };
    match (&d.name, d.ip) {
        (Some(name), Some(ip)) => {
            out.push_str(name);
            out.push_str(" (");
            push_ip(&mut out, ip);
            out.push_str("):");
            push_port(&mut out);
        }
        (Some(name), None) => {
            out.push_str(name);
            out.push(':');
            push_port(&mut out);
        }
        (None, Some(ip)) => {
            push_ip(&mut out, ip);
            out.push(':');
            push_port(&mut out);
            if let Some(tag) = service_tag {
                out.push_str(" (service tag ");
                out.push_str(tag);
                out.push(')');
            }
        }
        (None, None) => out.push_str("(no request)"),
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: &'static str,
    pub title: String,
    pub detail: String,
    pub remediation: String,
    pub attempts: Vec<u32>,
    pub frames: Vec<u64>,
    /// capdoc extension: a display filter that shows the evidence.
    pub wireshark_filter: Option<String>,
    /// capdoc extension: attempts behind this finding that are counted in
    /// `attempt_groups` rather than listed (absent when all are listed).
    #[serde(skip_serializing_if = "is_zero")]
    pub unlisted_attempts: u64,
    /// Ordering among findings of one severity: what blocks the connector's
    /// service channel first (0), then revocation checks, registration, the rest.
    #[serde(skip)]
    pub rank: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    Reached,
    Failed,
    NotSeen,
}

#[derive(Clone, Debug, Serialize)]
pub struct EndpointCoverage {
    pub pattern: String,
    pub port: u16,
    pub purpose: String,
    pub status: Coverage,
    pub attempts: Vec<u32>,
    /// capdoc extension: attempts to this row counted in `attempt_groups` (absent when all are listed).
    #[serde(skip_serializing_if = "is_zero")]
    pub unlisted_attempts: u64,
    /// capdoc extension: required, optional or legacy.
    pub requirement: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerdictStatus {
    Healthy,
    Problems,
    Inconclusive,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub status: VerdictStatus,
    pub summary: String,
}

/// One TCP connection (capdoc extension), in Zeek's vocabulary.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionSummary {
    pub id: u32,
    pub client: String,
    pub server: String,
    /// The client's initial sequence number, when its SYN was captured.
    pub isn: Option<u32>,
    pub conn_state: &'static str,
    pub history: String,
    pub start: String,
    pub first_frame: u64,
    pub syn_frames: Vec<u64>,
    pub syn_retransmits: u32,
    pub syn_ack_frame: Option<u64>,
    /// First SYN to SYN-ACK, milliseconds.
    pub connect_ms: Option<f64>,
    /// Answered SYN to SYN-ACK, milliseconds.
    pub handshake_rtt_ms: Option<f64>,
    pub reset: Option<ResetSummary>,
    pub icmp: Option<IcmpSummary>,
    pub client_bytes: u64,
    pub server_bytes: u64,
    pub client_packets: u64,
    pub server_packets: u64,
    pub duration_ms: f64,
    /// When things happened, for timelines (not in the JSON: `start`, `connect_ms`
    /// and `duration_ms` carry the same facts there).
    #[serde(skip)]
    pub timing: ConnectionTiming,
}

/// Unix nanoseconds of the events of one connection.
#[derive(Clone, Debug, Default)]
pub struct ConnectionTiming {
    pub start: i64,
    pub end: i64,
    /// The client's SYNs, the first one first.
    pub syns: Vec<i64>,
    pub syn_ack: Option<i64>,
    pub reset: Option<i64>,
    pub icmp: Option<i64>,
    pub local_drop: Option<i64>,
    /// The first payload of the client (the request, a ClientHello) and of the server (the answer).
    pub client_data: Option<i64>,
    pub server_data: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ResetSummary {
    pub from: &'static str,
    pub frame: u64,
    pub after_handshake: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct IcmpSummary {
    pub frame: u64,
    pub from: String,
    pub icmp_type: u8,
    pub code: u8,
    pub meaning: &'static str,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl CaptureFacts {
    /// Records a limit reached, in `limits_hit` and, for readers of any format, in `warnings`.
    pub fn hit(&mut self, hit: LimitHit) {
        self.warnings
            .push(format!("limit reached ({} {}): {}", hit.limit, hit.value, hit.effect));
        self.limits_hit.push(hit);
    }
}

/// A limit that a capture reached (capdoc extension). What was analysed up to
/// it stays correct; what lay beyond it is counted, not analysed or listed.
#[derive(Clone, Debug, Serialize)]
pub struct LimitHit {
    /// The option that sets it, e.g. `--max-connections`.
    pub limit: &'static str,
    pub value: u64,
    /// What was left out because of it.
    pub effect: String,
}

/// Attempts that were not listed, with one destination, path and outcome (capdoc extension).
#[derive(Clone, Debug, Serialize)]
pub struct AttemptGroup {
    pub destination: Destination,
    pub path: Path,
    pub proxy: Option<String>,
    pub outcome: Outcome,
    pub required: Option<Arc<RequiredRef>>,
    /// Attempts counted here (not in `attempts`).
    pub count: u64,
    /// Attempts to the same destination with the same outcome that are listed.
    pub listed: u64,
    pub first_start: String,
    pub last_start: String,
    /// The first frames of the unlisted attempts (at most ten).
    pub frames: Vec<u64>,
    pub syn_retransmits: u64,
    /// A display filter that shows traffic to this destination.
    pub wireshark_filter: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_labels_in_each_shape() {
        let d = |name: Option<&str>, ip: Option<&str>, port| Destination {
            name: name.map(Arc::from),
            ip: ip.map(|ip| ip.parse().expect("address")),
            port,
        };
        let cases = [
            (
                d(Some("a.msappproxy.net"), Some("203.0.113.5"), Some(443)),
                None,
                "a.msappproxy.net (203.0.113.5):443",
            ),
            (
                d(Some("a.msappproxy.net"), Some("2001:db8::5"), Some(443)),
                None,
                "a.msappproxy.net ([2001:db8::5]):443",
            ),
            (
                d(Some("crl3.digicert.com"), None, Some(80)),
                None,
                "crl3.digicert.com:80",
            ),
            (
                d(None, Some("203.0.113.5"), None),
                Some("AzureCloud"),
                "203.0.113.5:? (service tag AzureCloud)",
            ),
            (d(None, Some("2001:db8::5"), Some(443)), None, "[2001:db8::5]:443"),
            (d(None, None, Some(443)), None, "(no request)"),
        ];
        for (destination, tag, label) in cases {
            assert_eq!(destination_label(&destination, tag), label);
        }
    }

    #[test]
    fn a_connection_filter_reads_as_wireshark_wants_it() {
        let filter = ConnectionFilter::new(
            "192.0.2.10:50000".parse().expect("addr"),
            "203.0.113.5:443".parse().expect("addr"),
        );
        assert_eq!(
            filter.text(),
            "ip.addr==192.0.2.10 && tcp.port==50000 && ip.addr==203.0.113.5 && tcp.port==443"
        );
        // The ICMP error joins the connection's packets; the request is added after.
        let with_frames = ConnectionFilter {
            icmp_frame: NonZeroU64::new(7),
            request_frame: NonZeroU64::new(12),
            ..ConnectionFilter::new(
                "[2001:db8::10]:50000".parse().expect("addr"),
                "[2001:db8::5]:8080".parse().expect("addr"),
            )
        };
        assert_eq!(
            with_frames.text(),
            "(ipv6.addr==2001:db8::10 && tcp.port==50000 && ipv6.addr==2001:db8::5 && tcp.port==8080) \
             || frame.number==7 || frame.number==12"
        );
        assert_eq!(
            serde_json::to_string(&with_frames).expect("json"),
            format!("\"{}\"", with_frames.text())
        );
    }

    /// An attempt's client and proxy read as serde writes a `SocketAddr`.
    #[test]
    fn socket_text_is_what_serde_writes() {
        for addr in ["192.0.2.10:50000", "[2001:db8::5]:443", "[fe80::1%3]:8080", "0.0.0.0:0"] {
            let addr: SocketAddr = addr.parse().expect("addr");
            assert_eq!(
                serde_json::to_string(&SocketText(addr)).expect("json"),
                serde_json::to_string(&addr).expect("json")
            );
        }
    }
}
