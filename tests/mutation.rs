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

/// The binary, on damaged files: exit 0, 1 or 2, never a crash (a signal or
/// Rust's panic exit 101), a message on stderr whenever nothing could be read,
/// and an end within a generous watchdog, so a loop on crafted input fails here.
#[test]
fn damaged_files_give_an_exit_code_and_a_message() {
    let mut rng = Rng(0x0dd_ba11_5eed);
    let dir = common::temp_dir("mutation-cli");
    for (n, file) in common::own_captures().into_iter().enumerate() {
        let original = std::fs::read(&file).expect("read");
        let mut bytes = original[..(rng.next() as usize) % (original.len() + 1)].to_vec();
        for _ in 0..4 {
            if let Some(at) = (!bytes.is_empty()).then(|| (rng.next() as usize) % bytes.len()) {
                bytes[at] ^= 1 << (rng.next() % 8);
            }
        }
        let path = dir.join(format!("damaged-{n}.pcap"));
        std::fs::write(&path, &bytes).unwrap();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_capdoc"));
        command.args(["analyze", "--format", "json", path.to_str().unwrap()]);
        let (status, stderr) = common::run_with_watchdog(command, std::time::Duration::from_secs(60));
        let code = status.code();
        assert!(
            matches!(code, Some(0..=2)),
            "{}: exit {status:?}\n{stderr}",
            common::short(&file)
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        if code == Some(2) {
            assert!(
                stderr.contains(path.to_str().unwrap()),
                "the message names the file: {stderr}"
            );
        }
    }
}
