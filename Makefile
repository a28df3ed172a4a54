# Two commands do all the set-up: `make reproduce` (notebooks headless at PROFILE, default laptop) and `make test`.
# `make reproduce NOTEBOOKS="03_search.ipynb 07_ablations.ipynb"` runs only those; the report keeps the others.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= laptop
NOTEBOOKS ?=
# Test processes (pytest-xdist, tests shared out as workers free up): two workers keep both cores of our 2-core VM
# busy (a 127-test subset: 74 s in one process, 51 s in two).
# TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
BIN := $(VENV)/bin
# Where a shared/ folder sits beside the checkout (our CI and development machines), its benchmarks and data sets
# are read in place; elsewhere mnaslib downloads them (checked by sha256) or reads the variables you set.
ifneq ($(wildcard ../shared/benchmarks),)
export MNAS_BENCHMARK_DIR ?= $(abspath ../shared/benchmarks)
endif
ifneq ($(wildcard ../shared/datasets),)
export MNAS_DATA_DIR ?= $(abspath ../shared/datasets)
endif
STAMP := $(VENV)/.installed

.PHONY: test reproduce lab notebooks-ci benchmarks clean

# The browser extra (playwright) is for tests/test_browser.py, which drives Debian's /usr/bin/chromium.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[browser]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not serial"
	$(BIN)/python -m pytest -q -m serial

reproduce: $(STAMP)
	$(BIN)/mnas reproduce --profile $(PROFILE) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS))

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/latency_model.py
	$(BIN)/python benchmarks/search_efficiency.py
	$(BIN)/python benchmarks/child_throughput.py

clean:
	rm -rf $(VENV) outputs .pytest_cache
