"""What the last successful HTTP fetch of each URL of a source left: its validators and the body kept.

One small JSON file per source, ``raw/<source_id>/_http_state.json``, beside the payloads it describes (never in
the lake or the warehouse)::

    {"version": 1,
     "urls": {"https://host/path?subscription-key=***": {"etag": "\\"abc\\"", "last_modified": "Tue, ...",
                                                          "sha256": "...", "name": "data.csv", "size": 123}}}

URLs are stored as the caller gives them: fetch passes them redacted, so no key reaches this file. The file is
replaced atomically (a temporary ``.part-`` file, then a rename), so a crash leaves the old state or the new one;
a state file that cannot be read only costs a full download (it is rewritten by the next successful fetch).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from warehouse.common.atomic import write_text_atomic

STATE_FILE = "_http_state.json"
VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeptResponse:
    """The validators of a successful response and the body kept from it.

    Attributes:
        etag: the ``ETag`` served (sent back as ``If-None-Match``), or None.
        last_modified: the ``Last-Modified`` served (sent back as ``If-Modified-Since``), or None.
        sha256: hex digest of the body kept in the raw zone.
        name: the file name the body is kept under (``raw/<source_id>/<sha256>/<name>``).
        size: the body's size in bytes.
    """

    etag: str | None
    last_modified: str | None
    sha256: str
    name: str
    size: int

    @property
    def has_validators(self) -> bool:
        """Whether a conditional request can be made from this response."""
        return bool(self.etag or self.last_modified)

    def conditional_headers(self) -> dict[str, str]:
        """The request headers that ask the server to answer 304 when the body has not changed.

        Returns:
            ``If-None-Match`` and/or ``If-Modified-Since``, from the validators there are.
        """
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


def state_path(raw_dir: Path, source_id: str) -> Path:
    """Where a source's HTTP state lives.

    Args:
        raw_dir: the raw zone.
        source_id: the catalogue entry.

    Returns:
        ``raw/<source_id>/_http_state.json``.
    """
    return raw_dir / source_id / STATE_FILE


def _entry(value: object) -> KeptResponse | None:
    if not isinstance(value, dict):
        return None
    try:
        kept = KeptResponse(
            etag=value.get("etag") or None,
            last_modified=value.get("last_modified") or None,
            sha256=str(value["sha256"]),
            name=str(value["name"]),
            size=int(value["size"]),
        )
    except (KeyError, TypeError, ValueError):
        return None
    # an entry only ever points at raw/<source_id>/<sha256>/<name>: nothing that could climb out of it
    single_name = kept.name not in ("", ".", "..") and "/" not in kept.name and "\\" not in kept.name
    return kept if _SHA256.match(kept.sha256) and single_name else None


def load_state(raw_dir: Path, source_id: str) -> dict[str, KeptResponse]:
    """Read a source's HTTP state; a missing or unreadable file is an empty state.

    Args:
        raw_dir: the raw zone.
        source_id: the catalogue entry.

    Returns:
        URL (as stored) -> what its last successful fetch left.
    """
    path = state_path(raw_dir, source_id)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("%s: cannot read %s (%s); fetching in full", source_id, path, type(exc).__name__)
        return {}
    urls = document.get("urls") if isinstance(document, dict) else None
    if not isinstance(urls, dict):
        return {}
    return {url: entry for url, value in urls.items() if (entry := _entry(value)) is not None}


def _write_atomic(path: Path, document: dict[str, object]) -> None:
    write_text_atomic(path, json.dumps(document, indent=2, sort_keys=True))


def remember(raw_dir: Path, source_id: str, url: str, kept: KeptResponse) -> None:
    """Record (or replace) what a URL's last successful fetch left, keeping the other URLs' entries.

    Args:
        raw_dir: the raw zone.
        source_id: the catalogue entry.
        url: the URL, already redacted (it is written as given).
        kept: its validators and the body kept.
    """
    state = load_state(raw_dir, source_id)
    if state.get(url) == kept:
        return
    state[url] = kept
    document = {"version": VERSION, "urls": {u: asdict(k) for u, k in sorted(state.items())}}
    _write_atomic(state_path(raw_dir, source_id), document)
