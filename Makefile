# ChatStream: `make run` to use it, `make test` to check it. Run from the repository root.
SHELL := /bin/bash
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
TOOLS := $(ROOT)/.tools
UV := $(or $(shell command -v uv 2>/dev/null),$(TOOLS)/bin/uv)
VENV_BIN := $(ROOT)/backend/.venv/bin
REPORTS := $(ROOT)/reports

.PHONY: help install backend frontend-deps frontend migrate run serve worker test lint \
	backend-test frontend-test e2e format bench bench-ui bench-instructions chaos clean

help:
	@echo "make run    install everything, migrate, serve http://127.0.0.1:8000 with a worker"
	@echo "make test   lint and run every test suite, then print 'N passed, N failed'"
	@echo "make lint   ruff, mypy, ESLint, TypeScript, Prettier"
	@echo "make e2e    browser tests only (Chromium against real servers; frontend/e2e/)"
	@echo "make bench  streaming benchmarks (bench/)"
	@echo "make bench-ui  browser benchmark: a fast long answer, long conversations (bench/ui/)"
	@echo "make bench-instructions  instructions per opened stream under callgrind (needs valgrind)"
	@echo "make chaos  1,000 answers through nginx while a process, PostgreSQL and Redis fail"

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv

install: backend frontend

# uv keeps built wheels in its cache, so llama-cpp-python compiles once per machine.
backend: $(UV)
	cd backend && $(UV) sync --frozen --all-extras

frontend-deps:
	@if [ ! -d frontend/node_modules ] || [ frontend/package-lock.json -nt frontend/node_modules/.package-lock.json ]; then \
		cd frontend && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund; fi

frontend: frontend-deps
	cd frontend && npm run build

migrate: backend
	$(VENV_BIN)/chatstream migrate

run: install migrate
	ENABLE_STREAMING=$${ENABLE_STREAMING:-true} $(VENV_BIN)/honcho -f Procfile start

serve: backend migrate
	$(VENV_BIN)/chatstream serve

worker: backend
	$(VENV_BIN)/chatstream worker

lint: backend frontend-deps
	cd backend && $(VENV_BIN)/ruff check . && $(VENV_BIN)/ruff format --check . && $(VENV_BIN)/mypy \
		&& $(VENV_BIN)/lint-imports --no-cache
	cd frontend && npm run lint

format: backend
	cd backend && $(VENV_BIN)/ruff format . && $(VENV_BIN)/ruff check --fix .
	cd frontend && npm run format

backend-test: backend
	cd backend && $(VENV_BIN)/pytest --junitxml=$(REPORTS)/backend.xml

frontend-test: frontend
	cd frontend && npm test -- --reporter=default --reporter=junit --outputFile.junit=$(REPORTS)/frontend.xml

# The browser tests drive the system's Chromium (/usr/bin/chromium; never a downloaded one).
e2e: backend frontend
	cd frontend && npm run e2e

# Every suite runs even when an earlier one fails; the last line sums them all up.
test: backend frontend
	@bash scripts/run_tests.sh

bench: backend
	$(VENV_BIN)/python bench/stream_bench.py

# Item 3's CPU per open as a count that a busy machine does not move (bench/instructions.py).
bench-instructions: backend
	$(VENV_BIN)/python bench/instructions.py

# Chromium against the real server and the front end as built for production (bench/README.md,
# "The browser benchmark"); BENCH_UI_ARGS passes options, e.g. "--stream-runs 3 --opens 9".
bench-ui: backend frontend-deps
	cd frontend && node_modules/.bin/vite-node ../bench/ui/main.ts -- $(BENCH_UI_ARGS)

# The scaled topology for real (nginx, two API processes, PostgreSQL, Redis, a Celery worker),
# faults under load, then the invariants as a table; `make test` runs a 300-answer variant.
# CHAOS_ANSWERS sets the size.
chaos: backend
	cd backend && $(VENV_BIN)/python -m tests.chaos $(or $(CHAOS_ANSWERS),1000)

clean:
	rm -rf $(REPORTS) frontend/dist frontend/e2e/artifacts backend/.pytest_cache backend/.mypy_cache
