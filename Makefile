# AIOps NextGen — the two commands: `make demo` and `make test`.
# Prerequisites: Python 3.11+, JDK 17+ and Maven (Kafka's jars are fetched by Maven).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: venv demo test lint bench-quality clean stack-up stack-down prereqs

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

prereqs:
	@command -v java >/dev/null || { echo "JDK 17+ is required (java not found)"; exit 1; }
	@command -v mvn >/dev/null || { echo "Maven is required (mvn not found)"; exit 1; }

## demo: run the main job on the embedded local stack
demo: venv prereqs
	$(BIN)/python -m streams.demo

## test: run the whole test suite against a real Kafka + ClickHouse started per session
test: venv prereqs
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: venv
	$(BIN)/ruff check .

stack-up: venv prereqs
	$(BIN)/aiops stack up

stack-down: venv
	$(BIN)/aiops stack down

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
