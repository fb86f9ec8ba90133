//! Whole capture files (pcap, pcapng, Network Monitor, gzip/zstd compressed)
//! through the reader: every frame is read, none may panic or run away.
#![no_main]

use std::io::Cursor;

use capdoc::capture::{CaptureReader, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = CaptureReader::from_reader(Box::new(Cursor::new(data.to_vec())), Limits::default()) else {
        return;
    };
    let mut frames = 0u64;
    while let Some(frame) = reader.next_frame() {
        // Touch what a consumer touches.
        std::hint::black_box((
            frame.number,
            frame.ts_nanos,
            frame.link_type,
            frame.data.len(),
            frame.comment,
        ));
        frames += 1;
    }
    std::hint::black_box(frames);
});
