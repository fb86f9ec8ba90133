# Shared by the regression guards (benches/instructions.sh, benches/memory.sh): their settings, the
# fixed capture, and the comparison with a committed baseline. Sourced, not run, after the caller sets
# ROOT (the repository), NAME (the guard, `<name>.sh`), SIZE and SEED (the capture). Sets BASELINE
# (benches/<name>.baseline), CAPDOC and LIMIT_PERCENT (from the environment, else the defaults), and
# WORK, a temporary directory removed on exit.

BASELINE=$ROOT/benches/${NAME%.sh}.baseline
CAPDOC=${CAPDOC:-$ROOT/target/release/capdoc}
LIMIT_PERCENT=${LIMIT_PERCENT:-10}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/capdoc-${NAME%.sh}.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

die() { echo "$NAME: $*" >&2; exit 2; }

# Builds capdoc if it is missing, and writes tools/capgen's capture of SIZE bytes with SEED
# (deterministic: the same bytes everywhere) to $WORK/fixed.pcap.
fixed_capture() {
    [[ -x $CAPDOC ]] || cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml"
    cargo build --release --quiet --manifest-path "$ROOT/tools/capgen/Cargo.toml" \
        --target-dir "${CAPGEN_TARGET:-$ROOT/tools/capgen/target}"
    "${CAPGEN_TARGET:-$ROOT/tools/capgen/target}/release/capgen" "$WORK/fixed.pcap" "$SIZE" "$SEED" 2>/dev/null
}

# check_against_baseline VALUE UNIT DESCRIPTION [--update]: with --update writes VALUE as the new
# baseline (DESCRIPTION heads the file); otherwise exits 1 when VALUE exceeds the baseline by more
# than LIMIT_PERCENT.
check_against_baseline() {
    local value=$1 unit=$2 description=$3 mode=${4:-}
    if [[ $mode == --update ]]; then
        printf '%s\n' "# $description" "# $(date -u +%Y-%m-%d), $(rustc --version)" "$value" >"$BASELINE"
        echo "$NAME: baseline set to $value $unit"
        exit 0
    fi
    [[ -f $BASELINE ]] || die "no baseline; run with --update"
    local baseline change
    baseline=$(grep -v '^#' "$BASELINE" | head -n 1)
    change=$(awk -v n="$value" -v b="$baseline" 'BEGIN { printf "%+.1f", (n - b) * 100 / b }')
    echo "$NAME: $value $unit, baseline $baseline ($change %, limit +$LIMIT_PERCENT %)"
    if awk -v n="$value" -v b="$baseline" -v l="$LIMIT_PERCENT" 'BEGIN { exit !(n > b * (1 + l / 100)) }'; then
        echo "$NAME: FAIL: more than $LIMIT_PERCENT % over the baseline" >&2
        exit 1
    fi
    if awk -v n="$value" -v b="$baseline" -v l="$LIMIT_PERCENT" 'BEGIN { exit !(n < b * (1 - l / 100)) }'; then
        echo "$NAME: much less than the baseline: consider running it with --update"
    fi
}
