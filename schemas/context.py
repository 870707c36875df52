"""What a source's rules know beyond its rows, in a module of its own: the flow builds it without importing
pandas and pandera (``schemas.rules`` runs the rules)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from warehouse.extract.catalogue import Source


@dataclass(frozen=True)
class RunContext:
    """What the rules need to know beyond the rows: the catalogue entry, the known country codes and the
    folder of reference lists (code lists a dataset's rules read).

    ``country_codes`` holds, besides the codes it is given, the country aliases the entry declares
    (``[source.aliases] countries``): a code its publisher writes for a country is known for this source only.
    """

    source: Source
    country_codes: frozenset[str]
    reference_dir: Path

    def __post_init__(self) -> None:
        declared = frozenset(alias for alias, _ in self.source.country_aliases)
        if not declared <= self.country_codes:
            object.__setattr__(self, "country_codes", self.country_codes | declared)  # frozen: set once, here
