#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seeds taken from capture files.
#
#   fuzz/seed.sh [EXTRA_CAPTURE_DIR...]
#
# Always: the project's own captures/*.pcap* (and any EXTRA_CAPTURE_DIR, searched
# recursively, e.g. ../shared/captures/public) as whole files for capture_reader
# and analyze. Those extra files are read where they are and never copied into
# the repository's tracked files: fuzz/corpus/ is ignored by git.
#
# With python3: frames with their link type for decode.
# With tshark (and python3): TCP streams for http and tls, DNS/LLMNR/NBNS/DHCP
# payloads and TCP DNS streams for dns. Without them those targets start from
# whatever corpus they already have (libFuzzer copes with an empty one).
set -euo pipefail

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$fuzz_dir/.." && pwd)
corpus="$fuzz_dir/corpus"
targets=(capture_reader decode http tls dns analyze)
for t in "${targets[@]}"; do mkdir -p "$corpus/$t"; done

# Capture files: the project's own, then every extra directory given.
files=()
for f in "$repo"/captures/*.pcap*; do
  case $f in *.json) continue ;; esac
  [[ -f $f ]] && files+=("$f")
done
for dir in "$@"; do
  if [[ ! -d $dir ]]; then
    echo "seed.sh: $dir is not a directory, skipped" >&2
    continue
  fi
  while IFS= read -r -d '' f; do files+=("$f"); done < <(
    find "$dir" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' -o -name '*.pcap.gz' \
      -o -name '*.pcapng.gz' -o -name '*.pcap.zst' -o -name '*.pcapng.zst' \) -size -1024k -print0 | sort -z
  )
done
echo "seed.sh: ${#files[@]} capture files" >&2

# Names are content hashes, as libFuzzer names its own corpus entries: no duplicates.
put() { # target file
  local sum
  sum=$(sha1sum "$2" | cut -d' ' -f1)
  cp "$2" "$corpus/$1/$sum"
}
for f in "${files[@]}"; do
  put capture_reader "$f"
  put analyze "$f"
done

if ! command -v python3 >/dev/null 2>&1; then
  echo "seed.sh: no python3: decode, http, tls and dns seeds skipped" >&2
  exit 0
fi
have_tshark=0
command -v tshark >/dev/null 2>&1 && have_tshark=1
((have_tshark)) || echo "seed.sh: no tshark: http, tls and dns seeds skipped" >&2

HAVE_TSHARK=$have_tshark python3 - "$corpus" "${files[@]}" <<'PY'
import gzip, hashlib, os, struct, subprocess, sys

corpus, files = sys.argv[1], sys.argv[2:]
have_tshark = os.environ.get("HAVE_TSHARK") == "1"
# Index of each LINKTYPE in fuzz_targets/decode.rs's LINKS.
LINKS = {0: 0, 1: 1, 12: 2, 14: 3, 101: 4, 105: 5, 108: 6, 113: 7, 228: 8, 229: 9, 276: 10, 127: 11}
MAX_PER_FILE = 64  # seeds of one kind taken from one capture
MAX_PARSER_SEED = 64 * 1024

def put(target, data):
    if not data or len(data) > MAX_PARSER_SEED:
        return
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(corpus, target, name), "wb") as out:
        out.write(data)

def frames(data):
    """(linktype, frame bytes) of a classic pcap or pcapng file (uncompressed or gzip)."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic[0] in (0xD4, 0x4D) else ">"
        if len(data) < 24:
            return
        link = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(data):
            incl = struct.unpack(e + "I", data[off + 8:off + 12])[0]
            yield link, data[off + 16:off + 16 + incl]
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        off, e, links = 0, "<", []
        while off + 12 <= len(data):
            if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                links = []
            btype, blen = struct.unpack(e + "II", data[off:off + 8])
            if blen < 12 or off + blen > len(data):
                return
            body = data[off + 8:off + blen - 4]
            if btype == 1 and len(body) >= 2:
                links.append(struct.unpack(e + "H", body[:2])[0])
            elif btype == 6 and len(body) >= 20:
                iface, _, _, incl = struct.unpack(e + "IIII", body[:16])
                if iface < len(links):
                    yield links[iface], body[20:20 + incl]
            elif btype == 3 and len(body) >= 4 and links:
                yield links[0], body[4:]
            off += blen

def tshark(args):
    try:
        return subprocess.run(["tshark", "-n", *args], capture_output=True, timeout=120).stdout.decode()
    except (subprocess.TimeoutExpired, OSError):
        return ""

for path in files:
    try:
        with open(path, "rb") as f:
            raw = f.read()
        taken = 0
        for link, frame in frames(raw):
            if link in LINKS and taken < MAX_PER_FILE:
                put("decode", bytes([LINKS[link]]) + frame)
                taken += 1
    except Exception as e:  # a seed is a seed: never fail on one odd file
        print(f"seed.sh: {path}: {e}", file=sys.stderr)

    if not have_tshark:
        continue
    # TCP streams, both directions: each side alone for tls, both for http.
    streams = sorted({int(s) for s in tshark(["-r", path, "-T", "fields", "-e", "tcp.stream"]).split() if s.isdigit()})
    streams = streams[:MAX_PER_FILE]
    if streams:
        follow = []
        for s in streams:
            follow += ["-z", f"follow,tcp,raw,{s}"]
        out = tshark(["-r", path, "-q", *follow])
        dns_stream = False
        for block in out.split("=" * 67):
            client, server, ports = bytearray(), bytearray(), []
            for line in block.splitlines():
                if line.startswith("Node "):
                    ports.append(line.rsplit(":", 1)[-1])
                elif line.startswith("\t"):
                    server += bytes.fromhex(line.strip())
                elif line and all(c in "0123456789abcdef" for c in line):
                    client += bytes.fromhex(line)
            if not client and not server:
                continue
            put("tls", bytes(client))
            put("tls", bytes(server))
            if len(client) + len(server) + 2 <= MAX_PARSER_SEED:
                put("http", struct.pack("<H", len(client)) + bytes(client) + bytes(server))
            if "53" in ports:
                put("dns", bytes(client))
                put("dns", bytes(server))
    # UDP name service and DHCP payloads.
    udp = tshark(["-r", path, "-Y", "udp.port == 53 || udp.port == 5355 || udp.port == 137 || udp.port == 67 || udp.port == 68", "-T", "fields", "-e", "udp.payload"])
    for line in udp.split()[:MAX_PER_FILE * 4]:
        try:
            put("dns", bytes.fromhex(line.replace(":", "")))
        except ValueError:
            pass

for t in sorted(os.listdir(corpus)):
    print(f"seed.sh: corpus/{t}: {len(os.listdir(os.path.join(corpus, t)))} files", file=sys.stderr)
PY
