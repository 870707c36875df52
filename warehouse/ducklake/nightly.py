"""The nightly's last step on the DuckLake target: the DuckDB file it just published, published into the lake as
one snapshot whose commit message is the run id.

The nightly runs in the project's environment (DuckDB 2.0.1), which cannot load the PyPI-packaged DuckLake
extension (built for DuckDB 1.5.5; docs/decisions/0002-ducklake-environment.md). So the publish runs where DuckLake
loads: in this process when it can (the flow was started from the lake environment), else in the lake
environment's interpreter (``TRADEWH_LAKE_PYTHON``, by default the checkout's ``.venv-lake/bin/python``), which
reads the published file read-only. Either way the lake gets the same one transaction; a failure leaves the
lake's latest snapshot as it was and says why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from warehouse.common.settings import Settings
from warehouse.ducklake.connect import LakeUnavailable, configured_target, packaged_file
from warehouse.ducklake.publish import LakePublishError, publish_to_lake


@dataclass(frozen=True)
class LakePublished:
    """What the lake step did: the snapshot it committed, into which catalog, from which interpreter."""

    snapshot_id: int
    catalog: str
    python: str


def _loads_here() -> bool:
    """Whether this interpreter loads DuckLake from a packaged file (the lake environment)."""
    try:
        return packaged_file("ducklake") is not None
    except LakeUnavailable:
        return False


def lake_python(settings: Settings) -> Path | None:
    """The interpreter that publishes into the lake; None: this one."""
    if settings.lake_python:
        return Path(settings.lake_python)
    if _loads_here():
        return None
    return settings.project_root / ".venv-lake" / "bin" / "python"


def _redacted(catalog: str) -> str:
    """A catalog for a log line: a Postgres ``password=`` left out (it belongs in PGPASSWORD anyway)."""
    return re.sub(r"password=\S+", "password=***", catalog)


def publish_nightly_to_lake(
    settings: Settings, warehouse_file: Path, run_id: str, *, timeout: float = 3600
) -> LakePublished:
    """Publish the warehouse file the nightly just published into the configured lake (``settings.lake_catalog``).

    Raises:
        LakePublishError: the publish failed (the lake's latest snapshot is unchanged); the message names the
            catalog, the interpreter and DuckDB's or the process's error.
    """
    target = configured_target(settings, create=True)
    python = lake_python(settings)
    where = _redacted(target.catalog)
    if python is None:
        try:
            snapshot = publish_to_lake(warehouse_file, target, run_id=run_id)
        except Exception as exc:
            raise LakePublishError(
                f"the DuckLake publish into {where} failed, its latest snapshot unchanged: {exc}"
            ) from exc
        return LakePublished(snapshot, where, sys.executable)
    if not python.exists():
        raise LakePublishError(
            f"TRADEWH_LAKE_CATALOG is set ({where}) but the lake environment's interpreter {python} does not exist: "
            "create it with `make lake-env`, or point TRADEWH_LAKE_PYTHON at one that loads DuckLake"
        )
    command = [
        str(python), "-m", "warehouse.ducklake", "--catalog", target.catalog, "--data-path", target.data_path,
        "publish", "--warehouse", str(warehouse_file), "--run-id", run_id,
    ]  # fmt: skip
    env = {**os.environ, "TRADEWH_HOME": str(settings.home), "PYTHONPATH": str(settings.project_root)}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, cwd=settings.project_root, env=env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LakePublishError(f"the DuckLake publish into {where} took over {timeout:.0f} s and was stopped") from exc
    found = re.search(r"published snapshot (\d+)", done.stdout)
    if done.returncode != 0 or found is None:
        why = (done.stderr.strip() or done.stdout.strip() or f"exit {done.returncode}").splitlines()[-1]
        raise LakePublishError(
            f"the DuckLake publish into {where} failed (by {python}, exit {done.returncode}), its latest snapshot "
            f"unchanged: {why}"
        )
    return LakePublished(int(found.group(1)), where, str(python))
