//! Discrete-event loop: Poisson flow arrivals, and all live flows' packets merged in time order.

use crate::flow::{Flow, Pkt};
use crate::plan::{self, Network};
use crate::rng::Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Mean time between flow arrivals: about 150 new flows per second, which with flow lifetimes
/// from milliseconds to a minute keeps several hundred flows live at once.
const MEAN_ARRIVAL_GAP_US: f64 = 1e6 / 150.0;

pub struct Sim {
    rng: Rng,
    net: Network,
    /// Slab of live flows; the heap refers to them by index.
    flows: Vec<Option<Flow>>,
    free: Vec<usize>,
    /// (time of the flow's next packet, insertion counter for deterministic ties, slab index).
    heap: BinaryHeap<Reverse<(u64, u64, usize)>>,
    tie: u64,
    next_arrival: u64,
    live: usize,
    pub max_live: usize,
}

impl Sim {
    pub fn new(seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let net = Network::new(&mut rng);
        Sim {
            rng,
            net,
            flows: Vec::new(),
            free: Vec::new(),
            heap: BinaryHeap::new(),
            tie: 0,
            next_arrival: 0,
            live: 0,
            max_live: 0,
        }
    }

    /// The next packet in capture order. The simulation never runs dry: new flows keep arriving.
    pub fn next_packet(&mut self) -> Pkt {
        loop {
            let arrival_first = match self.heap.peek() {
                Some(Reverse((t, _, _))) => self.next_arrival <= *t,
                None => true,
            };
            if arrival_first {
                self.arrive();
                continue;
            }
            let Reverse((_, _, idx)) = self.heap.pop().expect("heap is not empty");
            let flow = self.flows[idx].as_mut().expect("scheduled flow is live");
            let pkt = flow.pop().expect("scheduled flow has a packet");
            match flow.next_time() {
                Some(t) => self.schedule(t, idx),
                None => {
                    self.flows[idx] = None;
                    self.free.push(idx);
                    self.live -= 1;
                }
            }
            return pkt;
        }
    }

    fn arrive(&mut self) {
        let start = self.next_arrival;
        self.next_arrival += self.rng.exp(MEAN_ARRIVAL_GAP_US).max(1.0) as u64;
        let mut flow = plan::spawn(&mut self.net, &mut self.rng, start);
        let Some(t) = flow.next_time() else { return };
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.flows.push(None);
                self.flows.len() - 1
            }
        };
        self.flows[idx] = Some(flow);
        self.live += 1;
        self.max_live = self.max_live.max(self.live);
        self.schedule(t, idx);
    }

    fn schedule(&mut self, t: u64, idx: usize) {
        self.tie += 1;
        self.heap.push(Reverse((t, self.tie, idx)));
    }
}
