//! One frame through the link/IP/TCP/UDP/ICMP decoder. The first byte picks the
//! link type; the rest is the frame, given several times so that IP fragments
//! can meet in the reassembly pool.
#![no_main]

use capdoc::capture::LinkType;
use capdoc::decode::Decoder;
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 12] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW_OPENBSD,
    LinkType::RAW_BSD,
    LinkType::RAW,
    LinkType::IEEE802_11,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL2,
    // Known to the name table but not decodable: must be refused cleanly.
    LinkType(127),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[pick as usize % LINKS.len()];
    let mut decoder = Decoder::default();
    // The high bit splits the rest into two frames, fed in turn with the
    // same decoder (a fragment followed by another).
    let frames: Vec<&[u8]> = if pick & 0x80 != 0 && frame.len() >= 2 {
        let mid = frame.len() / 2;
        vec![&frame[..mid], &frame[mid..]]
    } else {
        vec![frame]
    };
    for (i, f) in frames.into_iter().enumerate() {
        let result = decoder.decode(link, f, i as i64 * 1_000_000);
        std::hint::black_box(format!("{result:?}").len());
    }
});
