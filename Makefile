# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= data

.PHONY: install run test lint typecheck unit validate stamp schema export clean browser-deps

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

# Browser tests (tests/test_embed_*.py) drive Debian's chromium through Playwright and
# inject axe-core from tests/browser/node_modules. Never `playwright install`: use the system
# browser. As root, missing chromium/npm are installed with apt; otherwise install them yourself.
# tests/test_export_nginx.py also runs Debian's nginx with deploy/nginx.conf in front of the export;
# as root it is installed with apt when missing (without it those tests skip, or fail on CI).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
		else \
			echo "browser-deps: /usr/bin/chromium is missing; install Debian's chromium package" >&2; \
		fi; \
	fi
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm; \
		else \
			echo "browser-deps: npm is missing; install nodejs and npm" >&2; exit 1; \
		fi; \
	fi
	@if [ ! -x /usr/sbin/nginx ] && ! command -v nginx >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; \
		else \
			echo "browser-deps: nginx is missing (tests/test_export_nginx.py); install Debian's nginx" >&2; \
		fi; \
	fi
	npm ci --prefix tests/browser --no-audit --no-fund

# Two xdist workers: tests that wait on a server (reload, shutdown) overlap with tests that
# compute. Modules marked xdist_group run whole on one worker (their servers start once).
unit: install browser-deps
	$(BIN)/pytest -n 2 --dist loadgroup

validate: install
	$(BIN)/calendar-service validate --strict $(DATA)

test: lint typecheck validate unit

stamp: install
	$(BIN)/calendar-service stamp $(DATA)

schema: install
	$(BIN)/calendar-service schema --out $(DATA)/schema

export: install
	$(BIN)/calendar-service build --data-dir $(DATA) build/site

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
