# Two commands on a fresh machine: `make run` and `make test`. Everything else builds on them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WORKBOOK ?= inputs/msc_covid19.xlsx

.PHONY: run test test-all bench lint format workbooks clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/costmodel run $(WORKBOOK)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py

lint: $(STAMP)
	$(BIN)/ruff check costmodel tests benchmarks scripts
	$(BIN)/ruff format --check costmodel tests benchmarks scripts

format: $(STAMP)
	$(BIN)/ruff format costmodel tests benchmarks scripts
	$(BIN)/ruff check --fix costmodel tests benchmarks scripts

# Rebuild the committed example/default workbooks from their Python definitions.
workbooks: $(STAMP)
	$(BIN)/python scripts/build_workbooks.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
