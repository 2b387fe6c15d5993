#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another and prints one line per target:
#   target  executions  seconds  exec/s  corpus  crashes
# usage: fuzz/run.sh SECONDS [TARGET...]   (RUNS=N stops a target after N executions)
# New inputs go to fuzz/$WORK/<target> (default work/, not committed); fuzz/corpus/<target> is the
# committed, minimised corpus, replayed first on every run. A crash leaves its input in
# fuzz/artifacts/<target>/ and fails the run.
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(path sse request_formats json_rewrite exchange decoders pii policy)
fi
runs=${RUNS:-0}
work=${WORK:-work}
status=0
printf '%-16s %12s %8s %9s %7s %s\n' target executions seconds exec/s corpus crashes
for target in "${targets[@]}"; do
  mkdir -p "$work/$target" "corpus/$target"
  log="$work/$target.log"
  started=$(date +%s)
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096)
  [ "$runs" -gt 0 ] && args+=(-runs="$runs")
  # MAX_LEN=n caps input size (the policy target compiles whole policies: small inputs are
  # what keeps it fast enough to reach its execution count).
  [ -n "${MAX_LEN:-}" ] && args+=(-max_len="$MAX_LEN")
  cargo +nightly fuzz run "$target" -s none -O "$work/$target" "corpus/$target" -- "${args[@]}" >"$log" 2>&1
  code=$?
  took=$(( $(date +%s) - started ))
  execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log" | tail -1)
  rate=$(awk '/stat::average_exec_per_sec/ {print $NF}' "$log" | tail -1)
  crashes=$(ls "artifacts/$target" 2>/dev/null | wc -l)
  [ "$code" -ne 0 ] && status=1
  printf '%-16s %12s %8s %9s %7s %s\n' "$target" "${execs:-?}" "$took" "${rate:-?}" \
    "$(ls "$work/$target" "corpus/$target" | wc -l)" "$crashes"
done
exit $status
