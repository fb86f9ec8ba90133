//! The connector's required-URL tables: which names it must reach on which
//! ports, and why. The tables are data files compiled in (`data/*.tsv`) and
//! replaceable by a user's file of the same format.

pub mod ca_set;
pub mod service_tags;

use std::fmt;

/// How much a row matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Required,
    /// Tried first but with a documented fallback (Service Bus direct ports).
    Optional,
    /// From older versions of the documentation.
    Legacy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredEndpoint {
    /// As written in the table: `*.msappproxy.net`, `www.microsoft.com/pkiops`.
    pub pattern: String,
    pub port: u16,
    pub purpose: String,
    pub status: Status,
    /// Where the pattern's path starts (its `/`), found once: a report looks up
    /// thousands of names, each against every row.
    path_at: Option<usize>,
}

impl RequiredEndpoint {
    /// The pattern's host part (`www.microsoft.com`) and path, if any (`/pkiops`).
    fn host_and_path(&self) -> (&str, Option<&str>) {
        match self.path_at {
            Some(i) => (&self.pattern[..i], Some(&self.pattern[i..])),
            None => (&self.pattern, None),
        }
    }

    /// Whether `host` (and `path`, when known) falls under this row. A
    /// wildcard matches one or more labels under its suffix; case is ignored.
    pub fn matches(&self, host: &str, port: u16, path: Option<&str>) -> bool {
        port == self.port && self.matches_name(host.trim_end_matches('.'), path)
    }

    /// [`Self::matches`] on any port, for a host without its trailing dot.
    fn matches_name(&self, host: &str, path: Option<&str>) -> bool {
        let (pattern, want) = self.host_and_path();
        // Bytes, not str slicing: a crafted name may put a multi-byte character at a cut.
        let host = host.as_bytes();
        let host_ok = match pattern.strip_prefix("*.") {
            Some(suffix) => {
                let suffix = suffix.as_bytes();
                host.len() > suffix.len() + 1
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && host[host.len() - suffix.len() - 1] == b'.'
            }
            None => host.eq_ignore_ascii_case(pattern.as_bytes()),
        };
        host_ok
            && match (want, path) {
                (Some(want), Some(seen)) => seen
                    .as_bytes()
                    .get(..want.len())
                    .is_some_and(|start| start.eq_ignore_ascii_case(want.as_bytes())),
                _ => true,
            }
    }
}

#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub date: String,
    pub rows: Vec<RequiredEndpoint>,
}

#[derive(Debug, thiserror::Error)]
#[error("{source_name} line {line}: {reason}")]
pub struct TableError {
    pub source_name: String,
    pub line: usize,
    pub reason: String,
}

const PUBLIC: &str = include_str!("data/public.tsv");
const USGOV: &str = include_str!("data/usgov.tsv");

/// Names only the US Government cloud uses: seeing one picks its table.
const USGOV_MARKERS: [&str; 5] = [
    "msappproxy.us",
    "servicebus.usgovcloudapi.net",
    "login.windows.us",
    "microsoftonline.us",
    "microsoft.us",
];

/// Whether a name belongs to the US Government cloud's endpoints.
pub fn is_usgov_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').as_bytes();
    USGOV_MARKERS.iter().any(|marker| {
        let marker = marker.as_bytes();
        let Some(cut) = name.len().checked_sub(marker.len()) else {
            return false;
        };
        name[cut..].eq_ignore_ascii_case(marker) && (cut == 0 || name[cut - 1] == b'.')
    })
}

impl Table {
    /// The public-cloud table shipped with capdoc.
    pub fn public() -> Table {
        Table::parse(PUBLIC, "public").expect("the embedded table is valid (tested)")
    }

    /// The US Government cloud table shipped with capdoc.
    pub fn usgov() -> Table {
        Table::parse(USGOV, "usgov").expect("the embedded table is valid (tested)")
    }

    /// Parses the tab-separated format of `data/public.tsv`.
    pub fn parse(text: &str, source_name: &str) -> Result<Table, TableError> {
        let mut table = Table {
            name: source_name.to_string(),
            date: String::new(),
            rows: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let err = |reason: String| TableError {
                source_name: source_name.to_string(),
                line: i + 1,
                reason,
            };
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(meta) = line.strip_prefix('@') {
                let (key, value) = meta
                    .split_once(['\t', ' '])
                    .ok_or_else(|| err("metadata needs a value".into()))?;
                match key {
                    "name" => table.name = value.trim().to_string(),
                    "date" => table.date = value.trim().to_string(),
                    other => return Err(err(format!("unknown metadata @{other}"))),
                }
                continue;
            }
            let fields: Vec<&str> = line.split('\t').collect();
            let [pattern, port, purpose, status] = fields[..] else {
                return Err(err(format!("expected 4 tab-separated fields, found {}", fields.len())));
            };
            let port = port
                .parse()
                .map_err(|_| err(format!("port {port:?} is not a number 0-65535")))?;
            let status = match status {
                "required" => Status::Required,
                "optional" => Status::Optional,
                "legacy" => Status::Legacy,
                other => return Err(err(format!("status {other:?} is not required, optional or legacy"))),
            };
            table.rows.push(RequiredEndpoint {
                pattern: pattern.to_string(),
                port,
                purpose: purpose.to_string(),
                status,
                path_at: pattern.find('/'),
            });
        }
        Ok(table)
    }

    /// The most specific row for a destination: an exact name beats a wildcard,
    /// a current row beats a legacy one.
    pub fn lookup(&self, host: &str, port: u16, path: Option<&str>) -> Option<&RequiredEndpoint> {
        self.rows
            .iter()
            .filter(|r| r.matches(host, port, path))
            .min_by_key(|r| {
                (
                    r.status == Status::Legacy,
                    r.pattern.starts_with("*."),
                    usize::MAX - r.pattern.len(),
                )
            })
    }

    /// Whether `host` is a name of the table, on any of its ports.
    pub fn has_name(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        self.rows.iter().any(|r| r.matches_name(host, None))
    }

    /// `name (date)` as reports show it.
    pub fn label(&self) -> String {
        if self.date.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.date)
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Required => "required",
            Status::Optional => "optional",
            Status::Legacy => "legacy",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_parses() {
        let t = Table::public();
        assert!(t.rows.len() > 30);
        assert_eq!(t.date, "2026-11-23");
    }

    #[test]
    fn usgov_table_and_markers() {
        let t = Table::usgov();
        assert!(t.lookup("contoso.msappproxy.us", 443, None).is_some());
        assert!(t.lookup("contoso.msappproxy.net", 443, None).is_none());
        assert!(is_usgov_name("login.windows.us"));
        assert!(is_usgov_name("x.servicebus.usgovcloudapi.net"));
        assert!(!is_usgov_name("login.windows.net"));
        assert!(!is_usgov_name("notmicrosoft.us"));
    }

    #[test]
    fn wildcards_need_at_least_one_label() {
        let t = Table::public();
        assert!(t.lookup("contoso.msappproxy.net", 443, None).is_some());
        assert!(t.lookup("a.b.MSAPPPROXY.NET.", 443, None).is_some());
        assert!(t.lookup("msappproxy.net", 443, None).is_none());
        assert!(t.lookup("evilmsappproxy.net", 443, None).is_none());
        assert!(t.lookup("contoso.msappproxy.net", 80, None).is_none());
        assert!(t.has_name("a.b.MSAPPPROXY.NET."));
        assert!(!t.has_name("msappproxy.net") && !t.has_name("evilmsappproxy.net"));
    }

    #[test]
    fn non_ascii_names_do_not_panic() {
        let t = Table::public();
        let crafted = format!("a\u{e9}{}", "x".repeat(13));
        assert!(t.lookup(&crafted, 443, None).is_none());
        assert!(t.lookup("\u{e9}\u{e9}\u{e9}.msappproxy.net", 443, None).is_some());
    }

    #[test]
    fn paths_match_when_visible() {
        let t = Table::public();
        let row = t
            .lookup("www.microsoft.com", 80, Some("/pkiops/crl/x.crl"))
            .expect("row");
        assert_eq!(row.pattern, "www.microsoft.com/pkiops");
        let row = t.lookup("www.microsoft.com", 80, Some("/other")).expect("legacy row");
        assert_eq!(row.status, Status::Legacy);
        let row = t.lookup("WWW.microsoft.com", 80, Some("/PKIOPS/x")).expect("row");
        assert_eq!(row.pattern, "www.microsoft.com/pkiops");
        let row = t.lookup("www.microsoft.com", 80, Some("/pki")).expect("legacy row");
        assert_eq!(row.status, Status::Legacy);
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = Table::parse("a\t80\tx\trequired\nb\tport\tx\trequired\n", "mine.tsv").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().contains("mine.tsv line 2"));
    }
}
