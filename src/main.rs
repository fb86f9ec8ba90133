//! The `capdoc` command: parse flags, run the library, map results to exit codes.

use std::io::{self, IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use capdoc::analyze::{self, Options, Pipeline};
use capdoc::batch::{self, Input, SkipReason};
use capdoc::capture::Limits;
use capdoc::diagnose::listing::ListLimits;
use capdoc::diagnose::{catalog, time};
use capdoc::endpoints::ca_set::CaSet;
use capdoc::endpoints::service_tags::ServiceTags;
use capdoc::endpoints::{Table, TableError};
use capdoc::flow::FlowLimits;
use capdoc::report::model::{CaptureReport, Severity};
use capdoc::report::redact::Key;
use capdoc::report::summary::{self, BatchSummary, ReportFiles};
use capdoc::report::{diff, html, json, markdown, text};

#[derive(Parser)]
#[command(
    name = "capdoc",
    version,
    about = "Explains from a packet capture why a Microsoft Entra private network connector cannot reach the cloud",
    after_help = "Examples:\n  \
        capdoc analyze capture.pcapng\n  \
        capdoc analyze --format html capture.pcapng > report.html\n  \
        capdoc analyze -o reports/ backlog/            (every capture: .html, .json, .md, plus index.html)\n  \
        capdoc diff before.pcapng after.pcapng\n  \
        capdoc explain syn-unanswered\n  \
        tcpdump -w - port 443 | capdoc analyze -"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Analyse captures (files, folders, or - for stdin) and report every outbound connection attempt.
    #[command(after_help = "Examples:\n  \
        capdoc analyze conn.pcapng\n  \
        capdoc analyze --format md conn.pcapng          (paste into a support ticket)\n  \
        capdoc analyze --format html conn.pcapng > conn.html\n  \
        capdoc analyze -j 2 -o out/ captures/           (a batch: reports, index.html, summary.json)\n  \
        capdoc analyze --format jsonl captures/ | jq .verdict\n  \
        capdoc analyze --since 2024-05-01T12:14:00Z --until 2024-05-01T12:20:00Z conn.pcapng\n\n\
        Exit codes: 0 nothing at or above --fail-on, 1 a finding at or above it, 2 a capture could not be read\n\
        or the command line was wrong. Every capture is analysed; the worst result decides.")]
    Analyze(AnalyzeArgs),
    /// Compare two captures (before and after a change): required URLs and findings that changed.
    #[command(after_help = "Examples:\n  \
        capdoc diff before.pcapng after.pcapng\n  \
        capdoc diff --format html before.pcapng after.pcapng > change.html\n\n\
        Exit codes: 0 nothing got worse, 1 a required URL regressed or a new error finding appeared,\n\
        2 a capture could not be read.")]
    Diff(DiffArgs),
    /// Explain a finding code: what it means, how to confirm it in Wireshark, how to fix it.
    #[command(
        after_help = "Examples:\n  capdoc explain                 (list every code)\n  capdoc explain proxy-auth-required"
    )]
    Explain {
        /// The finding code, as in a report (e.g. syn-unanswered). Without it, every code is listed.
        code: Option<String>,
    },
    /// Print the required-URL table in use.
    Urls {
        /// Use this table instead of the built-in one (tab-separated: pattern, port, purpose, status).
        #[arg(long, value_name = "FILE")]
        urls: Option<PathBuf>,
        /// Print the table of this cloud.
        #[arg(long, value_enum)]
        cloud: Option<Cloud>,
    },
    /// Print a shell completion script (e.g. `capdoc completions bash > /etc/bash_completion.d/capdoc`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `capdoc man > capdoc.1`.
    Man,
}

/// What changes the analysis itself, shared by `analyze` and `diff`.
#[derive(clap::Args)]
struct AnalysisArgs {
    /// Only analyse connections opened by this host (the connector server).
    #[arg(long, value_name = "IP")]
    host: Option<IpAddr>,
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
    /// Analyse only frames at or after this time: RFC 3339 with an offset, e.g. 2024-05-01T12:14:00Z.
    #[arg(long, value_name = "TIME", value_parser = time::parse_rfc3339)]
    since: Option<i64>,
    /// Analyse only frames at or before this time (RFC 3339, like --since).
    #[arg(long, value_name = "TIME", value_parser = time::parse_rfc3339)]
    until: Option<i64>,
    /// Split each capture over two threads: reading and decoding on one, connections and parsers on the
    /// other; a single report's JSON is then also written by two. The report is the same. auto = when the
    /// machine has two cores or more and captures are analysed one at a time (a batch of several gives each
    /// capture one thread and a core of its own).
    #[arg(long, value_enum, default_value_t = PipelineChoice::Auto)]
    pipeline: PipelineChoice,
    /// For reports that leave the company: replace every address and host name that is not a required
    /// endpoint with a pseudonym (the same one throughout the run; set CAPDOC_REDACT_KEY to keep them
    /// across runs), and drop interface names, the capture's application and OS, and directory names.
    #[arg(long)]
    redact: bool,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Bounds that hold whatever a capture holds or claims (README, "Limits").
/// Sizes take K, M and G suffixes (powers of 1024).
#[derive(clap::Args)]
#[command(next_help_heading = "Limits")]
struct LimitArgs {
    /// Largest pcap record or pcapng block read; a larger one ends the file with a warning.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    max_record: usize,
    /// TCP connections tracked per capture; segments of further connections are counted only.
    #[arg(long, value_name = "N", default_value_t = FlowLimits::default().max_connections)]
    max_connections: usize,
    /// Bytes of each direction of a connection kept for the HTTP, TLS and DNS parsers.
    #[arg(long, value_name = "BYTES", default_value = "64K", value_parser = parse_size)]
    stream_bytes: usize,
    /// Bytes held for reassembly across all connections at once.
    #[arg(long, value_name = "BYTES", default_value = "32M", value_parser = parse_size)]
    stream_budget: usize,
    /// Attempts (and connections) listed one by one; further attempts are counted per destination and outcome.
    #[arg(long, value_name = "N", default_value_t = ListLimits::default().max_listed)]
    max_listed: usize,
    /// Findings listed, most severe first.
    #[arg(long, value_name = "N", default_value_t = ListLimits::default().max_findings)]
    max_findings: usize,
}

/// `65536`, `64K`, `16M`, `1G` (powers of 1024).
fn parse_size(s: &str) -> Result<usize, String> {
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 10),
        Some((i, 'M' | 'm')) => (&s[..i], 20),
        Some((i, 'G' | 'g')) => (&s[..i], 30),
        _ => (s, 0),
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{s:?} is not a size (a positive number, optionally with K, M or G)"))
}

#[derive(clap::Args)]
struct AnalyzeArgs {
    /// Capture files (pcap, pcapng, Network Monitor .cap, optionally gzip/zstd), folders to search, or - for stdin.
    #[arg(required = true, value_name = "CAPTURE")]
    inputs: Vec<PathBuf>,
    /// Output format on stdout (ignored with -o, which writes html, json and md).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write <capture>.capdoc.html, .json and .md for every capture into DIR, plus index.html and summary.json.
    #[arg(long, short = 'o', value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Exit with 1 when a finding of this severity or worse is present.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    fail_on: FailOn,
    /// Colours in the text report: auto = when stdout is a terminal and NO_COLOR is not set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// No progress bar, no summary table, no notes on stderr (errors are still printed).
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Captures analysed at once (default: one per core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    #[command(flatten)]
    analysis: AnalysisArgs,
}

#[derive(clap::Args)]
struct DiffArgs {
    /// The capture taken first (before the change).
    before: PathBuf,
    /// The capture taken second (after the change).
    after: PathBuf,
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    #[command(flatten)]
    analysis: AnalysisArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A report for people at a terminal.
    Text,
    /// One JSON object (an array for several captures).
    Json,
    /// One JSON object per line, one line per capture.
    Jsonl,
    /// One self-contained HTML page (one capture; use -o for several).
    Html,
    /// Markdown for a support ticket.
    Md,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
    Md,
    Html,
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

#[derive(Clone, Copy, ValueEnum)]
enum PipelineChoice {
    Auto,
    On,
    Off,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Analyze(args) => run_analyze(args),
        Command::Diff(args) => run_diff(args),
        Command::Explain { code } => run_explain(code.as_deref()),
        Command::Urls { urls, cloud } => run_urls(urls.as_deref(), cloud),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "capdoc", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => clap_mangen::Man::new(Cli::command())
            .render(&mut io::stdout())
            .map(|()| ExitCode::SUCCESS),
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

fn usage(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// Flags → the library's options.
fn options(args: &AnalysisArgs) -> io::Result<Options> {
    let table = match (args.urls.as_deref(), args.cloud) {
        (Some(path), _) => load_table(Some(path))?,
        (None, Some(Cloud::Usgov)) => Table::usgov(),
        (None, _) => Table::public(),
    };
    let ca_set = match &args.ca_set {
        None => CaSet::azure(),
        Some(path) => load(path, CaSet::parse)?,
    };
    let service_tags = match &args.service_tags {
        None => ServiceTags::default(),
        Some(path) => load(path, ServiceTags::parse)?,
    };
    let window = match (args.since, args.until) {
        (None, None) => None,
        (since, until) => {
            let (from, to) = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
            if from > to {
                return Err(usage("--since is after --until".into()));
            }
            Some((from, to))
        }
    };
    Ok(Options {
        host: args.host,
        service_tags,
        table,
        detect_cloud: args.urls.is_none() && args.cloud.is_none(),
        ca_set,
        proxies: args.proxy.clone(),
        pipeline: match args.pipeline {
            PipelineChoice::Auto => Pipeline::Auto,
            PipelineChoice::On => Pipeline::On,
            PipelineChoice::Off => Pipeline::Off,
        },
        window,
        limits: Limits {
            max_record: args.limits.max_record,
            ..Limits::default()
        },
        flow_limits: FlowLimits {
            max_connections: args.limits.max_connections,
            stream_bytes: u32::try_from(args.limits.stream_bytes).unwrap_or(u32::MAX),
            total_stream_bytes: args.limits.stream_budget,
        },
        listing: ListLimits {
            max_listed: args.limits.max_listed,
            max_findings: args.limits.max_findings,
        },
        redact: match (args.redact, std::env::var("CAPDOC_REDACT_KEY")) {
            (false, _) => None,
            (true, Ok(passphrase)) if !passphrase.is_empty() => Some(Key::from_passphrase(&passphrase)),
            (true, _) => Some(Key::random()?),
        },
    })
}

/// A progress bar by bytes on stderr, only when stderr is a terminal.
fn progress(inputs: &[Input], quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || inputs.len() < 2 || !io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = inputs.iter().map(|i| i.size).sum();
    let bar = indicatif::ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr());
    let style =
        indicatif::ProgressStyle::with_template("{spinner} [{bar:30}] {bytes}/{total_bytes} {msg} ({eta} left)")
            .map(|s| s.progress_chars("=> "));
    if let Ok(style) = style {
        bar.set_style(style);
    }
    bar.set_message(format!("0/{} captures", inputs.len()));
    Some(bar)
}

/// Columns of the terminal that `stream` is, if it is one.
fn terminal_width(stream: &impl IsTerminal) -> Option<usize> {
    // terminal_size() looks at stdout, stderr and stdin in turn; all share one terminal here.
    if !stream.is_terminal() {
        return None;
    }
    terminal_size::terminal_size()
        .map(|(w, _)| usize::from(w.0))
        .or_else(|| std::env::var("COLUMNS").ok()?.parse().ok())
}

fn run_analyze(args: AnalyzeArgs) -> io::Result<ExitCode> {
    let opts = options(&args.analysis)?;
    let expanded = batch::expand(&args.inputs);
    for skipped in &expanded.skipped {
        // Files that are simply not captures are routine in a folder; the rest is worth a word even with -q.
        if !args.quiet || skipped.reason != SkipReason::NotACapture {
            eprintln!(
                "capdoc: skipped {}: {}",
                skipped.path.display(),
                skipped.reason.describe()
            );
        }
    }
    let (inputs, skipped) = (expanded.captures, expanded.skipped);
    if inputs.is_empty() {
        eprintln!("capdoc: no capture found in the given folders");
        return Ok(ExitCode::from(2));
    }
    if args.output_dir.is_none() && args.format == Format::Html && inputs.len() > 1 {
        return Err(usage(format!(
            "--format html makes one page per capture; for {} captures use -o DIR (writes index.html too)",
            inputs.len()
        )));
    }
    let bar = progress(&inputs, args.quiet);
    let finished = std::sync::atomic::AtomicUsize::new(0);
    let done = |input: &Input| {
        if let Some(bar) = &bar {
            let n = finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            bar.inc(input.size);
            bar.set_message(format!("{n}/{} captures", inputs.len()));
        }
    };
    let mut reports = batch::analyze_all(&inputs, &opts, args.jobs, &done)?;
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let fail_on = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
    };
    let files = match &args.output_dir {
        Some(dir) => Some(write_reports(
            dir,
            &inputs,
            &reports,
            fail_on,
            &skipped,
            opts.redact.is_some(),
        )?),
        None => {
            print_reports(&args, &mut reports, opts.pipeline)?;
            None
        }
    };
    for r in &reports {
        if let Some(e) = &r.error {
            eprintln!("capdoc: {e}");
        }
    }
    let summary = BatchSummary::new(&reports, fail_on, files).with_skipped(&skipped, opts.redact.is_some());
    if !args.quiet {
        if reports.len() > 1 {
            let mut err = io::stderr().lock();
            writeln!(err)?;
            summary::write_table(&mut err, &summary, terminal_width(&io::stderr()))?;
        }
        if let Some(dir) = &args.output_dir {
            eprintln!(
                "capdoc: wrote {} reports (html, json, md), index.html and summary.json to {}",
                reports.len(),
                dir.display()
            );
        }
    }
    // The process ends here: the system takes the reports' memory back at once,
    // where freeing each of their strings costs milliseconds on a large capture.
    std::mem::forget(reports);
    Ok(ExitCode::from(summary.exit_code))
}

fn print_reports(args: &AnalyzeArgs, reports: &mut [CaptureReport], pipeline: Pipeline) -> io::Result<()> {
    let stdout = io::stdout();
    let terminal = stdout.is_terminal();
    let style = text::Style {
        color: match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            // https://no-color.org: set and not empty means no colour.
            ColorChoice::Auto => terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        },
        width: terminal_width(&stdout),
    };
    let mut out = io::BufWriter::with_capacity(batch::WRITE_BUFFER, stdout.lock());
    match args.format {
        Format::Text => {
            for r in reports {
                text::write_styled(&mut out, r, &style)?;
            }
        }
        Format::Json if reports.len() == 1 && pipeline.splits() => {
            json::write_one_on_two_threads(&mut out, &mut reports[0])?
        }
        Format::Json if reports.len() == 1 => json::write_one(&mut out, &reports[0])?,
        Format::Json => json::write_array(&mut out, reports)?,
        Format::Jsonl => {
            for r in reports {
                json::write_line(&mut out, r)?;
            }
        }
        Format::Html => html::write(&mut out, &reports[0])?,
        Format::Md => {
            for r in reports {
                markdown::write(&mut out, r)?;
            }
        }
    }
    out.flush()
}

/// `-o DIR`: every report in three formats, then index.html and summary.json.
fn write_reports(
    dir: &Path,
    inputs: &[Input],
    reports: &[CaptureReport],
    fail_on: Severity,
    skipped: &[batch::Skipped],
    redact: bool,
) -> io::Result<Vec<ReportFiles>> {
    std::fs::create_dir_all(dir).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    let stems = batch::report_stems(inputs);
    let mut files = Vec::with_capacity(reports.len());
    for (r, stem) in reports.iter().zip(&stems) {
        let names = ReportFiles {
            html: format!("{stem}.html"),
            json: format!("{stem}.json"),
            md: format!("{stem}.md"),
        };
        batch::write_atomic(&dir.join(&names.html), |w| html::write(w, r))?;
        batch::write_atomic(&dir.join(&names.json), |w| json::write_one(w, r))?;
        batch::write_atomic(&dir.join(&names.md), |w| markdown::write(w, r))?;
        files.push(names);
    }
    let summary = BatchSummary::new(reports, fail_on, Some(files.clone())).with_skipped(skipped, redact);
    batch::write_atomic(&dir.join("summary.json"), |w| summary::write_json(w, &summary))?;
    batch::write_atomic(&dir.join("index.html"), |w| html::write_index(w, &summary))?;
    Ok(files)
}

fn run_diff(args: DiffArgs) -> io::Result<ExitCode> {
    let opts = options(&args.analysis)?;
    let one = |path: &Path| analyze::analyze_path(path, &path.display().to_string(), &opts);
    let (before, after) = rayon::join(|| one(&args.before), || one(&args.after));
    let d = diff::diff(&before, &after);
    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.format {
        DiffFormat::Text => diff::write_text(&mut out, &d)?,
        DiffFormat::Json => diff::write_json(&mut out, &d)?,
        DiffFormat::Md => markdown::write_diff(&mut out, &d)?,
        DiffFormat::Html => html::write_diff(&mut out, &d)?,
    }
    out.flush()?;
    for r in [&before, &after] {
        if let Some(e) = &r.error {
            eprintln!("capdoc: {e}");
        }
    }
    Ok(ExitCode::from(d.exit_code()))
}

fn run_explain(code: Option<&str>) -> io::Result<ExitCode> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    let Some(code) = code else {
        for e in catalog::all() {
            writeln!(out, "{:<28} {:<8} {}", e.code, e.severity.as_str(), e.summary)?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    let Some(e) = catalog::explain(&code.trim().to_ascii_lowercase()) else {
        drop(out);
        eprintln!("capdoc: no finding code '{code}'; `capdoc explain` lists them all");
        return Ok(ExitCode::from(2));
    };
    let severity = match e.severity_note {
        Some(note) => format!("{} ({note})", e.severity.as_str()),
        None => e.severity.as_str().to_string(),
    };
    writeln!(out, "{}: {}", e.code, e.summary)?;
    writeln!(out, "Category: {}. Severity: {severity}.\n", e.category.as_str())?;
    writeln!(out, "What it means\n  {}\n", e.meaning)?;
    writeln!(
        out,
        "How to confirm it in Wireshark\n  {}\n  Filter to start from: {}\n",
        e.confirm, e.filter
    )?;
    writeln!(out, "How to fix it\n  {}", e.fix)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
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
