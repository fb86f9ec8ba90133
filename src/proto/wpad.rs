//! The other ways Windows discovers a proxy (WPAD) besides DNS and LLMNR:
//! NetBIOS name queries for `WPAD<00>` (RFC 1002) and DHCP option 252, which
//! hands out the URL of a proxy configuration script.

use std::net::{IpAddr, Ipv4Addr};

pub const NBNS_PORT: u16 = 137;
pub const DHCP_SERVER_PORT: u16 = 67;
pub const DHCP_CLIENT_PORT: u16 = 68;

/// RFC 1002 section 4.2.1: a 12-byte header, then the first-level encoded
/// name: a length octet of 32 and 32 characters 'A'-'P', two per byte.
const NBNS_HEADER: usize = 12;
const ENCODED_NAME: usize = 32;

/// One NetBIOS name service message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NbnsMessage {
    pub response: bool,
    pub rcode: u8,
    /// The name without its padding, lower case; the 16th byte is the suffix.
    pub name: String,
    pub suffix: u8,
    /// The address a positive response gives.
    pub address: Option<IpAddr>,
}

pub fn parse_nbns(payload: &[u8]) -> Option<NbnsMessage> {
    let header = payload.get(..NBNS_HEADER)?;
    if payload.get(NBNS_HEADER) != Some(&(ENCODED_NAME as u8)) {
        return None;
    }
    let encoded = payload.get(NBNS_HEADER + 1..NBNS_HEADER + 1 + ENCODED_NAME)?;
    let mut decoded = [0u8; 16];
    for (i, pair) in encoded.chunks(2).enumerate() {
        let (hi, lo) = (pair[0].checked_sub(b'A')?, pair[1].checked_sub(b'A')?);
        if hi > 15 || lo > 15 {
            return None;
        }
        decoded[i] = (hi << 4) | lo;
    }
    let name = crate::untrusted::text(&decoded[..15]).trim_end().to_ascii_lowercase();
    let response = header[2] & 0x80 != 0;
    let answers = u16::from_be_bytes([header[6], header[7]]);
    // Answer: name (34 bytes incl. the final 0), type, class, TTL, RDLENGTH, then NB_FLAGS and the address.
    let rdata = NBNS_HEADER + 2 + ENCODED_NAME + 2 + 2 + 4 + 2;
    let address = (response && answers > 0)
        .then(|| payload.get(rdata + 2..rdata + 6))
        .flatten()
        .map(|a| IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])));
    Some(NbnsMessage {
        response,
        rcode: header[3] & 0x0f,
        name,
        suffix: decoded[15],
        address,
    })
}

/// RFC 2131 section 3: the fixed BOOTP part, then the magic cookie.
const BOOTP_FIXED: usize = 236;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
const OPTION_PAD: u8 = 0;
const OPTION_END: u8 = 255;
/// Site-specific option used by Windows for the WPAD URL.
const OPTION_WPAD: u8 = 252;

/// The WPAD URL in a DHCP message (option 252), if it carries one.
pub fn dhcp_wpad_url(payload: &[u8]) -> Option<String> {
    if payload.get(BOOTP_FIXED..BOOTP_FIXED + 4)? != MAGIC_COOKIE {
        return None;
    }
    let mut at = BOOTP_FIXED + 4;
    while let Some(&code) = payload.get(at) {
        match code {
            OPTION_PAD => at += 1,
            OPTION_END => return None,
            _ => {
                let len = usize::from(*payload.get(at + 1)?);
                let value = payload.get(at + 2..at + 2 + len)?;
                if code == OPTION_WPAD {
                    let value = value.strip_suffix(b"\0").unwrap_or(value);
                    return Some(crate::untrusted::text(value));
                }
                at += 2 + len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(name: &str, suffix: u8) -> Vec<u8> {
        let mut raw = format!("{name:<15}").into_bytes();
        raw.push(suffix);
        raw.iter().flat_map(|b| [b'A' + (b >> 4), b'A' + (b & 15)]).collect()
    }

    #[test]
    fn nbns_query_for_wpad() {
        let mut q = vec![0x12, 0x34, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 32];
        q.extend(encode("WPAD", 0));
        q.extend([0, 0, 0x20, 0, 1]);
        let m = parse_nbns(&q).expect("parses");
        assert_eq!((m.name.as_str(), m.suffix, m.response), ("wpad", 0, false));
        assert!(parse_nbns(&q[..20]).is_none());
    }

    #[test]
    fn dhcp_option_252() {
        let mut msg = vec![0u8; BOOTP_FIXED];
        msg.extend(MAGIC_COOKIE);
        msg.extend([53, 1, 5]);
        let url = b"http://wpad.contoso.local/wpad.dat";
        msg.push(OPTION_WPAD);
        msg.push(url.len() as u8);
        msg.extend(url);
        msg.push(OPTION_END);
        assert_eq!(
            dhcp_wpad_url(&msg).as_deref(),
            Some("http://wpad.contoso.local/wpad.dat")
        );
        msg.truncate(BOOTP_FIXED + 10);
        assert_eq!(dhcp_wpad_url(&msg), None);
    }
}
