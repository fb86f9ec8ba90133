#!/usr/bin/env bash
# Generate the capdoc test captures from REAL traffic between real programs
# (curl, dnsmasq, a python TLS/HTTP server, the Linux TCP stack, iptables)
# running in two isolated network namespaces that have no route anywhere else.
#
#   sudo captures/generate.sh
#
# Every <file>.expected.json is written from the scenario table below (what this
# script makes the client and the firewall do), never from an analyser's output.
# Addresses are documentation ranges only (RFC 5737 / RFC 3849):
#   cd-client  198.51.100.10/24  2001:db8:1::10/64      (the "connector" host)
#   cd-server  203.0.113.{5,6,7,8,9,53}/24  2001:db8:2::{5,6,7}/64
# joined by one veth pair (cdc0 <-> cds0) with on-link routes only.
set -euo pipefail

OUT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CNS=cd-client
SNS=cd-server
CIF=cdc0            # client side of the veth (captured)
SIF=cds0            # server side
CLIENT4=198.51.100.10
CLIENT6=2001:db8:1::10
DNS4=203.0.113.53
IP_PROXY=203.0.113.5        # *.msappproxy.net (TLS server answers)
IP_SB=203.0.113.6           # *.servicebus.windows.net
IP_LOGIN=203.0.113.7        # login.microsoftonline.com
IP_LOGINW=203.0.113.8       # login.windows.net
IP_CRL=203.0.113.9          # crl3.digicert.com (plain http on 80)
IP6_PROXY=2001:db8:2::5
IP6_SB=2001:db8:2::6
IP6_LOGIN=2001:db8:2::7
SYN_TIMEOUT=5               # curl --connect-timeout for dropped SYNs, see below

# Timing model (made deterministic on purpose):
# the client namespace gets net.ipv4.tcp_syn_linear_timeouts=0 (the sysctl exists
# since Linux 6.x with default 4 = four 1 s linear retries), so SYNs are sent with the
# classic RFC 6298 backoff: t = 0, 1, 3, 7, 15 s.  A connect timeout of 5 s lies 2 s
# away from both the 3 s and the 7 s send, so an unanswered connect sends exactly
# 1 SYN + 2 retransmits.  For slow-handshake the DROP rule is removed at t = 2 s,
# between the 1 s and the 3 s send: 2 retransmits, the third SYN is answered.

PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[generate] %s\n' "$*" >&2; }
die() { printf '[generate] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0)"
for t in ip iptables ip6tables tcpdump dumpcap dnsmasq curl openssl gzip zstd tshark timeout; do
  command -v "$t" >/dev/null || die "missing $t (apt-get install -y tshark tcpdump iproute2 iptables dnsmasq curl openssl zstd python3)"
done

WORK=$(mktemp -d /tmp/capdoc-gen.XXXXXX)
BG_PIDS=()      # every background process this script started
VLAN_METHOD=""

cleanup() {
  local rc=$?
  set +e
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del "$CNS" 2>/dev/null
  ip netns del "$SNS" 2>/dev/null
  rm -rf "/etc/netns/$CNS" "/etc/netns/$SNS"
  if [[ $rc -ne 0 ]]; then log "failed (rc=$rc); work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cx() { ip netns exec "$CNS" "$@"; }   # run in client namespace
sx() { ip netns exec "$SNS" "$@"; }   # run in server namespace

# ------------------------------------------------------------------ topology
# topo_up [VLAN_ID]: with a VLAN id the addresses live on 802.1Q sub-interfaces
# cdc0.<id>/cds0.<id>; capturing on the parent cdc0 then shows tagged frames.
topo_up() {
  local vlan=${1:-}
  ip netns del "$CNS" 2>/dev/null || true
  ip netns del "$SNS" 2>/dev/null || true
  ip netns add "$CNS"
  ip netns add "$SNS"
  mkdir -p "/etc/netns/$CNS" "/etc/netns/$SNS"
  # Both namespaces resolve through dnsmasq only (ip netns exec bind-mounts this).
  printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS4" >"/etc/netns/$CNS/resolv.conf"
  printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS4" >"/etc/netns/$SNS/resolv.conf"
  for ns in "$CNS" "$SNS"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0 \
      net.ipv6.conf.all.accept_ra=0 >/dev/null
    ip netns exec "$ns" ip link set lo up
  done
  if cx test -e /proc/sys/net/ipv4/tcp_syn_linear_timeouts; then
    cx sysctl -qw net.ipv4.tcp_syn_linear_timeouts=0
  fi
  cx sysctl -qw net.ipv4.tcp_syn_retries=6
  ip link add "$CIF" netns "$CNS" address 02:cd:00:00:00:10 type veth \
    peer name "$SIF" netns "$SNS" address 02:cd:00:00:00:01
  local cif=$CIF sif=$SIF
  if [[ -n $vlan ]]; then
    cx ip link set "$CIF" up
    sx ip link set "$SIF" up
    if cx ip link add link "$CIF" name "$CIF.$vlan" type vlan id "$vlan" 2>/dev/null; then
      sx ip link add link "$SIF" name "$SIF.$vlan" type vlan id "$vlan"
      cif=$CIF.$vlan sif=$SIF.$vlan
      VLAN_METHOD="802.1Q sub-interfaces $CIF.$vlan/$SIF.$vlan (ip link type vlan) carry the addresses, captured on the parent $CIF"
    else
      vlan_tc_bpf "$vlan"
    fi
  fi
  cx ip addr add "$CLIENT4/24" dev "$cif"
  cx ip -6 addr add "$CLIENT6/64" dev "$cif" nodad
  cx ip link set "$cif" up
  cx ip route add 203.0.113.0/24 dev "$cif" src "$CLIENT4"
  cx ip -6 route add 2001:db8:2::/64 dev "$cif"
  local a
  for a in "$IP_PROXY" "$IP_SB" "$IP_LOGIN" "$IP_LOGINW" "$IP_CRL" "$DNS4"; do
    sx ip addr add "$a/24" dev "$sif"
  done
  for a in "$IP6_PROXY" "$IP6_SB" "$IP6_LOGIN"; do
    sx ip -6 addr add "$a/64" dev "$sif" nodad
  done
  sx ip link set "$sif" up
  sx ip route add 198.51.100.0/24 dev "$sif"
  sx ip -6 route add 2001:db8:1::/64 dev "$sif"
  # Sanity: nothing but on-link routes, no default route in either namespace.
  if cx ip route show default | grep -q . || sx ip route show default | grep -q . \
     || cx ip -6 route show default | grep -q . || sx ip -6 route show default | grep -q .; then
    die "unexpected default route"
  fi
}

# Fallback for kernels built without CONFIG_VLAN_8021Q (ip link type vlan fails):
# tag in the kernel with two tiny tc-bpf programs on both veth ends, pushing the
# 802.1Q tag on egress (before the capture tap sees the frame) and popping it on
# ingress (after the tap).  Every frame on the veth carries the tag; the addresses
# stay on the veth itself.  Needs llc (LLVM) with the bpf target.
vlan_tc_bpf() {
  local vlan=$1 op body
  command -v llc >/dev/null || die "no 8021q support and no llc for the tc-bpf VLAN fallback"
  for op in push pop; do
    if [[ $op == push ]]; then   # bpf_skb_vlan_push(skb, htons(0x8100), vid) = helper 18
      body="  %f = inttoptr i64 18 to i64 (i8*, i64, i64)*
  %r = call i64 %f(i8* %skb, i64 129, i64 $vlan)"
    else                         # bpf_skb_vlan_pop(skb) = helper 19
      body="  %f = inttoptr i64 19 to i64 (i8*)*
  %r = call i64 %f(i8* %skb)"
    fi
    cat >"$WORK/vlan_$op.ll" <<EOF
target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
target triple = "bpfel"
@_license = global [4 x i8] c"GPL\00", section "license", align 1
@llvm.used = appending global [2 x i8*] [i8* getelementptr inbounds ([4 x i8], [4 x i8]* @_license, i32 0, i32 0), i8* bitcast (i32 (i8*)* @vlan_$op to i8*)], section "llvm.metadata"
define i32 @vlan_$op(i8* %skb) section "classifier" {
$body
  ret i32 0
}
EOF
    llc -march=bpfel -filetype=obj -O2 "$WORK/vlan_$op.ll" -o "$WORK/vlan_$op.o"
  done
  local pair
  for pair in "$CNS $CIF" "$SNS $SIF"; do
    set -- $pair
    ip netns exec "$1" tc qdisc add dev "$2" clsact
    ip netns exec "$1" tc filter add dev "$2" egress bpf da obj "$WORK/vlan_push.o" sec classifier
    ip netns exec "$1" tc filter add dev "$2" ingress bpf da obj "$WORK/vlan_pop.o" sec classifier
  done
  VLAN_METHOD="this kernel lacks 8021q, so tc-bpf programs on both veth ends push the VLAN $vlan tag on egress and pop it on ingress; captured on $CIF"
}

topo_down() {
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BG_PIDS=()
  ip netns del "$CNS" 2>/dev/null || true
  ip netns del "$SNS" 2>/dev/null || true
}

# ------------------------------------------------------------------ servers
make_cert() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 30 \
    -subj '/CN=*.msappproxy.net' \
    -addext 'subjectAltName=DNS:*.msappproxy.net,DNS:*.servicebus.windows.net,DNS:login.microsoftonline.com,DNS:login.windows.net' \
    2>/dev/null
  cat >"$WORK/server.py" <<'EOF'
# Minimal dual-stack server: HTTPS on 443 and HTTP on 80, HTTP/1.0 (server closes).
import http.server, socket, socketserver, ssl, sys, threading

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "capdoc-test-server"
    sys_version = ""
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))
        sys.stderr.flush()

class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True
    allow_reuse_address = True
    tls = None
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        socketserver.TCPServer.server_bind(self)   # no getfqdn() lookup
        self.server_name, self.server_port = "server", self.server_address[1]
    def get_request(self):
        sock, addr = self.socket.accept()
        sock.settimeout(5)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr
    def process_request_thread(self, request, client_address):
        try:
            if isinstance(request, ssl.SSLSocket):
                request.do_handshake()
        except Exception as e:
            sys.stderr.write("handshake failed: %r\n" % e)
            self.shutdown_request(request)
            return
        super().process_request_thread(request, client_address)
    def shutdown_request(self, request):
        if isinstance(request, ssl.SSLSocket):
            try:
                request = request.unwrap()     # send close_notify, read the peer's
            except Exception:
                pass
        try:
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        request.close()

cert, key = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
https = Server(("::", 443), Handler); https.tls = ctx
plain = Server(("::", 80), Handler)
threading.Thread(target=plain.serve_forever, daemon=True).start()
sys.stderr.write("listening\n"); sys.stderr.flush()
https.serve_forever()
EOF
}

servers_up() {
  ip netns exec "$SNS" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address="$DNS4" --except-interface=lo \
    --pid-file="$WORK/dnsmasq.pid" --log-queries --log-facility=- \
    --local-ttl=60 \
    --address=/msappproxy.net/"$IP_PROXY" --address=/msappproxy.net/"$IP6_PROXY" \
    --address=/servicebus.windows.net/"$IP_SB" --address=/servicebus.windows.net/"$IP6_SB" \
    --host-record=login.microsoftonline.com,"$IP_LOGIN","$IP6_LOGIN" \
    --host-record=login.windows.net,"$IP_LOGINW" \
    --host-record=crl3.digicert.com,"$IP_CRL" \
    --host-record=cwap-nam1-runtime.cloudapp.net,"$IP_PROXY","$IP6_PROXY" \
    --cname=contoso.msappproxy.net,cwap-nam1-runtime.cloudapp.net \
    2>>"$WORK/dnsmasq.err" &
  BG_PIDS+=($!)
  ip netns exec "$SNS" "$PY" "$WORK/server.py" "$WORK/cert.pem" "$WORK/key.pem" 2>>"$WORK/server.log" &
  BG_PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    if sx ss -Hltn 'sport = :443' | grep -q . && sx ss -Hltn 'sport = :80' | grep -q . \
       && sx ss -Hlun 'sport = :53' | grep -q .; then
      return 0
    fi
    sleep 0.1
  done
  die "servers did not start (see $WORK/dnsmasq.err $WORK/server.log)"
}

fw() { sx iptables "$@"; }
fw6() { sx ip6tables "$@"; }

# ------------------------------------------------------------------ captures
CAP_PIDS=()
CAP_FILES=()
# cap_start KIND FILE: KIND = eth | pcapng | sll | sll2 | nano
cap_start() {
  local kind=$1 file=$2 err="$WORK/cap.$(basename "$2").err"
  local -a cmd
  case $kind in
    eth)    cmd=(tcpdump -Z root -n --immediate-mode -s 0 -i "$CIF" -w "$file") ;;
    nano)   cmd=(tcpdump -Z root -n --immediate-mode -s 0 -i "$CIF" --time-stamp-precision=nano -w "$file") ;;
    sll)    cmd=(tcpdump -Z root -n --immediate-mode -s 0 -i any -y LINUX_SLL -w "$file") ;;
    sll2)   cmd=(tcpdump -Z root -n --immediate-mode -s 0 -i any -y LINUX_SLL2 -w "$file") ;;
    pcapng) cmd=(dumpcap -q -n -s 0 -i "$CIF" -w "$file") ;;
    *) die "bad capture kind $kind" ;;
  esac
  # ip netns exec execs the tool, so $! is the capture process itself (SIGINT reaches it)
  ip netns exec "$CNS" "${cmd[@]}" >/dev/null 2>"$err" &
  local pid=$!
  BG_PIDS+=("$pid")
  CAP_PIDS+=("$pid")
  CAP_FILES+=("$file")
  local i
  for ((i = 0; i < 100; i++)); do
    if grep -q -e 'listening on' -e 'Capturing on' "$err" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || die "capture $kind failed: $(cat "$err")"
    sleep 0.1
  done
  die "capture $kind did not start: $(cat "$err")"
}

cap_stop_all() {
  local p
  for p in "${CAP_PIDS[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  local i
  for ((i = 0; i < 50; i++)); do       # at most 5 s for the writers to finish
    local alive=0
    for p in "${CAP_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && break
    sleep 0.1
  done
  for p in "${CAP_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && die "capture $p did not stop on SIGINT"; done
  for p in "${CAP_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  CAP_PIDS=()
  CAP_FILES=()
}

# ------------------------------------------------------------------ client
# ccurl EXPECTED_RC ARGS...: curl in the client namespace, proxy-free environment,
# hard time limit; the exit code must match what the scenario intends
# (0 ok, 7 refused/unreachable, 28 connect timeout).
ccurl() {
  local want=$1; shift
  local rc=0
  cx env -i PATH=/usr/bin:/bin HOME=/nonexistent \
    timeout 20 curl -q -sS -k -o /dev/null --max-time 15 "$@" 2>>"$WORK/curl.log" || rc=$?
  echo "curl $* -> rc=$rc" >>"$WORK/curl.log"
  [[ $rc -eq $want ]] || die "curl $* exited $rc, scenario expects $want (see $WORK/curl.log)"
}

# ------------------------------------------------------------------ expectations
# att IP PORT NAME OUTCOME SYN_RETRANSMITS CONN_STATE  -> one attempt object (NAME "-" = null)
att() {
  local name
  if [[ $3 == - ]]; then name=null; else name="\"$3\""; fi
  printf '{"destination":{"ip":"%s","port":%s,"name":%s},"outcome":"%s","syn_retransmits":%s,"conn_state":"%s"}' \
    "$1" "$2" "$name" "$4" "$5" "$6"
}

declare -A DESC ATTEMPTS CLIENT_OF   # CLIENT_OF: the address the attempts come from (default CLIENT4)

A_PROXY_OK=$(att "$IP_PROXY" 443 contoso.msappproxy.net ok 0 SF)
A_SB_DROP=$(att "$IP_SB" 443 connector.servicebus.windows.net syn_unanswered 2 S0)
A_LOGIN_RST=$(att "$IP_LOGIN" 443 login.microsoftonline.com reset 0 REJ)

DESC[direct-ok]="The connector resolves contoso.msappproxy.net (CNAME cwap-nam1-runtime.cloudapp.net) via DNS and completes an HTTPS request to it on 443; both sides close with FIN."
ATTEMPTS[direct-ok]="[$A_PROXY_OK]"

DESC[syn-dropped]="The server firewall silently drops TCP 443 to connector.servicebus.windows.net; curl (--connect-timeout $SYN_TIMEOUT) gives up after 1 SYN + 2 retransmits (t=0,1,3 s) and is run twice, from two different source ports."
ATTEMPTS[syn-dropped]="[$A_SB_DROP,$A_SB_DROP]"

DESC[rst]="The server firewall answers the SYN to login.microsoftonline.com:443 with a TCP RST (iptables REJECT --reject-with tcp-reset)."
ATTEMPTS[rst]="[$A_LOGIN_RST]"

DESC[icmp-unreachable]="The server firewall answers the SYN to login.windows.net:443 with ICMP destination unreachable, communication administratively prohibited (type 3 code 13); the client aborts at once."
ATTEMPTS[icmp-unreachable]="[$(att "$IP_LOGINW" 443 login.windows.net icmp_unreachable 0 S0)]"

DESC[slow-handshake]="TCP 443 to contoso.msappproxy.net is dropped for the first 2 s (SYNs at t=0 and t=1 s lost); the third SYN (t=3 s) is answered and the HTTPS request completes normally."
ATTEMPTS[slow-handshake]="[$(att "$IP_PROXY" 443 contoso.msappproxy.net ok 2 SF)]"

DESC[port-reuse]="Two connections from the same client port 40000 to login.microsoftonline.com:443 (literal IP, no DNS), 1 s apart, each rejected with RST: same 4-tuple, different ISNs, two attempts and no retransmission."
A_REUSE=$(att "$IP_LOGIN" 443 - reset 0 REJ)
ATTEMPTS[port-reuse]="[$A_REUSE,$A_REUSE]"

CLIENT_OF[ipv6-mixed]=$CLIENT6
DESC[ipv6-mixed]="Dual stack: DNS (AAAA) over IPv4, then an HTTPS request over IPv6 to contoso.msappproxy.net that succeeds and one to connector.servicebus.windows.net whose SYNs are dropped (1 SYN + 2 retransmits)."
ATTEMPTS[ipv6-mixed]="[$(att "$IP6_PROXY" 443 contoso.msappproxy.net ok 0 SF),$(att "$IP6_SB" 443 connector.servicebus.windows.net syn_unanswered 2 S0)]"

DESC[connector-blocked]="A failing connector start: DNS lookups, an HTTP CRL download from crl3.digicert.com:80 (ok), a RST from login.microsoftonline.com:443, SYNs to connector.servicebus.windows.net:443 silently dropped (1 SYN + 2 retransmits) while an HTTPS request to contoso.msappproxy.net:443 succeeds."
ATTEMPTS[connector-blocked]="[$(att "$IP_CRL" 80 crl3.digicert.com ok 0 SF),$A_LOGIN_RST,$A_SB_DROP,$A_PROXY_OK]"

# expect FILE SCENARIO LINK_TYPE FORMAT COMPRESSED(null|gzip|zstd) TRUNC [DESC_SUFFIX] [ATTEMPTS_JSON]
# TRUNC: null, or the byte offset of the packet record the file ends in (the record is cut)
expect() {
  local file=$1 sc=$2
  EXP_SCENARIO=$sc EXP_DESC="${DESC[$sc]}${7:+ $7}" EXP_LINK=$3 EXP_FORMAT=$4 EXP_COMP=$5 \
  EXP_TRUNC=$6 EXP_ATTEMPTS="${8:-${ATTEMPTS[$sc]}}" EXP_CLIENT=${CLIENT_OF[$sc]:-$CLIENT4} \
  "$PY" - "$OUT_DIR/$(basename "$file").expected.json" <<'EOF'
import json, os, sys
e = os.environ
doc = {
    "scenario": e["EXP_SCENARIO"],
    "description": e["EXP_DESC"],
    "link_type": e["EXP_LINK"],
    "format": e["EXP_FORMAT"],
    "compressed": None if e["EXP_COMP"] == "null" else e["EXP_COMP"],
    "client": e["EXP_CLIENT"],
    "attempts": json.loads(e["EXP_ATTEMPTS"]),
    "truncated_at_offset": None if e["EXP_TRUNC"] == "null" else int(e["EXP_TRUNC"]),
}
with open(sys.argv[1], "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
EOF
}

# ------------------------------------------------------------------ scenarios
settle() { sleep 1; }

sc_direct_ok() {
  ccurl 0 -4 https://contoso.msappproxy.net/
}

sc_syn_dropped() {
  fw -I INPUT -p tcp -d "$IP_SB" --dport 443 -j DROP
  ccurl 28 -4 --connect-timeout "$SYN_TIMEOUT" https://connector.servicebus.windows.net/
  ccurl 28 -4 --connect-timeout "$SYN_TIMEOUT" https://connector.servicebus.windows.net/
  sleep 2
}

sc_rst() {
  fw -I INPUT -p tcp -d "$IP_LOGIN" --dport 443 -j REJECT --reject-with tcp-reset
  ccurl 7 -4 https://login.microsoftonline.com/
}

sc_icmp() {
  fw -I INPUT -p tcp -d "$IP_LOGINW" --dport 443 -j REJECT --reject-with icmp-admin-prohibited
  ccurl 7 -4 https://login.windows.net/
}

sc_slow() {
  fw -I INPUT -p tcp -d "$IP_PROXY" --dport 443 -j DROP
  ccurl 0 -4 --connect-timeout 10 https://contoso.msappproxy.net/ &
  local c=$!
  BG_PIDS+=("$c")
  sleep 2
  fw -D INPUT -p tcp -d "$IP_PROXY" --dport 443 -j DROP
  wait "$c" || die "slow-handshake curl failed"
}

sc_port_reuse() {
  fw -I INPUT -p tcp -d "$IP_LOGIN" --dport 443 -j REJECT --reject-with tcp-reset
  ccurl 7 -4 --local-port 40000 "https://$IP_LOGIN/"
  sleep 1
  ccurl 7 -4 --local-port 40000 "https://$IP_LOGIN/"
}

sc_ipv6() {
  fw6 -I INPUT -p tcp -d "$IP6_SB" --dport 443 -j DROP
  ccurl 0 -6 https://contoso.msappproxy.net/
  ccurl 28 -6 --connect-timeout "$SYN_TIMEOUT" https://connector.servicebus.windows.net/
  sleep 2
}

sc_mixed() {
  fw -I INPUT -p tcp -d "$IP_LOGIN" --dport 443 -j REJECT --reject-with tcp-reset
  fw -I INPUT -p tcp -d "$IP_SB" --dport 443 -j DROP
  ccurl 0 -4 http://crl3.digicert.com/DigiCertGlobalRootG2.crl
  sleep 0.3
  ccurl 7 -4 https://login.microsoftonline.com/common/oauth2/token
  sleep 0.3
  ccurl 28 -4 --connect-timeout "$SYN_TIMEOUT" https://connector.servicebus.windows.net/ &
  local c=$!
  BG_PIDS+=("$c")
  sleep 0.5        # servicebus SYN leaves first, the ok connection runs between its retransmits
  ccurl 0 -4 https://contoso.msappproxy.net/subscriber/bootstrap
  wait "$c" || die "mixed: servicebus curl did not time out as planned"
  sleep 2
}

# run_scenario NAME FUNC VLAN "KIND:FILE ..." : fresh namespaces per scenario
run_scenario() {
  local name=$1 func=$2 vlan=$3 specs=$4 s
  log "scenario $name ($specs)"
  topo_up "$vlan"
  servers_up
  settle
  for s in $specs; do cap_start "${s%%:*}" "$WORK/${s#*:}"; done
  sleep 0.5
  "$func"
  # On a real server the capture keeps seeing traffic after the last attempt; one
  # more DNS lookup gives the capture a last packet well after every SYN (a classic
  # pcap has no other way to say how long it kept recording).
  sleep 1
  timeout 5 ip netns exec "$CNS" "$PY" -c 'import socket; socket.getaddrinfo("contoso.msappproxy.net", 443, socket.AF_INET)' \
    >/dev/null 2>&1 || true
  sleep 0.5
  cap_stop_all
  topo_down
}

# ------------------------------------------------------------------ main
make_cert
: >"$WORK/curl.log"

run_scenario direct-ok        sc_direct_ok   ""  "eth:direct-ok.eth.pcap pcapng:direct-ok.eth.pcapng sll:direct-ok.sll.pcap"
run_scenario direct-ok/vlan   sc_direct_ok   100 "eth:direct-ok.vlan.pcap"
run_scenario syn-dropped      sc_syn_dropped ""  "eth:syn-dropped.eth.pcap sll2:syn-dropped.sll2.pcap"
run_scenario rst              sc_rst         ""  "eth:rst.eth.pcap nano:rst.nano.pcap"
run_scenario icmp-unreachable sc_icmp        ""  "eth:icmp-unreachable.eth.pcap pcapng:icmp-unreachable.eth.pcapng"
run_scenario slow-handshake   sc_slow        ""  "eth:slow-handshake.eth.pcap"
run_scenario port-reuse       sc_port_reuse  ""  "eth:port-reuse.eth.pcap"
run_scenario ipv6-mixed       sc_ipv6        ""  "eth:ipv6-mixed.eth.pcap pcapng:ipv6-mixed.eth.pcapng"
run_scenario connector-blocked sc_mixed      ""  "pcapng:connector-blocked.pcapng sll2:connector-blocked.sll2.pcap"

# Truncated copy of syn-dropped.eth.pcap: cut in the middle of the record that holds
# the first SYN of the second attempt (the first TCP SYN whose source port differs
# from the first SYN's), 30 bytes into its packet data.  Everything of attempt 1 is
# before the cut; attempt 2 is gone entirely.
read -r TRUNC_AT TRUNC_REC < <("$PY" - "$WORK/syn-dropped.eth.pcap" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:4] == b"\xd4\xc3\xb2\xa1", "expected little-endian microsecond pcap"
off, first = 24, None
while off + 16 <= len(d):
    incl = struct.unpack_from("<I", d, off + 8)[0]
    pkt = d[off + 16: off + 16 + incl]
    if len(pkt) >= 54 and pkt[12:14] == b"\x08\x00" and pkt[23] == 6:
        ihl = (pkt[14] & 15) * 4
        tcp = pkt[14 + ihl:]
        sport, flags = struct.unpack_from(">H", tcp, 0)[0], tcp[13]
        if flags & 0x12 == 0x02:
            if first is None:
                first = sport
            elif sport != first:
                print(off + 16 + 30, off)
                sys.exit(0)
    off += 16 + incl
sys.exit("second attempt not found")
EOF
)
head -c "$TRUNC_AT" "$WORK/syn-dropped.eth.pcap" >"$WORK/syn-dropped.truncated.pcap"

# ------------------------------------------------------------------ publish
rm -f "$OUT_DIR"/*.pcap "$OUT_DIR"/*.pcapng "$OUT_DIR"/*.pcap.gz "$OUT_DIR"/*.pcap.zst "$OUT_DIR"/*.expected.json
for f in "$WORK"/*.pcap "$WORK"/*.pcapng; do
  install -m 0644 "$f" "$OUT_DIR/"
done
gzip -9 -n -k -f "$OUT_DIR/direct-ok.eth.pcap"
zstd -q -19 -k -f "$OUT_DIR/direct-ok.eth.pcap" -o "$OUT_DIR/direct-ok.eth.pcap.zst"

expect direct-ok.eth.pcap        direct-ok ETHERNET pcap null null
expect direct-ok.eth.pcap.gz     direct-ok ETHERNET pcap gzip null "(gzip -9 copy of direct-ok.eth.pcap)"
expect direct-ok.eth.pcap.zst    direct-ok ETHERNET pcap zstd null "(zstd -19 copy of direct-ok.eth.pcap)"
expect direct-ok.eth.pcapng      direct-ok ETHERNET pcapng null null "(dumpcap, same traffic as direct-ok.eth.pcap)"
expect direct-ok.sll.pcap        direct-ok LINUX_SLL pcap null null "(tcpdump -i any -y LINUX_SLL)"
expect direct-ok.vlan.pcap       direct-ok ETHERNET pcap null null "(separate run; every frame carries an 802.1Q VLAN 100 tag: $VLAN_METHOD)"
expect syn-dropped.eth.pcap      syn-dropped ETHERNET pcap null null
expect syn-dropped.sll2.pcap     syn-dropped LINUX_SLL2 pcap null null "(tcpdump -i any -y LINUX_SLL2)"
expect syn-dropped.truncated.pcap syn-dropped ETHERNET pcap null "$TRUNC_REC" \
  "(Copy of syn-dropped.eth.pcap cut with head -c $TRUNC_AT, so the file is $TRUNC_AT bytes long and ends inside the packet record that starts at byte $TRUNC_REC (truncated_at_offset), the first SYN of the second attempt: its 16-byte record header and 30 bytes of packet data remain. Only the first attempt is complete.)" \
  "[$A_SB_DROP]"
expect rst.eth.pcap              rst ETHERNET pcap null null
expect rst.nano.pcap             rst ETHERNET pcap null null "(nanosecond-resolution pcap, magic a1b23c4d)"
expect icmp-unreachable.eth.pcap icmp-unreachable ETHERNET pcap null null
expect icmp-unreachable.eth.pcapng icmp-unreachable ETHERNET pcapng null null "(dumpcap)"
expect slow-handshake.eth.pcap   slow-handshake ETHERNET pcap null null
expect port-reuse.eth.pcap       port-reuse ETHERNET pcap null null
expect ipv6-mixed.eth.pcap       ipv6-mixed ETHERNET pcap null null
expect ipv6-mixed.eth.pcapng     ipv6-mixed ETHERNET pcapng null null "(dumpcap)"
expect connector-blocked.pcapng  connector-blocked ETHERNET pcapng null null
expect connector-blocked.sll2.pcap connector-blocked LINUX_SLL2 pcap null null "(tcpdump -i any -y LINUX_SLL2, same traffic as connector-blocked.pcapng)"

# ------------------------------------------------------------------ verify
# Cross-check reality against the scenario table with tshark (a check only: the
# expected.json files above are never derived from this).  Per destination ip:port:
# number of TCP streams opened by the client, SYN retransmissions, RSTs received and
# ICMP unreachables received must match what the scenario says.
verify() {
  local f exp plain rc=0
  for exp in "$OUT_DIR"/*.expected.json; do
    f=${exp%.expected.json}
    plain=$f
    case $f in
      *.zst) plain="$WORK/verify.pcap"; zstd -q -d -f "$f" -o "$plain" ;;
      *.gz)  plain="$WORK/verify.pcap"; gzip -d -c "$f" >"$plain" ;;
    esac
    { tshark -n -r "$plain" -T fields -E separator=/t -E occurrence=f \
        -e ip.src -e ipv6.src -e ip.dst -e ipv6.dst -e tcp.srcport -e tcp.dstport \
        -e tcp.stream -e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.reset \
        -e tcp.analysis.retransmission -e icmp.type -e icmpv6.type \
        -Y 'tcp || icmp.type==3 || icmpv6.type==1' 2>/dev/null || true; } >"$WORK/verify.tsv"
    "$PY" - "$exp" "$WORK/verify.tsv" "$(basename "$f")" <<'EOF' || rc=1
import collections, json, sys
exp = json.load(open(sys.argv[1]))
client = exp["client"]
want = collections.defaultdict(lambda: [0, 0, 0, 0])   # streams, syn rtx, rst, icmp
for a in exp["attempts"]:
    k = (a["destination"]["ip"], a["destination"]["port"])
    want[k][0] += 1
    want[k][1] += a["syn_retransmits"]
    want[k][2] += a["outcome"] == "reset"
    want[k][3] += a["outcome"] == "icmp_unreachable"
got = collections.defaultdict(lambda: [set(), 0, 0, 0])
for line in open(sys.argv[2]):
    c = line.rstrip("\n").split("\t")
    src, dst = c[0] or c[1], c[2] or c[3]
    sport, dport, stream, syn, ack, rst, rtx, icmp4, icmp6 = c[4:13]
    if icmp4 == "3" or icmp6 == "1":      # error about our SYN: dst is the client
        if dst in (client, "2001:db8:1::10"):
            got[(src, int(dport or 0))][3] += 1
        continue
    if syn == "1" and ack == "0":
        k = (dst, int(dport))
        got[k][0].add(stream)
        got[k][1] += rtx != ""
    elif rst == "1" and src not in (client, "2001:db8:1::10"):
        got[(src, int(sport))][2] += 1
ok = True
for k in sorted(set(want) | set(got), key=str):
    w = want[k]; g = got[k]; g = [len(g[0]), g[1], g[2], g[3]]
    # resets/icmp: the scenario makes exactly one per rejected attempt
    same = g == w
    ok &= same
    print("  %-34s %-24s streams=%d syn_rtx=%d rst=%d icmp_unreach=%d %s" % (
        sys.argv[3], "%s:%s" % k, g[0], g[1], g[2], g[3], "ok" if same else "MISMATCH want %s" % w))
sys.exit(0 if ok else 1)
EOF
  done
  return $rc
}

if [[ ${CAPDOC_SKIP_VERIFY:-0} != 1 ]]; then
  log "verifying captures against the scenario table with tshark"
  verify >&2 || die "a capture does not match its scenario (timing?); fix the scenario, not the expectation"
fi

log "done:"
ls -l "$OUT_DIR" >&2
