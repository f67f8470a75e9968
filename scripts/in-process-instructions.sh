#!/usr/bin/env bash
# Instructions per request (valgrind callgrind) through each in-process stack of the `micro`
# benchmarks (`benches/in_process`: an axum router with a session layer, no sockets), on both
# handlers: a count that does not drift with the machine's load as time does, so a change to
# the hot path shows even where criterion's timings cannot. "Layer" is the stack's count less
# the router's alone (`axum_no_session`), and the last column that layer over the yardstick's
# (`floor_minimal_layer`, or `floor_minimal_signed_layer` for the cookie engines).
# The same runs count the atomic read-modify-writes per request (`atomics_per_request.py`):
# mutex locks and unlocks and reference counts, which cost far more time than their share of
# the instructions.
# Caveat: valgrind does not emulate SHA-NI, so SHA-256 (the key hash of server engines, the
# HMAC of signed cookies) runs in software here: it weighs more than in a native run.
#
#   REQUESTS [2000]   requests counted per stack and handler (after 1,000 uncounted)
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${REQUESTS:-2000}
binary=$(cargo bench -q -p sessionkit-bench --bench instructions --no-run --message-format=json |
  python3 -c 'import json, sys
for line in sys.stdin:
    message = json.loads(line)
    if message.get("reason") == "compiler-artifact" and message["target"]["name"] == "instructions" and message.get("executable"):
        print(message["executable"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# count STACK PATH: instructions and atomic read-modify-writes per request.
count() {
  valgrind --tool=callgrind --callgrind-out-file="$work/out" --dump-instr=yes --compress-pos=no \
    --toggle-collect='instructions::measured' "$binary" "$1" "$2" "$requests" 2>"$work/log" >/dev/null
  local total
  total=$(grep -o 'Collected : [0-9]*' "$work/log" | awk '{print $3}')
  echo "$((total / requests)) $(python3 scripts/atomics_per_request.py "$binary" "$work/out" "$requests")"
}

# The stacks and handlers of `benches/in_process`, as the bench lists them.
mapfile -t stacks < <("$binary" --stacks)
mapfile -t paths < <("$binary" --paths)
declare -A counted atomics
for stack in "${stacks[@]}"; do
  for path in "${paths[@]}"; do
    read -r counted[$stack$path] atomics[$stack$path] < <(count "$stack" "$path")
  done
done

echo "| stack | handler | instructions per request | layer | layer / yardstick's | atomic read-modify-writes per request |"
echo "|---|---|---:|---:|---:|---:|"
for stack in "${stacks[@]}"; do
  case $stack in
    *signed* | *encrypted*) floor=floor_minimal_signed_layer ;;
    *) floor=floor_minimal_layer ;;
  esac
  for path in "${paths[@]}"; do
    total=${counted[$stack$path]}
    layer=$((total - counted[axum_no_session$path]))
    floor_layer=$((counted[$floor$path] - counted[axum_no_session$path]))
    ratio=$(awk -v a="$layer" -v b="$floor_layer" 'BEGIN { if (a == 0) print "–"; else printf "%.2f×", a / b }')
    echo "| $stack | ${path#/} | $total | $layer | $ratio | ${atomics[$stack$path]} |"
  done
done
