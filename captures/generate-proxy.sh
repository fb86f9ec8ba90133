#!/usr/bin/env bash
# Generate the capdoc PROXY test captures (captures/proxy-*) from REAL traffic between
# real programs: curl as the connector, squid and tinyproxy as the outbound proxy,
# dnsmasq as DNS, openssl s_server as the "cloud" TLS servers, python http.server for
# the CRL and the WPAD/PAC file, the Linux TCP stack and iptables.
#
#   sudo captures/generate-proxy.sh
#
# Three network namespaces, joined by two veth pairs, with on-link routes only (no
# default route anywhere, nothing leaves the machine).  Documentation ranges only:
#
#   px-client  pxc0  198.51.100.20/24  2001:db8:10::20/64          (the connector; captured)
#      |  veth
#   px-proxy   pxp0  192.0.2.80/24 (squid :3128 :8080, tinyproxy :8888)
#                    192.0.2.81/24 (wpad.contoso.local, PAC file on :80)
#                    192.0.2.53/24 (corporate DNS: dnsmasq, forwards to 203.0.113.53)
#                    2001:db8:10::80/64
#              pxq0  203.0.113.1/24  2001:db8:20::1/64
#      |  veth
#   px-server  pxs0  203.0.113.{5,9,15,16,17,18,53}/24  2001:db8:20::5/64  ("the cloud")
#
# The client has no route to 203.0.113.0/24 and the proxy namespace does not forward
# (net.ipv4.ip_forward=0), so the only way out for the client is through a proxy.
#
# Every <capture>.expected.json is written from the SCENARIOS table at the end of this
# script (what the script makes the client, the proxies and the servers do), never
# from an analyser's output.  Only the exact status line / X-Squid-Error of the proxy
# failures (which the script cannot know beforehand) is read back from the capture
# with tshark; everything else is CHECKED against tshark and the script fails if the
# traffic differs from the table.  CAPDOC_SKIP_VERIFY=1 skips those checks (the
# failure statuses are then left null).
set -euo pipefail

OUT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CNS=px-client
PNS=px-proxy
SNS=px-server
CIF=pxc0            # client side of the client<->proxy veth (captured)
PCIF=pxp0           # proxy side facing the client
PSIF=pxq0           # proxy side facing the servers
SIF=pxs0            # server side

CLIENT4=198.51.100.20
CLIENT6=2001:db8:10::20
PROXY4=192.0.2.80
PROXY6=2001:db8:10::80
WPAD4=192.0.2.81
CORPDNS4=192.0.2.53
PROXY_UP4=203.0.113.1
PROXY_UP6=2001:db8:20::1
DNS4=203.0.113.53           # "internet" DNS, used by squid (dns_nameservers) and tinyproxy
IP_MSAPP=203.0.113.5        # *.msappproxy.net: openssl s_server, TLS 1.2 only, Microsoft stand-in CA
IP_SB=203.0.113.6           # *.servicebus.windows.net (denied by the squid ACL; nothing listens)
IP_LOGIN=203.0.113.7        # login.microsoftonline.com (not used by a scenario)
IP_CRL=203.0.113.9          # crl3.digicert.com: python http.server on :80
IP_INSPECT=203.0.113.15     # openssl s_server, TLS 1.2, certificate from the Contoso Inspection CA
IP_LEGACY=203.0.113.16      # legacy.msappproxy.net: openssl s_server, TLS 1.1 only
IP_DROP=203.0.113.17        # dropped.msappproxy.net: iptables DROP on tcp/443
IP_REFUSED=203.0.113.18     # refused.msappproxy.net: nothing listens -> RST
SERVER6=2001:db8:20::5

# Credentials of proxy-credentials (distinctive, so a test can look for them in capdoc's output;
# the Basic values, the cookies and the token are the `secrets` of its expected.json)
CRED_PROXY_USER=capdoc                  # squid's htpasswd (variant auth) has this user too
CRED_PROXY_PASS=capdocSecretProxy7Q     # Proxy-Authorization: Basic Y2FwZG9jOmNhcGRvY1NlY3JldFByb3h5N1E=
CRED_AUTHZ=webuser:capdocSecretAuthz7Q  # Authorization: Basic d2VidXNlcjpjYXBkb2NTZWNyZXRBdXRoejdR
CRED_COOKIE=capdocSecretCookie7Q        # Cookie: session=...
CRED_SET_COOKIE=capdocSecretSetCookie7Q # the origin's Set-Cookie: portal=...
CRED_QUERY=capdocSecretQuery7Q          # a SAS-like token in a query string: ?sig=...

MS_CA_DN='C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 04'
INSPECT_CA_DN='O=Contoso Inspection, CN=Contoso TLS Inspection CA'

PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[generate-proxy] %s\n' "$*" >&2; }
die() { printf '[generate-proxy] ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (sudo $0)"
for t in ip iptables tcpdump tshark dnsmasq squid tinyproxy curl openssl timeout ss; do
  command -v "$t" >/dev/null \
    || die "missing $t (apt-get install -y squid tinyproxy dnsmasq tcpdump tshark iproute2 iptables curl openssl python3)"
done
[[ -x /usr/lib/squid/basic_ncsa_auth ]] || die "missing /usr/lib/squid/basic_ncsa_auth (package squid)"
id proxy >/dev/null 2>&1 || die "user 'proxy' (squid's cache_effective_user) does not exist"

WORK=$(mktemp -d /tmp/capdoc-proxy.XXXXXX)
chmod 755 "$WORK"            # squid (user proxy) and tinyproxy (user nobody) read files here
BG_PIDS=()                   # every background process this script started
SQUID_PID=""

cleanup() {
  local rc=$?
  set +e
  local p
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  # squid forks helpers (basic_ncsa_auth) in px-proxy; they exit with their parent.
  ip netns del "$CNS" 2>/dev/null
  ip netns del "$PNS" 2>/dev/null
  ip netns del "$SNS" 2>/dev/null
  rm -rf "/etc/netns/$CNS" "/etc/netns/$PNS" "/etc/netns/$SNS"
  if [[ $rc -ne 0 ]]; then log "failed (rc=$rc); work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# bgrun NS LOG CMD...: start CMD in namespace NS in the background, stdout+stderr to LOG.
# ip netns exec execs CMD, so LAST_PID is the program itself (signals reach it).  Never
# background the cx/px/sx functions: $! would then be a subshell, not the program.
LAST_PID=""
bgrun() {
  local ns=$1 logf=$2
  shift 2
  ip netns exec "$ns" "$@" </dev/null >>"$logf" 2>&1 &
  LAST_PID=$!
  BG_PIDS+=("$LAST_PID")
}
cx() { ip netns exec "$CNS" "$@"; }
px() { ip netns exec "$PNS" "$@"; }
sx() { ip netns exec "$SNS" "$@"; }

# wait_for DESCRIPTION TRIES CMD...: poll CMD every 0.1 s, at most TRIES times
wait_for() {
  local what=$1 tries=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "timed out waiting for $what"
}
listening_tcp() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }
listening_udp() { ip netns exec "$1" ss -Hlun "sport = :$2" | grep -q .; }

# ------------------------------------------------------------------ topology
topo_up() {
  local ns
  for ns in "$CNS" "$PNS" "$SNS"; do
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    mkdir -p "/etc/netns/$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
      net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.router_solicitations=0 \
      net.ipv6.conf.all.accept_ra=0 net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 >/dev/null
    ip netns exec "$ns" ip link set lo up
  done
  # resolvers (ip netns exec bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf)
  printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$CORPDNS4" >"/etc/netns/$CNS/resolv.conf"
  printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS4" >"/etc/netns/$PNS/resolv.conf"
  printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$DNS4" >"/etc/netns/$SNS/resolv.conf"

  ip link add "$CIF" netns "$CNS" address 02:cd:00:00:01:20 type veth \
    peer name "$PCIF" netns "$PNS" address 02:cd:00:00:01:80
  ip link add "$PSIF" netns "$PNS" address 02:cd:00:00:02:01 type veth \
    peer name "$SIF" netns "$SNS" address 02:cd:00:00:02:05

  cx ip addr add "$CLIENT4/24" dev "$CIF"
  cx ip -6 addr add "$CLIENT6/64" dev "$CIF" nodad
  cx ip link set "$CIF" up
  cx ip route add 192.0.2.0/24 dev "$CIF" src "$CLIENT4"     # on-link: the proxy subnet only

  local a
  for a in "$PROXY4" "$WPAD4" "$CORPDNS4"; do px ip addr add "$a/24" dev "$PCIF"; done
  px ip -6 addr add "$PROXY6/64" dev "$PCIF" nodad
  px ip link set "$PCIF" up
  px ip route add 198.51.100.0/24 dev "$PCIF" src "$PROXY4"
  px ip addr add "$PROXY_UP4/24" dev "$PSIF"
  px ip -6 addr add "$PROXY_UP6/64" dev "$PSIF" nodad
  px ip link set "$PSIF" up

  for a in "$IP_MSAPP" "$IP_SB" "$IP_LOGIN" "$IP_CRL" "$IP_INSPECT" "$IP_LEGACY" "$IP_DROP" \
           "$IP_REFUSED" "$DNS4"; do
    sx ip addr add "$a/24" dev "$SIF"
  done
  sx ip -6 addr add "$SERVER6/64" dev "$SIF" nodad
  sx ip link set "$SIF" up

  # Sanity: no default route anywhere; the client cannot reach the servers.
  for ns in "$CNS" "$PNS" "$SNS"; do
    if ip netns exec "$ns" ip route show default | grep -q . \
       || ip netns exec "$ns" ip -6 route show default | grep -q .; then
      die "unexpected default route in $ns"
    fi
  done
  if cx ip route get "$IP_MSAPP" >/dev/null 2>&1; then die "client has a route to $IP_MSAPP"; fi
  [[ $(px sysctl -n net.ipv4.ip_forward) == 0 ]] || die "px-proxy forwards"

  # the dropped destination: SYNs to it vanish (squid's connect_timeout fires)
  sx iptables -A INPUT -d "$IP_DROP" -p tcp --dport 443 -j DROP
}

# ------------------------------------------------------------------ PKI
# Three local self-signed CAs, made fresh on every run:
#   Microsoft stand-in  C=US, O=Microsoft Corporation, CN=Microsoft Azure RSA TLS Issuing CA 04
#   inspection proxy    O=Contoso Inspection, CN=Contoso TLS Inspection CA
#   CRL issuer          C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert Global Root G2
# and two leaf certificates for *.msappproxy.net, one from each of the first two CAs.
make_pki() {
  local d=$WORK/pki
  mkdir -p "$d"
  cat >"$d/req.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = DNS:*.msappproxy.net, DNS:msappproxy.net
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  mkca() {  # mkca NAME SUBJ
    openssl req -x509 -config "$d/req.cnf" -extensions v3_ca -newkey rsa:2048 -nodes \
      -sha256 -days 3650 -subj "$2" -keyout "$d/$1.key" -out "$d/$1.pem" 2>/dev/null
  }
  mkleaf() {  # mkleaf NAME CA
    openssl req -new -config "$d/req.cnf" -newkey rsa:2048 -nodes -subj '/CN=*.msappproxy.net' \
      -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
    openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2.key" -set_serial "0x$(openssl rand -hex 8)" \
      -sha256 -days 365 -extfile "$d/req.cnf" -extensions v3_leaf -out "$d/$1.pem" 2>/dev/null
  }
  mkca msca '/C=US/O=Microsoft Corporation/CN=Microsoft Azure RSA TLS Issuing CA 04'
  mkca inspca '/O=Contoso Inspection/CN=Contoso TLS Inspection CA'
  mkca dcroot '/C=US/O=DigiCert Inc/OU=www.digicert.com/CN=DigiCert Global Root G2'
  mkleaf leaf msca
  mkleaf inspleaf inspca
  local got
  got=$(openssl x509 -in "$d/leaf.pem" -noout -issuer -nameopt sep_comma_plus_space | sed 's/^issuer=//')
  [[ $got == "$MS_CA_DN" ]] || die "leaf issuer is '$got', not '$MS_CA_DN'"
  got=$(openssl x509 -in "$d/inspleaf.pem" -noout -issuer -nameopt sep_comma_plus_space | sed 's/^issuer=//')
  [[ $got == "$INSPECT_CA_DN" ]] || die "inspection leaf issuer is '$got'"

  # a real (empty) CRL signed by the DigiCert stand-in, served as DigiCertGlobalRootG2.crl
  mkdir -p "$d/crl" "$WORK/www-crl"
  : >"$d/crl/index.txt"
  echo 1000 >"$d/crl/crlnumber"
  cat >"$d/crl/ca.cnf" <<EOF
[ca]
default_ca = ca_default
[ca_default]
database = $d/crl/index.txt
crlnumber = $d/crl/crlnumber
default_md = sha256
default_crl_days = 30
EOF
  openssl ca -batch -config "$d/crl/ca.cnf" -gencrl -keyfile "$d/dcroot.key" -cert "$d/dcroot.pem" \
    -out "$d/crl/crl.pem" 2>/dev/null
  openssl crl -in "$d/crl/crl.pem" -outform DER -out "$WORK/www-crl/DigiCertGlobalRootG2.crl"

  # the CA sets for capdoc --ca-set (kept when only some scenarios are made: a new CA has the same
  # subject, and capdoc compares issuer names, so the committed files still describe every capture)
  if [[ -z ${CAPDOC_SCENARIOS:-} ]]; then
    cp "$d/msca.pem" "$OUT_DIR/proxy-ca-set.pem"
    cp "$d/inspca.pem" "$OUT_DIR/proxy-inspection-ca.pem"
  fi
}

# ------------------------------------------------------------------ servers
write_http_server() {
  cat >"$WORK/httpd.py" <<'EOF'
# Static file server (HTTP/1.0, the server closes): python3 httpd.py BIND_IP PORT DIR
# A file F with a sidecar F.set-cookie is answered with that Set-Cookie header too.
import functools, http.server, os, sys
class H(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".dat": "application/x-ns-proxy-autoconfig",
                      ".pac": "application/x-ns-proxy-autoconfig",
                      ".crl": "application/pkix-crl"}
    def end_headers(self):
        sidecar = self.translate_path(self.path) + ".set-cookie"
        if os.path.isfile(sidecar):
            with open(sidecar) as f:
                self.send_header("Set-Cookie", f.read().strip())
        super().end_headers()
    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.client_address[0], fmt % args))
ip, port, root = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = http.server.HTTPServer((ip, port), functools.partial(H, directory=root))
sys.stderr.write("listening\n"); sys.stderr.flush()
srv.serve_forever()
EOF
}

servers_up() {
  local d=$WORK/pki
  # "internet" DNS in px-server.  --local makes it authoritative (NODATA for AAAA, no
  # forwarding); the empty --address gives NXDOMAIN for that name.
  bgrun "$SNS" "$WORK/dnsmasq-server.log" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address="$DNS4" --except-interface=lo \
    --pid-file="$WORK/dnsmasq-server.pid" --log-queries --log-facility=- --local-ttl=60 \
    --local=/msappproxy.net/ --local=/windows.net/ --local=/microsoftonline.com/ --local=/digicert.com/ \
    --address=/msappproxy.net/"$IP_MSAPP" \
    --address=/legacy.msappproxy.net/"$IP_LEGACY" \
    --address=/inspected.msappproxy.net/"$IP_INSPECT" \
    --address=/dropped.msappproxy.net/"$IP_DROP" \
    --address=/refused.msappproxy.net/"$IP_REFUSED" \
    --address=/nxdomain.msappproxy.net/ \
    --address=/servicebus.windows.net/"$IP_SB" \
    --host-record=login.microsoftonline.com,"$IP_LOGIN" \
    --host-record=crl3.digicert.com,"$IP_CRL"
  # corporate DNS in px-proxy, the client's only resolver: WPAD name, everything else forwarded
  bgrun "$PNS" "$WORK/dnsmasq-corp.log" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address="$CORPDNS4" --except-interface=lo \
    --pid-file="$WORK/dnsmasq-corp.pid" --log-queries --log-facility=- --local-ttl=60 \
    --local=/contoso.local/ --host-record=wpad.contoso.local,"$WPAD4" \
    --server="$DNS4"

  # TLS servers (openssl s_server -www answers a GET with an HTTP/1.0 status page and closes)
  bgrun "$SNS" "$WORK/s_server-msapp.log" openssl s_server -accept "$IP_MSAPP:443" -tls1_2 -cert "$d/leaf.pem" -key "$d/leaf.key" \
    -cert_chain "$d/msca.pem" -www -quiet
  bgrun "$SNS" "$WORK/s_server-inspect.log" openssl s_server -accept "$IP_INSPECT:443" -tls1_2 -cert "$d/inspleaf.pem" -key "$d/inspleaf.key" \
    -cert_chain "$d/inspca.pem" -www -quiet
  bgrun "$SNS" "$WORK/s_server-legacy.log" openssl s_server -accept "$IP_LEGACY:443" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
    -cert "$d/leaf.pem" -key "$d/leaf.key" -cert_chain "$d/msca.pem" -www -quiet

  # CRL (px-server) and WPAD/PAC (px-proxy, 192.0.2.81)
  write_http_server
  mkdir -p "$WORK/www-wpad"
  cat >"$WORK/www-wpad/wpad.dat" <<EOF
function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || dnsDomainIs(host, ".contoso.local")) return "DIRECT";
  return "PROXY $PROXY4:3128; DIRECT";
}
EOF
  # proxy-credentials: a page on the CRL host whose answer sets a session cookie
  printf 'portal\n' >"$WORK/www-crl/portal.html"
  printf 'portal=%s; Path=/; HttpOnly\n' "$CRED_SET_COOKIE" >"$WORK/www-crl/portal.html.set-cookie"
  chmod -R a+rX "$WORK/www-wpad" "$WORK/www-crl"
  bgrun "$SNS" "$WORK/httpd-crl.log" "$PY" "$WORK/httpd.py" "$IP_CRL" 80 "$WORK/www-crl"
  bgrun "$PNS" "$WORK/httpd-wpad.log" "$PY" "$WORK/httpd.py" "$WPAD4" 80 "$WORK/www-wpad"

  wait_for "dnsmasq (server)" 100 listening_udp "$SNS" 53
  wait_for "dnsmasq (corp)" 100 listening_udp "$PNS" 53
  wait_for "TLS servers" 100 bash -c "[[ \$(ip netns exec $SNS ss -Hltn 'sport = :443' | wc -l) -ge 3 ]]"
  wait_for "CRL server" 100 listening_tcp "$SNS" 80
  wait_for "WPAD server" 100 listening_tcp "$PNS" 80
}

# ------------------------------------------------------------------ squid
# squid_start VARIANT: VARIANT = plain | auth | deny-servicebus | inspect
squid_start() {
  local variant=$1 sq=$WORK/squid-$1
  mkdir -p "$sq"
  local extra="" hosts=none
  case $variant in
    plain) ;;
    auth)
      { printf 'user:%s\n' "$(openssl passwd -1 secret)"
        printf '%s:%s\n' "$CRED_PROXY_USER" "$(openssl passwd -1 "$CRED_PROXY_PASS")"; } >"$sq/htpasswd"
      extra="auth_param basic program /usr/lib/squid/basic_ncsa_auth $sq/htpasswd
auth_param basic children 2 startup=1
auth_param basic realm Contoso Proxy
acl authed proxy_auth REQUIRED
http_access deny !authed"
      ;;
    deny-servicebus)
      extra="acl servicebus dstdomain .servicebus.windows.net
http_access deny CONNECT servicebus"
      ;;
    inspect)
      # Stand-in for a TLS-inspecting proxy: squid's own hosts file sends
      # contoso.msappproxy.net to the server that presents the Contoso Inspection CA's
      # certificate, so the client sees exactly what an inspecting proxy shows it.
      printf '%s contoso.msappproxy.net\n' "$IP_INSPECT" >"$sq/hosts"
      hosts=$sq/hosts
      ;;
    *) die "bad squid variant $variant" ;;
  esac
  cat >"$sq/squid.conf" <<EOF
# capdoc generate-proxy.sh, variant $variant
http_port 3128
http_port 8080
visible_hostname proxy.contoso.local
cache_effective_user proxy
cache_effective_group proxy
pid_filename $sq/squid.pid
cache_log $sq/cache.log
access_log stdio:$sq/access.log squid
cache_store_log none
logfile_rotate 0
coredump_dir $sq
cache deny all
cache_mem 0 MB
netdb_filename none
pinger_enable off
dns_nameservers $DNS4
hosts_file $hosts
connect_timeout 3 seconds
forward_timeout 5 seconds
shutdown_lifetime 1 seconds
acl client src 198.51.100.0/24 2001:db8:10::/64
acl SSL_ports port 443
acl Safe_ports port 80 443
acl CONNECT method CONNECT
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
$extra
http_access allow client
http_access deny all
EOF
  chown -R proxy:proxy "$sq"
  px squid -k parse -f "$sq/squid.conf" >"$sq/parse.log" 2>&1 || die "squid.conf ($variant) does not parse: $(tail -5 "$sq/parse.log")"
  bgrun "$PNS" "$sq/stdout.log" squid -N -f "$sq/squid.conf"
  SQUID_PID=$LAST_PID
  wait_for "squid ($variant) on 3128" 150 listening_tcp "$PNS" 3128
  wait_for "squid ($variant) on 8080" 50 listening_tcp "$PNS" 8080
  if [[ $variant == auth ]]; then sleep 0.5; fi   # let the first basic_ncsa_auth helper start
}

squid_stop() {
  [[ -n $SQUID_PID ]] || return 0
  kill -TERM "$SQUID_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$SQUID_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SQUID_PID" 2>/dev/null && kill -KILL "$SQUID_PID" 2>/dev/null
  wait "$SQUID_PID" 2>/dev/null || true
  SQUID_PID=""
  wait_for "squid to release 3128" 50 bash -c "! ip netns exec $PNS ss -Hltn 'sport = :3128' | grep -q ."
}

tinyproxy_up() {
  local tp=$WORK/tinyproxy
  mkdir -p "$tp"
  cat >"$tp/tinyproxy.conf" <<EOF
User nobody
Group nogroup
Port 8888
Listen $PROXY4
Timeout 10
MaxClients 10
LogFile "$tp/tinyproxy.log"
LogLevel Info
PidFile "$tp/tinyproxy.pid"
Allow 198.51.100.0/24
ConnectPort 443
EOF
  chown -R nobody:nogroup "$tp"
  bgrun "$PNS" "$tp/stdout.log" tinyproxy -d -c "$tp/tinyproxy.conf"
  wait_for "tinyproxy on 8888" 100 listening_tcp "$PNS" 8888
}

# ------------------------------------------------------------------ capture
CAP_PID=""
cap_start() {  # cap_start FILE
  local file=$1 err=$WORK/cap.$(basename "$1").err
  rm -f "$file"
  cx ip neigh flush dev "$CIF" 2>/dev/null || true     # every capture starts with ARP / ND
  : >"$err"
  bgrun "$CNS" "$err" tcpdump -Z root -n -s 0 -U -i "$CIF" -w "$file"
  CAP_PID=$LAST_PID
  local i
  for ((i = 0; i < 100; i++)); do
    if grep -q 'listening on' "$err" 2>/dev/null; then sleep 0.3; return 0; fi
    kill -0 "$CAP_PID" 2>/dev/null || die "tcpdump failed: $(cat "$err")"
    sleep 0.1
  done
  die "tcpdump did not start: $(cat "$err")"
}
cap_stop() {
  sleep 1
  kill -INT "$CAP_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 50; i++)); do kill -0 "$CAP_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$CAP_PID" 2>/dev/null && die "tcpdump did not stop on SIGINT"
  wait "$CAP_PID" 2>/dev/null || true
  CAP_PID=""
}

# ------------------------------------------------------------------ client
# client EXPECTED_RC LABEL curl-args...: run curl in px-client, check its exit code
CURL_LOG=$WORK/curl.log
client() {
  local want=$1 label=$2 rc=0 out
  shift 2
  out=$(cx timeout 20 curl -sS -o /dev/null -w '%{http_connect} %{http_code}' --max-time 10 "$@" 2>&1) || rc=$?
  printf '%s: rc=%s %s\n' "$label" "$rc" "$out" >>"$CURL_LOG"
  log "  curl $label: rc=$rc ($out)"
  if [[ $want == nonzero ]]; then
    [[ $rc -ne 0 ]] || die "curl $label succeeded but should fail"
  else
    [[ $rc -eq $want ]] || die "curl $label: exit $rc, expected $want ($out)"
  fi
  sleep 0.5
}

SQ3128=(-x "http://$PROXY4:3128")
MSAPP=https://contoso.msappproxy.net/
OLD_TLS=(--tlsv1.0 --tls-max 1.1 --ciphers 'DEFAULT:@SECLEVEL=0')

scenario() {  # scenario NAME SQUID_VARIANT: start squid + capture, run sc_NAME, stop
  local name=$1 variant=$2
  log "scenario $name (squid: $variant)"
  echo "== $name" >>"$CURL_LOG"
  squid_start "$variant"
  cap_start "$OUT_DIR/$name.eth.pcap"
  "sc_${name//-/_}"
  cap_stop
  squid_stop
}

sc_proxy_connect_ok() {
  client 0 connect-ok -k "${SQ3128[@]}" "$MSAPP"
}
sc_proxy_auth_407() {
  # curl asks without credentials first (--proxy-anyauth), gets 407 + Proxy-Authenticate,
  # then repeats the CONNECT with Proxy-Authorization: Basic.
  client 0 auth-anyauth -k "${SQ3128[@]}" --proxy-anyauth --proxy-user user:secret "$MSAPP"
}
sc_proxy_denied_403() {
  client 0 denied-ok -k "${SQ3128[@]}" "$MSAPP"
  client 56 denied-servicebus -k "${SQ3128[@]}" https://connector.servicebus.windows.net/
}
sc_proxy_upstream_error() {
  client 56 upstream-dropped -k "${SQ3128[@]}" https://dropped.msappproxy.net/
  client 56 upstream-refused -k "${SQ3128[@]}" https://refused.msappproxy.net/
  client 56 upstream-nxdomain -k "${SQ3128[@]}" https://nxdomain.msappproxy.net/
}
sc_proxy_crl_get() {
  client 0 crl-get "${SQ3128[@]}" http://crl3.digicert.com/DigiCertGlobalRootG2.crl
}
sc_proxy_port_8080_v6() {
  client 0 v6-8080 -k -x "http://[$PROXY6]:8080" "$MSAPP"
}
sc_proxy_tinyproxy() {
  client 0 tinyproxy-ok -k -x "http://$PROXY4:8888" "$MSAPP"
  client 56 tinyproxy-nxdomain -k -x "http://$PROXY4:8888" https://nxdomain.msappproxy.net/
  client 56 tinyproxy-refused -k -x "http://$PROXY4:8888" https://refused.msappproxy.net/
}
sc_proxy_wpad() {
  # WPAD by DNS: fetch the PAC file directly, take the first PROXY entry, use it.
  local pac proxy rc=0
  pac=$(cx timeout 20 curl -sS --noproxy '*' --max-time 10 http://wpad.contoso.local/wpad.dat) || rc=$?
  [[ $rc -eq 0 ]] || die "WPAD fetch failed (rc=$rc)"
  printf 'wpad: rc=0 %s bytes\n' "${#pac}" >>"$CURL_LOG"
  proxy=$(printf '%s\n' "$pac" | grep -o 'PROXY [0-9.]*:[0-9]*' | head -1 | cut -d' ' -f2)
  [[ $proxy == "$PROXY4:3128" ]] || die "PAC file gave proxy '$proxy'"
  log "  PAC file says PROXY $proxy"
  sleep 0.5
  client 0 wpad-connect -k -x "http://$proxy" "$MSAPP"
}
sc_proxy_tls_inspection() {
  client 0 inspected -k "${SQ3128[@]}" "$MSAPP"
}
sc_proxy_tls_old() {
  # a client limited to TLS 1.0-1.1 against the TLS 1.1-only server: TLS 1.1 negotiated
  client 0 tls11-legacy -k "${SQ3128[@]}" "${OLD_TLS[@]}" https://legacy.msappproxy.net/
  # the same client against the TLS 1.2-only server: fatal protocol_version alert
  client 35 tls11-to-tls12-only -k "${SQ3128[@]}" "${OLD_TLS[@]}" "$MSAPP"
}

# Hostile names, for the HTML report's escaping test: real handshakes whose SNI and CONNECT
# target carry markup. openssl s_client sends any -servername as given; bash writes the raw
# CONNECT (curl refuses such a URL). Only the status line of squid's answer is read.
HOSTILE_SNI='<script>alert(1)</script>.msappproxy.net'
HOSTILE_TARGET='<script>alert(2)</script>.example'
sc_proxy_hostile_names() {
  local rc=0 line
  cx timeout 10 openssl s_client -proxy "$PROXY4:3128" -connect contoso.msappproxy.net:443 \
    -servername "$HOSTILE_SNI" -brief </dev/null >>"$CURL_LOG" 2>&1 || rc=$?
  [[ $rc -eq 0 ]] || die "s_client with a hostile SNI failed (rc=$rc)"
  log "  s_client: TLS through the tunnel with SNI $HOSTILE_SNI"
  sleep 0.5
  line=$(cx timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/3128" || exit 1
    printf "CONNECT %s:443 HTTP/1.1\r\nHost: %s:443\r\n\r\n" "$2" "$2" >&3
    IFS= read -r line <&3; printf "%s" "${line%$'"'"'\r'"'"'}"' _ "$PROXY4" "$HOSTILE_TARGET") \
    || die "raw CONNECT to a hostile target got no answer"
  log "  raw CONNECT $HOSTILE_TARGET:443 -> $line"
  printf 'hostile-connect: %s\n' "$line" >>"$CURL_LOG"
  sleep 0.5
}

# Credentials and hostile bytes, for the tests that no output shows a credential and that no
# report carries a terminal escape, a control character or bytes that are not UTF-8. Through
# squid with Basic proxy authentication (variant auth), every request authenticated:
#  1. curl: GET http://crl3.digicert.com/portal.html?sig=<token> (absolute URI) with
#     Proxy-Authorization, Authorization: Basic and Cookie; the origin answers with Set-Cookie;
#  2. curl: CONNECT contoso.msappproxy.net:443 with Proxy-Authorization, TLS 1.2, GET;
#  3. openssl s_client: authenticated CONNECT contoso.msappproxy.net:443, then a ClientHello whose
#     SNI carries terminal escapes, CR and bytes that are not UTF-8;
#  4. bash: CONNECT to a target with terminal escapes (ESC, BEL), CR and bytes that are not UTF-8,
#     the same in Host; squid answers 400 (RFC 9112 forbids controls in a request line, and a
#     strict parser such as httparse rejects it: an analyser still sees squid's refusal);
#  5. bash: CONNECT to a target with a C1 CSI (U+009B) and a right-to-left override (U+202E),
#     valid UTF-8 that an HTTP parser does take (a request-target must be UTF-8 for httparse);
#  6. bash: GET http://crl3.digicert.com/portal.html whose Host header has a C1 CSI, a
#     right-to-left override and bytes that are not UTF-8 (header values are bytes).
# bash writes 4-6 raw over /dev/tcp (curl refuses such names) with Connection: close and reads
# the answer to the end; only its status line is kept.
HOSTILE_ESC_SNI=$'sni\x1b[31mred\x1b]0;pwned\x07\rcr\xff\xfe.msappproxy.net'
HOSTILE_ESC_TARGET=$'esc\x1b[31mred\x1b]0;pwned\x07\rcr\xff\xfe.example'
HOSTILE_C1_TARGET=$'c1\xc2\x9b31m\xe2\x80\xaertl.example'
HOSTILE_HOST=$'host\xc2\x9b31m\xe2\x80\xaertl\xff\xfe.example'
raw_request() {  # raw_request REQUEST: send it to squid :3128 from px-client, print the status line
  # One write (cat of a file): printf would write line by line, and squid closes (RST) after the
  # first line it refuses. The answer is read to its end (EOF, or 2 s without a line).
  printf '%s' "$1" >"$WORK/raw-request"
  cx timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/3128" || exit 1
    cat "$2" >&3
    IFS= read -r line <&3
    while IFS= read -r -t 2 _ <&3; do :; done
    printf "%s" "${line%$'"'"'\r'"'"'}"' _ "$PROXY4" "$WORK/raw-request" 2>>"$CURL_LOG"
}
sc_proxy_credentials() {
  local pauth line rc=0 end=$'\r\n'
  pauth=$(printf '%s:%s' "$CRED_PROXY_USER" "$CRED_PROXY_PASS" | base64 -w0)
  client 0 creds-get "${SQ3128[@]}" --proxy-user "$CRED_PROXY_USER:$CRED_PROXY_PASS" \
    -H "Authorization: Basic $(printf '%s' "$CRED_AUTHZ" | base64 -w0)" -H "Cookie: session=$CRED_COOKIE" \
    "http://crl3.digicert.com/portal.html?sig=$CRED_QUERY"
  client 0 creds-connect -k "${SQ3128[@]}" --proxy-user "$CRED_PROXY_USER:$CRED_PROXY_PASS" "$MSAPP"
  cx timeout 10 openssl s_client -proxy "$PROXY4:3128" -proxy_user "$CRED_PROXY_USER" \
    -proxy_pass "pass:$CRED_PROXY_PASS" -connect contoso.msappproxy.net:443 \
    -servername "$HOSTILE_ESC_SNI" -brief </dev/null >>"$CURL_LOG" 2>&1 || rc=$?
  [[ $rc -eq 0 ]] || die "s_client with a hostile SNI failed (rc=$rc)"
  log "  s_client: TLS through an authenticated tunnel with a hostile SNI"
  sleep 0.5
  local auth="Proxy-Authorization: Basic $pauth${end}Connection: close$end$end"
  line=$(raw_request "CONNECT $HOSTILE_ESC_TARGET:443 HTTP/1.1${end}Host: $HOSTILE_ESC_TARGET:443$end$auth")
  [[ $line == HTTP/* ]] || die "raw CONNECT to a target with terminal escapes got no answer"
  log "  raw CONNECT (terminal escapes) -> $line"
  printf 'hostile-esc-connect: %s\n' "$line" >>"$CURL_LOG"
  sleep 0.5
  line=$(raw_request "CONNECT $HOSTILE_C1_TARGET:443 HTTP/1.1${end}Host: $HOSTILE_C1_TARGET:443$end$auth")
  [[ $line == HTTP/* ]] || die "raw CONNECT to a target with C1/bidi characters got no answer"
  log "  raw CONNECT (C1, bidi) -> $line"
  printf 'hostile-c1-connect: %s\n' "$line" >>"$CURL_LOG"
  sleep 0.5
  line=$(raw_request "GET http://crl3.digicert.com/portal.html HTTP/1.1${end}Host: $HOSTILE_HOST$end$auth")
  [[ $line == HTTP/* ]] || die "raw GET with a hostile Host header got no answer"
  log "  raw GET (hostile Host) -> $line"
  printf 'hostile-host-get: %s\n' "$line" >>"$CURL_LOG"
  sleep 0.5
}

# ------------------------------------------------------------------ expected.json + checks
write_expect_py() {
  cat >"$WORK/expect.py" <<'PYEOF'
"""Scenario table -> <capture>.expected.json, checked against tshark.

python3 expect.py CAPTURE SCENARIO   (env: MS_CA_DN, INSPECT_CA_DN, VERIFY=0|1)
"""
import json, os, re, subprocess, sys

cap, scen = sys.argv[1], sys.argv[2]
MS, INSP = os.environ["MS_CA_DN"], os.environ["INSPECT_CA_DN"]
VERIFY = os.environ.get("VERIFY", "1") == "1"
C4, C6 = "198.51.100.20", "2001:db8:10::20"
P3128, P8080_6, P8888 = "192.0.2.80:3128", "[2001:db8:10::80]:8080", "192.0.2.80:8888"
CA_SET, INSPECT_CA = "captures/proxy-ca-set.pem", "captures/proxy-inspection-ca.pem"
FROM_CAPTURE = "from-capture"   # status known only after the run (proxy failures)

def tls(sni, version="TLS 1.2", issuer=MS, alert=None, offered_max="TLS 1.3"):
    t = {"sni": sni, "version": version, "issuer": issuer}
    t["client_max_version"] = offered_max
    t["alert"] = alert
    return t

def connect(name, proxy=P3128, status=200, outcome="ok", t=None, auth=False):
    return {"path": "proxy", "proxy": proxy,
            "destination": {"name": name, "ip": None, "port": 443},
            "request": f"CONNECT {name}:443", "proxy_authorization": auth,
            "http_status": status, "outcome": outcome, "tls": t}

MSAPP = "contoso.msappproxy.net"
OK_TLS = tls(MSAPP)

def shown(b):
    """Capture bytes as a report shows them (capdoc's rule for untrusted text): bytes that are not
    UTF-8 as U+FFFD, C0/C1 controls and DEL as \\xNN, bidirectional controls as \\u{NNNN}."""
    out = ""
    for c in b.decode("utf-8", "replace"):
        o = ord(c)
        if o < 0x20 or 0x7f <= o < 0xa0:
            out += f"\\x{o:02x}"
        elif 0x202a <= o <= 0x202e or 0x2066 <= o <= 0x2069:
            out += f"\\u{{{o:04x}}}"
        else:
            out += c
    return out

def as_tshark(b):
    """What tshark -T fields prints for bytes in an HTTP or SNI string: every byte above 0x7f as
    U+FFFD, CR as \\r (an HTTP request line ends at the first CR for tshark)."""
    return "".join("\ufffd" if x > 0x7f else "\\r" if x == 13 else chr(x) for x in b)

# the hostile bytes of proxy-credentials (HOSTILE_* in generate-proxy.sh)
ESC_SNI = b"sni\x1b[31mred\x1b]0;pwned\x07\rcr\xff\xfe.msappproxy.net"
ESC_TARGET = b"esc\x1b[31mred\x1b]0;pwned\x07\rcr\xff\xfe.example"
C1_TARGET = "c1\u009b31m\u202ertl.example".encode()

SCENARIOS = {
 "proxy-connect-ok": dict(
    description="curl CONNECTs to contoso.msappproxy.net:443 through squid on 192.0.2.80:3128 (200), "
                "then TLS 1.2 with SNI contoso.msappproxy.net; the server's certificate is issued by the "
                "Microsoft stand-in CA in proxy-ca-set.pem; one GET inside the tunnel, closed by both sides.",
    proxy=P3128, ca_set=CA_SET,
    attempts=[connect(MSAPP, t=OK_TLS)],
    findings=[], findings_allowed=[]),
 "proxy-auth-407": dict(
    description="squid requires Basic proxy authentication. curl --proxy-anyauth sends CONNECT "
                "contoso.msappproxy.net:443 without credentials and gets 407 with Proxy-Authenticate: Basic "
                "realm=\"Contoso Proxy\", then repeats the CONNECT with Proxy-Authorization: Basic (user:secret) "
                "and gets 200, followed by TLS 1.2 and a GET.",
    proxy=P3128, ca_set=CA_SET,
    attempts=[connect(MSAPP, status=407, outcome="proxy_auth_required"),
              connect(MSAPP, t=OK_TLS, auth=True)],
    findings=["proxy-auth-required"], findings_allowed=[],
    secrets=["dXNlcjpzZWNyZXQ="]),
 "proxy-denied-403": dict(
    description="squid allows CONNECT to contoso.msappproxy.net:443 (200, TLS 1.2, GET) but its ACL "
                "(http_access deny CONNECT .servicebus.windows.net) answers CONNECT "
                "connector.servicebus.windows.net:443 with 403 and X-Squid-Error: ERR_ACCESS_DENIED 0.",
    proxy=P3128, ca_set=CA_SET,
    attempts=[connect(MSAPP, t=OK_TLS),
              connect("connector.servicebus.windows.net", status=403, outcome="proxy_denied")],
    findings=["proxy-denied"], findings_allowed=[]),
 "proxy-upstream-error": dict(
    description="Three CONNECTs through squid that squid cannot complete upstream: "
                "dropped.msappproxy.net (SYNs dropped by the server's firewall, squid connect_timeout 3 s), "
                "refused.msappproxy.net (server answers RST) and nxdomain.msappproxy.net (NXDOMAIN). "
                "squid answers each with an error page; the exact status and X-Squid-Error are in the attempts.",
    proxy=P3128,
    attempts=[connect("dropped.msappproxy.net", status=FROM_CAPTURE, outcome="proxy_upstream_error"),
              connect("refused.msappproxy.net", status=FROM_CAPTURE, outcome="proxy_upstream_error"),
              connect("nxdomain.msappproxy.net", status=FROM_CAPTURE, outcome="proxy_upstream_error")],
    findings=["proxy-upstream-error"], findings_allowed=["dns-failure"]),
 "proxy-crl-get": dict(
    description="Plain-HTTP GET http://crl3.digicert.com/DigiCertGlobalRootG2.crl through squid on "
                "192.0.2.80:3128 (absolute URI in the request line), answered 200 with a DER CRL.",
    proxy=P3128,
    attempts=[{"path": "proxy", "proxy": P3128,
               "destination": {"name": "crl3.digicert.com", "ip": None, "port": 80},
               "request": "GET http://crl3.digicert.com/DigiCertGlobalRootG2.crl",
               "proxy_authorization": False, "http_status": 200, "outcome": "ok", "tls": None}],
    findings=[], findings_allowed=[]),
 "proxy-port-8080-v6": dict(
    description="Over IPv6, curl (2001:db8:10::20) CONNECTs to contoso.msappproxy.net:443 through squid's "
                "second port [2001:db8:10::80]:8080 (200), then TLS 1.2 and a GET (squid reaches the server over IPv4).",
    client=C6, proxy=P8080_6, ca_set=CA_SET,
    attempts=[connect(MSAPP, proxy=P8080_6, t=OK_TLS)],
    findings=[], findings_allowed=[]),
 "proxy-tinyproxy": dict(
    description="tinyproxy on 192.0.2.80:8888: CONNECT contoso.msappproxy.net:443 (200, TLS 1.2, GET), then "
                "CONNECT nxdomain.msappproxy.net:443 (NXDOMAIN) and CONNECT refused.msappproxy.net:443 (RST "
                "upstream), each answered with tinyproxy's error page (status in the attempts). Port 8888 is "
                "not a port Wireshark decodes as HTTP by default (use -d tcp.port==8888,http).",
    proxy=P8888, ca_set=CA_SET,
    attempts=[connect(MSAPP, proxy=P8888, t=OK_TLS),
              connect("nxdomain.msappproxy.net", proxy=P8888, status=FROM_CAPTURE, outcome="proxy_upstream_error"),
              connect("refused.msappproxy.net", proxy=P8888, status=FROM_CAPTURE, outcome="proxy_upstream_error")],
    findings=["proxy-upstream-error"], findings_allowed=["dns-failure"]),
 "proxy-wpad": dict(
    description="WPAD: the client resolves wpad.contoso.local (corporate DNS 192.0.2.53 answers 192.0.2.81), "
                "fetches GET /wpad.dat directly (200, application/x-ns-proxy-autoconfig, a PAC file returning "
                "\"PROXY 192.0.2.80:3128; DIRECT\"), then CONNECTs to contoso.msappproxy.net:443 through that "
                "proxy (200, TLS 1.2, GET).",
    proxy=P3128, ca_set=CA_SET,
    wpad={"name": "wpad.contoso.local", "ip": "192.0.2.81", "url": "http://wpad.contoso.local/wpad.dat",
          "pac_result": "PROXY 192.0.2.80:3128; DIRECT"},
    attempts=[{"path": "direct", "proxy": None,
               "destination": {"name": "wpad.contoso.local", "ip": "192.0.2.81", "port": 80},
               "request": "GET /wpad.dat", "proxy_authorization": False,
               "http_status": 200, "outcome": "ok", "tls": None},
              connect(MSAPP, t=OK_TLS)],
    findings=["wpad-proxy"], findings_allowed=[]),
 "proxy-tls-inspection": dict(
    description="CONNECT contoso.msappproxy.net:443 through squid (200); the TLS 1.2 server behind it presents "
                "a *.msappproxy.net certificate issued by 'Contoso TLS Inspection CA' (what a TLS-inspecting "
                "proxy shows), not by the Microsoft stand-in CA of proxy-ca-set.pem; curl -k still sends a GET.",
    proxy=P3128, ca_set=CA_SET, inspection_ca=INSPECT_CA,
    attempts=[connect(MSAPP, outcome="tls_inspected", t=tls(MSAPP, issuer=INSP))],
    findings=["tls-inspection"], findings_allowed=[]),
 "proxy-tls-old": dict(
    description="Through squid: a client limited to TLS 1.0-1.1 (curl --tlsv1.0 --tls-max 1.1) negotiates "
                "TLS 1.1 with legacy.msappproxy.net (a TLS 1.1-only server) and sends a GET; the same client "
                "against the TLS 1.2-only contoso.msappproxy.net gets a fatal protocol_version alert from the server.",
    proxy=P3128, ca_set=CA_SET,
    attempts=[connect("legacy.msappproxy.net", t=tls("legacy.msappproxy.net", version="TLS 1.1", offered_max="TLS 1.1")),
              connect(MSAPP, outcome="tls_alert",
                      t=tls(MSAPP, version=None, issuer=None, offered_max="TLS 1.1",
                            alert={"from": "server", "level": "fatal", "description": "protocol_version"}))],
    findings=["tls-version"], findings_allowed=["tls-alert"]),
 "proxy-hostile-names": dict(
    description="Markup in names, from real handshakes through squid: openssl s_client CONNECTs to "
                "contoso.msappproxy.net:443 (200) and sends the ClientHello with SNI "
                "'<script>alert(1)</script>.msappproxy.net' (TLS 1.2, the Microsoft stand-in certificate); then bash "
                "sends 'CONNECT <script>alert(2)</script>.example:443' and squid refuses it (status in the attempts). "
                "Reports must show both names as text.",
    proxy=P3128, ca_set=CA_SET,
    attempts=[connect(MSAPP, t=tls("<script>alert(1)</script>.msappproxy.net")),
              connect("<script>alert(2)</script>.example", status=FROM_CAPTURE, outcome=FROM_CAPTURE)],
    findings=["sni-mismatch"], findings_allowed=["dns-failure"]),
 "proxy-credentials": dict(
    description="Credentials and hostile bytes, through squid with Basic proxy authentication, every request "
                "with Proxy-Authorization: Basic (capdoc:capdocSecretProxy7Q). curl GETs "
                "http://crl3.digicert.com/portal.html?sig=<token> (absolute URI) with Authorization: Basic "
                "(webuser:capdocSecretAuthz7Q) and Cookie: session=<secret>; the origin answers 200 with "
                "Set-Cookie: portal=<secret>. curl CONNECTs to contoso.msappproxy.net:443 (200, TLS 1.2, GET). "
                "openssl s_client CONNECTs there too and sends an SNI with terminal escapes (ESC [31m, "
                "ESC ]0;...BEL), a CR and the bytes FF FE (not UTF-8). bash sends CONNECT to a target with the "
                "same kind of bytes (squid answers 400: controls are not allowed in a request line), CONNECT to "
                "a target with a C1 CSI (U+009B) and a right-to-left override (U+202E) (squid cannot resolve "
                "it), and GET http://crl3.digicert.com/portal.html with such a Host header plus FF FE (200, "
                "Set-Cookie again). Names are written here as a report shows capture bytes: not UTF-8 as "
                "U+FFFD, C0/C1 controls and DEL as \\xNN, bidirectional controls as \\u{NNNN}. "
                "`secrets`: the two Basic credentials as on the wire, the cookie values and the query token.",
    proxy=P3128, ca_set=CA_SET,
    attempts=[{"path": "proxy", "proxy": P3128,
               "destination": {"name": "crl3.digicert.com", "ip": None, "port": 80},
               "request": "GET http://crl3.digicert.com/portal.html?sig=capdocSecretQuery7Q",
               "proxy_authorization": True, "http_status": 200, "outcome": "ok", "tls": None},
              connect(MSAPP, t=OK_TLS, auth=True),
              connect(MSAPP, t=tls(shown(ESC_SNI)), auth=True),
              connect(shown(ESC_TARGET), status=FROM_CAPTURE, outcome=FROM_CAPTURE, auth=True),
              connect(shown(C1_TARGET), status=FROM_CAPTURE, outcome=FROM_CAPTURE, auth=True),
              {"path": "proxy", "proxy": P3128,
               "destination": {"name": "crl3.digicert.com", "ip": None, "port": 80},
               "request": "GET http://crl3.digicert.com/portal.html",
               "proxy_authorization": True, "http_status": 200, "outcome": "ok", "tls": None}],
    # what tshark shows of the hostile attempts is checked against these bytes (see as_tshark)
    wire={3: {"sni": ESC_SNI}, 4: {"request": b"CONNECT " + ESC_TARGET + b":443"},
          5: {"request": b"CONNECT " + C1_TARGET + b":443"}},
    findings=["sni-mismatch"], findings_allowed=[],
    secrets=["Y2FwZG9jOmNhcGRvY1NlY3JldFByb3h5N1E=", "d2VidXNlcjpjYXBkb2NTZWNyZXRBdXRoejdR",
             "capdocSecretCookie7Q", "capdocSecretSetCookie7Q", "capdocSecretQuery7Q"],
    secret_headers=["Proxy-Authorization", "Authorization", "Cookie", "Set-Cookie"]),
}

# ---------------------------------------------------------------- tshark
VERS = {"0x0301": "TLS 1.0", "0x0302": "TLS 1.1", "0x0303": "TLS 1.2", "0x0304": "TLS 1.3", "0x0300": "SSL 3.0"}
ALERTS = {"10": "unexpected_message", "20": "bad_record_mac", "40": "handshake_failure", "42": "bad_certificate",
          "46": "certificate_unknown", "48": "unknown_ca", "70": "protocol_version", "71": "insufficient_security",
          "80": "internal_error", "112": "unrecognized_name", "0": "close_notify"}

def ts(filt, *fields):
    # http.desegment_body:FALSE: an error page whose body was cut short by the client's RST
    # (curl closes as soon as it has read a failed CONNECT's headers) is still listed.
    cmd = ["tshark", "-n", "-r", cap, "-d", "tcp.port==8888,http", "-o", "http.desegment_body:FALSE",
           "-Y", filt, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    # split on LF only: str.splitlines() also splits on controls that hostile names carry
    return [l.split("\t") for l in out.split("\n") if l.strip()]

errors = []
def check(cond, msg):
    if not cond:
        errors.append(msg)

s = SCENARIOS[scen]
attempts = json.loads(json.dumps(s["attempts"]))
if VERIFY:
    reqs = ts("http.request", "frame.number", "tcp.stream", "http.request.method", "http.request.uri",
              "http.proxy_authorization", "ip.dst", "ipv6.dst", "tcp.dstport")
    resps = ts("http.response", "frame.number", "tcp.stream", "http.response.code", "http.response.phrase",
               "http.response.line")
    chellos = ts("tls.handshake.type==1", "frame.number", "tcp.stream", "tls.handshake.extensions_server_name",
                 "tls.handshake.version", "tls.handshake.extensions.supported_version")
    shellos = ts("tls.handshake.type==2", "frame.number", "tcp.stream", "tls.handshake.version",
                 "tls.handshake.extensions.supported_version")
    certs = ts("tls.handshake.type==11", "frame.number", "tcp.stream", "tls.handshake.certificate")
    alerts = ts("tls.alert_message", "frame.number", "tcp.stream", "ip.src", "tls.alert_message.level",
                "tls.alert_message.desc")
    check(len(reqs) == len(attempts), f"{len(reqs)} HTTP requests in the capture, table has {len(attempts)} attempts")
    for i, (a, r) in enumerate(zip(attempts, reqs), 1):
        frame, stream, method, uri, pauth, dst4, dst6, dport = r
        frame = int(frame)
        wire = s.get("wire", {}).get(i, {})
        want = as_tshark(wire["request"].split(b"\r")[0]) if "request" in wire else a["request"]
        check(f"{method} {uri}" == want, f"attempt {i}: request is {method + ' ' + uri!r}, table says {want!r}")
        check(bool(pauth) == a["proxy_authorization"], f"attempt {i}: Proxy-Authorization present={bool(pauth)}")
        where = f"{dst6 and '[' + dst6 + ']' or dst4}:{dport}"
        if a["path"] == "proxy":
            check(where == a["proxy"], f"attempt {i}: sent to {where}, table says proxy {a['proxy']}")
        else:
            check(where == f"{a['destination']['ip']}:{a['destination']['port']}", f"attempt {i}: sent to {where}")
        # the response: the first one on the same stream after the request
        resp = next((x for x in resps if x[1] == stream and int(x[0]) > frame), None)
        check(resp is not None, f"attempt {i}: no HTTP response")
        if resp is None:
            continue
        code, phrase = int(resp[2]), resp[3]
        lines = [l.replace("\\r\\n", "").strip() for l in resp[4].split("\x1f")]
        squid_err = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("x-squid-error:")), None)
        pa = next((l.split(":", 1)[1].strip() for l in lines if l.lower().startswith("proxy-authenticate:")), None)
        if a["outcome"] == FROM_CAPTURE:
            # squid's own refusal of a target it cannot use: below 500 it refused, 5xx it failed upstream
            check(400 <= code <= 599, f"attempt {i}: proxy refusal status {code} is not 4xx/5xx")
            a["outcome"] = "proxy_denied" if code < 500 else "proxy_upstream_error"
            s["findings"].append("proxy-denied" if code < 500 else "proxy-upstream-error")
            a["http_status"] = code
        elif a["http_status"] == FROM_CAPTURE:
            check(code in (500, 502, 503, 504), f"attempt {i}: proxy failure status {code} is not 500/502/503/504")
            a["http_status"] = code
        else:
            check(code == a["http_status"], f"attempt {i}: status {code}, table says {a['http_status']}")
        # read back from the capture (the table only knows the class of the answer)
        a["http_reason"] = phrase
        a["x_squid_error"] = squid_err
        a["proxy_authenticate"] = pa
        if code == 407:
            check(pa is not None and pa.startswith("Basic realm="), f"attempt {i}: 407 without Basic Proxy-Authenticate")
        if scen == "proxy-denied-403" and code == 403:
            check(squid_err == "ERR_ACCESS_DENIED 0", f"attempt {i}: X-Squid-Error {squid_err!r}")
        # TLS of this attempt: frames on the same stream after the response, before the next request
        lo = int(resp[0])
        hi = min([int(x[0]) for x in reqs if x[1] == stream and int(x[0]) > frame] + [10**9])
        mine = lambda rows: [x for x in rows if x[1] == stream and lo < int(x[0]) < hi]
        t = a["tls"]
        if t is None:
            check(not mine(chellos), f"attempt {i}: unexpected ClientHello")
            continue
        ch = next(iter(mine(chellos)), None)
        check(ch is not None, f"attempt {i}: no ClientHello after the 200")
        if ch is None:
            continue
        check(ch[2] == (as_tshark(wire["sni"]) if "sni" in wire else t["sni"]), f"attempt {i}: SNI {ch[2]!r}")
        offered = [VERS.get(v, v) for v in ch[4].split("\x1f") if v] or [VERS.get(ch[3], ch[3])]
        offered = [v for v in offered if v.startswith("TLS")]
        check(max(offered) == t["client_max_version"], f"attempt {i}: client offers up to {max(offered)}")
        sh = next(iter(mine(shellos)), None)
        if t["version"] is None:
            check(sh is None, f"attempt {i}: unexpected ServerHello")
        else:
            check(sh is not None, f"attempt {i}: no ServerHello")
            if sh:
                v = VERS.get(sh[3], sh[3]) if sh[3] else VERS.get(sh[2], sh[2])
                check(v == t["version"], f"attempt {i}: negotiated {v}, table says {t['version']}")
        ce = next(iter(mine(certs)), None)
        if t["issuer"] is None:
            check(ce is None, f"attempt {i}: unexpected Certificate")
        else:
            check(ce is not None, f"attempt {i}: no Certificate message")
            if ce:
                der = bytes.fromhex(ce[2].split("\x1f")[0].replace(":", ""))
                iss = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-issuer", "-nameopt",
                                      "sep_comma_plus_space"], input=der, capture_output=True, check=True
                                     ).stdout.decode().strip().removeprefix("issuer=")
                check(iss == t["issuer"], f"attempt {i}: issuer {iss!r}")
        # ignore close_notify and encrypted alerts (TLS 1.2 sends close_notify encrypted)
        al = [x for x in mine(alerts) if x[4] not in ("0", "")]
        if t["alert"] is None:
            check(not al, f"attempt {i}: unexpected alert {al}")
        else:
            check(len(al) == 1, f"attempt {i}: {len(al)} alerts")
            if al:
                frm = "client" if al[0][2] in (C4,) else "server"
                lvl = {"1": "warning", "2": "fatal"}.get(al[0][3], al[0][3])
                got = {"from": frm, "level": lvl, "description": ALERTS.get(al[0][4], al[0][4])}
                check(got == t["alert"], f"attempt {i}: alert {got}")
    raw = open(cap, "rb").read()
    for sec in s.get("secrets", []):
        check(sec.encode() in raw, f"secret {sec} not in the capture")
    check(b"Proxy-Authorization" in raw or not s.get("secrets"), "no Proxy-Authorization header")
    for h in s.get("secret_headers", []):
        check(b"\r\n" + h.encode() + b": " in raw, f"no {h} header in the capture")
else:
    for a in attempts:
        if a["http_status"] == FROM_CAPTURE:
            a["http_status"] = None
        if a["outcome"] == FROM_CAPTURE:
            a["outcome"] = None
        a.update(http_reason=None, x_squid_error=None, proxy_authenticate=None)

if errors:
    sys.stderr.write("".join(f"[expect] {os.path.basename(cap)}: {e}\n" for e in errors))
    sys.exit(1)

doc = {"scenario": scen, "description": s["description"],
       "link_type": "ETHERNET", "format": "pcap", "compressed": None,
       "client": s.get("client", C4), "proxy": s["proxy"]}
if "ca_set" in s:
    doc["ca_set"] = s["ca_set"]
    doc["ca_set_issuer"] = MS
if "inspection_ca" in s:
    doc["inspection_ca"] = s["inspection_ca"]
    doc["inspection_ca_issuer"] = INSP
if "wpad" in s:
    doc["wpad"] = s["wpad"]
doc["attempts"] = attempts
doc["findings"] = s["findings"]
doc["findings_allowed"] = s["findings_allowed"]
doc["secrets"] = s.get("secrets", [])
with open(cap + ".expected.json", "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
for i, a in enumerate(attempts, 1):
    extra = f" X-Squid-Error: {a.get('x_squid_error')}" if a.get("x_squid_error") else ""
    print(f"  {os.path.basename(cap)} #{i}: {a['request']} -> {a['http_status']} {a.get('http_reason', '')}{extra} [{a['outcome']}]")
PYEOF
}

# ------------------------------------------------------------------ main
log "squid: $(squid -v | head -1); tinyproxy: $(tinyproxy -v 2>&1 | head -1); $(openssl version)"
topo_up
make_pki
servers_up
tinyproxy_up
: >"$CURL_LOG"

SCENARIO_LIST=(
  "proxy-connect-ok plain"
  "proxy-auth-407 auth"
  "proxy-denied-403 deny-servicebus"
  "proxy-upstream-error plain"
  "proxy-crl-get plain"
  "proxy-port-8080-v6 plain"
  "proxy-tinyproxy plain"
  "proxy-wpad plain"
  "proxy-tls-inspection inspect"
  "proxy-tls-old plain"
  "proxy-hostile-names plain"
  "proxy-credentials auth"
)
# CAPDOC_SCENARIOS="name ..." regenerates only those captures (the others and the CA-set files stay).
if [[ -n ${CAPDOC_SCENARIOS:-} ]]; then
  wanted=()
  for entry in "${SCENARIO_LIST[@]}"; do
    [[ " $CAPDOC_SCENARIOS " == *" ${entry%% *} "* ]] && wanted+=("$entry")
  done
  ((${#wanted[@]})) || die "CAPDOC_SCENARIOS names no scenario"
  SCENARIO_LIST=("${wanted[@]}")
  for entry in "${SCENARIO_LIST[@]}"; do
    rm -f "$OUT_DIR/${entry%% *}.eth.pcap" "$OUT_DIR/${entry%% *}.eth.pcap.expected.json"
  done
else
  rm -f "$OUT_DIR"/proxy-*.eth.pcap "$OUT_DIR"/proxy-*.eth.pcap.expected.json
fi
for entry in "${SCENARIO_LIST[@]}"; do
  # shellcheck disable=SC2086
  scenario $entry
done

write_expect_py
VERIFY=1
[[ ${CAPDOC_SKIP_VERIFY:-0} == 1 ]] && VERIFY=0
for entry in "${SCENARIO_LIST[@]}"; do
  name=${entry%% *}
  MS_CA_DN=$MS_CA_DN INSPECT_CA_DN=$INSPECT_CA_DN VERIFY=$VERIFY \
    "$PY" "$WORK/expect.py" "$OUT_DIR/$name.eth.pcap" "$name" || die "$name: capture differs from the scenario table"
done
chmod 644 "$OUT_DIR"/proxy-*
log "done: $(du -ch "$OUT_DIR"/proxy-* | tail -1 | cut -f1) in $(ls "$OUT_DIR"/proxy-* | wc -l) files"
