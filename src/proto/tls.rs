//! TLS handshakes (RFC 5246, RFC 8446) read from the first bytes of each
//! direction, with tls-parser: the ClientHello's SNI and offered versions, the
//! ServerHello's chosen version, alerts, and in TLS ≤ 1.2 the server's
//! certificate (x509-parser), which travels in clear there.
//!
//! Handshake messages may span records and records span TCP segments; the
//! reassembled stream is walked record by record and the handshake bytes are
//! joined before parsing, up to [`MAX_HANDSHAKE`] bytes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tls_parser::{
    parse_tls_extension_sni, parse_tls_extension_supported_versions, parse_tls_extension_unknown,
    parse_tls_message_handshake, parse_tls_server_hello_extensions, SNIType, TlsExtension, TlsMessage,
    TlsMessageHandshake,
};

const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
const RECORD_HEADER: usize = 5;
/// Handshake bytes joined per direction: a ClientHello and a certificate chain.
pub const MAX_HANDSHAKE: usize = 48 * 1024;

/// A protocol version as on the wire (0x0303 is TLS 1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u16);

impl Version {
    pub const TLS12: Version = Version(0x0303);

    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x0300 => "SSL 3.0",
            0x0301 => "TLS 1.0",
            0x0302 => "TLS 1.1",
            0x0303 => "TLS 1.2",
            // Drafts of TLS 1.3 (0x7f00 + draft number) were deployed in 2017-2018.
            0x0304 | 0x7f00..=0x7fff => "TLS 1.3",
            _ => return None,
        })
    }

    /// RFC 8701 GREASE values (0x?a?a) mean nothing.
    fn is_grease(self) -> bool {
        self.0 & 0x0f0f == 0x0a0a
    }
}

/// Whether a stream starts like a TLS record (handshake or alert, a 3.x version).
pub fn looks_like_tls(stream: &[u8]) -> bool {
    matches!(stream, [HANDSHAKE | ALERT, 3, 0..=4, ..])
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub sni: Option<Arc<str>>,
    /// The highest version offered (supported_versions, else the hello's version).
    pub max_version: Option<Version>,
}

/// The leaf certificate's names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Certificate {
    pub subject: String,
    /// The issuer's distinguished name as `C=US, O=..., CN=...`.
    pub issuer: String,
    pub issuer_organization: Option<String>,
    pub issuer_common_name: Option<String>,
    pub dns_names: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerFlight {
    pub server_hello: bool,
    pub version: Option<Version>,
    /// Shared by every flight that sent the same certificate ([`Certificates`]);
    /// TLS 1.3 encrypts it, so those flights have none and pay a pointer.
    pub certificate: Option<Arc<Certificate>>,
    pub certificate_request: bool,
    /// The first alert in clear: (level, description) as numbers, and a name.
    pub alert: Option<Alert>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    pub level: u8,
    pub description: u8,
}

impl Alert {
    pub fn is_fatal(self) -> bool {
        self.level == 2
    }

    /// RFC 8446 section 6 names.
    pub fn name(self) -> &'static str {
        match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            40 => "handshake_failure",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            112 => "unrecognized_name",
            116 => "certificate_required",
            120 => "no_application_protocol",
            _ => "unknown alert",
        }
    }
}

/// Walks the records in clear at the start of a stream: joined handshake
/// bytes, and the first alert (a 2-byte alert body is in clear).
fn clear_records(stream: &[u8]) -> (Vec<u8>, Option<Alert>) {
    let mut handshake = Vec::new();
    let mut alert = None;
    let mut rest = stream;
    while rest.len() >= RECORD_HEADER {
        let content_type = rest[0];
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        let body = &rest[RECORD_HEADER..(RECORD_HEADER + len).min(rest.len())];
        match content_type {
            HANDSHAKE => {
                let room = MAX_HANDSHAKE.saturating_sub(handshake.len());
                handshake.extend_from_slice(&body[..body.len().min(room)]);
            }
            ALERT if body.len() == 2 => {
                alert.get_or_insert(Alert {
                    level: body[0],
                    description: body[1],
                });
            }
            // After ChangeCipherSpec everything is encrypted.
            CHANGE_CIPHER_SPEC | APPLICATION_DATA => break,
            _ => break,
        }
        if body.len() < len {
            break;
        }
        rest = &rest[RECORD_HEADER + len..];
    }
    (handshake, alert)
}

/// Whether a stream that starts with TLS records has moved on to application
/// data (RFC 8446 section 5.1: content type 23): everything before it is the
/// handshake, everything after is bulk that the parsers never read.
pub fn reached_application_data(stream: &[u8]) -> bool {
    if !looks_like_tls(stream) {
        return false;
    }
    let mut rest = stream;
    // A handshake is a handful of records; a stream of tiny records is not worth walking further.
    for _ in 0..64 {
        let [content_type, 3, _, hi, lo, ..] = *rest else {
            return false;
        };
        match content_type {
            APPLICATION_DATA => return true,
            HANDSHAKE | ALERT | CHANGE_CIPHER_SPEC => {}
            _ => return false,
        }
        let end = RECORD_HEADER + usize::from(u16::from_be_bytes([hi, lo]));
        let Some(next) = rest.get(end..) else { return false };
        rest = next;
    }
    false
}

/// Handshake messages in joined handshake bytes.
fn messages(bytes: &[u8]) -> impl Iterator<Item = TlsMessageHandshake<'_>> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let (next, message) = parse_tls_message_handshake(rest).ok()?;
        rest = next;
        match message {
            TlsMessage::Handshake(h) => Some(h),
            _ => None,
        }
    })
}

/// The ClientHello at the start of a client stream, if there is one.
pub fn client_hello(stream: &[u8]) -> Option<ClientHello> {
    if !looks_like_tls(stream) {
        return None;
    }
    let (handshake, _) = clear_records(stream);
    let hello = messages(&handshake).find_map(|m| match m {
        TlsMessageHandshake::ClientHello(hello) => {
            let mut out = ClientHello {
                sni: None,
                max_version: Some(Version(hello.version.0)),
            };
            for ext in wanted_extensions(hello.ext.unwrap_or_default()) {
                match ext {
                    TlsExtension::SNI(names) => {
                        out.sni = names
                            .iter()
                            .find(|(kind, _)| *kind == SNIType::HostName)
                            .map(|(_, name)| crate::untrusted::text(name).to_ascii_lowercase().into());
                    }
                    TlsExtension::SupportedVersions(versions) => {
                        out.max_version = versions.iter().map(|v| Version(v.0)).filter(|v| !v.is_grease()).max();
                    }
                    _ => {}
                }
            }
            Some(out)
        }
        _ => None,
    });
    hello
}

/// The two ClientHello extensions capdoc reads, server_name (RFC 6066 section 3)
/// and supported_versions (RFC 8446 section 4.2.1). The others are framed and
/// skipped, not parsed: a hello carries a dozen, and one malformed among them
/// does not hide the name.
fn wanted_extensions(mut rest: &[u8]) -> impl Iterator<Item = TlsExtension<'_>> {
    std::iter::from_fn(move || loop {
        let (next, TlsExtension::Unknown(kind, _)) = parse_tls_extension_unknown(rest).ok()? else {
            return None;
        };
        let whole = &rest[..rest.len() - next.len()];
        rest = next;
        let parsed = match kind.0 {
            0 => parse_tls_extension_sni(whole),
            43 => parse_tls_extension_supported_versions(whole),
            _ => continue,
        };
        if let Ok((_, extension)) = parsed {
            return Some(extension);
        }
    })
}

/// The first alert the client sent in clear (e.g. `unknown_ca` when it rejects
/// the server's certificate).
pub fn client_alert(stream: &[u8]) -> Option<Alert> {
    if !looks_like_tls(stream) {
        return None;
    }
    clear_records(stream).1
}

/// Leaf certificates already read. The connections of a capture go to a few
/// servers, each sending the same certificate every time: it is parsed once.
/// Certificates that differ in bytes but not in the names kept (a new key or
/// serial for the same names) share one copy of those names.
#[derive(Default)]
pub struct Certificates {
    by_der: HashMap<Box<[u8]>, Arc<Certificate>, ahash::RandomState>,
    by_names: HashSet<Arc<Certificate>, ahash::RandomState>,
}

impl Certificates {
    /// Certificates remembered each way, and the largest remembered by its
    /// bytes: a crafted capture of ever new certificates costs parsing, not memory.
    const MAX: usize = 256;
    const MAX_DER: usize = 16 * 1024;

    /// The names of the certificate `der`; `None` when it does not parse.
    pub fn leaf(&mut self, der: &[u8]) -> Option<Arc<Certificate>> {
        if let Some(known) = self.by_der.get(der) {
            return Some(Arc::clone(known));
        }
        let parsed = leaf_certificate(der)?;
        let certificate = match self.by_names.get(&parsed) {
            Some(same) => Arc::clone(same),
            None => {
                let new = Arc::new(parsed);
                if self.by_names.len() < Self::MAX {
                    self.by_names.insert(Arc::clone(&new));
                }
                new
            }
        };
        if self.by_der.len() < Self::MAX && der.len() <= Self::MAX_DER {
            self.by_der.insert(der.into(), Arc::clone(&certificate));
        }
        Some(certificate)
    }
}

/// What the server sent in clear at the start of its stream.
pub fn server_flight(stream: &[u8], certificates: &mut Certificates) -> Option<ServerFlight> {
    if !looks_like_tls(stream) {
        return None;
    }
    let (handshake, alert) = clear_records(stream);
    let mut flight = ServerFlight {
        alert,
        ..ServerFlight::default()
    };
    for message in messages(&handshake) {
        match message {
            TlsMessageHandshake::ServerHello(hello) => {
                flight.server_hello = true;
                flight.version = Some(Version(hello.version.0));
                let extensions = hello
                    .ext
                    .and_then(|e| parse_tls_server_hello_extensions(e).ok())
                    .map(|(_, v)| v)
                    .unwrap_or_default();
                for ext in extensions {
                    if let TlsExtension::SupportedVersions(v) = ext {
                        // In a ServerHello this is the one version selected (RFC 8446 section 4.2.1).
                        if let Some(selected) = v.first() {
                            flight.version = Some(Version(selected.0));
                        }
                    }
                }
            }
            TlsMessageHandshake::ServerHelloV13Draft18(hello) => {
                flight.server_hello = true;
                flight.version = Some(Version(hello.version.0));
            }
            TlsMessageHandshake::Certificate(chain) => {
                flight.certificate = chain.cert_chain.first().and_then(|c| certificates.leaf(c.data));
            }
            TlsMessageHandshake::CertificateRequest(_) => flight.certificate_request = true,
            _ => {}
        }
    }
    Some(flight)
}

fn leaf_certificate(der: &[u8]) -> Option<Certificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let issuer = cert.issuer();
    let dns_names = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(d) => {
                        Some(crate::untrusted::clean(d).to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let issuer_organization = issuer
        .iter_organization()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(|s| crate::untrusted::clean(s).into_owned());
    let issuer_common_name = issuer
        .iter_common_name()
        .next()
        .and_then(|a| a.as_str().ok())
        .map(|s| crate::untrusted::clean(s).into_owned());
    Some(Certificate {
        subject: crate::untrusted::clean(&cert.subject().to_string()).into_owned(),
        issuer: crate::untrusted::clean(&issuer.to_string()).into_owned(),
        issuer_organization,
        issuer_common_name,
        dns_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, body_len: usize) -> Vec<u8> {
        let mut r = vec![content_type, 3, 3, (body_len >> 8) as u8, body_len as u8];
        r.resize(RECORD_HEADER + body_len, 0);
        r
    }

    #[test]
    fn application_data_ends_the_handshake() {
        let mut stream = record(HANDSHAKE, 90);
        stream.extend(record(CHANGE_CIPHER_SPEC, 1));
        assert!(!reached_application_data(&stream), "still in the handshake");
        stream.extend(&record(APPLICATION_DATA, 40)[..RECORD_HEADER]);
        assert!(reached_application_data(&stream), "a record header is enough");
    }

    #[test]
    fn a_cut_handshake_record_is_not_the_end() {
        let stream = record(HANDSHAKE, 4000);
        assert!(!reached_application_data(&stream[..1000]));
        assert!(!reached_application_data(b"GET / HTTP/1.1\r\n"));
    }
}
