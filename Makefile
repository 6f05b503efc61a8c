# Two commands for a new user (README): `make demo` and `make test`.
# Both create or update .venv at the repository root and are safe to run again.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint typecheck unit bench clean help system-deps

help:
	@echo "make demo   - set up .venv and run the main job on the embedded default"
	@echo "make test   - set up .venv with test tools, run ruff, mypy and the whole test suite"
	@echo "make bench  - run the liabilities benchmark (1,000,000 accounts x 3 assets)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "por needs Python >= 3.11")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed-runtime: pyproject.toml setup.py attestations/_sha256batch.c verifier/inputs/_amounts.c verifier/inputs/_ids.c | $(BIN)/python
	$(PIP) install -e .
	@touch $@

# setup.py builds the native hashing extension in place (attestations/_sha256batch.c,
# libssl-dev from .ci/system-deps); a build that cannot compile it warns and goes on.
$(VENV)/.installed-test: pyproject.toml setup.py attestations/_sha256batch.c verifier/inputs/_amounts.c verifier/inputs/_ids.c | $(BIN)/python
	@bash .ci/system-deps
	$(PIP) install -e '.[test,postgres,cluster]'  # CI and make test: every extra
	@touch $@ $(VENV)/.installed-runtime

# Real local nodes (anvil, bcoin) and solc-js, exactly as locked; no install scripts run.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

demo: $(VENV)/.installed-runtime node_modules/.installed
	$(BIN)/por demo --scheduled 3

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check attestations verifier chains

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

system-deps:
	@bash .ci/system-deps

# The liabilities tree tests run a second time on the pure-Python hashing and amount
# parsing (POR_NATIVE=0), so both backends are held to the same vectors; only those, to
# keep CI time down.
TREE_TESTS := -k "tree or build or proof or audit or liabilit or store or conformance or native_hash or amounts_native or ids_native" tests/unit tests/conformance

unit: $(VENV)/.installed-test node_modules/.installed system-deps
	$(BIN)/python -c 'from attestations import hashing; print("hashing backend:", hashing.backend_info())'
	$(BIN)/pytest
	POR_NATIVE=0 $(BIN)/pytest -q $(TREE_TESTS)

test: lint typecheck unit

bench: $(VENV)/.installed-runtime
	$(BIN)/por bench liabilities --accounts 1000000 --assets 3
	$(BIN)/por bench split --accounts 1000000   # add --bitmex-generator PATH for the ratio

clean:
	rm -rf $(VENV) node_modules demo-out .pytest_cache .mypy_cache .ruff_cache
