//! Frames -> IP/TCP/UDP views.
//!
//! [`Decoder::decode`] strips the link layer ([`link`]), parses IPv4/IPv6 with
//! etherparse (lax, so packets cut by a snaplen still yield their headers),
//! reassembles fragments ([`fragment`]), and returns a [`Packet`] that borrows
//! from the frame (or from the reassembly buffer). Nothing is copied for an
//! unfragmented packet.

pub mod duplicate;
pub mod fragment;
pub mod link;

use etherparse::{IpNumber, Ipv4HeaderSlice, LaxIpSlice};
use std::net::IpAddr;

use crate::capture::LinkType;
use fragment::{Fragment, FragmentKey, FragmentPool};
pub use link::LinkSkip;

/// TCP header flags (RFC 9293 section 3.1, RFC 3168 for ECE/CWR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;

    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// A TCP segment. `payload` is what was captured; `wire_len` what the IP
/// length says was sent (larger when the capture cut the packet).
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    pub window: u16,
    pub payload: &'a [u8],
    pub wire_len: u32,
}

#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: &'a [u8],
}

/// The start of a TCP segment quoted inside an ICMP error (RFC 792: the IP
/// header and at least the first 8 bytes of its payload: ports and sequence).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuotedTcp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
}

/// An ICMP or ICMPv6 destination-unreachable message.
#[derive(Clone, Copy, Debug)]
pub struct Unreachable {
    pub v6: bool,
    pub icmp_type: u8,
    pub code: u8,
    pub quoted: Option<QuotedTcp>,
}

impl Unreachable {
    /// A short description of the code, as RFC 792 / RFC 4443 name it.
    pub fn describe(&self) -> &'static str {
        match (self.v6, self.code) {
            (false, 0) => "net unreachable",
            (false, 1) => "host unreachable",
            (false, 2) => "protocol unreachable",
            (false, 3) => "port unreachable",
            (false, 4) => "fragmentation needed",
            (false, 9) | (false, 10) | (false, 13) => "administratively prohibited",
            (true, 0) => "no route to destination",
            (true, 1) => "administratively prohibited",
            (true, 3) => "address unreachable",
            (true, 4) => "port unreachable",
            (true, 5) | (true, 6) => "rejected by policy",
            _ => "unreachable",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Transport<'a> {
    Tcp(TcpSegment<'a>),
    Udp(UdpDatagram<'a>),
    Unreachable(Unreachable),
    /// Another IP protocol, or a transport header too short to read.
    Other(u8),
}

#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// The packet from its IP header on, as captured.
    pub ip: &'a [u8],
    pub transport: Transport<'a>,
}

/// Why a frame yields no packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    Link(LinkSkip),
    /// The IP header is missing or inconsistent.
    BadIp,
    /// A fragment held until its datagram is complete.
    FragmentHeld,
}

/// Keeps the state decoding needs across frames (fragments).
#[derive(Default)]
pub struct Decoder {
    pub fragments: FragmentPool,
}

const ICMPV4: u8 = 1;
const ICMPV6: u8 = 58;
const TCP: u8 = 6;
const UDP: u8 = 17;
const TCP_MIN_HEADER: usize = 20;
const UDP_HEADER: usize = 8;

impl Decoder {
    pub fn decode<'a>(&'a mut self, link: LinkType, frame: &'a [u8], ts: i64) -> Result<Packet<'a>, Skip> {
        let ip = link::ip_payload(link, frame).map_err(Skip::Link)?;
        match plain_ipv4(ip) {
            Some(packet) => Ok(packet),
            None => self.decode_ip(ip, ts),
        }
    }

    /// Any IP packet, fragments included, through etherparse's [`LaxIpSlice`].
    fn decode_ip<'a>(&'a mut self, ip: &'a [u8], ts: i64) -> Result<Packet<'a>, Skip> {
        let (slice, _) = LaxIpSlice::from_slice(ip).map_err(|_| Skip::BadIp)?;
        let src = slice.source_addr();
        let dst = slice.destination_addr();
        let payload = slice.payload();
        let protocol = payload.ip_number.0;
        let header_total = payload.payload.as_ptr() as usize - ip.as_ptr() as usize;
        let wire_payload_len = wire_payload_len(&slice, header_total);
        if payload.fragmented {
            let fragment = fragment_of(&slice, src, dst, protocol, payload.payload).ok_or(Skip::BadIp)?;
            let Some(whole) = self.fragments.insert(fragment, ts) else {
                return Err(Skip::FragmentHeld);
            };
            let wire = whole.len() as u32;
            return Ok(Packet {
                src,
                dst,
                ip,
                transport: transport(protocol, whole, wire, src.is_ipv6()),
            });
        }
        Ok(Packet {
            src,
            dst,
            ip,
            transport: transport(protocol, payload.payload, wire_payload_len, src.is_ipv6()),
        })
    }
}

/// An unfragmented IPv4 packet without an authentication header: nearly every
/// packet of a capture, decoded without building etherparse's general
/// [`LaxIpSlice`], whose size made moving it cost more than reading the header.
/// The payload is bounded the way `LaxIpSlice` bounds it (RFC 791 total length,
/// or what was captured when the total length is past the end or smaller than
/// the header). `None` for anything else, which takes the general path.
fn plain_ipv4(ip: &[u8]) -> Option<Packet<'_>> {
    let header = Ipv4HeaderSlice::from_slice(ip).ok()?;
    if header.is_fragmenting_payload() || header.protocol() == IpNumber::AUTHENTICATION_HEADER {
        return None;
    }
    let header_len = header.slice().len();
    let total_len = usize::from(header.total_len());
    let end = if total_len < header_len || total_len > ip.len() {
        ip.len()
    } else {
        total_len
    };
    let payload = &ip[header_len..end];
    let wire_len = ipv4_payload_len(header.total_len(), header_len).max(payload.len() as u32);
    Some(Packet {
        src: IpAddr::V4(header.source_addr()),
        dst: IpAddr::V4(header.destination_addr()),
        ip,
        transport: transport(header.protocol().0, payload, wire_len, false),
    })
}

/// Payload length an IPv4 header announces: the total length (RFC 791) less the header.
fn ipv4_payload_len(total_len: u16, header_len: usize) -> u32 {
    u32::from(total_len).saturating_sub(header_len as u32)
}

/// Payload length the IP header announces (what was on the wire).
fn wire_payload_len(slice: &LaxIpSlice<'_>, header_total: usize) -> u32 {
    match slice {
        LaxIpSlice::Ipv4(v4) => ipv4_payload_len(v4.header().total_len(), header_total),
        LaxIpSlice::Ipv6(v6) => {
            let ext_len = v6.extensions().slice().len() as u32;
            u32::from(v6.header().payload_length()).saturating_sub(ext_len)
        }
    }
    .max(slice.payload().payload.len() as u32)
}

fn fragment_of<'a>(
    slice: &LaxIpSlice<'a>,
    src: IpAddr,
    dst: IpAddr,
    protocol: u8,
    payload: &'a [u8],
) -> Option<Fragment<'a>> {
    match slice {
        LaxIpSlice::Ipv4(v4) => {
            let header = v4.header();
            Some(Fragment {
                key: FragmentKey {
                    src,
                    dst,
                    protocol,
                    id: u32::from(header.identification()),
                },
                offset: usize::from(header.fragments_offset().value()) * 8,
                more: header.more_fragments(),
                payload,
            })
        }
        LaxIpSlice::Ipv6(v6) => {
            let header = v6.extensions().clone().into_iter().find_map(|ext| match ext {
                etherparse::Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            Some(Fragment {
                key: FragmentKey {
                    src,
                    dst,
                    protocol,
                    id: header.identification(),
                },
                offset: usize::from(header.fragment_offset().value()) * 8,
                more: header.more_fragments(),
                payload,
            })
        }
    }
}

// Inlined: built in the caller's frame, a segment is not copied out of a
// returned enum (those copies stalled on store forwarding).
#[inline(always)]
fn transport(protocol: u8, payload: &[u8], wire_len: u32, v6: bool) -> Transport<'_> {
    match protocol {
        TCP => tcp(payload, wire_len).map_or(Transport::Other(TCP), Transport::Tcp),
        UDP => udp(payload).map_or(Transport::Other(UDP), Transport::Udp),
        ICMPV4 if !v6 => icmp_unreachable(payload, false).map_or(Transport::Other(ICMPV4), Transport::Unreachable),
        ICMPV6 if v6 => icmp_unreachable(payload, true).map_or(Transport::Other(ICMPV6), Transport::Unreachable),
        other => Transport::Other(other),
    }
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// RFC 9293 section 3.1. The data offset must cover at least the fixed header.
#[inline(always)]
fn tcp(segment: &[u8], wire_len: u32) -> Option<TcpSegment<'_>> {
    let header = segment.get(..TCP_MIN_HEADER)?;
    let header_len = usize::from(header[12] >> 4) * 4;
    if header_len < TCP_MIN_HEADER {
        return None;
    }
    let payload = segment.get(header_len..).unwrap_or_default();
    Some(TcpSegment {
        src_port: be16(header, 0),
        dst_port: be16(header, 2),
        seq: be32(header, 4),
        ack: be32(header, 8),
        flags: TcpFlags(header[13]),
        window: be16(header, 14),
        payload,
        wire_len: wire_len.saturating_sub(header_len as u32),
    })
}

/// RFC 768. The length field bounds the payload (Ethernet padding follows it).
#[inline(always)]
fn udp(datagram: &[u8]) -> Option<UdpDatagram<'_>> {
    let header = datagram.get(..UDP_HEADER)?;
    let length = usize::from(be16(header, 4));
    let end = if length >= UDP_HEADER {
        length.min(datagram.len())
    } else {
        datagram.len()
    };
    Some(UdpDatagram {
        src_port: be16(header, 0),
        dst_port: be16(header, 2),
        payload: &datagram[UDP_HEADER..end],
    })
}

/// ICMPv4 type 3 (RFC 792) and ICMPv6 type 1 (RFC 4443 section 3.1); the
/// quoted packet starts after the 8-byte ICMP header.
fn icmp_unreachable(message: &[u8], v6: bool) -> Option<Unreachable> {
    let header = message.get(..8)?;
    let unreachable_type = if v6 { 1 } else { 3 };
    if header[0] != unreachable_type {
        return None;
    }
    let quoted = LaxIpSlice::from_slice(&message[8..]).ok().and_then(|(ip, _)| {
        let payload = ip.payload();
        if payload.ip_number != IpNumber::TCP {
            return None;
        }
        let start = payload.payload.get(..8)?;
        Some(QuotedTcp {
            src: ip.source_addr(),
            dst: ip.destination_addr(),
            src_port: be16(start, 0),
            dst_port: be16(start, 2),
            seq: be32(start, 4),
        })
    });
    Some(Unreachable {
        v6,
        icmp_type: header[0],
        code: header[1],
        quoted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN from 192.0.2.1:40000 to 203.0.113.5:443, raw IPv4, seq 1000.
    const SYN: [u8; 40] = [
        0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, 1, 203, 0, 113, 5, // IPv4
        0x9c, 0x40, 0x01, 0xbb, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, // TCP
    ];

    #[test]
    fn parses_a_syn() {
        let mut d = Decoder::default();
        let p = d.decode(LinkType::RAW, &SYN, 0).expect("decodes");
        let Transport::Tcp(t) = p.transport else {
            panic!("tcp expected")
        };
        assert_eq!((t.src_port, t.dst_port, t.seq), (40000, 443, 1000));
        assert!(t.flags.syn() && !t.flags.ack());
        assert_eq!(t.wire_len, 0);
    }

    #[test]
    fn truncated_tcp_keeps_wire_length() {
        // Claim 100 bytes of payload that the capture did not keep.
        let mut cut = SYN;
        cut[3] = 140;
        let mut d = Decoder::default();
        let p = d.decode(LinkType::RAW, &cut, 0).expect("lax decode");
        let Transport::Tcp(t) = p.transport else {
            panic!("tcp expected")
        };
        assert_eq!((t.payload.len(), t.wire_len), (0, 100));
    }

    #[test]
    fn icmp_quoting_the_syn() {
        let mut icmp = vec![
            0x45, 0, 0, 76, 0, 2, 0, 0, 64, 1, 0, 0, 203, 0, 113, 5, 192, 0, 2, 1, // IPv4
            3, 13, 0, 0, 0, 0, 0, 0, // admin prohibited
        ];
        icmp.extend_from_slice(&SYN[..28]);
        let mut d = Decoder::default();
        let p = d.decode(LinkType::RAW, &icmp, 0).expect("decodes");
        let Transport::Unreachable(u) = p.transport else {
            panic!("unreachable expected")
        };
        let q = u.quoted.expect("quoted tcp");
        assert_eq!((q.dst_port, q.seq), (443, 1000));
        assert_eq!(u.describe(), "administratively prohibited");
    }

    /// The IPv4 fast path bounds payloads as the general path does, and leaves
    /// it what it does not handle.
    #[test]
    fn plain_ipv4_agrees_with_the_general_path() {
        let with = |edit: &dyn Fn(&mut Vec<u8>)| {
            let mut ip = SYN.to_vec();
            ip.extend_from_slice(b"GET / HTTP/1.1\r\n");
            ip[3] = ip.len() as u8;
            edit(&mut ip);
            ip
        };
        let cases = [
            with(&|_| {}),
            // Ethernet padding after the total length.
            with(&|ip| ip.extend_from_slice(&[0; 6])),
            // Cut by the snap length, and a total length smaller than the header.
            with(&|ip| ip[3] = 200),
            with(&|ip| ip[3] = 12),
            // A header with options (IHL 6).
            with(&|ip| {
                ip.splice(20..20, [1, 1, 1, 0]);
                ip[0] = 0x46;
                ip[3] += 4;
            }),
            // UDP, and an IHL below the minimum.
            with(&|ip| ip[9] = UDP),
            with(&|ip| ip[0] = 0x44),
        ];
        for ip in &cases {
            let general = format!("{:?}", Decoder::default().decode_ip(ip, 0));
            assert_eq!(format!("{:?}", plain_ipv4(ip).ok_or(Skip::BadIp)), general, "{ip:02x?}");
        }
        let authenticated = with(&|ip| ip[9] = 51);
        let fragment = with(&|ip| ip[6] = 0x20);
        for ip in [authenticated, fragment] {
            assert!(plain_ipv4(&ip).is_none());
        }
    }

    #[test]
    fn garbage_is_not_ip() {
        let mut d = Decoder::default();
        assert_eq!(d.decode(LinkType::RAW, &[0x45, 0, 0], 0).err(), Some(Skip::BadIp));
    }
}
