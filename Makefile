# update-estimate: every target creates .venv and installs what it needs, so a fresh clone works.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PREFIX ?= $(HOME)/.local
DEMO   ?= demo
STAMP  := $(VENV)/.installed

.PHONY: demo test test-ray lint format completions man install uninstall clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[dev,lightgbm,dask]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/update-estimate simulate --db $(DEMO)/history.duckdb --runs 200 --seed 7 --force
	$(BIN)/update-estimate validate --db $(DEMO)/history.duckdb
	$(BIN)/update-estimate train --db $(DEMO)/history.duckdb --cache-dir $(DEMO)/cache
	$(BIN)/update-estimate estimate --db $(DEMO)/history.duckdb --cache-dir $(DEMO)/cache
	@echo "The command is $(BIN)/update-estimate: 'source $(VENV)/bin/activate' puts it on PATH."

# The screen tests run `estimate` in a real terminal: tmux, from Debian's packages where we may.
TMUX_INSTALL := command -v tmux >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; } \
	|| echo "tmux is not installed: the terminal screen tests will be skipped"

test: $(STAMP)
	@$(TMUX_INSTALL)
	$(BIN)/python -m pytest

# Training on a Ray cluster: the ray extra is a large wheel, so `test` leaves it out and skips
# its test; this installs it and runs that test against a local Ray head.
test-ray: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[ray]'
	$(BIN)/python -m pytest tests/test_ray.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

completions man: $(STAMP)
	$(BIN)/python tools/gen_docs.py $@

# A self-contained install: its own venv under PREFIX/lib, the command, man page and completions
# where bash, zsh and fish look for them.
APP := $(PREFIX)/lib/update-estimate
install:
	$(PYTHON) -m venv $(APP)/venv
	$(APP)/venv/bin/python -m pip install -q --upgrade pip
	$(APP)/venv/bin/python -m pip install -q '.[lightgbm]'
	install -d $(PREFIX)/bin $(PREFIX)/share/man/man1 \
		$(PREFIX)/share/bash-completion/completions $(PREFIX)/share/zsh/site-functions \
		$(PREFIX)/share/fish/vendor_completions.d
	ln -sf $(APP)/venv/bin/update-estimate $(PREFIX)/bin/update-estimate
	install -m 644 man/update-estimate.1 $(PREFIX)/share/man/man1/update-estimate.1
	install -m 644 completions/update-estimate.bash $(PREFIX)/share/bash-completion/completions/update-estimate
	install -m 644 completions/update-estimate.zsh $(PREFIX)/share/zsh/site-functions/_update-estimate
	install -m 644 completions/update-estimate.fish $(PREFIX)/share/fish/vendor_completions.d/update-estimate.fish
	@echo "installed: $(PREFIX)/bin/update-estimate (man update-estimate; completions for bash, zsh, fish)"

uninstall:
	rm -rf $(APP)
	rm -f $(PREFIX)/bin/update-estimate $(PREFIX)/share/man/man1/update-estimate.1 \
		$(PREFIX)/share/bash-completion/completions/update-estimate \
		$(PREFIX)/share/zsh/site-functions/_update-estimate \
		$(PREFIX)/share/fish/vendor_completions.d/update-estimate.fish

clean:
	rm -rf $(VENV) $(DEMO) build *.egg-info .pytest_cache .ruff_cache .hypothesis
