# The two commands: `make run` (the desk with demo data) and `make test`.
# Without DATABASE_URL / REDIS_URL both use embedded PostgreSQL and Redis under .data/.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Split the suite over the machine's cores (pytest-xdist); PYTEST_ARGS adds to it.
TEST_WORKERS ?= auto

.PHONY: run test lint wheels format messages clean-data bench-kpis bench-worktime bench-queue bench-mail bench-load

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.local: requirements.txt requirements-local.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-local.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-local.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.local $@

run: $(VENV)/.local
	$(BIN)/python -m config.embedded run

test: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	SECRET_KEY=lint DATABASE_URL=postgres://localhost/lint REDIS_URL=redis://localhost/0 $(BIN)/mypy
	$(BIN)/python -m config.embedded exec -- $(BIN)/python manage.py makemigrations --check --dry-run
	$(MAKE) wheels

# Every runtime and local requirement installs from a wheel on each machine the README promises:
# Python 3.11-3.13 on Linux x86_64 and arm64 (glibc 2.28+) and macOS on Apple silicon (14+).
LINUX_TAGS = manylinux2014_$(1) manylinux_2_17_$(1) manylinux_2_27_$(1) manylinux_2_28_$(1)
MAC_TAGS   = macosx_10_9_universal2 macosx_11_0_arm64 macosx_12_0_arm64 macosx_13_0_arm64 macosx_14_0_arm64
wheels: | $(BIN)/python
	@set -e; for python in 3.11 3.12 3.13; do \
	  for target in "$(call LINUX_TAGS,x86_64)" "$(call LINUX_TAGS,aarch64)" "$(MAC_TAGS)"; do \
	    echo "wheels for Python $$python on $${target##* }"; \
	    $(BIN)/pip download --quiet --only-binary :all: --python-version $$python \
	      $$(for tag in $$target; do printf -- '--platform %s ' $$tag; done) \
	      --dest $(VENV)/wheel-check -r requirements-local.txt 2>&1 | { grep -v "^WARNING: Location" || true; }; \
	    test $${PIPESTATUS[0]} -eq 0; \
	  done; done

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete
	$(BIN)/python -m config.embedded exec -- $(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv

clean-data:
	rm -rf .data

bench-kpis: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python bench/kpis_bench.py $(BENCH_ARGS)

bench-worktime: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python bench/worktime_bench.py --recompute $(BENCH_ARGS)

bench-queue: $(VENV)/.dev
	$(BIN)/python -m config.embedded exec -- $(BIN)/python bench/queue_bench.py $(BENCH_ARGS)

bench-mail: $(VENV)/.dev
	$(BIN)/pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m config.embedded exec -- $(BIN)/python bench/mail_bench.py $(BENCH_ARGS)

bench-load: $(VENV)/.dev
	$(BIN)/pip install --quiet -r requirements-bench.txt
	$(BIN)/python -m config.embedded exec -- $(BIN)/python bench/load_bench.py $(BENCH_ARGS)
