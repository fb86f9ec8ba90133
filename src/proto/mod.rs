//! Application protocols read from UDP payloads and reassembled TCP streams.
//!
//! [`inspect`] turns the first bytes of each direction of a connection into
//! typed facts (an HTTP conversation, a TLS handshake, possibly inside a
//! CONNECT tunnel), so that the diagnosis never looks at bytes.

pub mod dns;
pub mod http;
pub mod tls;
pub mod wpad;

use std::num::NonZeroU64;

use crate::flow::Connection;
use crate::shared::Names;

/// What a connection carried, as far as capdoc reads it.
#[derive(Clone, Debug, Default)]
pub struct Protocols {
    /// Boxed: most connections carry TLS alone, and a long capture keeps the
    /// result of every connection.
    pub http: Option<Box<Http>>,
    /// The TLS handshake: at the start of the connection, or inside the tunnel.
    pub client_hello: Option<tls::ClientHello>,
    pub client_hello_frame: Option<NonZeroU64>,
    pub client_alert: Option<tls::Alert>,
    pub server_flight: Option<tls::ServerFlight>,
    pub server_flight_frame: Option<NonZeroU64>,
    /// Whether the server sent anything after the tunnel opened (or at all, without one).
    pub server_data_after_tunnel: bool,
}

/// What a connection carried as HTTP.
#[derive(Clone, Debug, Default)]
pub struct Http {
    pub conversation: http::Conversation,
    /// Frame of each exchange's request and response.
    pub exchange_frames: Box<[(Option<u64>, Option<u64>)]>,
    /// `PROXY host:port` directives of a PAC file served on this connection.
    pub pac_proxies: Box<[String]>,
}

impl Protocols {
    /// The HTTP requests and answers, in order.
    pub fn exchanges(&self) -> &[http::Exchange] {
        self.http.as_ref().map_or(&[], |h| &h.conversation.exchanges)
    }

    /// Where a CONNECT tunnel starts in the client and server streams.
    pub fn tunnel(&self) -> Option<(usize, usize)> {
        self.http.as_ref().and_then(|h| h.conversation.tunnel)
    }

    /// The result of a connection that carried no payload, which keeps none of
    /// its own (see [`crate::pass::PacketPass::protocols`]).
    pub fn nothing() -> &'static Protocols {
        static NOTHING: std::sync::LazyLock<Protocols> = std::sync::LazyLock::new(Protocols::default);
        &NOTHING
    }
}

/// Largest PAC file read for proxy directives.
const MAX_PAC: usize = 64 * 1024;

/// Whether the start of a connection's streams already holds all the parsers
/// read: a TLS handshake (direct, or inside an open CONNECT tunnel) that has
/// moved on to application data in both directions. Plain HTTP is never
/// complete early: a 407 may be followed by a retry on the same connection.
pub fn handshake_complete(client: &[u8], server: &[u8], names: &mut Names) -> bool {
    let (c, s) = if http::looks_like_request(client) {
        match http::conversation(client, server, names).tunnel {
            Some(offsets) => offsets,
            None => return false,
        }
    } else {
        (0, 0)
    };
    let (Some(client), Some(server)) = (client.get(c..), server.get(s..)) else {
        return false;
    };
    tls::reached_application_data(client) && tls::reached_application_data(server)
}

/// What a connection's streams carried; certificates and server names seen
/// before are shared.
pub fn inspect(conn: &Connection, certificates: &mut tls::Certificates, names: &mut Names) -> Protocols {
    let [client_stream, server_stream] = conn.streams();
    let (client, server) = (client_stream.contiguous(), server_stream.contiguous());
    let conversation = http::conversation(client, server, names);
    let (c, s) = conversation.tunnel.unwrap_or((0, 0));
    let (tls_client, tls_server) = (client.get(c..).unwrap_or_default(), server.get(s..).unwrap_or_default());
    let mut out = Protocols::default();
    out.client_hello = tls::client_hello(tls_client).map(|mut hello| {
        hello.sni = hello.sni.map(|sni| names.share(sni));
        hello
    });
    out.client_hello_frame = out
        .client_hello
        .as_ref()
        .and_then(|_| client_stream.frame_at(c))
        .and_then(NonZeroU64::new);
    out.client_alert = tls::client_alert(tls_client);
    out.server_flight = tls::server_flight(tls_server, certificates);
    out.server_flight_frame = out
        .server_flight
        .as_ref()
        .and_then(|_| server_stream.frame_at(s))
        .and_then(NonZeroU64::new);
    out.server_data_after_tunnel = !tls_server.is_empty();
    if conversation.exchanges.is_empty() && conversation.tunnel.is_none() {
        return out;
    }
    let exchange_frames = conversation
        .exchanges
        .iter()
        .map(|e| {
            (
                client_stream.frame_at(e.request.offset as usize),
                e.response
                    .as_ref()
                    .and_then(|r| server_stream.frame_at(r.offset as usize)),
            )
        })
        .collect();
    let mut pac_proxies = Vec::new();
    for exchange in &conversation.exchanges {
        let path = match &exchange.request.target {
            http::Target::Origin { path, .. } | http::Target::Absolute { path, .. } => path.to_ascii_lowercase(),
            http::Target::Authority { .. } => continue,
        };
        if !(path.ends_with("wpad.dat") || path.ends_with(".pac")) {
            continue;
        }
        let Some(r) = &exchange.response else { continue };
        let rest = server.get(r.offset as usize..).unwrap_or_default();
        if let Some(body_at) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            let body = &rest[body_at + 4..];
            let body = String::from_utf8_lossy(&body[..body.len().min(MAX_PAC)]);
            pac_proxies.extend(
                http::pac_proxies(&body)
                    .iter()
                    .map(|p| crate::untrusted::clean(p).into_owned()),
            );
        }
    }
    out.http = Some(Box::new(Http {
        conversation,
        exchange_frames,
        pac_proxies: pac_proxies.into_boxed_slice(),
    }));
    out
}
