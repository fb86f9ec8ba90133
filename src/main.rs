//! The `capdoc` command: parse flags, run the library, map results to exit codes.

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use rayon::prelude::*;

use capdoc::analyze::{self, Options};
use capdoc::endpoints::ca_set::CaSet;
use capdoc::endpoints::service_tags::ServiceTags;
use capdoc::endpoints::{Table, TableError};
use capdoc::report::model::{CaptureReport, Severity};
use capdoc::report::{json, text};

#[derive(Parser)]
#[command(
    name = "capdoc",
    version,
    about = "Explains from a packet capture why a Microsoft Entra private network connector cannot reach the cloud",
    after_help = "Examples:\n  capdoc analyze capture.pcapng\n  capdoc analyze --format json captures/ > reports.json\n  tcpdump -w - port 443 | capdoc analyze -"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse captures (files, folders, or - for stdin) and report every outbound connection attempt.
    Analyze(AnalyzeArgs),
    /// Print the required-URL table in use.
    Urls {
        /// Use this table instead of the built-in one (tab-separated: pattern, port, purpose, status).
        #[arg(long, value_name = "FILE")]
        urls: Option<PathBuf>,
        /// Print the table of this cloud.
        #[arg(long, value_enum)]
        cloud: Option<Cloud>,
    },
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, optionally gzip/zstd), folders to search, or - for stdin.
    #[arg(required = true, value_name = "CAPTURE")]
    inputs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only analyse connections opened by this host (the connector server).
    #[arg(long, value_name = "IP")]
    host: Option<IpAddr>,
    /// Exit with 1 when a finding of this severity or worse is present.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// Use this required-URL table instead of the built-in one.
    #[arg(long, value_name = "FILE")]
    urls: Option<PathBuf>,
    /// Which cloud's required-URL table to use (default: US Government when the capture shows its names, else public).
    #[arg(long, value_enum)]
    cloud: Option<Cloud>,
    /// Issuers expected on the cloud endpoints' certificates, replacing the built-in Azure set:
    /// PEM CA certificates, or lines of "organization<TAB>common name".
    #[arg(long, value_name = "FILE")]
    ca_set: Option<PathBuf>,
    /// Azure "IP ranges and service tags" JSON (ServiceTags_Public_*.json): names addresses that no DNS
    /// answer in the capture explains.
    #[arg(long, value_name = "FILE")]
    service_tags: Option<PathBuf>,
    /// Treat HOST:PORT as an outbound proxy even if no request to it was captured (repeatable).
    #[arg(long, value_name = "HOST:PORT")]
    proxy: Vec<SocketAddr>,
    /// Captures analysed at once (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// Read each capture on the thread that analyses it (by default a second
    /// thread reads ahead; the results are the same).
    #[arg(long)]
    no_read_thread: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// A report for people.
    Text,
    /// One JSON object (an array for several captures).
    Json,
    /// One JSON object per line, one line per capture.
    Jsonl,
}

#[derive(Clone, Copy, ValueEnum)]
enum Cloud {
    /// Microsoft's public cloud (*.msappproxy.net).
    Public,
    /// The US Government cloud (*.msappproxy.us).
    Usgov,
}

#[derive(Clone, Copy, ValueEnum)]
enum FailOn {
    Error,
    Warning,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => run_analyze(args),
        Command::Urls { urls, cloud } => run_urls(urls.as_deref(), cloud),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("capdoc: {e}");
            ExitCode::from(2)
        }
    }
}

/// Reads a data file given on the command line; errors name the file (and line).
fn load<T>(path: &Path, parse: impl Fn(&[u8], &str) -> Result<T, TableError>) -> io::Result<T> {
    let bytes = std::fs::read(path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    parse(&bytes, &path.display().to_string()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

fn load_table(path: Option<&Path>) -> io::Result<Table> {
    match path {
        None => Ok(Table::public()),
        Some(path) => load(path, |bytes, name| Table::parse(&String::from_utf8_lossy(bytes), name)),
    }
}

/// A capture to analyse, with the name reports show for it.
struct Input {
    path: PathBuf,
    shown: String,
}

/// Expands folders (recursively, sorted) into the captures they hold. Files in
/// a folder that are not captures are skipped with a note on stderr.
fn expand(inputs: &[PathBuf]) -> Vec<Input> {
    let mut out = Vec::new();
    for path in inputs {
        if path.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files, 0);
            files.sort();
            for file in files {
                if analyze::looks_like_capture(&file) {
                    out.push(Input {
                        shown: file.display().to_string(),
                        path: file,
                    });
                } else {
                    eprintln!("capdoc: skipped {} (not a capture)", file.display());
                }
            }
        } else {
            out.push(Input {
                shown: path.display().to_string(),
                path: path.clone(),
            });
        }
    }
    out
}

/// Folder depth followed; deeper trees are almost certainly a symlink loop.
const MAX_DEPTH: usize = 32;

fn walk(dir: &Path, files: &mut Vec<PathBuf>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("capdoc: cannot read folder {}", dir.display());
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(&path, files, depth + 1),
            Ok(t) if t.is_file() => files.push(path),
            _ => {}
        }
    }
}

fn run_analyze(args: AnalyzeArgs) -> io::Result<ExitCode> {
    let table = match (args.urls.as_deref(), args.cloud) {
        (Some(path), _) => load_table(Some(path))?,
        (None, Some(Cloud::Usgov)) => Table::usgov(),
        (None, _) => Table::public(),
    };
    let detect_cloud = args.urls.is_none() && args.cloud.is_none();
    let ca_set = match &args.ca_set {
        None => CaSet::azure(),
        Some(path) => load(path, CaSet::parse)?,
    };
    let service_tags = match &args.service_tags {
        None => ServiceTags::default(),
        Some(path) => load(path, ServiceTags::parse)?,
    };
    let opts = Options {
        host: args.host,
        service_tags,
        table,
        detect_cloud,
        ca_set,
        proxies: args.proxy.clone(),
        read_ahead: !args.no_read_thread,
        ..Options::default()
    };
    let inputs = expand(&args.inputs);
    let analyze_one = |input: &Input| analyze::analyze_path(&input.path, &input.shown, &opts);
    let reports: Vec<CaptureReport> = match args.jobs {
        Some(1) => inputs.iter().map(analyze_one).collect(),
        jobs => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(jobs.unwrap_or(0))
                .build()
                .map_err(|e| io::Error::other(e.to_string()))?;
            pool.install(|| inputs.par_iter().map(analyze_one).collect())
        }
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Text => {
            for r in &reports {
                text::write(&mut out, r)?;
            }
        }
        Format::Json if reports.len() == 1 => json::write_one(&mut out, &reports[0])?,
        Format::Json => json::write_array(&mut out, &reports)?,
        Format::Jsonl => {
            for r in &reports {
                json::write_line(&mut out, r)?;
            }
        }
    }
    out.flush()?;
    for r in &reports {
        if let Some(e) = &r.error {
            eprintln!("capdoc: {e}");
        }
    }
    if inputs.is_empty() {
        eprintln!("capdoc: no capture found in the given folders");
        return Ok(ExitCode::from(2));
    }
    let bar = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    let code = if reports.iter().any(|r| r.error.is_some()) {
        2
    } else if reports.iter().any(|r| r.findings.iter().any(|f| f.severity <= bar)) {
        1
    } else {
        0
    };
    Ok(ExitCode::from(code))
}

fn run_urls(urls: Option<&Path>, cloud: Option<Cloud>) -> io::Result<ExitCode> {
    let table = match (urls, cloud) {
        (None, Some(Cloud::Usgov)) => Table::usgov(),
        _ => load_table(urls)?,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    writeln!(out, "# {}", table.label())?;
    writeln!(out, "{:<40} {:>5}  {:<24} status", "pattern", "port", "purpose")?;
    for row in &table.rows {
        writeln!(
            out,
            "{:<40} {:>5}  {:<24} {}",
            row.pattern, row.port, row.purpose, row.status
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
