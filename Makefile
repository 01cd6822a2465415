# Two commands matter: `make demo` and `make test`. Both build .venv from nothing.
# `DEMO_SECONDS=300 make demo`: five minutes of load; `DEMO_KEEP=1` (or `DEMO_SECONDS=0`): stay up until Ctrl-C.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# One stamp per extra: `make demo` installs the light `demo` extra, `make test` the full `dev` one.
STAMP := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test lint docs bench fuzz soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/python -m examples.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The documentation site, strictly (a warning or a broken link fails): regenerates the reference pages, builds site/.
docs: $(STAMP)
	$(BIN)/python -m sidecar.config.reference --write docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/python -m bench

fuzz: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	$(BIN)/python -m tests.fuzz

soak: $(STAMP)
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) demo-output test-output .pytest_cache site
