#!/usr/bin/env bash
# CI: build every fuzz target, seed the corpora, run each target for
# FUZZ_SECONDS (default 60) seconds, one after the other. Exits non-zero when a
# target crashes, times out (-timeout), runs out of memory (-rss_limit_mb) or
# fails to build. Crashing inputs are left in fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS=60 fuzz/ci.sh [TARGET...]
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# accept them. ASan is off (-s none): capdoc forbids unsafe code, and the
# sanitizer would halve the executions a short run gets.
set -euo pipefail

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
cd "$fuzz_dir"
seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! command -v cargo-fuzz >/dev/null 2>&1 && ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(cargo fuzz list)
fi

# Builds every target (release, debug assertions on) before any seconds are spent.
cargo fuzz build -s none

# Seeds: whole captures always; parser seeds when python3/tshark are there.
# The shared public captures are used where they are, when present.
extra=()
[[ -d "$fuzz_dir/../../shared/captures/public" ]] && extra+=("$fuzz_dir/../../shared/captures/public")
[[ -n ${FUZZ_EXTRA_CAPTURES:-} ]] && extra+=("$FUZZ_EXTRA_CAPTURES")
"$fuzz_dir/seed.sh" "${extra[@]}"

failed=()
for t in "${targets[@]}"; do
  case $t in capture_reader | analyze) max_len=1048576 ;; *) max_len=65536 ;; esac
  mkdir -p "corpus/$t" "artifacts/$t"
  echo "== fuzz $t for ${seconds}s"
  # The outer timeout bounds a fuzzer that hangs outside libFuzzer's own watchdog.
  if ! timeout --signal=INT --kill-after=60 $((seconds + 120)) \
    cargo fuzz run -s none "$t" "corpus/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/"; then
    failed+=("$t")
  fi
done

if ((${#failed[@]})); then
  echo "fuzzing found problems in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  ls -l artifacts/*/ >&2 || true
  exit 1
fi
echo "fuzzing: ${#targets[@]} targets, ${seconds}s each, nothing found"
