//! Azure's "IP ranges and service tags" file (ServiceTags_Public_*.json from the
//! Microsoft download center): names the Azure service behind an address that no
//! DNS answer in the capture explains.

use std::net::IpAddr;

use serde::Deserialize;

use super::TableError;

#[derive(Deserialize)]
struct File {
    values: Vec<Tag>,
}

#[derive(Deserialize)]
struct Tag {
    name: String,
    properties: Properties,
}

#[derive(Deserialize)]
struct Properties {
    #[serde(rename = "addressPrefixes", default)]
    address_prefixes: Vec<String>,
}

/// An address prefix: network address and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Prefix {
    network: IpAddr,
    len: u8,
}

impl Prefix {
    fn parse(text: &str) -> Option<Prefix> {
        let (addr, len) = text.split_once('/')?;
        let network: IpAddr = addr.trim().parse().ok()?;
        let len: u8 = len.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        (len <= max).then_some(Prefix { network, len })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.len)).unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct ServiceTags {
    prefixes: Vec<(Prefix, String)>,
}

impl ServiceTags {
    pub fn parse(bytes: &[u8], source_name: &str) -> Result<ServiceTags, TableError> {
        let file: File = serde_json::from_slice(bytes).map_err(|e| TableError {
            source_name: source_name.to_string(),
            line: e.line(),
            reason: format!("not an Azure service tags file: {e}"),
        })?;
        let mut prefixes = Vec::new();
        for tag in file.values {
            for p in &tag.properties.address_prefixes {
                if let Some(prefix) = Prefix::parse(p) {
                    prefixes.push((prefix, tag.name.clone()));
                }
            }
        }
        Ok(ServiceTags { prefixes })
    }

    /// The most specific tag whose prefixes hold `ip`; among equally specific
    /// ones, a regional or service tag beats the catch-all `AzureCloud`.
    pub fn tag_of(&self, ip: IpAddr) -> Option<&str> {
        self.prefixes
            .iter()
            .filter(|(p, _)| p.contains(ip))
            .max_by_key(|(p, name)| (p.len, name != "AzureCloud", std::cmp::Reverse(name.len())))
            .map(|(_, name)| name.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"changeNumber": 1, "cloud": "Public", "values": [
        {"name": "AzureCloud", "id": "AzureCloud", "properties": {"addressPrefixes": ["203.0.113.0/24", "2001:db8::/32"]}},
        {"name": "AzureCloud.westeurope", "id": "AzureCloud.westeurope", "properties": {"addressPrefixes": ["203.0.113.0/25"]}},
        {"name": "AppProxy", "id": "AppProxy", "properties": {"addressPrefixes": ["203.0.113.0/25"]}}
    ]}"#;

    #[test]
    fn most_specific_tag_wins() {
        let tags = ServiceTags::parse(SAMPLE.as_bytes(), "sample").expect("parses");
        assert_eq!(tags.tag_of("203.0.113.5".parse().unwrap()), Some("AppProxy"));
        assert_eq!(tags.tag_of("203.0.113.200".parse().unwrap()), Some("AzureCloud"));
        assert_eq!(tags.tag_of("2001:db8::1".parse().unwrap()), Some("AzureCloud"));
        assert_eq!(tags.tag_of("198.51.100.1".parse().unwrap()), None);
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(Prefix::parse("10.0.0.0/33").is_none());
        assert!(Prefix::parse("0.0.0.0/0").is_some_and(|p| p.contains("192.0.2.1".parse().unwrap())));
        assert!(ServiceTags::parse(b"{}", "x").is_err());
    }
}
