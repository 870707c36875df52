"""A run that changed nothing publishes without rebuilding: what a warehouse file is built from, and the no-op publish.

A warehouse file is a function of its inputs: the Parquet the lake's manifests commit, the SQL files, the reference
lists, the catalogue, the storage version, the code the build depends on (``warehouse.build.code``) and the
libraries installed, plus the audit records of every run (``lake/_audit``). ``build_inputs`` digests the inputs in
a few milliseconds: small files are read, the Parquet is identified by its manifest and its files' stats, never
read. Every published file records that digest in ``audit.builds``, with the run that published it.

When a run loaded nothing and the inputs' digest equals the published file's, a rebuild would produce the same
file plus this run's audit rows. ``republish`` produces exactly that without the data work: it copies the published
file to a new temporary file in the kernel (``copy_file_range``, which clones extents on file systems that can),
appends the run's audit rows from the lake's audit Parquet to the copy, and publishes it with
``warehouse.publish.swap.publish``, the swap a build uses: readers keep the file they opened, the file replaced becomes
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
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from warehouse.build.code import code_files
from warehouse.build.models import file_references, read_header
from warehouse.build.sqltext import text_literal
from warehouse.common.readonly import connect_read_only
from warehouse.extract.catalogue import Source
from warehouse.lake.manifest import MANIFEST

AUDIT_TABLES = ("load_runs", "source_runs", "source_files", "rejected_rows", "partial_losses")
CODE_ROOT = Path(__file__).resolve().parents[2]  # warehouse/build/inputs.py -> the checkout

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
# added later (``alter table``): a file published before it has the table without it, and rolls back all the same
BUILD_KIND = (
    "build_kind",
    "varchar",
    "How the publish made the file: 'full' (built from the whole lake), 'incremental' (built on the published file, "
    "the changed sources' rows replaced), 'republish' (nothing it is built from had changed: the previous file "
    "with this run's audit rows); null for a publish recorded before this column existed",
)


def _builds_ddl() -> str:
    columns = ", ".join(f"{name} {kind}" for name, (kind, _) in BUILDS_COLUMNS.items())
    comments = [f"comment on table audit.builds is {text_literal(BUILDS_COMMENT)}"]
    comments += [f"comment on column audit.builds.{n} is {text_literal(c)}" for n, (_, c) in BUILDS_COLUMNS.items()]
    name, kind, comment = BUILD_KIND
    added = [f"alter table audit.builds add column if not exists {name} {kind}"]
    added.append(f"comment on column audit.builds.{name} is {text_literal(comment)}")
    return ";\n".join([f"create table if not exists audit.builds ({columns})", *added, *comments])


@dataclass(frozen=True)
class BuildInputs:
    """Digests of what a warehouse file is built from.

    Attributes:
        parts: input name -> hex SHA-256: one ``lake:<dataset>/<source id>`` per source folder of the lake (its
            manifest and the stat of its files), then sql, reference, catalogue, storage_version, code, libraries.
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


LAKE_PART = "lake:"  # a part per source folder of the lake: ``lake:<dataset>/<source id>``


def lake_part(dataset: str, source_id: str) -> str:
    """The name of a source folder's part of ``BuildInputs`` (``lake:<dataset>/<source id>``)."""
    return f"{LAKE_PART}{dataset}/{source_id}"


def _lake(manifest: Path) -> Iterable[bytes]:
    """A source's manifest (the lake's commit point, see ``warehouse.lake.manifest``) and the stat of the files it
    names."""
    text = manifest.read_bytes()
    yield text
    with contextlib.suppress(ValueError, KeyError, AttributeError, TypeError):
        for vintage, name in sorted(json.loads(text)["files"].items()):
            try:
                stat = (manifest.parent / vintage / name).stat()
                yield f"{vintage}/{name} {stat.st_size} {stat.st_mtime_ns}".encode()
            except FileNotFoundError:
                yield f"{vintage}/{name} missing".encode()


def _lake_parts(lake_dir: Path) -> dict[str, str]:
    """One digest per source folder that has a manifest: a run that changed one source tells which
    (``warehouse.build.incremental`` replaces only its rows)."""
    return {
        lake_part(m.parent.parent.name, m.parent.name): _digest(_lake(m))
        for m in sorted(lake_dir.glob(f"*/*/{MANIFEST}"))
    }


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
            **_lake_parts(lake_dir),
            "sql": _digest(_files(sql_dir)),
            "reference": _digest(_files(seeds_dir / "reference")),
            "catalogue": _digest([entries]),
            "storage_version": _digest([storage_version.encode()]),
            "code": _digest(code_files(CODE_ROOT)),  # the build package and what it imports (warehouse.build.code)
            "libraries": _digest(_libraries()),
        }
    )


def stored_views_reading_audit(sql_dir: Path) -> list[str]:
    """Views stored as tables at build (``-- materialized: table``) that read ``audit.*``, directly or through views.

    Rows appended to the audit would not reach such a table, so a run cannot carry the file over while one exists.
    """
    files = {f"{f.parent.name}.{f.stem}": f for f in sorted(sql_dir.glob("*/*.sql"))}
    reading: dict[str, bool] = {}

    def reads_audit(name: str) -> bool:  # only the stored views and what they read are parsed (15 files of 24)
        if name not in reading:
            reading[name] = False  # a cycle adds nothing (the build refuses it)
            refs = file_references(files[name]) - {name}
            reading[name] = any(r.startswith("audit.") or (r in files and reads_audit(r)) for r in refs)
        return reading[name]

    stored = [name for name, path in files.items() if read_header(path).materialized == "table"]
    return sorted(name for name in stored if reads_audit(name))


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


def stamp(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    inputs: BuildInputs,
    *,
    rebuilt: bool,
    revisions: str,
    kind: str | None = None,
) -> None:
    """One row of ``audit.builds``; ``kind`` (``BUILD_KIND``): 'full' for a rebuild, else 'republish', unless given."""
    con.execute(_builds_ddl())
    con.execute(
        f"insert into audit.builds ({', '.join([*BUILDS_COLUMNS, BUILD_KIND[0]])}) values (?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            dt.datetime.now(dt.UTC),
            rebuilt,
            inputs.sha256,
            json.dumps(inputs.parts, sort_keys=True),
            revisions,
            kind or ("full" if rebuilt else "republish"),
        ],
    )


def stamp_build(con: duckdb.DuckDBPyConnection, inputs: BuildInputs, run_id: str) -> None:
    """Record in a freshly built (not yet published) file what it was built from, and its largest revisions, on
    the build's own connection (``build_warehouse(finish=...)``): no second open and checkpoint of a big file.

    Args:
        con: the build's connection, using the new file.
        inputs: the digests taken before the build read its inputs.
        run_id: the run that built it.
    """
    known = con.execute(f"select getvariable('{REVISIONS_VARIABLE}')").fetchone()[0]  # build_incremental's
    revisions = known or json.dumps(con.execute(LARGEST_REVISIONS).fetchall(), default=str)
    stamp(con, run_id, inputs, rebuilt=True, revisions=revisions)


# set by ``warehouse.build.incremental`` on its connection when it has the list exactly without the query below
REVISIONS_VARIABLE = "tradewh_largest_revisions"
LARGEST_REVISIONS = (
    "select source_id, reporter, period, flow, category, previous_vintage_value, value, revision "
    "from marts.revisions limit 10"
)


def truncation(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    """Whether a DuckDB file opened on ``con`` is shorter than the blocks its header counts (a truncated copy opens,
    and answers until a query reaches a missing block: "Corrupt database file"). None when it is long enough for the
    blocks in use."""
    # free blocks at the end of a file are cut off at a checkpoint (a file that had rows deleted, as an
    # incremental build's has): only the blocks in use must be there
    blocks, free, block_size = con.execute(
        "select total_blocks, free_blocks, block_size from pragma_database_size()"
    ).fetchone()
    blocks -= free
    size = path.stat().st_size
    if size < blocks * block_size:
        return f"{path} is truncated: {size:,} bytes where its header counts {blocks} blocks of {block_size:,}"
    return None
