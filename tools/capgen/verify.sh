#!/usr/bin/env bash
# Cross-checks a capgen capture against its truth file with tshark, in one pass over the file.
#
#   tools/capgen/verify.sh CAPTURE [TRUTH]      (TRUTH defaults to CAPTURE.truth.txt)
#
# Every "key: value    # display-filter" line of the truth file is counted with tshark and compared.
# Two extra rows must be 0: TCP analysis flags other than the intended SYN retransmissions, and
# malformed packets or expert errors. Exits 1 on any mismatch, 2 on usage or tool errors.
set -euo pipefail

cap=${1:?usage: verify.sh CAPTURE [TRUTH]}
truth=${2:-$cap.truth.txt}
[[ -r $cap && -r $truth ]] || { echo "verify.sh: cannot read $cap or $truth" >&2; exit 2; }
command -v tshark >/dev/null || { echo "verify.sh: tshark not found" >&2; exit 2; }

keys=() expected=() filters=()
while IFS= read -r line; do
    [[ $line =~ ^([a-z0-9_]+):\ ([0-9]+)\ +#\ (.+)$ ]] || continue
    filter=${BASH_REMATCH[3]}
    [[ $filter == capinfos* ]] && continue
    keys+=("${BASH_REMATCH[1]}") expected+=("${BASH_REMATCH[2]}") filters+=("$filter")
done <"$truth"
keys+=(unexpected_tcp_analysis_flags malformed_or_errors) expected+=(0 0)
filters+=("tcp.analysis.flags && !tcp.analysis.window_update && !(tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission)"
    "_ws.malformed || _ws.expert.severity==error")

args=()
for f in "${filters[@]}"; do args+=(",$f"); done
joined=$(printf '%s' "${args[@]}")
out=$(tshark -r "$cap" -q -z "io,stat,0$joined" 2>/dev/null) || { echo "verify.sh: tshark failed" >&2; exit 2; }
# The last table row holds "| interval | frames | bytes | frames | bytes | ...".
row=$(grep -E '^\| *[0-9.]+ <> ' <<<"$out" | tail -n 1)
IFS='|' read -r -a cells <<<"$row"

status=0
printf '%-32s %12s %12s  %s\n' key truth tshark result
for i in "${!keys[@]}"; do
    got=$(tr -d ' ' <<<"${cells[$((2 + 2 * i))]:-}")
    result=ok
    [[ $got == "${expected[$i]}" ]] || { result=MISMATCH; status=1; }
    printf '%-32s %12s %12s  %s\n' "${keys[$i]}" "${expected[$i]}" "${got:-?}" "$result"
done
exit $status
