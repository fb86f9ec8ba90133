//! Markdown to paste into a support ticket: the verdict, the findings with
//! their filters, the required-URL table and the failed attempts.
//!
//! Capture data is escaped for prose and tables ([`md`]) or put in code spans
//! ([`code`]) so that a hostile name shows as text, whatever renders it.

use std::io::{self, Write};

use super::diff::{EndpointChangeKind, FindingChangeKind, ReportDiff};
use super::model::*;

/// Escapes text for Markdown prose and table cells: HTML-like markup becomes
/// entities, Markdown punctuation is backslash-escaped, line breaks become spaces.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds `s` literally: the fence is longer than any run of
/// backticks inside. In tables a `|` would still end the cell, so it is escaped
/// (GitHub-flavoured Markdown removes the backslash inside code spans in tables).
pub fn code(s: &str, in_table: bool) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let clean = if in_table { clean.replace('|', "\\|") } else { clean };
    let longest = clean.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if clean.starts_with('`') || clean.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{clean}{pad}{fence}")
}

fn status_word(s: VerdictStatus) -> &'static str {
    match s {
        VerdictStatus::Healthy => "HEALTHY",
        VerdictStatus::Problems => "PROBLEMS",
        VerdictStatus::Inconclusive => "INCONCLUSIVE",
    }
}

fn coverage_word(c: Coverage) -> &'static str {
    match c {
        Coverage::Reached => "✅ reached",
        Coverage::Failed => "❌ failed",
        Coverage::NotSeen => "➖ not seen",
    }
}

/// One capture's report.
pub fn write<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    writeln!(out, "## capdoc report: {}\n", code(&r.file, false))?;
    if let Some(error) = &r.error {
        return writeln!(out, "**Not read:** {}\n", md(error));
    }
    writeln!(
        out,
        "**Verdict: {}** — {}\n",
        status_word(r.verdict.status),
        md(&r.verdict.summary)
    )?;
    let c = &r.capture;
    writeln!(
        out,
        "Capture: {}{}, {}, {} packets, {} to {}; capdoc {}, {}.\n",
        c.format.unwrap_or("?"),
        c.compressed.map(|z| format!(" ({z})")).unwrap_or_default(),
        md(&c.link_types.join("/")),
        c.packets,
        md(c.start.as_deref().unwrap_or("?")),
        md(c.end.as_deref().unwrap_or("?")),
        md(&r.capdoc),
        md(&r.tables.urls),
    )?;
    for w in &c.warnings {
        writeln!(out, "> ⚠️ {}\n", md(w))?;
    }
    writeln!(out, "### Findings\n")?;
    if r.findings.is_empty() {
        writeln!(out, "None.\n")?;
    }
    for (i, f) in r.findings.iter().enumerate() {
        writeln!(
            out,
            "{}. **[{}] {}**: {}",
            i + 1,
            f.severity.as_str(),
            code(f.code, false),
            md(&f.title)
        )?;
        writeln!(out, "   - {}", md(&f.detail))?;
        writeln!(out, "   - **Fix:** {}", md(&f.remediation))?;
        if !f.frames.is_empty() {
            let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
            writeln!(out, "   - Frames: {}", frames.join(", "))?;
        }
        if let Some(filter) = &f.wireshark_filter {
            writeln!(out, "   - Wireshark: {}", code(filter, false))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "### Required URLs\n")?;
    writeln!(out, "| status | pattern | port | purpose | attempts |")?;
    writeln!(out, "|---|---|---:|---|---|")?;
    for e in r.endpoints_by_status() {
        let ids: Vec<String> = e.attempts.iter().map(|id| format!("#{id}")).collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            coverage_word(e.status),
            code(&e.pattern, true),
            e.port,
            md(&e.purpose),
            ids.join(" ")
        )?;
    }
    writeln!(out)?;
    if !r.attempts.is_empty() {
        writeln!(out, "### Attempts\n")?;
        writeln!(
            out,
            "| # | time (UTC) | destination | outcome | state | SYN rtx | HTTP | frames |"
        )?;
        writeln!(out, "|---:|---|---|---|---|---:|---:|---|")?;
        for a in &r.attempts {
            let frames: Vec<String> = a.frames.iter().take(8).map(u64::to_string).collect();
            let start = a.start();
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {}{} |",
                a.id,
                md(start.get(11..23).unwrap_or(&start)),
                code(&a.destination_label(), true),
                if a.outcome.failed() {
                    format!("**{}**", a.outcome.as_str())
                } else {
                    a.outcome.as_str().to_string()
                },
                md(a.conn_state),
                a.syn_retransmits,
                a.http_status.map(|s| s.to_string()).unwrap_or_default(),
                frames.join(", "),
                if a.frames.len() > 8 { ", …" } else { "" }
            )?;
        }
        writeln!(out)?;
    }
    if !r.attempt_groups.is_empty() {
        let unlisted: u64 = r.attempt_groups.iter().map(|g| g.count).sum();
        writeln!(
            out,
            "### Attempts not listed ({unlisted}), by destination and outcome\n"
        )?;
        writeln!(
            out,
            "| attempts | destination | outcome | listed above | from | to | filter |"
        )?;
        writeln!(out, "|---:|---|---|---:|---|---|---|")?;
        for g in &r.attempt_groups {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                g.count,
                code(&g.destination_label(), true),
                g.outcome.as_str(),
                g.listed,
                md(g.first_start.get(11..23).unwrap_or(&g.first_start)),
                md(g.last_start.get(11..23).unwrap_or(&g.last_start)),
                code(&g.wireshark_filter, true)
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// `capdoc diff --format md`.
pub fn write_diff<W: Write>(out: &mut W, d: &ReportDiff) -> io::Result<()> {
    writeln!(out, "## capdoc diff\n")?;
    for (name, s) in [("Before", &d.before), ("After", &d.after)] {
        let verdict = match (&s.error, s.verdict) {
            (Some(e), _) => format!("not read: {}", md(e)),
            (None, Some(v)) => format!("**{}** — {}", status_word(v), md(s.summary.as_deref().unwrap_or(""))),
            (None, None) => String::new(),
        };
        writeln!(out, "- **{name}:** {} — {verdict}", code(&s.file, false))?;
    }
    writeln!(out, "\n{}.\n", d.counts)?;
    let cov = |c: Option<Coverage>| c.map(coverage_word).unwrap_or("not in table");
    writeln!(out, "### Required URLs\n")?;
    writeln!(out, "| change | pattern | port | before | after |")?;
    writeln!(out, "|---|---|---:|---|---|")?;
    for e in &d.endpoints {
        let change = match e.change {
            EndpointChangeKind::Unchanged => "unchanged".to_string(),
            other => format!("**{}**", other.as_str()),
        };
        writeln!(
            out,
            "| {change} | {} | {} | {} | {} |",
            code(&e.pattern, true),
            e.port,
            cov(e.before),
            cov(e.after)
        )?;
    }
    writeln!(out, "\n### Findings\n")?;
    if d.findings.is_empty() {
        writeln!(out, "None in either capture.")?;
        return Ok(());
    }
    writeln!(out, "| change | severity | code | title |")?;
    writeln!(out, "|---|---|---|---|")?;
    for f in &d.findings {
        let change = match f.change {
            FindingChangeKind::Unchanged => "unchanged".to_string(),
            other => format!("**{}**", other.as_str()),
        };
        writeln!(
            out,
            "| {change} | {} | {} | {} |",
            f.severity.as_str(),
            code(&f.code, true),
            md(f.after.as_deref().or(f.before.as_deref()).unwrap_or(""))
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_stays_text() {
        assert_eq!(md("<script>a|b</script>"), "&lt;script&gt;a\\|b&lt;/script&gt;");
        assert_eq!(md("[x](javascript:1)"), "\\[x\\](javascript:1)");
        assert_eq!(code("a`b", false), "``a`b``");
        assert_eq!(code("`x", false), "`` `x ``");
        assert_eq!(code("a|b", true), "`a\\|b`");
    }
}
