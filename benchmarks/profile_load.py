"""Run ``tradewh load`` once in this process with every stage timed, for the profile in ``BENCHMARKS.md``.

The stage functions of ``flows/nightly.py`` (fetch, parse, validate, Parquet, build, publish) and the parts
inside them (the parser's CSV reading and frame building, pandera's ``validate``, the rules over several
columns, the raw-table load, the views, the conformed fact's check) are wrapped, not changed: each wrapper
records its wall time and the process's peak RSS while it ran (``VmHWM``, reset at each stage start through
``/proc/self/clear_refs`` where the kernel allows it). A stage's time includes the stages nested in it. With
``--cprofile`` the whole load also runs under cProfile and the top functions by cumulative time are reported
(tasks run in the flow's thread, so cProfile sees them); cProfile slows per-row Python code several times, so
the stage times of such a run are not the ones to quote. Resetting VmHWM also resets the kernel's ``ru_maxrss``
of this process: its peak is the largest stage peak (``process_peak_rss_mib``), not what ``time`` prints.

Prints one JSON line: ``stages`` (path, seconds, peak_rss_mib, rss_after_mib, thread, calls), ``top_functions``,
``exit_code``, ``total_seconds`` (from the first import of ``flows.nightly`` to the end of the load).

Usage (the same environment as a ``tradewh load``)::

    TRADEWH_HOME=... TRADEWH_CATALOGUE=... TRADEWH_ALLOWED_ROOTS=... \
        .venv/bin/python benchmarks/profile_load.py [--cprofile]
"""

from __future__ import annotations

import contextlib
import cProfile
import dataclasses
import functools
import importlib
import io
import json
import pstats
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")


def _status_kib(field: str) -> int:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


class Stages:
    """Nested stage timer: a stack of open stages, each with its start and the peak RSS seen while open."""

    def __init__(self) -> None:
        self.stack: list[dict[str, Any]] = []
        self.done: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.can_reset = _reset_peak()
        self.calls = 0
        self.missing: list[str] = []
        self.max_peak_kib = 0

    def _fold_peak(self) -> None:
        hwm = _status_kib("VmHWM")
        self.max_peak_kib = max(self.max_peak_kib, hwm)
        for frame in self.stack:
            frame["peak_kib"] = max(frame["peak_kib"], hwm)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self._fold_peak()
                path = " > ".join([f["name"] for f in self.stack] + [name])
                frame = {"name": name, "path": path, "peak_kib": 0, "start": time.perf_counter(), "order": self.calls}
                self.calls += 1
                self.stack.append(frame)
                if self.can_reset:
                    _reset_peak()
                frame["peak_kib"] = _status_kib("VmRSS")
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self._fold_peak()
                    self.stack.remove(frame)
                    self.done.append(
                        {
                            "path": path,
                            "seconds": time.perf_counter() - frame["start"],
                            "peak_rss_mib": frame["peak_kib"] / 1024,
                            "rss_after_mib": _status_kib("VmRSS") / 1024,
                            "thread": threading.current_thread().name,
                            "order": frame["order"],
                        }
                    )

        return timed

    def patch(self, owner: Any, attr: str, name: str | None = None) -> None:
        """Wrap ``owner.attr``; a name the code no longer has is noted, not fatal (the profile must not rot)."""
        if not hasattr(owner, attr):
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return
        setattr(owner, attr, self.wrap(name or attr, getattr(owner, attr)))

    def summary(self) -> list[dict[str, Any]]:
        """One row per stage path, in first-seen order; times summed over calls, peaks maxed."""
        rows: dict[str, dict[str, Any]] = {}
        for d in sorted(self.done, key=lambda d: d["order"]):
            row = rows.setdefault(
                d["path"], {"path": d["path"], "seconds": 0.0, "peak_rss_mib": 0.0, "calls": 0, "thread": d["thread"]}
            )
            row["seconds"] += d["seconds"]
            row["peak_rss_mib"] = max(row["peak_rss_mib"], d["peak_rss_mib"])
            row["rss_after_mib"] = d["rss_after_mib"]
            row["calls"] += 1
        return list(rows.values())


def _patch_first_call(stages: Stages, owner: Any, attr: str, name: str) -> None:
    """Time only the first call (Prefect calls ``start`` again for every client; those calls return at once)."""
    if not hasattr(owner, attr):
        stages.missing.append(f"{owner.__name__}.{attr}")
        return
    original = getattr(owner, attr)
    timed = stages.wrap(name, original)
    first = [True]

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        if first[0]:
            first[0] = False
            return timed(*args, **kwargs)
        return original(*args, **kwargs)

    setattr(owner, attr, call)


def _patch_rules(stages: Stages, ingest: Any) -> None:
    """Time building the schema, and each rule over several columns (``FrameRule.test``) when it runs."""
    if not hasattr(ingest, "schema_for"):
        stages.missing.append("warehouse.ingest.schema_for")
        return
    original = ingest.schema_for

    def schema_for(dataset: str, context: Any) -> Any:
        schema, rules = original(dataset, context)
        return schema, [dataclasses.replace(r, test=stages.wrap(f"rule {r.name}", r.test)) for r in rules]

    ingest.schema_for = stages.wrap("build schema", schema_for)


def instrument(stages: Stages) -> None:
    """Wrap the stage functions where the flow looks them up (module attributes, resolved at call time)."""
    import pandera.api.pandas.container as pandera_container
    from prefect.server.api.server import SubprocessASGIServer

    from warehouse import audit, build, fetch, ingest
    from warehouse.parsers import comtrade

    _patch_first_call(stages, SubprocessASGIServer, "start", "Prefect local server start")
    stages.patch(fetch, "fetch_source", "fetch")
    stages.patch(ingest, "unchanged", "unchanged (sha256 check)")
    stages.patch(ingest, "parse_payloads", "parse")
    stages.patch(comtrade, "parse_comtrade", "parse_comtrade")
    stages.patch(comtrade, "decode_text", "read + decode bytes")
    stages.patch(comtrade, "csv_layout_records", "csv.reader -> records")
    stages.patch(comtrade.Columns, "to_frame", "lists -> DataFrame")
    stages.patch(ingest, "validate_source", "validate")
    _patch_rules(stages, ingest)
    stages.patch(pandera_container.DataFrameSchema, "validate", "pandera validate")
    stages.patch(ingest, "write_lake", "write Parquet")
    stages.patch(ingest, "to_arrow", "DataFrame -> Arrow")
    stages.patch(ingest, "_atomic_parquet", "pq.write_table + fsync")
    stages.patch(audit, "record_run", "record audit")
    stages.patch(build, "build_warehouse", "build warehouse")
    stages.patch(build, "_load_raw", "raw tables from Parquet")
    stages.patch(build, "_load_reference", "reference tables")
    stages.patch(build, "_load_audit", "audit tables")
    stages.patch(build, "check_trade_figures", "check core.fct_trade_figure (pandera)")
    stages.patch(build, "publish", "publish")


def main() -> int:
    stages = Stages()
    started = time.perf_counter()
    import_modules = stages.wrap("import flows.nightly (prefect, pandas, pandera, duckdb)", importlib.import_module)
    import_modules("flows.nightly")  # what cmd_load imports before the flow starts
    from warehouse import cli

    imported = time.perf_counter()
    instrument(stages)
    profiler = cProfile.Profile() if "--cprofile" in sys.argv[1:] else None
    with contextlib.redirect_stdout(sys.stderr):  # the load's own summary goes to stderr; stdout is the JSON
        if profiler:
            profiler.enable()
        try:
            code = cli.main(["load"])
        finally:
            if profiler:
                profiler.disable()
    finished = time.perf_counter()
    top = []
    if profiler:
        stats = pstats.Stats(profiler, stream=io.StringIO())
        for (file, line, func), (_, ncalls, tt, ct, _) in sorted(
            stats.stats.items(),  # type: ignore[attr-defined]
            key=lambda kv: kv[1][3],
            reverse=True,
        )[:60]:
            top.append(
                {
                    "function": f"{Path(file).name}:{line}({func})",
                    "calls": ncalls,
                    "own_s": round(tt, 3),
                    "cumulative_s": round(ct, 3),
                }
            )
    print(
        json.dumps(
            {
                "exit_code": code,
                "import_seconds": round(imported - started, 3),
                "load_seconds": round(finished - imported, 3),
                "total_seconds": round(finished - started, 3),
                "peak_reset_supported": stages.can_reset,
                "not_found": stages.missing,
                "process_peak_rss_mib": round(max(stages.max_peak_kib, _status_kib("VmHWM")) / 1024, 1),
                "stages": stages.summary(),
                "top_functions": top,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
