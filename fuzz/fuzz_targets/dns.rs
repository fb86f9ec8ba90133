//! DNS messages (UDP, and TCP with its 2-byte length framing) into the DNS log
//! that names addresses; the same bytes as NetBIOS name service and DHCP (WPAD).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use capdoc::proto::dns::{self, DnsLog};
use capdoc::proto::wpad;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut log = DnsLog::default();
    if let Some(message) = dns::parse(data) {
        std::hint::black_box(message.rcode_name());
        log.record(message, 1, 1, "dns");
    }
    for (i, bytes) in dns::tcp_messages(data).enumerate() {
        if let Some(message) = dns::parse(bytes) {
            // Every message twice: once as a question's answer would arrive, once later.
            let frame = 2 + i as u64;
            log.record(message.clone(), frame as i64, frame, "dns");
            log.record(message.clone(), frame as i64 + 10, frame + 1000, "llmnr");
            for &address in &message.addresses {
                std::hint::black_box(log.name_for(address, i64::MAX));
            }
        }
    }
    assert!(log.lookups.len() <= 4096);
    std::hint::black_box(log.name_for(IpAddr::V4(Ipv4Addr::LOCALHOST), 5));
    std::hint::black_box(log.name_for(IpAddr::V6(Ipv6Addr::LOCALHOST), 5));

    std::hint::black_box(wpad::parse_nbns(data));
    std::hint::black_box(wpad::dhcp_wpad_url(data));
});
