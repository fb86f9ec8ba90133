//! Numbers and addresses appended to strings without `format!`: a report
//! writes them tens of thousands of times (`ip:port`, addresses, display
//! filters), and the formatting machinery cost more than the rest of the
//! report's logic.

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};

/// Appends `n` in decimal.
pub fn push_num(out: &mut String, n: impl Into<u64>) {
    // itoa writes two digits per step from a table, as serde_json does for the report's numbers.
    out.push_str(itoa::Buffer::new().format(n.into()));
}

/// Appends an address as `Display` writes it.
pub fn push_ip(out: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_num(out, octet);
            }
        }
        // Rare in these captures, and `::` compression is best left to std.
        IpAddr::V6(v6) => write!(out, "{v6}").expect("writing to a String cannot fail"),
    }
}

/// An address as `Display` writes it.
pub fn ip(ip: IpAddr) -> String {
    let mut out = String::with_capacity(15);
    push_ip(&mut out, ip);
    out
}

/// `ip:port`, IPv6 in brackets: as `Display` writes it.
pub fn socket(addr: SocketAddr) -> String {
    let mut out = String::with_capacity(21);
    push_socket(&mut out, addr);
    out
}

/// Appends [`socket`]'s text.
pub fn push_socket(out: &mut String, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            push_ip(out, IpAddr::V4(*v4.ip()));
            out.push(':');
            push_num(out, v4.port());
        }
        // Keeps std's spelling of scope ids.
        SocketAddr::V6(v6) => write!(out, "{v6}").expect("writing to a String cannot fail"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_as_display() {
        for n in [0u64, 7, 10, 99, 65_535, u64::from(u32::MAX), u64::MAX] {
            let mut s = String::new();
            push_num(&mut s, n);
            assert_eq!(s, n.to_string());
        }
        for addr in [
            "0.0.0.0:0",
            "10.20.1.145:39011",
            "255.255.255.255:65535",
            "[2001:db8::1]:443",
            "[fe80::1%3]:80",
            "[::ffff:192.0.2.1]:8080",
        ] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(socket(addr), addr.to_string());
            assert_eq!(ip(addr.ip()), addr.ip().to_string());
        }
    }
}
