-- wrk script for envoy/bench.sh: POST a 4 KB OpenAI chat-completions request, and print
-- one machine-readable summary line when the run ends.
--
--   wrk -t1 -c16 -d10s --latency -s envoy/bench-post.lua http://127.0.0.1:PORT

local BODY_BYTES = 4096

local prefix = '{"model":"gpt-4o-mini","temperature":0,"messages":['
  .. '{"role":"system","content":"You are a helpful assistant. Answer briefly."},'
  .. '{"role":"user","content":"'
local suffix = '"}]}'

-- Plain ASCII filler (no characters JSON would escape), cut so the body is exactly BODY_BYTES.
local filler_len = BODY_BYTES - #prefix - #suffix
local sentence = "Summarise the quarterly report for the board in three short bullet points. "
local filler = string.rep(sentence, math.ceil(filler_len / #sentence)):sub(1, filler_len)

wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench-not-a-real-key"
wrk.body = prefix .. filler .. suffix
assert(#wrk.body == BODY_BYTES, "request body is not " .. BODY_BYTES .. " bytes")

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d rps=%.2f p50_us=%d p90_us=%d p99_us=%d body_bytes=%d "
      .. "non2xx=%d connect_err=%d read_err=%d write_err=%d timeout=%d\n",
    summary.requests, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), BODY_BYTES,
    e.status, e.connect, e.read, e.write, e.timeout))
end
