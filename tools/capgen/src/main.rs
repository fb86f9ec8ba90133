//! capgen: writes a large, realistic, deterministic capture of Entra private network connector traffic
//! (DNS, direct and proxied TLS, CRL downloads, failing connections) for benchmarking capdoc.

mod capfile;
mod der;
mod dns;
mod flood;
mod flow;
mod gen;
mod http;
mod names;
mod plan;
mod rng;
mod sim;
mod tls;
mod truth;
mod wire;

use capfile::Format;
use std::fs::File;
use std::io::BufWriter;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "usage: capgen OUT.pcap SIZE SEED [--pcapng]
       capgen OUT.pcap --syn-flood SYNS SEED [--pcapng]
  SIZE  target file size in bytes; suffixes K, M, G, T are powers of 1024 (100M, 1G, 4G)
  SEED  any unsigned 64-bit number; the same seed always gives the same bytes
Writes OUT (classic pcap, or pcapng with --pcapng) and OUT.truth.txt with ground-truth counts.
With --syn-flood: one answered connection, then SYNS never-answered SYNs from random addresses
to 192.0.2.80:443 (a stress test of memory; no truth file).";

/// Parses `1073741824`, `100M`, `1G`, `4GiB`.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix("iB").or_else(|| s.strip_suffix('B')).unwrap_or(s);
    let (digits, shift) = match s.chars().last()?.to_ascii_uppercase() {
        'K' => (&s[..s.len() - 1], 10),
        'M' => (&s[..s.len() - 1], 20),
        'G' => (&s[..s.len() - 1], 30),
        'T' => (&s[..s.len() - 1], 40),
        _ => (s, 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

struct Args {
    out: String,
    size: u64,
    seed: u64,
    format: Format,
    /// `--syn-flood`: `size` is the number of SYNs.
    flood: bool,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut format = Format::Pcap;
    let mut flood = false;
    for a in args {
        match a.as_str() {
            "--pcapng" => format = Format::Pcapng,
            "--syn-flood" => flood = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s}")),
            s => positional.push(s),
        }
    }
    let [out, size, seed] = positional[..] else {
        return Err("expected OUT SIZE SEED".to_string());
    };
    let size = parse_size(size).ok_or_else(|| format!("bad SIZE {size:?}"))?;
    let seed = seed.parse().map_err(|_| format!("bad SEED {seed:?}"))?;
    Ok(Args {
        out: out.to_string(),
        size,
        seed,
        format,
        flood,
    })
}

fn run(a: &Args) -> std::io::Result<()> {
    let started = Instant::now();
    let file = BufWriter::with_capacity(4 << 20, File::create(&a.out)?);
    if a.flood {
        let packets = flood::generate(file, a.size, a.seed, a.format)?;
        eprintln!(
            "capgen: wrote {} ({packets} packets, a SYN flood) in {:.2} s",
            a.out,
            started.elapsed().as_secs_f64()
        );
        return Ok(());
    }
    let (_, truth) = gen::generate(file, a.size, a.seed, a.format)?;
    let secs = started.elapsed().as_secs_f64();
    let header = format!(
        "# capgen truth for {} (seed {}, {}, target size {} bytes)\n",
        a.out,
        a.seed,
        a.format.name(),
        a.size
    );
    let truth_path = format!("{}.truth.txt", a.out);
    std::fs::write(&truth_path, truth.render(&header))?;
    eprintln!(
        "capgen: wrote {} ({} bytes, {} packets, {} TCP flows) in {:.2} s ({:.0} MB/s); truth in {}",
        a.out,
        truth.file_bytes,
        truth.packets,
        truth.tcp_flows,
        secs,
        truth.file_bytes as f64 / 1e6 / secs,
        truth_path
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match parse_args(&args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("capgen: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&parsed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capgen: {}: {e}", parsed.out);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1073741824"), Some(1 << 30));
        assert_eq!(parse_size("100M"), Some(100 << 20));
        assert_eq!(parse_size("4G"), Some(4 << 30));
        assert_eq!(parse_size("4GiB"), Some(4 << 30));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
    }

    #[test]
    fn args() {
        let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let a = parse_args(&v("o.pcap 1G 5 --pcapng")).unwrap();
        assert_eq!((a.size, a.seed, a.format), (1 << 30, 5, Format::Pcapng));
        assert!(parse_args(&v("o.pcap 1G")).is_err());
        assert!(parse_args(&v("o.pcap 1G 1 --nope")).is_err());
    }
}
