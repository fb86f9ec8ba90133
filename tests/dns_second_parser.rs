//! capdoc reads DNS in place with `domain`; simple-dns builds every record of a
//! message instead. Both must reduce each DNS message of the bundled and public
//! captures (UDP, ports 53 and 5355) to the same question, response code,
//! addresses and CNAME chain.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use capdoc::proto::dns::{self, DnsMessage};
use simple_dns::rdata::RData;
use simple_dns::{Packet, PacketFlag, RCODE};

/// The same reduction as `dns::parse`, from simple-dns's records. Names are
/// compared as lower-case text, which is what `dns::parse` reports.
///
/// simple-dns 0.13 takes the extended response code from the OPT record's
/// lowest TTL byte, where RFC 6891 section 6.1.3 puts it in the highest: for a
/// message with an OPT record, the code is `None` and not compared (the unit
/// tests of `dns::parse` cover it).
fn reduce(payload: &[u8]) -> Option<(DnsMessage, Option<u8>)> {
    let packet = Packet::parse(payload).ok()?;
    let text = |name: &simple_dns::Name<'_>| {
        let mut text = name.to_string().to_ascii_lowercase();
        if text.ends_with('.') {
            text.pop();
        }
        text
    };
    let rcode = match packet.rcode() {
        RCODE::NoError => 0,
        RCODE::FormatError => 1,
        RCODE::ServerFailure => 2,
        RCODE::NameError => 3,
        RCODE::NotImplemented => 4,
        RCODE::Refused => 5,
        _ => 15,
    };
    let rcode = packet.opt().is_none().then_some(rcode);
    let mut message = DnsMessage {
        id: packet.id(),
        response: packet.has_flags(PacketFlag::RESPONSE),
        rcode: rcode.unwrap_or_default(),
        question: packet.questions.first().map(|q| text(&q.qname)),
        addresses: Vec::new(),
        cnames: Vec::new(),
    };
    let Some(asked) = message.question.clone() else {
        return Some((message, rcode));
    };
    let mut current = asked.clone();
    for _ in 0..16 {
        let mut next = None;
        for rr in packet.answers.iter().filter(|rr| text(&rr.name) == current) {
            match &rr.rdata {
                RData::A(a) => message.addresses.push(IpAddr::V4(Ipv4Addr::from(a.address))),
                RData::AAAA(a) => message.addresses.push(IpAddr::V6(Ipv6Addr::from(a.address))),
                RData::CNAME(target) => next = Some(text(&target.0)),
                _ => {}
            }
        }
        match next {
            Some(n) if n != asked && !message.cnames.contains(&n) => {
                message.cnames.push(n.clone());
                current = n;
            }
            _ => break,
        }
    }
    Some((message, rcode))
}

#[test]
fn both_dns_parsers_read_every_captured_message_alike() {
    let mut files = common::captures_under(&common::project_dir().join("captures"));
    files.extend(common::public_captures());
    let (mut messages, mut answers, mut chains, mut with_opt) = (0, 0, 0, 0);
    for path in &files {
        for payload in common::payloads::dns_payloads(path) {
            let ours = dns::parse(&payload);
            let theirs = reduce(&payload).map(|(mut message, rcode)| {
                with_opt += usize::from(rcode.is_none());
                message.rcode = rcode.or(ours.as_ref().map(|m| m.rcode)).unwrap_or_default();
                message
            });
            assert_eq!(ours, theirs, "{}: a DNS message read differently", path.display());
            if let Some(m) = ours {
                messages += 1;
                answers += usize::from(!m.addresses.is_empty());
                chains += usize::from(!m.cnames.is_empty());
            }
        }
    }
    eprintln!("{messages} messages, {answers} with addresses, {chains} with CNAMEs, {with_opt} with an OPT record");
    // The captures hold real lookups: a reader that parses nothing agrees too.
    assert!(
        messages > 100 && answers > 20 && chains > 2,
        "{messages} {answers} {chains}"
    );
}
