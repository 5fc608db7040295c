# Two commands for a newcomer: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install demo test lint typecheck bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.10+ is required") if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: install
	$(PY) examples/fastapi_app.py --host $(HOST) --port $(PORT)

lint: install
	$(PY) -m ruff check $(wildcard actuator tests examples benchmarks)

typecheck: install
	$(PY) -m mypy

test: lint typecheck
	$(PY) -m pytest

# Benchmarks are run by hand on a quiet machine (results go into the README);
# they need wrk and valgrind from Debian: apt-get install wrk valgrind.
bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks.health
	$(PY) -m benchmarks.metrics_throughput
	$(PY) -m benchmarks.instructions --server $(foreach app,$(BENCH_APPS),benchmarks.metrics_apps:$(app))

BENCH_APPS = starlette_bare starlette_actuator_off starlette_actuator starlette_exporter \
	fastapi_bare fastapi_actuator_off fastapi_actuator fastapi_instrumentator

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
