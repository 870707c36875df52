"""Rollback: an earlier publish put back in place once it is checked (it opens read-only, carries this project's
build stamp, passes the build's checks); every attempt recorded in the lake's audit."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from warehouse.build.builder import check_trade_figures
from warehouse.build.inputs import truncation
from warehouse.build.models import BuildError
from warehouse.common.atomic import fsync_path
from warehouse.publish.swap import _link_or_copy, build_stamp, history, history_dir, open_checked


class RollbackError(RuntimeError):
    """A rollback was refused; the published file is as it was."""


class NothingToRollBackTo(RollbackError, FileNotFoundError):
    """No earlier publish is kept (or none of the run asked for)."""


def candidate_problem(path: Path, *, run_id: str | None, lake_dir: Path | None) -> str | None:
    """Why a file may not be published by a rollback, or None when it may: it must open read-only as a DuckDB
    database, carry a build stamp of this project (``audit.builds``, of ``run_id`` when given; a run recorded in its
    own ``audit.load_runs`` and, when ``lake_dir`` holds run records, in the lake's) and pass the build's checks of
    the conformed trade figure (``check_trade_figures``)."""
    from warehouse.build.inputs import BUILDS_COLUMNS

    try:
        con = open_checked(path)
    except duckdb.Error as exc:
        return f"{path} does not open as a DuckDB database ({str(exc).splitlines()[0]})"
    try:
        short = truncation(con, path)
        if short is not None:
            return short
        columns = {
            r[0]
            for r in con.execute(
                "select column_name from duckdb_columns() where schema_name = 'audit' and table_name = 'builds'"
            ).fetchall()
        }
        if not set(BUILDS_COLUMNS) <= columns:
            return f"{path} carries no tradewh build stamp (audit.builds)"
        stamp = con.execute(
            "select run_id, inputs_sha256 from audit.builds order by published_at desc, run_id desc limit 1"
        ).fetchone()
        if stamp is None or not stamp[1]:
            return f"{path} carries no tradewh build stamp (audit.builds is empty)"
        if run_id is not None and stamp[0] != run_id:
            return f"{path} was published by run {stamp[0]}, not {run_id}"
        runs = {r[0] for r in con.execute("select run_id from audit.load_runs").fetchall()}
        if stamp[0] not in runs:
            return f"{path}: its build stamp names run {stamp[0]}, which its audit.load_runs does not hold"
        recorded = lake_dir / "_audit" / "load_runs" if lake_dir is not None else None
        if recorded is not None and recorded.is_dir() and not (recorded / f"{stamp[0]}.parquet").exists():
            return f"{path}: run {stamp[0]} is not a run of this home ({recorded} does not record it)"
        try:
            check_trade_figures(con)
        except BuildError as exc:
            return f"{path} fails the build's checks: {exc}"
    except duckdb.Error as exc:
        return f"{path} is not a tradewh warehouse ({str(exc).splitlines()[0]})"
    finally:
        con.close()
    return None


def _pick(final: Path, to_run: str | None) -> tuple[Path, str | None]:
    """The file a rollback would put back, and the run it must carry (None: the legacy ``.previous`` slot)."""
    kept = history(final)
    if to_run is not None:
        if to_run not in kept:
            known = ", ".join(kept) or "none"
            raise NothingToRollBackTo(f"no publish of run {to_run} is kept in {history_dir(final)} (kept: {known})")
        return kept[to_run], to_run
    current = build_stamp(final) if final.exists() else None
    for run, path in reversed(kept.items()):
        if (current is None or run < current) and not (final.exists() and os.path.samefile(path, final)):
            return path, run
    previous = final.with_name(final.name + ".previous")  # a home published before the history was kept
    if previous.exists() and not (final.exists() and os.path.samefile(previous, final)):
        stamp = build_stamp(previous)
        if stamp is None or (stamp not in kept and stamp != current):  # else: one of the publishes seen above
            return previous, None
    raise NothingToRollBackTo(f"no previous publish to roll back to (nothing older than {final} is kept)")


def rollback(final: Path, *, to_run: str | None = None, lake_dir: Path | None = None) -> str | None:
    """Put an earlier publish back in place, atomically, once it is checked (``candidate_problem``); every attempt,
    done or refused, is recorded in ``lake/_audit/rollbacks`` (``warehouse.lake.audit.record_rollback``).

    Args:
        final: the published file.
        to_run: the run whose publish to put back (``history/<run>.duckdb``); None: the newest publish before the
            one in place (the ``.previous`` slot where no history is kept yet).
        lake_dir: the lake, where rollbacks are recorded (``<home>/lake`` when None, ``final`` being
            ``<home>/warehouse/<name>``).

    Returns:
        The run whose publish is now in place (None for the legacy ``.previous`` file).

    Raises:
        NothingToRollBackTo: nothing kept to go back to (``FileNotFoundError`` too).
        RollbackError: the candidate is not a warehouse this project built, or fails its checks; ``final`` is
            unchanged.
    """
    from warehouse.lake.audit import record_rollback

    lake_dir = lake_dir if lake_dir is not None else final.parent.parent / "lake"
    current = build_stamp(final) if final.exists() else None
    try:
        source, run = _pick(final, to_run)
    except NothingToRollBackTo as exc:
        record_rollback(lake_dir, status="refused", from_run_id=current, to_run_id=to_run, candidate=None,
                        message=str(exc))  # fmt: skip
        raise
    # the very file checked is the one swapped in: a link to it, made first, checked, then renamed into place
    staging = final.with_name(f".{final.name}.rollback-{os.getpid()}.building")
    staging.unlink(missing_ok=True)
    try:
        _link_or_copy(source, staging)
        problem = candidate_problem(staging, run_id=run, lake_dir=lake_dir)
        if problem is not None:
            problem = problem.replace(str(staging), str(source))
            record_rollback(lake_dir, status="refused", from_run_id=current, to_run_id=run, candidate=source,
                            message=problem)  # fmt: skip
            raise RollbackError(f"rollback refused: {problem}; {final} is unchanged")
        with open(staging, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(staging, final)
        fsync_path(final.parent)
    finally:
        staging.unlink(missing_ok=True)
    record_rollback(lake_dir, status="rolled_back", from_run_id=current, to_run_id=run, candidate=source,
                    message=f"{final} is the publish of run {run or '(previous slot)'} again")  # fmt: skip
    return run
