# The two commands: `make run` (the desk with demo data) and `make test`.
# Without DATABASE_URL / REDIS_URL both use embedded PostgreSQL and Redis under .data/.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint format messages clean-data bench-kpis bench-load

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

run: $(VENV)/.runtime
	$(BIN)/python -m config.embedded run

test: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m config.embedded exec -- $(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete
	$(BIN)/python -m config.embedded exec -- $(BIN)/python manage.py compilemessages

clean-data:
	rm -rf .data

bench-kpis: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python bench/kpis_bench.py $(BENCH_ARGS)

bench-load: $(VENV)/.dev
	$(BIN)/pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m config.embedded exec -- $(BIN)/python bench/load_bench.py $(BENCH_ARGS)
