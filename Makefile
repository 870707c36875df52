# The two commands: `make run` (set up, then the nightly load into data/warehouse/tradewh.duckdb) and
# `make test` (set up, then the whole test suite). Both create .venv from requirements.lock on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint format lock serve clean browser bench bench-quick

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tradewh load

# Headless Chromium (Debian's package) renders the HTML report in tests/test_report.py. Installed when missing
# and this is a root shell with apt-get (CI, the project's machines); elsewhere the test says how to get it.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "make: chromium not installed; the browser test of the report will skip or fail under CI" >&2

# pytest exits 5 when it collected no test: that is a failure, not a pass.
test: $(STAMP) browser
	$(BIN)/python -m pytest --durations=25; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no test collected" >&2; exit 1; fi; exit $$status

# The quick tier for a developer's loop: lint, then the tests that start no Prefect server, no browser and no
# subprocess load (markers `slow` and `prefect`), on both cores.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow and not prefect" -n 2 -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .

# The benchmark of issue 5 (BENCHMARKS.md): tradewh against bare DuckDB on generated Comtrade files, at the
# sizes the issue states its targets on (about half an hour on two cores); bench-quick: 100k and 1M rows, one repeat.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --rows 1000000 10000000 --repeat 3 --profile-rows 10000000

bench-quick: $(STAMP)
	$(BIN)/python benchmarks/run.py --rows 100000 1000000 --repeat 1 --out /tmp/tradewh-bench.md

serve: $(STAMP)
	$(BIN)/tradewh serve

# Re-pin every dependency to what the current .venv resolved (after changing pyproject.toml).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^tradewh' > requirements.lock

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
