# unitreview: the two quick-start commands are `make review` and `make test`.
# Each sets up .venv from uv.lock (exact versions) on a machine with only Python 3.11, pip and gcc.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
WAREHOUSE ?= warehouse/unitreview.duckdb
INPUT ?= data_samples

.PHONY: setup review test test-fast lint browser bench dev clean

setup: $(VENV)/.synced

$(VENV)/.synced: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	# bytecode compiled once here: a shell with PYTHONDONTWRITEBYTECODE set would otherwise compile every
	# imported module again on each command (about 2 s of every review's start-up)
	$(BIN)/uv sync --frozen --extra dev --python $(BIN)/python --quiet --compile-bytecode
	touch $@

review: setup
	$(BIN)/unitreview review --input $(INPUT) --warehouse $(WAREHOUSE)

# the full suite, as CI runs it (the lint first: CI fails on a lint or format error)
test: setup browser lint
	$(BIN)/python -m pytest -q

# the quick loop: everything but the end-to-end tests (reviews, subprocesses, servers, browsers)
test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

# ruff's lint rules and formatter as configured in pyproject.toml
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Debian's chromium for the browser tests (as root, e.g. in CI); without it those tests skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ; } || \
		echo "chromium not installed: the browser tests will be skipped"

bench: setup
	$(BIN)/python benchmarks/run.py

dev: setup
	DAGSTER_HOME=$(CURDIR)/dagster_home UNITREVIEW_WAREHOUSE=$(WAREHOUSE) UNITREVIEW_INPUT=$(INPUT) $(BIN)/dagster dev -m pipelines.definitions -h 127.0.0.1 -p 3000

clean:
	rm -rf $(VENV) warehouse
