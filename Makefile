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
NPM := $(shell command -v npm 2>/dev/null)
NPM_STAMP := node_modules/.npm-ci.stamp

.PHONY: help setup vendor vendor-clean chromium book test lint unit browser nbval nbval-kernels serve lab bench seeds matrix clean

help:
	@echo "make book   set up .venv, build the HTML book into _build/html (offline-complete when npm is there)"
	@echo "make test   set up .venv, run ruff, the unit tests, the notebooks (pytest --nbval) and the browser tests"
	@echo "make serve  serve _build/html on http://127.0.0.1:$(PORT)"
	@echo "make lab    open the chapters in JupyterLab (installs the pinned requirements-lab.txt into .venv)"
	@echo "make bench  measure attention's time and memory into _build/bench/"
	@echo "make seeds  train every chapter's models from seeds 0-4 and check each asserted claim (minutes)"
	@echo "make matrix recompute chapter 5's task x architecture matrix from seeds 0-4 (minutes)"
	@echo "make clean  remove _build (keeps .venv; make vendor-clean removes node_modules and _vendor_static)"

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

# The JavaScript the book serves itself (MathJax, require.js, the widget manager, anywidget's front
# end), pinned in package-lock.json. tools/vendor_js.py copies what pages load into _vendor_static/;
# tools/offline_js.py (a Sphinx extension) serves it, or leaves pages on the public CDNs without it.
# On a machine with npm but no registry, `make book NPM=` takes the CDN route.
ifeq ($(NPM),)
vendor: setup
	@echo "Node/npm not found: the book will load MathJax and the widget manager from public CDNs"
	@$(BIN)/python tools/vendor_js.py --clean >/dev/null
else
vendor: setup $(NPM_STAMP)
	@$(BIN)/python tools/vendor_js.py
$(NPM_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@
endif

vendor-clean:
	rm -rf node_modules _vendor_static

book: setup vendor
	$(BIN)/jupyter-book build . -W --keep-going
	@echo
	@echo "The book is built. Open $(CURDIR)/_build/html/index.html in a browser, or run: make serve"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The tests of the built book (the pages offline, and accessibility) run in `browser`, after `book`.
BOOK_TESTS := tests/browser/test_offline_pages.py tests/browser/test_accessibility.py

unit: setup
	$(BIN)/python -m pytest $(addprefix --ignore=,$(BOOK_TESTS))

# The browser tests drive Debian's Chromium through playwright (its own browser download fails
# offline). Installed here when we can (root with apt-get); otherwise those tests skip and say why.
chromium:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "no chromium and no way to install it: the browser tests will be skipped"; fi

# The built book in Chromium, over file:// and a localhost server, with the network cut off.
# The two files run side by side (two Chromiums, one per core), each with its own log, printed after;
# each run's status is its own `wait PID` (a status file of the run once went missing in CI).
browser: book chromium
	@mkdir -p _build
	@pids=""; for t in $(BOOK_TESTS); do \
	  $(BIN)/python -m pytest $$t > _build/$$(basename $$t .py).log 2>&1 & pids="$$pids $$!"; \
	done; status=0; \
	for pid in $$pids; do wait $$pid || status=1; done; \
	for t in $(BOOK_TESTS); do echo "== $$t"; cat _build/$$(basename $$t .py).log; done; \
	exit $$status

NBVAL = $(BIN)/python -m pytest --nbval $(NOTEBOOKS) --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider
# The CPU kernel sets readers' machines run (the machine's own; most laptops: AVX2; some: none). torch picks
# its kernels at start-up and ATEN_CPU_CAPABILITY forces a set, so every chapter must pass strict nbval
# under each. "native" leaves the variable unset.
KERNELS ?= native avx2 default

nbval: setup
ifneq ($(NOTEBOOKS),)
	$(NBVAL)
else
	@echo "no chapter notebooks yet: nothing for nbval to run"
endif

# The kernel sets run side by side (each notebook trains on one thread), each with its own log and its
# status from `wait PID`, as in `browser`. A set that is the machine's own
# (torch.backends.cpu.get_cpu_capability(): AVX2 on this project's CI) is the native run already, so it
# runs once: the same kernels, the same numbers.
nbval-kernels: setup
ifneq ($(NOTEBOOKS),)
	@mkdir -p _build
	@own=$$(env -u ATEN_CPU_CAPABILITY $(BIN)/python -c "import torch; print(torch.backends.cpu.get_cpu_capability().lower())"); \
	kernels=""; for k in $(KERNELS); do \
	  if [ "$$k" != native ] && [ "$$k" = "$$own" ] && [[ " $(KERNELS) " == *" native "* ]]; then \
	    echo "strict nbval: this machine's own kernels are $$k, so the native run is the $$k run"; \
	  else kernels="$$kernels $$k"; fi; \
	done; \
	pids=""; for k in $$kernels; do \
	  if [ "$$k" = native ]; then env -u ATEN_CPU_CAPABILITY $(NBVAL) -q > _build/nbval-$$k.log 2>&1 & \
	  else ATEN_CPU_CAPABILITY=$$k $(NBVAL) -q > _build/nbval-$$k.log 2>&1 & fi; pids="$$pids $$!"; \
	done; status=0; \
	for pid in $$pids; do wait $$pid || status=1; done; \
	for k in $$kernels; do echo "== strict nbval, kernels: $$k"; cat _build/nbval-$$k.log; done; \
	exit $$status
else
	@echo "no chapter notebooks yet: nothing for nbval to run"
endif

test: lint unit nbval-kernels browser

_build/html/index.html:
	$(MAKE) book

serve: | _build/html/index.html
	@echo "Serving the book on http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	$(BIN)/python -m http.server $(PORT) --bind 127.0.0.1 --directory _build/html

# JupyterLab on chapters/, from the same .venv; pinned in requirements-lab.txt (the book does not need it).
LAB_STAMP := $(VENV)/.lab-installed
LAB_ARGS ?=
$(LAB_STAMP): requirements-lab.txt $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-lab.txt
	@touch $@

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
lab: $(LAB_STAMP)
	$(BIN)/jupyter lab chapters/ $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

bench: setup
	$(BIN)/python benchmarks/run.py --out _build/bench

seeds: setup
	$(BIN)/python benchmarks/seeds.py

matrix: setup
	$(BIN)/python benchmarks/video_matrix.py --fresh

clean:
	rm -rf _build
