"""The commands that run or look after the nightly: load, serve, server, rollback, verify."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from warehouse.common.settings import Settings
from warehouse.extract import prefetch
from warehouse.extract.catalogue import load_catalogue
from warehouse.orchestrate.prefect_server import configure_prefect
from warehouse.publish.lock import LoadRunning

if TYPE_CHECKING:
    from prefect import Flow

T = TypeVar("T")


def _prefetch(settings: Settings) -> None:
    """Start keeping the catalogue's local files in the raw zone (``warehouse.extract.prefetch.prefetch_local``)."""

    try:
        catalogue = load_catalogue(settings.catalogue_path)
    except Exception:  # noqa: BLE001 (the flow reads the catalogue again and reports what is wrong with it)
        return
    prefetch.prefetch_local(
        catalogue,
        seeds_dir=settings.seeds_dir,
        project_root=settings.project_root,
        roots=settings.allowed_roots,
        raw_dir=settings.raw_dir,
    )


def _import_staging_early() -> threading.Thread:
    """Import staging's modules (pandas, pandera: ~0.5 s) in a thread while the flow's own import and Prefect's
    engine start, which wait on the server's answers part of the time; the flow's first staging finds them imported
    (or waits for the thread's import to end: Python's import lock). Returns the thread."""

    def load() -> None:
        with contextlib.suppress(Exception):  # the staging task imports them again, and says what failed
            import warehouse.stage.staging  # noqa: F401

    thread = threading.Thread(target=load, name="tradewh-import-staging", daemon=True)
    thread.start()
    return thread


def import_beside(importing: threading.Thread, load: Callable[[], T]) -> T:
    """``load()`` (an import) while ``importing`` imports other modules; once more after ``importing`` has ended if
    the two met in a circular import. Where two modules import each other and each thread holds one of them, Python
    hands one thread the other's module half-run (``from m import name`` then fails with an ImportError "partially
    initialized module") or raises its deadlock error (a RuntimeError); the modules that failed are taken out of
    ``sys.modules``, so the second ``load()`` imports them whole. The modules both threads import are few (125 of
    the flow's 833 and staging's 664: pydantic, asyncio, dateutil, ...)."""
    try:
        return load()
    except (ImportError, RuntimeError) as exc:
        if isinstance(exc, RuntimeError) and "deadlock" not in str(exc):
            raise
        importing.join()
        return load()


def _nightly() -> Flow:
    from flows.nightly import nightly

    return nightly


def cmd_load(args: argparse.Namespace, settings: Settings) -> int:
    started = dt.datetime.now(dt.UTC)
    print(f"tradewh load: started at {started:%Y-%m-%d %H:%M:%S} UTC, data folder {settings.home}", flush=True)
    from warehouse import publish
    from warehouse.common.errors import require_free_space
    from warehouse.common.startup import imports_done
    from warehouse.orchestrate import prefect_server
    from warehouse.orchestrate.quick_noop import quick_noop
    from warehouse.publish.lock import writer_lock

    require_free_space(settings.home)  # a full disk is said at once, in one line, not by Prefect's tracebacks
    try:
        # taken before Prefect starts, so a second load is refused (or queued) at once
        with writer_lock(settings.home, wait=args.wait):
            # while Prefect's server starts: the copy a run that changes nothing publishes (a build drops it), and
            # the local files kept in the raw zone (the flow's fetch then finds them kept)
            if args.repair:
                _repair(settings)
            publish.carry_over(settings.warehouse_path)
            _prefetch(settings)
            try:
                api_url = configure_prefect(settings)
                if api_url:
                    print(f"tradewh load: runs on the Prefect server at {api_url}", flush=True)
                else:
                    print(
                        "tradewh load: starting a temporary Prefect server for this run "
                        "(`tradewh server start` keeps one running, with the run history)",
                        flush=True,
                    )
                result = quick_noop(settings, api_url, started)  # a night that changes nothing: no flow engine
                if result is None:
                    # the server comes up while the flow's modules import
                    server_started = prefect_server.start_early(settings.cache_path)
                    nightly = import_beside(_import_staging_early(), _nightly)
                    from warehouse.orchestrate.heartbeat import engine_heartbeats_off

                    imports_done()
                    try:
                        server_started()
                    except prefect_server.EarlyServerError as exc:
                        print(f"tradewh load: {exc}; nothing was loaded", file=sys.stderr)
                        return 1
                    with engine_heartbeats_off():  # the flow sends them, and its end does not wait for them
                        state = nightly(lock_held=True, started_at=started.isoformat(), return_state=True)
                    result = state.result(raise_on_failure=False)
            finally:
                prefetch.wait_prefetched()
                publish.drop_carried()
    except LoadRunning as exc:
        print(f"tradewh: {exc}", file=sys.stderr)
        return 75
    if not isinstance(result, dict):  # the flow raised: build or publish failed, or the run crashed
        from warehouse.common.errors import storage_error

        problem = storage_error(result, settings.home) if isinstance(result, BaseException) else None
        print(problem or f"tradewh load: {state.name}: {state.message}", file=sys.stderr)
        print(f"warehouse: {settings.warehouse_path} (unchanged)")
        return 74 if problem else 1
    print("\n".join(result["summary"]))
    print(f"warehouse: {settings.warehouse_path}")
    print(f"log: {result['log_file']}")
    return {"succeeded": 0, "partial": 2}.get(str(result["status"]), 1)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.orchestrate import server

    if args.start_server:
        _start_server(settings, host="127.0.0.1", port=settings.server_port)
    api_url = configure_prefect(settings)
    if not api_url:
        print(
            "tradewh serve: no Prefect server to schedule on. Prefect's temporary server has no scheduler, so "
            "the nightly would never run. Start the project's server first (`tradewh server start`), run "
            "`tradewh serve --start-server`, or set PREFECT_API_URL to yours.",
            file=sys.stderr,
        )
        return 1
    if not server.healthy(api_url):
        print(f"tradewh serve: the Prefect server at {api_url} does not answer its health check", file=sys.stderr)
        return 1
    from prefect.schedules import Cron, Interval

    from flows.nightly import nightly

    if args.interval:
        schedule, when = Interval(dt.timedelta(seconds=args.interval)), f"every {args.interval} s"
    else:
        schedule, when = Cron(args.cron, timezone=args.timezone), f"on cron '{args.cron}' ({args.timezone})"
    print(f"tradewh serve: the nightly load runs {when} on the Prefect server at {api_url}; Ctrl-C to stop", flush=True)
    nightly.serve(name="tradewh-nightly", schedules=[schedule], parameters={"wait_for_lock": True})
    return 0


def _start_server(settings: Settings, *, host: str, port: int) -> None:
    from warehouse.orchestrate import server

    print(f"tradewh server: starting Prefect's server on {host}:{port} (log {server.server_log(settings.home)})")
    try:
        info = server.start(settings.home, host=host, port=port, cache_dir=settings.cache_path)
    except server.ServerError as exc:
        raise SystemExit(f"tradewh server: {exc}") from None
    print(f"tradewh server: running, pid {info.pid}, API {info.api_url}, UI {info.ui_url}")


def cmd_server(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.orchestrate import server

    if args.action == "start":
        _start_server(settings, host=args.host, port=args.port or settings.server_port)
        return 0
    if args.action == "stop":
        stopped = server.stop(settings.home)
        print(f"tradewh server: stopped pid {stopped.pid}" if stopped else "tradewh server: none was running")
        return 0
    info = server.recorded(settings.home)
    if info is None:
        print(f"tradewh server: not running (start it with `tradewh server start`; data folder {settings.home})")
        return 3
    ok = server.healthy(info.api_url)
    print(f"tradewh server: pid {info.pid}, {'healthy' if ok else 'NOT answering its health check'}")
    print(f"PREFECT_API_URL={info.api_url}")
    print(f"UI: {info.ui_url}\nlog: {info.log}\nstarted: {info.started_at}")
    return 0 if ok else 1


def cmd_rollback(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.publish.lock import writer_lock
    from warehouse.publish.restore import RollbackError, rollback

    with writer_lock(settings.home):
        try:
            run_id = rollback(settings.warehouse_path, to_run=args.to_run, lake_dir=settings.lake_dir)
        except RollbackError as exc:
            print(f"tradewh rollback: {exc}", file=sys.stderr)
            return 1
    what = f"the publish of run {run_id}" if run_id else "the previous publish"
    print(f"tradewh: {settings.warehouse_path} is {what} again; the next load rebuilds from the lake")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from warehouse.orchestrate.verify import verify

    problems = verify(settings)
    for problem in problems:
        print(problem)
    if not problems:
        print("tradewh verify: raw payloads, lake files and the published file are as they were written")
    return 1 if problems else 0


def _repair(settings: Settings) -> None:
    """``load --repair``: name the lake files that differ from their manifest (the load stages their sources again)
    and delete raw payloads whose bytes are not their SHA-256 (the load fetches them again)."""
    from warehouse.orchestrate.verify import repair_raw, verify_lake

    for problem in verify_lake(settings.lake_dir):
        print(f"tradewh load --repair: {problem}", flush=True)
    for path in repair_raw(settings.raw_dir):
        print(f"tradewh load --repair: removed {path}: its bytes are not its SHA-256; fetched anew", flush=True)
