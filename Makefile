# WeTrials Auth. `make run` serves a development server; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_ENV := DJANGO_DEBUG=1 OAUTH_REQUIRE_HTTPS=0

# The browser tests drive Debian's Chromium (never a browser a test tool downloads).
CHROMIUM := /usr/bin/chromium

.PHONY: install install-dev browser run demo cluster bench profile scale test test-fast lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime

install-dev: $(VENV)/.dev

$(CHROMIUM):
	export DEBIAN_FRONTEND=noninteractive; apt="$$(command -v sudo) apt-get"; \
	$$apt install -y -qq chromium || { $$apt update -qq && $$apt install -y -qq chromium; }

browser: $(CHROMIUM)

run: install
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

# The server and the Symptom Diary demo app (examples/demo_app) on http://127.0.0.1:8765.
demo: install-dev
	bash scripts/demo.sh

# Two instances sharing PostgreSQL and Redis (scripts/cluster.sh says how).
cluster: install
	bash scripts/cluster.sh

/usr/bin/wrk:
	$$(command -v sudo) apt-get install -y -qq wrk

# The load benchmark (bench/README.md): PostgreSQL and Redis on loopback, wrk as the load.
# ARGS passes options on, e.g. `make bench ARGS=--profile`.
bench: install-dev /usr/bin/wrk
	$(BIN)/python -m bench.run $(ARGS)

# Flame graphs and a text profile per workload (py-spy), after one measured run of the shipped configuration.
profile: install-dev /usr/bin/wrk
	$(BIN)/python -m bench.run --profile --runs 1 --no-baseline --no-orm $(ARGS)

# Data at scale: a million tokens in PostgreSQL, query plans, latency, purge_tokens while serving.
scale: install-dev
	$(BIN)/python -m bench.scale

test: install-dev $(CHROMIUM)
	$(BIN)/pytest

# The inner loop: everything but the live servers and the tests marked slow (hostile input, fuzzing).
test-fast: install-dev
	$(BIN)/pytest -q -m "not live and not slow"

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) db.sqlite3
