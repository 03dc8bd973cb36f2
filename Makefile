# Two commands on a fresh machine with Python >= 3.11 and make:
#   make run    set up .venv and serve the sample wall at http://127.0.0.1:8000
#   make test   set up .venv with the test tools and run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint bench install install-test browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,heic]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/storywall serve --stories stories --host $(HOST) --port $(PORT)

# Browser tests drive the system Chromium; .ci/run installs it when missing.
test: install-test
	$(BIN)/ruff check wall tests bench
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check wall tests bench
	$(BIN)/ruff format --check wall tests bench

# The serving benchmark drives the server with wrk and compares gunicorn's
# gthread workers with gevent's; both are installed here when missing.
bench: install-test
	$(BIN)/pip install --quiet -e '.[bench]'
	command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk; } || sudo apt-get install -y -qq wrk
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
