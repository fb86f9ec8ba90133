//! Inputs that made the fuzz targets (fuzz/, see fuzz/README.md) panic, minimised
//! with `cargo fuzz tmin`. Each goes through the same API as its target and must
//! give a sensible result instead.

use std::io::Cursor;

use capdoc::analyze::{analyze_reader, Options};
use capdoc::report::model::CaptureReport;
use capdoc::report::{html, json, markdown, text};

fn analyze(bytes: &[u8]) -> CaptureReport {
    analyze_reader(Box::new(Cursor::new(bytes.to_vec())), "fuzz", &Options::default())
}

/// Every renderer, as the `analyze` target calls them; each output must be UTF-8.
fn render_all(report: &CaptureReport) -> [String; 4] {
    let mut outs: [Vec<u8>; 4] = Default::default();
    json::write_one(&mut outs[0], report).expect("json");
    text::write(&mut outs[1], report).expect("text");
    html::write(&mut outs[2], report).expect("html");
    markdown::write(&mut outs[3], report).expect("markdown");
    outs.map(|o| String::from_utf8(o).expect("utf-8"))
}

/// A pcapng packet whose timestamp is far past 2262 (clamped to i64::MAX ns)
/// next to one from 2015: the HTML timeline's axis added its span to the first
/// time and overflowed (src/report/html.rs, timeline ticks).
#[test]
fn html_timeline_with_timestamps_at_the_clamp() {
    const INPUT: &[u8] =
        b"\x0a\x0d\x0d\x0a\x8c\x00\x00\x00M\x3c\x2b\x1a\x01\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff\
    \x03\x00-\x00Mac\x20OS\x20X\x2010.10.4,\x20build\x2014E46\x20(Darwin\x2014oneocsp.microsoft.com.\
    12.6\x20(v1.12.6-0-gee1fce6\x20from\x20master-1.12)\x00\x00\x00\x00\x8c\x00\x00\x00\x01\x00\x00\
    \x00t\x00\x00\x00\x01\x00\x00\x00\x00\x00\x04\x00\x02\x00\x03\x00en0\x00\x09\x00\x01\x00\x06\x00\
    \x00\x00\x0b\x00\x13\x00\x00host\x20192.168.1.139\x00\x0c\x00-\x00Mac\x20OS\x20X\x2010.10.4,\x20\
    build\x2014E46\x20(Darwin\x2014.4.0)\x00\x00\x00\x00\x00\x00\x00t\x00\x00\x00\x06\x00\x00\x00\
    \x94\x00\x00\x00\x00\x00\x00\x00r\x1d\x05t\x00M\x85\xc9t\x00\x00\x00t\x00\x00\x00\x94\x10\x3e\
    \x056\xd3\xa4\x5e\x60\xf1\x7d\x93\x08\x00E\x00\x00f\xe3\xb8\x40\x00\x40\x06eE\xc0\xff\xf6\x5eJ\
    \x2b\x94\x00\x00\x00\x06\x00\x00\x00\x8c\x00\x00\x00\x00o\xcb\xcf\x1b\x12s\x90\x08\xe1\x8f\x88\
    \xe5ss\x1eQ\xe0L\x3d\x84\x98_\xd6\xdabN\xea\xaf5\x00\x00\x01\x00\x00\x20\xbc\xfa\x7b\xfe\x22\x8d\
    \x11\x11\x1b\x0br\xdbe\xef\xb6_,\x8c\x04\x9b\xe7\x87\xbaZ\xbdb\x17(\xdc93\xff\xf6\x5eJ\x2b\x94\
    \x00\x00\x00\x06\x00\x00\x00";
    let report = analyze(INPUT);
    assert!(report.error.is_none(), "{:?}", report.error);
    let [json, _, html, _] = render_all(&report);
    serde_json::from_str::<serde_json::Value>(&json).expect("json parses");
    assert!(html.contains("<svg class=\"timeline\"") && html.contains("</html>"));
}
