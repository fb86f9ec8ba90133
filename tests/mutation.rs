//! Every capture in captures/, cut at many offsets and with bytes flipped
//! (deterministic), is analysed without a panic and without hanging: damaged
//! input gives a report, with an error or a warning, never a crash.

mod common;

use capdoc::analyze::{analyze_reader, Options};

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const CUTS_PER_FILE: usize = 40;
const FLIPPED_COPIES_PER_FILE: usize = 40;

fn analyse(bytes: Vec<u8>, what: &str) {
    let report = analyze_reader(Box::new(std::io::Cursor::new(bytes)), what, &Options::default());
    // Either nothing could be read (with a reason) or a verdict was reached.
    assert!(report.error.is_some() || !report.verdict.summary.is_empty(), "{what}");
}

#[test]
fn damaged_captures_never_panic() {
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let files = common::own_captures();
    assert!(!files.is_empty());
    for file in files {
        let original = std::fs::read(&file).expect("read");
        let name = common::short(&file);
        for i in 0..CUTS_PER_FILE {
            let cut = (rng.next() as usize) % (original.len() + 1);
            analyse(original[..cut].to_vec(), &format!("{name} cut at {cut} (#{i})"));
        }
        for i in 0..FLIPPED_COPIES_PER_FILE {
            let mut bytes = original.clone();
            let flips = 1 + (rng.next() % 8) as usize;
            for _ in 0..flips {
                let at = (rng.next() as usize) % bytes.len();
                bytes[at] ^= 1 << (rng.next() % 8);
            }
            analyse(bytes, &format!("{name} with {flips} flipped bits (#{i})"));
        }
    }
}
