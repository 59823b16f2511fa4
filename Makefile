# Two commands set up a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install migrate migration bench lint clean

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

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python bench/webhook_load.py

lint: $(STAMP)
	$(BIN)/ruff check .

# make migration m="add payments"
migration: $(STAMP)
	$(BIN)/alembic -c alembic.ini revision --autogenerate -m "$(m)"

clean:
	rm -rf $(VENV) .pytest_cache
