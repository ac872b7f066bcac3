# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

# The machine's own services, used by the second pass of `make test` under CI=true.
CI_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
CI_REDIS_URL ?= redis://127.0.0.1:6379/0

# The engine's compiled parts (Cython, setup.py), built in place next to their sources.
EXT_SUFFIX := $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
COMPILED := engine/batch$(EXT_SUFFIX) engine/records$(EXT_SUFFIX)

.PHONY: run test lint format check-deploy clean build

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

## build: compile the engine's batch path and journal records (run by `make run` and `make test`)
build: $(COMPILED)

$(COMPILED) &: engine/batch.pyx engine/records.pyx engine/little_endian.pxd setup.py $(VENV)/.installed-run
	$(BIN)/python setup.py --quiet build_ext --inplace

## run: start the console, engine, worker and beat (embedded SQLite and Redis unless configured)
run: $(VENV)/.installed-run $(COMPILED)
	$(BIN)/python -m exchange_console.run

## test: the whole suite; with CI=true also against PostgreSQL and Redis on 127.0.0.1
test: $(VENV)/.installed-dev $(COMPILED)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
ifeq ($(CI),true)
	@echo "=== CI: the suite again, against PostgreSQL ($(CI_DATABASE_URL)) and Redis ($(CI_REDIS_URL))"
	DATABASE_URL=$(CI_DATABASE_URL) REDIS_URL=$(CI_REDIS_URL) REQUIRE_EXTERNAL_SERVICES=true \
		$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

## lint: ruff's checks and formatting
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## check-deploy: Django's deployment checklist with production settings
check-deploy: $(VENV)/.installed-run $(COMPILED)
	DJANGO_ENV=production ALLOWED_HOSTS=status.example.com \
		DATABASE_URL=postgres://exchange@db.internal:5432/exchange REDIS_URL=redis://redis.internal:6379/0 \
		SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))') \
		$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache build engine/*.c $(COMPILED)
