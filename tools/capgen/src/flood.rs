//! A SYN flood: the connector's one answered connection, then SYNs from
//! addresses all over 198.51.100.0/24 and 203.0.113.0/24 (random source ports
//! and sequence numbers) to one server, never answered. It stresses what a
//! capture can do to an analyser's memory: every SYN opens a half-open flow.

use std::io::{self, Write};

use crate::capfile::{CapWriter, Format};
use crate::rng::Rng;
use crate::wire::{build_frame, ipv4, Header, ACK, L4, SYN};

const CONNECTOR_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0x01, 0x02, 0x03];
const GATEWAY_MAC: [u8; 6] = [0x00, 0x15, 0x5d, 0xaa, 0xbb, 0xcc];

/// Writes `syns` flood SYNs after one good handshake; returns the packets written.
pub fn generate<W: Write>(out: W, syns: u64, seed: u64, format: Format) -> io::Result<u64> {
    let mut w = CapWriter::new(out, format)?;
    let mut rng = Rng::new(seed);
    let mut buf = Vec::with_capacity(128);
    let connector = ipv4(192, 0, 2, 10);
    let service = ipv4(203, 0, 113, 200);
    let victim = ipv4(192, 0, 2, 80);
    let header = |src_ip, dst_ip, l4| Header {
        src_mac: CONNECTOR_MAC,
        dst_mac: GATEWAY_MAC,
        src_ip,
        dst_ip,
        ip_id: 1,
        ttl: 64,
        l4,
        pad: false,
    };
    let tcp = |sport, dport, seq, ack, flags| L4::Tcp {
        sport,
        dport,
        seq,
        ack,
        flags,
    };
    let start_us = 1_700_000_000_000_000u64;
    let handshake = [
        (0, header(connector, service, tcp(50_000, 443, 1000, 0, SYN))),
        (
            20_000,
            header(service, connector, tcp(443, 50_000, 7000, 1001, SYN | ACK)),
        ),
        (20_100, header(connector, service, tcp(50_000, 443, 1001, 7001, ACK))),
    ];
    for (at, h) in handshake {
        build_frame(&mut buf, &h, |_| {});
        w.write_packet(start_us + at, &buf)?;
    }
    for i in 0..syns {
        let x = rng.next_u64();
        let net = if x & 1 == 0 { (198, 51, 100) } else { (203, 0, 113) };
        let src = ipv4(net.0, net.1, net.2, (x >> 8) as u8 | 1);
        let h = header(
            src,
            victim,
            tcp(1024 + (x >> 16) as u16 % 60_000, 443, (x >> 32) as u32, 0, SYN),
        );
        build_frame(&mut buf, &h, |_| {});
        w.write_packet(start_us + 100_000 + i, &buf)?;
    }
    // The capture goes on for a while after the flood, so the missing answers count.
    let end = start_us + 100_000 + syns + 5_000_000;
    build_frame(
        &mut buf,
        &header(connector, service, tcp(50_000, 443, 1001, 7001, ACK)),
        |_| {},
    );
    w.write_packet(end, &buf)?;
    w.finish()?.flush()?;
    Ok(syns + 4)
}
