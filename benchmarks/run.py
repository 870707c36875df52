"""The benchmark of issue 5: tradewh's nightly load against a bare-DuckDB script, on the same generated files.

One command (from the project folder)::

    .venv/bin/python benchmarks/run.py --rows 100000 1000000 10000000 --repeat 3

For each size it generates a Comtrade ``plus_api_csv`` file (``benchmarks/generate.py``; by default with HS
chapter and TOTAL rows beside the HS6 rows, sums of them, as a download of several aggregation levels carries,
and ``--rows`` counting every row; ``--no-aggregates`` for HS6 rows only; and, with ``--bad-share``, a copy with
that share of bad rows), reads it once so the page cache is warm for everyone, then, ``--repeat`` times and
interleaved, runs every measurement in a FRESH PROCESS:

  (a)      bare DuckDB: read_csv with explicit types -> Parquet (COPY) -> table in a DuckDB file, the same rules
           as one SQL pass, a uniqueness GROUP BY, rejected rows removed (``benchmarks/bare_duckdb.py``);
  empty/c  an empty Prefect flow started the way ``tradewh load`` starts (``benchmarks/empty_flow.py``) on a
           fresh Prefect home: Prefect's fixed cost in a first load;
  (b)      ``tradewh load`` (the console script) on a fresh TRADEWH_HOME, with a catalogue holding one comtrade
           source whose ``location = { path = <file> }`` (TRADEWH_ALLOWED_ROOTS = its folder) and the project's
           press release (``write_catalogue``);
  (c)      the same command again on the same home: nothing changed, a no-op rerun;
  empty/w  the empty flow again on that home's (warm) Prefect home: Prefect's fixed cost in a rerun;
  (b),(c) with the server: the same load and rerun on another fresh home whose own Prefect server
           (``tradewh server start --port <free port>``, untimed) runs before the timed command and is stopped
           (``tradewh server stop``) after the rerun: no server start inside the load (issue 15);
  import   ``import warehouse.serve.cli, flows.nightly`` and exit: the interpreter and library imports alone;
  (d)      ``marts.trade_balance`` summed by reporter and partner over the HS6 rows on (b)'s warehouse, and the
           equivalent hand-written SQL on (a)'s table (``benchmarks/query.py``), each in its own read-only process;
  (d2)     ``marts.goods_composition`` (every HS chapter, its section, the shares) against the same computed by
           hand on (a)'s table, both reduced to one checksum row in SQL; both sides must give the same figures;
  (a'),(b') (a) and (b) on the file with bad rows; the quarantine is checked against the generator's record.

Each measurement is a child process (``start_new_session``), run under ``/usr/bin/time -f %M`` when it exists:
wall time, and the peak RSS of the largest single process among the child and the descendants it reaped
(GNU time's ``%M``, i.e. the kernel's ``ru_maxrss``; without GNU time, ``os.wait4``'s, which Linux floors at
this harness's own RSS at spawn), plus the peak of the whole process tree's summed RSS, sampled from /proc
every 0.1 s (Prefect's local server is a second process). The table shows medians of the repeats.

A size whose tradewh load is predicted, from the sizes already measured, to exceed ``--time-budget`` (900 s)
or ``--memory-budget-gib`` (12) is not run for tradewh (the bare side still runs), with the prediction as
the reason (``predict``: from the largest size measured plus the growth per row between the two largest, so a
load whose memory is flat is predicted flat; memory is not predicted from a single size), nor is a size larger
than one whose load was killed. A child that exceeds either budget while running is killed (below GNU time,
which then still reports its peak RSS) and reported as killed, with what it had reached, in the table and in the
targets.

Then ``benchmarks/profile_load.py`` runs one load and one rerun at ``--profile-rows`` with every stage timed,
and ``BENCHMARKS.md`` (``--out``) is written: the table, the ratios, each target of issue 5 with its measured
figure, the stage profile, the command, versions and machine facts. The raw figures go to ``--json``.
``--from-json`` re-renders the Markdown from such a file without measuring.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
PYTHON = sys.executable
TRADEWH = str(Path(PYTHON).with_name("tradewh"))  # the console script users run (warehouse.serve.command)
INCREMENTAL_ROWS = (1_000_000, 10_000_000)  # --incremental's sizes when none is given (`make bench`)
SOURCE_ID = "bench_comtrade"
RELEASE_ID = "mofcom_2012_technology_trade"  # the project's press release, in every benchmark catalogue
PAGE = os.sysconf("SC_PAGE_SIZE")
# GNU time reports the child's own peak RSS; the kernel's ru_maxrss seen by this process (os.wait4) starts from
# this process's RSS at spawn (Linux carries the pre-exec high-water mark over), so it is only the fallback.
TIME_BIN = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None
MIB = 1024 * 1024
# issue 22's baselines run in the bench-only environment (`make bench-env`), never in the project's
BENCH_PYTHON = PROJECT_ROOT / ".venv-bench" / "bin" / "python"
BASELINES = {"polars": "polars_parquet.py", "dlt": "dlt_pipeline.py"}  # measurement -> script in benchmarks/

# measurement keys, in the order they run in each repeat, with their labels in the table
LABELS: dict[str, str] = {
    "a": "(a) bare DuckDB: CSV -> Parquet -> table, rules, uniqueness",
    "polars": "polars `scan_csv` -> `sink_parquet` (zstd): CSV -> Parquet only (baseline)",
    "dlt": "dlt: pyarrow batches -> Parquet -> DuckDB destination, load only (baseline)",
    "empty_cold": "empty Prefect flow, fresh Prefect home",
    "empty_first": "empty Prefect flow, fresh Prefect home, the machine's first (no migrated database to copy)",
    "b": "(b) tradewh load (fresh home)",
    "c": "(c) tradewh load again, nothing changed (no-op)",
    "empty_warm": "empty Prefect flow, the home of (b)/(c)",
    "b_srv": "(b) tradewh load, the project's Prefect server running (fresh home)",
    "c_srv": "(c) tradewh load again, the project's Prefect server running (no-op)",
    "import": "python + import warehouse.serve.cli, flows.nightly",
    "d_mart": "(d) marts.trade_balance by reporter x partner (HS6 rows)",
    "d_hand": "(d) hand-written SQL on the bare table",
    "d2_mart": "(d2) marts.goods_composition: every HS chapter, its section, shares",
    "d2_hand": "(d2) hand-written SQL on the bare table",
    "a_bad": "(a') bare DuckDB, file with bad rows",
    "b_bad": "(b') tradewh load, file with bad rows",
}
ALL_MEASURES = tuple(LABELS)
# need tradewh's load at this size
TRADEWH_MEASURES = ("b", "c", "empty_warm", "b_srv", "c_srv", "d_mart", "d2_mart", "b_bad")
QUERIES = {"d": "balance", "d2": "composition"}  # benchmarks/query.py --query, by measurement
# the sizes the issue states its memory targets on: peak RSS at TARGET_ROWS, and its growth from BASE_ROWS
TARGET_ROWS, BASE_ROWS = 10_000_000, 1_000_000
KILL_GRACE_S = 5.0  # after killing the command, how long GNU time gets to write the peak before it is killed too
CATALOGUE = """\
[[source]]
id = "{source_id}"
dataset = "comtrade"
publisher = "tradewh benchmark"
title = "Generated UN Comtrade current-API CSV ({rows} rows)"
licence = "generated"
attribution = "benchmarks/generate.py"
location = {{ path = "{path}" }}
vintage = "2024-01-01"

  [[source.measures]]
  measure = "customs_value"
  unit = "USD"
  currency = "USD"
  scales = [1]
"""


# --- running one child process and measuring it ------------------------------------------------------------


@dataclass
class Run:
    """One measured child process."""

    wall_s: float
    maxrss_mib: float  # peak RSS of the largest single process among the child and the descendants it reaped
    maxrss_from: str  # 'gnu-time' (/usr/bin/time %M) or 'wait4' (floor: this harness's own RSS at spawn)
    tree_peak_mib: float  # peak of the summed RSS of the child's process tree, sampled
    returncode: int
    killed: str = ""  # why the harness killed it ('' when it ended by itself)
    payload: dict[str, Any] = field(default_factory=dict)  # the child's last stdout line, when JSON
    log: str = ""
    tail: str = ""  # the end of its output, kept when it failed
    # CPU seconds (user + system) of the child and of the descendants it reaped (os.wait4's rusage; a server the
    # child did not start, as the project's Prefect server, is not counted): the work done and how many cores it kept
    # busy. Other tenants move it too, less than the wall time (dlt 55.5-72.7 CPU-s over three repeats at 10M rows);
    # None in results recorded before it was measured
    cpu_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _tree(pid: int) -> list[int]:
    """The pid and its descendants (via /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
    return out


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def _kill_below(root: int, *, spare_root: bool) -> None:
    """SIGKILL the process tree under ``root`` (and ``root`` unless ``spare_root``)."""
    for pid in _tree(root):
        if pid != root or not spare_root:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def measure(cmd: list[str], *, env: dict[str, str], log: Path, time_budget: float, memory_budget: float) -> Run:
    """Run a command in a new session and measure it; kill it past either budget.

    A command run under GNU time is killed below ``time`` itself, so that ``time`` still reaps it and writes
    its peak RSS (the figure a killed run is reported with); ``time`` and whatever is left follow
    ``KILL_GRACE_S`` later.

    Before the clock starts, the files earlier commands wrote are flushed to the disk (``os.sync``, untimed): each
    command starts on a quiet disk instead of beside the previous one's write-back (a 10M-row load writes 2.6 GB).
    It did not shorten what it was added for (2026-12-06: the load with the server waited 2.2-2.45 s for its raw
    copy with it, 2.1-2.3 s without, 0.9-1.7 s when run by hand against a server started minutes before).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    os.sync()
    peak = [0]
    killed = [""]
    killed_at = [0.0]
    timefile = log.with_name(log.name + ".rss")
    timefile.unlink(missing_ok=True)
    wrapped = [TIME_BIN, "-f", "%M", "-o", str(timefile), *cmd] if TIME_BIN else cmd
    with log.open("w+") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            wrapped, env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                if killed[0]:  # GNU time had its grace to reap the command and write its peak
                    if time.perf_counter() - killed_at[0] > KILL_GRACE_S:
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(proc.pid, signal.SIGKILL)
                    continue
                total = sum(_rss_bytes(p) for p in _tree(proc.pid))
                peak[0] = max(peak[0], total)
                elapsed = time.perf_counter() - started
                reason = ""
                if total > memory_budget:
                    gib, limit = total / 2**30, memory_budget / 2**30
                    reason = f"killed: process tree RSS {gib:.1f} GiB > budget {limit:g} GiB after {elapsed:.0f} s"
                elif elapsed > time_budget:
                    reason = f"killed: still running after {elapsed:.0f} s > budget {time_budget:.0f} s"
                if reason:
                    killed[0], killed_at[0] = reason, time.perf_counter()
                    _kill_below(proc.pid, spare_root=TIME_BIN is not None)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        with contextlib.suppress(ProcessLookupError):  # whatever it left running (an orphaned server)
            os.killpg(proc.pid, signal.SIGKILL)
        out.seek(0)
        text = out.read()
    payload: dict[str, Any] = {}
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                payload = json.loads(line)
            break
    maxrss_kib, maxrss_from = usage.ru_maxrss, "wait4"
    with contextlib.suppress(OSError, ValueError, IndexError):
        maxrss_kib, maxrss_from = int(timefile.read_text().split()[-1]), "gnu-time"
    run = Run(
        wall_s=round(wall, 3),
        maxrss_mib=round(maxrss_kib / 1024, 1),
        maxrss_from=maxrss_from,
        tree_peak_mib=round(peak[0] / MIB, 1),
        returncode=proc.returncode,
        killed=killed[0],
        payload=payload,
        log=str(log),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 2),
    )
    if run.returncode != 0 or run.killed:
        run.tail = text[-3000:]
    return run


# --- environments ----------------------------------------------------------------------------------------------


CACHE: dict[str, Path] = {}  # the run's TRADEWH_CACHE_DIR ("dir"), once use_cache has made it


def use_cache(work: Path, say: Any = print) -> None:  # noqa: ANN401
    """Every tradewh process of the run keeps its cache (``TRADEWH_CACHE_DIR``) in ``work/cache``, where the
    migrated Prefect database a new data folder starts from (``warehouse.orchestrate.prefect_db``) is made first,
    untimed, by an empty flow: a fresh home is then a new data folder on a machine that ran tradewh before, as every
    data folder but a machine's first is. What that first one pays more is ``empty_first``."""
    cache = work / "cache"
    CACHE["dir"] = cache
    if any(cache.glob("prefect-*.db")):
        return
    home = work / "cache-home"
    shutil.rmtree(home, ignore_errors=True)
    began = time.perf_counter()
    subprocess.run(  # noqa: S603 (our interpreter, our script)
        [PYTHON, str(BENCH_DIR / "empty_flow.py")],
        env={**base_env(), "TRADEWH_HOME": str(home)}, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    shutil.rmtree(home, ignore_errors=True)
    made = sorted(p.name for p in cache.glob("prefect-*.db"))
    say(f"Prefect's migrated database for new data folders: {made or 'not made'} ({time.perf_counter() - began:.1f} s)")


def base_env() -> dict[str, str]:
    """The caller's environment without anything that would point a load elsewhere (its cache: the run's)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRADEWH_") and k not in {"PREFECT_API_URL", "PREFECT_HOME", "PREFECT_PROFILE"}
    }
    if "dir" in CACHE:
        env["TRADEWH_CACHE_DIR"] = str(CACHE["dir"])
    env["PREFECT_LOGGING_TO_API_ENABLED"] = "false"  # nothing to send once the local server stops
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # the code of this checkout, not the one the editable install points at (a worktree of a commit being measured)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return env


def tradewh_env(home: Path, catalogue: Path, data_dir: Path) -> dict[str, str]:
    return {
        **base_env(),
        "TRADEWH_HOME": str(home),
        "TRADEWH_CATALOGUE": str(catalogue),
        "TRADEWH_ALLOWED_ROOTS": str(data_dir),
    }


def _toml_text(path: Path) -> str:
    """A path as the text of a TOML basic string (between double quotes)."""
    return str(path).replace("\\", "\\\\").replace('"', '\\"')


def release_entry(path: Path | None = None) -> str:
    """The project's press release's catalogue entry (``catalogue.toml``'s), reading the shipped file, or ``path``."""
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    entry = next(e for e in text.split("\n[[source]]\n") if f'id = "{RELEASE_ID}"' in e)
    seed = f'location = {{ seed = "{RELEASE_ID}/figures.csv" }}'
    assert seed in entry, "the press release's catalogue entry reads another file"
    if path is not None:
        entry = entry.replace(seed, f'location = {{ path = "{_toml_text(path)}" }}')
    return "[[source]]\n" + entry.strip() + "\n"


def write_catalogue(csv_path: Path, rows: int, target: Path, *, release: Path | None = None) -> Path:
    """The benchmark's catalogue: the generated Comtrade file, and the project's press release (the shipped file, or
    ``release``): a source that prints growth rates, so the fact's growth branch runs as in the shipped
    warehouse (with a Comtrade file alone DuckDB drops it: 74160f4 reverted a fact that ran out of memory
    beside it, which no benchmark had seen)."""
    comtrade = CATALOGUE.format(source_id=SOURCE_ID, rows=rows, path=_toml_text(csv_path))
    target.write_text(comtrade + "\n" + release_entry(release))
    return target


@contextlib.contextmanager
def project_server(env: dict[str, str], log: Path) -> Iterator[float | None]:
    """The project's Prefect server for the home in ``env``: ``tradewh server start`` on a free port (untimed; it
    returns once the server answers its health check), ``tradewh server stop`` on leaving. Yields the seconds the
    start took, or None when it did not start (its output is in ``log``)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = [PYTHON, "-m", "warehouse.serve.cli", "server"]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        started = time.perf_counter()
        done = subprocess.run([*server, "start", "--port", str(port)], env=env, cwd=PROJECT_ROOT, stdout=out,
                              stderr=subprocess.STDOUT, timeout=600, check=False)  # fmt: skip
        took = time.perf_counter() - started
    try:
        yield took if done.returncode == 0 else None
    finally:
        with log.open("a") as out:
            subprocess.run([*server, "stop"], env=env, cwd=PROJECT_ROOT, stdout=out, stderr=subprocess.STDOUT,
                           timeout=120, check=False)  # fmt: skip


# --- facts -----------------------------------------------------------------------------------------------------


def machine_facts() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 2**20, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "platform": platform.platform(),
    }


def code_fingerprint() -> str:
    """SHA-256 (first 12 hex) over tradewh's code and SQL: which version of tradewh the figures are of."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("warehouse", "schemas", "flows", "sql"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.suffix in {".py", ".sql"} and path.is_file():
                digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def materialized_views() -> list[str]:
    """The views of sql/ whose header asks the build to store them (``-- materialized: table``)."""
    out = []
    for path in sorted((PROJECT_ROOT / "sql").glob("*/*.sql")):
        with contextlib.suppress(OSError, UnicodeDecodeError):
            for line in path.read_text().splitlines():
                if not line.startswith("--"):
                    break
                if line.replace(" ", "") == "--materialized:table":
                    out.append(f"{path.parent.name}.{path.stem}")
    return out


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("duckdb", "pandas", "pandera", "pyarrow", "prefect", "numpy"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# --- the checks on what a load produced (outside the timed processes) -----------------------------------------


def load_outcome(home: Path) -> dict[str, Any]:
    """The last run's status and the source's counts, from the published warehouse."""
    import duckdb

    warehouse = home / "warehouse" / "tradewh.duckdb"
    if not warehouse.exists():
        return {"published": False}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        run = con.execute("select run_id, status from audit.load_runs order by started_at desc limit 1").fetchone()
        source = con.execute(
            "select status, rows_read, rows_valid, rows_rejected, rows_loaded, message from audit.source_runs "
            "where run_id = ? and source_id = ?",
            [run[0], SOURCE_ID],
        ).fetchone()
        fact_rows = con.execute("select count(*) from raw.comtrade").fetchone()[0]
    keys = ("source_status", "rows_read", "rows_valid", "rows_rejected", "rows_loaded", "message")
    return {
        "published": True,
        "run_status": run[1],
        **dict(zip(keys, source or (None,) * len(keys), strict=True)),
        "raw_rows": fact_rows,
    }


def quarantined_lines(db: Path, query: str) -> set[int]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {int(r[0]) for r in con.execute(query).fetchall()}


def quarantine_check(expected: list[int], got: set[int]) -> dict[str, Any]:
    want = set(expected)
    return {
        "bad_rows": len(want),
        "quarantined_with_line": len(want & got),
        "missed": len(want - got),
        "extra": len(got - want),
        "all_quarantined": want <= got and not (got - want),
    }


# --- the benchmark ---------------------------------------------------------------------------------------------


def median_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get("returncode") == 0 and not r.get("killed")]
    return statistics.median(values) if values else None


def predict(sizes: list[dict[str, Any]], rows: int) -> dict[str, Any] | None:
    """tradewh's load at ``rows``, predicted from the sizes measured before it in this run (None: none was).

    Two sizes or more: the growth per row between the two largest (never negative: a load whose memory is
    flat, or even smaller at the larger size, is predicted flat) added to the LARGEST size's figures, not a
    line through the origin: a streaming load's peak RSS is mostly fixed cost and stays near the measured one.
    One size: wall time grows in proportion to the rows above Prefect's fixed cost (the fresh empty flow);
    peak RSS is not predicted (one size cannot tell flat memory from linear growth), and only the run-time
    budget guards it.

    Returns:
        ``wall_s``, ``peak_rss_mib`` (None when not predicted) and ``basis`` (how, in words).
    """
    points = []
    for s in sizes:
        b = s["measurements"].get("b", [])
        wall, rss = median_of(b, "wall_s"), median_of(b, "maxrss_mib")
        if wall is not None and rss is not None:
            fixed_wall = median_of(s["measurements"].get("empty_cold", []), "wall_s") or 0.0
            points.append((s["rows"], wall, rss, fixed_wall))
    points = sorted(p for p in points if p[0] < rows)
    if not points:
        return None
    n2, w2, r2, fixed = points[-1]
    if len(points) >= 2:
        n1, w1, r1, _ = points[-2]
        w_slope, r_slope = max(0.0, (w2 - w1) / (n2 - n1)), max(0.0, (r2 - r1) / (n2 - n1))
        return {
            "wall_s": w2 + w_slope * (rows - n2),
            "peak_rss_mib": r2 + r_slope * (rows - n2),
            "basis": f"the {n2:,}-row figures plus the growth per row between {n1:,} and {n2:,} rows",
        }
    return {
        "wall_s": fixed + max(0.0, w2 - fixed) * rows / n2,
        "peak_rss_mib": None,
        "basis": f"wall time from {n2:,} rows in proportion to the rows above Prefect's fixed cost; peak RSS not "
        "predicted from one size",
    }


def killed_before(sizes: list[dict[str, Any]], rows: int) -> str:
    """Why tradewh's load at ``rows`` would be killed too: a smaller size's load was ('' when none was)."""
    for s in sorted(sizes, key=lambda s: s["rows"]):
        killed = [r["killed"] for r in s["measurements"].get("b", []) if r.get("killed")]
        if s["rows"] < rows and killed and not _ok_runs(s["measurements"].get("b", [])):
            return f"tradewh's load at {s['rows']:,} rows was {killed[0]}, so a larger file would be too"
    return ""


def ensure_file(
    rows: int, path: Path, bad_share: float, seed: int, aggregates: bool, *, paired: bool = False
) -> dict[str, Any]:
    """Generate the file unless the one there was generated with these arguments; return its record."""
    record_path = path.with_name(path.name + ".json")
    if path.exists() and record_path.exists():
        record = json.loads(record_path.read_text())
        asked = (rows, bad_share, seed, aggregates, paired)
        same = (
            record.get("requested_rows"), record.get("bad_share"), record.get("seed"), record.get("aggregates"),
            record.get("paired", False),
        )  # fmt: skip
        if same == asked and record.get("bytes") == path.stat().st_size:
            return record
    started = time.perf_counter()
    subprocess.run(  # in its own process: this harness stays small
        [PYTHON, str(BENCH_DIR / "generate.py"), "--rows", str(rows), "--out", str(path), "--seed", str(seed),
         "--bad-share", str(bad_share), *(["--aggregates"] if aggregates else []), *(["--paired"] if paired else [])],
        check=True, stdout=subprocess.DEVNULL, cwd=PROJECT_ROOT,
    )  # fmt: skip
    record = json.loads(record_path.read_text())
    record["generate_seconds"] = round(time.perf_counter() - started, 1)
    record_path.write_text(json.dumps(record))
    return record


def warm_cache(path: Path) -> None:
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def run_size(rows: int, args: argparse.Namespace, work: Path, done: list[dict[str, Any]]) -> dict[str, Any]:
    say = args.say
    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    clean = data_dir / f"comtrade_{rows}.csv"
    bad = data_dir / f"comtrade_{rows}_bad.csv"
    measures = [m for m in ALL_MEASURES if m in args.measure and (args.bad_share > 0 or not m.endswith("_bad"))]
    say(f"== {rows:,} rows: generating")
    files = {"clean": ensure_file(rows, clean, 0.0, args.seed, args.aggregates)}
    if "a_bad" in measures or "b_bad" in measures:
        files["bad"] = ensure_file(rows, bad, args.bad_share, args.seed, args.aggregates)
    bad_lines = files.get("bad", {}).get("bad_lines", [])
    for f in files.values():
        warm_cache(Path(f["file"]))
    size: dict[str, Any] = {
        "rows": rows,
        "files": {k: {kk: vv for kk, vv in v.items() if kk != "bad_lines"} for k, v in files.items()},
        "measurements": {m: [] for m in measures},
        "skipped": {},
        "checks": {},
        "loadavg": {"start": [round(v, 2) for v in os.getloadavg()]},  # other work on the machine
        "started": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    guess = predict(done, rows)
    over = []
    if guess is not None:
        rss = guess["peak_rss_mib"]
        size["predicted_tradewh"] = {
            "wall_s": round(guess["wall_s"], 1),
            "peak_rss_mib": None if rss is None else round(rss),
            "basis": guess["basis"],
        }
        if guess["wall_s"] > args.time_budget:
            over.append(f"predicted wall time {guess['wall_s']:.0f} s > budget {args.time_budget:.0f} s")
        if rss is not None and rss * MIB > args.memory_budget_gib * 2**30:
            over.append(f"predicted peak RSS {rss / 1024:.1f} GiB > budget {args.memory_budget_gib:g} GiB")
        if over:
            over[-1] += f" (predicted from {guess['basis']})"
    if killed_before(done, rows):
        over.append(killed_before(done, rows))
    if over:
        reason = f"tradewh not run at {rows:,} rows: {'; '.join(over)}; the bare-DuckDB side still runs"
        for m in TRADEWH_MEASURES:
            if m in measures:
                size["skipped"][m] = reason
        say(reason)
    budget = {"time_budget": args.time_budget, "memory_budget": args.memory_budget_gib * 2**30}
    catalogue = write_catalogue(clean, rows, work / f"catalogue_{rows}.toml")
    catalogue_bad = write_catalogue(bad, rows, work / f"catalogue_{rows}_bad.toml")
    logs = work / "logs"

    def record(key: str, run: Run) -> Run:
        size["measurements"][key].append({**run.to_json(), "loadavg_1m": round(os.getloadavg()[0], 2)})
        state = "ok" if run.returncode == 0 and not run.killed else f"FAILED rc={run.returncode} {run.killed}"
        say(
            f"   {key:<10} {run.wall_s:9.2f} s  cpu {run.cpu_s or 0:8.2f} s  maxrss {run.maxrss_mib:8.1f} MiB  "
            f"tree {run.tree_peak_mib:8.1f} MiB  {state}"
        )
        return run

    def skip(key: str, reason: str) -> None:
        size["skipped"].setdefault(key, reason)

    for rep in range(1, args.repeat + 1):
        say(f"-- {rows:,} rows, repeat {rep}/{args.repeat}")
        tag = f"{rows}-{rep}"
        bare_dir = work / f"bare-{tag}"
        home = work / f"home-{tag}"
        for d in (bare_dir, home):
            shutil.rmtree(d, ignore_errors=True)
        if "a" in measures:
            record(
                "a",
                measure(
                    [PYTHON, str(BENCH_DIR / "bare_duckdb.py"), "--csv", str(clean), "--workdir", str(bare_dir)],
                    env=base_env(), log=logs / f"a-{tag}.log", **budget,
                ),
            )  # fmt: skip
        for key, script in BASELINES.items():  # right after (a): the same file, the same page cache
            if key not in measures:
                continue
            if not BENCH_PYTHON.exists():
                skip(key, f"not run: the bench environment {BENCH_PYTHON.relative_to(PROJECT_ROOT)} is absent "
                     "(`make bench-env`)")  # fmt: skip
                continue
            out_dir = work / f"{key}-{tag}"
            run = record(
                key,
                measure(
                    [str(BENCH_PYTHON), str(BENCH_DIR / script), "--csv", str(clean), "--workdir", str(out_dir)],
                    env=base_env(), log=logs / f"{key}-{tag}.log", **budget,
                ),
            )  # fmt: skip
            rows_out = run.payload.get("rows_loaded", run.payload.get("rows_written"))
            all_rows = rows_out == files["clean"]["rows"]
            size["checks"].setdefault(key, []).append({"rows": rows_out, "all_rows": all_rows})
            shutil.rmtree(out_dir, ignore_errors=True)
        if "empty_cold" in measures:
            cold = work / f"empty-home-{tag}"
            shutil.rmtree(cold, ignore_errors=True)
            record(
                "empty_cold",
                measure(
                    [PYTHON, str(BENCH_DIR / "empty_flow.py")],
                    env={**base_env(), "TRADEWH_HOME": str(cold)}, log=logs / f"empty_cold-{tag}.log", **budget,
                ),
            )  # fmt: skip
            shutil.rmtree(cold, ignore_errors=True)
        if "empty_first" in measures:
            cold, first_cache = work / f"empty-first-home-{tag}", work / f"empty-first-cache-{tag}"
            for folder in (cold, first_cache):
                shutil.rmtree(folder, ignore_errors=True)
            record(
                "empty_first",
                measure(
                    [PYTHON, str(BENCH_DIR / "empty_flow.py")],
                    env={**base_env(), "TRADEWH_HOME": str(cold), "TRADEWH_CACHE_DIR": str(first_cache)},
                    log=logs / f"empty_first-{tag}.log", **budget,
                ),
            )  # fmt: skip
            for folder in (cold, first_cache):
                shutil.rmtree(folder, ignore_errors=True)
        loaded = False
        if "b" in measures and "b" not in size["skipped"]:
            env = tradewh_env(home, catalogue, data_dir)
            b = record(
                "b",
                measure(
                    [TRADEWH, "load"], env=env, log=logs / f"b-{tag}.log", **budget
                ),
            )  # fmt: skip
            outcome = load_outcome(home)
            size["checks"].setdefault("b", []).append(outcome)
            loaded = b.returncode == 0 and outcome.get("rows_loaded") == files["clean"]["rows"]
            if b.killed:  # the next repeats would end the same way
                for m in TRADEWH_MEASURES:
                    skip(m, f"tradewh's load at {rows:,} rows was {b.killed}; not repeated")
            if loaded and "c" in measures:
                record(
                    "c",
                    measure(
                        [TRADEWH, "load"], env=env, log=logs / f"c-{tag}.log", **budget
                    ),
                )  # fmt: skip
                size["checks"].setdefault("c", []).append(load_outcome(home))
                if "rebuilding the warehouse" in (logs / f"c-{tag}.log").read_text():  # e.g. the code changed
                    size["checks"]["c"][-1]["rebuilt"] = True
            if loaded and "empty_warm" in measures:
                record(
                    "empty_warm",
                    measure(
                        [PYTHON, str(BENCH_DIR / "empty_flow.py")],
                        env={**base_env(), "TRADEWH_HOME": str(home)}, log=logs / f"empty_warm-{tag}.log", **budget,
                    ),
                )  # fmt: skip
        if "b_srv" in measures and "b_srv" not in size["skipped"]:  # the same on a home whose server runs
            srv_home = work / f"home-srv-{tag}"
            shutil.rmtree(srv_home, ignore_errors=True)
            env = tradewh_env(srv_home, catalogue, data_dir)
            with project_server(env, logs / f"server-{tag}.log") as took:
                if took is None:
                    skip("b_srv", f"`tradewh server start` failed (see {logs / f'server-{tag}.log'})")
                else:
                    size["checks"].setdefault("server_start_s", []).append(round(took, 2))
                    for key in ("b_srv", "c_srv"):
                        if key not in measures:
                            continue
                        run = record(
                            key,
                            measure(
                                [TRADEWH, "load"], env=env, log=logs / f"{key}-{tag}.log",
                                **budget,
                            ),
                        )  # fmt: skip
                        outcome = load_outcome(srv_home)
                        text = Path(run.log).read_text()
                        outcome["on_server"] = "runs on the Prefect server at" in text
                        outcome["rebuilt"] = key == "c_srv" and "rebuilding the warehouse" in text
                        size["checks"].setdefault(key, []).append(outcome)
                        if run.returncode != 0 or outcome.get("rows_loaded") != files["clean"]["rows"]:
                            break
            shutil.rmtree(srv_home, ignore_errors=True)
        if "import" in measures:
            record(
                "import",
                measure(
                    [PYTHON, "-c", "import warehouse.serve.cli, flows.nightly"],
                    env=base_env(), log=logs / f"import-{tag}.log", **budget,
                ),
            )  # fmt: skip
        for d, query in QUERIES.items():
            if f"{d}_mart" in measures and loaded:
                record(
                    f"{d}_mart",
                    measure(
                        [PYTHON, str(BENCH_DIR / "query.py"), "--db", str(home / "warehouse" / "tradewh.duckdb"),
                         "--which", "mart", "--query", query],
                        env=base_env(), log=logs / f"{d}_mart-{tag}.log", **budget,
                    ),
                )  # fmt: skip
            if f"{d}_hand" in measures and "a" in measures and (bare_dir / "bare.duckdb").exists():
                record(
                    f"{d}_hand",
                    measure(
                        [PYTHON, str(BENCH_DIR / "query.py"), "--db", str(bare_dir / "bare.duckdb"),
                         "--which", "hand", "--query", query],
                        env=base_env(), log=logs / f"{d}_hand-{tag}.log", **budget,
                    ),
                )  # fmt: skip
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(bare_dir, ignore_errors=True)
        if "a_bad" in measures:
            a_bad = record(
                "a_bad",
                measure(
                    [PYTHON, str(BENCH_DIR / "bare_duckdb.py"), "--csv", str(bad), "--workdir", str(bare_dir)],
                    env=base_env(), log=logs / f"a_bad-{tag}.log", **budget,
                ),
            )  # fmt: skip
            if a_bad.returncode == 0:
                got = quarantined_lines(bare_dir / "bare.duckdb", "select distinct file_row from rejected")
                size["checks"].setdefault("a_bad", []).append(quarantine_check(bad_lines, got))
            shutil.rmtree(bare_dir, ignore_errors=True)
        if "b_bad" in measures and "b_bad" not in size["skipped"]:
            b_bad = record(
                "b_bad",
                measure(
                    [TRADEWH, "load"], env=tradewh_env(home, catalogue_bad, data_dir),
                    log=logs / f"b_bad-{tag}.log", **budget,
                ),
            )  # fmt: skip
            outcome = load_outcome(home)
            if outcome.get("published"):
                got = quarantined_lines(
                    home / "warehouse" / "tradewh.duckdb",
                    f"select distinct file_row from audit.rejected_rows where source_id = '{SOURCE_ID}'",
                )
                outcome["quarantine"] = quarantine_check(bad_lines, got)
            size["checks"].setdefault("b_bad", []).append(outcome)
            if b_bad.killed:
                skip("b_bad", f"tradewh's load of the bad file at {rows:,} rows was {b_bad.killed}")
            shutil.rmtree(home, ignore_errors=True)
    for key, runs in size["measurements"].items():
        if not runs and key not in size["skipped"]:
            if key in TRADEWH_MEASURES and "b" in size["skipped"]:
                size["skipped"][key] = size["skipped"]["b"]
            elif key in {"c", "empty_warm", "d_mart", "d2_mart"}:
                size["skipped"][key] = "not run: (b) did not load the file (see its log)"
            elif key == "c_srv":
                size["skipped"][key] = "not run: (b) with the server did not load the file (see its log)"
    size["loadavg"]["end"] = [round(v, 2) for v in os.getloadavg()]
    return size


def run_profile(rows: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """One load and one rerun with every stage timed (benchmarks/profile_load.py), in fresh processes."""
    data_dir = work / "data"
    clean = data_dir / f"comtrade_{rows}.csv"
    ensure_file(rows, clean, 0.0, args.seed, args.aggregates)
    home = work / f"profile-home-{rows}"
    shutil.rmtree(home, ignore_errors=True)
    env = tradewh_env(home, write_catalogue(clean, rows, work / f"catalogue_{rows}.toml"), data_dir)
    budget = {"time_budget": args.time_budget, "memory_budget": args.memory_budget_gib * 2**30}
    out: dict[str, Any] = {"rows": rows}
    for key in ("load", "rerun"):
        args.say(f"== profile: {key} at {rows:,} rows")
        run = measure(
            [
                PYTHON,
                str(BENCH_DIR / "profile_load.py"),
                *(["--wrap", *args.profile_wrap] if args.profile_wrap else []),
            ],
            env=env,
            log=work / "logs" / f"profile-{key}.log",
            **budget,
        )
        out[key] = run.to_json()
    shutil.rmtree(home, ignore_errors=True)
    return out


# --- the report ------------------------------------------------------------------------------------------------


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")


def _fmt_mib(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def _ok_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("returncode") == 0 and not r.get("killed")]


def _payload_median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r["payload"][key] for r in _ok_runs(runs) if key in r.get("payload", {})]
    return statistics.median(values) if values else None


def _paired_median(first: list[dict[str, Any]], second: list[dict[str, Any]]) -> float | None:
    """The median of ``first - second`` over the repeats where both ran (paired by the repeat in the log name:
    the two run one after the other, so a slow spell of the machine cancels out)."""

    def by_repeat(runs: list[dict[str, Any]]) -> dict[str, float]:
        return {Path(r["log"]).stem.split("-", 1)[-1]: r["wall_s"] for r in _ok_runs(runs) if r.get("log")}

    a, b = by_repeat(first), by_repeat(second)
    differences = [a[k] - b[k] for k in a if k in b]
    return statistics.median(differences) if differences else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _fmt_ratio(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def size_figures(size: dict[str, Any]) -> dict[str, Any]:
    """The medians and ratios of one size, from its runs."""
    m = size["measurements"]

    def med(key: str, field_: str = "wall_s") -> float | None:
        return median_of(m.get(key, []), field_)

    f: dict[str, Any] = {k: med(k) for k in ALL_MEASURES}
    f.update({f"{k}_rss": med(k, "maxrss_mib") for k in ALL_MEASURES})
    f.update({f"{k}_tree": med(k, "tree_peak_mib") for k in ALL_MEASURES})
    f["b_over_a"] = _ratio(f["b"], f["a"])
    f["b_minus_prefect_over_a"] = _ratio(
        None if f["b"] is None or f["empty_cold"] is None else f["b"] - f["empty_cold"], f["a"]
    )
    f["c_minus_empty"] = None if f["c"] is None or f["empty_warm"] is None else f["c"] - f["empty_warm"]
    f["c_minus_empty_paired"] = _paired_median(m.get("c", []), m.get("empty_warm", []))
    # with the project's server running (issue 15): against the same load and rerun starting their own server
    f["b_srv_over_b"], f["b_srv_over_a"] = _ratio(f["b_srv"], f["b"]), _ratio(f["b_srv"], f["a"])
    f["c_srv_over_c"] = _ratio(f["c_srv"], f["c"])
    f["b_minus_b_srv"] = None if f["b"] is None or f["b_srv"] is None else f["b"] - f["b_srv"]
    f["c_minus_c_srv"] = None if f["c"] is None or f["c_srv"] is None else f["c"] - f["c_srv"]
    f["b_minus_b_srv_paired"] = _paired_median(m.get("b", []), m.get("b_srv", []))
    f["c_minus_c_srv_paired"] = _paired_median(m.get("c", []), m.get("c_srv", []))
    starts = size.get("checks", {}).get("server_start_s", [])
    f["server_start"] = statistics.median(starts) if starts else None
    for d in QUERIES:
        f[f"{d}_query_mart"] = _payload_median(m.get(f"{d}_mart", []), "query_seconds")
        f[f"{d}_query_hand"] = _payload_median(m.get(f"{d}_hand", []), "query_seconds")
        f[f"{d}_ratio"] = _ratio(f[f"{d}_query_mart"], f[f"{d}_query_hand"])
        f[f"{d}_wall_ratio"] = _ratio(f[f"{d}_mart"], f[f"{d}_hand"])
        marts = [r["payload"] for r in _ok_runs(m.get(f"{d}_mart", []))]
        hands = [r["payload"] for r in _ok_runs(m.get(f"{d}_hand", []))]
        if marts and hands:
            f[f"{d}_same_result"] = same_figures(marts[0], hands[0])
            f[f"{d}_checksum"] = hands[0].get("checksum", {})
    f["b_bad_over_b"] = _ratio(f["b_bad"], f["b"])
    f["a_bad_over_a"] = _ratio(f["a_bad"], f["a"])
    return f


def same_figures(mart: dict[str, Any], hand: dict[str, Any]) -> bool:
    """Whether the two sides of a query returned the same figures: counts equal, sums within 1e-9."""
    one = mart.get("checksum") or {"rows": mart["rows"], "total": mart["total"]}
    other = hand.get("checksum") or {"rows": hand["rows"], "total": hand["total"]}
    if set(one) != set(other):
        return False
    for key, a in one.items():
        b = other[key]
        if a is None or b is None:
            if a is not b:
                return False
        elif isinstance(a, int) and isinstance(b, int):
            if a != b:
                return False
        elif abs(a - b) > 1e-9 * max(1.0, abs(a), abs(b)):
            return False
    return True


def rss_growth(figs: dict[int, dict[str, Any]], rows: int, key: str = "b_rss") -> float | None:
    """Peak RSS at ``rows`` over the peak RSS at a tenth of ``rows`` (the issue's 10M against 1M)."""
    here, tenth = figs.get(rows, {}).get(key), figs.get(rows // 10, {}).get(key)
    return None if rows % 10 else _ratio(here, tenth)


def input_text(meta: dict[str, Any], sizes: list[dict[str, Any]]) -> str:
    """The paragraph describing the generated files (from the run's arguments and the generator's records)."""
    aggregates = meta.get("aggregates", False)
    text = (
        f"Input: `benchmarks/generate.py`, seed {meta['seed']}: UN Comtrade current-API CSV (`plus_api_csv`, the 47 "
        "columns of the seed file), one year (2023, annual, HS 2022), 200 reporters x 200 partners drawn from the "
        "code list's current codes with an ISO3, 5,000 HS6 codes written with their leading zeros, flows M and X, "
        "lognormal `primaryValue`, ~15 % empty `qty`, totals only (partner2 0, customs C00, mode of transport 0), "
        "unique keys."
    )
    if aggregates:
        levels = []
        for s in sizes:
            by = s.get("files", {}).get("clean", {}).get("rows_by_level")
            if by:
                levels.append(f"{s['rows']:,} = {by['6']:,} HS6 + {by['2']:,} chapter + {by['0']:,} TOTAL rows")
        text += (
            " **Several aggregation levels** (`--aggregates`, the default; `--no-aggregates` writes HS6 rows only), "
            "as a download asking for TOTAL, AG2 and AG6 carries: for each reporter x flow x partner, the HS "
            "chapters its HS6 rows fall in (`aggrLevel` 2, `isLeaf` False) and a `TOTAL` row (`aggrLevel` 0), each "
            "valued at the sum of the HS6 rows below it, so the file is internally consistent as the publisher's "
            "is. The row count asked (`--rows`) is the file's total of data rows, every level included, and it is "
            "the count behind rows/s"
            + (": " + "; ".join(levels) if levels else "")
            + " (HS6 codes are spread at random over the reporter x flow x partner groups, so the smaller the "
            "file, the fewer HS6 rows per chapter and the larger the share of chapter and TOTAL rows)."
        )
    else:
        text += " HS6 rows only (`--no-aggregates`): `marts.goods_composition`, which reads chapters, is empty."
    text += (
        f" The bad-row variant corrupts {meta['bad_share']:.0%} of the rows"
        + (" (of every level)" if aggregates else "")
        + " (negative value, unknown partner code 999, a value that is not a number, in equal parts) and records "
        "their line numbers.\n"
    )
    return text


def keep_other_sections(out: Path, kept: str) -> None:
    """Append to ``out`` each section of ``kept`` (the file before this run rendered it) between ``<!-- name: begin
    -->`` and ``<!-- name: end -->`` that ``out`` no longer holds, in ``kept``'s order: what other commands measured
    (the DuckLake target, 100M rows) stays when this one renders its own."""
    text = out.read_text()
    for name in re.findall(r"<!-- ([\w-]+): begin -->", kept):
        begin, end = f"<!-- {name}: begin -->", f"<!-- {name}: end -->"
        if begin in text or end not in kept.split(begin, 1)[1]:
            continue
        text = text.rstrip("\n") + "\n\n" + begin + kept.split(begin, 1)[1].split(end, 1)[0] + end + "\n"
    out.write_text(text)


def render(results: dict[str, Any]) -> str:
    meta, sizes = results["meta"], results["sizes"]
    figs = {s["rows"]: size_figures(s) for s in sizes}
    out: list[str] = []
    w = out.append
    w("# Benchmarks: tradewh against bare DuckDB at Comtrade scale (issue 5)\n")
    w(
        f"Measured {meta['date']} on this machine: {meta['machine']['nproc']} cores "
        f"({meta['machine']['cpu_model'] or 'CPU model not stated'}), {meta['machine']['memory_gib']} GiB memory, "
        f"Linux {meta['machine']['kernel']}. Every figure below comes from the run this file was written by; "
        "nothing is estimated unless it says *predicted*.\n"
    )
    w("Reproduce (from the project folder; about "
      f"{meta.get('elapsed_minutes', '?')} min for this run):\n")  # fmt: skip
    w(f"```sh\n{reproduce_command(meta['command'])}\n```\n")
    if reproduce_command(meta["command"]) != meta["command"]:
        w(f"(This run was started as `{meta['command']}`: the same, with its work files kept in a named folder.)\n")
    w("Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".\n")
    start, end = meta.get("code_at_start"), meta.get("code_at_end", meta.get("code_at_start"))
    if start:
        w(
            f"tradewh measured: code fingerprint `{start}` (SHA-256 of `warehouse/`, `schemas/`, `flows/`, `sql/`)"
            + (
                "."
                if start == end
                else f" at the start and `{end}` at the end: **the code changed during the run**, so sizes "
                "measured at different times may be of different versions."
            )
            + "\n"
        )
    w(input_text(meta, sizes))
    w("## How it is measured\n")
    w(
        "Each figure is the median of the repeats (min-max in brackets), each repeat a fresh process per "
        "measurement, all measurements of a size on the same file, interleaved, with the file in the page cache "
        "(read once before). *Wall* is the child's wall time from spawn to exit. *Peak RSS* is GNU time's `%M` "
        "for the child (`/usr/bin/time`; the kernel's `ru_maxrss`): the largest single process, i.e. the tradewh "
        "process itself, not Prefect's server; "
        "*tree* is the peak of the summed RSS of the child and its descendants (Prefect's local API server runs "
        "as a second process), sampled from /proc every 0.1 s. *rows/s* = rows / median wall.\n"
    )
    w("- **(a)** " + LABELS["a"].split(": ", 1)[1] + " (`benchmarks/bare_duckdb.py`): explicit column types, "
      "Parquet zstd, the rules of `schemas/comtrade.py` as one SQL pass (code list join, flow, classification, "
      "number, non-negative, year, commodity code, period, not null) into a `rejected` table with the line "
      "number, a GROUP BY for duplicate keys, rejected rows deleted.")  # fmt: skip
    w("- **(b)** `tradewh load` (the console script) on a fresh `TRADEWH_HOME`, with a catalogue "
      f"holding one comtrade source `{SOURCE_ID}` whose `location = {{ path = \"<file>\" }}` and the project's "
      f"press release `{RELEASE_ID}` (15 rows, a source that prints growth rates; since 2026-12-06): fetch into the "
      "raw zone, parse, pandera validation and quarantine, Parquet lake, DuckDB build with every view, the "
      "conformed fact's check, atomic publish; Prefect's local server starts inside it. A fresh home is a new "
      "data folder on a machine that ran tradewh before: its Prefect database starts as a copy of one migrated "
      "before (`warehouse/orchestrate/prefect_db.py`; the run makes it first, untimed, in its `TRADEWH_CACHE_DIR`); "
      "what a machine's very first data folder pays more is the *empty flow, first* row.")  # fmt: skip
    w("- **(c)** the same command again on the same home: same file, nothing changed.")
    w("- **(b), (c) with the project's Prefect server running** (issue 15): the same two commands on another fresh "
      "home, whose own server `tradewh server start --port <free port>` started before the timed load (untimed: "
      "it returns once the server answers its health check) and `tradewh server stop` stopped after the rerun. "
      "`tradewh load` finds it (`<home>/prefect/server.json`) and starts no server of its own; the server is not "
      "in the timed process tree, so *tree* is tradewh's process alone. The same environment as (b) "
      "(`PREFECT_LOGGING_TO_API_ENABLED=false`), run right after (b)/(c) in each repeat.")  # fmt: skip
    w("- **empty flow**: `benchmarks/empty_flow.py`, an empty `@flow` started the way `tradewh load` starts its "
      "flow (`configure_prefect`, a local ephemeral server): *fresh* on a new Prefect home (what (b) pays), *warm* "
      "on the Prefect home of (b)/(c) (what (c) pays), *first* on a new Prefect home with an empty cache folder "
      "(Prefect migrates its new database: what a machine's first data folder pays).")  # fmt: skip
    w('- **import**: `python -c "import warehouse.serve.cli, flows.nightly"`: interpreter and library imports.')
    w("- **(d)** `select reporter, partner, sum(exports), sum(imports) from marts.trade_balance where source_id = "
      f"'{SOURCE_ID}' and length(category) = 6 group by all` (the HS6 rows: summing every level of a file that "
      "also holds chapters and TOTAL would count its trade three times) on (b)'s warehouse against the "
      "hand-written equivalent on (a)'s table (join to the code list, totals only, `aggrLevel = 6`, "
      "`sum(...) filter (where flowCode = 'X'/'M')`).")  # fmt: skip
    w(f"- **(d2)** `select * from marts.goods_composition where source_id = '{SOURCE_ID}'` (every HS chapter of "
      "every reporter x partner x flow, its section, the section and total sums, the published TOTAL, three "
      "shares) on (b)'s warehouse against the hand-written equivalent on (a)'s table (the chapter rows, "
      "`aggrLevel = 2`, totals only, joined to the code list and to the commodity codes for the sections, window "
      "sums by section and by flow, the TOTAL row joined beside); both reduced in SQL to one checksum row (row "
      "count, the sum of every numeric column, counts of named codes and sections), so that neither pays for "
      "fetching millions of rows into Python (`benchmarks/query.py`).")  # fmt: skip
    w("- (d) and (d2) run each side in a fresh read-only process; the ratio is of the query's own time (execute "
      "+ fetch), the process wall is in the table; *same figures* compares every figure of the checksum (counts "
      "exactly, sums within 1e-9).\n")  # fmt: skip

    w("## Results\n")
    w("| rows | measurement | wall s (min-max) | rows/s | peak RSS MiB | tree peak MiB | runs |")
    w("|---:|---|---:|---:|---:|---:|---|")
    for s in sizes:
        rows = s["rows"]
        for key in ALL_MEASURES:
            runs = s["measurements"].get(key)
            if runs is None and key not in s["skipped"]:
                continue
            ok = _ok_runs(runs or [])
            killed = [r for r in runs or [] if r.get("killed")]
            for r in killed:  # a run killed past a budget: what it had reached when it was killed
                w(
                    f"| {rows:,} | {LABELS[key]} | killed at {_fmt_s(r['wall_s'])} | — | "
                    f"{_fmt_mib(r['maxrss_mib'])} (at kill) | {_fmt_mib(r['tree_peak_mib'])} (at kill) | "
                    f"{r['killed']} |"
                )
            if not ok:
                failed = [f"exit code {r['returncode']}" for r in runs or [] if not r.get("killed")]
                why = "; ".join([*failed, *([s["skipped"][key]] if key in s["skipped"] else [])])
                if not killed or failed or key not in {"b", "b_bad"}:
                    w(f"| {rows:,} | {LABELS[key]} | not run | — | — | — | {why or 'not run'} |")
                continue
            walls = [r["wall_s"] for r in ok]
            med = statistics.median(walls)
            rate = f"{rows / med:,.0f}" if key in {"a", "b", "b_srv", "a_bad", "b_bad", *BASELINES} else "—"
            rss = statistics.median(r["maxrss_mib"] for r in ok)
            tree = statistics.median(r["tree_peak_mib"] for r in ok)
            failed = len(runs) - len(ok)
            note = f"{len(ok)}" + (f" ({failed} failed)" if failed else "")
            if key.startswith(("d_", "d2_")):
                q = _payload_median(runs, "query_seconds")
                note += f"; query {q:.3f} s" if q is not None else ""
            w(
                f"| {rows:,} | {LABELS[key]} | {_fmt_s(med)} ({_fmt_s(min(walls))}-{_fmt_s(max(walls))}) | {rate} "
                f"| {_fmt_mib(rss)} | {_fmt_mib(tree)} | {note} |"
            )
    w("")
    w("### Ratios\n")
    w(
        "| rows | (b)/(a) | (b − fresh empty flow)/(a) | (b) peak RSS / (b) at a tenth of the rows: process "
        "(tree) | (c) − warm empty flow | (d) mart/hand query (process wall) | same figures | (d2) mart/hand query "
        "(process wall) | same figures | (b')/(b) | (a')/(a) | bad rows quarantined with line: tradewh / bare |"
    )
    w("|---:|---:|---:|---:|---:|---:|---|---:|---|---:|---:|---|")
    for s in sizes:
        f = figs[s["rows"]]
        qb = [c.get("quarantine") for c in s["checks"].get("b_bad", []) if c.get("quarantine")]
        qa = s["checks"].get("a_bad", [])
        qtext = " / ".join(
            "—" if not q else f"{q[0]['quarantined_with_line']:,} of {q[0]['bad_rows']:,}, {q[0]['extra']} extra"
            for q in (qb, qa)
        )
        same = {d: {True: "yes", False: "NO"}.get(f.get(f"{d}_same_result"), "—") for d in QUERIES}
        c_minus = "—" if f["c_minus_empty"] is None else f"{f['c_minus_empty']:+.2f} s"
        if f["c_minus_empty"] is not None and f.get("c_minus_empty_paired") is not None:
            c_minus += f" (paired {f['c_minus_empty_paired']:+.2f} s)"
        growth = (
            f"{_fmt_ratio(rss_growth(figs, s['rows']))} ({_fmt_ratio(rss_growth(figs, s['rows'], 'b_tree'))})"
            if rss_growth(figs, s["rows"]) is not None
            else "—"
        )
        w(
            f"| {s['rows']:,} | {_fmt_ratio(f['b_over_a'])} | {_fmt_ratio(f['b_minus_prefect_over_a'])} | {growth} | "
            f"{c_minus} | {_fmt_ratio(f['d_ratio'])} ({_fmt_ratio(f['d_wall_ratio'])}) | {same['d']} | "
            f"{_fmt_ratio(f['d2_ratio'])} ({_fmt_ratio(f['d2_wall_ratio'])}) | {same['d2']} | "
            f"{_fmt_ratio(f['b_bad_over_b'])} | {_fmt_ratio(f['a_bad_over_a'])} | {qtext} |"
        )
    w("")
    if any(figs[s["rows"]]["b_srv"] is not None for s in sizes):
        w("With the project's Prefect server running (issue 15), against the same commands starting their own "
          "temporary server; *paired*: the median of the differences within a repeat:\n")  # fmt: skip
        w("| rows | server start (untimed) s | (b) with server s | (b) with server / (b) | (b) − (b) with server "
          "(paired) | (b) with server / (a) | (c) with server s | (c) with server / (c) | (c) − (c) with server "
          "(paired) |")  # fmt: skip
        w("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in sizes:
            f = figs[s["rows"]]
            diff = {}
            for k in ("b", "c"):
                d, paired = f[f"{k}_minus_{k}_srv"], f[f"{k}_minus_{k}_srv_paired"]
                diff[k] = "—" if d is None else f"{d:+.2f} s" + ("" if paired is None else f" ({paired:+.2f} s)")
            w(
                f"| {s['rows']:,} | {_fmt_s(f['server_start'])} | {_fmt_s(f['b_srv'])} | "
                f"{_fmt_ratio(f['b_srv_over_b'])} | {diff['b']} | {_fmt_ratio(f['b_srv_over_a'])} | "
                f"{_fmt_s(f['c_srv'])} | {_fmt_ratio(f['c_srv_over_c'])} | {diff['c']} |"
            )
        w("")
    bare_stages = []
    for s in sizes:
        a_ok = _ok_runs(s["measurements"].get("a", []))
        if a_ok:
            names = list(a_ok[0]["payload"].get("stages", {}))
            medians = {n: statistics.median(r["payload"]["stages"][n] for r in a_ok) for n in names}
            bare_stages.append((s["rows"], medians))
    if bare_stages:
        names = list(bare_stages[0][1])
        w("Inside (a), seconds by stage (median):\n")
        w("| rows | " + " | ".join(names) + " |")
        w("|---:|" + "---:|" * len(names))
        for rows, medians in bare_stages:
            w(f"| {rows:,} | " + " | ".join(f"{medians.get(n, 0):.2f}" for n in names) + " |")
        w("")
    checks = []
    for s in sizes:
        for c in s["checks"].get("b", [])[:1]:
            checks.append(
                f"{s['rows']:,} rows: (b) run status `{c.get('run_status')}`, source `{c.get('source_status')}`, "
                f"{c.get('rows_loaded')} rows loaded of {c.get('rows_read')} read"
            )
        for c in s["checks"].get("c", [])[:1]:
            checks.append(f"{s['rows']:,} rows: (c) source `{c.get('source_status')}` ({c.get('message')})")
        for key in ("c", "c_srv"):
            rebuilt = sum(bool(c.get("rebuilt")) for c in s["checks"].get(key, []))
            if rebuilt:
                checks.append(
                    f"{s['rows']:,} rows: **{LABELS[key].split(',')[0]} rebuilt the warehouse in {rebuilt} of "
                    f"{len(s['checks'][key])} runs** (its log says why, e.g. the code changed since (b)): not a no-op"
                )
        for key in ("b_srv", "c_srv"):
            on = [c.get("on_server") for c in s["checks"].get(key, [])]
            for c in s["checks"].get(key, [])[:1]:
                checks.append(
                    f"{s['rows']:,} rows: {LABELS[key].split(',')[0]} with the server: run status "
                    f"`{c.get('run_status')}`, source `{c.get('source_status')}`, {c.get('rows_loaded')} rows loaded; "
                    f"ran on the project's server (its log says so) in {sum(map(bool, on))} of {len(on)} runs"
                )
        for c in s["checks"].get("b_bad", [])[:1]:
            checks.append(
                f"{s['rows']:,} rows: (b') run status `{c.get('run_status')}`, {c.get('rows_rejected')} rows "
                f"rejected of {c.get('rows_read')}"
            )
        for c in [r["payload"].get("checksum", {}) for r in _ok_runs(s["measurements"].get("d2_mart", []))][:1]:
            checks.append(
                f"{s['rows']:,} rows: (d2) {c['rows']:,} chapter rows in `marts.goods_composition`, "
                f"{c.get('rows_with_published_total', 0):,} with the published TOTAL beside them; largest gap "
                "between the sum of the chapters and the published TOTAL: "
                + ("—" if c.get("largest_gap_to_published_total") is None
                   else f"{c['largest_gap_to_published_total']:.1e} (relative)")
            )  # fmt: skip
        if "predicted_tradewh" in s:
            p = s["predicted_tradewh"]
            rss = "" if p.get("peak_rss_mib") is None else f" and {p['peak_rss_mib'] / 1024:.1f} GiB peak RSS"
            basis = f" (from {p['basis']})" if p.get("basis") else ""
            checks.append(
                f"{s['rows']:,} rows: tradewh's load was predicted at {p['wall_s']:.0f} s{rss} before running{basis}"
            )
    if checks:
        w("Checks on what the loads produced (read from the published warehouse after each run, untimed):\n")
        w("\n".join(f"- {c}" for c in checks) + "\n")

    w("## The targets of issue 5\n")
    w(
        "The issue states its targets on the 10M-row file. Each line gives the figure at the largest size where "
        "it was measured in this run, and says which size that is.\n"
    )
    for line in targets(results, figs):
        w(f"- {line}")
    w("")
    prof = results.get("profile")
    if prof:
        w(f"## Where tradewh's time and memory go ({prof['rows']:,} rows, one load, one rerun)\n")
        nproc = results["meta"].get("machine", {}).get("nproc")
        all_cores = f"{nproc:.2f} is all {nproc} cores of this machine" if nproc else "1.00 is one core"
        w(
            "`benchmarks/profile_load.py` runs `tradewh load` in one fresh process with each stage function "
            "wrapped (not changed): wall seconds (a stage includes the stages nested under it, `>`), the cores "
            "the process kept busy meanwhile (its CPU seconds, every thread's, over the stage's wall seconds: "
            f"{all_cores}; the Prefect server's process is not counted), and the process's peak "
            "RSS while the stage ran (VmHWM, reset at each stage start). A generator (a streaming "
            "parser) is timed over its iteration: the time spent inside it each time it is resumed, summed, with "
            "what it calls nested under it; its consumer's work between two items is not counted (*items*: how "
            "many it yielded). Without the profiler's overhead: only the stage functions are wrapped, from a list "
            "of old and new names; a name the code measured does not have is skipped and listed.\n"
        )
        absent = sorted({n for k in ("load", "rerun") for n in prof.get(k, {}).get("payload", {}).get("not_found", [])})
        if absent:
            w(
                "Stage functions of the profiler's list not found in the code measured (skipped, not timed): "
                + ", ".join(f"`{name}`" for name in absent)
                + ".\n"
            )
        for key in ("load", "rerun"):
            run = prof.get(key, {})
            payload = run.get("payload", {})
            if not payload.get("stages"):
                w(f"{key}: no profile ({run.get('killed') or 'exit code ' + str(run.get('returncode'))})\n")
                continue
            total = payload["total_seconds"]
            cpu_total = payload.get("total_cpu_seconds")
            cpu_text = (
                "" if cpu_total is None else f", process CPU {cpu_total:.1f} s ({cpu_total / total:.2f} cores busy)"
            )
            w(
                f"**{key}**: {run['wall_s']:.1f} s wall for the process, {total:.1f} s from importing "
                f"`flows.nightly` to the end of `cli.main(['load'])`{cpu_text}, "
                f"process peak RSS {payload['process_peak_rss_mib']:,.0f} MiB.\n"
            )
            w(
                "| stage | seconds | share of the load | cores busy while running | peak RSS MiB while running "
                "| RSS after MiB |"
            )
            w("|---|---:|---:|---:|---:|---:|")
            for row in stage_rows(payload["stages"]):
                depth, name, seconds, cores, peak, after = row
                indent = "&nbsp;&nbsp;&nbsp;&nbsp;" * depth
                w(
                    f"| {indent}{name} | {seconds:.2f} | {100 * seconds / total:.0f} % | "
                    f"{'' if cores is None else f'{cores:.2f}'} | "
                    f"{'' if peak is None else f'{peak:,.0f}'} | {'' if after is None else f'{after:,.0f}'} |"
                )
            main = [st for st in payload["stages"] if st.get("thread", "MainThread") == "MainThread"]
            top_level = sum(st["seconds"] for st in main if " > " not in st["path"])
            w(
                f"| *outside these stages (Prefect's flow and task run bookkeeping through its API, the flow's "
                f"own code; where the local server starts in a thread, the main thread's wait for it)* | "
                f"{total - top_level:.2f} | {100 * (total - top_level) / total:.0f} % | | | |\n"
            )
            if len(main) < len(payload["stages"]):
                w(
                    "A stage *in thread* ran beside the main thread's (its seconds are not part of the main "
                    "thread's sum): the main thread's *own code* of the stage that consumes it includes the time it "
                    "waited for it, and the writes handed to the Parquet writer thread.\n"
                )
        checked = {key: verification(prof.get(key, {}).get("payload", {})) for key in ("load", "rerun")}
        if any(checked.values()):
            w("**Verifying the lake** (issue 16): the SHA-256 stages of the profile above, each with what it "
              "includes: " + "; ".join(f"{key}: {text}" for key, text in checked.items() if text) + ".\n")  # fmt: skip
    base = _baselines()
    if base.has_baselines(sizes):  # issue 22's dlt and polars, measured in this run
        w(base.section(sizes))
    w("## Raw figures\n")
    w(f"Every run (wall, RSS, exit code, log) is in `{meta.get('json', 'the JSON file')}` as written by this run.\n")
    return "\n".join(out)


# what a stage does outside the stages timed inside it
OWN_WORK = {  # by the labels of benchmarks/profile_load.py's CANDIDATES; any other stage: "its own code"
    "parse": "copy of the frame, provenance columns, concat",
    "parse_comtrade": "the per-record Python loop: `to_row` and `Columns.add` for every record",
    "validate": "`validate_frame` itself: failure cases, the split into valid and quarantined rows",
    "write Parquet": "manifest, rows of the vintage selected",
    "stage source (parse, validate, Parquet, by batch)": "its own code: provenance columns, Parquet writes, "
    "quarantine cases",
    "build warehouse": "its own code: connect and attach, the views and tables of sql/, commit, checkpoint",
}


# the profile's stages that hash (benchmarks/profile_load.py's labels): the lake's verification (issue 16)
VERIFY_STAGES = ("raw payloads hashed", "lake files verified", "lake file check", "SHA-256 of a file")


def verification(payload: dict[str, Any]) -> str:
    """The outermost hashing stages of one profiled run, in words, with the main thread's sum ('' when none)."""
    total, parts, main = payload.get("total_seconds"), [], 0.0
    for st in payload.get("stages", []):
        names = st["path"].split(" > ")
        first = next((i for i, n in enumerate(names) if n.startswith(VERIFY_STAGES)), None)
        if first != len(names) - 1 or not total:
            continue  # not a hashing stage, or one nested in another (counted there)
        thread = st.get("thread", "MainThread")
        calls = f" (x{st['calls']})" if st["calls"] > 1 else ""
        where = "" if thread == "MainThread" else f", in thread `{thread}` beside the main thread's stages"
        parts.append(f"`{st['path']}`{calls} {st['seconds']:.2f} s ({100 * st['seconds'] / total:.0f} %){where}")
        main += st["seconds"] if thread == "MainThread" else 0.0
    if not parts:
        return ""
    return ", ".join(parts) + f" (on the main thread {main:.2f} s, {100 * main / total:.0f} % of the run)"


def stage_rows(
    stages: list[dict[str, Any]],
) -> list[tuple[int, str, float, float | None, float | None, float | None]]:
    """(depth, name, seconds, cores, peak MiB, RSS after MiB) per stage, parents first, then each parent's own work
    (its time outside the stages nested in it) when that is at least 0.05 s. *cores*: the process's CPU seconds over
    the stage's wall seconds (every thread's, so a stage beside a busy thread counts that thread too); None for a
    profile recorded without CPU times, for a stage under 0.05 s, and for a parent's own work."""
    out: list[tuple[int, str, float, float | None, float | None, float | None]] = []

    def children(path: str | None, thread: str | None = None) -> list[dict[str, Any]]:
        depth = 0 if path is None else path.count(" > ") + 1
        return [
            st
            for st in stages
            if st["path"].count(" > ") == depth
            and (path is None or st["path"].startswith(path + " > "))
            and (thread is None or st.get("thread", "MainThread") == thread)
        ]

    def visit(st: dict[str, Any]) -> None:
        depth = st["path"].count(" > ")
        name = st["path"].rsplit(" > ", 1)[-1]
        calls = f" (x{st['calls']})" if st["calls"] > 1 else ""
        if st.get("items") is not None:  # a generator: timed over its iteration
            made = "" if st["calls"] == 1 else f" from {st['calls']} calls"
            calls = f" ({st['items']:,} item{'' if st['items'] == 1 else 's'}{made})"
        if st["seconds"] < 0.005 and depth:
            return
        thread = st.get("thread", "MainThread")
        if depth == 0 and thread != "MainThread":  # e.g. the parser, a batch ahead of the stage that consumes it
            calls += f", in thread `{thread}`, alongside the main thread's stages"
        cpu = st.get("cpu_seconds")
        cores = cpu / st["seconds"] if cpu is not None and st["seconds"] >= 0.05 else None
        out.append((depth, name + calls, st["seconds"], cores, st["peak_rss_mib"], st["rss_after_mib"]))
        kids = children(st["path"], thread)
        for kid in kids:
            visit(kid)
        own = st["seconds"] - sum(k["seconds"] for k in kids)
        if any(k["seconds"] >= 0.005 for k in kids) and own >= 0.05:
            out.append((depth + 1, f"*{OWN_WORK.get(name, 'its own code')}*", own, None, None, None))

    for st in children(None):
        visit(st)
    return out


def reproduce_command(command: str) -> str:
    """The command without the options that only say where work files go (``--workdir DIR``, ``--keep``)."""
    words, out, skip = shlex.split(command), [], False
    for word in words:
        if skip:
            skip = False
        elif word == "--workdir":
            skip = True
        elif word != "--keep" and not word.startswith("--workdir="):
            out.append(word)
    return shlex.join(out)


def _where(figs: dict[int, dict[str, Any]], key: str) -> tuple[int, Any] | None:
    have = [(rows, f[key]) for rows, f in figs.items() if f.get(key) is not None]
    return max(have) if have else None


def _stage(results: dict[str, Any], which: str, name: str) -> dict[str, Any] | None:
    stages = results.get("profile", {}).get(which, {}).get("payload", {}).get("stages", [])
    return next((s for s in stages if s["path"] == name), None)


def _killed_load(results: dict[str, Any], rows: int) -> dict[str, Any] | None:
    """tradewh's load at ``rows`` when every run of it was killed past a budget (the first such run)."""
    runs = next((s["measurements"].get("b", []) for s in results["sizes"] if s["rows"] == rows), [])
    killed = [r for r in runs if r.get("killed")]
    return killed[0] if killed and not _ok_runs(runs) else None


def rss_targets(results: dict[str, Any], figs: dict[int, dict[str, Any]]) -> list[str]:
    """The two memory targets, exactly as the issue states them: the tradewh process's peak RSS at 10M rows (at
    most 1 GiB), and that peak over the peak at 1M rows (at most 1.25x); each also for the process tree."""
    met = {True: "**met**", False: "**not met**"}
    sizes = {s["rows"]: s for s in results["sizes"]}
    target, base = TARGET_ROWS, BASE_ROWS
    peak, tree = figs.get(target, {}).get("b_rss"), figs.get(target, {}).get("b_tree")
    killed = _killed_load(results, target)
    why_not = (sizes.get(target, {}).get("skipped", {}).get("b") or f"{target:,} rows were not in this run").rstrip(".")
    measured = [rows for rows, f in sorted(figs.items()) if f.get("b_rss") is not None]
    lines = []

    if peak is not None:
        first = (
            f"**peak RSS at most 1 GiB at {target:,} rows**: {met[peak <= 1024]}: the tradewh process peaks at "
            f"{peak:,.0f} MiB (process tree with Prefect's server {tree:,.0f} MiB: "
            f"{'within' if tree <= 1024 else 'over'} 1 GiB)"
        )
    elif killed:
        first = (
            f"**peak RSS at most 1 GiB at {target:,} rows**: **not met**: tradewh's load was {killed['killed']}; "
            f"when killed the tradewh process had reached {killed['maxrss_mib']:,.0f} MiB (process tree "
            f"{killed['tree_peak_mib']:,.0f} MiB)"
        )
    else:
        first = f"**peak RSS at most 1 GiB at {target:,} rows**: not measured ({why_not})"
        if measured:
            rows, f = measured[-1], figs[measured[-1]]
            first += (
                f"; at the largest size measured, {rows:,} rows, the tradewh process peaks at {f['b_rss']:,.0f} MiB "
                f"(process tree {f['b_tree']:,.0f} MiB): 1 GiB {'kept' if f['b_rss'] <= 1024 else 'exceeded'} there"
            )
    bare = _where(figs, "a_rss")
    if bare:
        first += (
            f". For scale, the bare-DuckDB pipeline (a) peaks at {bare[1]:,.0f} MiB at {bare[0]:,} rows with "
            "DuckDB's default memory limit (80 % of RAM): a 1 GiB target binds DuckDB too (`memory_limit`)"
        )
    prof = results.get("profile", {})
    stages = [st for st in prof.get("load", {}).get("payload", {}).get("stages", []) if " > " not in st["path"]]
    if stages:
        top = max(stages, key=lambda st: st["peak_rss_mib"] or 0)
        first += f". Memory peaks during `{top['path']}`: {top['peak_rss_mib']:,.0f} MiB at {prof['rows']:,} rows"
    lines.append(first + ".")

    base_peak, base_tree = figs.get(base, {}).get("b_rss"), figs.get(base, {}).get("b_tree")
    name = f"**{target:,} rows at most 1.25x the peak RSS of {base:,} rows**"
    if peak is not None and base_peak is not None:
        growth, tree_growth = peak / base_peak, _ratio(tree, base_tree)
        second = (
            f"{name}: {met[growth <= 1.25]}: {growth:.2f}x for the tradewh process ({peak:,.0f} MiB against "
            f"{base_peak:,.0f} MiB)"
            + (f"; {tree_growth:.2f}x for the process tree ({tree:,.0f} against {base_tree:,.0f} MiB)"
               if tree_growth is not None else "")
        )  # fmt: skip
    elif killed and base_peak is not None:
        second = (
            f"{name}: **not met**: at least {killed['maxrss_mib'] / base_peak:.1f}x for the tradewh process "
            f"(killed at {killed['maxrss_mib']:,.0f} MiB against {base_peak:,.0f} MiB at {base:,} rows)"
            + (f", at least {killed['tree_peak_mib'] / base_tree:.1f}x for the process tree" if base_tree else "")
        )
    else:
        missing = [f"{n:,} rows" for n, v in ((base, base_peak), (target, peak)) if v is None]
        second = f"{name}: not measured (no completed load at {' and '.join(missing)}"
        second += f": {why_not})" if peak is None and not killed else ")"
        pairs = [n for n in measured if rss_growth(figs, n) is not None]
        if pairs:
            n = pairs[-1]
            second += (
                f"; for orientation only, {n:,} rows cost {rss_growth(figs, n):.2f}x the peak RSS of {n // 10:,} "
                f"rows (process tree {_fmt_ratio(rss_growth(figs, n, 'b_tree'))})"
            )
    lines.append(second + ".")
    return lines


def mart_targets(results: dict[str, Any], figs: dict[int, dict[str, Any]]) -> list[str]:
    """The mart target, for the balance (d) and the composition (d2) marts."""
    met = {True: "**met**", False: "**not met**"}
    chains = {  # the views each mart query reads, top first
        "d": ["marts.trade_balance", "marts.trade_balance_vintages", "core.fct_trade_figure", "staging.stg_comtrade"],
        "d2": ["marts.goods_composition", "core.fct_trade_figure", "staging.stg_comtrade"],
    }
    stored_now = results["meta"].get("materialized")  # None: a run from before the harness recorded it

    def why(d: str) -> str:
        stored = [v for v in chains[d] if v in (stored_now or [])]
        if stored_now is None:
            return ""
        if not stored:
            return f" The mart is computed at query time through {' -> '.join(reversed(chains[d]))}; nothing is stored."
        return (
            f" The build stores {', '.join(f'`{v}`' for v in stored)} (`-- materialized: table`): the query reads "
            "stored rows, and computing them is part of (b)'s build."
        )

    names = {"d": "marts.trade_balance", "d2": "marts.goods_composition"}
    lines = []
    for d in QUERIES:
        r = _where(figs, f"{d}_ratio")
        name = f"**({d}) `{names[d]}` within 1.2x of hand-written SQL**"
        if r:
            rows, ratio = r
            f = figs[rows]
            same = {True: "yes", False: "**NO**"}.get(f.get(f"{d}_same_result"), "not compared")
            lines.append(
                f"{name}: {met[ratio <= 1.2]} at {rows:,} rows: {f[f'{d}_query_mart']:.3f} s against "
                f"{f[f'{d}_query_hand']:.3f} s ({ratio:.1f}x), same figures: {same}.{why(d)}"
            )
        elif d == "d2" and not results["meta"].get("aggregates", False):
            lines.append(f"{name}: not measured: the input has HS6 rows only (`--no-aggregates`), and the mart reads "
                         "chapters (2-digit codes), so it is empty.")  # fmt: skip
        else:
            lines.append(f"{name}: not measured in this run (see the table for why).")
    return lines


def targets(results: dict[str, Any], figs: dict[int, dict[str, Any]]) -> list[str]:
    lines = []
    met = {True: "**met**", False: "**not met**"}

    def top_stages(which: str) -> str:
        payload = results.get("profile", {}).get(which, {}).get("payload", {})
        stages = [s for s in payload.get("stages", []) if " > " not in s["path"]]
        if not stages:
            return ""
        total = payload["total_seconds"]
        ranked = sorted(stages, key=lambda s: s["seconds"], reverse=True)[:4]
        parts = ", ".join(f"{s['path']} {s['seconds']:.1f} s ({100 * s['seconds'] / total:.0f} %)" for s in ranked)
        return f" Profile at {results['profile']['rows']:,} rows ({which}): {parts}."

    r = _where(figs, "b_over_a")
    if r:
        rows, ratio = r
        f = figs[rows]
        lines.append(
            f"**(b) within 1.2x of (a)**: {met[ratio <= 1.2]} at {rows:,} rows: (b)/(a) = {ratio:.2f}x "
            f"({f['b']:.1f} s against {f['a']:.2f} s)"
            + (
                f"; without Prefect's fixed cost (fresh empty flow {f['empty_cold']:.1f} s) "
                f"{f['b_minus_prefect_over_a']:.2f}x, "
                + ("within" if f["b_minus_prefect_over_a"] <= 1.2 else "not within")
                + " 1.2x: what tradewh does beyond Prefect's start, against what bare DuckDB does"
                if f["b_minus_prefect_over_a"] is not None
                else ""
            )
            + (
                f"; with the project's Prefect server running (no server start in the load) {f['b_srv']:.1f} s, "
                f"{f['b_srv_over_a']:.2f}x of (a) and {f['b_srv_over_b']:.2f}x of the load that starts its own"
                if f["b_srv_over_a"] is not None and f["b_srv_over_b"] is not None
                else ""
            )
            + "."
            + top_stages("load")
        )
    else:
        lines.append("**(b) within 1.2x of (a)**: not measured in this run (see the table for why).")
    largest_a = _where(figs, "a")
    if largest_a and (r is None or largest_a[0] > r[0]):
        rows, a_wall = largest_a
        lines.append(
            f"**(b) within 1.2x of (a) at {rows:,} rows**: (a) takes {a_wall:.1f} s there, so the target asks for "
            f"a tradewh load in at most {1.2 * a_wall:.1f} s ({rows / (1.2 * a_wall):,.0f} rows/s); tradewh's load "
            f"did not complete at that size (below)."
        )
    lines.extend(rss_targets(results, figs))
    r = _where(figs, "b_bad_over_b")
    if r:
        rows, ratio = r
        check = next(
            (c.get("quarantine") for s in results["sizes"] if s["rows"] == rows for c in s["checks"].get("b_bad", [])),
            None,
        )
        q = (
            f"; {check['quarantined_with_line']:,} of {check['bad_rows']:,} bad rows quarantined with their row "
            f"number, {check['extra']} other rows quarantined: {met[bool(check['all_quarantined'])]}"
            if check
            else ""
        )
        lines.append(
            f"**1 % bad rows at most 1.3x the clean run**: {met[ratio <= 1.3]} at {rows:,} rows: {ratio:.2f}x{q}."
        )
    else:
        lines.append("**1 % bad rows at most 1.3x the clean run**: not measured in this run.")
    r = _where(figs, "c_minus_empty")
    if r:
        rows, extra = r
        f = figs[rows]
        rerun_build = _stage(results, "rerun", "build warehouse")
        republished = _stage(results, "rerun", "republish (no rebuild)")
        why = ""
        if republished and not rerun_build:
            why = (
                f" The rerun at {results['profile']['rows']:,} rows did not rebuild: `republish` took "
                f"{republished['seconds']:.2f} s."
            )
        elif rerun_build:
            why = (
                f" The rerun skips parsing (the SHA-256 is unchanged) but still rebuilds the whole warehouse from "
                f"the lake: `build warehouse` takes {rerun_build['seconds']:.1f} s of the rerun at "
                f"{results['profile']['rows']:,} rows."
            )
        lines.append(
            f"**no-op rerun at most 1 s over an empty flow**: {met[extra <= 1.0]} at {rows:,} rows: (c) "
            f"{f['c']:.1f} s against {f['empty_warm']:.1f} s for the empty flow on the same Prefect home, "
            f"{extra:+.2f} s (the difference of the medians, which the verdict uses"
            + (
                f"; the median of the paired differences, each rerun against the empty flow run right after it: "
                f"{f['c_minus_empty_paired']:+.2f} s)"
                if f.get("c_minus_empty_paired") is not None
                else ")"
            )
            + (f" (importing tradewh's libraries alone: {f['import']:.1f} s)." if f["import"] is not None else ".")
            + why
            + (
                f" With the project's Prefect server running, the no-op takes {f['c_srv']:.2f} s "
                f"({f['c_srv_over_c']:.2f}x of (c); (c) minus it: {f['c_minus_c_srv']:+.2f} s; issue 22's target "
                f"of at most 2 s with the server running: {met[f['c_srv'] <= 2.0]})."
                if f["c_srv"] is not None and f["c_srv_over_c"] is not None
                else ""
            )
        )
    else:
        lines.append("**no-op rerun at most 1 s over an empty flow**: not measured in this run.")
    lines.extend(mart_targets(results, figs))
    skipped = [(s["rows"], k, v) for s in results["sizes"] for k, v in s["skipped"].items() if k == "b"]
    for rows, _, why in skipped:
        lines.append(f"**{rows:,} rows, tradewh**: {why}.")
    return lines


# --- main ----------------------------------------------------------------------------------------------------


def _incremental() -> Any:  # noqa: ANN401 (a module)
    """benchmarks/incremental.py (issue 22's case), beside this script; this folder is not a package."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    import incremental

    return incremental


def _baselines() -> Any:  # noqa: ANN401 (a module)
    """benchmarks/baselines.py (issue 22's dlt and polars section), beside this script."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    import baselines

    return baselines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=""
    )
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000], help="sizes, smallest first")
    parser.add_argument("--repeat", type=int, default=3, help="fresh-process runs per measurement (median)")
    parser.add_argument("--bad-share", type=float, default=0.01, help="share of bad rows in the variant (0: none)")
    parser.add_argument(
        "--aggregates", action=argparse.BooleanOptionalAction, default=True,
        help="files with HS chapter (AG2) and TOTAL rows beside the HS6 rows, as the publisher sums them; --rows "
        "counts every row (default: on; --no-aggregates: HS6 rows only, and (d2) has nothing to read)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=20121207)
    parser.add_argument("--measure", nargs="+", choices=ALL_MEASURES, default=list(ALL_MEASURES))
    parser.add_argument(
        "--profile-rows",
        type=int,
        default=None,
        help="size of the stage profile (default: the largest size <= 1M where (b) ran; 0: none)",
    )
    parser.add_argument(
        "--profile-wrap", nargs="+", default=[], metavar="MODULE:ATTR=LABEL",
        help="more functions for the profile to time (benchmarks/profile_load.py --wrap)",
    )  # fmt: skip
    parser.add_argument("--time-budget", type=float, default=900.0, help="seconds per tradewh load (default 900)")
    parser.add_argument("--memory-budget-gib", type=float, default=12.0, help="GiB per process tree (default 12)")
    parser.add_argument("--workdir", type=Path, default=None, help="for the files and homes (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (generated files, logs)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "BENCHMARKS.md")
    parser.add_argument(
        "--json", type=Path, default=None,
        help="raw figures (default: benchmarks/results/latest.json with the default --out, else <out>.json)",
    )  # fmt: skip
    parser.add_argument("--from-json", type=Path, default=None, help="only re-render --out from this JSON")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--incremental", type=int, nargs="*", default=None, metavar="ROWS",
        help="only issue 22's incremental night and no-op at these sizes (default: "
        f"{' '.join(str(r) for r in INCREMENTAL_ROWS)}; benchmarks/incremental.py): writes their section of --out, "
        "the rest of it unchanged, and benchmarks/results/incremental.json",
    )  # fmt: skip
    parser.add_argument(
        "--baselines-only", action="store_true",
        help="only issue 22's side-by-side cases at --rows ((a), polars, dlt, (b), (b) with the server; --measure "
        "narrows them), interleaved: writes their section of --out, the rest of it unchanged, and "
        "benchmarks/results/baselines.json (other sizes of an earlier such run kept); with --from-json, only re-render",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.say = (lambda *_: None) if args.quiet else (lambda text: print(text, flush=True))

    if args.baselines_only:
        base = _baselines()
        json_path = args.json or BENCH_DIR / "results" / "baselines.json"
        if args.from_json:
            base.write_section(args.out, base.section(json.loads(args.from_json.read_text())["sizes"]))
            return 0
        if args.measure == list(ALL_MEASURES):
            args.measure = list(base.CASES)
        shown = [a if a != str(PROJECT_ROOT / "BENCHMARKS.md") else "BENCHMARKS.md" for a in (argv or sys.argv[1:])]
        work = args.workdir or Path(tempfile.mkdtemp(prefix="tradewh-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        use_cache(work, args.say)
        try:
            base.main_baselines(args, ".venv/bin/python benchmarks/run.py " + shlex.join(shown), json_path, work)
        finally:
            if not args.keep:  # a folder the caller named: only what this run put there
                for name in ("data", "logs") if args.workdir else ():
                    shutil.rmtree(work / name, ignore_errors=True)
                if args.workdir is None:
                    shutil.rmtree(work, ignore_errors=True)
        return 0

    if args.incremental is not None:
        args.incremental = args.incremental or list(INCREMENTAL_ROWS)
        work = args.workdir or Path(tempfile.mkdtemp(prefix="tradewh-bench-"))
        work.mkdir(parents=True, exist_ok=True)
        use_cache(work, args.say)
        shown = [a if a != str(PROJECT_ROOT / "BENCHMARKS.md") else "BENCHMARKS.md" for a in (argv or sys.argv[1:])]
        try:
            _incremental().main_incremental(
                args.incremental, args.repeat, work, args.out,
                args.json or (BENCH_DIR / "results" / "incremental.json" if args.out.resolve() == (
                    PROJECT_ROOT / "BENCHMARKS.md").resolve() else args.out.with_suffix(".incremental.json")),
                ".venv/bin/python benchmarks/run.py " + shlex.join(shown), args.say,
            )  # fmt: skip
        finally:
            if not args.keep:
                shutil.rmtree(work if args.workdir is None else work / "logs", ignore_errors=True)
        return 0

    if args.from_json:
        results = json.loads(args.from_json.read_text())
        args.out.write_text(render(results), encoding="utf-8")
        args.say(f"wrote {args.out}")
        return 0

    args.rows = sorted(set(args.rows))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="tradewh-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    use_cache(work, args.say)
    default_out = args.out.resolve() == (PROJECT_ROOT / "BENCHMARKS.md").resolve()
    json_path = args.json or (BENCH_DIR / "results" / "latest.json" if default_out else args.out.with_suffix(".json"))
    json_path.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    shown = [a if a != str(PROJECT_ROOT / "BENCHMARKS.md") else "BENCHMARKS.md" for a in (argv or sys.argv[1:])]
    results: dict[str, Any] = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": ".venv/bin/python benchmarks/run.py " + shlex.join(shown),
            "machine": machine_facts(),
            "versions": versions(),
            "seed": args.seed,
            "bad_share": args.bad_share,
            "aggregates": args.aggregates,
            "repeat": args.repeat,
            "budgets": {"time_s": args.time_budget, "memory_gib": args.memory_budget_gib},
            "json": str(json_path.relative_to(PROJECT_ROOT) if json_path.is_relative_to(PROJECT_ROOT) else json_path),
            "code_at_start": code_fingerprint(),
            "materialized": materialized_views(),
        },
        "sizes": [],
    }
    try:
        for rows in args.rows:
            results["sizes"].append(run_size(rows, args, work, results["sizes"]))
            json_path.write_text(json.dumps(results, indent=1))
        profile_rows = args.profile_rows
        if profile_rows is None:
            ran = [s["rows"] for s in results["sizes"] if _ok_runs(s["measurements"].get("b", []))]
            small = [r for r in ran if r <= 1_000_000]
            profile_rows = max(small) if small else 0
        if profile_rows:
            results["profile"] = run_profile(profile_rows, args, work)
        results["meta"]["elapsed_minutes"] = round((time.perf_counter() - started) / 60)
        results["meta"]["code_at_end"] = code_fingerprint()
        json_path.write_text(json.dumps(results, indent=1))
        kept = args.out.read_text() if args.out.exists() else ""  # the sections other commands wrote stay
        args.out.write_text(render(results), encoding="utf-8")
        keep_other_sections(args.out, kept)  # the baselines too, when this run did not measure them
        args.say(f"wrote {args.out} and {json_path}")
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
        elif not args.keep:  # a folder the caller named: remove only what this run put there
            for name in ("data", "logs"):
                shutil.rmtree(work / name, ignore_errors=True)
            for child in work.glob("catalogue_*.toml"):
                child.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
