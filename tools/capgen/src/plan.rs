//! The traffic mix: turns each flow arrival into a plan of DNS lookups, connections and messages.

use crate::der;
use crate::dns::{self, Answer, TYPE_A, TYPE_AAAA};
use crate::flow::{Action, Connect, DnsLookup, Endpoints, Flow, Mark, Msg};
use crate::http;
use crate::names::{address, Catalog, CRL_URLS, PROXY_NAME};
use crate::rng::Rng;
use crate::tls;
use crate::wire::ipv4;

const PROXY_PORT: u16 = 8080;

/// Flow kinds and their share of arrivals (per mille).
#[derive(Clone, Copy, Debug)]
enum Kind {
    DirectTls,
    ProxyTls,
    ProxyGet,
    PlainHttp,
    SynUnanswered,
    SynRefused,
    DnsOnly,
}

const MIX: [(Kind, u32); 7] = [
    (Kind::DirectTls, 480),
    (Kind::ProxyTls, 275),
    (Kind::ProxyGet, 30),
    (Kind::PlainHttp, 45),
    (Kind::SynUnanswered, 50),
    (Kind::SynRefused, 15),
    (Kind::DnsOnly, 105),
];

/// A connector server on the client subnet, handing out ephemeral ports like Windows does.
pub struct Host {
    pub ip: u32,
    next_port: u16,
}

impl Host {
    fn port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p == u16::MAX { 49152 } else { p + 1 };
        p
    }
}

/// The simulated site: connector hosts, resolvers, proxy and the names they use.
pub struct Network {
    pub hosts: Vec<Host>,
    pub resolvers: [u32; 2],
    pub catalog: Catalog,
}

impl Network {
    pub fn new(r: &mut Rng) -> Network {
        let hosts = (0..6)
            .map(|i| Host {
                ip: ipv4(10, 20, 30, 11 + i),
                next_port: r.range(49152, 60000) as u16,
            })
            .collect();
        Network {
            hosts,
            resolvers: [ipv4(10, 20, 0, 53), ipv4(10, 20, 0, 54)],
            catalog: Catalog::new(r),
        }
    }
}

/// Creates the flow arriving at `start`.
pub fn spawn(net: &mut Network, master: &mut Rng, start: u64) -> Flow {
    let mut r = master.fork();
    let n_hosts = net.hosts.len() as u64;
    let host = &mut net.hosts[r.below(n_hosts) as usize];
    let (client, cport) = (host.ip, host.port());
    let resolver = *r.pick(&net.resolvers);
    let weights: Vec<u32> = MIX.iter().map(|m| m.1).collect();
    let kind = MIX[r.weighted(&weights)].0;
    let mut b = Builder {
        r,
        cat: &net.catalog,
        resolver,
        plan: Vec::new(),
    };
    let (server, sport, rtt) = match kind {
        Kind::DirectTls => b.direct_tls(),
        Kind::ProxyTls => b.proxy_tls(),
        Kind::ProxyGet => b.proxy_get(),
        Kind::PlainHttp => b.plain_http(),
        Kind::SynUnanswered => b.syn_only(Connect::NoAnswer),
        Kind::SynRefused => b.syn_only(Connect::Refused),
        Kind::DnsOnly => b.dns_only(),
    };
    let Builder { r, plan, .. } = b;
    Flow::new(
        r,
        Endpoints {
            client,
            cport,
            server,
            sport,
        },
        rtt,
        start,
        plan,
    )
}

struct Builder<'a> {
    r: Rng,
    cat: &'a Catalog,
    resolver: u32,
    plan: Vec<Action>,
}

impl Builder<'_> {
    fn client_sends(&mut self, msg: Msg, delay: u64) {
        self.plan.push(Action::Send {
            from_client: true,
            msg,
            delay,
        });
    }

    fn server_sends(&mut self, msg: Msg, delay: u64) {
        self.plan.push(Action::Send {
            from_client: false,
            msg,
            delay,
        });
    }

    fn bytes(data: Vec<u8>, mark: Mark) -> Msg {
        Msg::Bytes {
            data,
            first_cut: None,
            mark,
        }
    }

    fn connect(&mut self, kind: Connect) {
        let delay = self.r.range(30, 400);
        self.plan.push(Action::Connect { kind, delay });
    }

    fn close(&mut self, by_client: bool) {
        let delay = self.r.range(50, 5000);
        self.plan.push(Action::Close { by_client, delay });
    }

    /// This flow's round trip to `name`: the name's typical RTT with some jitter.
    fn rtt(&mut self, name: &str) -> u64 {
        (self.cat.base_rtt(name) as f64 * (0.9 + 0.3 * self.r.unit())) as u64
    }

    fn lookup(&mut self, name: &str, qtype: u16, answer: Option<Answer>) {
        let id = self.r.u16();
        let query = dns::query(id, name, qtype);
        let response = answer.map(|a| (dns::response(id, name, qtype, &a), a.rcode()));
        // Mostly cached at the site resolver; sometimes it has to recurse.
        let rtt = if self.r.chance(0.8) {
            self.r.range(150, 2000)
        } else {
            self.r.range(5_000, 80_000)
        };
        let lookup = DnsLookup {
            server: self.resolver,
            sport: self.r.range(49152, 65535) as u16,
            query,
            response,
            rtt,
            delay: self.r.range(50, 3000),
        };
        self.plan.push(Action::Dns(lookup));
    }

    fn resolve(&mut self, name: &str) {
        let answer = self.cat.resolve(name);
        self.lookup(name, TYPE_A, Some(answer));
    }

    /// A name for an HTTPS flow; long-lived flows are the connector's Service Bus control channels.
    fn tls_target(&mut self) -> (String, bool) {
        if self.r.chance(0.08) {
            (self.r.pick(&self.cat.servicebus).clone(), true)
        } else {
            (self.cat.tls_name(&mut self.r), false)
        }
    }

    fn direct_tls(&mut self) -> (u32, u16, u64) {
        let (name, long_lived) = self.tls_target();
        if self.r.chance(0.8) {
            self.resolve(&name);
        }
        let kind = if self.r.chance(0.03) {
            Connect::LostFirstSyn
        } else {
            Connect::Normal
        };
        self.connect(kind);
        self.tls_session(&name, false, long_lived);
        (address(&name), 443, self.rtt(&name))
    }

    fn proxy_tls(&mut self) -> (u32, u16, u64) {
        let (name, long_lived) = self.tls_target();
        if self.r.chance(0.3) {
            self.resolve(PROXY_NAME);
        }
        let proxy_rtt = self.r.range(200, 2500);
        let server_rtt = self.rtt(&name);
        self.connect(Connect::Normal);
        let code = [200, 407, 403, 502][self.r.weighted(&[86, 7, 4, 3])];
        let retry_auth = code == 407 && self.r.chance(0.5);
        self.connect_exchange(&name, false, code, retry_auth, server_rtt);
        let mut tunnel = code == 200;
        if retry_auth {
            let code = if self.r.chance(0.85) { 200 } else { 407 };
            self.connect_exchange(&name, true, code, false, server_rtt);
            tunnel = code == 200;
        }
        if tunnel {
            self.plan.push(Action::SetRtt(proxy_rtt + server_rtt));
            self.tls_session(&name, true, long_lived);
        } else {
            // After 407 the client gives up; after 403/502 the proxy closes ("Connection: close").
            self.close(code == 407);
        }
        (self.cat.proxy_addr, PROXY_PORT, proxy_rtt)
    }

    fn connect_exchange(&mut self, name: &str, with_auth: bool, code: u16, keep_alive: bool, server_rtt: u64) {
        let token = with_auth.then(|| http::negotiate_token(&mut self.r, "CORP.CONTOSO.COM", PROXY_NAME));
        let request = http::connect_request(name, token.as_deref());
        let delay = self.r.range(100, 2000);
        self.client_sends(Self::bytes(request, Mark::ConnectRequest), delay);
        // 200 after the proxy reached the server; 502 after it failed to (sometimes a long timeout).
        let wait = match code {
            200 => server_rtt + self.r.range(500, 20_000),
            502 => self.r.log_uniform(20_000.0, 3_000_000.0) as u64,
            _ => self.r.range(100, 3000),
        };
        let response = http::connect_response(code, keep_alive);
        self.server_sends(Self::bytes(response, Mark::ProxyResponse(code)), wait);
    }

    fn tls_session(&mut self, sni: &str, via_proxy: bool, long_lived: bool) {
        let r = &mut self.r;
        let tls13 = r.chance(0.65);
        let hello = tls::client_hello(r, sni);
        // Some stacks (or a small first write) put the ClientHello in two segments.
        let first_cut = r.chance(0.15).then(|| r.range(60, hello.len() as u64 - 20) as usize);
        let mark = Mark::ClientHello { via_proxy };
        let delay = r.range(100, 1500);
        self.client_sends(
            Msg::Bytes {
                data: hello,
                first_cut,
                mark,
            },
            delay,
        );
        let r = &mut self.r;
        let steps: Vec<(bool, Vec<u8>, u64)> = if tls13 {
            vec![
                (false, tls::server_flight_13(r), r.range(300, 4000)),
                (true, tls::client_finished_13(r), r.range(100, 600)),
            ]
        } else {
            vec![
                (false, tls::server_flight_12(r, sni), r.range(300, 4000)),
                (true, tls::client_finished_12(r), r.range(500, 3000)),
                (false, tls::server_finished_12(r), r.range(200, 1500)),
            ]
        };
        for (from_client, data, delay) in steps {
            self.plan.push(Action::Send {
                from_client,
                msg: Self::bytes(data, Mark::None),
                delay,
            });
        }
        let exchanges = if long_lived {
            self.r.range(10, 40)
        } else {
            1 + self.r.exp(2.8) as u64
        };
        for i in 0..exchanges {
            let (request, response, wait, think) = self.exchange(long_lived);
            let think = if i == 0 { self.r.range(100, 2000) } else { think };
            self.client_sends(Msg::TlsBulk(request), think);
            self.server_sends(Msg::TlsBulk(response), wait);
        }
        let by_client = self.r.chance(0.75);
        let idle = self.r.log_uniform(1_000.0, 500_000.0) as u64;
        let alert = tls::close_notify(&mut self.r, tls13);
        self.plan.push(Action::Send {
            from_client: by_client,
            msg: Self::bytes(alert, Mark::None),
            delay: idle,
        });
        self.close(by_client);
    }

    /// One request/response: (request bytes, response bytes, server wait, client think time before).
    fn exchange(&mut self, long_lived: bool) -> (u32, u32, u64, u64) {
        let r = &mut self.r;
        if long_lived {
            // Long polling: the service answers when it has something to say.
            let wait = r.log_uniform(100_000.0, 10_000_000.0) as u64;
            return (
                r.range(300, 1200) as u32,
                r.range(150, 2500) as u32,
                wait,
                r.range(1000, 50_000),
            );
        }
        let request = match r.below(100) {
            0..=69 => r.range(200, 1400) as f64,
            70..=96 => r.log_uniform(1500.0, 20_000.0),
            _ => r.pareto(20_000.0, 1.3, 4_000_000.0),
        };
        let response = match r.below(100) {
            0..=59 => r.range(100, 1500) as f64,
            60..=95 => r.log_uniform(2000.0, 50_000.0),
            _ => r.pareto(30_000.0, 1.3, 8_000_000.0),
        };
        let wait = r.log_uniform(500.0, 200_000.0) as u64;
        let think = r.log_uniform(1000.0, 2_000_000.0) as u64;
        (request as u32, response as u32, wait, think)
    }

    /// A CRL download through the proxy (absolute URI).
    fn proxy_get(&mut self) -> (u32, u16, u64) {
        let proxy_rtt = self.r.range(200, 2500);
        self.connect(Connect::Normal);
        let &(host, path) = self.r.pick(&CRL_URLS);
        let server_rtt = self.rtt(host);
        self.crl_download(host, path, true, server_rtt);
        self.close(true);
        (self.cat.proxy_addr, PROXY_PORT, proxy_rtt)
    }

    /// CRL downloads on port 80 straight to the CDN, sometimes two on one connection.
    fn plain_http(&mut self) -> (u32, u16, u64) {
        let &(host, path) = self.r.pick(&CRL_URLS);
        self.resolve(host);
        self.connect(Connect::Normal);
        self.crl_download(host, path, false, 0);
        if self.r.chance(0.3) {
            let &(_, path2) = self.r.pick(&CRL_URLS);
            self.crl_download(host, path2, false, 0);
        }
        let by_client = self.r.chance(0.8);
        self.close(by_client);
        (address(host), 80, self.rtt(host))
    }

    fn crl_download(&mut self, host: &str, path: &str, via_proxy: bool, extra_wait: u64) {
        let think = self.r.range(200, 20_000);
        self.client_sends(Self::bytes(http::crl_get(host, path, via_proxy), Mark::HttpGet), think);
        let crl = self.r.chance(0.85).then(|| {
            let size = self.r.log_uniform(800.0, 40_000.0) as usize;
            der::crl(&mut self.r, "DigiCert Global Root G2", size)
        });
        let wait = extra_wait + self.r.range(200, 5000);
        self.server_sends(Self::bytes(http::crl_response(crl.as_deref()), Mark::None), wait);
    }

    /// A connection attempt that never gets anywhere (dropped by a firewall, or refused).
    fn syn_only(&mut self, kind: Connect) -> (u32, u16, u64) {
        let (name, port) = match self.r.below(100) {
            0..=69 => (self.r.pick(&self.cat.connector).clone(), 443),
            70..=79 => ("crl3.digicert.com".to_string(), 80),
            80..=87 => (PROXY_NAME.to_string(), PROXY_PORT),
            88..=93 => (self.r.pick(&self.cat.servicebus).clone(), 5671),
            _ => (self.r.pick(&self.cat.servicebus).clone(), 9352),
        };
        if self.r.chance(0.6) {
            self.resolve(&name);
        }
        self.connect(kind);
        let server = if name == PROXY_NAME {
            self.cat.proxy_addr
        } else {
            address(&name)
        };
        let rtt = if name == PROXY_NAME {
            self.r.range(200, 2500)
        } else {
            self.rtt(&name)
        };
        (server, port, rtt)
    }

    /// Lookups without a connection: suffix-search misses, WPAD, AAAA for IPv4-only names, timeouts.
    fn dns_only(&mut self) -> (u32, u16, u64) {
        for _ in 0..self.r.range(1, 3) {
            match self.r.weighted(&[40, 40, 15, 5]) {
                0 => {
                    let name = self.cat.missing_name(&mut self.r);
                    self.lookup(&name, TYPE_A, Some(Answer::NxDomain));
                }
                1 => {
                    let name = self.cat.tls_name(&mut self.r);
                    self.resolve(&name);
                }
                2 => {
                    let name = self.cat.tls_name(&mut self.r);
                    self.lookup(&name, TYPE_AAAA, Some(Answer::NoData));
                }
                _ => {
                    let name = self.cat.tls_name(&mut self.r);
                    self.lookup(&name, TYPE_A, None);
                }
            }
        }
        (self.resolver, 53, 1000)
    }
}
