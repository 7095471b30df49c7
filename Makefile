# ReplayHub: `make run` serves the hub with demo data; `make test` runs the whole suite.
# Both install what is missing first (a virtualenv in .venv, npm packages, Chromium).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DATA_DIR ?= var
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install js chromium lint bench fixtures clean

run: install js
	$(BIN)/replayhub demo --data-dir $(DATA_DIR) --sessions 40
	$(BIN)/replayhub serve --data-dir $(DATA_DIR) --host $(HOST) --port $(PORT)

test: install js chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

js: node_modules/.installed src/replayhub/web/static/sdk/replayhub.js

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

src/replayhub/web/static/sdk/replayhub.js: node_modules/.installed src/replayhub/web/sdk/replayhub.src.js src/replayhub/web/sdk/build.mjs
	npm run --silent build

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (browser tests and snapshots need it)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation; }

lint: install
	$(BIN)/ruff check .

fixtures: install js chromium
	$(BIN)/python tests/fixtures/record_journeys.py

bench: install js
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/postmortem.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/dispatch.py

clean:
	rm -rf $(VENV) node_modules src/replayhub/web/static/sdk src/replayhub/web/static/player
