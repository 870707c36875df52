"""The generated Comtrade file loaded three ways (issue 21): (a) into the DuckDB file by ``tradewh load``, (b) by the
lake nightly (flows/lake_nightly.py, .venv-lake) into a DuckLake with a SQLite catalog, (c) the same with a Postgres
catalog (a server of its own on 127.0.0.1 and a free port, as tests/test_ducklake_postgres.py starts it); (b) and
(c) with 1 and 2 Dask workers. Each load is a fresh data folder with the project's Prefect server started for it
(untimed, ``tradewh server start``), measured by ``benchmarks/run.py``'s ``measure``: wall time, GNU time's peak
RSS of the largest process, and the sampled peak RSS of the whole process tree (the Dask workers are processes).

    flock /tmp/tradewh-bench.lock .venv/bin/python benchmarks/lake_load.py --csv /tmp/bench/comtrade_1000000.csv

The file comes from ``benchmarks/generate.py`` (``--rows 1000000 --aggregates``, or 10M); the table is printed and
the figures written as JSON (``--out``).
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402 (benchmarks/run.py: measure, the catalogue, the project's server)

PROJECT_ROOT = bench.PROJECT_ROOT
LAKE_PYTHON = PROJECT_ROOT / ".venv-lake" / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def postgres(folder: Path) -> Iterator[str]:
    """A Postgres of its own (initdb in ``folder``, 127.0.0.1, a free port, fsync off); its DuckLake DSN."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        raise SystemExit("Postgres not found (/usr/lib/postgresql/*/bin/pg_ctl): apt-get install -y postgresql")
    bindir = Path(found[-1]).parent
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder.mkdir(parents=True, exist_ok=True)
    if as_user:
        shutil.chown(folder, "postgres")
    port, data = free_port(), folder / "data"

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "tradewh", "--auth=trust", "-E", "UTF8", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w", "-t", "60", "start",
        "-o", f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c max_connections=50")  # fmt: skip
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "tradewh", "lake")
        yield f"postgres:dbname=lake host=127.0.0.1 port={port} user=tradewh"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120, check=False)  # fmt: skip


def create_database(dsn: str, name: str) -> str:
    """A new database on the server of ``dsn``; its DSN."""
    createdb = Path(sorted(glob.glob("/usr/lib/postgresql/*/bin/createdb"))[-1])
    port = dsn.split("port=")[1].split()[0]
    subprocess.run([str(createdb), "-h", "127.0.0.1", "-p", port, "-U", "tradewh", name], check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    return dsn.replace("dbname=lake", f"dbname={name}")


def api_url(home: Path) -> str:
    info = json.loads((home / "prefect" / "server.json").read_text())
    return f"http://{info['host']}:{info['port']}/api"


def one_load(name: str, csv: Path, work: Path, catalog: str | None, workers: int, budget: float) -> dict[str, Any]:
    """One measured load in a fresh home: ``tradewh load`` when ``catalog`` is None, else the lake nightly."""
    home = work / name / "home"
    home.mkdir(parents=True)
    catalogue = bench.write_catalogue(csv, 0, work / name / "catalogue.toml")
    env = bench.tradewh_env(home, catalogue, csv.parent)
    with bench.project_server(env, work / name / "server.log") as took:
        if took is None:
            return {"name": name, "error": f"the Prefect server did not start: {work / name / 'server.log'}"}
        env = {**env, "PREFECT_API_URL": api_url(home), "PREFECT_HOME": str(home / "prefect")}
        if catalog is None:
            cmd = [bench.TRADEWH, "load"]
        else:
            env = {**env, "TRADEWH_LAKE_CATALOG": catalog, "TRADEWH_LAKE_DATA": str(work / name / "lake-data")}
            cmd = [str(LAKE_PYTHON), "-m", "flows.lake_nightly", "--workers", str(workers)]
        load1 = os.getloadavg()[0]
        measured = bench.measure(cmd, env=env, log=work / name / "load.log", time_budget=budget, memory_budget=2**40)
    rows = measured.payload.get("tasks") if isinstance(measured.payload, dict) else None
    written = sum(t.get("rows", 0) for t in rows or [] if t.get("task") == "write_partition")
    return {
        "name": name, "workers": workers if catalog else None, "catalog": catalog.split(":")[0] if catalog else "file",
        "wall_s": measured.wall_s, "maxrss_mib": measured.maxrss_mib, "tree_peak_mib": measured.tree_peak_mib,
        "returncode": measured.returncode, "killed": measured.killed, "lake_rows_written": written,
        "load_avg_1m_before": round(load1, 2), "tail": measured.tail[-1500:] if measured.tail else "",
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True, help="a file from benchmarks/generate.py")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new one under /tmp)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/tradewh-lake-load.json"))
    parser.add_argument("--time-budget", type=float, default=3600.0, help="seconds a load may take")
    args = parser.parse_args(argv)
    csv = args.csv.resolve()
    work = args.work or Path(tempfile.mkdtemp(prefix="tradewh-lake-load-", dir="/tmp"))
    results = [one_load("a-file", csv, work, None, 0, args.time_budget)]
    sqlite = work / "sqlite"
    for workers in args.workers:
        catalog = f"sqlite:{sqlite / f'catalog-{workers}.sqlite'}"
        sqlite.mkdir(parents=True, exist_ok=True)
        results.append(one_load(f"b-sqlite-{workers}w", csv, work, catalog, workers, args.time_budget))
    with postgres(work / "postgres") as dsn:
        for workers in args.workers:
            db = create_database(dsn, f"lake{workers}")  # an empty catalog for each load
            results.append(one_load(f"c-postgres-{workers}w", csv, work, db, workers, args.time_budget))
    record = Path(f"{csv}.json")
    meta = {
        "csv": str(csv),
        "rows": json.loads(record.read_text()).get("rows") if record.exists() else None,
        "machine": bench.machine_facts(),
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    args.out.write_text(json.dumps({"meta": meta, "results": results}, indent=2))
    columns = ("name", "catalog", "workers", "wall_s", "maxrss_mib", "tree_peak_mib", "load_avg_1m_before")
    print("| load | catalog | workers | wall (s) | peak RSS, largest process (MiB) | peak RSS, process tree (MiB) "
          "| 1-min load before |\n|---|---|---:|---:|---:|---:|---:|")  # fmt: skip
    for r in results:
        print("| " + " | ".join(str(r.get(c) or "") for c in columns) + " |")
        if r.get("returncode") or r.get("error"):
            print(f"  FAILED: {r.get('error') or r.get('tail')}")
    return 0 if all(not r.get("returncode") and not r.get("error") for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
