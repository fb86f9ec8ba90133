//! One capture, start to finish: read → decode → flow → diagnose → report.

use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::capture::{CaptureError, CaptureReader, Limits};
use crate::diagnose;
use crate::endpoints::ca_set::CaSet;
use crate::endpoints::service_tags::ServiceTags;
use crate::endpoints::Table;
use crate::flow::FlowLimits;
use crate::pass;
use crate::report::model::CaptureReport;

/// What the user asked for that changes the analysis.
#[derive(Clone, Debug)]
pub struct Options {
    /// Analyse only connections opened by this host.
    pub host: Option<IpAddr>,
    pub table: Table,
    /// Switch to the US Government table when the capture shows its names
    /// (off when the user chose a table).
    pub detect_cloud: bool,
    /// Issuers expected on the leaf certificates of required names.
    pub ca_set: CaSet,
    /// Azure service tags, to name addresses that no DNS answer explains.
    pub service_tags: ServiceTags,
    /// Proxies named by the user, on top of those recognised by behaviour.
    pub proxies: Vec<SocketAddr>,
    pub limits: Limits,
    pub flow_limits: FlowLimits,
    /// Whether each capture's packet pass is split over two threads.
    pub pipeline: Pipeline,
    /// Only frames with `from <= timestamp <= to` (Unix nanoseconds) are analysed
    /// (`--since`/`--until`); frame numbers stay those of the whole file.
    pub window: Option<(i64, i64)>,
    /// How many attempts, connections and findings a report lists.
    pub listing: diagnose::listing::ListLimits,
    /// Replace internal addresses and names with pseudonyms derived from this key (`--redact`).
    pub redact: Option<crate::report::redact::Key>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            host: None,
            table: Table::public(),
            detect_cloud: true,
            ca_set: CaSet::azure(),
            proxies: Vec::new(),
            service_tags: ServiceTags::default(),
            limits: Limits::default(),
            flow_limits: FlowLimits::default(),
            pipeline: Pipeline::Auto,
            window: None,
            listing: Default::default(),
            redact: None,
        }
    }
}

/// Whether a capture's packet pass runs on two threads ([`pass::packet_pass_pipelined`]):
/// the same report either way, sooner when a second core is free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pipeline {
    /// Two threads when the machine has two cores or more. A batch that already
    /// analyses several captures at once gives each one thread ([`crate::batch`]).
    #[default]
    Auto,
    On,
    Off,
}

impl Pipeline {
    /// Whether work is shared with a second thread.
    pub fn splits(self) -> bool {
        match self {
            Pipeline::On => true,
            Pipeline::Off => false,
            Pipeline::Auto => std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2),
        }
    }
}

/// The packet pass as `opts` asks for it.
fn run_pass(reader: CaptureReader, opts: &Options) -> pass::PacketPass {
    if opts.pipeline.splits() {
        pass::packet_pass_pipelined(reader, opts)
    } else {
        pass::packet_pass(reader, opts)
    }
}

/// Analyses a file (`-` is stdin). Never fails: a file that cannot be read
/// gives a report with `error` set.
pub fn analyze_path(path: &Path, display_name: &str, opts: &Options) -> CaptureReport {
    match CaptureReader::open(path, opts.limits) {
        Ok(reader) => diagnose::report(display_name, run_pass(reader, opts), opts),
        Err(e) => diagnose::error_report(display_name, &etl_hint(path, e), opts),
    }
}

/// A Windows event trace (pktmon, `netsh trace`) given directly: say how to convert it.
fn etl_hint(path: &Path, error: CaptureError) -> CaptureError {
    let is_etl = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("etl"));
    match error {
        CaptureError::NotACapture { head, .. } if is_etl => CaptureError::NotACapture {
            head,
            hint: "; this is a Windows event trace (.etl) from pktmon or netsh trace: convert it first with \
                   `etl2pcapng trace.etl trace.pcapng` (github.com/microsoft/etl2pcapng, keeps dropped packets \
                   and stack components) or `pktmon etl2pcap trace.etl --out trace.pcapng`"
                .to_string(),
        },
        other => other,
    }
}

/// Analyses bytes from any reader.
pub fn analyze_reader(reader: Box<dyn Read + Send>, display_name: &str, opts: &Options) -> CaptureReport {
    match CaptureReader::from_reader(reader, opts.limits) {
        Ok(reader) => diagnose::report(display_name, run_pass(reader, opts), opts),
        Err(e) => diagnose::error_report(display_name, &e, opts),
    }
}

/// Whether a file starts like something capdoc reads (for walking folders).
pub fn looks_like_capture(path: &Path) -> bool {
    crate::capture::is_capture(path)
}
