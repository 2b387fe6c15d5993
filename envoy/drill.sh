#!/usr/bin/env bash
# The PSF IR-5 incident drill: throw the kill switch on a real Envoy and time it.
#
#   envoy/drill.sh [--mode isolate|degrade] [--requests N] [--timeout S] [--concurrency N]
#                  [--policy FILE] [--report FILE] [--keep]
#
# Starts mock-llm and an Envoy with the filter (--concurrency 2) on free 127.0.0.1 ports,
# with the policy (default policies/default.json) plus an `incident` section: an admin token
# drawn for this run, sources 127.0.0.1/32, and approved templates (the policy's own when it
# has them). Then: a chat request must get 200; a switch with a wrong token must get 403 and
# change nothing; the switch to isolate (or degrade) is sent through the admin path and the
# time from sending it to the first request answered 503 service_isolated is measured
# (curl in a tight loop, a new connection per request); N more requests (default 20) must all
# get the approved message; {"mode":"policy"} restores and the time back to 200 is measured;
# N more requests must get 200. Then the evidence: both switches are audit records with the
# reasons sent, every switched request's record carries its code, psf_mode_switches_total
# counts both switches, `psf-guard audit verify` passes on Envoy's log, and the token is in
# no log. Prints a report: UTC timeline, both times, the requests checked, the two switches'
# audit records from Envoy's log, and pass or fail against the PSF IR-2 target (15 minutes;
# the aim is the very next request). Exits 1 when any check fails.
# --timeout bounds each wait (default 60 s); --report also writes the report to FILE;
# --keep keeps the run directory (logs, rendered config) even when the drill passes.
#
# Builds nothing: run `make build envoy` first (`make drill` does). Kills only the processes
# it started. Everything binds 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MODE=isolate
REQUESTS=20
TIMEOUT=60
CONCURRENCY=2
POLICY=policies/default.json
REPORT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) MODE="$2"; shift ;;
    --requests) REQUESTS="$2"; shift ;;
    --timeout) TIMEOUT="$2"; shift ;;
    --concurrency) CONCURRENCY="$2"; shift ;;
    --policy) POLICY="$2"; shift ;;
    --report) REPORT="$2"; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "drill.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$MODE" in
  isolate) EXPECT_CODE=service_isolated ;;
  degrade) EXPECT_CODE=service_degraded ;;
  *) echo "drill.sh: --mode must be isolate or degrade" >&2; exit 2 ;;
esac
for n in "$REQUESTS" "$TIMEOUT" "$CONCURRENCY"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "drill.sh: $n is not a positive number" >&2; exit 2; }
done
[ -f "$POLICY" ] || { echo "drill.sh: no policy file $POLICY" >&2; exit 2; }

BENCH=drill.sh
PSF_GUARD="$ROOT/target/debug/psf-guard"
MOCK_LLM="$ROOT/target/debug/mock-llm"
WASM="${PSF_GUARD_WASM:-$ROOT/dist/psf_guard.wasm}"
# ENVOY_BIN, free_port, wait_envoy, wait_port, require (which names `make build envoy`).
# shellcheck source=envoy/bench-lib.sh
. "$ROOT/envoy/bench-lib.sh"
require "$PSF_GUARD" "$MOCK_LLM" "$WASM" "$ENVOY_BIN"
for tool in curl python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "drill.sh: $tool is needed" >&2; exit 1; }
done

# PSF IR-2: disable, degrade or isolate within 15 minutes.
TARGET_MS=$((15 * 60 * 1000))

umask 077 # the run directory holds the admin token (policy, Envoy config, header file)
TMP="$(mktemp -d "${TMPDIR:-/tmp}/psf-drill.XXXXXX")"
ENVOY_PID=""
UPSTREAM_PID=""
PASSED=0
drill_cleanup() {
  local pid
  for pid in $ENVOY_PID $UPSTREAM_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$PASSED" = 1 ] && [ "$KEEP" = 0 ]; then
    rm -rf "$TMP"
  else
    rm -f "$TMP/auth.header" "$TMP/wrong.header"
    echo "drill.sh: logs and the rendered config are in $TMP" >&2
  fi
}
trap drill_cleanup EXIT
trap 'exit 130' INT TERM

# Microseconds since the epoch, without a fork (bash 5); UTC time of such a value.
now_us() { NOW="${EPOCHREALTIME/[.,]/}"; }
utc() { date -u -d "@$(($1 / 1000000)).$(printf '%06d' $(($1 % 1000000)))" '+%Y-%m-%d %H:%M:%S.%3N'; }
ms() { echo $((($2 - $1 + 500) / 1000)); }

RUN="$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
TOKEN="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" # 48 hex digits
now_us
T_START=$NOW

# --- The policy: the given one plus the incident section --------------------------------
python3 - "$POLICY" "$TMP/policy.json" "$TOKEN" "$TMP/expect.json" <<'PY'
import datetime, json, sys
src, out, token, expect = sys.argv[1:]
policy = json.load(open(src))
incident = policy.setdefault("incident", {})
admin = incident.get("admin", {})
# This run's token and loopback only; the policy's admin path is kept if it names one.
incident["admin"] = {"path": admin.get("path", "/.psf/v1/mode"), "token": token,
                     "sources": ["127.0.0.1/32"]}
templates = incident.setdefault("templates", {})
today = datetime.date.today().isoformat()
drill_owner = "IR-5 drill (envoy/drill.sh), not an approval"
templates.setdefault("isolate", {
    "message": "The assistant is paused while we investigate an issue. Please try again later.",
    "approved_by": drill_owner, "approved_on": today})
templates.setdefault("degrade", {
    "message": "The assistant is running in a reduced mode during an incident. Please try again later.",
    "approved_by": drill_owner, "approved_on": today})
json.dump(policy, open(out, "w"), indent=1)
json.dump({"path": incident["admin"]["path"], "templates": templates,
           # The message as it appears inside the error body (serde_json's escaping).
           "message_json": {k: json.dumps(v["message"], ensure_ascii=False)
                            for k, v in templates.items()}}, open(expect, "w"))
PY
read_expect() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/expect.json" "$1"; }
ADMIN_PATH="$(read_expect 'd["path"]')"
EXPECT_MESSAGE_JSON="$(read_expect "d['message_json']['$MODE']")"
TEMPLATE_LINE="$(read_expect "'%s (approved_by: %s, approved_on: %s)' % (d['templates']['$MODE']['message'], d['templates']['$MODE'].get('approved_by', '-'), d['templates']['$MODE'].get('approved_on', '-'))")"
# The token goes to curl in a file, never on a command line (`ps` shows those to everyone).
printf 'authorization: Bearer %s\n' "$TOKEN" >"$TMP/auth.header"
printf 'authorization: Bearer %s\n' "not-the-token-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$TMP/wrong.header"

# --- mock-llm and Envoy -----------------------------------------------------------------
UPSTREAM="$(free_port)"
"$MOCK_LLM" --port "$UPSTREAM" --log "$TMP/mock-llm.jsonl" --replies "$ROOT/examples/replies" \
  >"$TMP/mock-llm.out" 2>&1 &
UPSTREAM_PID=$!
wait_port "$UPSTREAM_PID" "$UPSTREAM" || { echo "drill.sh: mock-llm did not start:" >&2; cat "$TMP/mock-llm.out" >&2; exit 1; }

LISTEN="$(free_port)"
ADMIN="$(free_port)"
while [ "$ADMIN" = "$LISTEN" ] || [ "$ADMIN" = "$UPSTREAM" ] || [ "$LISTEN" = "$UPSTREAM" ]; do
  LISTEN="$(free_port)"; ADMIN="$(free_port)"
done
"$PSF_GUARD" envoy-config --policy "$TMP/policy.json" --wasm "$WASM" \
  --listen "$LISTEN" --upstream "$UPSTREAM" --admin "$ADMIN" >"$TMP/envoy.yaml"
ENVOY_LOG="$TMP/envoy.log"
"$ENVOY_BIN" -c "$TMP/envoy.yaml" --concurrency "$CONCURRENCY" --disable-hot-restart \
  --base-id "$(($$ % 10000 * 10 + 7))" --log-level info --file-flush-interval-msec 200 \
  --log-path "$ENVOY_LOG" >"$TMP/access.log" 2>&1 &
ENVOY_PID=$!
if ! wait_envoy "$ENVOY_PID" "$ADMIN"; then
  echo "drill.sh: Envoy did not become ready; its log:" >&2
  grep -h 'policy_invalid' "$ENVOY_LOG" >&2 2>/dev/null || tail -n 30 "$ENVOY_LOG" >&2 || true
  exit 1
fi
URL="http://127.0.0.1:$LISTEN"
ENVOY_VERSION="$(envoy_version)"

# --- Requests ---------------------------------------------------------------------------
PROBE='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello from the incident drill. What is the capital of France?"}]}'
CHECKED=0
# probe ID: one chat request on a new connection; sets STATUS and BODY.
probe() {
  STATUS="$(curl -sS --max-time 10 -o "$TMP/probe.body" -w '%{http_code}' \
    -H 'content-type: application/json' -H "x-request-id: drill-$RUN-$1" \
    --data "$PROBE" "$URL/v1/chat/completions" 2>>"$TMP/curl.err")" || STATUS=000
  BODY="$(cat "$TMP/probe.body" 2>/dev/null || true)"
  CHECKED=$((CHECKED + 1))
}
# Whether the last probe got the switched mode's error with the approved message.
switched() {
  [ "$STATUS" = 503 ] && [[ "$BODY" == *"\"code\":\"$EXPECT_CODE\""* ]] &&
    [[ "$BODY" == *"\"message\":$EXPECT_MESSAGE_JSON"* ]]
}
# admin METHOD HEADER_FILE [BODY]: a request to the admin path; sets STATUS and BODY.
admin() {
  local data=()
  [ $# -gt 2 ] && data=(-H 'content-type: application/json' --data "$3")
  STATUS="$(curl -sS --max-time 10 -o "$TMP/admin.body" -w '%{http_code}' -X "$1" \
    -H @"$2" "${data[@]}" "$URL$ADMIN_PATH" 2>>"$TMP/curl.err")" || STATUS=000
  BODY="$(cat "$TMP/admin.body" 2>/dev/null || true)"
}
json_field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null || echo "?"; }

FAILS=()
fail() { FAILS+=("$1"); echo "drill.sh: FAIL: $1" >&2; }
EVENTS=()
event() { EVENTS+=("$(utc "$1")  $2"); }
event "$T_START" "drill $RUN started: mock-llm 127.0.0.1:$UPSTREAM, Envoy 127.0.0.1:$LISTEN (admin 127.0.0.1:$ADMIN)"

# 1. Normal service.
probe baseline
now_us
if [ "$STATUS" = 200 ]; then event "$NOW" "chat request: 200 (normal service)"
else fail "the first chat request got $STATUS, not 200: $BODY"; fi
admin GET "$TMP/auth.header"
GLOBAL_BEFORE="$(json_field "$BODY" '(d["switches"]["global"] or {}).get("mode", "none")')"
[ "$STATUS" = 200 ] || fail "GET $ADMIN_PATH with the token got $STATUS: $BODY"

# 2. The switch is protected: a wrong token changes nothing.
admin POST "$TMP/wrong.header" "{\"mode\":\"$MODE\",\"reason\":\"drill $RUN: wrong token\"}"
REFUSED="$STATUS $(json_field "$BODY" 'd["error"]["code"]')"
probe refused
now_us
if [ "$REFUSED" = "403 admin_forbidden" ] && [ "$STATUS" = 200 ]; then
  event "$NOW" "switch with a wrong token: 403 admin_forbidden; the next request still 200"
else
  fail "a switch with a wrong token got '$REFUSED' (want 403 admin_forbidden), the next request $STATUS"
fi

# 3. Throw the switch and poll until a request gets the switched answer.
now_us
T_SWITCH=$NOW
admin POST "$TMP/auth.header" "{\"mode\":\"$MODE\",\"reason\":\"IR-5 drill $RUN\"}"
now_us
T_SWITCH_ACK=$NOW
SWITCH_ANSWER="$BODY"
event "$T_SWITCH" "POST $ADMIN_PATH {\"mode\":\"$MODE\"} sent"
if [ "$STATUS" = 200 ]; then
  event "$T_SWITCH_ACK" "switch answered 200: $SWITCH_ANSWER"
else
  fail "the switch to $MODE got $STATUS: $BODY"
fi
POLLS=0
T_ISOLATED=""
SWITCHED_BODY="(none)"
DEADLINE=$((T_SWITCH + TIMEOUT * 1000000))
while :; do
  probe "poll-$POLLS"
  POLLS=$((POLLS + 1))
  now_us
  if switched; then T_ISOLATED=$NOW; SWITCHED_BODY="$BODY"; break; fi
  [ "$NOW" -lt "$DEADLINE" ] || break
done
if [ -n "$T_ISOLATED" ]; then
  event "$T_ISOLATED" "first request answered 503 $EXPECT_CODE (request $POLLS after the switch)"
  TIME_TO_SWITCH="$(ms "$T_SWITCH" "$T_ISOLATED")"
else
  fail "no request got 503 $EXPECT_CODE with the approved message within ${TIMEOUT}s ($POLLS requests; last: $STATUS $BODY)"
  TIME_TO_SWITCH=""
fi

# 4. More requests, each on a new connection: every one gets the approved message.
SWITCHED_OK=0
for i in $(seq "$REQUESTS"); do
  probe "$MODE-$i"
  if switched; then SWITCHED_OK=$((SWITCHED_OK + 1))
  else echo "drill.sh: request $i in $MODE mode got $STATUS: $BODY" >&2; fi
done
now_us
event "$NOW" "$SWITCHED_OK of $REQUESTS further requests (new connections) got 503 $EXPECT_CODE with the approved message"
[ "$SWITCHED_OK" = "$REQUESTS" ] || fail "only $SWITCHED_OK of $REQUESTS requests in $MODE mode got the approved message"
admin GET "$TMP/auth.header"
GLOBAL_SWITCHED="$(json_field "$BODY" 'd["switches"]["global"]["mode"]')"
[ "$GLOBAL_SWITCHED" = "$MODE" ] || fail "GET $ADMIN_PATH shows global mode '$GLOBAL_SWITCHED', not $MODE: $BODY"

# 5. Restore and poll until a request gets 200.
now_us
T_RESTORE=$NOW
admin POST "$TMP/auth.header" "{\"mode\":\"policy\",\"reason\":\"IR-5 drill $RUN: restore\"}"
now_us
T_RESTORE_ACK=$NOW
event "$T_RESTORE" "POST $ADMIN_PATH {\"mode\":\"policy\"} sent"
if [ "$STATUS" = 200 ]; then
  event "$T_RESTORE_ACK" "restore answered 200: $BODY"
else
  fail "the restore got $STATUS: $BODY"
fi
RESTORE_POLLS=0
T_RESTORED=""
DEADLINE=$((T_RESTORE + TIMEOUT * 1000000))
while :; do
  probe "restore-poll-$RESTORE_POLLS"
  RESTORE_POLLS=$((RESTORE_POLLS + 1))
  now_us
  if [ "$STATUS" = 200 ]; then T_RESTORED=$NOW; break; fi
  [ "$NOW" -lt "$DEADLINE" ] || break
done
if [ -n "$T_RESTORED" ]; then
  event "$T_RESTORED" "first request answered 200 (request $RESTORE_POLLS after the restore)"
  TIME_TO_RESTORE="$(ms "$T_RESTORE" "$T_RESTORED")"
else
  fail "no request got 200 within ${TIMEOUT}s of the restore ($RESTORE_POLLS requests; last: $STATUS $BODY)"
  TIME_TO_RESTORE=""
fi
RESTORED_OK=0
for i in $(seq "$REQUESTS"); do
  probe "restored-$i"
  if [ "$STATUS" = 200 ]; then RESTORED_OK=$((RESTORED_OK + 1))
  else echo "drill.sh: request $i after the restore got $STATUS: $BODY" >&2; fi
done
now_us
event "$NOW" "$RESTORED_OK of $REQUESTS further requests (new connections) got 200"
[ "$RESTORED_OK" = "$REQUESTS" ] || fail "only $RESTORED_OK of $REQUESTS requests after the restore got 200"
admin GET "$TMP/auth.header"
GLOBAL_AFTER="$(json_field "$BODY" '(d["switches"]["global"] or {}).get("mode", "none")')"
[ "$GLOBAL_AFTER" = none ] || fail "GET $ADMIN_PATH still shows a global switch after the restore: $BODY"

# --- Evidence: metrics, audit records, the chain, no token in any log --------------------
STATS="$(curl -sS --max-time 5 "http://127.0.0.1:$ADMIN/stats?filter=psf_mode_switches" || true)"
M_SWITCH="$(sed -n "s/.*psf_mode_switches_total\.mode\.$MODE: \([0-9]*\).*/\1/p" <<<"$STATS")"
M_POLICY="$(sed -n 's/.*psf_mode_switches_total\.mode\.policy: \([0-9]*\).*/\1/p' <<<"$STATS")"
if [ "${M_SWITCH:-0}" -lt 1 ] || [ "${M_POLICY:-0}" -lt 1 ]; then
  fail "psf_mode_switches_total does not count both switches: $STATS"
fi
# Envoy writes its log through a buffer; stopping it flushes every record to the file.
kill "$ENVOY_PID"
wait "$ENVOY_PID" 2>/dev/null || true
ENVOY_PID=""
# One pass over Envoy's log: the switches' records (verbatim), and the records of this run's
# requests answered in the switched mode, with the worker VMs (each has its own `vm` id).
EVIDENCE="$(python3 - "$ENVOY_LOG" "$MODE" "$EXPECT_CODE" "drill-$RUN-" "$TMP/switch-records.jsonl" <<'PY'
import json, shlex, sys
log, mode, code, prefix, out = sys.argv[1:]
switches, switched, with_code, vms, restore_reason = [], 0, 0, set(), ""
for line in open(log, encoding="utf-8", errors="replace"):
    at = line.find("psf.audit {")
    if at < 0:
        continue
    text = line[at + len("psf.audit "):].rstrip("\n")
    try:
        record = json.loads(text)
    except ValueError:
        continue
    if record.get("mode_switch"):
        switches.append(text)
        if record["mode_switch"].get("mode") == "policy":
            restore_reason = record["mode_switch"].get("reason") or ""
    elif (record.get("request_id") or "").startswith(prefix) and record.get("mode") == mode \
            and record.get("status") == 503:
        switched += 1
        with_code += code in (record.get("codes") or [])
        vms.add(record.get("vm"))
open(out, "w").write("".join(t + "\n" for t in switches))
for key, value in [("N_SWITCH_RECORDS", len(switches)), ("N_SWITCHED_RECORDS", switched),
                   ("N_WITH_CODE", with_code), ("WORKERS", len(vms)),
                   ("RESTORE_REASON", restore_reason)]:
    print(f"{key}={shlex.quote(str(value))}")
PY
)" || fail "could not read the audit records from Envoy's log"
N_SWITCH_RECORDS=0 N_SWITCHED_RECORDS=0 N_WITH_CODE=0 WORKERS=0 RESTORE_REASON=""
eval "$EVIDENCE"
SWITCH_RECORDS="$(cat "$TMP/switch-records.jsonl" 2>/dev/null || true)"
[ "$N_SWITCH_RECORDS" = 2 ] || fail "$N_SWITCH_RECORDS audit records with a mode_switch in Envoy's log, not 2"
[[ "$SWITCH_RECORDS" == *"\"mode_switch\":{\"mode\":\"$MODE\""*"\"reason\":\"IR-5 drill $RUN\""* ]] ||
  fail "no audit record of the switch to $MODE with its reason"
[[ "$SWITCH_RECORDS" == *"\"mode_switch\":{\"mode\":\"policy\",\"route\":null,\"previous\":\"$MODE\""* ]] ||
  fail "no audit record of the restore (mode policy, previous $MODE)"
[ "$RESTORE_REASON" = "IR-5 drill $RUN: restore" ] ||
  fail "the restore's audit record has reason \"$RESTORE_REASON\", not the one sent (\"IR-5 drill $RUN: restore\")"
SWITCHED_SENT=$((POLLS + REQUESTS))
[ "$N_SWITCHED_RECORDS" = "$SWITCHED_SENT" ] ||
  fail "$N_SWITCHED_RECORDS audit records of requests answered in $MODE mode, for $SWITCHED_SENT such requests"
[ "$N_WITH_CODE" = "$N_SWITCHED_RECORDS" ] ||
  fail "$N_WITH_CODE of $N_SWITCHED_RECORDS records of requests answered in $MODE mode have \"codes\":[\"$EXPECT_CODE\"]"
# Every worker reads the switch from shared data: with several workers, the switched answers
# must come from more than one (new connections spread over the workers' listeners).
if [ "$CONCURRENCY" -gt 1 ] && [ "$WORKERS" -lt 2 ]; then
  fail "the switched answers came from $WORKERS worker VM(s); the drill did not reach several workers"
fi
if VERIFY="$("$PSF_GUARD" audit verify "$ENVOY_LOG" 2>&1)"; then
  VERIFY_LINE="ok, $(grep -m1 ' records, ' <<<"$VERIFY" | sed 's/^.*: \([0-9]* records\), \([0-9]* tombstones\).*/\1, \2/'), every chain verifies"
else
  VERIFY_LINE="FAILED"
  fail "psf-guard audit verify on Envoy's log: $VERIFY"
fi
LEAKS="$(grep -lF "$TOKEN" "$ENVOY_LOG" "$TMP/access.log" "$TMP/mock-llm.jsonl" 2>/dev/null || true)"
[ -z "$LEAKS" ] || fail "the admin token appears in: $LEAKS"
now_us
T_END=$NOW
event "$T_END" "drill ended"

# --- The report -------------------------------------------------------------------------
if [ -n "$TIME_TO_SWITCH" ] && [ "$TIME_TO_SWITCH" -le "$TARGET_MS" ]; then
  IR2="PASS: $MODE in effect $TIME_TO_SWITCH ms after the switch was sent (target $TARGET_MS ms, 15 minutes)"
else
  IR2="FAIL: $MODE not in effect within ${TIMEOUT}s of the switch (target 15 minutes)"
  [ -z "$TIME_TO_SWITCH" ] || IR2="FAIL: $MODE took $TIME_TO_SWITCH ms (target $TARGET_MS ms)"
fi
if [ "$POLLS" = 1 ] && [ -n "$T_ISOLATED" ]; then AIM="met: the first request after the switch got it"
else AIM="NOT met: $POLLS requests until the first switched answer"; fi
[ "${#FAILS[@]}" = 0 ] && PASSED=1
{
  echo "psf-guard incident drill (PSF IR-5): kill switch, mode $MODE"
  echo "================================================================"
  echo "run         $RUN on $(hostname), $(date -u -d "@$((T_START / 1000000))" '+%Y-%m-%d') UTC"
  echo "envoy       ${ENVOY_VERSION:-unknown}, --concurrency $CONCURRENCY, listener 127.0.0.1:$LISTEN, admin 127.0.0.1:$ADMIN"
  echo "upstream    mock-llm 127.0.0.1:$UPSTREAM"
  echo "policy      $POLICY + incident.admin (path $ADMIN_PATH, token drawn for this run, sources 127.0.0.1/32)"
  echo "template    $MODE: $TEMPLATE_LINE"
  echo
  echo "Timeline (UTC)"
  printf '  %s\n' "${EVENTS[@]}"
  echo
  echo "Results"
  printf '  %-22s %s\n' \
    "time to $MODE" "${TIME_TO_SWITCH:-none} ms (switch sent -> first 503 $EXPECT_CODE; the switch call itself took $(ms "$T_SWITCH" "$T_SWITCH_ACK") ms)" \
    "one-request aim" "$AIM" \
    "$MODE checks" "$SWITCHED_OK/$REQUESTS requests on new connections got the approved message" \
    "clients got" "503 $SWITCHED_BODY" \
    "workers" "$WORKERS of $CONCURRENCY worker VMs answered switched requests (distinct audit vm ids)" \
    "time to restore" "${TIME_TO_RESTORE:-none} ms (restore sent -> first 200, $RESTORE_POLLS request(s); the call took $(ms "$T_RESTORE" "$T_RESTORE_ACK") ms)" \
    "restore checks" "$RESTORED_OK/$REQUESTS requests on new connections got 200" \
    "requests checked" "$CHECKED chat requests (2 before the switch, $POLLS + $REQUESTS switched, $RESTORE_POLLS + $REQUESTS restored) and 6 admin calls" \
    "wrong token" "$REFUSED (changed nothing)" \
    "switches in force" "global switch before: $GLOBAL_BEFORE; during: $GLOBAL_SWITCHED; after the restore: $GLOBAL_AFTER" \
    "metrics" "psf_mode_switches_total{mode=\"$MODE\"} ${M_SWITCH:-0}, {mode=\"policy\"} ${M_POLICY:-0}" \
    "audit records" "$N_SWITCH_RECORDS mode switches; $N_SWITCHED_RECORDS requests in $MODE mode, $N_WITH_CODE of them with codes [\"$EXPECT_CODE\"]" \
    "audit chain" "psf-guard audit verify on Envoy's log: $VERIFY_LINE" \
    "token in logs" "$([ -z "$LEAKS" ] && echo none || echo "FOUND in $LEAKS")"
  echo
  echo "Audit records of the two switches (Envoy's log, psf.audit)"
  if [ -n "$SWITCH_RECORDS" ]; then printf '%s\n' "$SWITCH_RECORDS"; else echo "  (none found)"; fi
  echo
  echo "Verdict"
  echo "  PSF IR-2 (disable, degrade or isolate within 15 minutes): $IR2"
  if [ "$PASSED" = 1 ]; then
    echo "  drill: PASS (every check passed)"
  else
    echo "  drill: FAIL (${#FAILS[@]} check(s) failed)"
    printf '    - %s\n' "${FAILS[@]}"
  fi
} >"$TMP/report.txt"
cat "$TMP/report.txt"
if [ -n "$REPORT" ]; then
  cp "$TMP/report.txt" "$REPORT"
  echo "drill.sh: report written to $REPORT" >&2
fi
[ "$PASSED" = 1 ]
