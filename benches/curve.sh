#!/usr/bin/env bash
# How capdoc's cost grows with the capture: times the whole analysis of tools/capgen captures of
# several sizes (seed 1), warm cache, median of RUNS, and prints a markdown table with the peak RSS.
#
#   benches/curve.sh [SIZE...]        default sizes: 100M 500M 1G 4G
#
# Environment: RUNS (default 3), DIR (where the captures are kept, default /tmp/capdoc-bench),
# CAPDOC (default target/release/capdoc). A 4 GiB capture needs 4 GiB of disk and, to be read from
# the page cache as the others are, as much free memory.
set -euo pipefail
((BASH_VERSINFO[0] >= 5)) || { echo "curve.sh: needs bash 5 (EPOCHREALTIME)" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-3}
DIR=${DIR:-/tmp/capdoc-bench}
CAPDOC=${CAPDOC:-$ROOT/target/release/capdoc}
sizes=("$@")
((${#sizes[@]})) || sizes=(100M 500M 1G 4G)

[[ -x $CAPDOC ]] || cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
cargo build --release --quiet --manifest-path "$ROOT/tools/capgen/Cargo.toml"
CAPGEN=$ROOT/tools/capgen/target/release/capgen
mkdir -p "$DIR"

# Median wall time of RUNS runs of a command, in seconds; the command's exit status 1 (problems found) is fine.
median() {
    local times=() t0 rc
    for ((i = 0; i < RUNS; i++)); do
        t0=$EPOCHREALTIME
        rc=0
        "$@" >/dev/null 2>&1 || rc=$?
        ((rc <= 1)) || { echo "curve.sh: $* exited $rc" >&2; exit 2; }
        times+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
    done
    printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((RUNS + 1) / 2))p"
}

echo "| capture | packets | flows | cat | capdoc | ratio | MB/s | packets/s | peak RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in "${sizes[@]}"; do
    file=$DIR/capgen-$size.pcap
    [[ -f $file ]] || "$CAPGEN" "$file" "$size" 1 2>/dev/null
    packets=$(sed -n 's/^packets: \([0-9]*\).*/\1/p' "$file.truth.txt")
    flows=$(sed -n 's/^tcp_flows: \([0-9]*\).*/\1/p' "$file.truth.txt")
    bytes=$(stat -L -c %s "$file")
    cat "$file" >/dev/null
    t_cat=$(median cat "$file")
    t_capdoc=$(median "$CAPDOC" analyze --format json "$file")
    rss=$( { /usr/bin/time -f '%M' "$CAPDOC" analyze --format json "$file" >/dev/null; } 2>&1 | tail -n 1 || true)
    awk -v s="$size" -v p="$packets" -v f="$flows" -v c="$t_cat" -v d="$t_capdoc" -v b="$bytes" -v r="$rss" 'BEGIN {
        printf "| %s | %d | %d | %.3f s | %.3f s | %.1fx | %.0f | %.2f M | %.0f MiB |\n",
            s, p, f, c, d, d / c, b / 1e6 / d, p / 1e6 / d, r / 1024 }'
done
