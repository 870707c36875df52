"""Clear what a killed run left behind: temporary files that no completed step ever pointed to."""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from pathlib import Path

from warehouse.lake.manifest import MANIFEST

PATTERNS = (
    ("raw", "**/.part-*"),  # a payload being written
    ("lake", "**/.part-*"),  # a Parquet file being written
    ("lake", "**/.manifest-*"),  # a manifest being written
    ("warehouse", ".*.building"),  # a warehouse file being built
    ("warehouse", ".*.building.wal"),
    ("warehouse", ".*.discarded"),  # a replaced file whose deletion had not finished (warehouse.publish.swap.discard)
    ("warehouse", "history/.*.building"),  # a history entry being linked (warehouse.publish.swap.publish)
    ("warehouse", "history/.*.discarded"),  # a history entry past TRADEWH_PUBLISH_HISTORY, not yet deleted
    ("tmp", "duckdb_temp_*"),  # DuckDB's spill files of a build (it deletes them itself when it closes)
)


def clear_debris(home: Path, keep: Collection[Path] = ()) -> list[Path]:
    """Delete temporary files of earlier runs, and Parquet files no manifest committed. Hold the writer lock.

    Args:
        home: the data folder.
        keep: temporary files of this run to leave alone (the copy ``tradewh load`` carries over for a no-op run,
            ``warehouse.publish.noop.carry_over``).

    Returns:
        The files removed.
    """
    kept = {os.path.abspath(p) for p in keep}
    removed = [
        p
        for zone, pattern in PATTERNS
        for p in (home / zone).glob(pattern)
        if p.is_file() and os.path.abspath(p) not in kept
    ]
    for manifest in (home / "lake").glob(f"*/*/{MANIFEST}"):
        committed = {manifest.parent / v / name for v, name in json.loads(manifest.read_text())["files"].items()}
        removed += [p for p in manifest.parent.glob("*/data-*.parquet") if p not in committed]
    for path in removed:
        path.unlink()
    return removed
