//! Turns simulated packets into frames and writes them until the target size is reached.

use crate::capfile::{CapWriter, Format};
use crate::flow::{Payload, Pkt};
use crate::rng::{fnv1a, Rng};
use crate::sim::Sim;
use crate::tls::app_data_header;
use crate::truth::Truth;
use crate::wire::{build_frame, Header};
use std::collections::HashMap;
use std::io::{self, Write};

/// Capture start: 2025-03-04 09:00:00 UTC (fixed, so the same seed gives the same bytes).
pub const EPOCH_US: u64 = 1_741_078_800_000_000;
/// The site router every connector host talks through (a VRRP virtual MAC).
const GATEWAY_MAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x01];
/// Encrypted record bodies are slices of this much random data.
const POOL_LEN: usize = 1 << 20;

/// Per-host state that belongs to the wire rather than to flows: IP IDs, MACs, TTLs, payload bytes.
struct Stamper {
    ip_ids: HashMap<u32, u16>,
    pool: Vec<u8>,
    rng: Rng,
}

/// Hyper-V style MAC derived from the host's address.
fn host_mac(ip: u32) -> [u8; 6] {
    let b = ip.to_be_bytes();
    [0x00, 0x15, 0x5d, b[1], b[2], b[3]]
}

/// TTL of packets from a remote host: its OS's initial TTL minus a stable number of hops.
fn remote_ttl(ip: u32) -> u8 {
    let h = fnv1a(&ip.to_be_bytes());
    if ip >> 24 == 10 {
        return if h & 1 == 0 { 127 } else { 63 };
    }
    let initial: u8 = [128, 64, 255][(h % 3) as usize];
    initial - 6 - ((h >> 8) % 20) as u8
}

impl Stamper {
    fn new(seed: u64) -> Stamper {
        let mut rng = Rng::new(seed ^ 0x5eed_f00d);
        let pool = rng.bytes(POOL_LEN);
        Stamper {
            ip_ids: HashMap::new(),
            pool,
            rng,
        }
    }

    /// Each sender numbers its IPv4 packets consecutively, starting at a per-host value.
    fn next_ip_id(&mut self, src: u32) -> u16 {
        let id = self
            .ip_ids
            .entry(src)
            .or_insert_with(|| fnv1a(&src.to_be_bytes()) as u16);
        let v = *id;
        *id = id.wrapping_add(1);
        v
    }

    fn build(&mut self, frame: &mut Vec<u8>, pkt: &Pkt) {
        let (src_mac, dst_mac, ttl) = if pkt.outbound {
            (host_mac(pkt.src), GATEWAY_MAC, 128)
        } else {
            (GATEWAY_MAC, host_mac(pkt.dst), remote_ttl(pkt.src))
        };
        let header = Header {
            src_mac,
            dst_mac,
            src_ip: pkt.src,
            dst_ip: pkt.dst,
            ip_id: self.next_ip_id(pkt.src),
            ttl,
            l4: pkt.l4,
            pad: !pkt.outbound,
        };
        let pool_off = match pkt.payload {
            Payload::TlsRecord(n) => self.rng.below((POOL_LEN - usize::from(n)) as u64) as usize,
            _ => 0,
        };
        let pool = &self.pool;
        build_frame(frame, &header, |b| match &pkt.payload {
            Payload::Empty => {}
            Payload::Bytes(v) => b.extend_from_slice(v),
            Payload::TlsRecord(n) => {
                let body = usize::from(*n) - 5;
                b.extend_from_slice(&app_data_header(body as u16));
                b.extend_from_slice(&pool[pool_off..pool_off + body]);
            }
        });
    }
}

/// Writes packets until the next one would make the output larger than `size` bytes.
pub fn generate<W: Write>(out: W, size: u64, seed: u64, format: Format) -> io::Result<(W, Truth)> {
    let mut sim = Sim::new(seed);
    let mut stamper = Stamper::new(seed);
    let mut writer = CapWriter::new(out, format)?;
    let mut truth = Truth::default();
    let mut frame = Vec::with_capacity(2048);
    loop {
        let pkt = sim.next_packet();
        stamper.build(&mut frame, &pkt);
        if writer.written() + writer.record_len(frame.len()) > size {
            break;
        }
        let ts = EPOCH_US + pkt.t;
        writer.write_packet(ts, &frame)?;
        truth.count(&pkt, ts, frame.len());
    }
    truth.file_bytes = writer.written();
    truth.max_live_flows = sim.max_live;
    Ok((writer.finish()?, truth))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes() {
        let (a, ta) = generate(Vec::new(), 3 << 20, 42, Format::Pcap).unwrap();
        let (b, tb) = generate(Vec::new(), 3 << 20, 42, Format::Pcap).unwrap();
        assert!(a == b, "same seed must give identical bytes");
        assert_eq!(ta, tb);
        let (c, _) = generate(Vec::new(), 3 << 20, 43, Format::Pcap).unwrap();
        assert!(a != c, "another seed must give other bytes");
        assert!(a.len() as u64 <= 3 << 20 && a.len() as u64 > (3 << 20) - 2000);
    }

    #[test]
    fn pcapng_has_same_packets() {
        let (_, t1) = generate(Vec::new(), 1 << 20, 7, Format::Pcap).unwrap();
        let (_, t2) = generate(Vec::new(), 1 << 20, 7, Format::Pcapng).unwrap();
        // pcapng records are bigger, so fewer packets fit, but they are the same packets.
        assert!(t2.packets <= t1.packets && t2.packets > t1.packets * 9 / 10);
    }

    /// Every frame's IPv4 header and TCP/UDP checksum verifies.
    #[test]
    fn checksums_verify() {
        use crate::wire::{checksum, checksum_add, checksum_finish};
        let (file, t) = generate(Vec::new(), 2 << 20, 1, Format::Pcap).unwrap();
        let mut off = 24;
        let mut n = 0;
        while off < file.len() {
            let len = u32::from_le_bytes(file[off + 8..off + 12].try_into().unwrap()) as usize;
            let f = &file[off + 16..off + 16 + len];
            assert_eq!(checksum(&f[14..34]), 0);
            let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
            let seg = &f[34..14 + total];
            let mut acc = checksum_add(&f[26..34], 0); // addresses
            acc += u64::from(f[23]) + seg.len() as u64;
            assert_eq!(checksum_finish(checksum_add(seg, acc)), 0, "frame {n}");
            off += 16 + len;
            n += 1;
        }
        assert_eq!(n, t.packets);
    }
}
