#!/usr/bin/env bash
# Throughput and latency of Envoy with psf-guard against the same Envoy without it.
#
#   envoy/bench.sh [--record] [--rounds N] [--duration 10s] [--limits] [--configs a,b,…]
#                  [--before WASM,POLICY]
#
# For N rounds (default 3) runs, one after another: a pass-through Envoy; Envoy with the
# no-op baseline filter (host-tests/noop-filter: buffers both bodies, decides nothing);
# Envoy with psf-guard and policies/default.json; and psf-guard with a policy without rules.
# All sit in front of the same fast upstream (an Envoy with a direct_response). Each Envoy
# under test runs alone on its own core with --concurrency 1, gets a 2 s warm-up, then
# `wrk -t1 -c16 -d10s --latency` POSTs a 4 KB chat-completions request (envoy/bench-post.lua).
# --configs runs only the named configs (pass-through is always kept as the baseline).
# With --limits, a fifth config adds a per-key rate limit to the default policy (limits too
# high to bind), so every request also takes the shared-data path: admission, settling.
# With --before, a `before` config runs an earlier build (its .wasm and its default policy)
# in the same rounds, so a change is compared with what it replaces on the same machine.
# Prints the median of each config and the ratio to pass-through; with --record makes the
# table BENCHMARKS.md's latest run (the one before it moves to bench/results/). Everything binds 127.0.0.1.
#
# BENCH_LOG_LEVEL=warn starts the Envoys under test at that log level, so the decision records
# stay out of Envoy's log: the difference is the cost of logging them (about 5 % on 2026-12-07).
#
# Builds nothing: run `make bench` first. Installs wrk if missing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

RECORD=0
LIMITS=0
ONLY=""
BEFORE=""
ROUNDS=3
DURATION=10s
WARMUP=2s
CONNECTIONS=16
while [ $# -gt 0 ]; do
  case "$1" in
    --record) RECORD=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    --duration) DURATION="$2"; shift ;;
    --limits) LIMITS=1 ;;
    --configs) ONLY="$2"; shift ;;
    --before) BEFORE="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

BENCH=bench.sh
PSF_GUARD="$ROOT/target/debug/psf-guard"
WASM="${PSF_GUARD_WASM:-$ROOT/dist/psf_guard.wasm}"
NOOP_WASM="$ROOT/target/wasm32-wasip1/wasm-release/psf_noop_filter.wasm"
# ENVOY_BIN, PROXY_CPU and LOAD_CPU (the Envoy under test on a core of its own, wrk and the
# upstream on the other), free_port, start_proxy, median and the cleanup.
# shellcheck source=envoy/bench-lib.sh
. "$ROOT/envoy/bench-lib.sh"
require "$PSF_GUARD" "$WASM" "$NOOP_WASM" "$ENVOY_BIN"

if ! command -v wrk >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "bench.sh: installing wrk" >&2
  $SUDO apt-get install -y wrk >&2 || { $SUDO apt-get update >&2 && $SUDO apt-get install -y wrk >&2; }
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/psf-bench.XXXXXX")"
# Kills only the processes this script started (ENVOY_PID, UPSTREAM_PID).
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# The upstream: a second Envoy answering every request with a fixed chat completion
# (direct_response). It is far faster than the debug-built mock-llm, so the measured
# ratio shows the filter's cost rather than the mock's.
start_upstream() {
  local admin
  UPSTREAM="$(free_port)"
  admin="$(free_port)"
  cat >"$TMP/upstream.yaml" <<YAML
static_resources:
  listeners:
  - name: upstream_0
    address:
      socket_address: {address: 127.0.0.1, port_value: $UPSTREAM}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: upstream
          route_config:
            virtual_hosts:
            - name: llm
              domains: ["*"]
              routes:
              - match: {prefix: "/"}
                direct_response:
                  status: 200
                  body:
                    inline_string: '{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":8,"total_tokens":1008}}'
                response_headers_to_add:
                - header: {key: content-type, value: application/json}
          http_filters:
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
admin:
  address:
    socket_address: {address: 127.0.0.1, port_value: $admin}
YAML
  taskset -c "$LOAD_CPU" "$ENVOY_BIN" -c "$TMP/upstream.yaml" --concurrency 1 --disable-hot-restart \
    --base-id "$(($$ % 10000 * 10 + 9))" --log-path "$TMP/upstream.log" >/dev/null 2>&1 &
  UPSTREAM_PID=$!
  wait_envoy "$UPSTREAM_PID" "$admin" && return
  echo "bench.sh: the upstream Envoy did not start:" >&2
  tail -n 30 "$TMP/upstream.log" >&2 || true
  exit 1
}

echo '{"version":1,"name":"noop","owner":"Bench","rules":[]}' >"$TMP/noop.json"
CONFIGS=(passthrough noop filter norules)
if [ "$LIMITS" = 1 ]; then
  CONFIGS+=(limits)
  # The default policy plus a per-key request and token limit keyed on the bench's bearer token.
  python3 - "$TMP/limits.json" <<'PY'
import json, sys
policy = json.load(open("policies/default.json"))
policy["rate_limits"] = {"limits": [{"id": "per-key", "key": [{"header": "authorization"}],
    "window": "1m", "requests": 10**9, "total_tokens": 10**12, "over_budget": "clamp"}]}
policy["abuse"] = {"key": [{"header": "authorization"}],
    "strikes": {"prompt_injection": 5, "rate_limited": 1000}}
json.dump(policy, open(sys.argv[1], "w"))
PY
fi
if [ -n "$BEFORE" ]; then
  BEFORE_WASM="${BEFORE%%,*}"
  BEFORE_POLICY="${BEFORE#*,}"
  require "$BEFORE_WASM" "$BEFORE_POLICY"
  CONFIGS+=(before)
fi
if [ -n "$ONLY" ]; then
  # A subset, e.g. `--configs passthrough,filter,limits`: pass-through stays, as the baseline.
  IFS=, read -r -a CONFIGS <<<"passthrough,${ONLY#passthrough,}"
fi
config_args() {
  case "$1" in
    passthrough) echo "--passthrough" ;;
    filter) echo "--policy policies/default.json --wasm $WASM" ;;
    norules) echo "--policy $TMP/noop.json --wasm $WASM" ;;
    noop) echo "--policy $TMP/noop.json --wasm $NOOP_WASM" ;;
    limits) echo "--policy $TMP/limits.json --wasm $WASM" ;;
    before) echo "--policy $BEFORE_POLICY --wasm $BEFORE_WASM" ;;
  esac
}

# run_one CONFIG ROUND: start Envoy, warm up, measure, stop; appends a BENCH line to $TMP/CONFIG.
run_one() {
  local name="$1" round="$2" line
  # shellcheck disable=SC2046 # config_args is a word list by design
  start_proxy "$name" "$round" "$UPSTREAM" $(config_args "$name")
  local url="http://127.0.0.1:$LISTEN"
  local status
  status="$(curl -sS -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    --data '{"model":"m","messages":[{"role":"user","content":"hi"}]}' "$url/v1/chat/completions")"
  [ "$status" = 200 ] || { echo "bench.sh: $name answered $status to a probe request" >&2; exit 1; }
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$WARMUP" -s envoy/bench-post.lua "$url" >/dev/null
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s envoy/bench-post.lua "$url" \
    >"$TMP/wrk-$name-$round.out"
  stop_proxy
  line="$(grep '^BENCH ' "$TMP/wrk-$name-$round.out")" || {
    echo "bench.sh: no result from wrk:" >&2; cat "$TMP/wrk-$name-$round.out" >&2; exit 1; }
  case "$line" in
    *" non2xx=0 connect_err=0 read_err=0 write_err=0 timeout=0")  ;;
    *) echo "bench.sh: $name round $round had errors: $line" >&2; exit 1 ;;
  esac
  echo "$line" >>"$TMP/$name.results"
  printf '  round %d %-12s %s\n' "$round" "$name" "${line#BENCH }" >&2
}

echo "bench.sh: $ROUNDS rounds of ${CONFIGS[*]}," \
  "wrk -t1 -c$CONNECTIONS -d$DURATION, 4096-byte body" >&2
start_upstream
for round in $(seq "$ROUNDS"); do
  for name in "${CONFIGS[@]}"; do
    run_one "$name" "$round"
  done
done

BASE_RPS="$(median passthrough rps)"
BASE_P50="$(median passthrough p50_us)"
TABLE="$TMP/table.md"
{
  echo "| config | policy | req/s (median of $ROUNDS) | ratio to pass-through | p50 ms | p50 Δ ms | p99 ms |"
  echo "|---|---|---:|---:|---:|---:|---:|"
  for name in "${CONFIGS[@]}"; do
    case "$name" in
      passthrough) policy="(no filter)" ;;
      filter) policy="policies/default.json" ;;
      norules) policy="psf-guard, a policy without rules" ;;
      noop) policy="baseline: a no-op filter that buffers both bodies" ;;
      limits) policy="policies/default.json plus a per-key rate and token limit" ;;
      before) policy="the earlier build, $BEFORE_WASM with $BEFORE_POLICY" ;;
    esac
    awk -v n="$name" -v pol="$policy" -v rps="$(median "$name" rps)" -v base="$BASE_RPS" \
      -v p50="$(median "$name" p50_us)" -v bp50="$BASE_P50" -v p99="$(median "$name" p99_us)" \
      'BEGIN { printf "| %s | %s | %.0f | %.3f | %.3f | %+.3f | %.3f |\n",
                 n, pol, rps, rps / base, p50 / 1000, (p50 - bp50) / 1000, p99 / 1000 }'
  done
} >"$TABLE"
VERDICT="$(awk -v r="$(median filter rps)" -v b="$BASE_RPS" -v p="$(median filter p50_us)" -v bp="$BASE_P50" \
  'BEGIN { ok = (r / b >= 0.82 && (p - bp) / 1000 <= 0.3);
           printf "Budget (default policy: ratio >= 0.82, p50 delta <= 0.3 ms): %s (ratio %.3f, p50 delta %+.3f ms)",
             ok ? "met" : "NOT met", r / b, (p - bp) / 1000 }')"

echo
cat "$TABLE"
echo
echo "$VERDICT"

if [ "$RECORD" = 1 ]; then
  ENVOY_VERSION="$(envoy_version)"
  {
    echo
    echo "#### envoy/bench.sh run, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Command: \`envoy/bench.sh --record$([ "$LIMITS" = 1 ] && echo ' --limits')$([ -n "$BEFORE" ] && echo ' --before …')\` (rounds $ROUNDS, wrk -t1 -c$CONNECTIONS -d$DURATION," \
      "4096-byte body); nproc $(nproc); Envoy ${ENVOY_VERSION:-unknown}, --concurrency 1."
    echo
    cat "$TABLE"
    echo
    echo "$VERDICT."
    echo
    echo "Per round (req/s, p50 µs):"
    echo
    for name in "${CONFIGS[@]}"; do
      printf -- '- %s: %s\n' "$name" "$(sed -n 's/.* rps=\([0-9.]*\) p50_us=\([0-9]*\).*/\1 req\/s, \2 µs/p' \
        "$TMP/$name.results" | paste -sd ';' | sed 's/;/; /g')"
    done
  } >"$TMP/run.md"
  record_run "$TMP/run.md"
  echo "bench.sh: recorded the run in BENCHMARKS.md (the one before it moved to bench/results/)" >&2
fi
