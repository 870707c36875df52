"""A run that changed nothing publishes without rebuilding: what a warehouse file is built from, and the no-op publish.

A warehouse file is a function of its inputs: the Parquet the lake's manifests commit, the SQL files, the reference
lists, the catalogue, the storage version, tradewh's code and the libraries installed, plus the audit records of
every run (``lake/_audit``). ``build_inputs`` digests the inputs in a few milliseconds: small files are read, the
Parquet is identified by its manifest and its files' stats, never read. Every published file records that digest
in ``audit.builds``, with the run that published it.

When a run loaded nothing and the inputs' digest equals the published file's, a rebuild would produce the same
file plus this run's audit rows. ``republish`` produces exactly that without the data work: it copies the published
file to a new temporary file in the kernel (``copy_file_range``, which clones extents on file systems that can),
appends the run's audit rows from the lake's audit Parquet to the copy, and publishes it with
``warehouse.build.publish``, the swap a build uses: readers keep the file they opened, the file replaced becomes
``.previous`` (``tradewh rollback`` works as after a build), and a crash leaves the published file as it was (the
temporary ``.building`` file is cleared by the next run). Two other designs were rejected: appending to the
published file in place (a reader's open file would change under it, and a crash could leave it half-written), and
keeping no-op runs out of the file (``audit.*`` must list every run). Measured at 1M Comtrade rows on 2 shared
cores: the 28 MB file copied, appended to and published in 0.11-0.16 s, where rebuilding it made a no-op run about
12 s slower than an empty Prefect flow.

The copy is reused only when it is exact: its audit must hold every run recorded in the lake before this one (a run
that was recorded but not published, after a failed build or a rollback, makes the next run rebuild), this run must
have quarantined nothing, and no view stored as a table at build (``-- materialized: table``) may read the audit.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import importlib.util
import json
import os
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb

from warehouse import audit
from warehouse.build import discard, publish, truncation
from warehouse.catalogue import Source
from warehouse.lake import MANIFEST
from warehouse.readonly import connect_read_only

AUDIT_TABLES = ("load_runs", "source_runs", "source_files", "rejected_rows")
CODE_ROOT = Path(__file__).resolve().parent.parent
CODE_PACKAGES = ("warehouse", "schemas", "flows")  # any change to them rebuilds: simpler than knowing what builds
LARGEST_REVISIONS = (
    "select source_id, reporter, period, flow, category, previous_vintage_value, value, revision "
    "from marts.revisions limit 10"
)
_REFERENCE = re.compile(r"\b(raw|staging|core|marts|audit)\.([a-z_][a-z0-9_]*)\b")
_STORED = re.compile(r"^--\s*materialized:\s*table\s*$", re.M)
CLONE_STEP = 64 * 1024**2  # _clone copies in steps of this size; a copy made ahead (carry_over) may stop between

BUILDS_COMMENT = (
    "One row per publish of this file since it was built: the run that built it, then each run that published it "
    "again with its audit rows because nothing it is built from had changed; with a digest of those inputs"
)
BUILDS_COLUMNS = {  # column -> (type, comment)
    "run_id": ("varchar", "The load run (audit.load_runs) that published the file"),
    "published_at": ("timestamptz", "When the file was published"),
    "is_rebuilt": (
        "boolean",
        "true: built from the lake; false: nothing it is built from had changed, so the previous file was "
        "published again with this run's audit rows",
    ),
    "inputs_sha256": (
        "varchar",
        "SHA-256 of what the file is built from: lake manifests, SQL, reference lists, catalogue, storage version, "
        "code, libraries",
    ),
    "inputs": ("varchar", "JSON: the SHA-256 of each of those inputs, to tell which one changed"),
    "largest_revisions": ("varchar", "JSON: the ten largest rows of marts.revisions, for the run summary"),
}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _builds_ddl() -> str:
    columns = ", ".join(f"{name} {kind}" for name, (kind, _) in BUILDS_COLUMNS.items())
    comments = [f"comment on table audit.builds is {_literal(BUILDS_COMMENT)}"]
    comments += [f"comment on column audit.builds.{n} is {_literal(c)}" for n, (_, c) in BUILDS_COLUMNS.items()]
    return ";\n".join([f"create table if not exists audit.builds ({columns})", *comments])


@dataclass(frozen=True)
class BuildInputs:
    """Digests of what a warehouse file is built from.

    Attributes:
        parts: input name (lake, sql, reference, catalogue, storage_version, code, libraries) -> hex SHA-256.
    """

    parts: dict[str, str]

    @property
    def sha256(self) -> str:
        """One digest of every part."""
        return hashlib.sha256(json.dumps(self.parts, sort_keys=True).encode()).hexdigest()

    def changed_since(self, recorded: dict[str, str]) -> list[str]:
        """The parts that differ from a recorded set (every part when the recorded set is unreadable)."""
        return sorted(
            name for name in self.parts.keys() | recorded.keys() if self.parts.get(name) != recorded.get(name)
        )


def _digest(items: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for item in items:
        digest.update(len(item).to_bytes(8, "big") + item)
    return digest.hexdigest()


def _files(folder: Path, pattern: str = "**/*") -> Iterable[bytes]:
    for path in sorted(p for p in folder.glob(pattern) if p.is_file() and "__pycache__" not in p.parts):
        yield str(path.relative_to(folder)).encode()
        yield path.read_bytes()


def _lake(lake_dir: Path) -> Iterable[bytes]:
    """Each source's manifest (the lake's commit point, see ``warehouse.lake``) and the stat of the files it names."""
    for manifest in sorted(lake_dir.glob(f"*/*/{MANIFEST}")):
        text = manifest.read_bytes()
        yield str(manifest.relative_to(lake_dir)).encode()
        yield text
        with contextlib.suppress(ValueError, KeyError, AttributeError, TypeError):
            for vintage, name in sorted(json.loads(text)["files"].items()):
                try:
                    stat = (manifest.parent / vintage / name).stat()
                    yield f"{vintage}/{name} {stat.st_size} {stat.st_mtime_ns}".encode()
                except FileNotFoundError:
                    yield f"{vintage}/{name} missing".encode()


def _libraries() -> Iterable[bytes]:
    """The distributions installed beside duckdb: their ``.dist-info`` names carry their versions."""
    spec = importlib.util.find_spec("duckdb")
    site = Path(spec.origin).parent.parent if spec and spec.origin else None
    names = sorted(n for n in os.listdir(site) if n.endswith(".dist-info")) if site else []
    yield from (n.encode() for n in names)


def build_inputs(
    *, lake_dir: Path, sql_dir: Path, seeds_dir: Path, catalogue: list[Source], storage_version: str
) -> BuildInputs:
    """Digest what a warehouse file would be built from now (take it before the build reads them).

    Args:
        lake_dir: the Parquet lake.
        sql_dir: the view files.
        seeds_dir: the shipped seeds (their ``reference/`` lists are loaded).
        catalogue: the catalogue entries.
        storage_version: DuckDB storage version of the file.

    Returns:
        The digests; ``sha256`` is the one recorded in ``audit.builds``.
    """
    entries = json.dumps([asdict(s) for s in catalogue], sort_keys=True, default=str).encode()
    return BuildInputs(
        {
            "lake": _digest(_lake(lake_dir)),
            "sql": _digest(_files(sql_dir)),
            "reference": _digest(_files(seeds_dir / "reference")),
            "catalogue": _digest([entries]),
            "storage_version": _digest([storage_version.encode()]),
            "code": _digest(item for package in CODE_PACKAGES for item in _files(CODE_ROOT / package, "**/*.py")),
            "libraries": _digest(_libraries()),
        }
    )


def stored_views_reading_audit(sql_dir: Path) -> list[str]:
    """Views stored as tables at build (``-- materialized: table``) that read ``audit.*``, directly or through views.

    Rows appended to the audit would not reach such a table, so a run cannot carry the file over while one exists.
    """
    texts = {f"{f.parent.name}.{f.stem}": f.read_text() for f in sorted(sql_dir.glob("*/*.sql"))}
    reads = {name: {f"{s}.{t}" for s, t in _REFERENCE.findall(text)} - {name} for name, text in texts.items()}
    reading_audit: set[str] = set()
    grew = True
    while grew:  # a fixed point: views reading the audit, or reading a view that does
        found = {n for n, r in reads.items() if any(x.startswith("audit.") or x in reading_audit for x in r)}
        grew, reading_audit = found != reading_audit, found
    return sorted(n for n in reading_audit if _STORED.search(texts[n]))


def _recorded_runs(lake_dir: Path) -> set[str]:
    return {p.stem for p in (lake_dir / "_audit" / "load_runs").glob("*.parquet")}


def reason_to_rebuild(
    published: Path, inputs: BuildInputs, run_id: str, *, lake_dir: Path, sql_dir: Path
) -> str | None:
    """Why the published file cannot simply be carried over with this run's audit rows, or None when it can.

    Args:
        published: the published warehouse file.
        inputs: what a build would read now (``build_inputs``).
        run_id: this run, whose audit records are already in the lake and in no published file.
        lake_dir: the lake (its ``_audit`` records every run).
        sql_dir: the view files.

    Returns:
        A reason (for the log), or None.
    """
    if not published.exists():
        return "no warehouse published yet"
    audit_dir = lake_dir / "_audit"
    if (audit_dir / "rejected_rows" / f"{run_id}.parquet").exists():
        return "this run quarantined rows"
    if not all((audit_dir / t / f"{run_id}.parquet").exists() for t in AUDIT_TABLES[:3]):
        return "this run's audit records are not all in the lake"
    try:
        with connect_read_only(published) as con:
            short = truncation(con, published)
            if short is not None:
                return short  # a copy of it would not open for writing ("Corrupt database file")
            recorded = con.execute(
                "select inputs_sha256, inputs from audit.builds order by published_at desc, run_id desc limit 1"
            ).fetchone()
            runs = {r[0] for r in con.execute("select run_id from audit.load_runs").fetchall()}
    except (duckdb.Error, FileNotFoundError) as exc:
        return f"the published file cannot say what it was built from ({type(exc).__name__})"
    if recorded is None:
        return "the published file records no build"
    if recorded[0] != inputs.sha256:
        try:
            changed = inputs.changed_since(json.loads(recorded[1]))
        except (TypeError, ValueError):
            changed = sorted(inputs.parts)
        return f"changed since the published build: {', '.join(changed)}"
    if runs != _recorded_runs(lake_dir) - {run_id}:
        return "the lake's audit and the published file's differ (a run recorded but not published, or a rollback)"
    stored = stored_views_reading_audit(sql_dir)
    if stored:
        return f"views stored as tables read the audit: {', '.join(stored)}"
    return None


def _stamp(con: duckdb.DuckDBPyConnection, run_id: str, inputs: BuildInputs, *, rebuilt: bool, revisions: str) -> None:
    con.execute(_builds_ddl())
    con.execute(
        "insert into audit.builds values (?, ?, ?, ?, ?, ?)",
        [run_id, dt.datetime.now(dt.UTC), rebuilt, inputs.sha256, json.dumps(inputs.parts, sort_keys=True), revisions],
    )


def stamp_build(con: duckdb.DuckDBPyConnection, inputs: BuildInputs, run_id: str) -> None:
    """Record in a freshly built (not yet published) file what it was built from, and its largest revisions, on
    the build's own connection (``build_warehouse(finish=...)``): no second open and checkpoint of a big file.

    Args:
        con: the build's connection, using the new file.
        inputs: the digests taken before the build read its inputs.
        run_id: the run that built it.
    """
    revisions = con.execute(LARGEST_REVISIONS).fetchall()
    _stamp(con, run_id, inputs, rebuilt=True, revisions=json.dumps(revisions, default=str))


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
    ``warehouse.debris`` clears after a crash; the flow keeps it out of its own clearing (``carried_copies``).

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
    """Delete a copy and its WAL; a large file is unlinked in a thread (``warehouse.build.discard``)."""
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
    copy = carried or published.with_name(f".{published.name}.{run_id}.building")  # warehouse.debris clears it
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
            _stamp(con, run_id, inputs, rebuilt=False, revisions=revisions)
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
