"""The Parquet lake's layout: a folder per dataset x source, a folder per vintage, and a manifest per source
naming the files a completed load committed (``warehouse.ingest.commit_lake`` writes it).

Plain paths and JSON only, no data libraries: a run that finds every source unchanged reads the manifests and
nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from warehouse.catalogue import Source
from warehouse.fetch import Payload

MANIFEST = "_manifest.json"


def source_dir(lake_dir: Path, source: Source) -> Path:
    """A source's folder in the lake: ``<lake>/<dataset>/<source id>``."""
    return lake_dir / source.dataset / source.id


def manifest(base: Path) -> dict[str, Any]:
    """A source folder's manifest (``files``: vintage -> Parquet file, ``sha256``, ``vintage_sha256``); empty
    when nothing was committed there yet."""
    path = base / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def unchanged(source: Source, payloads: list[Payload], lake_dir: Path) -> bool:
    """Whether the payloads are exactly those last loaded for this source (and their Parquet is still there)."""
    base = source_dir(lake_dir, source)
    state = manifest(base)
    if not state:
        return False
    files_there = all((base / v / name).exists() for v, name in state["files"].items())
    return files_there and sorted(state["sha256"]) == sorted(p.sha256 for p in payloads)


def lake_files(lake_dir: Path, dataset: str) -> list[Path]:
    """Every Parquet file of a dataset that a completed load committed in its source's manifest."""
    files = []
    for path in sorted((lake_dir / dataset).glob(f"*/{MANIFEST}")):
        state = json.loads(path.read_text())
        files += [path.parent / vintage / name for vintage, name in sorted(state["files"].items())]
    return files
