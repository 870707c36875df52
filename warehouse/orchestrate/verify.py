"""``tradewh verify``: check, without changing anything, that what the warehouse is built from and what it publishes
are as they were written.

- raw payloads (``raw/<source>/<sha256>/<file>``): each file's bytes hash to the SHA-256 its folder is named after;
- lake files: each Parquet file a manifest commits is there and hashes to the SHA-256 the manifest recorded;
- the published file (and each publish kept in ``warehouse/history``): it opens read-only and carries a build stamp
  (``audit.builds``) of a run its own audit records.

Every file is read in full (no stat shortcut). ``tradewh load`` repairs what it can: a lake file that does not
match makes its source stage again from its raw payloads (``warehouse.lake.manifest.unchanged``), a published file
that does not open is rebuilt. A raw payload that does not match is named with the fix (delete its folder; the next load
fetches it anew).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from warehouse.build.inputs import truncation
from warehouse.common.settings import Settings
from warehouse.lake.manifest import MANIFEST, file_problems, sha256_file
from warehouse.publish.swap import history, open_checked

WAREHOUSE = Path("warehouse") / "tradewh.duckdb"


def verify_raw(raw_dir: Path) -> list[str]:
    """Raw payloads whose bytes do not hash to the SHA-256 their folder is named after."""
    problems = []
    for folder in sorted(p for p in raw_dir.glob("*/*") if p.is_dir() and len(p.name) == 64):
        for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
            actual = sha256_file(path)
            if actual != folder.name:
                problems.append(
                    f"{path}: SHA-256 {actual[:12]}... is not the {folder.name[:12]}... it was kept under "
                    f"(delete {folder} and run `tradewh load`: it fetches the payload anew)"
                )
    return problems


def repair_raw(raw_dir: Path) -> list[Path]:
    """Delete the raw payload folders whose bytes do not hash to their name (``tradewh load --repair``), so the load
    that follows fetches them anew; a payload is content-addressed, so nothing right is lost. Returns the folders."""
    removed = []
    for folder in sorted(p for p in raw_dir.glob("*/*") if p.is_dir() and len(p.name) == 64):
        files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
        if any(sha256_file(p) != folder.name for p in files):
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


def verify_lake(lake_dir: Path) -> list[str]:
    """Lake files missing, without a recorded SHA-256, or whose SHA-256 is not the one their manifest recorded."""
    problems = []
    for manifest in sorted(lake_dir.glob(f"*/*/{MANIFEST}")):
        try:
            state = json.loads(manifest.read_text())
        except ValueError as exc:
            problems.append(f"{manifest}: not a readable manifest ({exc})")
            continue
        problems += [
            f"{p} (`tradewh load` stages the source again from its raw payloads)"
            for p in file_problems(manifest.parent, state)
        ]
    return problems


def verify_warehouse(path: Path) -> list[str]:
    """Why a warehouse file is not one this project published (does not open, carries no build stamp), if so."""
    if not path.exists():
        return []
    try:
        with open_checked(path) as con:
            short = truncation(con, path)
            if short is not None:
                return [f"{short}; `tradewh load` rebuilds it"]
            stamp = con.execute(
                "select b.run_id, exists (select 1 from audit.load_runs r where r.run_id = b.run_id) "
                "from audit.builds b order by b.published_at desc, b.run_id desc limit 1"
            ).fetchone()
    except Exception as exc:  # noqa: BLE001 (any failure to open or read it is the finding)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [f"{path}: does not open as a tradewh warehouse ({first}); `tradewh load` rebuilds it"]
    if stamp is None:
        return [f"{path}: carries no build stamp (audit.builds is empty)"]
    if not stamp[1]:
        return [f"{path}: its build stamp names run {stamp[0]}, which its audit.load_runs does not hold"]
    return []


def verify(home: Path | Settings) -> list[str]:
    """Check the raw payloads, the lake files and the published file (and the publishes kept) of a data folder.

    Args:
        home: the data folder (``TRADEWH_HOME``), or the settings naming it.

    Returns:
        One line per problem, each naming the file and what fixes it; empty when everything is as written.
    """
    if isinstance(home, Settings):
        raw_dir, lake_dir, published = home.raw_dir, home.lake_dir, home.warehouse_path
    else:
        raw_dir, lake_dir, published = home / "raw", home / "lake", home / WAREHOUSE
    problems = verify_raw(raw_dir) + verify_lake(lake_dir) + verify_warehouse(published)
    for run, path in history(published).items():
        problems += [f"{p} (history entry of run {run})" for p in verify_warehouse(path)]
    return problems
