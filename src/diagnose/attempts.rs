//! Connections and what they carried -> connection attempts with outcomes.
//!
//! A direct attempt is one TCP connection opened by a SYN. Through a proxy,
//! each request on a connection to the proxy is an attempt of its own, and a
//! connection to the proxy that carried no request is one attempt with no
//! destination (REPORT-SCHEMA.md, "What an attempt is").

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU64;
use std::sync::Arc;

use super::{text, time, AHash};
use crate::endpoints::ca_set::CaSet;
use crate::endpoints::Table;
use crate::flow::{Connection, Side};
use crate::proto::dns::DnsLog;
use crate::proto::http::{Exchange, Target};
use crate::proto::tls::{self, Version};
use crate::proto::Protocols;
use crate::report::model::*;
use crate::shared::Shared;

/// How long after its last SYN a capture must go on before a missing answer
/// counts as "unanswered" rather than "the capture stopped too early". A
/// SYN-ACK takes one round trip (milliseconds, even over satellite well under
/// a second); Linux retransmits the SYN after 1 s and Windows after 3 s.
pub const ANSWER_GRACE_NANOS: i64 = 1_000_000_000;

/// What attempts are built from, besides the connection itself.
pub(super) struct Context<'a> {
    pub names: NameBook<'a>,
    pub service_tags: &'a crate::endpoints::service_tags::ServiceTags,
    pub table: &'a Table,
    pub ca_set: &'a CaSet,
    pub proxies: &'a HashSet<SocketAddr, AHash>,
    pub capture_end: i64,
    /// The capture's interfaces (pktmon components), to name where a drop happened.
    pub interfaces: &'a [crate::capture::Interface],
    pub rows: RowMemo,
    pub handshakes: HandshakeMemo,
}

/// The TLS facts already given to an attempt: the attempts to one server
/// mostly saw the same handshake, and share one copy of it (at most 4,096
/// handshakes are remembered).
#[derive(Default)]
pub(super) struct HandshakeMemo(RefCell<Shared<TlsFacts, 4096>>);

impl HandshakeMemo {
    #[cfg(test)]
    const MAX: usize = Shared::<TlsFacts, 4096>::MAX;

    fn share(&self, facts: TlsFacts) -> Arc<TlsFacts> {
        self.0.borrow_mut().share(facts)
    }
}

/// The table row of each name already looked up, per port (see
/// [`Context::required_ref`]). A capture's attempts go to few names, and a
/// table lookup compares the name with every row.
#[derive(Default)]
pub(super) struct RowMemo(RefCell<Rows>);

#[derive(Default)]
struct Rows {
    by_port: HashMap<u16, HashMap<String, Option<Arc<RequiredRef>>, AHash>, AHash>,
    kept: usize,
}

impl RowMemo {
    /// Names remembered in all: a scan of made-up names must not grow it without end.
    const MAX_NAMES: usize = 4096;
}

impl Context<'_> {
    /// The table row a destination falls under. Lookups with a URL path are not
    /// remembered (plain HTTP, a few per capture).
    fn required_ref(&self, name: Option<&str>, port: u16, path: Option<&str>) -> Option<Arc<RequiredRef>> {
        let name = name?;
        if path.is_some() {
            return required_ref(self.table, name, port, path);
        }
        let mut rows = self.rows.0.borrow_mut();
        if let Some(known) = rows.by_port.get(&port).and_then(|names| names.get(name)) {
            return known.clone();
        }
        let found = required_ref(self.table, name, port, None);
        if rows.kept < RowMemo::MAX_NAMES {
            rows.kept += 1;
            let names = rows.by_port.entry(port).or_default();
            names.insert(name.to_string(), found.clone());
        }
        found
    }
}

/// TLS facts of an attempt, and what they add to its outcome.
pub(super) struct TlsView<'a> {
    pub hello: Option<&'a tls::ClientHello>,
    pub flight: Option<&'a tls::ServerFlight>,
    pub client_alert: Option<tls::Alert>,
}

impl<'a> TlsView<'a> {
    fn of(protocols: &'a Protocols) -> Self {
        TlsView {
            hello: protocols.client_hello.as_ref(),
            flight: protocols.server_flight.as_ref(),
            client_alert: protocols.client_alert,
        }
    }

    fn none() -> Self {
        TlsView {
            hello: None,
            flight: None,
            client_alert: None,
        }
    }

    /// The first fatal alert: the server's, else the client's.
    fn fatal_alert(&self) -> Option<(&'static str, tls::Alert)> {
        let server = self
            .flight
            .and_then(|f| f.alert)
            .filter(|a| a.is_fatal())
            .map(|a| ("server", a));
        server.or_else(|| self.client_alert.filter(|a| a.is_fatal()).map(|a| ("client", a)))
    }
}

/// Names known for addresses, with where each came from.
pub(super) struct NameBook<'a> {
    dns: &'a DnsLog,
    nrb: HashMap<IpAddr, Arc<str>, AHash>,
}

impl<'a> NameBook<'a> {
    pub(super) fn new(dns: &'a DnsLog, records: &[(IpAddr, String)]) -> Self {
        let mut nrb = HashMap::default();
        for (ip, name) in records {
            nrb.entry(*ip).or_insert_with(|| Arc::from(name.as_str()));
        }
        NameBook { dns, nrb }
    }

    /// The DNS answer that mapped `ip` most recently before `ts`, else a pcapng
    /// name record.
    pub(super) fn name_of(&self, ip: IpAddr, ts: i64) -> Option<(Arc<str>, NameSource)> {
        if let Some(r) = self.dns.name_for(ip, ts) {
            return Some((Arc::clone(&r.name), NameSource::Dns));
        }
        self.nrb.get(&ip).map(|n| (Arc::clone(n), NameSource::Nrb))
    }
}

/// Formats an endpoint as the schema wants: `ip:port`, IPv6 in brackets.
pub fn host_port(addr: SocketAddr) -> String {
    text::socket(addr)
}

fn required_ref(table: &Table, name: &str, port: u16, path: Option<&str>) -> Option<Arc<RequiredRef>> {
    let row = table.lookup(name, port, path)?;
    Some(Arc::new(RequiredRef {
        pattern: row.pattern.as_str().into(),
        port: row.port,
        purpose: row.purpose.as_str().into(),
    }))
}

fn tls_facts(view: &TlsView<'_>) -> Option<TlsFacts> {
    if view.hello.is_none() && view.flight.is_none() {
        return None;
    }
    let flight = view.flight;
    Some(TlsFacts {
        sni: view.hello.and_then(|h| h.sni.clone()),
        version: flight.and_then(|f| f.version).and_then(Version::name),
        client_max_version: view.hello.and_then(|h| h.max_version).and_then(Version::name),
        alert: view.fatal_alert().map(|(from, a)| TlsAlertFacts {
            from,
            level: "fatal",
            description: a.name(),
        }),
        certificate: flight.and_then(|f| f.certificate.clone()),
        certificate_request: flight.is_some_and(|f| f.certificate_request),
    })
}

/// What TLS adds to an attempt that otherwise succeeded: an alert, or a
/// certificate from outside the expected CA set for a required name.
fn tls_outcome(view: &TlsView<'_>, required: bool, ca_set: &CaSet) -> Option<(Outcome, String)> {
    if let Some(cert) = view.flight.and_then(|f| f.certificate.as_deref()) {
        let expected = ca_set.expects(cert.issuer_organization.as_deref(), cert.issuer_common_name.as_deref());
        if required && !expected {
            return Some((
                Outcome::TlsInspected,
                format!(
                    "the server certificate was issued by \"{}\", which is not an expected issuer",
                    cert.issuer
                ),
            ));
        }
    }
    let (from, alert) = view.fatal_alert()?;
    Some((
        Outcome::TlsAlert,
        format!(
            "the TLS handshake ended with a fatal {} alert from the {from}",
            alert.name()
        ),
    ))
}

/// The attempt of a connection made without a proxy; `id` 0 until the caller numbers it.
pub(super) fn direct_attempt(conn: &Connection, protocols: &Protocols, cx: &Context<'_>) -> Option<Attempt> {
    let opened_by_syn = !conn.syns.is_empty();
    let carried_request = conn.bytes[Side::Client as usize] > 0;
    if !opened_by_syn && !carried_request {
        return None;
    }
    let (mut outcome, mut detail) = tcp_outcome(conn, cx);
    let view = TlsView::of(protocols);
    // The best name: SNI, then the Host header, then DNS, then pcapng name records.
    let first_request = protocols.exchanges().first();
    let http_host = first_request.and_then(|e| match &e.request.target {
        Target::Origin { host, .. } => host.clone(),
        _ => None,
    });
    let path = first_request.and_then(|e| match &e.request.target {
        Target::Origin { path, .. } => Some(path.clone()),
        _ => None,
    });
    let name = view
        .hello
        .and_then(|h| h.sni.clone())
        .map(|n| (n, NameSource::Sni))
        .or_else(|| http_host.map(|h| (h, NameSource::HttpHost)))
        .or_else(|| cx.names.name_of(conn.server().ip(), conn.first.ts));
    let required = cx.required_ref(name.as_ref().map(|(n, _)| &**n), conn.server().port(), path.as_deref());
    let http_status = first_request.and_then(|e| e.response.as_ref()).map(|r| r.status);
    if outcome == Outcome::Ok {
        if let Some((o, d)) = tls_outcome(&view, required.is_some(), cx.ca_set) {
            (outcome, detail) = (o, d);
        } else if let Some(status) = http_status.filter(|s| *s >= 400) {
            outcome = Outcome::HttpError;
            detail = format!("the server answered HTTP {status}");
        }
    }
    let mut frames = evidence_frames(conn);
    frames.extend(protocols.client_hello_frame.map(NonZeroU64::get));
    frames.extend(protocols.server_flight_frame.map(NonZeroU64::get));
    frames.sort_unstable();
    frames.dedup();
    Some(Attempt {
        id: 0,
        connection: conn.id,
        path: Path::Direct,
        outcome,
        http_status,
        syn_retransmits: conn.syn_retransmits,
        conn_state: conn.conn_state(),
        start_nanos: conn.first.ts,
        frames: frames.into_boxed_slice(),
        wireshark_filter: connection_filter(conn),
        required,
        tls: tls_facts(&view).map(|t| cx.handshakes.share(t)),
        pid: conn.process_id,
        service_tag: match &name {
            None => cx.service_tags.tag_of(conn.server().ip()).map(str::to_string),
            Some(_) => None,
        },
        name_source: name.as_ref().map(|(_, source)| *source),
        destination: Destination {
            name: name.map(|(n, _)| n),
            ip: Some(conn.server().ip()),
            port: Some(conn.server().port()),
        },
        detail,
    })
}

/// The attempts on one connection to a proxy, in order; `id` 0 until the caller numbers them.
pub(super) fn proxy_attempts(conn: &Connection, protocols: &Protocols, cx: &Context<'_>) -> Vec<Attempt> {
    let base = |outcome: Outcome, detail: String, frames: Vec<u64>| Attempt {
        id: 0,
        connection: conn.id,
        destination: Destination {
            name: None,
            ip: None,
            port: None,
        },
        name_source: None,
        path: Path::Proxy,
        outcome,
        http_status: None,
        syn_retransmits: conn.syn_retransmits,
        conn_state: conn.conn_state(),
        start_nanos: conn.first.ts,
        frames: frames.into_boxed_slice(),
        wireshark_filter: connection_filter(conn),
        required: None,
        tls: None,
        pid: conn.process_id,
        detail,
        service_tag: None,
    };
    let exchanges = protocols.exchanges();
    if exchanges.is_empty() {
        if conn.syns.is_empty() && conn.bytes[Side::Client as usize] == 0 {
            return Vec::new();
        }
        let (outcome, detail) = match tcp_outcome(conn, cx) {
            (Outcome::Ok, _) => (
                Outcome::Incomplete,
                "connected to the proxy; no request was captured".to_string(),
            ),
            other => other,
        };
        let proxy = host_port(conn.server());
        return vec![base(outcome, format!("proxy {proxy}: {detail}"), evidence_frames(conn))];
    }
    let ended = conn.ended();
    let last = exchanges.len() - 1;
    exchanges
        .iter()
        .zip(protocols.http.iter().flat_map(|h| &h.exchange_frames))
        .enumerate()
        .map(|(i, (exchange, &(request_frame, response_frame)))| {
            let (host, port, path, source) = match &exchange.request.target {
                Target::Authority { host, port } => (Some(host.clone()), *port, None, NameSource::Connect),
                Target::Absolute { host, port, path } => {
                    (Some(host.clone()), *port, Some(path.clone()), NameSource::ProxyRequest)
                }
                Target::Origin { host, path } => (
                    host.clone(),
                    conn.server().port(),
                    Some(path.clone()),
                    NameSource::HttpHost,
                ),
            };
            let literal: Option<IpAddr> = host.as_deref().and_then(|h| h.parse().ok());
            let name = host.filter(|_| literal.is_none());
            let required = cx.required_ref(name.as_deref(), port, path.as_deref());
            let tunnel = i == last && protocols.tunnel().is_some();
            let view = if tunnel {
                TlsView::of(protocols)
            } else {
                TlsView::none()
            };
            let (outcome, detail) = exchange_outcome(
                exchange,
                tunnel,
                &view,
                required.is_some(),
                ended,
                i == last,
                conn,
                protocols,
                cx,
            );
            let mut frames: Vec<u64> = request_frame.into_iter().chain(response_frame).collect();
            if tunnel {
                frames.extend(protocols.client_hello_frame.map(NonZeroU64::get));
                frames.extend(protocols.server_flight_frame.map(NonZeroU64::get));
            }
            if frames.is_empty() {
                frames.push(conn.first.number());
            }
            let mut attempt = base(outcome, detail, frames);
            attempt.destination = Destination {
                name: name.clone(),
                ip: literal,
                port: Some(port),
            };
            attempt.name_source = name.as_ref().map(|_| source);
            attempt.http_status = exchange.response.as_ref().map(|r| r.status);
            attempt.required = required;
            attempt.tls = tls_facts(&view).map(|t| cx.handshakes.share(t));
            if let Some(frame) = request_frame {
                attempt.wireshark_filter.request_frame = NonZeroU64::new(frame);
            }
            attempt
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn exchange_outcome(
    exchange: &Exchange,
    tunnel: bool,
    view: &TlsView<'_>,
    required: bool,
    ended: bool,
    is_last: bool,
    conn: &Connection,
    protocols: &Protocols,
    cx: &Context<'_>,
) -> (Outcome, String) {
    let connect = &*exchange.request.method == "CONNECT";
    // The detail grows in one string, from what was asked to what came of it:
    // a proxy's requests are most of a report's attempts.
    let mut said = String::with_capacity(128);
    push_request_line(&mut said, &exchange.request);
    let Some(response) = &exchange.response else {
        let server_reset = conn.reset.is_some_and(|r| r.from == Side::Server);
        let (outcome, ending) = if server_reset && is_last {
            (Outcome::Reset, ": the proxy reset the connection without answering")
        } else if ended || !is_last {
            (Outcome::NoResponse, ": the proxy never answered")
        } else if cx.capture_end.saturating_sub(conn.last_ts) >= ANSWER_GRACE_NANOS {
            (Outcome::NoResponse, ": no answer from the proxy")
        } else {
            (Outcome::Incomplete, ": the capture ended before the proxy answered")
        };
        said.push_str(ending);
        return (outcome, said);
    };
    let status = response.status;
    // Only the scheme of the credentials is ever shown.
    if let Some(scheme) = &exchange.request.proxy_auth_scheme {
        said.push_str(" (sent with Proxy-Authorization: ");
        said.push_str(scheme);
        said.push_str(" <redacted>)");
    }
    said.push_str(": HTTP ");
    text::push_num(&mut said, status);
    said.push(' ');
    said.push_str(&response.reason);
    if status == 407 {
        if let Some((first, rest)) = response.proxy_authenticate.split_first() {
            said.push_str("; it offers ");
            said.push_str(first);
            for scheme in rest {
                said.push_str(", ");
                said.push_str(scheme);
            }
        }
        return (Outcome::ProxyAuthRequired, said);
    }
    // A CONNECT that got no tunnel was refused by the proxy itself; for other
    // requests the proxy's error markers tell its own answers from the origin's.
    let from_proxy = connect || response.proxy_error.is_some();
    if status >= 400 {
        if !from_proxy {
            return (Outcome::HttpError, said);
        }
        if let Some(marker) = &response.proxy_error {
            said.push_str(" (");
            said.push_str(marker);
            said.push(')');
        }
        let outcome = match status {
            500..=599 => Outcome::ProxyUpstreamError,
            _ => Outcome::ProxyDenied,
        };
        return (outcome, said);
    }
    if connect && !(200..300).contains(&status) {
        said.push_str(": no tunnel");
        return (Outcome::ProxyDenied, said);
    }
    if tunnel {
        if let Some(result) = tls_outcome(view, required, cx.ca_set) {
            return result;
        }
        let server_reset = conn.reset.filter(|r| r.from == Side::Server);
        if view.flight.is_none_or(|f| !f.server_hello) {
            if let Some(reset) = server_reset {
                said.push_str(", then reset (frame ");
                text::push_num(&mut said, reset.frame.number());
                said.push_str(") before a TLS ServerHello");
                return (Outcome::Reset, said);
            }
            if view.hello.is_some() && !protocols.server_data_after_tunnel && ended {
                said.push_str(", then nothing came back through the tunnel");
                return (Outcome::NoResponse, said);
            }
        }
    }
    (Outcome::Ok, said)
}

/// Appends the request as the detail names it: `CONNECT host:port`, a proxy's
/// `GET http://host:port/path`, or `GET /path`.
fn push_request_line(out: &mut String, request: &crate::proto::http::Request) {
    match &request.target {
        Target::Authority { host, port } => {
            out.push_str("CONNECT ");
            out.push_str(host);
            out.push(':');
            text::push_num(out, *port);
        }
        Target::Absolute { host, port, path } => {
            out.push_str(&request.method);
            out.push_str(" http://");
            out.push_str(host);
            out.push(':');
            text::push_num(out, *port);
            out.push_str(path);
        }
        Target::Origin { path, .. } => {
            out.push_str(&request.method);
            out.push(' ');
            out.push_str(path);
        }
    }
}

fn tcp_outcome(conn: &Connection, cx: &Context<'_>) -> (Outcome, String) {
    let capture_end = cx.capture_end;
    let server_reset = conn.reset.filter(|r| r.from == Side::Server);
    let sent = conn.syn_retransmits + 1;
    let Some(syn_ack) = conn.syn_ack else {
        if let Some(drop) = conn.local_drop.as_deref() {
            let component = cx
                .interfaces
                .get(drop.interface)
                .and_then(|i| i.name.as_deref())
                .unwrap_or("a component");
            return (
                Outcome::DroppedLocally,
                format!(
                    "the SYN was dropped inside the capturing host by {component} (frame {}); it never left the server",
                    drop.frame.number()
                ),
            );
        }
        if conn.syns.is_empty() {
            // Picked up mid-stream with a request in it.
            return if conn.bytes[Side::Server as usize] > 0 {
                (
                    Outcome::Ok,
                    "connection already open when the capture started; the server sent data".into(),
                )
            } else {
                (
                    Outcome::Incomplete,
                    "connection already open when the capture started; no answer seen".into(),
                )
            };
        }
        if let Some(icmp) = conn.icmp.as_deref() {
            return (
                Outcome::IcmpUnreachable,
                format!(
                    "{} answered the SYN with ICMP destination unreachable ({}), frame {}",
                    icmp.from,
                    icmp.message.describe(),
                    icmp.frame.number()
                ),
            );
        }
        if let Some(reset) = server_reset {
            return (
                Outcome::Reset,
                format!("SYN answered by RST, frame {}", reset.frame.number()),
            );
        }
        let last_syn = conn.last_syn().map_or(conn.first.ts, |s| s.ts);
        // How long an answer could have come: until the client gave up on its own
        // SYN (Zeek RSTOS0), else until the capture stopped.
        let abort = conn.reset.filter(|r| r.from == Side::Client);
        let waited = abort.map_or(capture_end, |r| r.frame.ts).saturating_sub(last_syn);
        if waited >= ANSWER_GRACE_NANOS {
            let mut detail = String::with_capacity(48);
            text::push_num(&mut detail, sent);
            detail.push_str(" SYN");
            detail.push_str(plural(sent));
            detail.push_str(" over ");
            time::push_span(&mut detail, last_syn.saturating_sub(conn.first.ts));
            detail.push_str(", no answer");
            if abort.is_some() {
                detail.push_str("; the client gave up");
            }
            return (Outcome::SynUnanswered, detail);
        }
        return match abort {
            Some(r) => (
                Outcome::Incomplete,
                format!(
                    "the client abandoned the attempt {} after its SYN (frame {})",
                    time::span(waited),
                    r.frame.number()
                ),
            ),
            None => (
                Outcome::Incomplete,
                format!(
                    "capture ended {} after the last SYN, too soon to expect an answer",
                    time::span(waited)
                ),
            ),
        };
    };
    let server_data = conn.first_data[Side::Server as usize];
    if let Some(reset) = server_reset {
        let before_data = server_data.is_none_or(|d| d.ts > reset.frame.ts);
        if before_data {
            return (
                Outcome::Reset,
                format!(
                    "connected, then reset by the server (frame {}) before it sent any data",
                    reset.frame.number()
                ),
            );
        }
    }
    let client_data = conn.first_data[Side::Client as usize];
    if let (Some(request), None) = (client_data, server_data) {
        let ended = conn.ended();
        return if ended {
            (
                Outcome::NoResponse,
                format!(
                    "connected and sent data (frame {}), the server never answered",
                    request.number()
                ),
            )
        } else {
            (
                Outcome::Incomplete,
                format!(
                    "connected and sent data (frame {}); the capture ended before any answer",
                    request.number()
                ),
            )
        };
    }
    // Nearly every direct attempt ends here, so the detail is built by hand.
    let connect = syn_ack
        .ts
        .saturating_sub(conn.syns.first().map_or(syn_ack.ts, |s| s.ts));
    let mut detail = String::with_capacity(40);
    if conn.syn_retransmits > 0 {
        detail.push_str("connected after ");
        text::push_num(&mut detail, sent);
        detail.push_str(" SYNs (");
        time::push_span(&mut detail, connect);
        detail.push(')');
    } else {
        detail.push_str("connected in ");
        time::push_span(&mut detail, connect);
    }
    (Outcome::Ok, detail)
}

fn plural(n: u32) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The frames that show what happened, the first SYN first.
fn evidence_frames(conn: &Connection) -> Vec<u64> {
    // Room for every frame below and the two TLS frames the caller adds, so the
    // list is allocated once per attempt.
    let mut frames: Vec<u64> = Vec::with_capacity(conn.syns.len().max(1) + 8);
    frames.extend(conn.syns.iter().map(|f| f.number()));
    if frames.is_empty() {
        frames.push(conn.first.number());
    }
    frames.extend(conn.syn_ack.map(|f| f.number()));
    frames.extend(conn.icmp.as_deref().map(|i| i.frame.number()));
    frames.extend(conn.reset.map(|r| r.frame.number()));
    frames.extend(conn.local_drop.as_deref().map(|d| d.frame.number()));
    frames.extend(conn.first_data.iter().flatten().map(|f| f.number()));
    frames.sort_unstable();
    frames.dedup();
    frames
}

/// The display-filter field of an address family: `ip` or `ipv6`.
pub fn ip_field(ip: IpAddr) -> &'static str {
    if ip.is_ipv6() {
        "ipv6"
    } else {
        "ip"
    }
}

/// A display filter that shows this connection's packets in both directions.
pub fn connection_filter(conn: &Connection) -> ConnectionFilter {
    let mut filter = ConnectionFilter::new(conn.client(), conn.server());
    filter.icmp_frame = conn
        .icmp
        .as_deref()
        .and_then(|icmp| NonZeroU64::new(icmp.frame.number()));
    filter
}

/// A display filter that shows every SYN to a destination.
pub fn syn_filter(ip: IpAddr, port: u16) -> String {
    format!(
        "tcp.flags.syn==1 && tcp.flags.ack==0 && {}.dst=={ip} && tcp.dstport=={port}",
        ip_field(ip)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memo answers as the table does, before and after it is full, with or
    /// without a path, whatever the case of the name.
    #[test]
    fn remembered_rows_are_the_table_rows() {
        let table = Table::public();
        let (dns, service_tags, ca_set, proxies) = (
            DnsLog::default(),
            crate::endpoints::service_tags::ServiceTags::default(),
            CaSet::azure(),
            HashSet::default(),
        );
        let cx = Context {
            names: NameBook::new(&dns, &[]),
            service_tags: &service_tags,
            table: &table,
            ca_set: &ca_set,
            proxies: &proxies,
            capture_end: 0,
            interfaces: &[],
            rows: RowMemo::default(),
            handshakes: HandshakeMemo::default(),
        };
        let direct = |name: &str, port: u16, path: Option<&str>| {
            table
                .lookup(name, port, path)
                .map(|row| (row.pattern.clone(), row.port))
        };
        let remembered = |name: &str, port: u16, path: Option<&str>| {
            cx.required_ref(Some(name), port, path)
                .map(|r| (r.pattern.to_string(), r.port))
        };
        // Names of the table first, so that they are remembered; then enough others to fill the memo.
        let mut names: Vec<String> = [
            "contoso.msappproxy.net",
            "Contoso.MSAPPPROXY.net.",
            "login.windows.net",
            "crl3.digicert.com",
        ]
        .map(str::to_string)
        .to_vec();
        names.extend((0..RowMemo::MAX_NAMES).map(|i| format!("host{i}.example.com")));
        for round in 0..2 {
            for name in &names {
                for port in [80, 443] {
                    for path in [None, Some("/pkiops/crl")] {
                        assert_eq!(
                            remembered(name, port, path),
                            direct(name, port, path),
                            "{name}:{port} {path:?}, round {round}"
                        );
                    }
                }
            }
        }
        assert_eq!(cx.rows.0.borrow().kept, RowMemo::MAX_NAMES);
        assert!(
            direct("contoso.msappproxy.net", 443, None).is_some(),
            "a required name is in the test"
        );
    }

    /// Equal handshakes share one copy until the memo is full; then each is its own.
    #[test]
    fn equal_handshakes_share_one_copy_until_the_memo_is_full() {
        let facts = |sni: &str| TlsFacts {
            sni: Some(sni.into()),
            version: Some("TLS 1.2"),
            client_max_version: Some("TLS 1.3"),
            alert: None,
            certificate: None,
            certificate_request: false,
        };
        let memo = HandshakeMemo::default();
        let first = memo.share(facts("contoso.msappproxy.net"));
        let again = memo.share(facts("contoso.msappproxy.net"));
        assert!(Arc::ptr_eq(&first, &again));
        let other = memo.share(TlsFacts {
            certificate_request: true,
            ..facts("contoso.msappproxy.net")
        });
        assert!(!Arc::ptr_eq(&first, &other), "one field apart is another handshake");
        for i in 0..HandshakeMemo::MAX {
            memo.share(facts(&format!("host{i}.example.com")));
        }
        assert_eq!(memo.0.borrow().len(), HandshakeMemo::MAX);
        let late = memo.share(facts("late.example.com"));
        assert_eq!(*late, facts("late.example.com"));
        assert!(!Arc::ptr_eq(&late, &memo.share(facts("late.example.com"))));
        assert!(Arc::ptr_eq(&first, &memo.share(facts("contoso.msappproxy.net"))));
    }
}
