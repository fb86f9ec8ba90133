//! TLS records in real wire format: what a Windows connector and its servers put on the wire, with
//! random bytes wherever the real thing is encrypted or a key.

use crate::der;
use crate::rng::Rng;

pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const HANDSHAKE: u8 = 22;
pub const APPLICATION_DATA: u8 = 23;

/// Schannel's default order on Windows Server 2022.
const CIPHER_SUITES: [u16; 21] = [
    0x1302, 0x1301, 0xc02c, 0xc02b, 0xc030, 0xc02f, 0x009f, 0x009e, 0xc024, 0xc023, 0xc028, 0xc027, 0xc00a, 0xc009,
    0xc014, 0xc013, 0x009d, 0x009c, 0x003d, 0x003c, 0x002f,
];
const SIGNATURE_ALGORITHMS: [u16; 11] = [
    0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0603, 0x0201, 0x0203,
];
const X25519: u16 = 0x001d;

pub fn record(content_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 5);
    v.push(content_type);
    v.extend_from_slice(&[3, 3]);
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// The 5-byte header of an application-data record whose body is `body_len` bytes.
pub fn app_data_header(body_len: u16) -> [u8; 5] {
    let l = body_len.to_be_bytes();
    [APPLICATION_DATA, 3, 3, l[0], l[1]]
}

fn handshake(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![msg_type];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

fn put_u16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}

/// Appends what `f` writes, preceded by its length in `width` bytes (TLS vectors).
fn prefixed(v: &mut Vec<u8>, width: usize, f: impl FnOnce(&mut Vec<u8>)) {
    let at = v.len();
    v.resize(at + width, 0);
    f(v);
    let n = (v.len() - at - width) as u32;
    v[at..at + width].copy_from_slice(&n.to_be_bytes()[4 - width..]);
}

fn extension(v: &mut Vec<u8>, ext_type: u16, f: impl FnOnce(&mut Vec<u8>)) {
    put_u16(v, ext_type);
    prefixed(v, 2, f);
}

/// A ClientHello offering TLS 1.3 and 1.2, with server_name set to `sni`.
pub fn client_hello(r: &mut Rng, sni: &str) -> Vec<u8> {
    let random = r.bytes(32);
    let session_id = r.bytes(32);
    let key = r.bytes(32);
    let mut b = Vec::with_capacity(512);
    put_u16(&mut b, 0x0303);
    b.extend_from_slice(&random);
    prefixed(&mut b, 1, |b| b.extend_from_slice(&session_id));
    prefixed(&mut b, 2, |b| CIPHER_SUITES.iter().for_each(|&c| put_u16(b, c)));
    prefixed(&mut b, 1, |b| b.push(0)); // null compression
    prefixed(&mut b, 2, |b| {
        extension(b, 0x0000, |b| {
            prefixed(b, 2, |b| {
                b.push(0); // host_name
                prefixed(b, 2, |b| b.extend_from_slice(sni.as_bytes()));
            })
        });
        extension(b, 0x000a, |b| {
            prefixed(b, 2, |b| [X25519, 0x0017, 0x0018].iter().for_each(|&g| put_u16(b, g)))
        });
        extension(b, 0x000b, |b| prefixed(b, 1, |b| b.push(0)));
        extension(b, 0x000d, |b| {
            prefixed(b, 2, |b| SIGNATURE_ALGORITHMS.iter().for_each(|&s| put_u16(b, s)))
        });
        extension(b, 0x0023, |_| {}); // session_ticket
        extension(b, 0x0010, |b| {
            prefixed(b, 2, |b| prefixed(b, 1, |b| b.extend_from_slice(b"http/1.1")))
        });
        extension(b, 0x0017, |_| {}); // extended_master_secret
        extension(b, 0x002b, |b| {
            prefixed(b, 1, |b| [0x0304, 0x0303].iter().for_each(|&v| put_u16(b, v)))
        });
        extension(b, 0x002d, |b| prefixed(b, 1, |b| b.push(1))); // psk_dhe_ke
        extension(b, 0x0033, |b| {
            prefixed(b, 2, |b| {
                put_u16(b, X25519);
                prefixed(b, 2, |b| b.extend_from_slice(&key));
            })
        });
        extension(b, 0xff01, |b| b.push(0)); // renegotiation_info
    });
    record(HANDSHAKE, &handshake(1, &b))
}

fn server_hello(r: &mut Rng, tls13: bool) -> Vec<u8> {
    let random = r.bytes(32);
    let session_id = r.bytes(32);
    let key = r.bytes(32);
    let mut b = Vec::with_capacity(128);
    put_u16(&mut b, 0x0303);
    b.extend_from_slice(&random);
    prefixed(&mut b, 1, |b| b.extend_from_slice(&session_id));
    put_u16(&mut b, if tls13 { 0x1302 } else { 0xc030 });
    b.push(0);
    prefixed(&mut b, 2, |b| {
        if tls13 {
            extension(b, 0x002b, |b| put_u16(b, 0x0304));
            extension(b, 0x0033, |b| {
                put_u16(b, X25519);
                prefixed(b, 2, |b| b.extend_from_slice(&key));
            });
        } else {
            extension(b, 0xff01, |b| b.push(0));
            extension(b, 0x0017, |_| {});
            extension(b, 0x0010, |b| {
                prefixed(b, 2, |b| prefixed(b, 1, |b| b.extend_from_slice(b"http/1.1")))
            });
        }
    });
    record(HANDSHAKE, &handshake(2, &b))
}

/// TLS 1.3 server flight: ServerHello, ChangeCipherSpec, then the encrypted rest of the handshake.
pub fn server_flight_13(r: &mut Rng) -> Vec<u8> {
    let mut v = server_hello(r, true);
    v.extend(record(CHANGE_CIPHER_SPEC, &[1]));
    let encrypted_len = r.range(2500, 5000) as usize;
    v.extend(record(APPLICATION_DATA, &r.bytes(encrypted_len)));
    v
}

/// TLS 1.3 client: ChangeCipherSpec and the encrypted Finished.
pub fn client_finished_13(r: &mut Rng) -> Vec<u8> {
    let mut v = record(CHANGE_CIPHER_SPEC, &[1]);
    v.extend(record(APPLICATION_DATA, &r.bytes(53)));
    v
}

/// `*.example.com` for `a.example.com`: what the leaf certificate's subject looks like.
fn wildcard(name: &str) -> String {
    match name.split_once('.') {
        Some((_, parent)) if parent.contains('.') => format!("*.{parent}"),
        _ => name.to_string(),
    }
}

/// TLS 1.2 server flight: ServerHello, Certificate (leaf + intermediate), ServerKeyExchange, ServerHelloDone.
pub fn server_flight_12(r: &mut Rng, sni: &str) -> Vec<u8> {
    const ISSUER: (&str, &str) = ("DigiCert Inc", "DigiCert Global G2 TLS RSA SHA256 2020 CA1");
    let subject = wildcard(sni);
    let leaf = der::certificate(r, ("Microsoft Corporation", &subject), ISSUER, &[&subject, sni]);
    let intermediate = der::certificate(r, ISSUER, ("DigiCert Inc", "DigiCert Global Root G2"), &[]);
    let mut certs = Vec::new();
    prefixed(&mut certs, 3, |b| {
        for c in [&leaf, &intermediate] {
            prefixed(b, 3, |b| b.extend_from_slice(c));
        }
    });
    let mut ske = vec![3]; // named_curve
    put_u16(&mut ske, X25519);
    prefixed(&mut ske, 1, |b| b.extend(r.bytes(32)));
    put_u16(&mut ske, 0x0804); // rsa_pss_rsae_sha256
    prefixed(&mut ske, 2, |b| b.extend(r.bytes(256)));

    let mut v = server_hello(r, false);
    v.extend(record(HANDSHAKE, &handshake(11, &certs)));
    v.extend(record(HANDSHAKE, &handshake(12, &ske)));
    v.extend(record(HANDSHAKE, &handshake(14, &[])));
    v
}

/// TLS 1.2 client: ClientKeyExchange, ChangeCipherSpec, encrypted Finished.
pub fn client_finished_12(r: &mut Rng) -> Vec<u8> {
    let mut cke = Vec::new();
    prefixed(&mut cke, 1, |b| b.extend(r.bytes(32)));
    let mut v = record(HANDSHAKE, &handshake(16, &cke));
    v.extend(record(CHANGE_CIPHER_SPEC, &[1]));
    v.extend(record(HANDSHAKE, &r.bytes(40)));
    v
}

/// TLS 1.2 server: NewSessionTicket, ChangeCipherSpec, encrypted Finished.
pub fn server_finished_12(r: &mut Rng) -> Vec<u8> {
    let mut nst = Vec::new();
    nst.extend_from_slice(&36_000u32.to_be_bytes());
    prefixed(&mut nst, 2, |b| b.extend(r.bytes(192)));
    let mut v = record(HANDSHAKE, &handshake(4, &nst));
    v.extend(record(CHANGE_CIPHER_SPEC, &[1]));
    v.extend(record(HANDSHAKE, &r.bytes(40)));
    v
}

/// An encrypted close_notify alert (TLS 1.3 hides it in an application-data record).
pub fn close_notify(r: &mut Rng, tls13: bool) -> Vec<u8> {
    if tls13 {
        record(APPLICATION_DATA, &r.bytes(19))
    } else {
        record(ALERT, &r.bytes(26))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_hello_layout() {
        let mut r = Rng::new(1);
        let ch = client_hello(&mut r, "contoso.msappproxy.net");
        assert_eq!(ch[0], HANDSHAKE);
        assert_eq!(usize::from(u16::from_be_bytes([ch[3], ch[4]])), ch.len() - 5);
        assert_eq!(ch[5], 1);
        let hs_len = u32::from_be_bytes([0, ch[6], ch[7], ch[8]]) as usize;
        assert_eq!(hs_len, ch.len() - 9);
        assert!(ch.windows(22).any(|w| w == b"contoso.msappproxy.net"));
    }

    #[test]
    fn wildcards() {
        assert_eq!(wildcard("a.b.example.com"), "*.b.example.com");
        assert_eq!(wildcard("login.microsoftonline.com"), "*.microsoftonline.com");
        assert_eq!(wildcard("example.com"), "example.com");
    }
}
