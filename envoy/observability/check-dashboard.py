#!/usr/bin/env python3
"""Checks grafana-dashboard.json beyond parsing: every panel has a title, a description and
the ${DS_PROMETHEUS} datasource; panels sit on the 24-column grid without overlapping; every
metric family psf-guard exports has a panel; and every PromQL query parses, by handing the
queries (Grafana variables replaced) to `promtool check rules` as recording rules.

    envoy/observability/check-dashboard.py [grafana-dashboard.json]
"""
import json
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
DS_UID = "${DS_PROMETHEUS}"
# The metric families psf-guard exports (histograms by their _bucket series).
FAMILIES = [
    "psf_requests_total", "psf_blocks_total", "psf_pii_entities_total",
    "psf_prompt_tokens_total", "psf_completion_tokens_total", "psf_filter_duration_us_bucket",
    "psf_upstream_latency_ms_bucket", "psf_ttft_ms_bucket", "psf_upstream_errors_total",
    "psf_alerts_total", "psf_audit_records_total", "psf_audit_dropped_total",
]


def grafana_to_promql(expr):
    expr = expr.replace("$__rate_interval", "5m").replace("$__interval", "1m")
    return re.sub(r"\$\{?\w+\}?", ".*", expr)  # $job, $route: multi-value regex matchers


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "grafana-dashboard.json")
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    errors = []
    names = [v["name"] for v in dash.get("templating", {}).get("list", [])]
    for want in ("DS_PROMETHEUS", "route"):
        if want not in names:
            errors.append(f"templating: no variable {want}")
    if not any(i.get("name") == "DS_PROMETHEUS" for i in dash.get("__inputs", [])):
        errors.append("__inputs: no DS_PROMETHEUS")

    exprs = []  # (name, expr)
    ids = set()
    cells = {}
    for p in dash["panels"]:
        pid = p.get("id")
        where = f"panel {pid} ({p.get('title', '?')})"
        if pid in ids:
            errors.append(f"{where}: duplicate id")
        ids.add(pid)
        g = p["gridPos"]
        if g["x"] < 0 or g["x"] + g["w"] > 24:
            errors.append(f"{where}: outside the 24-column grid")
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    errors.append(f"{where}: overlaps panel {cells[(x, y)]}")
                    break
                cells[(x, y)] = pid
        if p["type"] == "row":
            continue
        if not p.get("title") or not p.get("description"):
            errors.append(f"{where}: needs a title and a description")
        if p.get("datasource", {}).get("uid") != DS_UID:
            errors.append(f"{where}: datasource is not {DS_UID}")
        if not p.get("targets"):
            errors.append(f"{where}: no queries")
        for t in p.get("targets", []):
            if t.get("datasource", {}).get("uid") != DS_UID:
                errors.append(f"{where} query {t.get('refId')}: datasource is not {DS_UID}")
            exprs.append((f"dashboard:panel_{pid}_{t['refId']}", t["expr"]))
    for i, a in enumerate(dash.get("annotations", {}).get("list", [])):
        if "expr" in a:
            exprs.append((f"dashboard:annotation_{i}", a["expr"]))

    every = " ".join(e for _, e in exprs)
    for fam in FAMILIES:
        if not re.search(rf"\b{fam}\b", every):
            errors.append(f"no panel queries {fam}")

    rules = {"groups": [{"name": "dashboard-queries", "rules": [
        {"record": name, "expr": grafana_to_promql(expr)} for name, expr in exprs]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(rules, f)  # JSON is YAML
        tmp = f.name
    try:
        run = subprocess.run(["promtool", "check", "rules", tmp],
                             capture_output=True, text=True)
    finally:
        os.unlink(tmp)
    if run.returncode != 0:
        errors.append("a query does not parse:\n" + run.stdout + run.stderr)

    if errors:
        for e in errors:
            print(f"{path}: {e}", file=sys.stderr)
        return 1
    panels = sum(1 for p in dash["panels"] if p["type"] != "row")
    print(f"{os.path.basename(path)}: {panels} panels, {len(exprs)} queries parse, "
          f"{len(FAMILIES)} metric families covered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
