//! The report as one self-contained HTML page, to attach to a support case:
//! inline CSS, inline SVG and a little inline script (sorting, copy buttons),
//! nothing fetched, readable offline and when printed to PDF.
//!
//! Everything that comes from a capture (names, SNIs, CONNECT targets, HTTP
//! reasons, file names) is hostile until escaped: it only ever reaches the page
//! through [`esc`] (text and attribute values) or [`href`] (links). The page's
//! Content-Security-Policy forbids every external load as a second line.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

use super::diff::{EndpointChange, FindingChange, ReportDiff};
use super::model::*;
use super::summary::BatchSummary;
use crate::diagnose::time;
use crate::diagnose::{catalog, group_in_order};

/// HTML-escapes text for element content and quoted attribute values, and
/// replaces control characters (which HTML cannot carry) with U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A relative link to a file written next to the page: percent-encoded (so a
/// name cannot end the attribute, start a scheme or a query), then escaped.
pub fn href(path: &str) -> String {
    let mut out = String::new();
    // "./" first: a name like `javascript:x` stays a relative path.
    out.push_str("./");
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    esc(&out)
}

const CSS: &str = r#"
:root{--bad:#b3261e;--bad-bg:#fde7e6;--warn:#8a5300;--warn-bg:#fff1d6;--good:#146c2e;--good-bg:#e3f4e6;
--note:#0b57a0;--note-bg:#e4effb;--muted:#5f6368;--line:#d7dbe0;--code-bg:#f3f4f6}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;
margin:0 auto;max-width:1400px;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0 0 6px}
.meta{color:var(--muted);margin:0 0 12px;word-break:break-all}
code,.mono{font-family:ui-monospace,SFMono-Regular,Consolas,"Liberation Mono",monospace;font-size:12.5px}
code{background:var(--code-bg);padding:1px 4px;border-radius:4px;word-break:break-all}
.verdict{border-radius:8px;padding:14px 18px;margin:12px 0 4px;border-left:8px solid}
.verdict .word{font-weight:700;font-size:20px;letter-spacing:.04em;margin-right:10px}
.verdict.problems{background:var(--bad-bg);border-color:var(--bad)}.verdict.problems .word{color:var(--bad)}
.verdict.healthy{background:var(--good-bg);border-color:var(--good)}.verdict.healthy .word{color:var(--good)}
.verdict.inconclusive,.verdict.error{background:var(--warn-bg);border-color:var(--warn)}
.verdict.inconclusive .word,.verdict.error .word{color:var(--warn)}
.finding{border:1px solid var(--line);border-left:6px solid var(--line);border-radius:6px;padding:10px 14px;margin:10px 0;
break-inside:avoid}
.finding.error{border-left-color:var(--bad)}.finding.warning{border-left-color:var(--warn)}.finding.info{border-left-color:var(--note)}
.finding p{margin:4px 0}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;margin-right:6px;white-space:nowrap}
.badge.error,.st-failed,.oc-bad{background:var(--bad-bg);color:var(--bad)}
.badge.warning,.oc-incomplete{background:var(--warn-bg);color:var(--warn)}
.badge.info,.st-not_seen{background:var(--note-bg);color:var(--note)}
.st-reached,.oc-ok{background:var(--good-bg);color:var(--good)}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-weight:600;white-space:nowrap}
.label{font-weight:600}
.filter{display:flex;gap:8px;align-items:flex-start;margin-top:6px}
.filter code{flex:1;display:block;padding:4px 8px;user-select:all}
button.copy{font:inherit;font-size:12px;padding:2px 10px;border:1px solid var(--line);border-radius:4px;background:#fff;cursor:pointer}
button.copy.done{background:var(--good-bg)}
details.about{margin-top:6px;color:#333}details.about summary{cursor:pointer;color:var(--note)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;position:sticky;top:0}
table.sortable th{cursor:pointer;user-select:none;white-space:nowrap}
table.sortable th[aria-sort=ascending]::after{content:" \25B2"}table.sortable th[aria-sort=descending]::after{content:" \25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.sub{color:var(--muted);font-size:12px}
td.dest{min-width:11em;word-break:break-word}td.tls{min-width:9em;word-break:break-word}
td.what{min-width:16em;word-break:break-word}td.what code{font-size:11.5px}
tr.not-seen td{color:var(--muted);padding-top:1px;padding-bottom:1px}
.scroll{overflow-x:auto}
tr:target{background:#fff8c5}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;word-break:break-all}
ul.warnings li{color:var(--warn)}
svg.timeline{width:100%;height:auto;border:1px solid var(--line);border-radius:6px;background:#fff}
svg.timeline text{font:11px system-ui,sans-serif;fill:#1f2328}
svg.timeline .axis{stroke:#c4c9cf;stroke-width:1}
svg.timeline .lane{fill:#f6f8fa}
.legend{color:var(--muted);font-size:12px;margin:6px 0}
.legend span{margin-right:14px;white-space:nowrap}
footer{margin-top:32px;color:var(--muted);font-size:12px}
@media print{body{max-width:none;padding:0;font-size:11px}button.copy{display:none}th{position:static}
.scroll{overflow:visible}details.about{display:none}h2{break-after:avoid}a{color:inherit;text-decoration:none}}
"#;

/// Sorting of `table.sortable` (numbers by `data-sort` or their text) and the copy buttons.
/// Everything is guarded: a page that cannot use the clipboard (file://, print
/// preview) still loads without an error.
const SCRIPT: &str = r#"
(function(){
  function key(td){var v=td.getAttribute('data-sort');return v===null?td.textContent.trim():v;}
  document.querySelectorAll('table.sortable').forEach(function(table){
    var heads=table.querySelectorAll('thead th');
    heads.forEach(function(th,col){
      th.addEventListener('click',function(){
        var asc=th.getAttribute('aria-sort')!=='ascending';
        heads.forEach(function(h){h.removeAttribute('aria-sort');});
        th.setAttribute('aria-sort',asc?'ascending':'descending');
        var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
        rows.sort(function(a,b){
          var x=key(a.cells[col]),y=key(b.cells[col]);var nx=parseFloat(x),ny=parseFloat(y);
          var c=(!isNaN(nx)&&!isNaN(ny)&&String(nx)===x&&String(ny)===y)?nx-ny:x.localeCompare(y);
          return asc?c:-c;});
        rows.forEach(function(r){body.appendChild(r);});
      });
    });
  });
  document.querySelectorAll('button.copy').forEach(function(button){
    button.addEventListener('click',function(){
      var code=button.parentNode.querySelector('code');if(!code)return;
      var text=code.textContent;
      function done(){button.classList.add('done');button.textContent='Copied';
        setTimeout(function(){button.classList.remove('done');button.textContent='Copy';},1500);}
      function select(){var r=document.createRange();r.selectNodeContents(code);var s=window.getSelection();
        s.removeAllRanges();s.addRange(r);try{if(document.execCommand('copy'))done();}catch(e){}}
      if(navigator.clipboard&&window.isSecureContext){navigator.clipboard.writeText(text).then(done,select);}
      else{select();}
    });
  });
  // Tests read this from the DOM: the script ran to its end.
  document.documentElement.setAttribute('data-capdoc','ready');
})();
"#;

fn page_start<W: Write>(out: &mut W, title: &str) -> io::Result<()> {
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"capdoc {}\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

fn page_end<W: Write>(out: &mut W) -> io::Result<()> {
    write!(
        out,
        "<footer>Made by capdoc {} from the capture alone; no data left this machine.</footer>\n\
         <script>{SCRIPT}</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    )
}

fn status_word(s: VerdictStatus) -> (&'static str, &'static str) {
    match s {
        VerdictStatus::Healthy => ("HEALTHY", "healthy"),
        VerdictStatus::Problems => ("PROBLEMS", "problems"),
        VerdictStatus::Inconclusive => ("INCONCLUSIVE", "inconclusive"),
    }
}

fn coverage_word(c: Coverage) -> (&'static str, &'static str) {
    match c {
        Coverage::Reached => ("reached", "st-reached"),
        Coverage::Failed => ("failed", "st-failed"),
        Coverage::NotSeen => ("not seen", "st-not_seen"),
    }
}

fn outcome_class(o: Outcome) -> &'static str {
    if o.reached() {
        "oc-ok"
    } else if o == Outcome::Incomplete {
        "oc-incomplete"
    } else {
        "oc-bad"
    }
}

/// A display filter with its copy button.
fn filter_block(filter: &str) -> String {
    format!(
        "<div class=\"filter\"><code>{}</code><button type=\"button\" class=\"copy\" title=\"Copy the Wireshark \
         display filter\">Copy</button></div>",
        esc(filter)
    )
}

fn attempt_links(ids: &[u32]) -> String {
    ids.iter()
        .map(|id| format!("<a href=\"#attempt-{id}\">#{id}</a>"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tls_text(a: &Attempt) -> String {
    let Some(tls) = &a.tls else { return String::new() };
    let mut parts = Vec::new();
    match (tls.version, tls.client_max_version) {
        (Some(v), _) => parts.push(v.to_string()),
        (None, Some(offered)) => parts.push(format!("no ServerHello (client offered up to {offered})")),
        (None, None) => parts.push("TLS".to_string()),
    }
    if let Some(sni) = &tls.sni {
        parts.push(format!("SNI {sni}"));
    }
    match (tls.issuer(), tls.version) {
        // The common name says enough in a table cell; the whole DN is in the cell's title.
        (Some(issuer), _) => parts.push(format!(
            "issuer {}",
            issuer
                .rsplit("CN=")
                .next()
                .unwrap_or(issuer)
                .split(',')
                .next()
                .unwrap_or_default()
                .trim()
        )),
        (None, Some("TLS 1.3")) => parts.push("certificate not visible (TLS 1.3)".into()),
        _ => {}
    }
    if let Some(alert) = &tls.alert {
        parts.push(format!(
            "{} alert {} from {}",
            alert.level, alert.description, alert.from
        ));
    }
    parts.join("; ")
}

fn write_finding<W: Write>(out: &mut W, f: &Finding) -> io::Result<()> {
    let sev = f.severity.as_str();
    writeln!(out, "<article class=\"finding {sev}\">")?;
    writeln!(
        out,
        "<h3><span class=\"badge {sev}\">{sev}</span><code>{}</code> {}</h3>",
        esc(f.code),
        esc(&f.title)
    )?;
    writeln!(out, "<p>{}</p>", esc(&f.detail))?;
    writeln!(out, "<p><span class=\"label\">Fix:</span> {}</p>", esc(&f.remediation))?;
    if !f.frames.is_empty() || !f.attempts.is_empty() {
        let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
        writeln!(
            out,
            "<p><span class=\"label\">Evidence:</span> frames {}{}</p>",
            esc(&frames.join(", ")),
            match (f.attempts.is_empty(), f.unlisted_attempts) {
                (true, 0) => String::new(),
                (false, 0) => format!("; attempts {}", attempt_links(&f.attempts)),
                (_, n) => format!(
                    "; attempts {} and {n} more, not listed (<a href=\"#groups-table\">counted below</a>)",
                    attempt_links(&f.attempts)
                ),
            }
        )?;
    }
    if let Some(filter) = &f.wireshark_filter {
        writeln!(out, "{}", filter_block(filter))?;
    }
    if let Some(e) = catalog::explain(f.code) {
        writeln!(
            out,
            "<details class=\"about\"><summary>About <code>{}</code></summary><p>{}</p>\
             <p><span class=\"label\">Confirm in Wireshark:</span> {}</p></details>",
            esc(e.code),
            esc(e.meaning),
            esc(e.confirm)
        )?;
    }
    writeln!(out, "</article>")
}

fn write_error_page<W: Write>(out: &mut W, r: &CaptureReport, error: &str) -> io::Result<()> {
    writeln!(out, "<h1>capdoc report</h1>\n<p class=\"meta\">{}</p>", esc(&r.file))?;
    writeln!(
        out,
        "<div class=\"verdict error\" id=\"verdict\"><span class=\"word\">NOT READ</span>{}</div>",
        esc(error)
    )
}

/// One capture's report as a complete HTML page.
pub fn write<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    page_start(out, &format!("capdoc: {}", r.file))?;
    if let Some(error) = &r.error {
        write_error_page(out, r, error)?;
        return page_end(out);
    }
    let (word, class) = status_word(r.verdict.status);
    writeln!(out, "<h1>capdoc report</h1>")?;
    writeln!(
        out,
        "<p class=\"meta\">{} &middot; capdoc {} &middot; {} &middot; {}</p>",
        esc(&r.file),
        esc(&r.capdoc),
        esc(&r.tables.urls),
        esc(&r.tables.ca_set)
    )?;
    writeln!(
        out,
        "<div class=\"verdict {class}\" id=\"verdict\"><span class=\"word\">{word}</span>{}</div>",
        esc(&r.verdict.summary)
    )?;
    let (quality, problems): (Vec<&Finding>, Vec<&Finding>) =
        r.findings.iter().partition(|f| f.code.starts_with("capture-"));

    writeln!(out, "<section id=\"findings\"><h2>Findings</h2>")?;
    if problems.is_empty() {
        writeln!(out, "<p>No connectivity, proxy or TLS problem was found.</p>")?;
    }
    for f in &problems {
        write_finding(out, f)?;
    }
    writeln!(out, "</section>")?;

    write_endpoints(out, r)?;
    write_timeline(out, r)?;
    write_attempts(out, r)?;
    write_capture(out, r, &quality)?;
    write_dns(out, r)?;
    page_end(out)
}

fn write_endpoints<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    writeln!(out, "<section id=\"endpoints\"><h2>Required URLs</h2>")?;
    writeln!(
        out,
        "<p class=\"meta\">Each row of the table in use ({}): reached = something answered, failed = tried and \
         never answered, not seen = not tried in this capture.</p>",
        esc(&r.tables.urls)
    )?;
    writeln!(
        out,
        "<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>status</th><th>pattern</th><th>port</th>\
         <th>purpose</th><th>requirement</th><th>attempts</th></tr></thead><tbody>"
    )?;
    for e in r.endpoints_by_status() {
        let (word, class) = coverage_word(e.status);
        let row = if e.status == Coverage::NotSeen {
            " class=\"not-seen\""
        } else {
            ""
        };
        writeln!(
            out,
            "<tr{row}><td data-sort=\"{word}\"><span class=\"pill {class}\">{word}</span></td><td><code>{}</code></td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.pattern),
            e.port,
            esc(&e.purpose),
            esc(&e.requirement),
            attempt_links(&e.attempts)
        )?;
    }
    writeln!(out, "</tbody></table></div></section>")
}

fn write_attempts<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    writeln!(out, "<section id=\"attempts\"><h2>All attempts</h2>")?;
    if r.attempts.is_empty() {
        writeln!(out, "<p>No outbound connection attempt in this capture.</p></section>")?;
        return Ok(());
    }
    writeln!(
        out,
        "<p class=\"meta\">Click a column heading to sort. Times are UTC.</p>\
         <div class=\"scroll\"><table class=\"sortable\" id=\"attempts-table\"><thead><tr><th>id</th>\
         <th>time, client</th><th>destination</th><th>required</th><th>outcome</th><th>state</th>\
         <th>SYN rtx</th><th>HTTP</th><th>TLS</th><th>what happened, evidence</th></tr></thead><tbody>"
    )?;
    for a in &r.attempts {
        let required = match &a.required {
            Some(req) => format!(
                "{}<br><span class=\"sub\">{}:{}</span>",
                esc(&req.purpose),
                esc(&req.pattern),
                req.port
            ),
            None => "not required".to_string(),
        };
        let frames: Vec<String> = a.frames.iter().map(u64::to_string).collect();
        let start = a.start();
        writeln!(
            out,
            "<tr id=\"attempt-{id}\"><td class=\"num\" data-sort=\"{id}\">{id}</td>\
             <td class=\"mono\" data-sort=\"{}\">{}<br><span class=\"sub\">{}</span></td><td class=\"dest\">{}</td>\
             <td>{}</td><td data-sort=\"{outcome}\"><span class=\"pill {}\">{outcome}</span></td><td>{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"tls\" title=\"{}\">{}</td>\
             <td class=\"what\">{}<br><span class=\"sub\">frames {}</span><br><code>{}</code></td></tr>",
            a.start_nanos,
            esc(start.get(11..26).unwrap_or(&start)),
            esc(&a.client().to_string()),
            esc(&a.destination_label()),
            required,
            outcome_class(a.outcome),
            esc(a.conn_state),
            a.syn_retransmits,
            a.http_status.map(|s| s.to_string()).unwrap_or_default(),
            esc(a.tls.as_ref().and_then(|t| t.issuer()).unwrap_or("")),
            esc(&tls_text(a)),
            esc(&a.detail),
            esc(&frames.join(", ")),
            esc(&a.wireshark_filter.text()),
            id = a.id,
            outcome = a.outcome.as_str(),
        )?;
    }
    writeln!(out, "</tbody></table></div>")?;
    if !r.attempt_groups.is_empty() {
        let unlisted: u64 = r.attempt_groups.iter().map(|g| g.count).sum();
        writeln!(
            out,
            "<h3>Attempts not listed ({unlisted}), by destination and outcome</h3>\
             <div class=\"scroll\"><table class=\"sortable\" id=\"groups-table\"><thead><tr><th>attempts</th>\
             <th>destination</th><th>outcome</th><th>listed above</th><th>from, to</th><th>evidence</th>\
             </tr></thead><tbody>"
        )?;
        for g in &r.attempt_groups {
            let frames: Vec<String> = g.frames.iter().map(u64::to_string).collect();
            writeln!(
                out,
                "<tr><td class=\"num\">{}</td><td class=\"dest\">{}</td>\
                 <td><span class=\"pill {}\">{}</span></td><td class=\"num\">{}</td>\
                 <td class=\"mono\">{}<br>{}</td><td class=\"what\"><span class=\"sub\">first frames {}</span>\
                 <br><code>{}</code></td></tr>",
                g.count,
                esc(&g.destination_label()),
                outcome_class(g.outcome),
                g.outcome.as_str(),
                g.listed,
                esc(g.first_start.get(11..26).unwrap_or(&g.first_start)),
                esc(g.last_start.get(11..26).unwrap_or(&g.last_start)),
                esc(&frames.join(", ")),
                esc(&g.wireshark_filter),
            )?;
        }
        writeln!(out, "</tbody></table></div>")?;
    }
    writeln!(out, "</section>")
}

fn write_capture<W: Write>(out: &mut W, r: &CaptureReport, quality: &[&Finding]) -> io::Result<()> {
    let c = &r.capture;
    writeln!(
        out,
        "<section id=\"capture\"><h2>Capture facts and quality</h2><dl class=\"facts\">"
    )?;
    let mut fact = |name: &str, value: String| writeln!(out, "<dt>{}</dt><dd>{}</dd>", esc(name), esc(&value));
    fact("file", r.file.clone())?;
    fact(
        "format",
        format!(
            "{}{}",
            c.format.unwrap_or("?"),
            c.compressed.map(|z| format!(" ({z})")).unwrap_or_default()
        ),
    )?;
    fact("link types", c.link_types.join(", "))?;
    let interfaces: Vec<String> = c
        .interfaces
        .iter()
        .map(|i| format!("{} ({})", i.name.as_deref().unwrap_or("unnamed"), i.link_type))
        .collect();
    fact("interfaces", interfaces.join(", "))?;
    if let Some(application) = &c.application {
        fact("written by", application.clone())?;
    }
    if let Some(os) = &c.os {
        fact("captured on", os.clone())?;
    }
    fact(
        "packets",
        format!("{} ({} after folding duplicates)", c.packets, c.unique_packets),
    )?;
    fact("bytes", c.bytes.to_string())?;
    fact("start", c.start.clone().unwrap_or_else(|| "?".into()))?;
    fact("end", c.end.clone().unwrap_or_else(|| "?".into()))?;
    fact("truncated packets", c.truncated_packets.to_string())?;
    if c.connections_already_open > 0 {
        fact("connections already open", c.connections_already_open.to_string())?;
    }
    if c.windows.copies_folded > 0 {
        fact(
            "pktmon copies folded",
            format!(
                "{} (counted on: {})",
                c.windows.copies_folded,
                c.windows.counted_on.join(", ")
            ),
        )?;
    }
    if c.windows.dropped_frames > 0 {
        fact("dropped inside the host", c.windows.dropped_frames.to_string())?;
    }
    if let Some(offset) = c.cut_at_offset {
        fact("file cut at offset", offset.to_string())?;
    }
    fact("required-URL table", r.tables.urls.clone())?;
    fact("expected CA set", r.tables.ca_set.clone())?;
    writeln!(out, "</dl>")?;
    if !c.warnings.is_empty() {
        writeln!(out, "<h3>Warnings</h3><ul class=\"warnings\">")?;
        for w in &c.warnings {
            writeln!(out, "<li>{}</li>", esc(w))?;
        }
        writeln!(out, "</ul>")?;
    }
    if quality.is_empty() {
        writeln!(out, "<p>No capture-quality finding.</p>")?;
    }
    for f in quality {
        write_finding(out, f)?;
    }
    writeln!(out, "</section>")
}

fn write_dns<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    if r.dns.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "<section id=\"dns\"><h2>Name lookups</h2><div class=\"scroll\"><table class=\"sortable\"><thead><tr>\
         <th>name</th><th>answer</th><th>addresses</th><th>CNAMEs</th><th>frames</th><th>protocol</th></tr>\
         </thead><tbody>"
    )?;
    for l in &r.dns {
        let frames = match l.answer_frame {
            Some(answer) => format!("{}, {answer}", l.query_frame),
            None => l.query_frame.to_string(),
        };
        writeln!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td>\
             <td class=\"mono\" data-sort=\"{}\">{}</td><td>{}</td></tr>",
            esc(&l.name),
            esc(l.rcode.unwrap_or("no answer")),
            esc(&l.addresses.join(", ")),
            esc(&l.cnames.join(" → ")),
            l.query_frame,
            esc(&frames),
            esc(l.protocol)
        )?;
    }
    writeln!(out, "</tbody></table></div></section>")
}

/// Lanes drawn at most; a capture from a busy mirror port can hold thousands of destinations.
const MAX_LANES: usize = 60;

/// One lane of the timeline: a destination and the connections to it.
struct Lane<'a> {
    label: String,
    connections: Vec<(&'a ConnectionSummary, Vec<&'a Attempt>)>,
}

fn lanes(r: &CaptureReport) -> Vec<Lane<'_>> {
    let by_id: BTreeMap<u32, &ConnectionSummary> = r.connections.iter().map(|c| (c.id, c)).collect();
    // A connection belongs to the lane of its first attempt; later requests on it
    // (the CONNECT repeated after a 407) add their status to the same marks.
    let listed = r.attempts.iter().filter(|a| by_id.contains_key(&a.connection));
    let per_connection = group_in_order(listed, |a| a.connection);
    group_in_order(per_connection, |(_, attempts)| attempts[0].destination_label())
        .into_iter()
        .map(|(label, connections)| Lane {
            label,
            connections: connections
                .into_iter()
                .map(|(id, attempts)| (by_id[&id], attempts))
                .collect(),
        })
        .collect()
}

fn write_timeline<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    writeln!(out, "<section id=\"timeline\"><h2>Timeline</h2>")?;
    let lanes = lanes(r);
    if lanes.is_empty() {
        writeln!(out, "<p>No connection to draw.</p></section>")?;
        return Ok(());
    }
    let drawn = &lanes[..lanes.len().min(MAX_LANES)];
    let times = drawn.iter().flat_map(|l| &l.connections).flat_map(|(c, _)| {
        let t = &c.timing;
        [t.start, t.end]
            .into_iter()
            .chain(t.syns.iter().copied())
            .chain([t.syn_ack, t.reset, t.icmp, t.server_data].into_iter().flatten())
    });
    let (t0, t1) = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let span = (t1.saturating_sub(t0)).max(1_000_000) as f64;
    const WIDTH: f64 = 1100.0;
    const LABEL: f64 = 300.0;
    const RIGHT: f64 = 70.0;
    const LANE: f64 = 30.0;
    const TOP: f64 = 26.0;
    let plot = WIDTH - LABEL - RIGHT;
    let x = |t: i64| LABEL + (t.saturating_sub(t0)) as f64 / span * plot;
    let height = TOP + LANE * drawn.len() as f64 + 8.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" \
         aria-label=\"Connection timeline, one lane per destination\">"
    );
    // Time axis: five ticks, seconds from the first event.
    for i in 0..=5 {
        let t = t0.saturating_add((span * f64::from(i) / 5.0) as i64);
        let tx = x(t);
        let _ = write!(
            svg,
            "<line class=\"axis\" x1=\"{tx:.1}\" y1=\"{}\" x2=\"{tx:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{tx:.1}\" y=\"14\" text-anchor=\"middle\">+{}</text>",
            TOP - 6.0,
            height - 4.0,
            esc(&time::span(t.saturating_sub(t0)))
        );
    }
    for (i, lane) in drawn.iter().enumerate() {
        let y = TOP + LANE * i as f64;
        let mid = y + LANE / 2.0;
        if i % 2 == 0 {
            let _ = write!(
                svg,
                "<rect class=\"lane\" x=\"0\" y=\"{y:.1}\" width=\"{WIDTH}\" height=\"{LANE}\"/>"
            );
        }
        let short: String = if lane.label.chars().count() > 46 {
            lane.label.chars().take(45).chain(['…']).collect()
        } else {
            lane.label.clone()
        };
        let _ = write!(
            svg,
            "<text x=\"6\" y=\"{:.1}\"><title>{}</title>{}</text>",
            mid + 4.0,
            esc(&lane.label),
            esc(&short)
        );
        for (conn, attempts) in &lane.connections {
            draw_connection(&mut svg, conn, attempts, mid, &x);
        }
    }
    svg.push_str("</svg>");
    writeln!(out, "{svg}")?;
    writeln!(
        out,
        "<div class=\"legend\"><span>○ SYN</span><span style=\"color:#d97706\">● SYN retransmitted</span>\
         <span style=\"color:#146c2e\">◆ SYN-ACK</span><span style=\"color:#b3261e\">■ RST</span>\
         <span style=\"color:#b3261e\">▲ ICMP error</span><span style=\"color:#b3261e\">✕ dropped locally</span>\
         <span>▮ first answer (HTTP status, TLS)</span><span>bar: connection, coloured by outcome</span></div>"
    )?;
    if lanes.len() > drawn.len() {
        writeln!(
            out,
            "<p class=\"meta\">{} more destinations are not drawn; they are in the table below.</p>",
            lanes.len() - drawn.len()
        )?;
    }
    writeln!(
        out,
        "<p class=\"meta\">Time 0 is {} (UTC).</p></section>",
        esc(&time::rfc3339(t0))
    )
}

fn draw_connection(svg: &mut String, c: &ConnectionSummary, attempts: &[&Attempt], mid: f64, x: &dyn Fn(i64) -> f64) {
    let t = &c.timing;
    let worst = attempts.iter().map(|a| a.outcome).min().unwrap_or(Outcome::Incomplete);
    let colour = if worst.reached() {
        "#146c2e"
    } else if worst == Outcome::Incomplete {
        "#8a5300"
    } else {
        "#b3261e"
    };
    let ids: Vec<String> = attempts.iter().map(|a| format!("#{}", a.id)).collect();
    let title = format!(
        "connection {} ({}), attempts {}: {}",
        c.id,
        c.conn_state,
        ids.join(", "),
        attempts
            .iter()
            .map(|a| a.outcome.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (x0, x1) = (x(t.start), x(t.end).max(x(t.start) + 2.0));
    let _ = write!(
        svg,
        "<g><title>{}</title><rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"4\" rx=\"2\" fill=\"{colour}\" \
         opacity=\"0.45\"/>",
        esc(&title),
        mid - 2.0,
        x1 - x0
    );
    for (i, &syn) in t.syns.iter().enumerate() {
        let (fill, stroke) = if i == 0 {
            ("#fff", "#1f2328")
        } else {
            ("#d97706", "#d97706")
        };
        let _ = write!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{mid:.1}\" r=\"4.5\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.5\"/>",
            x(syn)
        );
    }
    if let Some(ack) = t.syn_ack {
        let (cx, cy) = (x(ack), mid);
        let _ = write!(
            svg,
            "<path d=\"M{:.1} {cy:.1} L{cx:.1} {:.1} L{:.1} {cy:.1} L{cx:.1} {:.1} Z\" fill=\"#146c2e\"/>",
            cx - 5.0,
            cy - 5.0,
            cx + 5.0,
            cy + 5.0
        );
    }
    if let Some(rst) = t.reset {
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"9\" height=\"9\" fill=\"#b3261e\"/>",
            x(rst) - 4.5,
            mid - 4.5
        );
    }
    if let Some(icmp) = t.icmp {
        let cx = x(icmp);
        let _ = write!(
            svg,
            "<path d=\"M{:.1} {:.1} L{cx:.1} {:.1} L{:.1} {:.1} Z\" fill=\"#b3261e\"/>",
            cx - 5.0,
            mid + 5.0,
            mid - 5.0,
            cx + 5.0,
            mid + 5.0
        );
    }
    if let Some(drop) = t.local_drop {
        let cx = x(drop);
        let _ = write!(
            svg,
            "<path d=\"M{:.1} {:.1} l10 10 m0 -10 l-10 10\" stroke=\"#b3261e\" stroke-width=\"2.5\"/>",
            cx - 5.0,
            mid - 5.0
        );
    }
    // The first answer: an HTTP status (a proxy's answer to CONNECT, or the server's) and TLS.
    let statuses: Vec<String> = attempts
        .iter()
        .filter_map(|a| a.http_status)
        .map(|s| s.to_string())
        .collect();
    let tls = attempts
        .iter()
        .rev()
        .find_map(|a| a.tls.as_deref())
        .map(|tls| match (tls.version, &tls.alert) {
            (_, Some(alert)) => format!("TLS alert {}", alert.description),
            (Some(v), None) => v.to_string(),
            (None, None) => "TLS, no ServerHello".to_string(),
        });
    let label: Vec<String> = statuses.into_iter().chain(tls).collect();
    if let (Some(answer), false) = (t.server_data.or(t.syn_ack), label.is_empty()) {
        let ax = x(answer);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"3\" height=\"14\" fill=\"{colour}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            ax - 1.5,
            mid - 7.0,
            ax + 6.0,
            mid - 3.0,
            esc(&label.join(" · "))
        );
    }
    svg.push_str("</g>");
}

/// The page `-o DIR` writes beside the reports: one row per capture.
pub fn write_index<W: Write>(out: &mut W, s: &BatchSummary) -> io::Result<()> {
    page_start(out, "capdoc: batch summary")?;
    writeln!(out, "<h1>capdoc batch summary</h1>")?;
    let t = &s.totals;
    writeln!(
        out,
        "<p class=\"meta\">capdoc {} &middot; {} captures: {} healthy, {} with problems, {} inconclusive, {} not \
         read &middot; exit code {}</p>",
        esc(&s.capdoc),
        t.captures,
        t.healthy,
        t.problems,
        t.inconclusive,
        t.unreadable,
        s.exit_code
    )?;
    writeln!(
        out,
        "<div class=\"scroll\"><table class=\"sortable\"><thead><tr><th>capture</th><th>verdict</th>\
         <th>main finding</th><th>attempts failed / total</th><th>findings (error / warning / info)</th>\
         <th>report</th></tr></thead><tbody>"
    )?;
    for c in &s.captures {
        let (word, class) = match (c.verdict, &c.error) {
            (Some(v), _) => status_word(v),
            (None, _) => ("NOT READ", "error"),
        };
        let pill = match class {
            "healthy" => "st-reached",
            "problems" => "st-failed",
            _ => "oc-incomplete",
        };
        let main = match (&c.error, &c.main_finding) {
            (Some(e), _) => esc(e),
            (None, Some(m)) => format!(
                "<span class=\"badge {sev}\">{sev}</span><code>{}</code> {}",
                esc(m.code),
                esc(&m.title),
                sev = m.severity.as_str()
            ),
            (None, None) => esc(c.summary.as_deref().unwrap_or("")),
        };
        let links = match &c.reports {
            Some(files) => format!(
                "<a href=\"{}\">HTML</a> &middot; <a href=\"{}\">JSON</a> &middot; <a href=\"{}\">Markdown</a>",
                href(&files.html),
                href(&files.json),
                href(&files.md)
            ),
            None => String::new(),
        };
        writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td data-sort=\"{word}\"><span class=\"pill {pill}\">{word}</span></td>\
             <td>{main}</td><td class=\"num\" data-sort=\"{}\">{} / {}</td><td class=\"num\">{} / {} / {}</td>\
             <td>{links}</td></tr>",
            esc(&c.file),
            c.attempts_failed,
            c.attempts_failed,
            c.attempts,
            c.findings.error,
            c.findings.warning,
            c.findings.info,
        )?;
    }
    writeln!(out, "</tbody></table></div>")?;
    if !s.skipped.is_empty() {
        writeln!(out, "<section id=\"skipped\"><h2>Not analysed</h2><ul>")?;
        for k in &s.skipped {
            writeln!(out, "<li><code>{}</code>: {}</li>", esc(&k.file), esc(k.reason))?;
        }
        writeln!(out, "</ul></section>")?;
    }
    page_end(out)
}

/// `capdoc diff --format html`.
pub fn write_diff<W: Write>(out: &mut W, d: &ReportDiff) -> io::Result<()> {
    page_start(out, &format!("capdoc diff: {} → {}", d.before.file, d.after.file))?;
    writeln!(out, "<h1>capdoc: what changed</h1>")?;
    for (name, side) in [("before", &d.before), ("after", &d.after)] {
        let (word, class) = match side.verdict {
            Some(v) => status_word(v),
            None => ("NOT READ", "error"),
        };
        let text = side.error.as_deref().or(side.summary.as_deref()).unwrap_or("");
        writeln!(
            out,
            "<div class=\"verdict {class}\" id=\"verdict-{name}\"><span class=\"word\">{}: {word}</span>\
             <span class=\"mono\">{}</span><br>{}</div>",
            name.to_uppercase(),
            esc(&side.file),
            esc(text)
        )?;
    }
    writeln!(out, "<p>{}.</p>", d.counts)?;
    writeln!(
        out,
        "<section id=\"endpoints\"><h2>Required URLs</h2><div class=\"scroll\"><table class=\"sortable\"><thead><tr>\
         <th>change</th><th>pattern</th><th>port</th><th>purpose</th><th>before</th><th>after</th></tr></thead><tbody>"
    )?;
    for e in &d.endpoints {
        write_endpoint_change(out, e)?;
    }
    writeln!(out, "</tbody></table></div></section>")?;
    writeln!(
        out,
        "<section id=\"findings\"><h2>Findings</h2><div class=\"scroll\"><table class=\"sortable\"><thead><tr>\
         <th>change</th><th>severity</th><th>code</th><th>about</th><th>before</th><th>after</th></tr></thead><tbody>"
    )?;
    for f in &d.findings {
        write_finding_change(out, f)?;
    }
    writeln!(out, "</tbody></table></div></section>")?;
    page_end(out)
}

fn write_endpoint_change<W: Write>(out: &mut W, e: &EndpointChange) -> io::Result<()> {
    let cell = |c: Option<Coverage>| match c {
        Some(c) => {
            let (word, class) = coverage_word(c);
            format!("<span class=\"pill {class}\">{word}</span>")
        }
        None => "not in table".to_string(),
    };
    let (class, row) = match e.change.as_str() {
        "improved" => ("st-reached", ""),
        "regressed" => ("st-failed", ""),
        "changed" => ("st-not_seen", ""),
        _ => ("", " class=\"not-seen\""),
    };
    writeln!(
        out,
        "<tr{row}><td><span class=\"pill {class}\">{}</span></td><td><code>{}</code></td><td class=\"num\">{}</td>\
         <td>{}</td><td>{}</td><td>{}</td></tr>",
        e.change.as_str(),
        esc(&e.pattern),
        e.port,
        esc(&e.purpose),
        cell(e.before),
        cell(e.after)
    )
}

fn write_finding_change<W: Write>(out: &mut W, f: &FindingChange) -> io::Result<()> {
    let class = match f.change.as_str() {
        "removed" => "st-reached",
        "added" => "st-failed",
        _ => "st-not_seen",
    };
    writeln!(
        out,
        "<tr><td><span class=\"pill {class}\">{}</span></td><td><span class=\"badge {sev}\">{sev}</span></td>\
         <td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
        f.change.as_str(),
        esc(f.code.as_str()),
        esc(f.target.as_deref().unwrap_or("")),
        esc(f.before.as_deref().unwrap_or("")),
        esc(f.after.as_deref().unwrap_or("")),
        sev = f.severity.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            esc("<script>alert('x')</script>&\"\u{1b}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;\u{fffd}"
        );
    }

    #[test]
    fn links_stay_relative_and_inert() {
        assert_eq!(href("a b.pcap.capdoc.html"), "./a%20b.pcap.capdoc.html");
        assert_eq!(href("javascript:alert(1)"), "./javascript%3Aalert%281%29");
        assert_eq!(href("x\"><img>"), "./x%22%3E%3Cimg%3E");
    }
}
