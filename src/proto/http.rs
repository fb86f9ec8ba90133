//! HTTP/1.x (RFC 9112) heads read with httparse from the reassembled streams of
//! a connection: requests (CONNECT, absolute-URI requests to a proxy, ordinary
//! requests) paired with their responses in order, which also covers
//! keep-alive, a CONNECT retried after a 407, and pipelining. After a 2xx to
//! CONNECT the rest of both streams is the tunnel (RFC 9110 section 9.3.6).
//!
//! Credentials never leave this module: of `Proxy-Authorization`,
//! `Authorization` and `Cookie` only the scheme or the fact is kept.

use std::borrow::Cow;
use std::sync::Arc;

use crate::shared::Names;

/// Headers parsed per message; more is not a real client.
const MAX_HEADERS: usize = 64;
/// Exchanges kept per connection.
const MAX_EXCHANGES: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `CONNECT host:port`.
    Authority { host: Arc<str>, port: u16 },
    /// `GET http://host[:port]/path` (a request to a proxy).
    Absolute { host: Arc<str>, port: u16, path: Box<str> },
    /// `GET /path` with a `Host` header, when present.
    Origin { host: Option<Arc<str>>, path: Box<str> },
}

/// A request head. Like a [`Response`], it is kept to the end of a capture with
/// the rest of its connection's parse result: texts are boxed to their length,
/// and offsets are u32 (a stream keeps at most `FlowLimits::stream_bytes`, a u32).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Arc<str>,
    pub target: Target,
    /// Offset of the request in the client stream, to find its frame.
    pub offset: u32,
    /// `Proxy-Authorization` scheme (`Basic`, `NTLM`, ...), never the credentials.
    pub proxy_auth_scheme: Option<Box<str>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: Arc<str>,
    pub offset: u32,
    /// Schemes offered in `Proxy-Authenticate`.
    pub proxy_authenticate: Box<[Box<str>]>,
    /// `X-Squid-Error` or `Proxy-Status`: the proxy says it made this answer.
    pub proxy_error: Option<Box<str>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub request: Request,
    pub response: Option<Response>,
}

/// What one TCP connection carried as HTTP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversation {
    pub exchanges: Vec<Exchange>,
    /// Where the tunnel starts in the client and server streams, after a 2xx to CONNECT.
    pub tunnel: Option<(usize, usize)>,
}

impl Conversation {
    /// Whether the connection was used the way a proxy is used.
    pub fn is_proxy_use(&self) -> bool {
        self.exchanges
            .iter()
            .any(|e| matches!(e.request.target, Target::Authority { .. } | Target::Absolute { .. }))
    }
}

/// Whether bytes start like an HTTP request line.
pub fn looks_like_request(stream: &[u8]) -> bool {
    const METHODS: [&[u8]; 9] = [
        b"GET ",
        b"POST ",
        b"CONNECT ",
        b"HEAD ",
        b"PUT ",
        b"OPTIONS ",
        b"DELETE ",
        b"PATCH ",
        b"TRACE ",
    ];
    METHODS.iter().any(|m| stream.starts_with(m))
}

/// Pairs the requests of `client` with the responses of `server`. Methods,
/// hosts and reason phrases, which other connections repeat, are taken from
/// `names` (and added to it).
pub fn conversation(client: &[u8], server: &[u8], names: &mut Names) -> Conversation {
    let mut conv = Conversation::default();
    if !looks_like_request(client) {
        return conv;
    }
    let (mut c, mut s) = (0, 0);
    while conv.exchanges.len() < MAX_EXCHANGES {
        let Some((request, request_end)) = parse_request(client, c, names) else {
            break;
        };
        c = request_end;
        let response = loop {
            match parse_response(server, s, names) {
                Some((r, end)) if (100..200).contains(&r.status) => s = end,
                Some((r, end)) => {
                    s = end;
                    break Some(r);
                }
                None => break None,
            }
        };
        let tunnel = &*request.method == "CONNECT" && response.as_ref().is_some_and(|r| (200..300).contains(&r.status));
        let answered = response.is_some();
        conv.exchanges.push(Exchange { request, response });
        if tunnel {
            conv.tunnel = Some((c, s));
            break;
        }
        if !answered {
            // Later requests (pipelined) still count, without answers.
            while let Some((request, end)) = parse_request(client, c, names) {
                if conv.exchanges.len() >= MAX_EXCHANGES {
                    break;
                }
                conv.exchanges.push(Exchange {
                    request,
                    response: None,
                });
                c = end;
            }
            break;
        }
    }
    // Kept until the report: most connections hold one or two exchanges, and
    // the first push reserves room for four.
    conv.exchanges.shrink_to_fit();
    conv
}

fn header_text(value: &[u8]) -> Cow<'_, str> {
    crate::untrusted::text_ref(value.trim_ascii())
}

/// The scheme of an `Authorization`-style header, only when it is a known one:
/// a header without a scheme would otherwise show its credentials.
fn auth_scheme(value: &str) -> String {
    const KNOWN: [&str; 6] = ["Basic", "Digest", "NTLM", "Negotiate", "Bearer", "Kerberos"];
    let first = value.split_whitespace().next().unwrap_or_default();
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(first))
        .map_or_else(|| "<unrecognised scheme>".to_string(), |k| k.to_string())
}

/// The host (not yet lowered: see [`lower_host`]) and port of an authority.
fn split_host_port(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    // `user:password@host:port`: the user information is never kept.
    let authority = authority.trim();
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        return Some((host, port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => Some((host, port.parse().ok()?)),
        _ => Some((authority, default_port)),
    }
}

/// A host name as kept: in lower case, shared. Nearly every one already is
/// lower case, and is found in `names` without a copy.
fn lower_host(host: &str, names: &mut Names) -> Arc<str> {
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        names.share(host.to_ascii_lowercase())
    } else {
        names.share(host)
    }
}

fn parse_target(method: &str, path: &str, host_header: Option<&str>, names: &mut Names) -> Option<Target> {
    if method == "CONNECT" {
        let (host, port) = split_host_port(path, 443)?;
        if host.is_empty() || host.starts_with('/') {
            return None;
        }
        return Some(Target::Authority {
            host: lower_host(host, names),
            port,
        });
    }
    for (scheme, port) in [("http://", 80u16), ("https://", 443)] {
        if path
            .get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme))
        {
            let rest = &path[scheme.len()..];
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let (host, port) = split_host_port(authority, port)?;
            return Some(Target::Absolute {
                host: lower_host(host, names),
                port,
                path: without_query(path),
            });
        }
    }
    // A Host header whose port does not parse is kept whole.
    let host = host_header.map(|h| lower_host(split_host_port(h, 80).map_or(h, |(host, _)| host), names));
    Some(Target::Origin {
        host,
        path: without_query(path),
    })
}

/// Query strings can carry tokens (SAS signatures, codes): they are not kept.
fn without_query(path: &str) -> Box<str> {
    match path.split_once('?') {
        Some((p, _)) => format!("{p}?<query removed>").into(),
        None => path.into(),
    }
}

/// Offsets past 4 GiB only come from slices longer than any stream kept: they
/// saturate, and find no frame.
fn stream_offset(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// Parses one request head at `at`; returns it with the offset after its body.
fn parse_request(stream: &[u8], at: usize, names: &mut Names) -> Option<(Request, usize)> {
    let bytes = stream.get(at..)?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let (method, path, head_len) = match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => (req.method?.as_bytes(), req.path?.as_bytes(), n),
        Ok(httparse::Status::Partial) => return None,
        // A proxy still answers a request line httparse refuses (control characters
        // or bytes that are not UTF-8 in the target): read what was asked anyway.
        Err(_) => return lenient_request(bytes, at, names),
    };
    let fields = req.headers.iter().map(|h| (h.name.as_bytes(), h.value));
    request_from_parts(method, path, fields, at, head_len, bytes.len(), names)
}

/// The facts capdoc keeps from a request head that starts at stream offset `at`,
/// with the offset after its body (`available` bytes follow `at`).
fn request_from_parts<'a>(
    method: &[u8],
    path: &[u8],
    fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    at: usize,
    head_len: usize,
    available: usize,
    names: &mut Names,
) -> Option<(Request, usize)> {
    let method = crate::untrusted::text_ref(method);
    let mut host = None;
    let mut proxy_auth_scheme = None;
    let mut body = 0usize;
    for (name, value) in fields {
        if name.eq_ignore_ascii_case(b"host") {
            host = Some(header_text(value));
        } else if name.eq_ignore_ascii_case(b"proxy-authorization") {
            proxy_auth_scheme = Some(auth_scheme(&header_text(value)));
        } else if name.eq_ignore_ascii_case(b"content-length") {
            body = header_text(value).parse().unwrap_or(0);
        }
    }
    let path = crate::untrusted::text_ref(path);
    let target = parse_target(&method, &path, host.as_deref(), names)?;
    let end = head_len.saturating_add(body).min(available);
    Some((
        Request {
            method: names.share(&*method),
            target,
            offset: stream_offset(at),
            proxy_auth_scheme: proxy_auth_scheme.map(Into::into),
        },
        at + end,
    ))
}

/// Longest request head read by [`lenient_request`].
const MAX_LENIENT_HEAD: usize = 16 * 1024;

/// `METHOD SP target SP HTTP/1.x CRLF (name: value CRLF)* CRLF`, with any bytes
/// but CR, LF and space in the target (RFC 9112 section 3 without its character
/// rules). Only for heads httparse refused.
fn lenient_request(bytes: &[u8], at: usize, names: &mut Names) -> Option<(Request, usize)> {
    let window = &bytes[..bytes.len().min(MAX_LENIENT_HEAD)];
    let head_len = window.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let mut lines = window[..head_len - 4]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let mut parts = lines.next()?.split(|&b| b == b' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    let method_ok = (1..=16).contains(&method.len()) && method.iter().all(u8::is_ascii_uppercase);
    if !method_ok || target.is_empty() || !version.starts_with(b"HTTP/1.") || parts.next().is_some() {
        return None;
    }
    let fields = lines.take(MAX_HEADERS).filter_map(|line| {
        let colon = line.iter().position(|&b| b == b':')?;
        Some((line[..colon].trim_ascii(), &line[colon + 1..]))
    });
    request_from_parts(method, target, fields, at, head_len, bytes.len(), names)
}

/// Parses one response head at `at`; returns it with the offset after its body
/// (Content-Length or chunked; a body that runs to the close ends the stream).
fn parse_response(stream: &[u8], at: usize, names: &mut Names) -> Option<(Response, usize)> {
    let bytes = stream.get(at..)?;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return None,
    };
    let status = resp.code?;
    let mut proxy_authenticate = Vec::new();
    let mut proxy_error = None;
    let mut length = None;
    let mut chunked = false;
    // Only the headers the diagnosis reads are copied out.
    for h in resp.headers.iter() {
        let is = |name: &str| h.name.eq_ignore_ascii_case(name);
        if is("proxy-authenticate") {
            if let Some(scheme) = header_text(h.value).split_whitespace().next() {
                proxy_authenticate.push(scheme.trim_end_matches(',').into());
            }
        } else if is("x-squid-error") || is("proxy-status") {
            proxy_error = Some(header_text(h.value).into());
        } else if is("content-length") {
            length = header_text(h.value).parse::<usize>().ok();
        } else if is("transfer-encoding") {
            chunked = header_text(h.value).to_ascii_lowercase().contains("chunked");
        }
    }
    let response = Response {
        status,
        reason: names.share(&*crate::untrusted::text_ref(resp.reason.unwrap_or_default().as_bytes())),
        offset: stream_offset(at),
        proxy_authenticate: proxy_authenticate.into_boxed_slice(),
        proxy_error,
    };
    let body_start = at + head_len;
    let no_body = (100..200).contains(&status) || status == 204 || status == 304;
    let end = if no_body {
        body_start
    } else if chunked {
        chunked_end(stream, body_start).unwrap_or(stream.len())
    } else if let Some(n) = length {
        body_start.saturating_add(n).min(stream.len())
    } else if (200..300).contains(&status) {
        // A 2xx without length: either a tunnel (CONNECT) or a body to the close.
        body_start
    } else {
        stream.len()
    };
    Some((response, end))
}

/// End of a chunked body (RFC 9112 section 7.1), if all of it is here.
fn chunked_end(stream: &[u8], mut at: usize) -> Option<usize> {
    for _ in 0..10_000 {
        let line_end = at + stream.get(at..)?.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&stream[at..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2;
        if size == 0 {
            // Trailers end with an empty line.
            let rest = stream.get(at..)?;
            let end = rest.windows(2).position(|w| w == b"\r\n")?;
            return Some(at + end + 2);
        }
        at = at.checked_add(size)?.checked_add(2)?;
    }
    None
}

/// `PROXY host:port` directives in a PAC file, by pattern (no JavaScript engine).
pub fn pac_proxies(pac: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let upper = pac.to_ascii_uppercase();
    let mut from = 0;
    while let Some(i) = upper[from..].find("PROXY ") {
        let start = from + i + "PROXY ".len();
        let candidate: String = pac[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '[' | ']' | '_'))
            .collect();
        if candidate.contains(':') && !out.contains(&candidate) {
            out.push(candidate);
        }
        from = start;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_with_control_bytes_is_still_read_and_shown_escaped() {
        let client = b"CONNECT esc\x1b[31mred\x07\xff.example:443 HTTP/1.1\r\nHost: esc\x1b.example:443\r\n\
Proxy-Authorization: Basic c2VjcmV0\r\n\r\n";
        let server = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        let conv = conversation(client, server, &mut Names::default());
        let [exchange] = &conv.exchanges[..] else {
            panic!("{conv:?}")
        };
        assert_eq!(&*exchange.request.method, "CONNECT");
        let Target::Authority { host, port } = &exchange.request.target else {
            panic!()
        };
        assert_eq!((&**host, *port), ("esc\\x1b[31mred\\x07\u{fffd}.example", 443));
        assert_eq!(exchange.request.proxy_auth_scheme.as_deref(), Some("Basic"));
        assert_eq!(exchange.response.as_ref().map(|r| r.status), Some(400));
        // Not a head at all: still nothing.
        assert!(lenient_request(b"CONNECT a b c HTTP/1.1\r\n\r\n", 0, &mut Names::default()).is_none());
        assert!(lenient_request(b"connect x:443 HTTP/1.1\r\n\r\n", 0, &mut Names::default()).is_none());
        assert!(lenient_request(b"CONNECT x:443 HTTP/1.1\r\n", 0, &mut Names::default()).is_none());
    }

    #[test]
    fn connect_407_then_200_on_one_connection() {
        let client = b"CONNECT contoso.msappproxy.net:443 HTTP/1.1\r\nHost: contoso.msappproxy.net:443\r\n\r\n\
CONNECT contoso.msappproxy.net:443 HTTP/1.1\r\nProxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n\r\n\x16\x03\x01";
        let server = b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"x\"\r\n\
Proxy-Authenticate: NTLM\r\nContent-Length: 5\r\n\r\nerror\
HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03";
        let conv = conversation(client, server, &mut Names::default());
        assert_eq!(conv.exchanges.len(), 2);
        let first = conv.exchanges[0].response.as_ref().expect("answered");
        assert_eq!(
            (first.status, first.proxy_authenticate.clone()),
            (407, vec!["Basic".into(), "NTLM".into()].into())
        );
        assert_eq!(conv.exchanges[1].request.proxy_auth_scheme.as_deref(), Some("Basic"));
        let (c, s) = conv.tunnel.expect("tunnel");
        assert_eq!(&client[c..], b"\x16\x03\x01");
        assert_eq!(&server[s..], b"\x16\x03\x03");
        assert!(
            !format!("{conv:?}").contains("dXNlcjpzZWNyZXQ"),
            "credentials must not be kept"
        );
    }

    #[test]
    fn absolute_uri_and_squid_error() {
        let client =
            b"GET http://crl3.digicert.com/DigiCertGlobalRootG2.crl HTTP/1.1\r\nHost: crl3.digicert.com\r\n\r\n";
        let server =
            b"HTTP/1.1 503 Service Unavailable\r\nX-Squid-Error: ERR_CONNECT_FAIL 110\r\nContent-Length: 0\r\n\r\n";
        let conv = conversation(client, server, &mut Names::default());
        assert!(conv.is_proxy_use());
        let e = &conv.exchanges[0];
        assert_eq!(
            e.request.target,
            Target::Absolute {
                host: "crl3.digicert.com".into(),
                port: 80,
                path: "/DigiCertGlobalRootG2.crl".into()
            }
        );
        assert_eq!(
            e.response.as_ref().and_then(|r| r.proxy_error.clone()).as_deref(),
            Some("ERR_CONNECT_FAIL 110")
        );
    }

    /// Schemes match in any case; host names are kept in lower case, from the
    /// request target or the Host header (whole when its port does not parse).
    #[test]
    fn hosts_are_lowered_and_schemes_matched_in_any_case() {
        let target = |head: &[u8]| {
            conversation(head, b"", &mut Names::default()).exchanges[0]
                .request
                .target
                .clone()
        };
        assert_eq!(
            target(b"GET HTTP://CRL3.DigiCert.com:8080/a.crl HTTP/1.1\r\n\r\n"),
            Target::Absolute {
                host: "crl3.digicert.com".into(),
                port: 8080,
                path: "/a.crl".into()
            }
        );
        assert_eq!(
            target(b"CONNECT Contoso.MSAppProxy.net:443 HTTP/1.1\r\n\r\n"),
            Target::Authority {
                host: "contoso.msappproxy.net".into(),
                port: 443
            }
        );
        for (host, kept) in [
            ("WPAD.Contoso.com:80", "wpad.contoso.com"),
            ("Odd.Example:x", "odd.example:x"),
        ] {
            let head = format!("GET /wpad.dat HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(
                target(head.as_bytes()),
                Target::Origin {
                    host: Some(kept.into()),
                    path: "/wpad.dat".into()
                }
            );
        }
    }

    /// Two connections to the same proxy hold one copy of its host name,
    /// method and reason phrase, whatever the case the host was written in.
    #[test]
    fn names_are_shared_across_conversations() {
        let mut names = Names::default();
        let server = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n";
        let one = conversation(
            b"CONNECT contoso.msappproxy.net:443 HTTP/1.1\r\n\r\n",
            server,
            &mut names,
        );
        let two = conversation(
            b"CONNECT Contoso.MSAppProxy.net:443 HTTP/1.1\r\n\r\n",
            server,
            &mut names,
        );
        let (a, b) = (&one.exchanges[0], &two.exchanges[0]);
        assert!(Arc::ptr_eq(&a.request.method, &b.request.method));
        let (Target::Authority { host: ha, .. }, Target::Authority { host: hb, .. }) =
            (&a.request.target, &b.request.target)
        else {
            panic!("CONNECT targets");
        };
        assert!(Arc::ptr_eq(ha, hb));
        let reason = |e: &Exchange| Arc::clone(&e.response.as_ref().expect("answered").reason);
        assert!(Arc::ptr_eq(&reason(a), &reason(b)));
    }

    #[test]
    fn pipelined_requests_without_answers_still_count() {
        let client = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let conv = conversation(client, b"", &mut Names::default());
        assert_eq!(conv.exchanges.len(), 2);
        assert!(conv.exchanges.iter().all(|e| e.response.is_none()));
    }

    #[test]
    fn credentials_in_odd_places_are_not_kept() {
        let client =
            b"CONNECT user:pw@contoso.msappproxy.net:443 HTTP/1.1\r\nProxy-Authorization: dXNlcjpwdw==\r\n\r\n\
GET http://crl3.digicert.com/x.crl?sig=SECRET HTTP/1.1\r\n\r\n";
        let conv = conversation(client, b"", &mut Names::default());
        let shown = format!("{conv:?}");
        assert!(
            !shown.contains("pw") && !shown.contains("dXNlcjpwdw") && !shown.contains("SECRET"),
            "{shown}"
        );
        assert_eq!(
            conv.exchanges[0].request.proxy_auth_scheme.as_deref(),
            Some("<unrecognised scheme>")
        );
        assert_eq!(
            conv.exchanges[0].request.target,
            Target::Authority {
                host: "contoso.msappproxy.net".into(),
                port: 443
            }
        );
    }

    #[test]
    fn connect_targets() {
        assert_eq!(
            parse_target("CONNECT", "[2001:db8::5]:443", None, &mut Names::default()),
            Some(Target::Authority {
                host: "2001:db8::5".into(),
                port: 443
            })
        );
        assert_eq!(parse_target("CONNECT", "/", None, &mut Names::default()), None);
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 204 No\r\n\r\n";
        let (_, end) = parse_response(chunked, 0, &mut Names::default()).expect("parses");
        assert!(chunked[end..].starts_with(b"HTTP/1.1 204"));
    }

    #[test]
    fn pac_directives() {
        let pac = "function FindProxyForURL(u, h) { if (isPlainHostName(h)) return \"DIRECT\"; \
                   return \"PROXY 192.0.2.80:3128; PROXY proxy.contoso.local:8080; DIRECT\"; }";
        assert_eq!(pac_proxies(pac), vec!["192.0.2.80:3128", "proxy.contoso.local:8080"]);
    }
}
