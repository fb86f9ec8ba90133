//! The whole path, bytes to reports: read, decode, rebuild connections,
//! diagnose, then render in every format (and as a batch summary and a diff).
//! Every rendering must succeed and be UTF-8; the JSON must parse back.
#![no_main]

use std::io::Cursor;

use capdoc::analyze::{analyze_reader, Options, Pipeline};
use capdoc::report::model::{CaptureReport, Severity};
use capdoc::report::summary::BatchSummary;
use capdoc::report::{diff, html, json, markdown, summary, text};
use libfuzzer_sys::fuzz_target;

fn utf8(out: Vec<u8>, what: &str) -> String {
    String::from_utf8(out).unwrap_or_else(|e| panic!("{what} is not UTF-8: {e}"))
}

fn render(report: &CaptureReport) {
    let mut out = Vec::new();
    json::write_one(&mut out, report).expect("json");
    let parsed: serde_json::Value = serde_json::from_str(&utf8(out, "json")).expect("json parses back");
    std::hint::black_box(parsed);

    let mut out = Vec::new();
    text::write(&mut out, report).expect("text");
    utf8(out, "text");
    let mut out = Vec::new();
    let style = text::Style {
        color: true,
        width: Some(40),
    };
    text::write_styled(&mut out, report, &style).expect("styled text");
    utf8(out, "styled text");

    let mut out = Vec::new();
    html::write(&mut out, report).expect("html");
    utf8(out, "html");

    let mut out = Vec::new();
    markdown::write(&mut out, report).expect("markdown");
    utf8(out, "markdown");
}

fuzz_target!(|data: &[u8]| {
    // Both ways through the packet pass: on one thread, and split over two.
    let pipeline = if data.len() % 2 == 0 { Pipeline::Off } else { Pipeline::On };
    let opts = Options {
        pipeline,
        ..Options::default()
    };
    let report = analyze_reader(Box::new(Cursor::new(data.to_vec())), "fuzz", &opts);
    render(&report);

    let reports = [report];
    let batch = BatchSummary::new(&reports, Severity::Warning, None);
    let mut out = Vec::new();
    summary::write_table(&mut out, &batch, Some(60)).expect("summary table");
    summary::write_json(&mut out, &batch).expect("summary json");
    html::write_index(&mut out, &batch).expect("summary html");

    let empty = analyze_reader(Box::new(Cursor::new(Vec::new())), "empty", &opts);
    for d in [diff::diff(&empty, &reports[0]), diff::diff(&reports[0], &reports[0])] {
        let mut out = Vec::new();
        diff::write_text(&mut out, &d).expect("diff text");
        diff::write_json(&mut out, &d).expect("diff json");
        html::write_diff(&mut out, &d).expect("diff html");
        markdown::write_diff(&mut out, &d).expect("diff markdown");
        std::hint::black_box(d.exit_code());
    }
});
