# The two commands of the README: `make run` (the dev stack) and `make test` (the whole test suite).
# Each bootstraps .venv from the project's own files on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/eventyard dev --workspace examples/workspace

test: $(STAMP)
	tests/deps/install.sh
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/eventyard bench --out bench/results

check: $(STAMP)
	$(BIN)/eventyard check --workspace examples/workspace

clean:
	rm -rf $(VENV) .eventyard .pytest_cache
