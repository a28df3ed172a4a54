# Two commands do all the set-up: `make reproduce` (notebooks headless at PROFILE, default laptop) and `make test`.
# `make reproduce NOTEBOOKS="03_search.ipynb 07_ablations.ipynb"` runs only those; the report keeps the others.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= laptop
NOTEBOOKS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test reproduce lab notebooks-ci benchmarks clean

# The browser extra (playwright) is for tests/test_browser.py, which drives Debian's /usr/bin/chromium.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[browser]"
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

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
