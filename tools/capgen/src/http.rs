//! HTTP/1.1 messages the connector exchanges with proxies and CRL servers.

use crate::der::{seq, tlv};
use crate::rng::Rng;

pub fn connect_request(host: &str, auth_token: Option<&str>) -> Vec<u8> {
    let mut s = format!("CONNECT {host}:443 HTTP/1.1\r\nHost: {host}:443\r\n");
    if let Some(token) = auth_token {
        s.push_str(&format!("Proxy-Authorization: Negotiate {token}\r\n"));
    }
    s.push_str("Proxy-Connection: Keep-Alive\r\n\r\n");
    s.into_bytes()
}

/// A Negotiate token as Windows sends it: SPNEGO NegTokenInit wrapping a Kerberos AP-REQ. The ticket
/// and authenticator are random ciphertext, but the structure is real so dissectors do not flag it.
pub fn negotiate_token(r: &mut Rng, realm: &str, proxy_host: &str) -> String {
    base64(&spnego_kerberos(r, realm, proxy_host))
}

fn spnego_kerberos(r: &mut Rng, realm: &str, host: &str) -> Vec<u8> {
    const OID_SPNEGO: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];
    const OID_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02];
    const OID_MS_KRB5: &[u8] = &[0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02];
    let int = |tag: u8, v: u8| tlv(tag, &tlv(0x02, &[v]));
    let general = |s: &str| tlv(0x1b, s.as_bytes());
    let encrypted = |r: &mut Rng, n: usize, kvno: bool| {
        let mut parts = vec![int(0xa0, 18)]; // aes256-cts-hmac-sha1-96
        if kvno {
            parts.push(int(0xa1, 7));
        }
        parts.push(tlv(0xa2, &tlv(0x04, &r.bytes(n))));
        tlv(0x30, &parts.concat())
    };
    let sname = seq(&[&int(0xa0, 2), &tlv(0xa1, &seq(&[&general("HTTP"), &general(host)]))]);
    let ticket_len = r.range(600, 900) as usize;
    let ticket = tlv(
        0x61,
        &seq(&[
            &int(0xa0, 5),
            &tlv(0xa1, &general(realm)),
            &tlv(0xa2, &sname),
            &tlv(0xa3, &encrypted(r, ticket_len, true)),
        ]),
    );
    let authenticator_len = r.range(150, 200) as usize;
    let ap_req = tlv(
        0x6e,
        &seq(&[
            &int(0xa0, 5),
            &int(0xa1, 14),
            &tlv(0xa2, &[0x03, 0x05, 0x00, 0x20, 0x00, 0x00, 0x00]), // mutual-required
            &tlv(0xa3, &ticket),
            &tlv(0xa4, &encrypted(r, authenticator_len, false)),
        ]),
    );
    let krb5_token = tlv(0x60, &[&tlv(0x06, OID_KRB5)[..], &[0x01, 0x00], &ap_req].concat());
    let mech_types = tlv(0xa0, &seq(&[&tlv(0x06, OID_MS_KRB5), &tlv(0x06, OID_KRB5)]));
    let init = tlv(0xa0, &seq(&[&mech_types, &tlv(0xa2, &tlv(0x04, &krb5_token))]));
    tlv(0x60, &[&tlv(0x06, OID_SPNEGO)[..], &init].concat())
}

fn base64(data: &[u8]) -> String {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(char::from(B64[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn html_error(code: u16, reason: &str, text: &str) -> Vec<u8> {
    let body = format!(
        "<html><head><title>{code} {reason}</title></head><body><h1>{reason}</h1><p>{text}</p></body></html>\n"
    );
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The proxy's answer to CONNECT. `keep_alive` matters only for 407 (retry on the same connection).
pub fn connect_response(code: u16, keep_alive: bool) -> Vec<u8> {
    match code {
        200 => b"HTTP/1.1 200 Connection established\r\n\r\n".to_vec(),
        407 => format!(
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Negotiate\r\nProxy-Authenticate: NTLM\r\nContent-Length: 0\r\nProxy-Connection: {}\r\n\r\n",
            if keep_alive { "Keep-Alive" } else { "close" }
        )
        .into_bytes(),
        403 => html_error(403, "Forbidden", "Access to this site is blocked by the proxy policy."),
        _ => html_error(502, "Bad Gateway", "The proxy could not connect to the destination."),
    }
}

/// A CryptoAPI revocation download; `via_proxy` uses the absolute URI a forward proxy expects.
pub fn crl_get(host: &str, path: &str, via_proxy: bool) -> Vec<u8> {
    let target = if via_proxy {
        format!("http://{host}{path}")
    } else {
        path.to_string()
    };
    format!(
        "GET {target} HTTP/1.1\r\nCache-Control: max-age = 3000\r\nConnection: Keep-Alive\r\nAccept: */*\r\nIf-Modified-Since: Mon, 03 Mar 2025 08:12:44 GMT\r\nUser-Agent: Microsoft-CryptoAPI/10.0\r\nHost: {host}\r\n\r\n"
    )
    .into_bytes()
}

/// `body = None` gives 304 Not Modified.
pub fn crl_response(body: Option<&[u8]>) -> Vec<u8> {
    match body {
        Some(b) => {
            let mut v = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\nLast-Modified: Mon, 03 Mar 2025 10:00:00 GMT\r\nCache-Control: public, max-age=3600\r\nAccept-Ranges: bytes\r\n\r\n",
                b.len()
            )
            .into_bytes();
            v.extend_from_slice(b);
            v
        }
        None => b"HTTP/1.1 304 Not Modified\r\nLast-Modified: Mon, 03 Mar 2025 08:12:44 GMT\r\nCache-Control: public, max-age=3600\r\n\r\n".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_match_content_length() {
        for code in [403, 502] {
            let r = String::from_utf8(connect_response(code, false)).unwrap();
            let (head, body) = r.split_once("\r\n\r\n").unwrap();
            assert!(head.contains(&format!("Content-Length: {}", body.len())));
        }
        assert!(connect_request("a.b", None).starts_with(b"CONNECT a.b:443 HTTP/1.1\r\n"));
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"M"), "TQ==");
        assert!(negotiate_token(&mut Rng::new(1), "CORP.CONTOSO.COM", "proxy").starts_with("YII"));
    }
}
