# Two entry points, both self-contained on a fresh machine:
#   make test   - virtualenv from the lock, lint, types, strict docs build, tests, wheel check
#   make bench  - virtualenv from the lock, `rxstreamz bench`
# Documentation assets (committed; see docs/development.md):
#   make docs     - redraws the marble diagrams from real runs, then builds the site
#   make charts   - `rxstreamz bench --json` into docs/assets/bench.json, then its charts
#                   and the figures quoted in the README and docs
# Development environment (see docs/development.md):
#   make lock         - re-resolve requirements/dev.lock from pyproject.toml and requirements/tools.in
#   make test-all     - `make test` on every supported Python found on this machine
#   make test-latest  - the same suite with the newest releases, the lock ignored (not gating)
PYTHON ?= python3
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The default interpreter gets .venv (what editors look for); any other PYTHON its own.
ifeq ($(origin PYTHON),file)
VENV ?= .venv
else
VENV ?= .venv-$(PY_VERSION)
endif
BIN := $(VENV)/bin
LOCK := requirements/dev.lock
STAMP := $(VENV)/.installed-stamp
SMOKE_VENV := $(VENV)-wheel
SUPPORTED := 3.11 3.12 3.13

.PHONY: test bench lint types docs marbles marbles-check charts pytest dist-check venv lock test-all test-latest clean

# A stale environment is rebuilt from scratch, so nothing outside the lock survives in it.
$(STAMP): pyproject.toml $(LOCK)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-virtualenv -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	$(BIN)/python -m pip check
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

types: $(STAMP)
	$(BIN)/pyright --pythonpath $(BIN)/python
	$(BIN)/mypy

# Every marble diagram is a recorded run on virtual time (tools/marbles.py).
marbles: $(STAMP)
	$(BIN)/python tools/marbles.py

marbles-check: $(STAMP)
	$(BIN)/python tools/marbles.py --check

docs: marbles
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# The charts of docs/performance.md and every figure the README and docs quote (the
# blocks between `<!-- bench:NAME -->` and `<!-- /bench -->`, tools/perf_numbers.py);
# `make charts BENCH_ARGS=--quick` for a short run.
charts: $(STAMP)
	$(BIN)/rxstreamz bench --table processor --table throughput --table fusion --table growth \
		--table workers --table asyncio --progress none --json docs/assets/bench.json $(BENCH_ARGS)
	$(BIN)/python tools/charts.py docs/assets/bench.json
	$(BIN)/python tools/perf_numbers.py docs/assets/bench.json

pytest: $(STAMP)
	$(BIN)/pytest

# Build the sdist and wheel, check their metadata, install the wheel with its
# runtime dependencies only (versions from the lock) and smoke-test it there.
dist-check: $(STAMP)
	rm -rf $(VENV)-dist $(SMOKE_VENV)
	$(BIN)/python -m build --no-isolation --outdir $(VENV)-dist .
	$(BIN)/twine check --strict $(VENV)-dist/*
	$(PYTHON) -m venv $(SMOKE_VENV)
	$(SMOKE_VENV)/bin/python -m pip install --quiet --constraint $(LOCK) $(VENV)-dist/*.whl
	$(SMOKE_VENV)/bin/python -I tools/wheel_smoke.py

# marbles-check first: `docs` redraws, which would hide a diagram left stale in a commit.
test: lint types marbles-check docs pytest dist-check

bench: $(STAMP)
	$(BIN)/rxstreamz bench $(BENCH_ARGS)

# Keeps every pin that still satisfies pyproject.toml; `make lock UPGRADE=1` moves all to the newest.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet "$$(grep '^uv==' $(LOCK) || echo uv)"
	.venv-lock/bin/uv pip compile pyproject.toml requirements/tools.in --all-extras --universal \
		--python-version 3.11 --no-header --quiet $(if $(UPGRADE),--upgrade) --output-file $(LOCK)
	rm -rf .venv-lock

test-all:
	@status=0; for version in $(SUPPORTED); do \
		python=$$(tools/find-python $$version) || { echo "Python $$version: not found, skipped"; continue; }; \
		echo "== Python $$version: $$python"; \
		$(MAKE) --no-print-directory test PYTHON=$$python || status=1; \
	done; exit $$status

# Everything the lock pins, at today's newest releases: shows drift before it breaks anyone.
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --quiet --upgrade -r requirements/tools.in
	.venv-latest/bin/python -m pip install --quiet --upgrade --editable ".[dev]"
	touch .venv-latest/.installed-stamp
	$(MAKE) --no-print-directory lint types docs pytest dist-check VENV=.venv-latest

clean:
	rm -rf .venv .venv-* build dist site .pytest_cache .mypy_cache .ruff_cache .benchmarks
