# Andromède — the two commands are `make run` and `make test`; the rest serve them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(CURDIR)/data
# Four workers on the two cores CI has: the longest tests wait more than they compute (real
# guests booting, Terraform's own polling, a lifecycle provider that re-reads for 55 s), and
# the other workers run tests meanwhile. Three took 15:41 against 17:53 with two. A fourth
# was slower in session 30 (25:59 against 23:10, decision 0116), when the suite kept the cores
# 88 % busy. By session 45 it kept them 68 % busy, and a fourth took 23-25 % off a 873-test
# subset of the waiting files for the same CPU (decision 0167).
PYTEST_WORKERS ?= 4

.PHONY: run test test-fast lint bench system-deps clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "python3 is required"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || bash scripts/install-system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	bash scripts/venv-link-rados.sh $(VENV)
	@touch $@

system-deps:
	@bash scripts/install-system-deps.sh

## run: install and start `andromede serve` on the embedded default (data in ./data), with
## real QEMU guests where qemu-system-x86_64 is installed (it says which hypervisor it uses)
run: $(STAMP)
	@bash scripts/make-run.sh $(BIN) $(DATA_DIR)

## lint: ruff (check + format), mypy strict, import layering
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## test-fast: unit and contract tests on the embedded stores, for the edit-run loop. Bytecode
## written, as scripts/run-tests.sh does for `make test`: with PYTHONDONTWRITEBYTECODE set (as
## in this project's machines' environment) every run's every worker compiled the sources and
## rewrote the test modules again: collecting tests/unit and tests/contract took 50 s of CPU per
## worker, 12 s with the bytecode of the previous run (decision 0362).
test-fast: $(STAMP)
	env -u PYTHONDONTWRITEBYTECODE \
	  $(BIN)/pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist worksteal tests/unit tests/contract

## test: everything — lint, unit, contract, e2e with real clients, probes (the lint beside the
## suite, niced, its output after the suite's: scripts/run-beside-lint.sh, decision 0282)
test: system-deps $(STAMP)
	@bash scripts/venv-link-rados.sh $(VENV)  # python3-rados may have come with system-deps
	bash scripts/run-beside-lint.sh \
	  bash scripts/run-tests.sh -n $(PYTEST_WORKERS) --dist worksteal --durations=25 tests bench/tests

## bench: andromede against its peers, side by side (see bench/README.md)
bench: system-deps $(STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
