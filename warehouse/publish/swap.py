"""Publishing: a built file swapped into place atomically, the last publishes kept as history (hard links), the
replaced file discarded off the run's path; each publish's build stamp."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
import time
from pathlib import Path

import duckdb

from warehouse.common.atomic import fsync_path
from warehouse.common.failpoints import failpoint
from warehouse.common.settings import load_settings


def discard(path: Path) -> threading.Thread:
    """Delete a file off the caller's path: renamed at once to ``.<name>.<token>.discarded``, unlinked in a thread.

    Unlinking a large file frees its extents in the call (0.16 s for a 600 MB warehouse file on ext4, a sixth of a
    no-op run's own time); the rename is instant. The thread is not a daemon: the interpreter waits for it before it
    exits. A process killed first leaves the renamed file to ``warehouse.publish.debris`` (pattern ``.*.discarded``).

    Returns:
        The thread doing the unlink (join it to wait).
    """
    doomed = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}-{time.monotonic_ns()}.discarded")
    os.replace(path, doomed)
    thread = threading.Thread(target=doomed.unlink, kwargs={"missing_ok": True}, name="tradewh-discard")
    thread.start()
    return thread


HISTORY = "history"  # <warehouse>/history/<run_id>.duckdb: the last publishes, for `tradewh rollback --to RUN`


_BUILT_NAME = re.compile(r"^\.(?P<final>.+)\.(?P<run>\d{8}T\d{6}-[0-9a-f]+)\.building$")


def history_dir(final: Path) -> Path:
    """Where the last publishes of ``final`` are kept: ``<folder>/history``."""
    return final.parent / HISTORY


def history(final: Path) -> dict[str, Path]:
    """The publishes kept in the history, run id -> file, oldest first (run ids sort by time)."""
    folder = history_dir(final)
    entries = sorted(folder.glob("*.duckdb")) if folder.is_dir() else []
    return {p.stem: p for p in entries if not p.name.startswith(".")}


def _link_or_copy(source: Path, target: Path) -> None:
    """``target`` as a hard link to ``source`` (no space used while both exist), a copy where links are refused."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _keep_in_history(final: Path, run_id: str, keep: int) -> None:
    """Add the published file to the history as ``<run_id>.duckdb`` and drop all but the ``keep`` newest."""
    folder = history_dir(final)
    folder.mkdir(exist_ok=True)
    entry = folder / f"{run_id}.duckdb"
    part = folder / f".{run_id}.duckdb.{os.getpid()}.building"  # warehouse.publish.debris clears it after a crash
    part.unlink(missing_ok=True)
    _link_or_copy(final, part)
    os.replace(part, entry)
    kept = history(final)
    for name in list(kept)[: max(len(kept) - max(keep, 1), 0)]:
        with contextlib.suppress(FileNotFoundError):
            discard(kept[name])
    fsync_path(folder)


def publish(built: Path, final: Path, *, run_id: str | None = None, keep: int | None = None) -> Path | None:
    """Swap a built file into place atomically, keeping the one it replaces as ``<name>.previous``, and keep the new
    one in the history (``history/<run_id>.duckdb``, a hard link) with the ``keep`` publishes before it.

    Readers that hold the old file open keep reading it; new readers see the new one. A published file is never
    written to again (a later run publishes a new file), so its history entry stays as it was published.

    Args:
        built: the new file.
        final: the published path.
        run_id: the run that built or published it; None: taken from ``built``'s name (``.<name>.<run_id>.building``)
            or, failing that, from its build stamp (``audit.builds``).
        keep: how many publishes the history keeps (``TRADEWH_PUBLISH_HISTORY`` when None).

    Returns:
        The path of the previous file, or None on the first publish.
    """
    run_id = run_id or _run_of(built)
    keep = load_settings().publish_history if keep is None else keep
    with open(built, "rb") as fh:
        os.fsync(fh.fileno())
    previous = final.with_name(final.name + ".previous")
    had_previous = final.exists()
    if had_previous:
        if previous.exists():
            discard(previous)
        os.link(final, previous)
    failpoint("publish")  # previous kept, new file not yet swapped in
    os.replace(built, final)
    fsync_path(final.parent)
    if run_id is not None and keep > 0:
        _keep_in_history(final, run_id, keep)
    return previous if had_previous else None


def _run_of(built: Path) -> str | None:
    """The run a file was built or published by: from its temporary name, else its newest build stamp."""
    named = _BUILT_NAME.match(built.name)
    if named:
        return named.group("run")
    return build_stamp(built)


def build_stamp(path: Path) -> str | None:
    """The run of a warehouse file's newest build stamp (``audit.builds``), or None when it has none or cannot be
    opened."""
    try:
        with open_checked(path) as con:
            row = con.execute("select run_id from audit.builds order by published_at desc, run_id desc limit 1")
            found = row.fetchone()
    except (duckdb.Error, OSError):
        return None
    return found[0] if found else None


def open_checked(path: Path) -> duckdb.DuckDBPyConnection:
    """A candidate opened read-only, reaching nothing outside itself: its views cannot read or write other files."""
    config = {
        "enable_external_access": False,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "lock_configuration": True,
    }
    return duckdb.connect(str(path), read_only=True, config=config)
