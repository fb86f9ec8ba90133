//! Ground truth: what is in the file, counted as packets are written, for checking analysers.

use crate::flow::{Mark, Pkt};
use std::collections::BTreeMap;
use std::fmt::Write;

/// tshark's view of a retransmitted SYN.
const SYN_RTX: &str = "tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission";

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Truth {
    pub packets: u64,
    pub frame_bytes: u64,
    pub file_bytes: u64,
    pub first_us: Option<u64>,
    pub last_us: u64,
    pub tcp_flows: u64,
    pub syns_to_443: u64,
    pub syn_retransmits_443: u64,
    pub syn_retransmits_other: u64,
    pub refused: u64,
    pub client_hellos: u64,
    pub client_hellos_via_proxy: u64,
    pub connect_requests: u64,
    pub connect_responses: BTreeMap<u16, u64>,
    pub http_gets: u64,
    pub dns_queries: u64,
    pub dns_responses: u64,
    pub dns_nxdomain: u64,
    pub max_live_flows: usize,
}

impl Truth {
    pub fn count(&mut self, pkt: &Pkt, t_us: u64, frame_len: usize) {
        self.packets += 1;
        self.frame_bytes += frame_len as u64;
        self.first_us.get_or_insert(t_us);
        self.last_us = t_us;
        match pkt.mark {
            Mark::None => {}
            Mark::Syn { dport } => {
                self.tcp_flows += 1;
                self.syns_to_443 += u64::from(dport == 443);
            }
            Mark::SynRetransmit { dport: 443 } => self.syn_retransmits_443 += 1,
            Mark::SynRetransmit { .. } => self.syn_retransmits_other += 1,
            Mark::Refused => self.refused += 1,
            Mark::ClientHello { via_proxy } => {
                self.client_hellos += 1;
                self.client_hellos_via_proxy += u64::from(via_proxy);
            }
            Mark::ConnectRequest => self.connect_requests += 1,
            Mark::ProxyResponse(code) => *self.connect_responses.entry(code).or_default() += 1,
            Mark::HttpGet => self.http_gets += 1,
            Mark::DnsQuery => self.dns_queries += 1,
            Mark::DnsResponse { rcode } => {
                self.dns_responses += 1;
                self.dns_nxdomain += u64::from(rcode == crate::dns::RCODE_NXDOMAIN);
            }
        }
    }

    /// `key: value` lines, with the tshark filter that reproduces each count as a comment.
    pub fn render(&self, header: &str) -> String {
        let mut s = String::new();
        let mut line = |key: &str, value: String, check: &str| {
            let _ = if check.is_empty() {
                writeln!(s, "{key}: {value}")
            } else {
                writeln!(s, "{key}: {value}    # {check}")
            };
        };
        let first = self.first_us.unwrap_or(0);
        line("packets", self.packets.to_string(), "capinfos -c");
        line("file_bytes", self.file_bytes.to_string(), "");
        line("frame_bytes", self.frame_bytes.to_string(), "capinfos -d");
        let avg = if self.packets == 0 {
            0.0
        } else {
            self.frame_bytes as f64 / self.packets as f64
        };
        line("avg_frame_bytes", format!("{avg:.1}"), "");
        line("first_timestamp_us", first.to_string(), "");
        line("duration_s", format!("{:.3}", (self.last_us - first) as f64 / 1e6), "");
        line("max_live_flows", self.max_live_flows.to_string(), "");
        line(
            "tcp_flows",
            self.tcp_flows.to_string(),
            "tcp.flags.syn==1 && tcp.flags.ack==0 && !tcp.analysis.retransmission",
        );
        line(
            "tcp_flows_to_443",
            self.syns_to_443.to_string(),
            "tcp.flags.syn==1 && tcp.flags.ack==0 && !tcp.analysis.retransmission && tcp.dstport==443",
        );
        line(
            "syn_retransmits_total",
            (self.syn_retransmits_443 + self.syn_retransmits_other).to_string(),
            SYN_RTX,
        );
        line(
            "syn_retransmits_443",
            self.syn_retransmits_443.to_string(),
            &format!("{SYN_RTX} && tcp.dstport==443"),
        );
        line(
            "syn_retransmits_other",
            self.syn_retransmits_other.to_string(),
            &format!("{SYN_RTX} && tcp.dstport!=443"),
        );
        line(
            "syn_refused_rst",
            self.refused.to_string(),
            "tcp.flags.reset==1 && tcp.seq_raw==0",
        );
        line(
            "tls_client_hellos_with_sni",
            self.client_hellos.to_string(),
            "tls.handshake.extensions_server_name",
        );
        line(
            "tls_client_hellos_via_proxy",
            self.client_hellos_via_proxy.to_string(),
            "tls.handshake.extensions_server_name && tcp.dstport==8080",
        );
        line(
            "connect_requests",
            self.connect_requests.to_string(),
            "http.request.method==CONNECT",
        );
        for (code, n) in &self.connect_responses {
            // Forward-proxy CRL downloads also get 200s from port 8080, but with a content type.
            let extra = if *code == 200 { " && !http.content_type" } else { "" };
            let check = format!("http.response.code=={code} && tcp.srcport==8080{extra}");
            line(&format!("connect_responses_{code}"), n.to_string(), &check);
        }
        line(
            "http_get_requests",
            self.http_gets.to_string(),
            "http.request.method==GET",
        );
        line("dns_queries", self.dns_queries.to_string(), "dns.flags.response==0");
        line("dns_responses", self.dns_responses.to_string(), "dns.flags.response==1");
        line("dns_nxdomain", self.dns_nxdomain.to_string(), "dns.flags.rcode==3");
        format!("{header}{s}")
    }
}
