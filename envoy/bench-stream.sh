#!/usr/bin/env bash
# Streamed answers through Envoy with psf-guard against the same Envoy without it.
#
#   envoy/bench-stream.sh [--record] [--rounds N] [--duration 8] [--connections 8]
#                         [--probes 20] [--upstream replay|mock-llm]
#
# The upstream streams a 64 KB chat completion (`"stream": true`: clean prose, about 345
# SSE events of one word each). Upstream `replay` (the default) is `stream-bench serve`,
# the mock LLM's own replies rendered once per distinct request and replayed; `mock-llm` is
# target/debug/mock-llm itself, which renders all the events again for every request
# (about 2 ms before the first byte in a debug build), so the proxy's share looks smaller.
# For N rounds (default 3) runs, one after another: a pass-through Envoy, Envoy with
# psf-guard and policies/default.json, and psf-guard with a policy without routes. Each
# Envoy under test runs alone on its own core with --concurrency 1; the client
# (target/debug/stream-bench) and the upstream share the other core. Per config:
#   1. latency: --probes requests one after another for the answer paced as a model sends
#      it (one word per 50 ms), p50 time to the first body byte and to the first text;
#   2. throughput: the answer unpaced, --connections clients in a closed loop for
#      --duration seconds after a 2 s warm-up.
# Prints the medians over the rounds and the ratios to pass-through (targets: TTFB at most
# 1.2x, throughput at least 0.8x); with --record records them as BENCHMARKS.md's latest run.
# Everything binds 127.0.0.1. Builds nothing: run `make build envoy` first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RECORD=0
ROUNDS=3
DURATION=8
WARMUP=2
CONNECTIONS=8
PROBES=20
UPSTREAM_KIND=replay
STREAM_BYTES=65536
while [ $# -gt 0 ]; do
  case "$1" in
    --record) RECORD=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="${2%s}"; shift ;;
    --connections) CONNECTIONS="$2"; shift ;;
    --probes) PROBES="$2"; shift ;;
    --upstream) UPSTREAM_KIND="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-stream.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$UPSTREAM_KIND" in
  replay|mock-llm) ;;
  *) echo "bench-stream.sh: --upstream is replay or mock-llm, not $UPSTREAM_KIND" >&2; exit 2 ;;
esac

BENCH=bench-stream.sh
PSF_GUARD="$ROOT/target/debug/psf-guard"
CLIENT="$ROOT/target/debug/stream-bench"
MOCK_LLM="$ROOT/target/debug/mock-llm"
WASM="${PSF_GUARD_WASM:-$ROOT/dist/psf_guard.wasm}"
# shellcheck source=envoy/bench-lib.sh
. "$ROOT/envoy/bench-lib.sh"
require "$PSF_GUARD" "$CLIENT" "$MOCK_LLM" "$WASM" "$ENVOY_BIN"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/psf-bench-stream.XXXXXX")"
# Kills only the processes this script started (ENVOY_PID, UPSTREAM_PID).
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# The answer: clean prose whose streamed chat completion is at least STREAM_BYTES.
ANSWER="$("$CLIENT" answer --replies "$TMP/replies" --stream-bytes "$STREAM_BYTES")"

start_upstream() {
  UPSTREAM="$(free_port)"
  if [ "$UPSTREAM_KIND" = replay ]; then
    taskset -c "$LOAD_CPU" "$CLIENT" serve --replies "$TMP/replies" --port "$UPSTREAM" \
      >"$TMP/upstream.log" 2>&1 &
  else
    taskset -c "$LOAD_CPU" "$MOCK_LLM" --port "$UPSTREAM" --replies "$TMP/replies" --log /dev/null \
      >"$TMP/upstream.log" 2>&1 &
  fi
  UPSTREAM_PID=$!
  wait_port "$UPSTREAM_PID" "$UPSTREAM" && return
  echo "bench-stream.sh: the upstream ($UPSTREAM_KIND) did not start:" >&2
  tail -n 30 "$TMP/upstream.log" >&2 || true
  exit 1
}

echo '{"version":1,"name":"noroutes","owner":"Bench","rules":[]}' >"$TMP/noroutes.json"
CONFIGS=(passthrough filter norules)
config_args() {
  case "$1" in
    passthrough) echo "--passthrough" ;;
    filter) echo "--policy policies/default.json --wasm $WASM" ;;
    norules) echo "--policy $TMP/noroutes.json --wasm $WASM" ;;
  esac
}

# measure NAME ROUND PORT [WARMUP]: one client run against 127.0.0.1:PORT; appends its BENCH
# line to $TMP/NAME.results.
measure() {
  local name="$1" round="$2" port="$3" warmup="${4:-$WARMUP}" line
  if ! taskset -c "$LOAD_CPU" "$CLIENT" run --addr "127.0.0.1:$port" --probes "$PROBES" \
    --connections "$CONNECTIONS" --warmup "$warmup" --duration "$DURATION" \
    >"$TMP/client-$name-$round.out" 2>&1; then
    echo "bench-stream.sh: $name round $round failed:" >&2
    cat "$TMP/client-$name-$round.out" >&2
    exit 1
  fi
  line="$(grep '^BENCH ' "$TMP/client-$name-$round.out")"
  case "$line" in
    *" errors=0") ;;
    *) echo "bench-stream.sh: $name round $round had errors: $line" >&2; exit 1 ;;
  esac
  echo "$line" >>"$TMP/$name.results"
  printf '  round %d %-12s %s\n' "$round" "$name" "${line#BENCH }" >&2
}

echo "bench-stream.sh: $ANSWER" >&2
echo "bench-stream.sh: upstream $UPSTREAM_KIND; $ROUNDS rounds of ${CONFIGS[*]};" \
  "$PROBES paced probes, then $CONNECTIONS connections for ${DURATION}s" >&2
start_upstream
# The upstream alone, once, for scale: what Envoy's numbers are measured against.
measure direct 1 "$UPSTREAM" 1
for round in $(seq "$ROUNDS"); do
  for name in "${CONFIGS[@]}"; do
    # shellcheck disable=SC2046 # config_args is a word list by design
    start_proxy "$name" "$round" "$UPSTREAM" $(config_args "$name")
    measure "$name" "$round" "$LISTEN"
    stop_proxy
  done
done

BYTES="$(median passthrough body_bytes)"
for name in "${CONFIGS[@]}"; do
  [ "$(median "$name" body_bytes)" = "$BYTES" ] || {
    echo "bench-stream.sh: $name streamed $(median "$name" body_bytes) bytes, pass-through $BYTES" >&2
    exit 1
  }
done
BASE_TTFB="$(median passthrough ttfb_p50_us)"
BASE_TEXT="$(median passthrough text_p50_us)"
BASE_RPS="$(median passthrough rps)"
TABLE="$TMP/table.md"
{
  echo "| config | policy | first byte p50 ms | ratio | first text p50 ms | ratio | streams/s (c$CONNECTIONS) | MiB/s | throughput ratio | stream p50 ms under load |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for name in direct "${CONFIGS[@]}"; do
    case "$name" in
      direct) policy="no Envoy: the upstream alone (1 run)" ;;
      passthrough) policy="(no filter)" ;;
      filter) policy="policies/default.json" ;;
      norules) policy="psf-guard, a policy without routes" ;;
    esac
    awk -v n="$name" -v pol="$policy" -v t="$(median "$name" ttfb_p50_us)" -v bt="$BASE_TTFB" \
      -v x="$(median "$name" text_p50_us)" -v bx="$BASE_TEXT" \
      -v r="$(median "$name" rps)" -v br="$BASE_RPS" -v m="$(median "$name" mib_s)" \
      -v l="$(median "$name" load_p50_us)" \
      'BEGIN { printf "| %s | %s | %.3f | %.2f | %.1f | %.2f | %.0f | %.1f | %.3f | %.1f |\n",
                 n, pol, t / 1000, t / bt, x / 1000, x / bx, r, m, r / br, l / 1000 }'
  done
} >"$TABLE"
VERDICT="$(awk -v t="$(median filter ttfb_p50_us)" -v bt="$BASE_TTFB" -v x="$(median filter text_p50_us)" \
  -v bx="$BASE_TEXT" -v r="$(median filter rps)" -v br="$BASE_RPS" \
  'BEGIN { tr = t / bt; xr = x / bx; rr = r / br;
           printf "Targets (default policy: TTFB ratio <= 1.2, throughput ratio >= 0.8): first byte %s (%.2f, %+.3f ms), first text %s (%.2f, %+.1f ms), throughput %s (%.3f)",
             (tr <= 1.2 ? "met" : "NOT met"), tr, (t - bt) / 1000, (xr <= 1.2 ? "met" : "NOT met"), xr, (x - bx) / 1000,
             (rr >= 0.8 ? "met" : "NOT met"), rr }')"

echo
cat "$TABLE"
echo
echo "$VERDICT"

if [ "$RECORD" = 1 ]; then
  {
    echo
    echo "#### envoy/bench-stream.sh run, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Command: \`envoy/bench-stream.sh --record\` (upstream $UPSTREAM_KIND, rounds $ROUNDS," \
      "$PROBES paced probes, then $CONNECTIONS connections for ${DURATION}s after ${WARMUP}s);" \
      "$BYTES-byte stream; nproc $(nproc); Envoy $(envoy_version), --concurrency 1."
    echo
    cat "$TABLE"
    echo
    echo "$VERDICT."
    echo
    echo "Per round (first byte p50 µs, first text p50 µs, streams/s):"
    echo
    for name in "${CONFIGS[@]}"; do
      printf -- '- %s: %s\n' "$name" "$(sed -n 's/.* ttfb_p50_us=\([0-9]*\) .* text_p50_us=\([0-9]*\) .* rps=\([0-9.]*\) .*/\1, \2, \3\/s/p' \
        "$TMP/$name.results" | paste -sd ';' | sed 's/;/; /g')"
    done
  } >"$TMP/run.md"
  record_run "$TMP/run.md"
  echo "bench-stream.sh: recorded the run in BENCHMARKS.md (the one before it moved to bench/results/)" >&2
fi
