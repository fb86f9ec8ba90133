#!/usr/bin/env bash
# Times capdoc against a bare read and tshark on one capture, warm cache, and prints a markdown table.
#
#   benches/compare.sh [--pcapng] [CAPTURE]
#
# Without CAPTURE, generates /tmp/capdoc-bench/ref.pcap (1 GiB, tools/capgen seed 1) once.
# --pcapng  also converts the capture with `editcap -F pcapng` (into $TMPDIR, default /tmp) and
#           measures that copy.
#
# Environment:
#   RUNS=3          runs per command for capdoc, cat and tcpdump (the median is reported); cat and
#                   capdoc alternate, and capdoc/cat is the median of each pair's ratio
#   TSHARK_RUNS=1   runs for tshark (about 20 s per GiB each)
#   CAPDOC=target/release/capdoc   the binary to measure (built with `cargo build --release` if missing)
#   CAPGEN=...      a capgen binary (default: built from tools/capgen into /tmp/capdoc-bench/capgen-target)
#
# Goals (printed as PASS/FAIL, they do not change the exit status): capdoc takes at most 2.5x (pcap)
# or 3x (pcapng) the time of `cat`, and is at least 80x faster than tshark's SYN-retransmission query.
# Exits non-zero only when a tool fails.
set -euo pipefail
((BASH_VERSINFO[0] >= 5)) || { echo "compare.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 2; }

RUNS=${RUNS:-3}
TSHARK_RUNS=${TSHARK_RUNS:-1}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=/tmp/capdoc-bench
CAPDOC=${CAPDOC:-$ROOT/target/release/capdoc}
SYN_FILTER='tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission'
GOAL_CAT_PCAP=2.5
GOAL_CAT_PCAPNG=3
GOAL_TSHARK=80

die() { echo "compare.sh: $*" >&2; exit 2; }

pcapng=0
capture=
for arg in "$@"; do
    case $arg in
        --pcapng) pcapng=1 ;;
        -h | --help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $arg" ;;
        *) [[ -z $capture ]] || die "only one capture, please"; capture=$arg ;;
    esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ && $TSHARK_RUNS =~ ^[0-9]+$ ]] || die "RUNS and TSHARK_RUNS must be numbers"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/capdoc-compare.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# /usr/bin/time gives peak RSS; the shell keyword does not.
TIME_BIN=/usr/bin/time
if ! command -v "$TIME_BIN" >/dev/null; then
    if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
        apt-get install -y -qq time >/dev/null || die "could not install the 'time' package"
    else
        die "$TIME_BIN is missing; install the 'time' package"
    fi
fi

if [[ ! -x $CAPDOC ]]; then
    echo "building capdoc (cargo build --release)..." >&2
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build failed"
fi

generate_reference() {
    local out=$BENCH_DIR/ref.pcap
    if [[ ! -s $out ]]; then
        mkdir -p "$BENCH_DIR"
        local capgen=${CAPGEN:-$BENCH_DIR/capgen-target/release/capgen}
        if [[ ! -x $capgen ]]; then
            echo "building capgen..." >&2
            cargo build --release --quiet --manifest-path "$ROOT/tools/capgen/Cargo.toml" \
                --target-dir "$BENCH_DIR/capgen-target" || die "building capgen failed"
        fi
        "$capgen" "$out.tmp" 1G 1 || die "capgen failed"
        mv "$out.tmp" "$out"
        sed "s#$out.tmp#$out#" "$out.tmp.truth.txt" >"$out.truth.txt"
        rm -f "$out.tmp.truth.txt"
    fi
    echo "$out"
}

[[ -n $capture ]] || capture=$(generate_reference)
[[ -r $capture ]] || die "cannot read $capture"

# Prints "median_seconds max_rss_kb" of RUNS runs of a command (stdout discarded). Exit statuses up
# to OK_MAX count as success (capdoc exits 1 when the capture shows an error-severity finding).
measure() {
    local runs=$1 name=$2 ok_max=$3
    shift 3
    local i times=() rss=0 t m rc t0 t1
    for ((i = 1; i <= runs; i++)); do
        rc=0
        # Wall time from bash's microsecond clock (GNU time's %e has only 10 ms resolution);
        # peak RSS from GNU time.
        t0=$EPOCHREALTIME
        "$TIME_BIN" -f '%M' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/stderr" || rc=$?
        t1=$EPOCHREALTIME
        if ((rc > ok_max)); then
            cat "$TMP/stderr" >&2
            die "$name failed (exit status $rc): $*"
        fi
        # On a non-zero exit, GNU time writes "Command exited with non-zero status N" first.
        m=$(tail -n 1 "$TMP/time")
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        times+=("$t")
        ((m > rss)) && rss=$m
    done
    echo "$(median "${times[@]}") $rss"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# cat and capdoc, one run of each in turn, RUNS times: the machine's speed drifts by tens of percent
# within minutes, and a ratio of two runs made seconds apart is steadier than a ratio of two blocks of
# runs. Prints "cat_median cat_rss capdoc_median capdoc_rss median_of_ratios".
measure_pairs() {
    local file=$1 i t m cat_t cat_rss=0 cap_rss=0 cat_times=() cap_times=() ratios=()
    for ((i = 1; i <= RUNS; i++)); do
        read -r cat_t m < <(measure 1 cat 0 cat "$file")
        cat_times+=("$cat_t")
        ((m > cat_rss)) && cat_rss=$m
        read -r t m < <(measure 1 capdoc 1 "$CAPDOC" analyze --format json "$file")
        cap_times+=("$t")
        ((m > cap_rss)) && cap_rss=$m
        ratios+=("$(ratio "$t" "$cat_t")")
    done
    echo "$(median "${cat_times[@]}") $cat_rss $(median "${cap_times[@]}") $cap_rss $(median "${ratios[@]}")"
}

packet_count() {
    local file=$1 n=
    if command -v capinfos >/dev/null; then
        n=$(capinfos -c -M -T -r "$file" 2>/dev/null | awk -F'\t' 'NF >= 2 {print $2; exit}')
    fi
    if [[ -z $n && -r $file.truth.txt ]]; then
        n=$(awk '/^packets:/ {print $2}' "$file.truth.txt")
    fi
    echo "${n:-0}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
verdict() { awk -v x="$1" -v goal="$2" -v op="$3" 'BEGIN {
    ok = (op == "le") ? (x <= goal) : (x >= goal); print (x == "inf" ? (op == "ge" ? "PASS" : "FAIL") : (ok ? "PASS" : "FAIL")) }'; }

rows=()
summary=()

# Measures every tool on one file and appends table rows and goal lines.
bench_file() {
    local file=$1 kind=$2
    local size packets
    size=$(stat -c %s "$file")
    packets=$(packet_count "$file")
    cat "$file" >/dev/null # warm the page cache

    local -A secs rss
    local paired
    read -r secs[cat] rss[cat] secs[capdoc] rss[capdoc] paired < <(measure_pairs "$file")
    local tools=(cat capdoc)
    if ((TSHARK_RUNS > 0)) && command -v tshark >/dev/null; then
        read -r secs[tshark] rss[tshark] < <(measure "$TSHARK_RUNS" tshark 0 tshark -r "$file" -Y "$SYN_FILTER")
        tools+=(tshark)
    fi
    if command -v tcpdump >/dev/null; then
        read -r secs[tcpdump] rss[tcpdump] < <(measure "$RUNS" tcpdump 0 tcpdump -r "$file" 'tcp[tcpflags] & tcp-syn != 0' -w /dev/null)
        tools+=(tcpdump)
    fi

    local t label
    for t in "${tools[@]}"; do
        case $t in
            cat) label='`cat` (bare read)' ;;
            capdoc) label='`capdoc analyze --format json`' ;;
            tshark) label='`tshark -Y` SYN retransmissions' ;;
            tcpdump) label='`tcpdump` SYN filter' ;;
        esac
        rows+=("$(awk -v k="$kind" -v l="$label" -v s="${secs[$t]}" -v r="${rss[$t]}" -v b="$size" -v p="$packets" 'BEGIN {
            mbs = (s > 0) ? sprintf("%.0f", b / 1e6 / s) : "-"
            pps = (s > 0) ? sprintf("%.2f M", p / 1e6 / s) : "-"
            printf "| %s | %s | %.3f | %s | %s | %.0f |", k, l, s, mbs, pps, r / 1024 }')")
    done

    local goal_cat=$GOAL_CAT_PCAP r
    [[ $kind == pcapng ]] && goal_cat=$GOAL_CAT_PCAPNG
    summary+=("$kind: capdoc/cat = $paired, the median of $RUNS paired runs (goal <= $goal_cat): $(verdict "$paired" "$goal_cat" le)")
    if [[ -n ${secs[tshark]:-} ]]; then
        r=$(ratio "${secs[tshark]}" "${secs[capdoc]}")
        summary+=("$kind: tshark/capdoc = $r (goal >= $GOAL_TSHARK): $(verdict "$r" "$GOAL_TSHARK" ge)")
    else
        summary+=("$kind: tshark not measured")
    fi
    summary+=("$kind: $file, $size bytes, $packets packets")
}

kind=pcap
[[ $(head -c 4 "$capture" | od -An -tx1 | tr -d ' \n') == 0a0d0d0a ]] && kind=pcapng
bench_file "$capture" "$kind"
if ((pcapng)) && [[ $kind == pcap ]]; then
    command -v editcap >/dev/null || die "--pcapng needs editcap (tshark/wireshark package)"
    # In the temporary directory (set TMPDIR to put it on a disk with room for a copy).
    ng=$TMP/$(basename "${capture%.pcap}").pcapng
    editcap -F pcapng "$capture" "$ng" || die "editcap failed"
    bench_file "$ng" pcapng
fi

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
mem=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || true)
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs (${cpu:-unknown CPU}); memory ${mem:-unknown}"
echo "capdoc: $CAPDOC ($("$CAPDOC" --version 2>/dev/null || echo 'version unknown')); runs: $RUNS (tshark $TSHARK_RUNS), median wall time, warm cache"
echo
echo "| format | command | seconds | MB/s | packets/s | peak RSS (MiB) |"
echo "|---|---|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
printf '%s\n' "${summary[@]}"
