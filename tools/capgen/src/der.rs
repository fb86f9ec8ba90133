//! Just enough DER to write certificates and CRLs that Wireshark and x509 parsers accept.
//!
//! Keys and signatures are random bytes: nothing is ever verified, but the structure is real, so
//! dissectors show subjects and SANs instead of "malformed packet".

use crate::rng::Rng;

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_SHA256_WITH_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_COUNTRY: &[u8] = &[0x55, 0x04, 0x06];
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let n = content.len();
    let mut v = Vec::with_capacity(n + 4);
    v.push(tag);
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else if n < 0x1_0000 {
        v.push(0x82);
        v.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        v.push(0x83);
        v.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
    }
    v.extend_from_slice(content);
    v
}

pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

fn algorithm(oid: &[u8]) -> Vec<u8> {
    seq(&[&tlv(0x06, oid), &[0x05, 0x00]])
}

/// A positive INTEGER of `n` random bytes (high bit cleared, first byte non-zero).
fn random_integer(r: &mut Rng, n: usize) -> Vec<u8> {
    let mut b = r.bytes(n);
    b[0] = (b[0] & 0x7f) | 0x10;
    tlv(0x02, &b)
}

fn name(org: &str, cn: &str) -> Vec<u8> {
    let rdn = |oid: &[u8], tag: u8, value: &str| tlv(0x31, &seq(&[&tlv(0x06, oid), &tlv(tag, value.as_bytes())]));
    seq(&[
        &rdn(OID_COUNTRY, 0x13, "US"),
        &rdn(OID_ORGANIZATION, 0x0c, org),
        &rdn(OID_COMMON_NAME, 0x0c, cn),
    ])
}

fn validity() -> Vec<u8> {
    seq(&[&tlv(0x17, b"250115000000Z"), &tlv(0x17, b"260114235959Z")])
}

/// A 2048-bit RSA SubjectPublicKeyInfo with a random modulus.
fn rsa_public_key(r: &mut Rng) -> Vec<u8> {
    let mut modulus = vec![0u8];
    modulus.extend(r.bytes(256));
    modulus[1] |= 0x80;
    let key = seq(&[&tlv(0x02, &modulus), &tlv(0x02, &[0x01, 0x00, 0x01])]);
    let mut bits = vec![0u8];
    bits.extend(key);
    seq(&[&algorithm(OID_RSA_ENCRYPTION), &tlv(0x03, &bits)])
}

fn signature(r: &mut Rng) -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend(r.bytes(256));
    tlv(0x03, &bits)
}

/// An X.509 v3 certificate. `san` becomes a subjectAltName extension when not empty.
pub fn certificate(r: &mut Rng, subject: (&str, &str), issuer: (&str, &str), san: &[&str]) -> Vec<u8> {
    let version = tlv(0xa0, &tlv(0x02, &[2]));
    let serial = random_integer(r, 16);
    let mut parts: Vec<Vec<u8>> = vec![
        version,
        serial,
        algorithm(OID_SHA256_WITH_RSA),
        name(issuer.0, issuer.1),
        validity(),
        name(subject.0, subject.1),
        rsa_public_key(r),
    ];
    if !san.is_empty() {
        let names: Vec<u8> = san.iter().flat_map(|n| tlv(0x82, n.as_bytes())).collect();
        let ext = seq(&[&tlv(0x06, OID_SUBJECT_ALT_NAME), &tlv(0x04, &tlv(0x30, &names))]);
        parts.push(tlv(0xa3, &seq(&[&ext])));
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let tbs = seq(&refs);
    seq(&[&tbs, &algorithm(OID_SHA256_WITH_RSA), &signature(r)])
}

/// A v2 CRL of roughly `size` bytes (each revoked entry is 35 bytes).
pub fn crl(r: &mut Rng, issuer_cn: &str, size: usize) -> Vec<u8> {
    let entries = size.saturating_sub(450) / 35;
    let revoked: Vec<u8> = (0..entries)
        .flat_map(|_| seq(&[&random_integer(r, 16), &tlv(0x17, b"250301120000Z")]))
        .collect();
    let mut parts: Vec<Vec<u8>> = vec![
        tlv(0x02, &[1]),
        algorithm(OID_SHA256_WITH_RSA),
        name("DigiCert Inc", issuer_cn),
        tlv(0x17, b"250303000000Z"),
        tlv(0x17, b"250310000000Z"),
    ];
    if entries > 0 {
        parts.push(tlv(0x30, &revoked));
    }
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let tbs = seq(&refs);
    seq(&[&tbs, &algorithm(OID_SHA256_WITH_RSA), &signature(r)])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outer length of a DER element must cover exactly the rest of the buffer.
    fn outer_len_ok(v: &[u8]) -> bool {
        let (len, hdr) = match v[1] {
            n if n < 0x80 => (usize::from(n), 2),
            0x81 => (usize::from(v[2]), 3),
            0x82 => (usize::from(u16::from_be_bytes([v[2], v[3]])), 4),
            _ => (usize::from(v[2]) << 16 | usize::from(v[3]) << 8 | usize::from(v[4]), 5),
        };
        hdr + len == v.len()
    }

    #[test]
    fn lengths_are_consistent() {
        let mut r = Rng::new(5);
        let c = certificate(
            &mut r,
            ("Microsoft", "*.msappproxy.net"),
            ("DigiCert Inc", "CA"),
            &["a.msappproxy.net"],
        );
        assert!(outer_len_ok(&c));
        assert!(c.len() > 600 && c.len() < 1200);
        let l = crl(&mut r, "DigiCert Global Root G2", 5000);
        assert!(outer_len_ok(&l));
        assert!(l.len() > 4500 && l.len() < 5500, "{}", l.len());
        assert!(outer_len_ok(&tlv(0x04, &[0; 70_000])));
    }
}
