# The course's commands. On a fresh machine `make lab` and `make test` are all you need:
# they create the virtual environment and fetch the data first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Datasets the notebooks need offline. CIFAR-10 (170 MB) is fetched on first use by
# notebook 07, or with `make data DATASETS=cifar10`.
CORE_DATASETS := fashion_mnist time_machine kaggle_house airfoil
DATASETS ?=
NOTEBOOKS ?=
# Two pytest workers on a 2-core machine: one BLAS thread each.
TEST_WORKERS ?= 2

.PHONY: help install install-lowest data core-data test-data lab test test-lowest lint course \
	bench clean distclean e2e e2e-tools chromium book book-quick book-test book-tools

help:
	@echo "make lab        open the course in JupyterLab (installs and fetches data first)"
	@echo "make test       ruff, unit tests and every notebook in quick mode"
	@echo "make test-lowest  the unit tests with the oldest versions pyproject.toml allows"
	@echo "make e2e        end-to-end: fresh-venv (Colab-like) install, JupyterLab in"
	@echo "                headless Chromium, identical results on re-runs (slow)"
	@echo "make data       fetch every dataset (or DATASETS=\"fashion_mnist kaggle_house\")"
	@echo "make course     run every notebook in full mode into build/ with a scoreboard"
	@echo "make book       the course as a static site in build/book/ (full mode, offline)"
	@echo "                (NOTEBOOKS=\"04 05\" runs a subset)"
	@echo "make bench      time d2lutils against d2l.train_ch6, and the two ways to read"
	@echo "                Fashion-MNIST (see benchmarks/README.md)"
	@echo "make install    create $(VENV) (re-run only when pyproject.toml changes)"
	@echo "make clean      remove build outputs (keeps $(VENV) and data/)"

install: $(STAMP)

# d2l 1.0.3 pins numpy 1.23.5 and breaks on Python 3.12, so it is installed without its pins:
# it is the book's reference (an oracle in tests and benchmarks), not a dependency of d2lutils.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,lab]'
	$(BIN)/python -m pip install -q --no-deps 'd2l==1.0.3'
	$(BIN)/python -c "import d2lutils, d2l.torch; print('installed d2lutils and d2l', d2l.__version__)"
	touch $@

# The oldest versions the course promises (every runtime dependency at its `>=` bound, on the
# lowest Python of requires-python), derived from pyproject.toml by tools/lowest_requirements.py
# so that no range is promised untested. The test tools themselves are current. Python is
# found as pythonX.Y on PATH or under pyenv; LOWEST_PYTHON=/path/to/python overrides.
LOWEST_VENV ?= .venv-lowest
LOWEST_PYTHON ?=
LOWEST_STAMP := $(LOWEST_VENV)/.installed

# tools/lowest_requirements.py reads pyproject.toml with tomllib (Python 3.11) or tomli (the dev
# extra): with a Python that has tomllib it needs no $(VENV), so both can be built at once.
TOML_PYTHON := $(shell $(PYTHON) -c "import tomllib" 2>/dev/null && echo $(PYTHON))
LOWEST_TOOL := $(or $(TOML_PYTHON),$(BIN)/python) tools/lowest_requirements.py

$(LOWEST_STAMP): pyproject.toml tools/lowest_requirements.py | $(if $(TOML_PYTHON),,$(STAMP))
	@v=$$($(LOWEST_TOOL) --python); py="$(LOWEST_PYTHON)"; \
	if [ -z "$$py" ]; then \
	  for c in python$$v $$(ls -d "$$(pyenv root 2>/dev/null)"/versions/$$v.*/bin/python$$v \
	      2>/dev/null); do "$$c" -c "" 2>/dev/null && { py=$$c; break; }; done; \
	fi; \
	if [ -z "$$py" ]; then echo "make test-lowest needs Python $$v (the lowest of" \
	  "requires-python): install it or set LOWEST_PYTHON=/path/to/python$$v" >&2; exit 1; fi; \
	echo "lowest versions on $$("$$py" --version)"; \
	rm -rf $(LOWEST_VENV) && "$$py" -m venv $(LOWEST_VENV)
	$(LOWEST_TOOL) > $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/python -m pip install -q --upgrade pip
	# the pinned dependencies first (the long download), then the course in editable mode
	$(LOWEST_VENV)/bin/python -m pip install -q -r $(LOWEST_VENV)/lowest.txt
	$(LOWEST_VENV)/bin/python -m pip install -q -c $(LOWEST_VENV)/lowest.txt -e '.[dev]'
	$(LOWEST_VENV)/bin/python -m pip check  # before d2l, whose own pins are not ours
	$(LOWEST_VENV)/bin/python -m pip install -q --no-deps 'd2l==1.0.3'
	$(LOWEST_VENV)/bin/python -m pip list --format=freeze > $(LOWEST_VENV)/installed.txt
	touch $@

install-lowest: $(LOWEST_STAMP)

# All the unit tests but those of the course runner (`make course`), which runs notebooks in
# $(VENV) with the current Jupyter tools and does not depend on the course's library ranges.
test-lowest: $(LOWEST_STAMP) test-data
	@grep -i -E "^(torch|torchvision|numpy|pandas|matplotlib)==" $(LOWEST_VENV)/installed.txt \
	  | tr '\n' ' '; echo
	OMP_NUM_THREADS=1 D2L_QUICK=1 $(LOWEST_VENV)/bin/python -m pytest -n $(TEST_WORKERS) \
		--dist loadfile -p no:cacheprovider --ignore=tests/test_course.py tests

data: install
	$(BIN)/python -m d2lutils.data fetch $(if $(DATASETS),$(DATASETS),$(CORE_DATASETS) cifar10)

core-data: install
	$(BIN)/python -m d2lutils.data fetch $(CORE_DATASETS)

# The tests run offline: the core datasets plus a generated CIFAR-10 stand-in (marked as such
# on disk and announced whenever it is loaded), written only when real CIFAR-10 is absent.
test-data: core-data
	$(BIN)/python -m d2lutils.data standin cifar10

lab: core-data
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks

lint: install
	$(BIN)/ruff check .

test: lint test-data
	OMP_NUM_THREADS=1 D2L_QUICK=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile \
		-p no:cacheprovider --nbval-lax --nbval-current-env tests notebooks

# End-to-end checks, slower than `make test` (CI runs both): the course installed from its
# wheel into a fresh virtual environment as in Colab, JupyterLab driven by headless Chromium,
# notebooks re-run for identical results. Results, screenshots and timings go to build/e2e/.
# COLAB_PREINSTALL is what the fresh environment holds before the course goes in, as Colab
# ships PyTorch; `make e2e COLAB_PREINSTALL=` resolves everything from the index (GBs, minutes).
COLAB_PREINSTALL ?= torch==2.14.1 torchvision==0.29.1
CHROMIUM ?= /usr/bin/chromium
E2E_STAMP := $(VENV)/.e2e-installed

e2e: test-data e2e-tools
	OMP_NUM_THREADS=1 COLAB_PREINSTALL="$(COLAB_PREINSTALL)" CHROMIUM="$(CHROMIUM)" \
		$(BIN)/python -m pytest -p no:cacheprovider -v e2e

e2e-tools: $(E2E_STAMP) chromium

$(E2E_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[e2e]'
	touch $@

# Debian's Chromium (CI runs as root); elsewhere install a Chromium or Chrome yourself and
# point CHROMIUM at it. Playwright drives it and never downloads a browser of its own.
chromium:
	@test -x "$(CHROMIUM)" || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq; \
	    apt-cache policy chromium | grep -q 'Candidate: [0-9]' || { \
	      echo "apt offers no chromium: install one and set CHROMIUM=/path/to/it" >&2; exit 1; }; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      chromium >/dev/null; \
	  else \
	    echo "make e2e needs Chromium: install it (Debian: apt-get install chromium)" \
	      "or set CHROMIUM=/path/to/chromium" >&2; exit 1; \
	  fi; }
	@"$(CHROMIUM)" --version 2>/dev/null  # (Debian's wrapper script warns on stderr)

course: test-data
	$(BIN)/python -m d2lutils.course --out build $(NOTEBOOKS)

# The course as a static website (build/book/), made from executed notebooks: `make book`
# reuses what `make course` left in build/ when it is newer than the notebooks and in full
# mode, and executes the rest. `make book-quick` does the same in quick mode (build/quick/,
# two notebooks at a time), and `make book-test` reads that site in headless Chromium.
BOOK_STAMP := $(VENV)/.book-installed
BOOK_JOBS ?= 2

book-tools: $(BOOK_STAMP)

$(BOOK_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[book]'
	touch $@

book: $(BOOK_STAMP) test-data
	$(BIN)/python book/build.py

book-quick: $(BOOK_STAMP) test-data
	OMP_NUM_THREADS=1 $(BIN)/python book/build.py --quick --jobs $(BOOK_JOBS)

book-test: book-quick e2e-tools
	CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest -p no:cacheprovider -v book/test_book.py

bench: core-data
	$(BIN)/python benchmarks/bench_lenet.py
	$(BIN)/python benchmarks/bench_reading.py

clean:
	rm -rf build .pytest_cache .ruff_cache notebooks/submission.csv
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) $(LOWEST_VENV) *.egg-info
