# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= data

.PHONY: install run test lint typecheck unit validate check-data stamp schema export clean browser-deps \
	port-free screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# `make run` installs what the service needs to run: the package and its
# [project.dependencies]. No test tools, no npm, no apt.
$(RUNTIME): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# `make install` (and so `make test`) adds the test extras, [project.optional-dependencies] dev.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(RUNTIME)

install: $(INSTALLED)

run: $(RUNTIME)
	$(BIN)/calendar-service serve --data-dir $(DATA) --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check calendar_service tests benchmarks scripts
	$(BIN)/ruff format --check calendar_service tests benchmarks scripts

typecheck: install
	$(BIN)/mypy

# Browser tests (tests/test_embed_*.py, test_docs_offline.py) drive Debian's
# chromium-headless-shell (its chromium where the shell is missing; ~23 s less CPU a run)
# through Playwright and inject axe-core from tests/browser/node_modules. Never `playwright
# install`: use the system browser. tests/test_export_nginx.py runs Debian's nginx with deploy/nginx.conf
# on a free port. The digest's PDF (WeasyPrint, the `pdf` extra) needs Debian's Pango and a
# font (libpango-1.0-0, libpangoft2-1.0-0, fonts-dejavu-core). As root, missing chromium, npm,
# nginx and these are installed with apt, with their
# services kept from starting (scripts/install-system-packages.sh); otherwise it names them.
browser-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/chromium-headless-shell ] || missing="$$missing chromium-headless-shell"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$$missing nginx"; \
	libraries=$$(PATH="$$PATH:/sbin:/usr/sbin" ldconfig -p); \
	echo "$$libraries" | grep -q 'libpango-1.0.so.0' || missing="$$missing libpango-1.0-0"; \
	echo "$$libraries" | grep -q 'libpangoft2-1.0.so.0' || missing="$$missing libpangoft2-1.0-0"; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	sh scripts/install-system-packages.sh $$missing
	npm ci --prefix tests/browser --no-audit --no-fund

# Three xdist workers on two cores: tests that wait on a server (reload, shutdown, stable
# files) overlap with tests that compute (72-74 s here, quiet, at 03:45 UTC on 26 November,
# about 124 s of CPU; in an earlier measurement 133 s against 153 s with two and 146 s with four). Modules marked xdist_group
# run whole on one worker (their servers start once).
# Bytecode is written even where the environment says not to (PYTHONDONTWRITEBYTECODE): each
# worker would otherwise rewrite every test module's asserts, and each server a test starts
# would compile the package again (about 0.5 s of CPU a start).
unit: install browser-deps
	PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n 3 --dist loadgroup

# For editors: strict, judged against today (a provisional date coming within 60 days, or a
# confirmed one without a source, fails it).
validate: install
	$(BIN)/calendar-service validate --strict $(DATA)

# For the test run: errors fail it, warnings are shown. Strictness against the calendar's own
# day would turn every build red on the day a date comes within 60 days, whatever the change;
# the suite checks the bundled data strictly on a fixed day instead (test_bundled_calendar.py).
check-data: install
	$(BIN)/calendar-service validate $(DATA)

# After the suite nothing may listen on port 80: the tests' nginx runs on free ports only.
port-free:
	sh scripts/port-free.sh 80

test: lint typecheck check-data unit
	$(MAKE) --no-print-directory port-free

# docs/screenshots/*.png for the README, from headless chromium over the frozen test data.
screenshots: install
	$(BIN)/python scripts/screenshots.py docs/screenshots

stamp: install
	$(BIN)/calendar-service stamp $(DATA)

schema: install
	$(BIN)/calendar-service schema --out $(DATA)/schema

export: install
	$(BIN)/calendar-service build --data-dir $(DATA) build/site

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
