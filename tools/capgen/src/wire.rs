//! Ethernet/IPv4/TCP/UDP frame building with correct checksums.

/// TCP payload per full segment (Ethernet MTU 1500 minus 20 bytes IPv4 and 20 bytes TCP).
pub const MSS: usize = 1460;
/// Receive window advertised by both sides. Constant, so tshark never sees window updates, and
/// without window scaling, so its bytes-in-flight arithmetic needs no handshake state.
pub const WINDOW: u16 = 64240;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// MSS 1460, NOP, NOP, SACK permitted: what Windows and most servers put in SYN and SYN-ACK.
const SYN_OPTIONS: [u8; 8] = [2, 4, 0x05, 0xb4, 1, 1, 4, 2];

const ETH_LEN: usize = 14;
const IP_LEN: usize = 20;
const L4_OFF: usize = ETH_LEN + IP_LEN;
/// Ethernet frames on the wire are at least 60 bytes (without FCS); frames the capturing host
/// receives show that padding, frames it sends are captured before padding.
const MIN_WIRE_FRAME: usize = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    Tcp {
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
    },
    Udp {
        sport: u16,
        dport: u16,
    },
}

impl L4 {
    fn header_len(&self) -> usize {
        match *self {
            L4::Tcp { flags, .. } if flags & SYN != 0 => 20 + SYN_OPTIONS.len(),
            L4::Tcp { .. } => 20,
            L4::Udp { .. } => 8,
        }
    }

    fn protocol(&self) -> u8 {
        match self {
            L4::Tcp { .. } => 6,
            L4::Udp { .. } => 17,
        }
    }
}

/// Everything below the payload of one frame.
#[derive(Clone, Copy, Debug)]
pub struct Header {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: u32,
    pub dst_ip: u32,
    pub ip_id: u16,
    pub ttl: u8,
    pub l4: L4,
    /// Pad to the 60-byte Ethernet minimum (frames received by the capturing host).
    pub pad: bool,
}

/// Adds `data` to a ones'-complement accumulator. Works on 64-bit words with end-around carry, which
/// folds to the same 16-bit sum as RFC 1071 and is several times faster on bulk payloads.
/// `data` must start at an even offset of the checksummed region.
pub fn checksum_add(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_be_bytes(c.try_into().expect("8-byte chunk"));
        let (s, carry) = acc.overflowing_add(w);
        acc = s + u64::from(carry);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        let (s, carry) = acc.overflowing_add(u64::from_be_bytes(last));
        acc = s + u64::from(carry);
    }
    acc
}

/// Folds an accumulator to 16 bits and complements it: the value to put in the checksum field.
pub fn checksum_finish(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

pub fn checksum(data: &[u8]) -> u16 {
    checksum_finish(checksum_add(data, 0))
}

/// Builds one frame into `buf`: `fill` appends the payload, then the headers and checksums are written
/// in front of it (so the payload is copied only once).
pub fn build_frame(buf: &mut Vec<u8>, h: &Header, fill: impl FnOnce(&mut Vec<u8>)) {
    let l4_len = h.l4.header_len();
    let payload_off = L4_OFF + l4_len;
    buf.clear();
    buf.resize(payload_off, 0);
    fill(buf);
    let segment_len = buf.len() - L4_OFF;

    buf[0..6].copy_from_slice(&h.dst_mac);
    buf[6..12].copy_from_slice(&h.src_mac);
    buf[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    write_ipv4(&mut buf[ETH_LEN..L4_OFF], h, (IP_LEN + segment_len) as u16);

    let csum_at = match h.l4 {
        L4::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
        } => {
            let t = &mut buf[L4_OFF..payload_off];
            t[0..2].copy_from_slice(&sport.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[4..8].copy_from_slice(&seq.to_be_bytes());
            t[8..12].copy_from_slice(&ack.to_be_bytes());
            t[12] = ((l4_len / 4) as u8) << 4;
            t[13] = flags;
            t[14..16].copy_from_slice(&WINDOW.to_be_bytes());
            if l4_len > 20 {
                t[20..].copy_from_slice(&SYN_OPTIONS);
            }
            L4_OFF + 16
        }
        L4::Udp { sport, dport } => {
            let u = &mut buf[L4_OFF..payload_off];
            u[0..2].copy_from_slice(&sport.to_be_bytes());
            u[2..4].copy_from_slice(&dport.to_be_bytes());
            u[4..6].copy_from_slice(&(segment_len as u16).to_be_bytes());
            L4_OFF + 6
        }
    };
    let pseudo = pseudo_header_sum(h.src_ip, h.dst_ip, h.l4.protocol(), segment_len);
    let mut csum = checksum_finish(checksum_add(&buf[L4_OFF..], pseudo));
    if csum == 0 && matches!(h.l4, L4::Udp { .. }) {
        csum = 0xffff; // 0 means "no checksum" in UDP
    }
    buf[csum_at..csum_at + 2].copy_from_slice(&csum.to_be_bytes());

    if h.pad && buf.len() < MIN_WIRE_FRAME {
        buf.resize(MIN_WIRE_FRAME, 0);
    }
}

fn write_ipv4(ip: &mut [u8], h: &Header, total_len: u16) {
    ip[0] = 0x45;
    ip[1] = 0;
    ip[2..4].copy_from_slice(&total_len.to_be_bytes());
    ip[4..6].copy_from_slice(&h.ip_id.to_be_bytes());
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    ip[8] = h.ttl;
    ip[9] = h.l4.protocol();
    ip[10..12].fill(0);
    ip[12..16].copy_from_slice(&h.src_ip.to_be_bytes());
    ip[16..20].copy_from_slice(&h.dst_ip.to_be_bytes());
    let c = checksum(ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
}

fn pseudo_header_sum(src: u32, dst: u32, proto: u8, len: usize) -> u64 {
    u64::from(src >> 16)
        + u64::from(src & 0xffff)
        + u64::from(dst >> 16)
        + u64::from(dst & 0xffff)
        + u64::from(proto)
        + len as u64
}

pub fn ipv4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
        // Odd lengths pad with a zero byte.
        assert_eq!(checksum(&[0x12, 0x34, 0x56]), !(0x1234u16 + 0x5600));
    }

    #[test]
    fn known_ipv4_header() {
        // A widely used example header whose checksum is 0xb861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8,
            0x00, 0xc7,
        ];
        assert_eq!(checksum(&hdr), 0xb861);
    }

    /// Word-at-a-time summing must agree with the textbook 16-bit loop for every length and alignment.
    #[test]
    fn wide_sum_matches_reference() {
        let mut r = crate::rng::Rng::new(3);
        for len in 0..200 {
            let data = r.bytes(len);
            let mut reference: u32 = 0;
            for pair in data.chunks(2) {
                let hi = u32::from(pair[0]) << 8;
                let lo = pair.get(1).map_or(0, |&b| u32::from(b));
                reference += hi | lo;
            }
            while reference > 0xffff {
                reference = (reference & 0xffff) + (reference >> 16);
            }
            assert_eq!(checksum(&data), !(reference as u16), "len {len}");
        }
    }

    fn verify(frame: &[u8]) {
        assert_eq!(checksum(&frame[14..34]), 0, "IPv4 header checksum");
        let total = usize::from(u16::from_be_bytes([frame[16], frame[17]]));
        let seg = &frame[34..14 + total];
        let src = u32::from_be_bytes(frame[26..30].try_into().unwrap());
        let dst = u32::from_be_bytes(frame[30..34].try_into().unwrap());
        let acc = pseudo_header_sum(src, dst, frame[23], seg.len());
        assert_eq!(checksum_finish(checksum_add(seg, acc)), 0, "L4 checksum");
    }

    #[test]
    fn frames_verify() {
        let mut buf = Vec::new();
        for (l4, len) in [
            (
                L4::Tcp {
                    sport: 50000,
                    dport: 443,
                    seq: 1,
                    ack: 0,
                    flags: SYN,
                },
                0,
            ),
            (
                L4::Tcp {
                    sport: 443,
                    dport: 50000,
                    seq: 9,
                    ack: 2,
                    flags: ACK | PSH,
                },
                1460,
            ),
            (
                L4::Tcp {
                    sport: 443,
                    dport: 50000,
                    seq: 9,
                    ack: 2,
                    flags: ACK,
                },
                3,
            ),
            (L4::Udp { sport: 53, dport: 5353 }, 77),
        ] {
            let h = Header {
                src_mac: [0; 6],
                dst_mac: [1; 6],
                src_ip: ipv4(10, 0, 0, 1),
                dst_ip: ipv4(192, 0, 2, 7),
                ip_id: 42,
                ttl: 128,
                l4,
                pad: true,
            };
            build_frame(&mut buf, &h, |b| b.extend((0..len).map(|i| i as u8)));
            assert!(buf.len() >= 60);
            verify(&buf);
        }
    }
}
