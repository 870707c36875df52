# The two commands: `make run` (set up, then the nightly load into data/warehouse/tradewh.duckdb) and
# `make test` (set up, then the whole test suite). Both create .venv from requirements.lock on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint format lock serve clean browser bench bench-quick lake-env lake-lock bench-env

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tradewh load

# The DuckLake target's own environment (docs/decisions/0002-ducklake-environment.md): DuckDB 1.5.5, the version the
# PyPI-packaged DuckLake, SQLite and Postgres extensions are built for (DuckDB 2.0.1 refuses them), and the project.
# `python -m warehouse.ducklake` runs in it; tests/test_ducklake.py drives it and skips where it is absent.
LAKE_VENV := .venv-lake
LAKE_STAMP := $(LAKE_VENV)/.installed
LAKE_EXTENSIONS := duckdb-extension-ducklake duckdb-extension-sqlite duckdb-extension-postgres
# Parallel ingestion (flows/lake_nightly.py): Prefect's Dask task runner, in the lake environment only; the pins of
# what it pulls in beyond requirements.lock, kept here so that `make lake-lock` writes them again
LAKE_DASK := prefect-dask==0.3.7 dask==2026.8.0 distributed==2026.8.0 importlib_metadata==10.2.0 \
  lazy-importer==0.1.0 locket==1.0.0 msgpack==1.2.4 partd==1.4.2 tblib==3.2.2 toolz==1.2.0 zict==3.0.0 zipp==4.1.2

$(LAKE_STAMP): pyproject.toml requirements-ducklake.lock
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAKE_VENV)/bin/python -m pip install --quiet -c requirements-ducklake.lock -e '.[dev]' $(LAKE_EXTENSIONS) prefect-dask
	touch $(LAKE_STAMP)

lake-env: $(LAKE_STAMP)

# Re-pin the lake environment after `make lock`: requirements.lock with DuckDB, its CLI (1.5.6 refuses the 1.5.5
# extensions) and the extensions at LAKE_DUCKDB,
# and the Dask pins (tests/test_ducklake_env.py fails while the two locks disagree)
LAKE_DUCKDB := 1.5.5
lake-lock:
	{ grep -v -e '^duckdb==' -e '^duckdb-cli==' requirements.lock; \
	  printf '%s==$(LAKE_DUCKDB)\n' duckdb duckdb-cli $(LAKE_EXTENSIONS); \
	  printf '%s\n' $(LAKE_DASK); } | LC_ALL=C sort -f > requirements-ducklake.lock

# Headless Chromium (Debian's package) renders the HTML report in tests/test_report.py. Installed when missing
# and this is a root shell with apt-get (CI, the project's machines); elsewhere the test says how to get it.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
	  echo "make: chromium not installed; the browser test of the report will skip or fail under CI" >&2

# pytest exits 5 when it collected no test: that is a failure, not a pass.
test: $(STAMP) browser lake-env bench-env
	$(BIN)/python -m pytest --durations=25; status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no test collected" >&2; exit 1; fi; exit $$status

# The quick tier for a developer's loop: lint, then the tests that start no Prefect server, no browser and no
# subprocess load, and no property test over hundreds of generated inputs (markers `slow`, `prefect`, `fuzz`), on
# both cores. `make test` runs them all. Bytecode is written even where PYTHONDONTWRITEBYTECODE is set: without
# it each of the three processes compiles the project and rewrites the tests' asserts again (6 of its 10 s of
# collection).
check: $(STAMP)
	$(BIN)/ruff check .
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -m "not slow and not prefect and not fuzz" -n 2 -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .

# Issue 22's baselines (benchmarks/dlt_pipeline.py, benchmarks/polars_parquet.py) run in their own environment,
# pinned in benchmarks/requirements-baselines.txt: dlt and polars never enter requirements.lock. benchmarks/run.py
# finds .venv-bench/bin/python and runs the two beside (a) and (b); without it, it says they were not run.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): benchmarks/requirements-baselines.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -r benchmarks/requirements-baselines.txt
	touch $(BENCH_STAMP)

bench-env: $(BENCH_STAMP)

# The benchmark of issue 5 (BENCHMARKS.md): tradewh against bare DuckDB on generated Comtrade files, at the
# sizes the issue states its targets on (about half an hour on two cores), then issue 22's incremental night and
# no-op (full load, no-op, one source revised, no-op; the project's Prefect server running: about 15 min more);
# bench-quick: 100k and 1M rows, one repeat, and the incremental case at 100k rows.
bench: $(STAMP) bench-env
	$(BIN)/python benchmarks/run.py --rows 1000000 10000000 --repeat 3 --profile-rows 10000000
	$(BIN)/python benchmarks/run.py --incremental --repeat 3

bench-quick: $(STAMP) bench-env
	$(BIN)/python benchmarks/run.py --rows 100000 1000000 --repeat 1 --out /tmp/tradewh-bench.md
	$(BIN)/python benchmarks/run.py --incremental 100000 --repeat 1 --out /tmp/tradewh-bench.md

serve: $(STAMP)
	$(BIN)/tradewh serve

# Re-pin every dependency to what the current .venv resolved (after changing pyproject.toml).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^tradewh' > requirements.lock

clean:
	rm -rf $(VENV) $(LAKE_VENV) .venv-bench data .pytest_cache .ruff_cache
