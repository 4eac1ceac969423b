# The two set-up commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install lint

$(BIN)/tocsin: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/tocsin

install: $(BIN)/tocsin

# Installs and starts the service on its embedded default (SQLite in ./data, in-process ingest).
run: install
	$(BIN)/tocsin serve

# Installs and runs the whole test suite (PostgreSQL too when TOCSIN_TEST_POSTGRES_URL is set).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check warning detectors ingest api tests benchmarks
	$(BIN)/mypy
