# Quick start: `make run` (serve ./inbox -> ./outbox with the bundled model), `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow install bench accuracy clean lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The C kernels too: an editable install builds them once, so a change to them must install again.
$(STAMP): $(BIN)/python pyproject.toml setup.py $(wildcard daemon/kernels/*)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/digitwatch run --config config.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The slow tests (deselected by `make test`): two daemons on one inbox for 10 minutes (TWO_DAEMONS_S).
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

bench: $(STAMP)
	$(BIN)/python bench/bench.py

accuracy: $(STAMP)
	$(BIN)/python bench/accuracy.py

clean:
	rm -rf $(VENV) build *.egg-info

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
