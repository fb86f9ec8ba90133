//! The terminal report: verdict first, then what failed with its evidence,
//! then every attempt in a table.

use std::io::{self, Write};

use super::model::*;

/// Replaces control characters (terminal escapes included) from capture data.
fn clean(s: &str) -> String {
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
    let issuer = match (&tls.issuer, tls.version) {
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

fn write_finding<W: Write>(out: &mut W, f: &Finding) -> io::Result<()> {
    writeln!(out, "  [{}] {}: {}", f.severity.as_str(), f.code, clean(&f.title))?;
    writeln!(out, "    {}", clean(&f.detail))?;
    writeln!(out, "    Fix: {}", clean(&f.remediation))?;
    if !f.frames.is_empty() {
        let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
        writeln!(out, "    Frames: {}", frames.join(", "))?;
    }
    if let Some(filter) = &f.wireshark_filter {
        writeln!(out, "    Wireshark: {}", clean(filter))?;
    }
    Ok(())
}

pub fn write<W: Write>(out: &mut W, r: &CaptureReport) -> io::Result<()> {
    writeln!(out, "== {} ==", clean(&r.file))?;
    if let Some(error) = &r.error {
        writeln!(out, "ERROR  {}", clean(error))?;
        return writeln!(out);
    }
    let status = match r.verdict.status {
        VerdictStatus::Healthy => "HEALTHY",
        VerdictStatus::Problems => "PROBLEMS",
        VerdictStatus::Inconclusive => "INCONCLUSIVE",
    };
    writeln!(out, "Verdict: {status}: {}", clean(&r.verdict.summary))?;
    let c = &r.capture;
    writeln!(
        out,
        "Capture: {}{}, {} ({}), {} packets, {} bytes, {} to {}",
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
    )?;
    // Capture quality first: it says how far the rest can be trusted.
    let (quality, problems): (Vec<&Finding>, Vec<&Finding>) =
        r.findings.iter().partition(|f| f.code.starts_with("capture-"));
    let w = &c.windows;
    let windows_facts = w.copies_folded > 0 || w.dropped_frames > 0 || c.connections_already_open > 0;
    if !c.warnings.is_empty() || !quality.is_empty() || windows_facts {
        writeln!(out, "\nCapture quality")?;
        if let Some(application) = &c.application {
            writeln!(out, "  written by: {}", clean(application))?;
        }
        if let Some(os) = &c.os {
            writeln!(out, "  captured on: {}", clean(os))?;
        }
        if c.interfaces.len() > 1 {
            let names: Vec<String> = c
                .interfaces
                .iter()
                .map(|i| format!("{} ({})", i.name.as_deref().unwrap_or("unnamed"), i.link_type))
                .collect();
            writeln!(out, "  interfaces: {}", clean(&names.join(", ")))?;
        }
        if c.connections_already_open > 0 {
            writeln!(
                out,
                "  {} TCP connections were already open when the capture started (their SYN is not in it)",
                c.connections_already_open
            )?;
        }
        if w.copies_folded > 0 {
            writeln!(
                out,
                "  {} copies of packets logged at several stack components were counted once (counted on: {})",
                w.copies_folded,
                clean(&w.counted_on.join(", "))
            )?;
        }
        if w.dropped_frames > 0 {
            writeln!(
                out,
                "  {} packets were dropped inside the capturing host",
                w.dropped_frames
            )?;
        }
        for warning in &c.warnings {
            writeln!(out, "  warning: {}", clean(warning))?;
        }
        for f in &quality {
            write_finding(out, f)?;
        }
        writeln!(out)?;
    } else {
        writeln!(out)?;
    }
    if !problems.is_empty() {
        writeln!(out, "Findings")?;
        for f in &problems {
            write_finding(out, f)?;
        }
        writeln!(out)?;
    }
    let failed: Vec<&Attempt> = r.attempts.iter().filter(|a| a.outcome.failed()).collect();
    if !failed.is_empty() {
        writeln!(out, "Failed attempts")?;
        for a in &failed {
            writeln!(
                out,
                "  #{} {} -> {}: {} ({})",
                a.id,
                a.client,
                destination(a),
                a.outcome.as_str(),
                clean(&a.detail)
            )?;
            let frames: Vec<String> = a.frames.iter().map(u64::to_string).collect();
            writeln!(
                out,
                "     frames {}; filter: {}",
                frames.join(","),
                clean(&a.wireshark_filter)
            )?;
        }
        writeln!(out)?;
    }
    if !r.attempts.is_empty() {
        writeln!(out, "All attempts")?;
        let rows: Vec<[String; 9]> = r
            .attempts
            .iter()
            .map(|a| {
                [
                    a.id.to_string(),
                    a.start.get(11..23).unwrap_or(&a.start).to_string(),
                    a.client.clone(),
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
        let line = |cells: &[String]| -> String {
            cells
                .iter()
                .zip(widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        };
        writeln!(out, "  {}", line(&header.map(str::to_string)))?;
        for row in &rows {
            writeln!(out, "  {}", line(row))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(clean("a\u{1b}[31mb\n"), "a\u{fffd}[31mb\u{fffd}");
    }
}
