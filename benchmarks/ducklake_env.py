"""The DuckLake environment decision's benchmark (docs/decisions/0002-ducklake-environment.md): the warehouse build
(``build_warehouse``: raw tables from the lake, every view and stored mart, the conformed fact's check) from one
loaded home, timed in fresh processes under each given Python (the project's DuckDB 2.0.1 in .venv, DuckDB 1.5.5 in
.venv-lake), interleaved, the median of ``--repeat``; then, under the lake's Python, the publish of the file the
first Python built into a new DuckLake (SQLite catalog).

    # a home loaded once: TRADEWH_HOME=/tmp/b/home TRADEWH_CATALOGUE=... .venv/bin/tradewh load
    .venv/bin/python benchmarks/ducklake_env.py --home /tmp/b/home --catalogue /tmp/b/catalogue.toml \\
        --python .venv/bin/python .venv-lake/bin/python --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# one build in a fresh process: prints {"duckdb": version, "seconds": s} or {"error": ...}
BUILD = """
import json, sys, time
from pathlib import Path
import duckdb
from warehouse.build import build_warehouse, check_trade_figures
from warehouse.common.settings import load_settings
from warehouse.extract.catalogue import load_catalogue
settings = load_settings()
target = Path(sys.argv[1])
catalogue = load_catalogue(settings.catalogue_path, reference_dir=settings.seeds_dir / "reference")
began = time.perf_counter()
try:
    counts = build_warehouse(target, lake_dir=settings.lake_dir, seeds_dir=settings.seeds_dir, sql_dir=settings.sql_dir,
        catalogue=catalogue, storage_version=settings.storage_version, memory_limit=settings.duckdb_memory_limit,
        temp_dir=target.parent / "tmp", check=check_trade_figures)
    out = {"seconds": time.perf_counter() - began, "rows": sum(counts.values())}
except Exception as exc:
    out = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
out["duckdb"] = duckdb.__version__
print(json.dumps(out))
"""

PUBLISH = """
import json, sys, time
from pathlib import Path
from warehouse.ducklake import publish_to_lake, target_from
began = time.perf_counter()
snap = publish_to_lake(Path(sys.argv[1]), target_from(sys.argv[2], sys.argv[3]), run_id="bench")
print(json.dumps({"seconds": time.perf_counter() - began, "snapshot": snap}))
"""


def run(python: str, code: str, args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": done.stderr[-500:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, required=True, help="a TRADEWH_HOME a load has filled")
    parser.add_argument("--catalogue", type=Path, required=True)
    parser.add_argument("--python", nargs="+", required=True, help="the interpreters to compare")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--project-root", type=Path, default=None, help="a copy of the project's sql/ and seeds/ to build from instead"
    )
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRADEWH_")}
    env |= {"TRADEWH_HOME": str(args.home), "TRADEWH_CATALOGUE": str(args.catalogue)}
    if args.project_root is not None:
        env["TRADEWH_PROJECT_ROOT"] = str(args.project_root)
    results: dict[str, list[dict]] = {p: [] for p in args.python}
    with tempfile.TemporaryDirectory(prefix="tradewh-lake-bench-") as work:
        kept = Path(work) / "kept.duckdb"
        for repeat in range(args.repeat):
            for python in args.python:  # interleaved: each repeat runs every interpreter once
                target = Path(work) / f"build-{repeat}.duckdb"
                got = run(python, BUILD, [str(target)], env)
                results[python].append(got)
                print(python, repeat, got, file=sys.stderr, flush=True)
                if target.exists() and not kept.exists():
                    shutil.move(target, kept)
                target.unlink(missing_ok=True)
        summary = {}
        for python, runs in results.items():
            ok = [r["seconds"] for r in runs if "seconds" in r]
            summary[python] = {
                "duckdb": runs[0].get("duckdb"),
                "median_s": round(statistics.median(ok), 2) if ok else None,
                "runs_s": [round(s, 2) for s in ok],
                "errors": [r["error"] for r in runs if "error" in r],
            }
        if kept.exists():
            lake = Path(work) / "lake"
            publishes = [
                run(args.python[-1], PUBLISH, [str(kept), f"sqlite:{lake}-{i}.sqlite", f"{lake}-{i}"], env)
                for i in range(args.repeat)
            ]
            ok = [p["seconds"] for p in publishes if "seconds" in p]
            summary["publish_to_ducklake_sqlite"] = {
                "median_s": round(statistics.median(ok), 2) if ok else None,
                "runs_s": [round(s, 2) for s in ok],
                "errors": [p["error"] for p in publishes if "error" in p],
            }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
