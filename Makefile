# copier-pytorch: the template's everyday commands (the README explains them).
#   make demo   render the default project, bootstrap it into its own .venv, train it
#   make test   the whole test suite; .ci/run calls exactly this
#   make check  the fast lane: the default project and one Lightning variant, every step (minutes)
#   make docs   the documentation site, into build/site (mkdocs serve for a live preview)
#   make bench  every benchmark: a table on the terminal, JSON in build/benchmarks.json
#
# The dev environment (.venv) is made on first use and again whenever pyproject.toml changes.
# It installs with pip, which finds torch wheels a machine keeps locally; uv users can run
# `uv sync --group dev` instead.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
DEMO ?= build/demo/digit-lab
# bootstrap.py's options for the demo, e.g. BOOTSTRAP_ARGS="--installer pip" (the suite's test of it)
BOOTSTRAP_ARGS ?=

.PHONY: venv test check demo docs bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --group dev
	touch $@

venv: $(STAMP)

# --dist loadgroup: a variant's steps run on one worker, on one render (tests/conftest.py)
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup --durations=20

check: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadgroup --lane=check --durations=20 tests/test_variants.py

demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/copier copy --trust --defaults --vcs-ref=HEAD -d project_name="Digit Lab" . $(DEMO)
	cd $(DEMO) && $(PYTHON) bootstrap.py $(BOOTSTRAP_ARGS) && .venv/bin/digit-lab train
	@echo "The project is $(DEMO); its runs are in $(DEMO)/runs (the paths above are inside the project)."

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --json build/benchmarks.json

clean:
	rm -rf build site .pytest_cache
