"""A run that changes nothing publishes the published file again with its own audit rows, without a rebuild: the
copy it appends to is made while Prefect starts (``carry_over``), taken by ``republish``, dropped by a build."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from warehouse.build.inputs import AUDIT_TABLES, LARGEST_REVISIONS, BuildInputs, stamp
from warehouse.common.readonly import connect_read_only
from warehouse.lake import audit
from warehouse.publish.swap import discard, publish

CLONE_STEP = 64 * 1024**2  # _clone copies in steps of this size; a copy made ahead (carry_over) may stop between


def _clone(source: Path, target: Path, stop: threading.Event | None = None) -> bool:
    """Copy a file in the kernel: copy_file_range (a clone on XFS or btrfs), else sendfile (shutil).

    Args:
        source: the file to copy.
        target: the copy (must not exist).
        stop: when set, the copy stops at the next step of CLONE_STEP bytes (the copy is then incomplete).

    Returns:
        True when the whole file was copied.
    """
    copy_range = getattr(os, "copy_file_range", None)
    with open(source, "rb") as src, open(target, "xb") as dst:
        size, copied = os.fstat(src.fileno()).st_size, 0
        try:
            while copy_range is not None and copied < size:
                if stop is not None and stop.is_set():
                    return False
                step = copy_range(src.fileno(), dst.fileno(), min(size - copied, CLONE_STEP))
                if step == 0:
                    break
                copied += step
        except OSError as exc:
            if copied or exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM):
                raise
        if copied < size:
            src.seek(copied)
            dst.seek(copied)
            shutil.copyfileobj(src, dst, 1024**2)
    return True


@dataclass
class _Carried:
    """A copy of the published file being made for this process's run (``carry_over``)."""

    published: Path
    copy: Path
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread = field(init=False)
    identity: tuple[int, ...] | None = None  # the published file's, set once the copy is complete and exact


_CARRIED: dict[Path, _Carried] = {}


def _identity(path: Path) -> tuple[int, ...]:
    """What tells one state of a file from another: device, inode, size, modification and change times."""
    stat = os.stat(path)
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def _copy_for_carrying(carried: _Carried) -> None:
    try:
        before = _identity(carried.published)
        if not _clone(carried.published, carried.copy, carried.stop):
            return
        with open(carried.copy, "rb") as fh:
            os.fsync(fh.fileno())  # flushed now, so the checkpoint after the append has little left to write
        if _identity(carried.published) == before:
            carried.identity = before
    except Exception:  # noqa: BLE001 (a copy made ahead is an optimisation: republish copies again, and reports)
        return


def carry_over(published: Path) -> Path | None:
    """Start copying the published file in a thread, for ``republish`` to append this run's audit to.

    ``tradewh load`` calls it once it holds the writer lock, before Prefect's local server starts: the copy (and its
    flush to disk) of a 600 MB file takes about half a second, which a no-op run would otherwise spend after it knew
    nothing changed, while the copy runs beside the seconds the server takes to start. A run that builds drops the
    copy (``drop_carried``); a run that republishes takes it (``take_carried``), but only when it is complete and
    the published file has not changed since it was copied. Its name (``.<name>.carried-<pid>.building``) is one
    ``warehouse.publish.debris`` clears after a crash; the flow keeps it out of its own clearing (``carried_copies``).

    Returns:
        The copy's path, or None when nothing is published yet.
    """
    if not published.exists():
        return None
    key = Path(os.path.abspath(published))
    drop_carried(key)
    carried = _Carried(key, key.with_name(f".{key.name}.carried-{os.getpid()}.building"))
    _remove(carried.copy)
    carried.thread = threading.Thread(target=_copy_for_carrying, args=(carried,), name="tradewh-carry")
    _CARRIED[key] = carried
    carried.thread.start()
    return carried.copy


def carried_copies() -> set[Path]:
    """The copies this process is carrying over (not debris, though their names are those of a crash's)."""
    return {c.copy for c in _CARRIED.values()}


def take_carried(published: Path) -> Path | None:
    """The copy carried over for ``published`` (waiting for it), when it is complete and still exact; else None.

    The copy is then the caller's (to append to and publish, or delete). An incomplete copy, or one of a file
    changed since, is deleted.
    """
    carried = _CARRIED.pop(Path(os.path.abspath(published)), None)
    if carried is None:
        return None
    carried.thread.join()
    try:
        exact = carried.identity is not None and carried.identity == _identity(carried.published)
    except FileNotFoundError:
        exact = False
    if exact and carried.copy.exists():
        return carried.copy
    _remove(carried.copy)
    return None


def working_copy(published: Path, run_id: str) -> Path:
    """A copy of the published file for a build to start from (``warehouse.build.build_incremental``): the one carried
    over while Prefect started when it is complete and exact (``take_carried``), else one made now. The caller
    publishes or deletes it (its name is one ``warehouse.publish.debris`` clears after a crash)."""
    carried = take_carried(published)
    if carried is not None:
        return carried
    copy = published.with_name(f".{published.name}.{run_id}.building")
    copy.unlink(missing_ok=True)
    _clone(published, copy)
    return copy


def drop_carried(published: Path | None = None) -> None:
    """Stop and delete the copy carried over for ``published`` (every copy when None): the run builds a new file."""
    keys = list(_CARRIED) if published is None else [Path(os.path.abspath(published))]
    for key in keys:
        carried = _CARRIED.pop(key, None)
        if carried is None:
            continue
        carried.stop.set()
        carried.thread.join()
        _remove(carried.copy)


def _remove(path: Path) -> None:
    """Delete a copy and its WAL; a large file is unlinked in a thread (``warehouse.publish.swap.discard``)."""
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
    with contextlib.suppress(FileNotFoundError):
        discard(path)


def republish(published: Path, inputs: BuildInputs, run_id: str, *, lake_dir: Path) -> bool:
    """Publish the published file again with this run's audit rows appended (check ``reason_to_rebuild`` first).

    Args:
        published: the published warehouse file.
        inputs: what it is built from (unchanged, recorded again in ``audit.builds``).
        run_id: this run.
        lake_dir: the lake, whose ``_audit`` holds this run's records.

    Returns:
        True when the copy published was the one carried over (``carry_over``), False when it was made here.
    """
    carried = take_carried(published)  # copied while Prefect started (carry_over), if this process did
    copy = carried or published.with_name(f".{published.name}.{run_id}.building")  # warehouse.publish.debris clears it
    try:
        if carried is None:
            copy.unlink(missing_ok=True)
            _clone(published, copy)
        with duckdb.connect(str(copy)) as con:
            for table in audit.TABLES:  # a file built before a table existed gets it, with its columns
                con.execute(audit.table_ddl(table))
            for table in AUDIT_TABLES:
                records = lake_dir / "_audit" / table / f"{run_id}.parquet"
                if records.exists():
                    con.execute(f"insert into audit.{table} by name select * from read_parquet(?)", [str(records)])
            rollbacks = sorted(str(p) for p in (lake_dir / "_audit" / "rollbacks").glob("*.parquet"))
            if rollbacks:  # recorded since the file was built (a refused rollback leaves it in place)
                con.execute(
                    "insert into audit.rollbacks by name select * from read_parquet(?, union_by_name = true) r "
                    "where r.rollback_id not in (select rollback_id from audit.rollbacks) order by all",
                    [rollbacks],
                )
            last = "select largest_revisions from audit.builds order by published_at desc, run_id desc limit 1"
            revisions = con.execute(last).fetchone()[0]
            stamp(con, run_id, inputs, rebuilt=False, revisions=revisions)
            con.execute("checkpoint")
        publish(copy, published, run_id=run_id)
    finally:
        copy.unlink(missing_ok=True)
        copy.with_name(copy.name + ".wal").unlink(missing_ok=True)
    return carried is not None


def largest_revisions(warehouse: Path) -> list[tuple]:
    """The ten largest rows of ``marts.revisions`` in a published file, as recorded at its build.

    A file published before builds were recorded is queried instead.
    """
    with connect_read_only(warehouse) as con:
        try:
            last = "select largest_revisions from audit.builds order by published_at desc, run_id desc limit 1"
            row = con.execute(last).fetchone()
        except duckdb.CatalogException:
            row = None
        if row is None or row[0] is None:
            return con.execute(LARGEST_REVISIONS).fetchall()
    return [tuple(r) for r in json.loads(row[0])]
