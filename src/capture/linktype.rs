//! Link-layer header types, as numbered by the tcpdump.org LINKTYPE registry
//! (<https://www.tcpdump.org/linktypes.html>), which both pcap and pcapng use.

use std::fmt;

/// A LINKTYPE_ value from a pcap file header or a pcapng interface description.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkType(pub u32);

impl LinkType {
    pub const NULL: LinkType = LinkType(0);
    pub const ETHERNET: LinkType = LinkType(1);
    /// OpenBSD's DLT_RAW value; Wireshark reads it as raw IP.
    pub const RAW_OPENBSD: LinkType = LinkType(12);
    /// DLT_RAW on some BSDs (14) is also raw IP.
    pub const RAW_BSD: LinkType = LinkType(14);
    pub const RAW: LinkType = LinkType(101);
    pub const IEEE802_11: LinkType = LinkType(105);
    pub const LOOP: LinkType = LinkType(108);
    pub const LINUX_SLL: LinkType = LinkType(113);
    pub const IPV4: LinkType = LinkType(228);
    pub const IPV6: LinkType = LinkType(229);
    pub const LINUX_SLL2: LinkType = LinkType(276);

    /// The registry name without the `LINKTYPE_` prefix, or `LINKTYPE_<n>` for
    /// values capdoc has no name for. This is the spelling used in reports.
    pub fn name(self) -> String {
        match self.known_name() {
            Some(name) => name.to_string(),
            None => format!("LINKTYPE_{}", self.0),
        }
    }

    fn known_name(self) -> Option<&'static str> {
        Some(match self {
            Self::NULL => "NULL",
            Self::ETHERNET => "ETHERNET",
            Self::RAW | Self::RAW_OPENBSD | Self::RAW_BSD => "RAW",
            Self::IEEE802_11 => "IEEE802_11",
            Self::LOOP => "LOOP",
            Self::LINUX_SLL => "LINUX_SLL",
            Self::IPV4 => "IPV4",
            Self::IPV6 => "IPV6",
            Self::LINUX_SLL2 => "LINUX_SLL2",
            LinkType(127) => "IEEE802_11_RADIOTAP",
            LinkType(253) => "NETLINK",
            _ => return None,
        })
    }

    /// Whether capdoc can find an IP packet inside frames of this type.
    pub fn is_decodable(self) -> bool {
        matches!(
            self,
            Self::NULL
                | Self::ETHERNET
                | Self::RAW
                | Self::RAW_OPENBSD
                | Self::RAW_BSD
                | Self::LOOP
                | Self::LINUX_SLL
                | Self::IPV4
                | Self::IPV6
                | Self::LINUX_SLL2
                | Self::IEEE802_11
        )
    }
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_registry() {
        assert_eq!(LinkType(1).name(), "ETHERNET");
        assert_eq!(LinkType(276).name(), "LINUX_SLL2");
        assert_eq!(LinkType(12).name(), "RAW");
        assert_eq!(LinkType(4242).name(), "LINKTYPE_4242");
        assert!(LinkType(105).is_decodable());
        assert!(!LinkType(127).is_decodable());
    }
}
