//! DNS (RFC 1035) over UDP and TCP, read in place with `domain`'s lazily
//! parsed [`Message`]: which names were asked, what they resolved to
//! (following CNAME chains back to the name that was asked for), and which
//! lookups failed.

use std::net::IpAddr;
use std::sync::Arc;

use domain::base::iana::Rtype;
use domain::base::name::{Label, ParsedName, ToLabelIter};
use domain::base::{Message, ParsedRecord, RecordSection};
use domain::rdata::{Aaaa, Cname, A};
use smallvec::SmallVec;

/// Standard DNS, multicast DNS is left out (it names local hosts, not destinations).
pub const DNS_PORT: u16 = 53;
/// LLMNR (RFC 4795): Windows asks it for single-label names such as `wpad`.
pub const LLMNR_PORT: u16 = 5355;
/// CNAME hops followed before giving up (a loop, or crafted input).
const MAX_CHAIN: usize = 16;

/// One DNS message, reduced to what capdoc uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    pub response: bool,
    /// 0 no error, 2 SERVFAIL, 3 NXDOMAIN (RFC 1035 section 4.1.1); 15 for
    /// any code past REFUSED, extended ones (RFC 6891 section 6.1.3) included.
    pub rcode: u8,
    /// The first question's name, lower case, without the final dot.
    pub question: Option<String>,
    /// For each address in the answer: the asked name it belongs to.
    pub addresses: Vec<IpAddr>,
    /// The CNAME chain from the asked name, in order.
    pub cnames: Vec<String>,
}

impl DnsMessage {
    pub fn rcode_name(&self) -> &'static str {
        rcode_name(self.rcode)
    }
}

/// RFC 1035 / RFC 6895 names of response codes.
pub fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "error",
    }
}

/// A name found in the message, pointing into it.
type WireName<'a> = ParsedName<&'a [u8]>;

/// A name as text, lower case, without the final dot; a `.` or `\\` inside a
/// label is escaped as in zone files (RFC 1035 section 5.1), so a crafted
/// label cannot pass for two.
fn normal(name: &WireName<'_>) -> String {
    // Exactly the room of the usual name, whose text is two bytes shorter than
    // its wire form (the first length byte and the root label), so that a name
    // kept to the end of the capture needs no shrinking.
    let mut out = String::with_capacity(usize::from(name.compose_len()).saturating_sub(2));
    push_labels(&mut out, name.iter().map(Label::as_slice));
    out
}

/// [`normal`] of a name's labels, appended to `out`. The root label (the only
/// empty one a parsed name can hold) adds nothing.
fn push_labels<'a>(out: &mut String, labels: impl Iterator<Item = &'a [u8]>) {
    for (i, label) in labels.filter(|label| !label.is_empty()).enumerate() {
        if i > 0 {
            out.push('.');
        }
        // The usual label (letters, digits, hyphens) is copied byte for byte, in
        // lower case; any other byte sends the label to the careful path.
        let from = out.len();
        if label.iter().all(|&b| {
            let plain = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            if plain {
                out.push(char::from(b.to_ascii_lowercase()));
            }
            plain
        }) {
            continue;
        }
        out.truncate(from);
        for chunk in label.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '.' || c == '\\' {
                    out.push('\\');
                }
                crate::untrusted::push_char(out, c.to_ascii_lowercase());
            }
            if !chunk.invalid().is_empty() {
                out.push(char::REPLACEMENT_CHARACTER);
            }
        }
    }
}

/// Parses one DNS message (UDP payload, or one TCP message without its length prefix).
///
/// The message is read in place: names are not copied out of it, only the
/// text of those kept is written. It is still checked whole, so that other
/// traffic on port 53 is not taken for DNS: the reserved header bit must be
/// clear, every question, every record's owner name (its compression pointers
/// followed) and every record's length must fit the message, and the answers
/// read (A, AAAA, CNAME) must have well-formed data.
pub fn parse(payload: &[u8]) -> Option<DnsMessage> {
    let message = Message::from_slice(payload).ok()?;
    let header = message.header();
    // RFC 1035 section 4.1.1: Z is zero in every query and response.
    if header.z() {
        return None;
    }
    let mut questions = message.question();
    let asked = questions.next().transpose().ok()?.map(|q| q.into_qname());
    for question in &mut questions {
        question.ok()?;
    }
    let (answers, extended_rcode) = read_records(questions.answer().ok()?)?;
    let rcode = match (u16::from(extended_rcode) << 4) | u16::from(header.rcode().to_int()) {
        code @ 0..=5 => code as u8,
        _ => 15,
    };
    let mut message = DnsMessage {
        id: header.id(),
        response: header.qr(),
        rcode,
        question: None,
        addresses: Vec::new(),
        cnames: Vec::new(),
    };
    let Some(asked) = asked else {
        return Some(message);
    };
    // Walk the chain: asked -> CNAME -> ... -> A/AAAA. Records whose owner is not
    // on the chain (additional glue, other questions) do not name this address.
    // Names compare as DNS does, ignoring ASCII case (RFC 4343).
    let mut current = &asked;
    let mut chain: SmallVec<[&WireName<'_>; 4]> = SmallVec::new();
    for _ in 0..MAX_CHAIN {
        let mut next = None;
        for answer in &answers {
            match answer {
                Answer::Address { owner, address } if owner == current => message.addresses.push(*address),
                Answer::Alias { owner, target } if owner == current => next = Some(target),
                _ => {}
            }
        }
        // A name already on the chain ends it: no name is listed twice.
        let Some(target) = next else { break };
        if *target == asked || chain.contains(&target) {
            break;
        }
        chain.push(target);
        message.cnames.push(normal(target));
        current = target;
    }
    message.question = Some(normal(&asked));
    Some(message)
}

/// An answer record that can be on the chain from the asked name to its
/// addresses.
enum Answer<'a> {
    Address { owner: WireName<'a>, address: IpAddr },
    Alias { owner: WireName<'a>, target: WireName<'a> },
}

/// The answers a message's chain is walked over, read once: the walk goes
/// over them once per CNAME.
type Answers<'a> = SmallVec<[Answer<'a>; 8]>;

impl<'a> Answer<'a> {
    /// `Some(None)` for a record of another type or without data, `None` if
    /// its data does not parse.
    fn read(record: ParsedRecord<'a, [u8]>) -> Option<Option<Self>> {
        // An UPDATE (RFC 2136 section 2.4) puts its prerequisites where a
        // query's answers go: records of these types without data.
        if record.rdlen() == 0 {
            return Some(None);
        }
        let owner = record.owner();
        let answer = match record.rtype() {
            Rtype::A => Answer::Address {
                owner,
                address: record.into_record::<A>().ok()??.data().addr().into(),
            },
            Rtype::AAAA => Answer::Address {
                owner,
                address: record.into_record::<Aaaa>().ok()??.data().addr().into(),
            },
            Rtype::CNAME => Answer::Alias {
                owner,
                target: record
                    .into_record::<Cname<WireName<'a>>>()
                    .ok()??
                    .into_data()
                    .into_cname(),
            },
            _ => return Some(None),
        };
        Some(Some(answer))
    }
}

/// Reads every record of the answer, authority and additional sections;
/// `None` if one does not parse. Returns the answers that can be on a CNAME
/// chain, and the extended response code bits of the OPT record (RFC 6891
/// section 6.1.3), 0 without one.
fn read_records(mut records: RecordSection<'_, [u8]>) -> Option<(Answers<'_>, u8)> {
    const ANSWER: usize = 0;
    const ADDITIONAL: usize = 2;
    let mut answers = Answers::new();
    let mut extended_rcode = None;
    for section in ANSWER..=ADDITIONAL {
        for record in &mut records {
            let record = record.ok()?;
            if section == ANSWER {
                answers.extend(Answer::read(record)?);
            } else if section == ADDITIONAL && record.rtype() == Rtype::OPT {
                extended_rcode.get_or_insert((record.ttl().as_secs() >> 24) as u8);
            }
        }
        match records.next_section().ok()? {
            Some(next) => records = next,
            None => break,
        }
    }
    Some((answers, extended_rcode.unwrap_or(0)))
}

/// Splits a TCP DNS stream (RFC 1035 section 4.2.2: each message behind a
/// 2-byte length) into messages.
pub fn tcp_messages(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = stream;
    std::iter::from_fn(move || {
        let len = usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?]));
        let message = rest.get(2..2 + len)?;
        rest = &rest[2 + len..];
        Some(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use simple_dns::rdata::{RData, A, CNAME};
    use simple_dns::{Name, Packet, Question, ResourceRecord, CLASS, QCLASS, QTYPE, RCODE, TYPE};

    fn response(asked: &str, records: Vec<ResourceRecord<'static>>, rcode: RCODE) -> Vec<u8> {
        let mut p = Packet::new_reply(7);
        *p.rcode_mut() = rcode;
        p.questions.push(Question::new(
            Name::new_unchecked(asked).into_owned(),
            QTYPE::TYPE(TYPE::A),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        p.answers = records;
        p.build_bytes_vec().expect("builds")
    }

    fn rr(owner: &'static str, data: RData<'static>) -> ResourceRecord<'static> {
        ResourceRecord::new(Name::new_unchecked(owner), CLASS::IN, 60, data)
    }

    #[test]
    fn follows_the_cname_chain_to_the_asked_name() {
        let bytes = response(
            "contoso.msappproxy.net",
            vec![
                rr(
                    "contoso.msappproxy.net",
                    RData::CNAME(CNAME(Name::new_unchecked("cwap-nam1.cloudapp.net"))),
                ),
                rr("cwap-nam1.cloudapp.net", RData::A(A { address: 0xCB00_7105 })),
                rr("unrelated.example", RData::A(A { address: 0x0A00_0001 })),
            ],
            RCODE::NoError,
        );
        let m = parse(&bytes).expect("parses");
        assert!(m.response);
        assert_eq!(m.question.as_deref(), Some("contoso.msappproxy.net"));
        assert_eq!(m.cnames, vec!["cwap-nam1.cloudapp.net"]);
        assert_eq!(m.addresses, vec![IpAddr::from([203, 0, 113, 5])]);
    }

    #[test]
    fn nxdomain_and_garbage() {
        let m = parse(&response("nope.msappproxy.net", vec![], RCODE::NameError)).expect("parses");
        assert_eq!(m.rcode_name(), "NXDOMAIN");
        assert!(parse(&[1, 2, 3]).is_none());
    }

    #[test]
    fn cname_loops_end() {
        let bytes = response(
            "a.example",
            vec![
                rr("a.example", RData::CNAME(CNAME(Name::new_unchecked("b.example")))),
                rr("b.example", RData::CNAME(CNAME(Name::new_unchecked("a.example")))),
            ],
            RCODE::NoError,
        );
        assert_eq!(parse(&bytes).expect("parses").cnames, vec!["b.example"]);
    }

    /// Plain labels are lowered; a label with a dot or a backslash in it keeps
    /// them escaped, so it cannot pass for two labels; bytes that are not UTF-8
    /// become U+FFFD.
    #[test]
    fn names_are_lowered_and_odd_labels_escaped() {
        let labels: [&[u8]; 5] = [b"WPAD", b"a.b\\C", b"x\xffY", b"My_Host-1", b""];
        let mut out = String::new();
        push_labels(&mut out, labels.into_iter());
        assert_eq!(out, "wpad.a\\.b\\\\c.x\u{fffd}y.my_host-1");
        let mut out = String::from("k");
        push_labels(&mut out, [&b""[..]].into_iter());
        assert_eq!(out, "k", "the root name adds nothing");
    }

    fn message(id: u16, name: &str, response: bool) -> DnsMessage {
        DnsMessage {
            id,
            response,
            rcode: 0,
            question: Some(name.to_string()),
            addresses: if response {
                vec![IpAddr::from([203, 0, 113, 9])]
            } else {
                Vec::new()
            },
            cnames: Vec::new(),
        }
    }

    #[test]
    fn an_answer_pairs_with_the_newest_unanswered_question_of_its_id_and_name() {
        let mut log = DnsLog::default();
        for (frame, (id, name, response)) in [
            (1, "a.example", false),
            (1, "b.example", false),
            (1, "a.example", false),
            (1, "a.example", true),
            (1, "a.example", true),
            (1, "a.example", true),
        ]
        .into_iter()
        .enumerate()
        {
            log.record(message(id, name, response), frame as i64, frame as u64 + 1, "dns");
        }
        let answered: Vec<_> = log.lookups.iter().map(|l| (l.query_frame, l.answer_frame)).collect();
        // The third answer finds no question left: it is kept as a lookup of its own.
        assert_eq!(answered, [(1, Some(5)), (2, None), (3, Some(4)), (6, Some(6))]);
        assert_eq!(
            log.name_for(IpAddr::from([203, 0, 113, 9]), 10).map(|r| r.frame),
            Some(6)
        );
    }

    #[test]
    fn past_the_cap_only_the_newest_questions_are_searched() {
        let mut log = DnsLog::default();
        for i in 0..MAX_LOOKUPS + 1 {
            log.record(message(i as u16, "a.example", false), 0, i as u64 + 1, "dns");
        }
        assert_eq!((log.lookups.len(), log.lookups_dropped), (MAX_LOOKUPS, 1));
        let last = MAX_LOOKUPS - 1;
        log.record(message(last as u16, "a.example", true), 1, 9_000, "dns");
        log.record(message(0, "a.example", true), 1, 9_001, "dns");
        assert_eq!(log.lookups[last].answer_frame, Some(9_000));
        // The first question is out of the pairing window: its answer names the
        // address, but pairs with nothing and adds no lookup past the cap.
        assert_eq!(log.lookups[0].answer_frame, None);
        assert_eq!(log.lookups.len(), MAX_LOOKUPS);
        assert_eq!(
            log.name_for(IpAddr::from([203, 0, 113, 9]), 1).map(|r| r.frame),
            Some(9_001)
        );
    }

    /// A response to `A? a.example` (RFC 1035 section 4.1), header flags
    /// 0x8180: the question at offset 12, then one `answer` record at offset 27
    /// and the `additional` records (their count in the header).
    fn wire(answer: &[u8], additional: &[&[u8]]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, additional.len() as u8];
        m.extend_from_slice(b"\x01a\x07example\x00\x00\x01\x00\x01");
        m.extend_from_slice(answer);
        for record in additional {
            m.extend_from_slice(record);
        }
        m
    }

    /// `a.example` (at offset 12) A 203.0.113.1, TTL 60.
    const ANSWER_A: &[u8] = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xcb\x00\x71\x01";

    #[test]
    fn reads_a_hand_made_response() {
        let m = parse(&wire(ANSWER_A, &[])).expect("parses");
        assert_eq!((m.id, m.response, m.rcode), (0x1234, true, 0));
        assert_eq!(m.question.as_deref(), Some("a.example"));
        assert_eq!(m.addresses, vec![IpAddr::from([203, 0, 113, 1])]);
    }

    /// RFC 6891 section 6.1.3: the OPT record's TTL carries the response
    /// code's upper eight bits. BADVERS (16) is past REFUSED.
    #[test]
    fn an_extended_response_code_counts() {
        let opt = |ttl: [u8; 4]| {
            let mut r = vec![0, 0, 41, 0x04, 0xd0];
            r.extend_from_slice(&ttl);
            r.extend_from_slice(&[0, 0]);
            r
        };
        let badvers = parse(&wire(ANSWER_A, &[&opt([1, 0, 0, 0])])).expect("parses");
        assert_eq!(badvers.rcode_name(), "error");
        let plain = parse(&wire(ANSWER_A, &[&opt([0, 0, 0x80, 0])])).expect("parses");
        assert_eq!(plain.rcode_name(), "NOERROR", "the DO bit is not part of the code");
    }

    /// Other traffic on port 53 is not DNS: a message is used only when all of
    /// it parses, the sections capdoc does not read included.
    #[test]
    fn a_malformed_record_anywhere_rejects_the_message() {
        let long_a = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x05\xcb\x00\x71\x01\x00";
        assert!(parse(&wire(long_a, &[])).is_none(), "an A record of 5 bytes");
        // The owner points ahead, to the CNAME's own target at offset 39.
        let forward = b"\xc0\x27\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x0b\x01b\x07example\x00";
        assert!(parse(&wire(forward, &[])).is_none(), "a pointer forward");
        let backward = b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x0b\x01b\x07example\x00";
        assert!(parse(&wire(backward, &[])).is_some(), "the same record pointing back");
        let mut reserved = wire(ANSWER_A, &[]);
        reserved[3] |= 0x40;
        assert!(parse(&reserved).is_none(), "the reserved header bit set");
        let cut = &b"\x00\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x09\x03abc"[..];
        assert!(parse(&wire(ANSWER_A, &[cut])).is_none(), "a TXT record cut short");
        let text = &b"\x00\x00\x10\x00\x01\x00\x00\x00\x3c\x00\x04\x03abc"[..];
        assert!(parse(&wire(ANSWER_A, &[text])).is_some(), "the same record whole");
    }

    /// Owner names match the asked name whatever their case (RFC 4343).
    #[test]
    fn owners_match_ignoring_case() {
        let mut answer = b"\x01A\x07ExAmPlE\x00".to_vec();
        answer.extend_from_slice(&ANSWER_A[2..]);
        let m = parse(&wire(&answer, &[])).expect("parses");
        assert_eq!(m.addresses, vec![IpAddr::from([203, 0, 113, 1])]);
    }

    /// An UPDATE's prerequisite "no A record at a.example" (RFC 2136 section
    /// 2.4.3: class NONE, no data) is not an answer, and does not void the
    /// message.
    #[test]
    fn update_prerequisites_are_not_answers() {
        let mut update = wire(b"\xc0\x0c\x00\x01\x00\xfe\x00\x00\x00\x00\x00\x00", &[]);
        update[2..4].copy_from_slice(&[0x28, 0x00]);
        let m = parse(&update).expect("parses");
        assert_eq!((m.response, m.addresses.len()), (false, 0));
        assert_eq!(m.question.as_deref(), Some("a.example"));
    }

    #[test]
    fn tcp_framing() {
        let stream = [0, 2, 0xaa, 0xbb, 0, 1, 0xcc, 0, 5, 1];
        let messages: Vec<&[u8]> = tcp_messages(&stream).collect();
        assert_eq!(messages, vec![&[0xaa, 0xbb][..], &[0xcc][..]]);
    }
}

/// At most this many addresses are remembered, each with at most
/// [`MAX_NAMES_PER_ADDRESS`] names (the newest kept).
pub const MAX_ADDRESSES: usize = 65_536;
pub const MAX_NAMES_PER_ADDRESS: usize = 8;
/// Lookups remembered for the failure report and the report's list.
pub const MAX_LOOKUPS: usize = 4096;
/// Questions searched back for the one an answer pairs with.
const PAIRING_WINDOW: usize = 256;

/// A name that resolved to an address, and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// One copy per distinct name (up to [`crate::shared::Names`]' cap).
    pub name: Arc<str>,
    pub ts: i64,
    pub frame: u64,
}

/// A question and what became of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub name: String,
    pub query_frame: u64,
    pub ts: i64,
    /// `None` while unanswered.
    pub rcode: Option<u8>,
    pub answer_frame: Option<u64>,
    /// Addresses the answer gave for the asked name (at most 16 kept).
    pub addresses: Vec<IpAddr>,
    pub cnames: Vec<String>,
    /// `dns`, `llmnr` (multicast, single-label names) or `nbns` (NetBIOS).
    pub protocol: &'static str,
    /// The transaction id, which pairs a question with its answer.
    pub id: u16,
}

const MAX_ADDRESSES_PER_LOOKUP: usize = 16;

/// Everything DNS told during a capture.
#[derive(Default)]
pub struct DnsLog {
    /// aHash, keyed per run: addresses come from the capture.
    by_address: std::collections::HashMap<IpAddr, Vec<Resolution>, ahash::RandomState>,
    /// The names of `by_address`, each kept once.
    names: crate::shared::Names,
    pub lookups: Vec<Lookup>,
    /// For each lookup, in order: its transaction id, with [`ANSWERED`] set once
    /// answered. An answer searches these 4 bytes per question rather than the
    /// lookups themselves, a cache line each: once [`MAX_LOOKUPS`] are kept,
    /// every later answer searches the whole window in vain.
    pairing: Vec<u32>,
    /// Questions beyond [`MAX_LOOKUPS`]: their answers still name addresses,
    /// but they are neither listed nor judged.
    pub lookups_dropped: u64,
}

/// Marks an answered lookup in [`DnsLog::pairing`].
const ANSWERED: u32 = 1 << 16;

impl DnsLog {
    /// Records one message seen at `frame`.
    pub fn record(&mut self, message: DnsMessage, ts: i64, frame: u64, protocol: &'static str) {
        debug_assert_eq!(self.pairing.len(), self.lookups.len(), "a pairing key per lookup");
        let Some(mut name) = message.question else { return };
        let question = |name: String| Lookup {
            name,
            query_frame: frame,
            ts,
            rcode: None,
            answer_frame: None,
            addresses: Vec::new(),
            cnames: Vec::new(),
            protocol,
            id: message.id,
        };
        if !message.response {
            if self.lookups.len() < MAX_LOOKUPS {
                // Kept to the end of the capture: no larger than the name.
                name.shrink_to_fit();
                self.lookups.push(question(name));
                self.pairing.push(u32::from(message.id));
            } else {
                self.lookups_dropped += 1;
            }
            return;
        }
        // Windows asks A and AAAA at once: pair by transaction id, not by name alone.
        // An answer follows its question closely: only the newest questions are searched.
        let recent = self.lookups.len().saturating_sub(PAIRING_WINDOW);
        let unanswered = u32::from(message.id);
        let pending = self.pairing[recent..]
            .iter()
            .enumerate()
            .rev()
            .filter(|&(_, &key)| key == unanswered)
            .map(|(i, _)| recent + i)
            .find(|&i| self.lookups[i].name == name);
        let index = match pending {
            Some(i) => Some(i),
            // An answer whose question the capture missed still names addresses.
            None if self.lookups.len() < MAX_LOOKUPS => {
                self.lookups.push(question(name.clone()));
                self.pairing.push(unanswered);
                Some(self.lookups.len() - 1)
            }
            None => None,
        };
        if let Some(i) = index {
            self.pairing[i] |= ANSWERED;
            let lookup = &mut self.lookups[i];
            lookup.rcode = Some(message.rcode);
            lookup.answer_frame = Some(frame);
            lookup.addresses = message
                .addresses
                .iter()
                .copied()
                .take(MAX_ADDRESSES_PER_LOOKUP)
                .collect();
            lookup.cnames = message.cnames;
            lookup.cnames.shrink_to_fit();
        }
        // A long capture asks the same few names again and again: one copy of
        // each, which is also one allocation fewer to make and to free. Taken
        // only for an answer the map keeps.
        let mut shared: Option<Arc<str>> = None;
        for &address in &message.addresses {
            if !self.by_address.contains_key(&address) && self.by_address.len() >= MAX_ADDRESSES {
                continue;
            }
            let name = Arc::clone(shared.get_or_insert_with(|| self.names.share(std::mem::take(&mut name))));
            let names = self.by_address.entry(address).or_default();
            if names.len() >= MAX_NAMES_PER_ADDRESS {
                names.remove(0);
            }
            names.push(Resolution { name, ts, frame });
        }
    }

    /// The name that DNS most recently mapped to `address` at or before `ts`.
    pub fn name_for(&self, address: IpAddr, ts: i64) -> Option<&Resolution> {
        self.by_address
            .get(&address)?
            .iter()
            .filter(|r| r.ts <= ts)
            .max_by_key(|r| r.ts)
    }
}
