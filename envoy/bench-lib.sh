# shellcheck shell=bash
# Shell functions shared by envoy/bench.sh and envoy/bench-stream.sh; sourced, not run.
#
# The caller sets ROOT (the repository), TMP (a scratch directory, removed on exit),
# PSF_GUARD and BENCH (its own name, for messages), and keeps the pids of the processes
# it started in ENVOY_PID and UPSTREAM_PID: `bench_cleanup` kills exactly those.

# Envoy from $ENVOY_BIN, else PATH, else the project's virtualenv (`make envoy`).
if [ -z "${ENVOY_BIN:-}" ]; then
  ENVOY_BIN="$(command -v envoy 2>/dev/null || echo "$ROOT/.venv/bin/envoy")"
fi

# The Envoy under test gets a core of its own; the load and the upstream share the other,
# so the proxy is the bottleneck and its cost per request is what the ratios show.
PROXY_CPU=0
# shellcheck disable=SC2034 # used by the scripts that source this file
LOAD_CPU=$(( $(nproc) > 1 ? 1 : 0 ))

ENVOY_PID=""
UPSTREAM_PID=""
bench_cleanup() {
  local pid
  for pid in $ENVOY_PID $UPSTREAM_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}

# require FILE...: each exists, or the run stops saying how to build it.
require() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || { echo "$BENCH: missing $f; run 'make build envoy' first" >&2; exit 1; }
  done
}

# A port nothing on 127.0.0.1 answers on (the window between this check and the bind is
# small; a clash makes the server fail to start, which the readiness wait reports).
free_port() {
  local port
  while :; do
    # Below the ephemeral range (32768+), where the clients' own connections would collide.
    port=$((20000 + RANDOM % 12000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return
    fi
  done
}

# wait_envoy PID ADMIN_PORT: until Envoy's admin says LIVE; fails if it never does or exits.
wait_envoy() {
  local _
  for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:$2/ready" 2>/dev/null | grep -q LIVE && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# wait_port PID PORT: until something accepts connections on 127.0.0.1:PORT.
wait_port() {
  local _
  for _ in $(seq 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# start_proxy NAME ROUND UPSTREAM_PORT [psf-guard envoy-config arguments...]: renders the
# config, starts Envoy on PROXY_CPU with --concurrency 1 and waits until it is ready.
# Sets ENVOY_PID and LISTEN; its log is $TMP/envoy-NAME-ROUND.log.
start_proxy() {
  local name="$1" round="$2" upstream="$3" admin
  shift 3
  LISTEN="$(free_port)"
  admin="$(free_port)"
  "$PSF_GUARD" envoy-config --listen "$LISTEN" --upstream "$upstream" --admin "$admin" \
    "$@" >"$TMP/$name.yaml"
  taskset -c "$PROXY_CPU" "$ENVOY_BIN" -c "$TMP/$name.yaml" --concurrency 1 --disable-hot-restart \
    --base-id "$(($$ % 10000 * 10 + round))" ${BENCH_LOG_LEVEL:+--log-level "$BENCH_LOG_LEVEL"} --log-path "$TMP/envoy-$name-$round.log" \
    >"$TMP/access-$name-$round.log" 2>&1 &
  ENVOY_PID=$!
  if ! wait_envoy "$ENVOY_PID" "$admin"; then
    echo "$BENCH: $name Envoy did not become ready; its log:" >&2
    tail -n 30 "$TMP/envoy-$name-$round.log" >&2 || true
    exit 1
  fi
}

stop_proxy() {
  kill "$ENVOY_PID"
  wait "$ENVOY_PID" 2>/dev/null || true
  ENVOY_PID=""
}

# median CONFIG FIELD: the median of FIELD=value over the lines of $TMP/CONFIG.results.
median() {
  sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$TMP/$1.results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# The Envoy release, e.g. 1.40.0.
envoy_version() {
  "$ENVOY_BIN" --version | sed -n 's/.*version: [0-9a-f]*\/\([^/]*\)\/.*/\1/p'
}

# record_run FILE: makes the run in FILE (markdown starting with its `#### … run, DATE`
# heading) the latest in BENCHMARKS.md, whose last section keeps only the latest run; the
# run it replaces moves to bench/results/<its date>.md.
record_run() {
  python3 - "$ROOT" "$1" <<'PY'
import pathlib, re, sys
root, new = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).read_text().strip("\n")
benchmarks = root / "BENCHMARKS.md"
text = benchmarks.read_text()
heading = re.compile(r"^#### .* run, (\d{4}-\d{2}-\d{2})", re.M)
runs = list(heading.finditer(text))
if runs:
    old = text[runs[0].start():].strip("\n")
    results = root / "bench" / "results" / f"{runs[0].group(1)}.md"
    results.parent.mkdir(parents=True, exist_ok=True)
    before = results.read_text().rstrip("\n") + "\n\n" if results.exists() else ""
    results.write_text(before + old + "\n")
    text = text[:runs[0].start()]
benchmarks.write_text(text.rstrip("\n") + "\n\n" + new + "\n")
PY
}
