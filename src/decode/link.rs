//! Link-layer headers in front of IP: Ethernet II with 802.1Q/802.1ad tags,
//! Linux cooked capture v1 and v2, BSD loopback, and raw IP.

use crate::capture::LinkType;

/// EtherType values (IEEE 802.3 / IANA).
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;

const ETHERNET_HEADER_LEN: usize = 14;
const VLAN_TAG_LEN: usize = 4;
/// Deepest stack of VLAN tags followed (QinQ is two; more is crafted input).
pub const MAX_VLAN_TAGS: usize = 4;
/// Linux cooked capture v1: protocol type at bytes 14-15 of a 16-byte header.
const SLL_HEADER_LEN: usize = 16;
/// Linux cooked capture v2: protocol type at bytes 0-1 of a 20-byte header.
const SLL2_HEADER_LEN: usize = 20;
/// BSD loopback: a 4-byte address family in the capturing host's byte order.
const NULL_HEADER_LEN: usize = 4;

/// Why a frame holds no IP packet capdoc can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkSkip {
    /// The link type is not decoded at all.
    UnsupportedLink,
    /// A valid frame of another protocol (ARP, LLDP, ...).
    NotIp,
    /// Shorter than its link header.
    Truncated,
    /// More VLAN tags than [`MAX_VLAN_TAGS`].
    TooManyVlanTags,
}

/// Returns the IP packet inside a frame.
pub fn ip_payload(link: LinkType, frame: &[u8]) -> Result<&[u8], LinkSkip> {
    match link {
        LinkType::ETHERNET => ethernet(frame),
        LinkType::LINUX_SLL => {
            let header = frame.get(..SLL_HEADER_LEN).ok_or(LinkSkip::Truncated)?;
            ip_by_ethertype(u16::from_be_bytes([header[14], header[15]]), &frame[SLL_HEADER_LEN..])
        }
        LinkType::LINUX_SLL2 => {
            let header = frame.get(..SLL2_HEADER_LEN).ok_or(LinkSkip::Truncated)?;
            ip_by_ethertype(u16::from_be_bytes([header[0], header[1]]), &frame[SLL2_HEADER_LEN..])
        }
        LinkType::NULL | LinkType::LOOP => {
            let header = frame.get(..NULL_HEADER_LEN).ok_or(LinkSkip::Truncated)?;
            let raw = [header[0], header[1], header[2], header[3]];
            // NULL is in the writer's byte order, LOOP in network order; accept both.
            let family = if link == LinkType::LOOP {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le < 0x1_0000 {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            match family {
                // AF_INET everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD/OpenBSD),
                // 28 (FreeBSD), 30 (Darwin), 23 (Windows).
                2 | 10 | 23 | 24 | 28 | 30 => Ok(&frame[NULL_HEADER_LEN..]),
                // Some writers put an EtherType in the last two bytes instead
                // (Wireshark accepts it too): trust the IP version nibble.
                _ => match frame.get(NULL_HEADER_LEN).map(|b| b >> 4) {
                    Some(4 | 6) if matches!(u16::from_be_bytes([raw[2], raw[3]]), ETHERTYPE_IPV4 | ETHERTYPE_IPV6) => {
                        Ok(&frame[NULL_HEADER_LEN..])
                    }
                    _ => Err(LinkSkip::NotIp),
                },
            }
        }
        LinkType::RAW | LinkType::RAW_OPENBSD | LinkType::RAW_BSD | LinkType::IPV4 | LinkType::IPV6 => {
            match frame.first().map(|b| b >> 4) {
                Some(4) | Some(6) => Ok(frame),
                Some(_) => Err(LinkSkip::NotIp),
                None => Err(LinkSkip::Truncated),
            }
        }
        LinkType::IEEE802_11 => ieee802_11(frame),
        _ => Err(LinkSkip::UnsupportedLink),
    }
}

/// IEEE 802.11 data frames (the link type etl2pcapng writes for Wi-Fi adapters):
/// a 24-byte MAC header (30 with four addresses, +2 for QoS), then an LLC/SNAP
/// header whose last two bytes are the EtherType. Protected (encrypted) frames
/// and management/control frames hold no readable IP.
fn ieee802_11(frame: &[u8]) -> Result<&[u8], LinkSkip> {
    const LLC_SNAP: [u8; 6] = [0xaa, 0xaa, 0x03, 0, 0, 0];
    let fc = frame.get(..2).ok_or(LinkSkip::Truncated)?;
    let (kind, subtype, flags) = ((fc[0] >> 2) & 0b11, fc[0] >> 4, fc[1]);
    const DATA: u8 = 2;
    const PROTECTED: u8 = 0x40;
    if kind != DATA || flags & PROTECTED != 0 || subtype & 0b0100 != 0 {
        // Not data, encrypted, or a "null" data frame without a body.
        return Err(LinkSkip::NotIp);
    }
    let mut header = 24;
    if flags & 0b11 == 0b11 {
        header += 6; // to-DS and from-DS: a fourth address
    }
    if subtype & 0b1000 != 0 {
        header += 2; // QoS control
    }
    let llc = frame.get(header..header + 8).ok_or(LinkSkip::Truncated)?;
    if llc[..6] != LLC_SNAP {
        return Err(LinkSkip::NotIp);
    }
    ip_by_ethertype(u16::from_be_bytes([llc[6], llc[7]]), &frame[header + 8..])
}

fn ethernet(frame: &[u8]) -> Result<&[u8], LinkSkip> {
    if frame.len() < ETHERNET_HEADER_LEN {
        return Err(LinkSkip::Truncated);
    }
    let mut ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let mut rest = &frame[ETHERNET_HEADER_LEN..];
    let mut tags = 0;
    while matches!(ethertype, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(LinkSkip::TooManyVlanTags);
        }
        let tag = rest.get(..VLAN_TAG_LEN).ok_or(LinkSkip::Truncated)?;
        ethertype = u16::from_be_bytes([tag[2], tag[3]]);
        rest = &rest[VLAN_TAG_LEN..];
    }
    ip_by_ethertype(ethertype, rest)
}

fn ip_by_ethertype(ethertype: u16, payload: &[u8]) -> Result<&[u8], LinkSkip> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(payload),
        _ => Err(LinkSkip::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 4] = [0x45, 0, 0, 20];

    fn eth(ethertype_and_tags: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(ethertype_and_tags);
        f.extend_from_slice(&IP);
        f
    }

    #[test]
    fn ethernet_with_qinq() {
        let f = eth(&[0x88, 0xa8, 0, 100, 0x81, 0x00, 0, 200, 0x08, 0x00]);
        assert_eq!(ip_payload(LinkType::ETHERNET, &f), Ok(&IP[..]));
    }

    #[test]
    fn vlan_depth_is_bounded() {
        let mut tags = Vec::new();
        for _ in 0..=MAX_VLAN_TAGS {
            tags.extend_from_slice(&[0x81, 0x00, 0, 1]);
        }
        tags.extend_from_slice(&[0x08, 0x00]);
        assert_eq!(
            ip_payload(LinkType::ETHERNET, &eth(&tags)),
            Err(LinkSkip::TooManyVlanTags)
        );
    }

    #[test]
    fn truncated_and_not_ip() {
        assert_eq!(ip_payload(LinkType::ETHERNET, &[0; 13]), Err(LinkSkip::Truncated));
        assert_eq!(
            ip_payload(LinkType::ETHERNET, &eth(&[0x08, 0x06])),
            Err(LinkSkip::NotIp)
        );
        assert_eq!(ip_payload(LinkType::LINUX_SLL2, &[0; 19]), Err(LinkSkip::Truncated));
        assert_eq!(ip_payload(LinkType(147), &IP), Err(LinkSkip::UnsupportedLink));
    }

    #[test]
    fn wifi_data_frame_with_qos() {
        let mut f = vec![0x88, 0x01]; // QoS data, to-DS
        f.extend([0u8; 22]); // duration, three addresses, sequence
        f.extend([0, 0]); // QoS control
        f.extend([0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00]);
        f.extend(IP);
        assert_eq!(ip_payload(LinkType::IEEE802_11, &f), Ok(&IP[..]));
        f[1] |= 0x40; // protected
        assert_eq!(ip_payload(LinkType::IEEE802_11, &f), Err(LinkSkip::NotIp));
        assert_eq!(ip_payload(LinkType::IEEE802_11, &[0x08]), Err(LinkSkip::Truncated));
    }

    #[test]
    fn null_in_either_byte_order() {
        let le = [2, 0, 0, 0, 0x45];
        let be = [0, 0, 0, 30, 0x60];
        assert_eq!(ip_payload(LinkType::NULL, &le), Ok(&le[4..]));
        assert_eq!(ip_payload(LinkType::NULL, &be), Ok(&be[4..]));
        // An EtherType where the family should be (pcapplusplus/null_loopback.pcap, frame 3).
        let ethertype = [0x0f, 0, 0x08, 0, 0x45];
        assert_eq!(ip_payload(LinkType::NULL, &ethertype), Ok(&ethertype[4..]));
    }
}
