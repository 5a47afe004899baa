# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint synth bench bench-load bench-sip setup clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing pinned dependencies into $(VENV) (first run takes a minute)..."
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/voice-agent demo $(if $(AGENTS),--agents $(AGENTS) --numbers $(or $(NUMBERS),numbers.yaml))

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Style, types (strict on voice_agent/, voice_agent_cli/, realtime_bridge/ and voice_eval/) and layering; config in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/lambda_cold_import.py
	$(BIN)/python bench/bridge_calls.py

# The bridge beside a do-nothing relay at 1, 20 and 100 concurrent calls (LEVELS=1,20,100,200 for more).
# LOOP=asyncio measures both on the standard event loop instead of uvloop; REPEAT=3 runs each level
# three times per target, alternating, and shows medians (CPU figures move between runs here);
# PAIRED=N also runs both targets at once N times per level, for the CPU ratio (0: skip).
LEVELS ?= 1,20,100
LOOP   ?= uvloop
REPEAT ?= 1
PAIRED ?= 3
bench-load: $(STAMP)
	$(BIN)/python bench/bridge_load.py --levels $(LEVELS) --event-loop $(LOOP) --repeat $(REPEAT) --paired $(PAIRED)

# 200 concurrent calls with RTP and DTMF over UDP and TCP, then every record, transcript and CallEnded audited.
bench-sip: $(STAMP)
	$(BIN)/python bench/sip_load.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .import_linter_cache .hypothesis cdk.out

# CloudFormation templates into cdk.out, offline: no Docker, no AWS credentials. The Lambda
# asset is bundled here with pip (wheels for Lambda's arm64 Python); the bridge image is only
# built by `cdk deploy`. Pass settings with CONTEXT, e.g. make synth CONTEXT="-c phone_number=+12065550100"
synth: $(STAMP)
	rm -rf cdk.out
	CDK_OUTDIR=cdk.out $(BIN)/python app.py $(CONTEXT)
