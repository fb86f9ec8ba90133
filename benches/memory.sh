#!/usr/bin/env bash
# Regression guard for memory: the peak RSS of the whole analysis of a fixed 1 GiB capture (about
# 22,000 TCP flows), against the baseline committed in benches/memory.baseline. Unlike time, peak RSS
# repeats to within 1 % on a noisy machine, and most of it here grows with the flows, so a rise in
# what a flow costs shows: +10 % overall is about +15 % per flow.
#
#   benches/memory.sh            check: exit 1 if the peak grew more than LIMIT_PERCENT
#   benches/memory.sh --update   measure and write the baseline
#
# Needs 1 GiB free in TMPDIR for the capture (deleted afterwards) and GNU time (/usr/bin/time).
# Environment: CAPDOC (default target/release/capdoc, built if missing), LIMIT_PERCENT (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=memory.sh SIZE=1G SEED=7
# shellcheck source=benches/lib/guard.sh
source "$ROOT/benches/lib/guard.sh"

[[ -x /usr/bin/time ]] || die "GNU time is not installed (apt-get install time)"
fixed_capture
# As a user runs it (two threads when the machine has two cores); exit 1 means problems found.
rc=0
/usr/bin/time -f '%M' -o "$WORK/rss" "$CAPDOC" analyze --format json "$WORK/fixed.pcap" >/dev/null || rc=$?
((rc <= 1)) || die "capdoc exited $rc"
kib=$(tail -n 1 "$WORK/rss")
[[ $kib =~ ^[0-9]+$ ]] || die "no peak RSS from /usr/bin/time: $kib"

check_against_baseline "$kib" "KiB peak RSS" \
    "capdoc analyze --format json on capgen $SIZE seed $SEED, peak RSS in KiB (/usr/bin/time %M)" "${1:-}"
