# Everything runs from a project-local virtual environment, so a fresh
# machine needs nothing but Python 3.10+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast bench eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)  ## practise the bundled deck in the terminal
	$(BIN)/grader practice

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)  ## the suite without the end-to-end tests that start processes or servers
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)  ## grading throughput, peak memory and start-up time
	$(BIN)/python eval/bench.py

eval: $(STAMP)  ## keyword grader against the seed deck's labelled answers
	$(BIN)/grader eval

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
