//! DNS and LLMNR messages read out of captures, for the second-parser test and
//! the DNS bench (which includes this file by path).

use std::path::Path;

use capdoc::capture::{CaptureReader, Limits};
use capdoc::decode::{Decoder, Transport};
use capdoc::proto::dns::{DNS_PORT, LLMNR_PORT};

/// Every UDP payload to or from the DNS and LLMNR ports in `path`; none when
/// the file cannot be opened.
pub fn dns_payloads(path: &Path) -> Vec<Vec<u8>> {
    let Ok(mut reader) = CaptureReader::open(path, Limits::default()) else {
        return Vec::new();
    };
    let mut decoder = Decoder::default();
    let mut payloads = Vec::new();
    while let Some(frame) = reader.next_frame() {
        let Ok(packet) = decoder.decode(frame.link_type, frame.data, frame.ts_nanos) else {
            continue;
        };
        if let Transport::Udp(udp) = packet.transport {
            let ports = [udp.src_port, udp.dst_port];
            if ports.contains(&DNS_PORT) || ports.contains(&LLMNR_PORT) {
                payloads.push(udp.payload.to_vec());
            }
        }
    }
    payloads
}
