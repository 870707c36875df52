"""What a source's rules know beyond its rows, in a module of its own: the flow builds it without importing
pandas and pandera (``schemas.rules`` runs the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warehouse.extract.catalogue import Source


@dataclass(frozen=True)
class RunContext:
    """What the rules need to know beyond the rows: the catalogue entry, the known country codes and the
    folder of reference lists (code lists a dataset's rules read)."""

    source: Source
    country_codes: frozenset[str]
    reference_dir: Path
