//! The set of certificate issuers expected on the connector's cloud endpoints.
//! An inspecting proxy re-signs the server certificate with its own CA, which
//! shows in the leaf's issuer (organization and common name): that is what is
//! compared. The set is a data file, replaceable with `--ca-set` (the same
//! tab-separated format, or PEM certificates whose subjects are the issuers).

use super::TableError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    pub organization: Option<String>,
    pub common_name: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CaSet {
    pub name: String,
    pub date: String,
    pub issuers: Vec<Issuer>,
}

const AZURE: &str = include_str!("data/azure-ca-set.tsv");

fn same(a: &Option<String>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.trim().eq_ignore_ascii_case(b.trim()),
        (None, None) => true,
        _ => false,
    }
}

impl CaSet {
    pub fn azure() -> CaSet {
        CaSet::parse_tsv(AZURE, "azure-tls-issuers").expect("the embedded CA set is valid (tested)")
    }

    /// Reads a user's set: PEM certificates, or the tab-separated format.
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<CaSet, TableError> {
        let text = String::from_utf8_lossy(bytes);
        if text.contains("-----BEGIN CERTIFICATE-----") {
            return Self::parse_pem(bytes, source_name);
        }
        Self::parse_tsv(&text, source_name)
    }

    fn parse_tsv(text: &str, source_name: &str) -> Result<CaSet, TableError> {
        let mut set = CaSet {
            name: source_name.to_string(),
            date: String::new(),
            issuers: Vec::new(),
        };
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(meta) = line.strip_prefix('@') {
                match meta.split_once(['\t', ' ']) {
                    Some(("name", v)) => set.name = v.trim().to_string(),
                    Some(("date", v)) => set.date = v.trim().to_string(),
                    _ => {
                        return Err(TableError {
                            source_name: source_name.into(),
                            line: i + 1,
                            reason: "unknown metadata".into(),
                        })
                    }
                }
                continue;
            }
            let Some((org, cn)) = line.split_once('\t') else {
                return Err(TableError {
                    source_name: source_name.into(),
                    line: i + 1,
                    reason: "expected: organization<TAB>common name".into(),
                });
            };
            set.issuers.push(Issuer {
                organization: Some(org.trim().to_string()).filter(|s| !s.is_empty()),
                common_name: Some(cn.trim().to_string()).filter(|s| !s.is_empty()),
            });
        }
        Ok(set)
    }

    fn parse_pem(bytes: &[u8], source_name: &str) -> Result<CaSet, TableError> {
        let mut set = CaSet {
            name: source_name.to_string(),
            date: String::new(),
            issuers: Vec::new(),
        };
        for (i, pem) in x509_parser::pem::Pem::iter_from_buffer(bytes).enumerate() {
            let err = |reason: String| TableError {
                source_name: source_name.into(),
                line: 0,
                reason,
            };
            let pem = pem.map_err(|e| err(format!("PEM block {}: {e}", i + 1)))?;
            let cert = pem
                .parse_x509()
                .map_err(|e| err(format!("certificate {}: {e}", i + 1)))?;
            let subject = cert.subject();
            set.issuers.push(Issuer {
                organization: subject
                    .iter_organization()
                    .next()
                    .and_then(|a| a.as_str().ok())
                    .map(str::to_string),
                common_name: subject
                    .iter_common_name()
                    .next()
                    .and_then(|a| a.as_str().ok())
                    .map(str::to_string),
            });
        }
        Ok(set)
    }

    /// Whether a leaf issued by (organization, common name) is expected.
    pub fn expects(&self, organization: Option<&str>, common_name: Option<&str>) -> bool {
        self.issuers
            .iter()
            .any(|i| same(&i.organization, organization) && same(&i.common_name, common_name))
    }

    pub fn label(&self) -> String {
        if self.date.is_empty() {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.date)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_set_knows_the_azure_issuers() {
        let set = CaSet::azure();
        assert!(set.expects(
            Some("Microsoft Corporation"),
            Some("Microsoft Azure RSA TLS Issuing CA 04")
        ));
        assert!(!set.expects(
            Some("Contoso Inspection"),
            Some("Microsoft Azure RSA TLS Issuing CA 04")
        ));
        assert!(!set.expects(None, None));
    }
}
