"""What the last fetch of each local file (``seed`` and ``path`` locations) saw, so an unchanged file is not read.

One small JSON file per source, ``raw/<source_id>/_file_state.json``, beside the payloads it describes::

    {"version": 1,
     "files": {"/abs/path/figures.csv": {"size": 123, "mtime_ns": ..., "ctime_ns": ..., "inode": ..., "device": ...,
                                         "sha256": "...", "name": "figures.csv", "hashed_at_ns": ...}}}

A file whose size, mtime, ctime, inode and device are all as recorded is taken to hold the bytes it held when it
was hashed, the way git's index and make trust a stat. ctime cannot be set back by ``touch`` or ``cp -p``, and a
new file (a rename over it) has a new inode. The one blind spot of a stat is a rewrite within the same tick of
the file system's clock as the write that was hashed: git calls such an entry "racy" and re-reads it. Here an
entry is racy, and never trusted, unless the file's mtime is older, by more than ``RACY_SLACK_NS``, than the
moment the hash began (taken before the file was stat'd and read); the next fetch hashes it again and records a
later moment, so a racy entry costs one extra read, never a wrong payload. The slack covers file systems with
coarse timestamps (FAT: 2 s, ext3 and HFS+: 1 s, the kernel's coarse clock: a few ms) and assumes the file's
timestamps come from this machine's clock (a network file system whose server clock lags by more is not covered).

The file is replaced atomically (a temporary ``.part-`` file, then a rename); a state that cannot be read only
costs reading the files again.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from warehouse.common.atomic import write_text_atomic

STATE_FILE = "_file_state.json"
VERSION = 1
RACY_SLACK_NS = 2_000_000_000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSeen:
    """A local file as it was when hashed.

    Attributes:
        size, mtime_ns, ctime_ns, inode, device: its stat then.
        sha256: hex digest of its bytes.
        name: the name its bytes are kept under (``raw/<source_id>/<sha256>/<name>``).
        hashed_at_ns: the wall clock (ns since the epoch) just before it was stat'd and read.
    """

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    device: int
    sha256: str
    name: str
    hashed_at_ns: int

    @classmethod
    def of(cls, stat: os.stat_result, *, sha256: str, name: str, hashed_at_ns: int) -> FileSeen:
        """The entry for a file with this stat and digest."""
        return cls(
            stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev, sha256, name, hashed_at_ns
        )

    def same_stat(self, stat: os.stat_result) -> bool:
        """Whether a stat shows the file exactly as it was when hashed."""
        now = (stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev)
        return now == (self.size, self.mtime_ns, self.ctime_ns, self.inode, self.device)

    @property
    def racy(self) -> bool:
        """Whether the file may have changed within the timestamp tick of the write that was hashed."""
        return self.mtime_ns >= self.hashed_at_ns - RACY_SLACK_NS

    def unchanged(self, stat: os.stat_result) -> bool:
        """Whether the digest can be reused for a file with this stat without reading it."""
        return self.same_stat(stat) and not self.racy


def state_path(raw_dir: Path, source_id: str) -> Path:
    """``raw/<source_id>/_file_state.json``."""
    return raw_dir / source_id / STATE_FILE


def _entry(value: object) -> FileSeen | None:
    if not isinstance(value, dict):
        return None
    try:
        seen = FileSeen(**{k: value[k] for k in FileSeen.__dataclass_fields__})
    except (KeyError, TypeError):
        return None
    numbers = (seen.size, seen.mtime_ns, seen.ctime_ns, seen.inode, seen.device, seen.hashed_at_ns)
    single_name = isinstance(seen.name, str) and seen.name not in ("", ".", "..") and "/" not in seen.name
    valid = all(type(n) is int for n in numbers) and isinstance(seen.sha256, str) and _SHA256.match(seen.sha256)
    return seen if valid and single_name else None


def load_state(raw_dir: Path, source_id: str) -> dict[str, FileSeen]:
    """Read a source's file state; a missing or unreadable file is an empty state.

    Returns:
        Absolute path of a local file -> what its last fetch saw.
    """
    path = state_path(raw_dir, source_id)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read %s (%s); reading the files again", source_id, path, type(exc).__name__)
        return {}
    files = document.get("files") if isinstance(document, dict) and document.get("version") == VERSION else None
    if not isinstance(files, dict):
        return {}
    return {p: entry for p, value in files.items() if (entry := _entry(value)) is not None}


def save_state(raw_dir: Path, source_id: str, files: dict[str, FileSeen]) -> None:
    """Replace a source's file state (atomically) with these entries.

    Args:
        raw_dir: the raw zone.
        source_id: the catalogue entry.
        files: absolute path -> what this fetch saw; files no longer located drop out.
    """
    document = {"version": VERSION, "files": {p: asdict(s) for p, s in sorted(files.items())}}
    write_text_atomic(state_path(raw_dir, source_id), json.dumps(document, indent=2, sort_keys=True))
