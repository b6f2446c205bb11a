# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# Test processes: one per core (each with its own database); TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= auto

.PHONY: install run test lint schema operations typescript clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "EIC needs Python 3.11 or newer"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## Migrate the database (SQLite ./eic.db unless EIC_DATABASE_URL is set), load the demo clusters
## if it is empty, and serve GraphQL at http://$(HOST):$(PORT)/graphql
run: $(STAMP)
	$(BIN)/eic migrate
	$(BIN)/eic seed-demo --if-empty
	$(BIN)/eic serve --host $(HOST) --port $(PORT)

## The test suite: SQLite, or PostgreSQL when EIC_TEST_DATABASE_URL is set
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy backend
	$(BIN)/lint-imports --no-cache

## Regenerate the committed SDL after changing the schema
schema: $(STAMP)
	$(BIN)/eic export-schema --output schema/schema.graphql
	$(BIN)/eic operations build

TS := clients/typescript

$(TS)/node_modules/.package-lock.json: $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund

## Regenerate the TypeScript client's types from the SDL and clients/operations (after
## `make schema`), then type-check the client (tsc --noEmit, strict)
typescript: $(TS)/node_modules/.package-lock.json
	cd $(TS) && npm run --silent codegen && npm run --silent check

clean:
	rm -rf $(VENV) eic.db eic.db-wal eic.db-shm eic.db-holders .pytest_cache .mypy_cache .ruff_cache
