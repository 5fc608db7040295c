# Two commands for a newcomer: `make demo` and `make test`. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# mkdocs-material prints a banner about its successor on every build; the build is what matters.
export NO_MKDOCS_2_WARNING := 1

.PHONY: install demo fleet-demo system-deps test check lint format typecheck docs settings-table compat-table bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.10+ is required") if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,docs]'
	touch $@

demo: install
	@echo "(A fleet console with this app and 40 simulated instances: make fleet-demo)"
	$(PY) examples/fastapi_app.py --host $(HOST) --port $(PORT)

# The fleet console (docs/fleet.md) with simulated instances and the demo app pushing to it.
fleet-demo: install
	$(PY) examples/fleet_demo.py

# The Debian packages the tests need (real servers), installed before anything else runs;
# without root or sudo it stops here and names them.
system-deps:
	scripts/system-deps.sh

# What CI runs. The system packages come first, then everything else in order.
test: system-deps
	@$(MAKE) --no-print-directory check

# Coverage of lines and branches; under [tool.coverage.report] fail_under the run fails.
check: lint typecheck docs
	$(PY) -m pytest --cov

lint: install
	$(PY) -m ruff check $(wildcard actuator tests examples benchmarks scripts)
	$(PY) -m ruff format --check $(wildcard actuator tests examples benchmarks scripts)

# ruff format, in place; `make lint` fails when a file is not formatted.
FORMAT_PATHS ?= $(wildcard actuator tests examples benchmarks scripts)
format: install
	$(PY) -m ruff format $(FORMAT_PATHS)

typecheck: install
	$(PY) -m mypy

# The manual, built strictly (a warning, a broken link or a page left out of the nav fails).
docs: install
	$(PY) -m mkdocs build --strict --quiet

settings-table: install
	$(PY) scripts/settings_table.py

# The servers-and-frameworks tables, from the compat-marked tests' results (pytest -m compat);
# a run of the whole suite fails while the committed tables differ from its results.
compat-table: install
	$(PY) scripts/compat_table.py

# Benchmarks are run by hand on a quiet machine (results go into docs/benchmarks.md);
# they need wrk and valgrind from Debian: apt-get install wrk valgrind.
bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) -m benchmarks.health
	$(PY) -m benchmarks.metrics_throughput
	$(PY) -m benchmarks.metrics_scrape
	$(PY) -m benchmarks.metrics_memory
	$(PY) -m benchmarks.metrics_cold
	$(PY) -m benchmarks.metrics_parts
	$(PY) -m benchmarks.instructions --server $(foreach app,$(BENCH_APPS),benchmarks.metrics_apps:$(app))

BENCH_APPS = starlette_bare starlette_actuator_off starlette_actuator starlette_exporter \
	fastapi_bare fastapi_actuator_off fastapi_actuator fastapi_instrumentator

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site
