#!/usr/bin/env bash
# Throughput of `psf-guard eval` on 1 KB rows (issue #2 asks for >= 1,000 rows/s).
# Usage: host-tests/bench/eval-throughput.sh [ROWS]   (run from the repo root after `make build`)
set -euo pipefail
rows=${1:-5000}
work=target/bench-eval
mkdir -p "$work"
python3 - "$rows" > "$work/rows.jsonl" <<'PY'
import json, random, sys
random.seed(7)
words = "the model answers a question about shipping costs and delivery dates for an order".split()
for i in range(int(sys.argv[1])):
    text = " ".join(random.choice(words) for _ in range(400))[:1024]
    print(json.dumps({"id": i, "direction": "request" if i % 2 == 0 else "response", "text": text}))
PY
start=$(date +%s.%N)
./target/debug/psf-guard eval --policy policies/default.json --input "$work/rows.jsonl" --output "$work/verdicts.jsonl"
end=$(date +%s.%N)
count=$(wc -l < "$work/verdicts.jsonl")
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); n=int(sys.argv[3]); print(f'psf-guard eval: {n} rows of 1 KB in {s:.2f} s = {n/s:.0f} rows/s (including VM start)')" "$start" "$end" "$count"
