"""The Parquet lake's layout: a folder per dataset x source, a folder per vintage, and a manifest per source
naming the files a completed load committed (``warehouse.stage.staging.commit_lake`` writes it), with each file's
SHA-256.

Plain paths, JSON and hashlib only, no data libraries: a run that finds every source unchanged reads the manifests
and nothing else.

A lake file is verified against the SHA-256 its manifest recorded when it was written:

- by ``unchanged``: a source whose committed file no longer has that digest is not unchanged, so the run stages it
  again from its raw payloads and commits a new file (``warehouse.stage.staging.stage_source`` checks the payloads' own
  digests first). Hashing the 10M-row benchmark's lake file on every run would cost a no-op run a few tenths of a
  second, so a file whose stat (size, mtime, ctime, inode, device) is the one it had when last hashed and found
  right is not read again: the stat and the moment are kept in ``_verified.json`` beside the manifest (not part of
  what the warehouse is built from). ctime cannot be set back by ``touch`` or ``cp -p``, and a rename over the file
  gives a new inode. As in ``warehouse.extract.file_state``, a file hashed within ``RACY_SLACK_NS`` of its mtime is not
  trusted by its stat (a rewrite within one tick of the clock keeps it);
- by the build (``verified_lake_files``), always in full, before DuckDB reads a file: a wrong file stops the build
  with a ``LakeIntegrityError`` naming it, and nothing is published;
- by ``warehouse.orchestrate.verify.verify`` (``tradewh verify``), in full.

A manifest written before digests were recorded names files without one: they count as not verified (the source
stages again once, and its new manifest records them).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from warehouse.common.readahead import read_in_order
from warehouse.extract.catalogue import Source
from warehouse.extract.fetch import Payload

MANIFEST = "_manifest.json"
VERIFIED = "_verified.json"
CHUNK_BYTES = 1024**2
RACY_SLACK_NS = 2_000_000_000


class LakeIntegrityError(RuntimeError):
    """A lake file is missing or its SHA-256 differs from the one its manifest recorded; nothing was built from it.

    Attributes:
        problems: one line per file at fault, naming it.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "the lake does not match its manifests, so nothing is built from it: "
            + "; ".join(problems)
            + ". The next `tradewh load` stages the source again from its raw payloads"
        )


def source_dir(lake_dir: Path, source: Source) -> Path:
    """A source's folder in the lake: ``<lake>/<dataset>/<source id>``."""
    return lake_dir / source.dataset / source.id


def manifest(base: Path) -> dict[str, Any]:
    """A source folder's manifest (``files``: vintage -> Parquet file, ``file_sha256``: vintage -> its digest,
    ``sha256``, ``vintage_sha256``); empty when nothing was committed there yet."""
    path = base / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces (hashlib releases the GIL while it hashes), declared read in order
    to the kernel (``readahead.read_in_order``)."""
    digest = hashlib.sha256()
    view = memoryview(bytearray(CHUNK_BYTES))
    with open(path, "rb", buffering=0) as fh:
        read_in_order(fh)
        while n := fh.readinto(view):
            digest.update(view[:n])
    return digest.hexdigest()


def _stat_key(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def file_problems(base: Path, state: dict[str, Any], *, trust_stat: bool = False) -> list[str]:
    """What is wrong with the Parquet files a source's manifest commits: missing, without a recorded digest, or
    with another digest than the recorded one. Empty when every file is as written.

    Args:
        base: the source's folder.
        state: its manifest.
        trust_stat: skip reading a file whose stat is the one it had when last found right (``_verified.json``);
            a file found right now is recorded there.
    """
    recorded = state.get("file_sha256") or {}
    verified = _read_verified(base) if trust_stat else {}
    problems, seen = [], {}
    for vintage, name in sorted((state.get("files") or {}).items()):
        path = base / vintage / name
        relative = f"{vintage}/{name}"
        expected = recorded.get(vintage)
        try:
            stat = path.stat()
        except FileNotFoundError:
            problems.append(f"{path}: missing")
            continue
        if not expected:
            problems.append(f"{path}: no SHA-256 recorded in {base / MANIFEST} (written before digests were kept)")
            continue
        entry = verified.get(relative)
        if entry and entry.get("sha256") == expected and entry.get("stat") == _stat_key(stat):
            seen[relative] = entry
            continue
        hashed_at = time.time_ns()
        actual = sha256_file(path)
        if actual != expected:
            problems.append(f"{path}: SHA-256 {actual[:12]}... is not the {expected[:12]}... recorded when written")
        elif trust_stat and stat.st_mtime_ns < hashed_at - RACY_SLACK_NS and _stat_key(path.stat()) == _stat_key(stat):
            seen[relative] = {"sha256": actual, "stat": _stat_key(stat), "hashed_at_ns": hashed_at}
    checked = {f"{v}/{n}" for v, n in (state.get("files") or {}).items()}
    kept = {k: v for k, v in verified.items() if k not in checked} | seen
    if trust_stat and kept != verified:
        with contextlib.suppress(OSError):  # only a cache: a read-only lake costs reading the files again
            _write_json(base / VERIFIED, kept)
    return problems


def _read_verified(base: Path) -> dict[str, Any]:
    try:
        document = json.loads((base / VERIFIED).read_text())
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def _write_json(path: Path, document: object) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-")  # warehouse.publish.debris clears a dead one
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def unchanged(source: Source, payloads: list[Payload], lake_dir: Path) -> bool:
    """Whether the payloads are exactly those last loaded for this source and its Parquet is there, as written.

    A committed file that is missing or whose SHA-256 is not the one recorded makes the source changed: the run
    stages it again from its payloads.
    """
    base = source_dir(lake_dir, source)
    state = manifest(base)
    if not state or sorted(state["sha256"]) != sorted(p.sha256 for p in payloads):
        return False
    return not file_problems(base, state, trust_stat=True)


def damaged(source: Source, payloads: list[Payload], lake_dir: Path) -> list[str]:
    """Why a source whose payloads did not change is staged again: its lake files that are missing or differ from
    their manifest (empty when the payloads changed, or nothing is wrong)."""
    base = source_dir(lake_dir, source)
    state = manifest(base)
    if not state or sorted(state["sha256"]) != sorted(p.sha256 for p in payloads):
        return []
    return file_problems(base, state, trust_stat=True)


def lake_files(lake_dir: Path, dataset: str) -> list[Path]:
    """Every Parquet file of a dataset that a completed load committed in its source's manifest."""
    files = []
    for path in sorted((lake_dir / dataset).glob(f"*/{MANIFEST}")):
        state = json.loads(path.read_text())
        files += [path.parent / vintage / name for vintage, name in sorted(state["files"].items())]
    return files


def verified_lake_files(lake_dir: Path, dataset: str) -> list[Path]:
    """``lake_files``, each read in full and checked against the SHA-256 its manifest recorded: what a build reads.

    Raises:
        LakeIntegrityError: naming every file that is missing or differs.
    """
    problems = []
    for path in sorted((lake_dir / dataset).glob(f"*/{MANIFEST}")):
        problems += file_problems(path.parent, json.loads(path.read_text()))
    if problems:
        raise LakeIntegrityError(problems)
    return lake_files(lake_dir, dataset)
