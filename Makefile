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

.PHONY: help install data core-data test-data lab test lint course bench clean distclean

help:
	@echo "make lab        open the course in JupyterLab (installs and fetches data first)"
	@echo "make test       ruff, unit tests and every notebook in quick mode"
	@echo "make data       fetch every dataset (or DATASETS=\"fashion_mnist kaggle_house\")"
	@echo "make course     run every notebook in full mode into build/ with a scoreboard"
	@echo "                (NOTEBOOKS=\"04 05\" runs a subset)"
	@echo "make bench      time d2lutils against d2l.train_ch6 (see benchmarks/README.md)"
	@echo "make install    create $(VENV) (re-run only when pyproject.toml changes)"
	@echo "make clean      remove build outputs (keeps $(VENV) and data/)"

install: $(STAMP)

# d2l 1.0.3 pins numpy 1.23.5 and breaks on Python 3.12, so it is installed without its pins:
# it is the book's reference (an oracle in tests and benchmarks), not a dependency of d2lutils.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	$(BIN)/python -m pip install -q --no-deps 'd2l==1.0.3'
	$(BIN)/python -c "import d2lutils, d2l.torch; print('installed d2lutils and d2l', d2l.__version__)"
	touch $@

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

course: test-data
	$(BIN)/python -m d2lutils.course --out build $(NOTEBOOKS)

bench: core-data
	$(BIN)/python benchmarks/bench_lenet.py

clean:
	rm -rf build .pytest_cache .ruff_cache notebooks/submission.csv
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info
