# bolsync developer entry points. Run from the repository root.
#
#   make venv   create/refresh .venv from the lock file (skipped while the lock is unchanged)
#   make run    one-shot demo: emulator + Airflow standalone, orders backfill + one run of every other stream, summary, stop
#   make up     start the emulator and Airflow in the background (UI on http://127.0.0.1:8080)
#   make down   stop what `make up` started
#   make test   run the fast test suite (unit, DAG integrity, emulator, the docs site; pytest, 2 workers)
#   make integration-test   the DAG runs and processes against the emulator (real Airflow and services)
#   make lint   ruff + mypy
#   make docs   build the documentation site into site/ (strict: a broken link or anchor fails); `make docs-serve` previews it
#   make bench  the seven benchmarks (budget, landing, detail calls, many shops, 15-minute sync, status page, calls per stream)
#   make compose-check   docker-compose stack end to end on a private Docker engine (build, up, sync, restart)
#   make cluster         CeleryExecutor cluster from the venv: backfill, figures; `make cluster-test` asserts
#   make browser-test    the connection Test, status page and UI backfill in Chromium (installs them if missing)
#   make planner-test    the backfill planner's estimate vs a real backfill against the emulator
#   make clean  remove caches and Airflow demo state (.run, .airflow); `make distclean` also data/, .venv

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.bolsync-installed
PIP_FLAGS ?= --progress-bar off
# Per-test timeout (seconds), a wall-clock cap on the whole run, pytest workers; extra args via PYTEST_ARGS.
# The per-test timeout uses pytest-timeout's thread method: Airflow's execution_timeout uses SIGALRM and
# cancels the signal method's alarm, so a hung dag.test() would never time out.
TEST_TIMEOUT ?= 300
TEST_TOTAL_TIMEOUT ?= 50m
TEST_WORKERS ?= 2
PYTEST_ARGS ?=

.PHONY: help venv run up down test integration-test lint docs docs-serve bench compose-check cluster cluster-test browser-test planner-test clean distclean

help:
	@sed -n '3,17p' Makefile | sed 's/^# \{0,1\}//'

venv: $(STAMP)

# Rebuilt only when the lock or the project metadata is newer than the stamp.
# The product (the provider and the bolsync package) and the tools (the emulator, the demo) install as four
# editable distributions; stale egg-info of an earlier layout would shadow their metadata, so it goes first.
EDITABLE := -e plugins -e . -e include/emulator -e include/demo

$(STAMP): requirements.txt pyproject.toml plugins/pyproject.toml include/emulator/pyproject.toml include/demo/pyproject.toml
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		echo "$(VENV) is not a Python 3.11 venv: recreating it"; rm -rf $(VENV); fi
	@if [ ! -x $(BIN)/python ]; then \
		[ -n "$(PYTHON)" ] || { echo "python3.11 not found on PATH" >&2; exit 1; }; \
		echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install $(PIP_FLAGS) --require-hashes -r requirements.txt
	find . -path ./$(VENV) -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +
	$(BIN)/python -m pip install $(PIP_FLAGS) --no-deps --no-build-isolation $(EDITABLE)
	@touch $@

run: venv
	$(BIN)/python -m bolsync_demo run

up: venv
	$(BIN)/python -m bolsync_demo up

down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m bolsync_demo down; else echo "No $(VENV): nothing to stop."; fi

# pytest exit code 5 means "no tests collected": reported, but not a failure. 124: the wall-clock cap hit.
test: venv
	@set +e; timeout --signal=INT --kill-after=60 $(TEST_TOTAL_TIMEOUT) \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --timeout=$(TEST_TIMEOUT) --timeout-method=thread \
		-m "not browser and not cluster and not planner and not integration" $(PYTEST_ARGS) tests; \
	rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; \
	if [ $$rc -eq 124 ]; then echo "make test: stopped after $(TEST_TOTAL_TIMEOUT) (TEST_TOTAL_TIMEOUT)" >&2; fi; \
	exit $$rc

# The DAGs and processes against the emulator over HTTP (real Airflow, DuckDB, PostgreSQL, Redis, SMTP sink).
integration-test: venv
	@set +e; timeout --signal=INT --kill-after=60 $(TEST_TOTAL_TIMEOUT) \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --timeout=$(TEST_TIMEOUT) --timeout-method=thread \
		-m "integration and not planner" $(PYTEST_ARGS) tests/integration; \
	rc=$$?; \
	if [ $$rc -eq 124 ]; then echo "make integration-test: stopped after $(TEST_TOTAL_TIMEOUT)" >&2; fi; \
	exit $$rc

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy --config-file pyproject.toml plugins/bolsync_provider include/bolsync include/emulator/bol_emulator include/demo/bolsync_demo dags

# The documentation site (mkdocs.yml, docs/); `make test` builds it too (tests/docs/test_site.py).
DOCS_ENV := NO_MKDOCS_2_WARNING=1
docs: venv
	$(DOCS_ENV) $(BIN)/python -m mkdocs build --strict --site-dir site

# Serves the site on http://127.0.0.1:8000 and rebuilds it as the pages change (Ctrl-C stops it).
docs-serve: venv
	$(DOCS_ENV) $(BIN)/python -m mkdocs serve --strict --dev-addr 127.0.0.1:8000

# Shared request budget + single-flight token refresh vs a naive baseline, 8 processes against the emulator
# (~5 min); writes docs/bench/rate_budget.json and .png. Uses Redis/PostgreSQL too when reachable.
# The warehouse landing speed (1M order items, 200k offers; DuckDB and PostgreSQL vs to_sql; ADBC when
# installed) and the load's peak RSS (~5 min); writes docs/bench/landing.json. Detail calls per order.
# 50 accounts' nightly orders sync on one and two Celery workers: CPU per 1,000 calls gross and above the idle
# cost, accounts per core-hour, 429s, the 1,000-account projection (~17 min); writes docs/bench/many_shops.json.
# The order-list calls of an hourly run against the 15-minute runs of the same hour on a large day (~4 min);
# writes docs/bench/frequent_sync.json. The status page's read. Every stream of two accounts at once at bol's
# limits, two runs each: calls against the fewest possible and a naive full re-read, 429s, each account's
# busiest second (~11 min on 2 busy cores); writes docs/bench/stream_calls.json.
bench: venv
	$(BIN)/python -m tests.benchmarks.rate_budget --out docs/bench
	$(BIN)/python -m tests.benchmarks.landing --out docs/bench
	$(BIN)/python -m tests.benchmarks.detail_calls --out docs/bench
	$(BIN)/python -m tests.benchmarks.many_shops --out docs/bench
	$(BIN)/python -m tests.benchmarks.frequent_sync --out docs/bench
	$(BIN)/python -m tests.benchmarks.status_page --out docs/bench
	$(BIN)/python -m tests.benchmarks.stream_calls --out docs/bench

# The docker-compose stack from nothing: a private Docker engine, registry-free stand-in base images, the
# project image, up with the demo profile and two workers, orders and offers synced, restart, rerun, down -v.
compose-check: venv
	$(BIN)/python -m tests.compose.compose_check

# The CeleryExecutor topology from the venv (PostgreSQL metadata, Redis broker, two workers): figures.
cluster: venv
	$(BIN)/python -m tests.cluster.run

cluster-test: venv
	$(BIN)/python -m pytest -m cluster --timeout=900 --timeout-method=thread -p no:cacheprovider tests/cluster

# The backfill planner's estimate against a real 15-day backfill on the emulator (~3 min).
planner-test: venv
	$(BIN)/python -m pytest -m planner --timeout=900 --timeout-method=thread -p no:cacheprovider -s tests/integration/test_planner_accuracy.py

browser-test: venv
	bash tests/browser/install.sh
	$(BIN)/python -m pytest -m browser --timeout=1200 -p no:cacheprovider tests/browser

clean: down
	rm -rf .run .airflow .mypy_cache .ruff_cache .pytest_cache .hypothesis build site *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

distclean: clean
	rm -rf data $(VENV)
