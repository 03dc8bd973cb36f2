# Two commands on a fresh machine with Python >= 3.11 and make:
#   make run    set up .venv and serve the sample wall at http://127.0.0.1:8000
#               (make run HOST=0.0.0.0 to serve the hallway TVs on the network)
#   make test   install the system tools the tests drive (Chromium, rsync, vim,
#               git, fonts) when missing, set up .venv and run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run cluster test lint bench install install-test system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# With HEIC support: that is what phones send from the story form.
$(VENV)/.installed: $(BIN)/python pyproject.toml Makefile
	$(BIN)/pip install --quiet -e '.[heic]'
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,heic]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

# An instance folder from an older release is upgraded in place first.
run: install
	$(BIN)/storywall db upgrade
	$(BIN)/storywall serve --stories stories --host $(HOST) --port $(PORT)

# A wall on three servers, on this machine: PostgreSQL, haproxy in front
# (docs/deploy.md). Ctrl-C stops it all.
cluster: install
	scripts/install-system-deps /usr/lib/postgresql/*/bin/postgres:postgresql haproxy
	$(BIN)/python -m wall.devcluster --stories stories --port $(PORT)

# Installed with apt-get when missing and this may (root, or sudo without a
# password); otherwise it stops at once, saying what to install.
system-deps:
	scripts/install-system-deps

test: system-deps install-test
	$(BIN)/ruff check wall tests bench
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check wall tests bench
	$(BIN)/ruff format --check wall tests bench

# The serving benchmark drives the server with wrk and compares gunicorn's
# gthread workers with gevent's; both are installed here when missing.
bench: install-test
	$(BIN)/pip install --quiet -e '.[bench]'
	scripts/install-system-deps wrk /usr/lib/postgresql/*/bin/postgres:postgresql haproxy
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
