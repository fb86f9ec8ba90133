//! One flow (a DNS lookup and/or a TCP connection) as a plan of actions, expanded lazily into packets.
//!
//! Times are as seen at the capture point on the connector host: a packet the host sends is captured
//! when it leaves, and the server's reaction is captured one round trip later. Each action expands
//! into a small batch of packets sorted by time; the next action starts after the batch's last packet,
//! so packets of one flow always come out in time order and seq/ack numbers stay consistent.

use crate::rng::Rng;
use crate::wire::{ACK, FIN, L4, MSS, PSH, RST, SYN};
use std::collections::VecDeque;

/// What a packet means for the ground-truth counters (counted when the packet is written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    None,
    Syn { dport: u16 },
    SynRetransmit { dport: u16 },
    Refused,
    ClientHello { via_proxy: bool },
    ConnectRequest,
    ProxyResponse(u16),
    HttpGet,
    DnsQuery,
    DnsResponse { rcode: u8 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Empty,
    Bytes(Vec<u8>),
    /// One whole application-data record of this many bytes (header included); the body is filled
    /// from a random pool when the frame is built, so bulk data costs no allocation.
    TlsRecord(u16),
}

impl Payload {
    pub fn len(&self) -> usize {
        match self {
            Payload::Empty => 0,
            Payload::Bytes(b) => b.len(),
            Payload::TlsRecord(n) => usize::from(*n),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Pkt {
    /// Microseconds since the start of the capture.
    pub t: u64,
    /// Sent by the connector host (as opposed to received by it).
    pub outbound: bool,
    pub src: u32,
    pub dst: u32,
    pub l4: L4,
    pub payload: Payload,
    pub mark: Mark,
}

impl Pkt {
    fn carrying(self, payload: Payload, mark: Mark) -> Pkt {
        Pkt { payload, mark, ..self }
    }

    fn marked(self, mark: Mark) -> Pkt {
        Pkt { mark, ..self }
    }
}

/// Bytes one side sends in one go.
#[derive(Clone, Debug)]
pub enum Msg {
    /// Literal bytes; `first_cut` makes the first segment shorter (a ClientHello split in two).
    Bytes {
        data: Vec<u8>,
        first_cut: Option<usize>,
        mark: Mark,
    },
    /// Encrypted application data of this many bytes, one record per segment.
    TlsBulk(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connect {
    Normal,
    /// The first SYN is lost and retransmitted after 1 s, then answered.
    LostFirstSyn,
    /// Windows gives up after retransmitting at +1 s and +3 s.
    NoAnswer,
    /// The server answers RST.
    Refused,
}

#[derive(Clone, Debug)]
pub struct DnsLookup {
    pub server: u32,
    pub sport: u16,
    pub query: Vec<u8>,
    /// `None`: the resolver never answers and the client retries.
    pub response: Option<(Vec<u8>, u8)>,
    pub rtt: u64,
    pub delay: u64,
}

#[derive(Clone, Debug)]
pub enum Action {
    Dns(DnsLookup),
    Connect {
        kind: Connect,
        delay: u64,
    },
    /// For the server, `delay` is its processing time after the request's last segment arrived.
    Send {
        from_client: bool,
        msg: Msg,
        delay: u64,
    },
    /// After a proxy tunnel is up, round trips include the proxy's leg to the server.
    SetRtt(u64),
    Close {
        by_client: bool,
        delay: u64,
    },
}

#[derive(Clone, Copy, Debug)]
pub struct Endpoints {
    pub client: u32,
    pub cport: u16,
    pub server: u32,
    pub sport: u16,
}

/// Segments in flight before the sender waits for ACKs: starts at the usual initial window of 10 and
/// grows like slow start, capped well below the 64240-byte receive window (so tshark never reports
/// "window full").
fn window(i: usize) -> usize {
    (10 + i / 2).min(36)
}

pub struct Flow {
    rng: Rng,
    ep: Endpoints,
    rtt: u64,
    /// Time one full-sized segment takes on the bottleneck link.
    ser: u64,
    c_next: u32,
    s_next: u32,
    cursor: u64,
    last_client_data: u64,
    plan: VecDeque<Action>,
    pending: VecDeque<Pkt>,
}

impl Flow {
    pub fn new(mut rng: Rng, ep: Endpoints, rtt: u64, start: u64, plan: Vec<Action>) -> Flow {
        let ser = rng.range(12, 120);
        let c_isn = rng.u32();
        let s_isn = rng.u32();
        Flow {
            rng,
            ep,
            rtt,
            ser,
            c_next: c_isn,
            s_next: s_isn,
            cursor: start,
            last_client_data: start,
            plan: plan.into(),
            pending: VecDeque::new(),
        }
    }

    /// Time of the next packet, expanding further actions as needed; `None` when the flow is over.
    pub fn next_time(&mut self) -> Option<u64> {
        while self.pending.is_empty() {
            let action = self.plan.pop_front()?;
            let mut batch = Vec::new();
            self.expand(action, &mut batch);
            batch.sort_by_key(|p| p.t); // stable: keeps per-direction order for equal times
            if let Some(last) = batch.last() {
                self.cursor = self.cursor.max(last.t);
            }
            self.pending.extend(batch);
        }
        self.pending.front().map(|p| p.t)
    }

    pub fn pop(&mut self) -> Option<Pkt> {
        self.pending.pop_front()
    }

    fn expand(&mut self, action: Action, out: &mut Vec<Pkt>) {
        match action {
            Action::Dns(d) => self.dns(d, out),
            Action::Connect { kind, delay } => self.connect(kind, delay, out),
            Action::Send {
                from_client,
                msg,
                delay,
            } => {
                // The receiver's ACK of the last segment rides on its reply when one follows at once.
                let reply_follows =
                    matches!(self.plan.front(), Some(Action::Send { from_client: f, .. }) if *f != from_client);
                self.send(from_client, msg, delay, !reply_follows, out);
            }
            Action::SetRtt(rtt) => self.rtt = rtt,
            Action::Close { by_client, delay } => self.close(by_client, delay, out),
        }
    }

    /// Client stack's reaction time (ACK, next segment of an application write).
    fn host_delay(&mut self) -> u64 {
        self.rng.range(15, 250)
    }

    /// A bare TCP segment in one direction; `Pkt::carrying` and `Pkt::marked` add payload and mark.
    fn tcp(&self, t: u64, from_client: bool, seq: u32, ack: u32, flags: u8) -> Pkt {
        let ep = &self.ep;
        let (src, dst, sport, dport) = if from_client {
            (ep.client, ep.server, ep.cport, ep.sport)
        } else {
            (ep.server, ep.client, ep.sport, ep.cport)
        };
        let l4 = L4::Tcp {
            sport,
            dport,
            seq,
            ack,
            flags,
        };
        Pkt {
            t,
            outbound: from_client,
            src,
            dst,
            l4,
            payload: Payload::Empty,
            mark: Mark::None,
        }
    }

    fn dns(&mut self, d: DnsLookup, out: &mut Vec<Pkt>) {
        let t0 = self.cursor + d.delay;
        let (client, sport) = (self.ep.client, d.sport);
        let udp = |t, outbound, payload: &[u8], mark| {
            let (src, dst, l4) = if outbound {
                (client, d.server, L4::Udp { sport, dport: 53 })
            } else {
                (
                    d.server,
                    client,
                    L4::Udp {
                        sport: 53,
                        dport: sport,
                    },
                )
            };
            Pkt {
                t,
                outbound,
                src,
                dst,
                l4,
                payload: Payload::Bytes(payload.to_vec()),
                mark,
            }
        };
        out.push(udp(t0, true, &d.query, Mark::DnsQuery));
        match &d.response {
            Some((resp, rcode)) => out.push(udp(t0 + d.rtt, false, resp, Mark::DnsResponse { rcode: *rcode })),
            None => {
                // The Windows resolver retries after 1 s and again 2 s later.
                out.push(udp(t0 + 1_000_000, true, &d.query, Mark::DnsQuery));
                out.push(udp(t0 + 3_000_000, true, &d.query, Mark::DnsQuery));
            }
        }
    }

    fn connect(&mut self, kind: Connect, delay: u64, out: &mut Vec<Pkt>) {
        let t0 = self.cursor + delay;
        let dport = self.ep.sport;
        let (c_isn, s_isn) = (self.c_next, self.s_next);
        out.push(self.tcp(t0, true, c_isn, 0, SYN).marked(Mark::Syn { dport }));
        let retransmit = |f: &Flow, t| f.tcp(t, true, c_isn, 0, SYN).marked(Mark::SynRetransmit { dport });
        let answered_at = match kind {
            Connect::Normal => t0,
            Connect::LostFirstSyn => {
                out.push(retransmit(self, t0 + 1_000_000));
                t0 + 1_000_000
            }
            Connect::NoAnswer => {
                out.push(retransmit(self, t0 + 1_000_000));
                out.push(retransmit(self, t0 + 3_000_000));
                self.plan.clear();
                return;
            }
            Connect::Refused => {
                let rst = self.tcp(t0 + self.rtt, false, 0, c_isn.wrapping_add(1), RST | ACK);
                out.push(rst.marked(Mark::Refused));
                self.plan.clear();
                return;
            }
        };
        self.c_next = c_isn.wrapping_add(1);
        self.s_next = s_isn.wrapping_add(1);
        let t_synack = answered_at + self.rtt;
        out.push(self.tcp(t_synack, false, s_isn, self.c_next, SYN | ACK));
        let t_ack = t_synack + self.host_delay();
        out.push(self.tcp(t_ack, true, self.c_next, self.s_next, ACK));
        self.last_client_data = t_ack;
    }

    /// Cuts a message into segment payloads.
    fn segments(msg: Msg) -> Vec<(Payload, Mark)> {
        match msg {
            Msg::Bytes { data, first_cut, mark } => {
                let mut pieces = Vec::new();
                let mut rest = &data[..];
                if let Some(cut) = first_cut.filter(|&c| c > 0 && c < data.len()) {
                    pieces.push(&data[..cut.min(MSS)]);
                    rest = &data[cut.min(MSS)..];
                }
                pieces.extend(rest.chunks(MSS));
                let n = pieces.len();
                // The mark goes on the last segment: that is where tshark reassembles and dissects.
                pieces
                    .into_iter()
                    .enumerate()
                    .map(|(i, p)| (Payload::Bytes(p.to_vec()), if i + 1 == n { mark } else { Mark::None }))
                    .collect()
            }
            Msg::TlsBulk(total) => {
                let mut rest = total.max(6) as usize;
                let mut pieces = Vec::new();
                while rest > 0 {
                    // Never leave a remainder too small to be a record (5-byte header + 1 byte).
                    let len = if rest <= MSS { rest } else { MSS.min(rest - 6) };
                    pieces.push((Payload::TlsRecord(len as u16), Mark::None));
                    rest -= len;
                }
                pieces
            }
        }
    }

    fn send(&mut self, from_client: bool, msg: Msg, delay: u64, ack_last: bool, out: &mut Vec<Pkt>) {
        let start = if from_client {
            self.cursor + delay
        } else {
            self.cursor.max(self.last_client_data + self.rtt) + delay
        };
        let segs = Self::segments(msg);
        let n = segs.len();
        // When each segment is captured, and when the receiver's ACK covering it is (if it sends one).
        let mut times: Vec<u64> = Vec::with_capacity(n);
        let mut acked_at: Vec<Option<u64>> = Vec::with_capacity(n);
        for (i, (p, _)) in segs.iter().enumerate() {
            let mut t = match i {
                0 => start,
                _ => times[i - 1] + (self.ser * p.len() as u64 / MSS as u64).max(1),
            };
            // Window-limited: segment i waits until the ACK covering segment i - window is seen at
            // the capture point (plus a round trip when the sender is the server). Measured at the
            // capture point, so tshark's bytes-in-flight never reach the receive window.
            if let Some(j) = i.checked_sub(window(i)) {
                let seen = acked_at[j]
                    .or(acked_at[j + 1])
                    .expect("every second segment is acknowledged");
                t = t.max(if from_client { seen } else { seen + self.rtt });
            }
            times.push(t);
            // The receiver ACKs every second segment, and the last one unless its reply carries the ACK.
            let acks = i % 2 == 1 || (i + 1 == n && ack_last);
            let ack_delay = if from_client {
                self.rtt + self.rng.range(5, 60)
            } else {
                self.host_delay()
            };
            acked_at.push(acks.then_some(t + ack_delay));
        }
        for (i, (payload, mark)) in segs.into_iter().enumerate() {
            let len = payload.len() as u32;
            let flags = if i + 1 == n { ACK | PSH } else { ACK };
            let (seq, ack) = if from_client {
                (self.c_next, self.s_next)
            } else {
                (self.s_next, self.c_next)
            };
            out.push(self.tcp(times[i], from_client, seq, ack, flags).carrying(payload, mark));
            if from_client {
                self.c_next = self.c_next.wrapping_add(len);
                self.last_client_data = times[i];
            } else {
                self.s_next = self.s_next.wrapping_add(len);
            }
            if let Some(t) = acked_at[i] {
                let (seq, ack) = if from_client {
                    (self.s_next, self.c_next)
                } else {
                    (self.c_next, self.s_next)
                };
                out.push(self.tcp(t, !from_client, seq, ack, ACK));
            }
        }
    }

    /// FIN from the closing side, FIN/ACK from the other, final ACK.
    fn close(&mut self, by_client: bool, delay: u64, out: &mut Vec<Pkt>) {
        let t0 = self.cursor + delay;
        let (mut a_next, mut b_next) = if by_client {
            (self.c_next, self.s_next)
        } else {
            (self.s_next, self.c_next)
        };
        out.push(self.tcp(t0, by_client, a_next, b_next, FIN | ACK));
        a_next = a_next.wrapping_add(1);
        // The server's reaction is seen one RTT later; the client's after its application closes.
        let t1 = t0 + if by_client { self.rtt } else { self.rng.range(100, 3000) };
        out.push(self.tcp(t1, !by_client, b_next, a_next, FIN | ACK));
        b_next = b_next.wrapping_add(1);
        let t2 = t1 + if by_client { self.host_delay() } else { self.rtt };
        out.push(self.tcp(t2, by_client, a_next, b_next, ACK));
        if by_client {
            (self.c_next, self.s_next) = (a_next, b_next);
        } else {
            (self.s_next, self.c_next) = (a_next, b_next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(mut f: Flow) -> Vec<Pkt> {
        let mut v = Vec::new();
        while f.next_time().is_some() {
            v.push(f.pop().unwrap());
        }
        v
    }

    fn endpoints() -> Endpoints {
        Endpoints {
            client: 1,
            cport: 50_000,
            server: 2,
            sport: 443,
        }
    }

    /// In each direction, sequence numbers continue exactly where the previous segment ended and
    /// ACKs never acknowledge bytes not yet sent.
    #[test]
    fn seq_and_ack_are_consistent() {
        let plan = vec![
            Action::Connect {
                kind: Connect::Normal,
                delay: 10,
            },
            Action::Send {
                from_client: true,
                msg: Msg::TlsBulk(700),
                delay: 5,
            },
            Action::Send {
                from_client: false,
                msg: Msg::TlsBulk(200_000),
                delay: 1000,
            },
            Action::Send {
                from_client: true,
                msg: Msg::TlsBulk(50_001),
                delay: 5,
            },
            Action::Close {
                by_client: true,
                delay: 10,
            },
        ];
        let pkts = drain(Flow::new(Rng::new(9), endpoints(), 30_000, 0, plan));
        let mut next = [None::<u32>; 2];
        let mut last_t = 0;
        for p in &pkts {
            assert!(p.t >= last_t);
            last_t = p.t;
            let L4::Tcp { seq, ack, flags, .. } = p.l4 else {
                panic!()
            };
            let dir = usize::from(p.outbound);
            if let Some(n) = next[dir] {
                assert_eq!(seq, n, "{p:?}");
            }
            let adv = p.payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
            next[dir] = Some(seq.wrapping_add(adv));
            if flags & ACK != 0 {
                let other = next[1 - dir].expect("ACK before the other side sent anything");
                assert!(other.wrapping_sub(ack) < 1 << 31, "acks unsent bytes: {p:?}");
            }
        }
        assert!(pkts.len() > 150);
    }

    #[test]
    fn unanswered_syn_retransmits_twice() {
        let plan = vec![
            Action::Connect {
                kind: Connect::NoAnswer,
                delay: 0,
            },
            Action::Send {
                from_client: true,
                msg: Msg::TlsBulk(100),
                delay: 0,
            },
        ];
        let pkts = drain(Flow::new(Rng::new(1), endpoints(), 10_000, 0, plan));
        let times: Vec<u64> = pkts.iter().map(|p| p.t).collect();
        assert_eq!(times, [0, 1_000_000, 3_000_000]);
    }
}
