"""How a DuckLake's catalog behaves as commits and files pile up (issue 21, docs/scale-out.md "catalog load").

Runs in the lake environment. Many small commits (one appended batch each, so one Parquet file and one snapshot
each), as parallel ingestion of many partitions makes: the commit's latency, a full scan's time (``count(*)`` and a
sum, which plans over every file), the catalog's size, at checkpoints as the file count grows; then the maintenance
that reins it in (``ducklake_merge_adjacent_files``, ``ducklake_expire_snapshots``, ``ducklake_cleanup_old_files``)
and the same scan after it.

    .venv-lake/bin/python benchmarks/lake_catalog.py --commits 2000 --rows 1000
    .venv-lake/bin/python benchmarks/lake_catalog.py --catalog "postgres:dbname=lake host=127.0.0.1 port=5432 user=me"

Prints a Markdown table (and JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from warehouse.ducklake import connect, target_from


def _catalog_bytes(catalog: str) -> int | None:
    if catalog.startswith("sqlite:"):
        return Path(catalog.removeprefix("sqlite:")).stat().st_size
    if catalog.startswith("postgres:"):
        dsn = catalog.removeprefix("postgres:")
        done = subprocess.run(
            ["psql", dsn, "-Atc", "select pg_database_size(current_database())"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return int(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    return None


def _scan(con) -> float:  # noqa: ANN001 (a DuckDB connection)
    start = time.perf_counter()
    con.execute("select count(*), sum(v) from bench.t").fetchall()
    return time.perf_counter() - start


def run(catalog: str, data_path: str, commits: int, rows: int, checkpoints: list[int]) -> dict[str, object]:
    target = target_from(catalog, data_path)
    con = connect(target)
    con.execute("create schema if not exists bench")
    con.execute("create or replace table bench.t (k bigint, v double, label varchar)")
    out: list[dict[str, object]] = []
    latencies: list[float] = []
    for i in range(1, commits + 1):
        start = time.perf_counter()
        con.execute(
            f"insert into bench.t select {i}::bigint * 1000000 + range, random(), 'partition ' || {i} "
            f"from range({rows})"
        )  # autocommit: one snapshot, one file
        latencies.append(time.perf_counter() - start)
        if i in checkpoints:
            files = con.execute("select count(*) from ducklake_list_files('lake', 't', schema => 'bench')").fetchone()[
                0
            ]
            scans = [_scan(con) for _ in range(3)]
            out.append({
                "commits": i, "files": files, "commit_ms_median": 1000 * statistics.median(latencies[-100:]),
                "scan_s_median": statistics.median(scans), "catalog_bytes": _catalog_bytes(target.catalog),
            })  # fmt: skip
    start = time.perf_counter()
    con.execute("call ducklake_merge_adjacent_files('lake')")
    merge_s = time.perf_counter() - start
    start = time.perf_counter()
    con.execute("call ducklake_expire_snapshots('lake', older_than => now())")
    con.execute("call ducklake_cleanup_old_files('lake', cleanup_all => true)")
    expire_s = time.perf_counter() - start
    files = con.execute("select count(*) from ducklake_list_files('lake', 't', schema => 'bench')").fetchone()[0]
    after = {
        "files": files, "merge_s": merge_s, "expire_and_cleanup_s": expire_s,
        "scan_s_median": statistics.median(_scan(con) for _ in range(3)),
        "catalog_bytes": _catalog_bytes(target.catalog),
        "rows": con.execute("select count(*) from bench.t").fetchone()[0],
    }  # fmt: skip
    con.close()
    return {"catalog": target.catalog.split(":")[0], "rows_per_commit": rows, "checkpoints": out, "after": after}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--catalog", default=None, help="a DuckLake catalog (default: a SQLite file in a temp folder)")
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=1000, help="rows per commit")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tradewh-lake-catalog-"))
    catalog = args.catalog or f"sqlite:{folder / 'catalog.sqlite'}"
    checkpoints = sorted({c for c in (10, 100, 500, 1000, 2000, 5000, args.commits) if c <= args.commits})
    result = run(catalog, str(folder / "data"), args.commits, args.rows, checkpoints)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"catalog {result['catalog']}, {args.rows:,} rows a commit")
    print("| commits | data files | commit ms (median of the last 100) | full scan s (median of 3) | catalog MB |")
    print("|---:|---:|---:|---:|---:|")
    for c in result["checkpoints"]:
        size = f"{c['catalog_bytes'] / 1e6:.1f}" if c["catalog_bytes"] else "-"
        print(
            f"| {c['commits']:,} | {c['files']:,} | {c['commit_ms_median']:.1f} | {c['scan_s_median']:.3f} | {size} |"
        )
    a = result["after"]
    size = f"{a['catalog_bytes'] / 1e6:.1f}" if a["catalog_bytes"] else "-"
    print(
        f"| after merge ({a['merge_s']:.1f} s) + expire and cleanup ({a['expire_and_cleanup_s']:.1f} s) | "
        f"{a['files']:,} | | {a['scan_s_median']:.3f} | {size} |"
    )


if __name__ == "__main__":
    main()
