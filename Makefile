# update-estimate: every target creates .venv and installs what it needs, so a fresh clone works.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PREFIX ?= $(HOME)/.local
DEMO   ?= demo
STAMP  := $(VENV)/.installed

.PHONY: demo test lint format bench completions man install uninstall clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,lightgbm]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/update-estimate simulate --db $(DEMO)/history.duckdb --runs 200 --seed 7 --force
	$(BIN)/update-estimate validate --db $(DEMO)/history.duckdb
	$(BIN)/update-estimate train --db $(DEMO)/history.duckdb --cache-dir $(DEMO)/cache
	$(BIN)/update-estimate estimate --db $(DEMO)/history.duckdb --cache-dir $(DEMO)/cache

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info .pytest_cache .ruff_cache .hypothesis
