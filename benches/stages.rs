//! The hot stages, each on the same in-memory capture, so a regression in one
//! stage shows up on its own. The capture is the largest bundled one repeated
//! to about 8 MiB (see `fixture`), read from memory: these numbers are CPU
//! cost per packet, not disk speed (`benches/compare.sh` measures whole runs).

use std::io::Cursor;
use std::path::Path;

use capdoc::analyze::{analyze_reader, Options};
use capdoc::capture::{CaptureReader, Limits};
use capdoc::decode::{Decoder, Transport};
use capdoc::flow::{ConnectionTable, FlowLimits, FrameRef, Origin};
use capdoc::pass::packet_pass;
use capdoc::proto;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[path = "../tests/common/payloads.rs"]
mod payloads;

/// Bundled captures (Ethernet pcap), their packets repeated with shifted client
/// ports and times so that every repetition is new traffic (new connections,
/// not retransmits), to about 8 MiB.
fn fixture() -> (Vec<u8>, u64) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut records = Vec::new();
    let mut header = Vec::new();
    for name in [
        "proxy-connect-ok.eth.pcap",
        "direct-ok.eth.pcap",
        "proxy-auth-407.eth.pcap",
    ] {
        let file = std::fs::read(dir.join(name)).expect("bundled capture");
        header = file[..24].to_vec();
        records.extend_from_slice(&file[24..]);
    }
    let mut out = header;
    let mut packets = 0;
    for round in 0u32.. {
        let mut rest = &records[..];
        while rest.len() >= 16 {
            let caplen = u32::from_le_bytes(rest[8..12].try_into().expect("4 bytes")) as usize;
            let (record, tail) = rest.split_at(16 + caplen);
            let mut record = record.to_vec();
            let secs = u32::from_le_bytes(record[0..4].try_into().expect("4 bytes")) + round * 10;
            record[0..4].copy_from_slice(&secs.to_le_bytes());
            let ipv4_tcp_or_udp =
                record.len() >= 16 + 38 && record[16 + 14] == 0x45 && [6, 17].contains(&record[16 + 23]);
            if ipv4_tcp_or_udp {
                for port_at in [16 + 34, 16 + 36] {
                    let port = u32::from(u16::from_be_bytes([record[port_at], record[port_at + 1]]));
                    if port >= 32_768 {
                        let shifted = 32_768 + (port - 32_768 + round * 7) % 28_000;
                        record[port_at..port_at + 2].copy_from_slice(&(shifted as u16).to_be_bytes());
                    }
                }
            }
            out.extend_from_slice(&record);
            packets += 1;
            rest = tail;
        }
        if out.len() > 8 << 20 {
            break;
        }
    }
    (out, packets)
}

fn reader(bytes: &[u8]) -> CaptureReader {
    CaptureReader::from_reader(Box::new(Cursor::new(bytes.to_vec())), Limits::default()).expect("pcap")
}

/// Every TCP segment into a connection table. The streams are kept whole (never
/// handed to the parsers), so the parser bench below can read them.
fn flows(mut r: CaptureReader) -> ConnectionTable {
    let mut decoder = Decoder::default();
    let mut table = ConnectionTable::new(FlowLimits::default());
    while let Some(frame) = r.next_frame() {
        let at = FrameRef::new(frame.number, frame.ts_nanos);
        if let Ok(p) = decoder.decode(frame.link_type, frame.data, frame.ts_nanos) {
            if let Transport::Tcp(seg) = p.transport {
                table.on_segment(at, p.src, p.dst, &seg, Origin::default());
                while table.pop_ready().is_some() {}
            }
        }
    }
    table
}

fn stages(c: &mut Criterion) {
    let (bytes, packets) = fixture();
    let mut group = c.benchmark_group("stages");
    group.throughput(Throughput::Elements(packets));
    group.sample_size(20);

    group.bench_function("read_records", |b| {
        b.iter_batched(
            || reader(&bytes),
            |mut r| {
                let mut n = 0u64;
                while let Some(frame) = r.next_frame() {
                    n += frame.data.len() as u64;
                }
                n
            },
            criterion::BatchSize::LargeInput,
        )
    });

    group.bench_function("read_and_decode", |b| {
        b.iter_batched(
            || reader(&bytes),
            |mut r| {
                let mut decoder = Decoder::default();
                let mut tcp = 0u64;
                while let Some(frame) = r.next_frame() {
                    if let Ok(p) = decoder.decode(frame.link_type, frame.data, frame.ts_nanos) {
                        tcp += matches!(p.transport, Transport::Tcp(_)) as u64;
                    }
                }
                tcp
            },
            criterion::BatchSize::LargeInput,
        )
    });

    group.bench_function("read_decode_flows", |b| {
        b.iter_batched(
            || reader(&bytes),
            |r| flows(r).connections.len(),
            criterion::BatchSize::LargeInput,
        )
    });

    group.bench_function("packet_pass", |b| {
        let opts = Options::default();
        b.iter_batched(
            || reader(&bytes),
            |r| packet_pass(r, &opts).connections.connections.len(),
            criterion::BatchSize::LargeInput,
        )
    });

    group.bench_function("whole_analysis", |b| {
        let opts = Options::default();
        b.iter_batched(
            || Box::new(Cursor::new(bytes.clone())),
            |r| analyze_reader(r, "bench.pcap", &opts).attempts.len(),
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();

    // The protocol parsers over every connection's reassembled streams.
    let table = flows(reader(&bytes[..bytes.len().min(1 << 20)]));
    let bytes_kept: usize = table
        .connections
        .iter()
        .flat_map(|c| c.streams())
        .map(|s| s.contiguous().len())
        .sum();
    let mut group = c.benchmark_group("parsers");
    group.throughput(Throughput::Bytes(bytes_kept as u64));
    group.bench_function("inspect_http_tls", |b| {
        b.iter(|| {
            // As in a pass: each certificate is parsed, and each name kept, at its first sighting.
            let mut certificates = proto::tls::Certificates::default();
            let mut names = capdoc::shared::Names::default();
            table
                .connections
                .iter()
                .map(|conn| proto::inspect(conn, &mut certificates, &mut names))
                .filter(|p| p.client_hello.is_some())
                .count()
        })
    });
    group.finish();

    // Every DNS and LLMNR message of the bundled captures, as the back half parses them.
    let messages = dns_messages();
    let mut group = c.benchmark_group("parsers");
    group.throughput(Throughput::Elements(messages.len() as u64));
    group.bench_function("dns_messages", |b| {
        b.iter(|| messages.iter().filter_map(|m| proto::dns::parse(m)).count())
    });
    group.finish();
}

/// The DNS and LLMNR messages of every bundled capture.
fn dns_messages() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("captures/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| capdoc::analyze::looks_like_capture(p))
        .collect();
    paths.sort();
    let messages: Vec<_> = paths.iter().flat_map(|p| payloads::dns_payloads(p)).collect();
    assert!(
        messages.len() > 100,
        "the bundled captures hold DNS: {}",
        messages.len()
    );
    messages
}

criterion_group!(benches, stages);
criterion_main!(benches);
