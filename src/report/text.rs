//! The terminal report: verdict first, then what failed with its evidence,
//! then every attempt in a table.

use std::io::{self, Write};

use super::model::*;

/// How the terminal report is laid out. The default (no colour, no width limit)
/// is what goes into files and pipes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    /// ANSI colours (SGR): only when stdout is a terminal and the user did not say no.
    pub color: bool,
    /// Columns available; long lines are wrapped and wide table columns shortened to fit.
    pub width: Option<usize>,
}

/// SGR colours used, named by what they mean.
#[derive(Clone, Copy)]
enum Paint {
    Bad,
    Warn,
    Good,
    Note,
    Heading,
}

impl Style {
    fn paint(&self, paint: Paint, s: &str) -> String {
        if !self.color {
            return s.to_string();
        }
        let code = match paint {
            Paint::Bad => "1;31",
            Paint::Warn => "33",
            Paint::Good => "32",
            Paint::Note => "36",
            Paint::Heading => "1",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    }

    fn severity(&self, s: Severity) -> String {
        let paint = match s {
            Severity::Error => Paint::Bad,
            Severity::Warning => Paint::Warn,
            Severity::Info => Paint::Note,
        };
        self.paint(paint, &format!("[{}]", s.as_str()))
    }

    fn outcome(&self, o: Outcome, padded: &str) -> String {
        let paint = if o.reached() {
            Paint::Good
        } else if o == Outcome::Incomplete {
            Paint::Warn
        } else {
            Paint::Bad
        };
        self.paint(paint, padded)
    }

    /// `first` then `text`, wrapped to the width with `indent` spaces on the following lines.
    fn wrap(&self, first: &str, text: &str, indent: usize) -> String {
        let Some(width) = self.width.filter(|w| *w > indent + 20) else {
            return format!("{first}{text}");
        };
        let mut out = String::from(first);
        let mut col = visible_len(first);
        for (i, word) in text.split(' ').enumerate() {
            let len = visible_len(word);
            let gap = usize::from(i > 0);
            // Break before a word that does not fit, unless the line holds only the indent.
            if col + gap + len > width && col > indent {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = indent;
            } else if gap == 1 {
                out.push(' ');
                col += 1;
            }
            out.push_str(word);
            col += len;
        }
        out
    }
}

/// Characters a terminal shows: SGR sequences (`ESC [ ... m`) take no room.
fn visible_len(s: &str) -> usize {
    let mut len = 0;
    let mut in_escape = false;
    for c in s.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => len += 1,
        }
    }
    len
}

/// Shortens `s` to `max` characters with an ellipsis.
pub(super) fn fit(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Replaces control characters (terminal escapes included) from capture data.
pub(super) fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

fn destination(a: &Attempt) -> String {
    let required = match &a.required {
        Some(r) => format!(" [{}]", r.purpose),
        None if a.destination.name.is_some() => " [not required]".to_string(),
        None => String::new(),
    };
    clean(&format!("{}{required}", a.destination_label()))
}

/// `TLS 1.2, issuer CN` / `TLS 1.3, certificate not visible` / `-`.
fn tls_summary(a: &Attempt) -> String {
    let Some(tls) = &a.tls else { return "-".into() };
    let version = match (tls.version, tls.client_max_version) {
        (Some(v), _) => v.to_string(),
        (None, Some(offered)) => format!("no ServerHello, client offered up to {offered}"),
        (None, None) => "TLS".to_string(),
    };
    let issuer = match (tls.issuer(), tls.version) {
        (Some(issuer), _) => {
            let cn = issuer
                .rsplit("CN=")
                .next()
                .unwrap_or(issuer)
                .split(',')
                .next()
                .unwrap_or_default();
            format!("issuer {}", clean(cn.trim()))
        }
        (None, Some("TLS 1.3")) => "certificate not visible (TLS 1.3)".into(),
        (None, _) => "no certificate seen".into(),
    };
    let alert = tls
        .alert
        .as_ref()
        .map(|x| format!(", {} alert from {}", x.description, x.from))
        .unwrap_or_default();
    format!("{version}, {issuer}{alert}")
}

fn write_finding<W: Write>(out: &mut W, f: &Finding, st: &Style) -> io::Result<()> {
    let head = format!("  {} {}: ", st.severity(f.severity), f.code);
    writeln!(out, "{}", st.wrap(&head, &clean(&f.title), 4))?;
    writeln!(out, "{}", st.wrap("    ", &clean(&f.detail), 4))?;
    writeln!(out, "{}", st.wrap("    Fix: ", &clean(&f.remediation), 4))?;
    if !f.frames.is_empty() {
        let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
        writeln!(out, "{}", st.wrap("    Frames: ", &frames.join(", "), 4))?;
    }
    if let Some(filter) = &f.wireshark_filter {
        // Never wrapped: it is meant to be copied whole.
        writeln!(out, "    Wireshark: {}", clean(filter))?;
    }
    Ok(())
}

/// The required-URL rows the capture says something about (failed first), and
/// how many it says nothing about; `capdoc urls` lists the whole table.
fn write_endpoints<W: Write>(out: &mut W, r: &CaptureReport, st: &Style) -> io::Result<()> {
    let seen: Vec<&EndpointCoverage> = r
        .endpoints_by_status()
        .into_iter()
        .filter(|e| e.status != Coverage::NotSeen)
        .collect();
    if seen.is_empty() {
        return Ok(());
    }
    writeln!(out, "{}", st.paint(Paint::Heading, "Required URLs"))?;
    let width = seen
        .iter()
        .map(|e| format!("{}:{}", e.pattern, e.port).chars().count())
        .max()
        .unwrap_or(0);
    for e in &seen {
        let (word, paint) = match e.status {
            Coverage::Failed => ("failed ", Paint::Bad),
            _ => ("reached", Paint::Good),
        };
        let ids: Vec<String> = e.attempts.iter().map(|id| format!("#{id}")).collect();
        writeln!(
            out,
            "  {}  {:<width$}  {} ({})",
            st.paint(paint, word),
            clean(&format!("{}:{}", e.pattern, e.port)),
            clean(&e.purpose),
            ids.join(" ")
        )?;
    }
    let not_seen = r.endpoints.len() - seen.len();
    if not_seen > 0 {
        writeln!(out, "  {not_seen} more rows of the table were not seen in this capture")?;
    }
    writeln!(out)
}

/// The report with the default style (no colour, no width limit).
pub fn write<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    write_styled(out, r, &Style::default())
}

pub fn write_styled<W: Write>(out: &mut W, r: &CaptureReport, st: &Style) -> io::Result<()> {
    writeln!(
        out,
        "{}",
        st.paint(Paint::Heading, &format!("== {} ==", clean(&r.file)))
    )?;
    if let Some(error) = &r.error {
        writeln!(out, "{}  {}", st.paint(Paint::Bad, "ERROR"), clean(error))?;
        return writeln!(out);
    }
    let status = match r.verdict.status {
        VerdictStatus::Healthy => "HEALTHY",
        VerdictStatus::Problems => "PROBLEMS",
        VerdictStatus::Inconclusive => "INCONCLUSIVE",
    };
    let status = match r.verdict.status {
        VerdictStatus::Healthy => st.paint(Paint::Good, status),
        VerdictStatus::Problems => st.paint(Paint::Bad, status),
        VerdictStatus::Inconclusive => st.paint(Paint::Warn, status),
    };
    writeln!(
        out,
        "{}",
        st.wrap(&format!("Verdict: {status}: "), &clean(&r.verdict.summary), 9)
    )?;
    let c = &r.capture;
    let facts = format!(
        "{}{}, {} ({}), {} packets, {} bytes, {} to {}",
        c.format.unwrap_or("?"),
        c.compressed.map(|z| format!(" ({z})")).unwrap_or_default(),
        c.link_types.join("/"),
        match c.interfaces.len() {
            1 => "1 interface".to_string(),
            n => format!("{n} interfaces"),
        },
        c.packets,
        c.bytes,
        c.start.as_deref().unwrap_or("?"),
        c.end.as_deref().unwrap_or("?"),
    );
    writeln!(out, "{}", st.wrap("Capture: ", &facts, 9))?;
    // Capture quality first: it says how far the rest can be trusted.
    let (quality, problems): (Vec<&Finding>, Vec<&Finding>) =
        r.findings.iter().partition(|f| f.code.starts_with("capture-"));
    let w = &c.windows;
    let windows_facts = w.copies_folded > 0 || w.dropped_frames > 0 || c.connections_already_open > 0;
    if !c.warnings.is_empty() || !quality.is_empty() || windows_facts {
        writeln!(out, "\n{}", st.paint(Paint::Heading, "Capture quality"))?;
        if let Some(application) = &c.application {
            writeln!(out, "{}", st.wrap("  written by: ", &clean(application), 4))?;
        }
        if let Some(os) = &c.os {
            writeln!(out, "{}", st.wrap("  captured on: ", &clean(os), 4))?;
        }
        if c.interfaces.len() > 1 {
            let names: Vec<String> = c
                .interfaces
                .iter()
                .map(|i| format!("{} ({})", i.name.as_deref().unwrap_or("unnamed"), i.link_type))
                .collect();
            writeln!(out, "{}", st.wrap("  interfaces: ", &clean(&names.join(", ")), 4))?;
        }
        if c.connections_already_open > 0 {
            let line = format!(
                "{} TCP connections were already open when the capture started (their SYN is not in it)",
                c.connections_already_open
            );
            writeln!(out, "{}", st.wrap("  ", &line, 4))?;
        }
        if w.copies_folded > 0 {
            let line = format!(
                "{} copies of packets logged at several stack components were counted once (counted on: {})",
                w.copies_folded,
                clean(&w.counted_on.join(", "))
            );
            writeln!(out, "{}", st.wrap("  ", &line, 4))?;
        }
        if w.dropped_frames > 0 {
            writeln!(
                out,
                "  {} packets were dropped inside the capturing host",
                w.dropped_frames
            )?;
        }
        for warning in &c.warnings {
            writeln!(out, "{}", st.wrap("  warning: ", &clean(warning), 4))?;
        }
        for f in &quality {
            write_finding(out, f, st)?;
        }
        writeln!(out)?;
    } else {
        writeln!(out)?;
    }
    if !problems.is_empty() {
        writeln!(out, "{}", st.paint(Paint::Heading, "Findings"))?;
        for f in &problems {
            write_finding(out, f, st)?;
        }
        writeln!(out)?;
    }
    write_endpoints(out, r, st)?;
    let failed: Vec<&Attempt> = r.attempts.iter().filter(|a| a.outcome.failed()).collect();
    if !failed.is_empty() {
        writeln!(out, "{}", st.paint(Paint::Heading, "Failed attempts"))?;
        for a in &failed {
            let outcome = st.outcome(a.outcome, a.outcome.as_str());
            let line = format!(
                "#{} {} -> {}: {outcome} ({})",
                a.id,
                a.client(),
                destination(a),
                clean(&a.detail)
            );
            writeln!(out, "{}", st.wrap("  ", &line, 5))?;
            let frames: Vec<String> = a.frames.iter().map(u64::to_string).collect();
            writeln!(
                out,
                "     frames {}; filter: {}",
                frames.join(","),
                clean(&a.wireshark_filter.text())
            )?;
        }
        writeln!(out)?;
    }
    if !r.attempts.is_empty() {
        writeln!(out, "{}", st.paint(Paint::Heading, "All attempts"))?;
        let rows: Vec<[String; 9]> = r
            .attempts
            .iter()
            .map(|a| {
                let start = a.start();
                [
                    a.id.to_string(),
                    start.get(11..23).unwrap_or(&start).to_string(),
                    a.client().to_string(),
                    destination(a),
                    a.outcome.as_str().to_string(),
                    a.conn_state.to_string(),
                    a.syn_retransmits.to_string(),
                    a.http_status.map_or_else(|| "-".to_string(), |s| s.to_string()),
                    tls_summary(a),
                ]
            })
            .collect();
        let header = [
            "id",
            "time (UTC)",
            "client",
            "destination",
            "outcome",
            "state",
            "SYN rtx",
            "HTTP",
            "TLS",
        ];
        let mut widths = header.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        // On a narrow terminal the two wide columns (destination, TLS) give up
        // room first, down to a floor that keeps them recognisable.
        const DESTINATION: usize = 3;
        const TLS: usize = 8;
        // Still too wide: the client (usually the same host on every row), then the
        // connection state, are left out.
        const CLIENT: usize = 2;
        const STATE: usize = 5;
        let mut shown = [true; 9];
        let natural = widths;
        if let Some(width) = st.width {
            let total = |w: &[usize; 9], shown: &[bool; 9]| {
                let columns = w.iter().zip(shown).filter(|(_, s)| **s);
                2 + columns.clone().map(|(w, _)| w).sum::<usize>() + 2 * (columns.count() - 1)
            };
            for (column, floor) in [(TLS, 12), (DESTINATION, 30)] {
                let excess = total(&widths, &shown).saturating_sub(width);
                widths[column] = widths[column].saturating_sub(excess).max(floor.min(widths[column]));
            }
            for column in [CLIENT, STATE] {
                if total(&widths, &shown) > width {
                    shown[column] = false;
                }
            }
            for (column, floor) in [(TLS, 6), (DESTINATION, 16)] {
                let excess = total(&widths, &shown).saturating_sub(width);
                widths[column] = widths[column].saturating_sub(excess).max(floor.min(widths[column]));
            }
            // Room freed by a hidden column goes back to the shortened ones.
            for column in [DESTINATION, TLS] {
                let slack = width.saturating_sub(total(&widths, &shown));
                widths[column] = natural[column].min(widths[column] + slack);
            }
        }
        let line = |cells: &[String], outcome: Option<Outcome>| -> String {
            cells
                .iter()
                .zip(widths)
                .enumerate()
                .filter(|(i, _)| shown[*i])
                .map(|(i, (c, w))| {
                    let padded = format!("{:<w$}", fit(c, w));
                    match outcome {
                        Some(o) if i == 4 => st.outcome(o, &padded),
                        _ => padded,
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(out, "  {}", line(&header.map(str::to_string), None))?;
        for (row, a) in rows.iter().zip(&r.attempts) {
            writeln!(out, "  {}", line(row, Some(a.outcome)))?;
        }
        writeln!(out)?;
    }
    write_attempt_groups(out, r, st)
}

/// Attempts beyond `--max-listed`, one line per destination and outcome.
fn write_attempt_groups<W: Write>(out: &mut W, r: &CaptureReport, st: &Style) -> io::Result<()> {
    if r.attempt_groups.is_empty() {
        return Ok(());
    }
    let unlisted: u64 = r.attempt_groups.iter().map(|g| g.count).sum();
    writeln!(
        out,
        "{}",
        st.paint(
            Paint::Heading,
            &format!("Attempts not listed ({unlisted}), by destination and outcome")
        )
    )?;
    for g in &r.attempt_groups {
        let line = format!(
            "{} more -> {}: {} ({} listed above; {} to {})",
            g.count,
            clean(&g.destination_label()),
            st.outcome(g.outcome, g.outcome.as_str()),
            g.listed,
            g.first_start.get(11..23).unwrap_or(&g.first_start),
            g.last_start.get(11..23).unwrap_or(&g.last_start),
        );
        writeln!(out, "{}", st.wrap("  ", &line, 5))?;
        writeln!(out, "     filter: {}", clean(&g.wireshark_filter))?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_indents() {
        let st = Style {
            color: false,
            width: Some(30),
        };
        let wrapped = st.wrap("    Fix: ", "allow outbound TCP port 443 to the destination please", 4);
        assert!(wrapped.lines().all(|l| l.chars().count() <= 30), "{wrapped}");
        assert!(wrapped.lines().skip(1).all(|l| l.starts_with("    ")));
        assert_eq!(wrapped.split_whitespace().count(), 10);
        assert_eq!(Style::default().wrap("a: ", "b c", 2), "a: b c");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(fit("abc", 4), "abc");
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = Style::default();
        assert_eq!(plain.severity(Severity::Error), "[error]");
        let coloured = Style {
            color: true,
            width: None,
        };
        assert_eq!(coloured.severity(Severity::Error), "\x1b[1;31m[error]\x1b[0m");
        assert_eq!(visible_len(&coloured.severity(Severity::Error)), 7);
    }

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(clean("a\u{1b}[31mb\n"), "a\u{fffd}[31mb\u{fffd}");
    }
}
