# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/postgres
# Browser tests drive Debian's Chromium (never `playwright install`: it downloads a browser).
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH

.PHONY: run test test-sqlite test-pg install migrate migration bench lint clean chromium demo

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python -c "from dotenv import load_dotenv; load_dotenv(); from config.settings import load_settings; from storage.db import upgrade; upgrade(load_settings().database_url)"

run: migrate
	$(BIN)/python webhook.py

# A month of realistic activity in the database, for the dashboard (flags: python -m bot demo -h).
demo: migrate
	$(BIN)/python -m bot demo

# SQLite first, then PostgreSQL when a server answers on 127.0.0.1:5432.
test: test-sqlite
	@if $(BIN)/python -c "import psycopg, sys; psycopg.connect(sys.argv[1], connect_timeout=3).close()" "$(PG_TEST_URL)" >/dev/null 2>&1; then \
		echo "== PostgreSQL run ($(PG_TEST_URL)) =="; \
		TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/python -m pytest; \
	else \
		echo "== PostgreSQL run SKIPPED: no PostgreSQL server answers at $(PG_TEST_URL) =="; \
	fi

test-sqlite: $(STAMP) chromium
	@echo "== SQLite run =="
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest

# Installs Chromium for the browser tests when it is missing and we are root on Debian;
# otherwise says so and goes on (the browser tests are then skipped, with the reason).
chromium:
	@if [ -x "$(CHROMIUM_PATH)" ]; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "== Installing Chromium for the browser tests (apt-get install chromium) =="; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) \
			|| echo "== Could not install Chromium: the browser tests will be skipped =="; \
	else \
		echo "== No Chromium at $(CHROMIUM_PATH) (install it as root: apt-get install -y chromium): the browser tests will be skipped =="; \
	fi

test-pg: $(STAMP)
	TEST_DATABASE_URL="$(PG_TEST_URL)" $(BIN)/python -m pytest

# The webhook benchmark (bench/README.md): about 10 minutes, writes bench/RESULTS.md and the
# table in README's "## Speed". BENCH_QUICK=1 (or make bench-quick): a smoke run of ~1.5 min.
bench: $(STAMP) bench-wrk
	$(BIN)/python bench/suite.py

.PHONY: bench-quick bench-wrk
bench-quick: $(STAMP) bench-wrk
	BENCH_QUICK=1 $(BIN)/python bench/suite.py

# wrk, the load generator (a Debian package), installed when missing.
bench-wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk; }

# ruff, then mypy --strict on bot/, storage/, config/ and webhook.py (pyproject.toml [tool.mypy]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# make migration m="add payments"
migration: $(STAMP)
	$(BIN)/alembic -c alembic.ini revision --autogenerate -m "$(m)"

clean:
	rm -rf $(VENV) .pytest_cache
