#!/usr/bin/env bash
# Regression guard that holds on noisy machines: counts the instructions capdoc executes (valgrind
# callgrind) for the whole analysis of a fixed capture, and compares them with the baseline committed
# in benches/instructions.baseline. Wall-clock time varies by tens of percent on a shared VM; the
# instruction count of the same binary on the same input varies by well under 1 %.
# The pass runs on one thread (--pipeline off): the two-thread pipeline adds a queue whose cost depends
# on how the threads meet, which is what a stable count must leave out.
#
#   benches/instructions.sh            check: exit 1 if the count grew more than LIMIT_PERCENT
#   benches/instructions.sh --update   measure and write the baseline
#
# The capture is tools/capgen's output for SIZE bytes with SEED (deterministic: same bytes everywhere).
# Environment: CAPDOC (default target/release/capdoc, built if missing), LIMIT_PERCENT (default 10).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=instructions.sh SIZE=8M SEED=7
# shellcheck source=benches/lib/guard.sh
source "$ROOT/benches/lib/guard.sh"

command -v valgrind >/dev/null || die "valgrind is not installed (apt-get install valgrind)"
fixed_capture
# A fixed, minimal environment: the environment's size shifts the stack and can change counts.
# capdoc exits 1 when the capture shows problems (this one does): only 2 and above are failures.
rc=0
(cd "$WORK" && env -i PATH=/usr/bin:/bin valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    --log-file="$WORK/callgrind.log" "$CAPDOC" analyze --format json --pipeline off fixed.pcap >/dev/null) || rc=$?
((rc <= 1)) || die "capdoc under valgrind exited $rc: $(tail -n 5 "$WORK/callgrind.log")"
count=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$WORK/callgrind.log")
[[ -n $count ]] || die "no instruction count from callgrind"

check_against_baseline "$count" instructions \
    "capdoc analyze --format json on capgen $SIZE seed $SEED, instructions (callgrind)" "${1:-}"
