"""Parse, validate and write one source to the Parquet lake: plain functions the flow's tasks wrap."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.parquet as pq

from schemas.rules import QUARANTINE_COLUMNS, FrameRule, RunContext, validate_frame
from warehouse.catalogue import Source
from warehouse.failpoints import failpoint
from warehouse.fetch import Payload
from warehouse.parsers.base import ParsedFile

PROVENANCE_COLUMNS = ["source_id", "vintage", "file_name", "file_sha256"]
MANIFEST = "_manifest.json"


@dataclass
class SourceResult:
    """What happened to one source in one run (one row of ``audit.source_runs``)."""

    source_id: str
    dataset: str
    status: str  # 'loaded', 'skipped' (unchanged), 'failed'
    files: list[dict[str, object]] = field(default_factory=list)
    vintages: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_valid: int = 0
    rows_rejected: int = 0
    rows_loaded: int = 0
    message: str = ""
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUARANTINE_COLUMNS))


def over_threshold(rows_read: int, rows_rejected: int, threshold: float) -> str | None:
    """Why a source fails as a whole when too many of its rows were rejected, or None when it may load."""
    share = rows_rejected / max(rows_read, 1)
    if share <= threshold:
        return None
    return (
        f"{rows_rejected} of {rows_read} rows rejected ({share:.1%}), above the threshold of {threshold:.0%}: "
        "nothing of this source is loaded; see audit.rejected_rows"
    )


def parser_for(dataset: str) -> Callable[..., ParsedFile]:
    """The parser of a dataset: ``warehouse.parsers.<dataset>.parse_<dataset>``."""
    module = importlib.import_module(f"warehouse.parsers.{dataset}")
    return getattr(module, f"parse_{dataset}")


def schema_for(dataset: str, context: RunContext) -> tuple[pa.DataFrameSchema, list[FrameRule]]:
    """The rules of a dataset for this run: ``schemas.<dataset>.schema(context)``."""
    return importlib.import_module(f"schemas.{dataset}").schema(context)


def model_for(dataset: str) -> type[pa.DataFrameModel]:
    """The dataset's pandera model (the first DataFrameModel its schema module defines)."""
    module = importlib.import_module(f"schemas.{dataset}")
    models = [
        v
        for v in vars(module).values()
        if isinstance(v, type) and issubclass(v, pa.DataFrameModel) and v.__module__ == module.__name__
    ]
    return models[0]


def _loaded_vintages(source: Source, lake_dir: Path) -> dict[str, list[str]]:
    return _manifest(source_dir(lake_dir, source)).get("vintage_sha256", {})


def vintage_of(source: Source, stated: str | None, sha256: str, loaded: dict[str, list[str]], today: str) -> str:
    """The release a payload belongs to.

    The date the payload states wins; else the catalogue's vintage, unless that vintage was already loaded
    from other content: then the publisher has revised the file without saying when, and the revision is
    dated by the day it was first seen (both vintages are kept).
    """
    if stated:
        return stated
    seen = loaded.get(source.vintage)
    if seen and sha256 not in seen and today > source.vintage:
        return today
    return source.vintage


def parse_payloads(source: Source, payloads: list[Payload], lake_dir: Path | None = None) -> pd.DataFrame:
    """Parse every payload of a source and tag each row with its provenance.

    Args:
        source: the catalogue entry.
        payloads: its fetched files.
        lake_dir: the lake, to tell a revised payload from the one already loaded (see ``vintage_of``).

    Returns:
        The dataset's columns plus ``source_id``, ``vintage``, ``file_name`` and ``file_sha256``.
    """
    parse = parser_for(source.dataset)
    loaded = _loaded_vintages(source, lake_dir) if lake_dir is not None else {}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    frames = []
    for payload in payloads:
        parsed = parse(payload.raw_path, source_id=source.id)
        frame = parsed.frame.copy()
        frame["source_id"] = source.id
        frame["vintage"] = vintage_of(source, parsed.vintage, payload.sha256, loaded, today)
        frame["file_name"] = payload.name
        frame["file_sha256"] = payload.sha256
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def validate_source(source: Source, frame: pd.DataFrame, context: RunContext) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the dataset's rules lazily; return (valid rows, quarantine rows)."""
    schema, rules = schema_for(source.dataset, context)
    return validate_frame(frame, schema, rules)


def source_dir(lake_dir: Path, source: Source) -> Path:
    return lake_dir / source.dataset / source.id


def unchanged(source: Source, payloads: list[Payload], lake_dir: Path) -> bool:
    """Whether the payloads are exactly those last loaded for this source (and their Parquet is still there)."""
    base = source_dir(lake_dir, source)
    state = _manifest(base)
    if not state:
        return False
    files_there = all((base / v / name).exists() for v, name in state["files"].items())
    return files_there and sorted(state["sha256"]) == sorted(p.sha256 for p in payloads)


def _atomic_parquet(table: pa_arrow.Table, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        failpoint("parquet")  # a Parquet file written, not yet renamed into place
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def to_arrow(frame: pd.DataFrame, model: type[pa.DataFrameModel]) -> pa_arrow.Table:
    """The frame as an Arrow table with the model's columns first, strings as Arrow strings."""
    columns = [c for c in model.to_schema().columns if c in frame.columns]
    ordered = frame[columns + [c for c in frame.columns if c not in columns]]
    return pa_arrow.Table.from_pandas(ordered, preserve_index=False)


def _manifest(base: Path) -> dict:
    manifest = base / MANIFEST
    return json.loads(manifest.read_text()) if manifest.exists() else {}


def write_lake(source: Source, valid: pd.DataFrame, payloads: list[Payload], lake_dir: Path, run_id: str) -> list[str]:
    """Write valid rows as Parquet, one folder per source and vintage, then commit them in the manifest.

    Each vintage's rows go to a new file named after the run; the manifest, replaced atomically last, is the
    one place that says which file holds a vintage. A crash before it leaves the previous state in force (the
    orphan file is cleared by the next run); files it no longer names are deleted after it.

    Returns:
        The vintages written.
    """
    model = model_for(source.dataset)
    base = source_dir(lake_dir, source)
    before = _manifest(base)
    files = dict(before.get("files", {}))
    vintages = sorted(valid["vintage"].unique()) if len(valid) else []
    written: dict[str, list[str]] = {}
    for vintage in vintages:
        rows = valid[valid["vintage"] == vintage]
        if vintage in files:
            # a file of this vintage that did not come again (it was revised into a newer vintage) keeps its rows
            kept = pq.read_table(base / vintage / files[vintage]).to_pandas()
            kept = kept[~kept["file_name"].isin(set(rows["file_name"]))]
            rows = pd.concat([kept, rows], ignore_index=True) if len(kept) else rows
        name = f"data-{run_id}.parquet"
        _atomic_parquet(to_arrow(rows, model), base / vintage / name)
        files[vintage] = name
        written[vintage] = sorted(rows["file_sha256"].unique())
    state = {
        "run_id": run_id,
        "sha256": sorted(p.sha256 for p in payloads),
        "files": files,  # revisions never erase a vintage
        "vintage_sha256": {**before.get("vintage_sha256", {}), **written},
        "rows": int(len(valid)),
    }
    base.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=base, prefix=".manifest-")
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2)
    os.replace(tmp, base / MANIFEST)
    for vintage, name in files.items():
        for stale in (base / vintage).glob("data-*.parquet"):
            if stale.name != name:
                stale.unlink()
    return vintages


def lake_files(lake_dir: Path, dataset: str) -> list[Path]:
    """Every Parquet file of a dataset that a completed load committed in its source's manifest."""
    files = []
    for manifest in sorted((lake_dir / dataset).glob(f"*/{MANIFEST}")):
        state = json.loads(manifest.read_text())
        files += [manifest.parent / vintage / name for vintage, name in sorted(state["files"].items())]
    return files
