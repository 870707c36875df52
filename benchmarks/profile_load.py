"""Run ``tradewh load`` once in this process with every stage timed, for the profile in ``BENCHMARKS.md``.

The stage functions of the load (``CANDIDATES``: fetch, the streaming path's ``stage_source`` and its parser's
batches, the older parse/validate/Parquet functions, the lake's SHA-256 checks, the build, the conformed fact's
check, publish) are wrapped, not changed, wherever the code looks them up: the attribute of the module that
defines them and every ``from ... import`` of them in tradewh's own modules. Code moves: a candidate whose module
or name does not exist in the version measured is skipped and reported (``not_found``), never an error, so old
and new names can sit in one list. ``--wrap module:attr=label`` adds candidates (e.g. a function that is new
since this list).

Each wrapper records its wall time, the process's CPU time over the same span (every thread's, as
``time.process_time`` counts it: divided by the wall time, how many cores the process kept busy while the stage ran)
and the process's peak RSS while it ran (``VmHWM``, reset at each stage start through ``/proc/self/clear_refs``
where the kernel allows it). A stage's time includes the stages nested in it.
A generator function (a streaming parser) is timed by its iteration, not its call: the time spent inside it each
time it is resumed, summed over the whole iteration, with the stages it calls nested under it; what its consumer
does between two items is not counted. It is one call; ``items`` says how many items it yielded.

With ``--cprofile`` the whole load also runs under cProfile and the top functions by cumulative time are reported
(tasks run in the flow's thread, so cProfile sees them); cProfile slows per-row Python code several times, so the
stage times of such a run are not the ones to quote. Resetting VmHWM also resets the kernel's ``ru_maxrss`` of
this process: its peak is the largest stage peak (``process_peak_rss_mib``), not what ``time`` prints.

Prints one JSON line: ``stages`` (path, seconds, cpu_seconds, peak_rss_mib, rss_after_mib, thread, calls, items),
``not_found``, ``top_functions``, ``exit_code``, ``total_seconds`` (from the first import of ``flows.nightly``
to the end of the load) and ``total_cpu_seconds`` (the process's CPU time over that span).

Usage (the same environment as a ``tradewh load``)::

    TRADEWH_HOME=... TRADEWH_CATALOGUE=... TRADEWH_ALLOWED_ROOTS=... \
        .venv/bin/python benchmarks/profile_load.py [--cprofile] [--wrap warehouse.x:function=label ...]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import dataclasses
import functools
import importlib
import inspect
import io
import json
import pstats
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
OWN_PACKAGES = ("warehouse", "flows", "schemas")  # where ``from x import f`` copies of a wrapped f are replaced


@dataclass(frozen=True)
class Candidate:
    """A function to time: ``target`` is ``module:attr`` or ``module:Class.attr``; ``label`` names its stage."""

    target: str
    label: str
    first_call_only: bool = False  # time only the first call (later calls return at once)


# Old and new names side by side: whichever the measured code has is timed, the others are reported absent.
CANDIDATES: tuple[Candidate, ...] = (
    # Prefect calls ``start`` again for every client; those calls return at once
    Candidate("prefect.server.api.server:SubprocessASGIServer.start", "Prefect local server start", True),
    Candidate("warehouse.extract.fetch:fetch_source", "fetch"),
    Candidate("warehouse.extract.file_state:load_state", "file state: read (stat instead of hashing)"),
    Candidate("warehouse.extract.file_state:save_state", "file state: write"),
    Candidate("warehouse.lake.manifest:unchanged", "unchanged (sha256 check)"),
    Candidate("warehouse.lake.manifest:unchanged", "unchanged (sha256 check)"),
    # the streaming path: parse + validate + stage Parquet per batch, then one commit
    Candidate("warehouse.stage.staging:stage_source", "stage source (parse, validate, Parquet, by batch)"),
    Candidate("warehouse.stage.batches:parsed_batches", "parsed batches"),
    Candidate("warehouse.parse.comtrade_columnar:batches_comtrade", "batches_comtrade (streaming parser)"),
    Candidate("warehouse.parse.csvtext:scan_lines", "line checks (scan_lines; beside the parser: ScanAhead)"),
    Candidate("warehouse.parse.comtrade_columnar:_columnar_frame", "columns mapped (strip, codes, numbers, to pandas)"),
    Candidate("warehouse.stage.quarantine:cross_batch_quarantine", "cross-batch rules (DuckDB)"),
    Candidate("warehouse.stage.commit:commit_lake", "commit lake"),
    # the lake's verification (issue 16): raw payloads hashed beside staging, lake files hashed before the build
    # reads them (or, with an unchanged stat, trusted from ``_verified.json``), each digest recorded at commit
    Candidate("warehouse.stage.staging:_raw_problems", "raw payloads hashed (SHA-256, beside staging)"),
    Candidate("warehouse.lake.manifest:verified_lake_files", "lake files verified before the build reads them"),
    Candidate("warehouse.lake.manifest:file_problems", "lake file check (file_problems)"),
    Candidate("warehouse.lake.manifest:sha256_file", "SHA-256 of a file (sha256_file)"),
    # the frame-at-once path
    Candidate("warehouse.stage.batches:parse_payloads", "parse"),
    Candidate("warehouse.parse.comtrade:parse_comtrade", "parse_comtrade"),
    Candidate("warehouse.parse.comtrade:decode_text", "read + decode bytes"),
    Candidate("warehouse.parse.comtrade:csv_layout_records", "csv.reader -> records"),
    Candidate("warehouse.parse.comtrade:Columns.to_frame", "lists -> DataFrame"),
    Candidate("warehouse.stage.batches:validate_source", "validate"),
    Candidate("schemas.rules:validate_frame", "validate_frame"),
    Candidate("schemas.rules:split_frame", "split_frame (pandera, rules, valid and quarantined rows)"),
    Candidate("pandera.api.pandas.container:DataFrameSchema.validate", "pandera validate"),
    Candidate("warehouse.stage.commit:write_lake", "write Parquet"),
    Candidate("warehouse.stage.batches:to_arrow", "DataFrame -> Arrow"),
    Candidate("warehouse.stage.staging:_atomic_parquet", "pq.write_table + fsync"),
    Candidate("warehouse.lake.audit:record_run", "record audit"),
    Candidate("warehouse.build.builder:build_warehouse", "build warehouse"),
    Candidate("warehouse.build.builder:_load_raw", "raw tables from Parquet"),
    Candidate("warehouse.build.builder:_load_reference", "reference tables"),
    Candidate("warehouse.build.builder:_load_audit", "audit tables"),
    Candidate("warehouse.build.builder:check_trade_figures", "check core.fct_trade_figure"),
    Candidate("warehouse.publish.swap:publish", "publish"),
    # the no-op path: a run that changed nothing republishes the published file without rebuilding it
    Candidate("warehouse.build.inputs:build_inputs", "build inputs digest"),
    Candidate("warehouse.build.inputs:reason_to_rebuild", "reason to rebuild"),
    Candidate("warehouse.publish.noop:republish", "republish (no rebuild)"),
    Candidate("warehouse.publish.noop:_copy_for_carrying", "copy of the published file, made while Prefect starts"),
    Candidate("warehouse.publish.noop:take_carried", "take the copy made while Prefect started (wait for it)"),
    Candidate("warehouse.build.inputs:stamp_build", "record build inputs"),
    Candidate("warehouse.publish.noop:largest_revisions", "largest revisions (artifacts)"),
)


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
    """Nested stage timer: per thread, a stack of open stages, each with its start and the peak RSS seen while
    open (the peak is the process's, so it is folded into every open stage of every thread)."""

    def __init__(
        self, clock: Callable[[], float] = time.perf_counter, cpu_clock: Callable[[], float] = time.process_time
    ) -> None:
        self.clock = clock
        self.cpu_clock = cpu_clock
        self.stacks: dict[int, list[dict[str, Any]]] = {}
        self.done: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self.can_reset = _reset_peak()
        self.calls = 0
        self.missing: list[str] = []
        self.wrapped: list[str] = []
        self.max_peak_kib = 0

    def _stack(self) -> list[dict[str, Any]]:
        return self.stacks.setdefault(threading.get_ident(), [])

    def _fold_peak(self) -> None:
        hwm = _status_kib("VmHWM")
        self.max_peak_kib = max(self.max_peak_kib, hwm)
        for stack in self.stacks.values():
            for frame in stack:
                frame["peak_kib"] = max(frame["peak_kib"], hwm)

    def _enter(self, name: str) -> dict[str, Any]:
        with self.lock:
            self._fold_peak()
            stack = self._stack()
            path = " > ".join([f["name"] for f in stack] + [name])
            frame = {
                "name": name, "path": path, "peak_kib": 0, "order": self.calls, "start": self.clock(),
                "cpu_start": self.cpu_clock(),
            }  # fmt: skip
            self.calls += 1
            stack.append(frame)
            if self.can_reset:
                _reset_peak()
            frame["peak_kib"] = _status_kib("VmRSS")
            return frame

    def _leave(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Close the frame; return its record (path, seconds, peaks, order)."""
        with self.lock:
            seconds = self.clock() - frame["start"]
            cpu_seconds = self.cpu_clock() - frame["cpu_start"]
            self._fold_peak()
            self._stack().remove(frame)
            return {
                "path": frame["path"],
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "peak_rss_mib": frame["peak_kib"] / 1024,
                "rss_after_mib": _status_kib("VmRSS") / 1024,
                "thread": threading.current_thread().name,
                "order": frame["order"],
                "items": None,
            }

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` timed as the stage ``name``; a generator function is timed by its iteration."""
        if inspect.isgeneratorfunction(fn):
            return self._wrap_generator(name, fn)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            frame = self._enter(name)
            try:
                return fn(*args, **kwargs)
            finally:
                self.done.append(self._leave(frame))

        return timed

    def _wrap_generator(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
            inner = fn(*args, **kwargs)  # creating a generator runs none of its code
            total: dict[str, Any] | None = None  # the first resumption's record, summed over the others
            items = 0
            sent: Any = None
            thrown: BaseException | None = None
            try:
                while True:
                    frame = self._enter(name)
                    try:
                        item = inner.throw(thrown) if thrown is not None else inner.send(sent)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        part = self._leave(frame)
                        if total is None:
                            total = part
                        else:
                            total["seconds"] += part["seconds"]
                            total["cpu_seconds"] += part["cpu_seconds"]
                            total["peak_rss_mib"] = max(total["peak_rss_mib"], part["peak_rss_mib"])
                            total["rss_after_mib"] = part["rss_after_mib"]
                    items += 1
                    sent, thrown = None, None
                    try:
                        sent = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # thrown into the wrapper: on to the generator  # noqa: BLE001
                        thrown = exc
            finally:
                inner.close()
                if total is not None:
                    total["items"] = items
                    self.done.append(total)

        return timed

    def summary(self) -> list[dict[str, Any]]:
        """One row per stage path and thread, in first-seen order; times summed over calls, peaks maxed.

        The same stage called in two threads (a fetch ahead of the flow in one, the flow's fetch in the other) is two
        rows, each with its own thread: summed into one, its time would be shown in the thread of the first call.
        """
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for d in sorted(self.done, key=lambda d: d["order"]):
            row = rows.setdefault(
                (d["path"], d["thread"]),
                {"path": d["path"], "seconds": 0.0, "cpu_seconds": 0.0, "peak_rss_mib": 0.0, "calls": 0,
                 "items": None, "thread": d["thread"]},
            )  # fmt: skip
            row["seconds"] += d["seconds"]
            row["cpu_seconds"] += d["cpu_seconds"]
            row["peak_rss_mib"] = max(row["peak_rss_mib"], d["peak_rss_mib"])
            row["rss_after_mib"] = d["rss_after_mib"]
            row["calls"] += 1
            if d.get("items") is not None:
                row["items"] = (row["items"] or 0) + d["items"]
        return list(rows.values())


def resolve(target: str) -> tuple[Any, str, Any] | None:
    """(owner, attribute name, raw attribute) of ``module:attr`` or ``module:Class.attr``; None when absent."""
    module_name, _, qualname = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
    except Exception:  # noqa: BLE001 (gone, or broken mid-edit: either way there is nothing to wrap)
        return None
    *classes, attr = qualname.split(".")
    for name in classes:
        owner = getattr(owner, name, None)
        if owner is None:
            return None
    try:
        raw = inspect.getattr_static(owner, attr)
    except AttributeError:
        return None
    return owner, attr, raw


def _rebind(original: Any, replacement: Any) -> None:
    """Replace ``from ... import`` copies of ``original`` in tradewh's loaded modules (the flow may call them)."""
    for name, module in list(sys.modules.items()):
        if module is None or not name.startswith(OWN_PACKAGES):
            continue
        for attr, value in list(vars(module).items()):
            if value is original:
                setattr(module, attr, replacement)


def patch(stages: Stages, candidate: Candidate) -> bool:
    """Wrap one candidate where it is defined and where it was imported; False (noted) when it does not exist."""
    found = resolve(candidate.target)
    if found is None or not callable(getattr(found[0], found[1], None)):
        stages.missing.append(candidate.target)
        return False
    owner, attr, raw = found
    if getattr(getattr(raw, "__func__", raw), "__profile_stage__", None):  # an alias of one wrapped already
        stages.wrapped.append(f"{candidate.target} (as {raw.__profile_stage__})")
        return True
    if isinstance(raw, staticmethod | classmethod):
        setattr(owner, attr, type(raw)(_timed(stages, candidate, raw.__func__)))
    elif hasattr(raw, "fn") and hasattr(raw, "submit"):  # a Prefect task: time the function it runs
        raw.fn = _timed(stages, candidate, raw.fn)
    else:
        timed = _timed(stages, candidate, raw)
        setattr(owner, attr, timed)
        if inspect.ismodule(owner):
            _rebind(raw, timed)
    stages.wrapped.append(candidate.target)
    return True


def _timed(stages: Stages, candidate: Candidate, fn: Callable[..., Any]) -> Callable[..., Any]:
    timed = stages.wrap(candidate.label, fn)
    if candidate.first_call_only:
        first = [True]
        once = timed

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if first[0]:
                first[0] = False
                return once(*args, **kwargs)
            return fn(*args, **kwargs)

    timed.__profile_stage__ = candidate.label  # type: ignore[attr-defined]
    return timed


def _patch_rules(stages: Stages) -> None:
    """Time building the schema, and each rule over several columns (``FrameRule.test``) when it runs."""
    found = resolve("warehouse.stage.batches:schema_for")
    if found is None:
        stages.missing.append("warehouse.stage.batches:schema_for")
        return
    ingest, _, original = found

    def schema_for(dataset: str, context: Any) -> Any:
        result = original(dataset, context)
        try:
            schema, rules = result
            return schema, [dataclasses.replace(r, test=stages.wrap(f"rule {r.name}", r.test)) for r in rules]
        except (TypeError, ValueError, AttributeError):  # another shape than (schema, [FrameRule]): untimed
            return result

    timed = stages.wrap("build schema", functools.wraps(original)(schema_for))
    ingest.schema_for = timed
    _rebind(original, timed)
    stages.wrapped.append("warehouse.stage.batches:schema_for")


def instrument(stages: Stages, candidates: Iterable[Candidate] = CANDIDATES, *, rules: bool = True) -> None:
    """Wrap every candidate that exists (after the flow's modules are imported); note the others."""
    for candidate in candidates:
        patch(stages, candidate)
    if rules:
        _patch_rules(stages)


def parse_wrap(text: str) -> Candidate:
    """``module:attr=label`` (label optional) as a candidate."""
    target, _, label = text.partition("=")
    if ":" not in target:
        raise argparse.ArgumentTypeError(f"--wrap {text!r}: expected module:attr[=label]")
    return Candidate(target, label or target.rsplit(":", 1)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cprofile", action="store_true", help="also run under cProfile (slows per-row code)")
    parser.add_argument("--wrap", type=parse_wrap, nargs="*", default=[], help="more candidates: module:attr=label")
    args = parser.parse_args(argv)
    stages = Stages()
    started, cpu_started = time.perf_counter(), time.process_time()
    import_modules = stages.wrap("import flows.nightly (prefect, duckdb, pyarrow)", importlib.import_module)
    import_modules("flows.nightly")  # what cmd_load imports before the flow starts
    from warehouse.serve import cli

    imported = time.perf_counter()
    instrument(stages, [*CANDIDATES, *args.wrap])
    profiler = cProfile.Profile() if args.cprofile else None
    with contextlib.redirect_stdout(sys.stderr):  # the load's own summary goes to stderr; stdout is the JSON
        if profiler:
            profiler.enable()
        try:
            code = cli.main(["load"])
        finally:
            if profiler:
                profiler.disable()
    finished, cpu_finished = time.perf_counter(), time.process_time()
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
                "total_cpu_seconds": round(cpu_finished - cpu_started, 3),
                "peak_reset_supported": stages.can_reset,
                "wrapped": stages.wrapped,
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
