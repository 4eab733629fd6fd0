# Two commands do all the set-up: `make book` and `make test`. Both create .venv when it is missing,
# install the pinned requirements once (again only when requirements.txt or pyproject.toml change),
# and are quick the second time.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
NOTEBOOKS := $(wildcard chapters/*.ipynb)

.PHONY: help setup chromium book test lint unit nbval serve bench clean

help:
	@echo "make book   set up .venv, build the HTML book into _build/html"
	@echo "make test   set up .venv, run ruff, the unit tests and the notebooks (pytest --nbval)"
	@echo "make serve  serve _build/html on http://127.0.0.1:$(PORT)"
	@echo "make bench  measure attention's time and memory into _build/bench/"
	@echo "make clean  remove _build (keeps .venv)"

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; fi
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; \
	  print(f"using Python {v[0]}.{v[1]} from $(PYTHON)"); \
	  v == (3, 11) or print("warning: the book is tested with Python 3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

book: setup
	$(BIN)/jupyter-book build . -W --keep-going
	@echo
	@echo "The book is built. Open $(CURDIR)/_build/html/index.html in a browser, or run: make serve"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The browser tests drive Debian's Chromium through playwright (its own browser download fails
# offline). Installed here when we can (root with apt-get); otherwise those tests skip and say why.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no chromium and no way to install it: the browser tests will be skipped"; fi

unit: setup chromium
	$(BIN)/python -m pytest

nbval: setup
ifneq ($(NOTEBOOKS),)
	$(BIN)/python -m pytest --nbval $(NOTEBOOKS) --sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
else
	@echo "no chapter notebooks yet: nothing for nbval to run"
endif

test: lint unit nbval

_build/html/index.html:
	$(MAKE) book

serve: | _build/html/index.html
	@echo "Serving the book on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

bench: setup
	$(BIN)/python benchmarks/run.py --out _build/bench

clean:
	rm -rf _build
