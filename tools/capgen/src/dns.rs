//! DNS queries and responses (RFC 1035 wire format, with name compression in answers).

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;
pub const RCODE_NXDOMAIN: u8 = 3;

/// What the resolver answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// NOERROR: the CNAME chain (in order) then the addresses of its last name.
    Records {
        cnames: Vec<String>,
        addrs: Vec<u32>,
        ttl: u32,
    },
    /// NOERROR without records (e.g. AAAA for an IPv4-only name).
    NoData,
    NxDomain,
}

impl Answer {
    pub fn rcode(&self) -> u8 {
        match self {
            Answer::NxDomain => RCODE_NXDOMAIN,
            _ => 0,
        }
    }
}

/// Header offset of the question name, the target of the first compression pointer.
const QNAME_OFFSET: u16 = 12;

fn put_name(v: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
}

fn header(v: &mut Vec<u8>, id: u16, flags: u16, answers: u16) {
    for x in [id, flags, 1, answers, 0, 0] {
        v.extend_from_slice(&x.to_be_bytes());
    }
}

fn question(v: &mut Vec<u8>, name: &str, qtype: u16) {
    put_name(v, name);
    v.extend_from_slice(&qtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes()); // IN
}

pub fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    header(&mut v, id, 0x0100, 0); // recursion desired
    question(&mut v, name, qtype);
    v
}

/// One resource record whose owner is the compression pointer `owner`; returns where its rdata starts.
fn rr(v: &mut Vec<u8>, owner: u16, rtype: u16, ttl: u32, rdata: &[u8]) -> u16 {
    v.extend_from_slice(&(0xc000 | owner).to_be_bytes());
    v.extend_from_slice(&rtype.to_be_bytes());
    v.extend_from_slice(&1u16.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    let at = v.len() as u16;
    v.extend_from_slice(rdata);
    at
}

pub fn response(id: u16, name: &str, qtype: u16, answer: &Answer) -> Vec<u8> {
    let mut v = Vec::with_capacity(160);
    let count = match answer {
        Answer::Records { cnames, addrs, .. } => cnames.len() + if qtype == TYPE_A { addrs.len() } else { 0 },
        _ => 0,
    };
    // QR, RD, RA and the response code.
    header(&mut v, id, 0x8180 | u16::from(answer.rcode()), count as u16);
    question(&mut v, name, qtype);
    if let Answer::Records { cnames, addrs, ttl } = answer {
        let mut owner = QNAME_OFFSET;
        for target in cnames {
            let mut rdata = Vec::with_capacity(target.len() + 2);
            put_name(&mut rdata, target);
            owner = rr(&mut v, owner, TYPE_CNAME, *ttl, &rdata);
        }
        if qtype == TYPE_A {
            for a in addrs {
                rr(&mut v, owner, TYPE_A, *ttl, &a.to_be_bytes());
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_bytes() {
        let q = query(0x1234, "a.bc", TYPE_A);
        assert_eq!(
            q,
            [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 1, 0, 1]
        );
    }

    #[test]
    fn cname_chain_uses_pointers() {
        let a = Answer::Records {
            cnames: vec!["x.net".into()],
            addrs: vec![0xc0000207],
            ttl: 60,
        };
        let r = response(1, "a.bc", TYPE_A, &a);
        assert_eq!(&r[6..8], &[0, 2]); // two answers
                                       // CNAME owner points at the question name.
        assert_eq!(&r[22..24], &[0xc0, 12]);
        // The A record's owner points at the CNAME target (rdata starts at 22 + 12 = 34).
        let a_rr = 34 + 7;
        assert_eq!(&r[a_rr..a_rr + 2], &[0xc0, 34]);
        assert_eq!(&r[r.len() - 4..], &[192, 0, 2, 7]);
        assert_eq!(response(1, "a.bc", TYPE_A, &Answer::NxDomain)[3] & 0x0f, RCODE_NXDOMAIN);
    }
}
