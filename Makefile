# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= data

.PHONY: install run test lint typecheck unit validate stamp schema clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(INSTALLED)

run: install
	$(BIN)/calendar-service serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check calendar_service tests benchmarks
	$(BIN)/ruff format --check calendar_service tests benchmarks

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest

validate: install
	$(BIN)/calendar-service validate --strict $(DATA)

test: lint typecheck validate unit

stamp: install
	$(BIN)/calendar-service stamp $(DATA)

schema: install
	$(BIN)/calendar-service schema --out $(DATA)/schema

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
