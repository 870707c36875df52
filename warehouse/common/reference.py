"""Load the curated country dimension shipped in ``seeds/reference/`` (built by ``scripts/build_reference.py``)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pandas as pd

COUNTRIES_FILE = "countries.csv"
ALIASES_FILE = "country_aliases.csv"

COUNTRY_COLUMNS = ["iso3", "m49", "name", "region", "sub_region", "is_aggregate", "parent_iso3", "publisher_note"]
ALIAS_COLUMNS = ["alias", "iso3", "publisher", "note"]

_BOOLEANS = {"true": True, "false": False}


class Declares(Protocol):
    """A catalogue entry, as far as the reference lists read it (``warehouse.extract.catalogue.Source``)."""

    id: str
    country_aliases: tuple[tuple[str, str], ...]


def _read_strings(path: Path, columns: list[str]) -> pd.DataFrame:
    """Read a seed CSV with every column as a string ('' for empty, never NaN) and check its header."""
    import pandas as pd  # here, not at the top: the flow imports this module on a run that may read no list

    frame = pd.read_csv(
        path,
        dtype={c: str for c in columns},
        keep_default_na=False,
        na_filter=False,
        encoding="utf-8",
    )
    if list(frame.columns) != columns:
        raise ValueError(f"{path}: columns {list(frame.columns)}, expected {columns}")
    return frame


def load_countries(reference_dir: Path) -> pd.DataFrame:
    """Load ``countries.csv``, the country dimension.

    Args:
        reference_dir: the folder holding the seeds (``seeds/reference``).

    Returns:
        One row per code, columns ``iso3, m49, name, region, sub_region, is_aggregate, parent_iso3,
        publisher_note`` in that order. ``m49`` is a nullable ``Int64`` (``<NA>`` when the code has none),
        ``is_aggregate`` is ``bool``, every other column is a string with ``''`` for empty (codes are never
        parsed as numbers or NaN: Namibia's alpha-2 'NA' and the like stay intact).

    Raises:
        ValueError: the header is not the expected one, ``is_aggregate`` is not ``true``/``false``, ``m49`` is
            not an integer, or an ``iso3`` code is repeated.
    """
    path = Path(reference_dir) / COUNTRIES_FILE
    frame = _read_strings(path, COUNTRY_COLUMNS)
    bad_bool = sorted(set(frame["is_aggregate"]) - set(_BOOLEANS))
    if bad_bool:
        raise ValueError(f"{path}: is_aggregate values {bad_bool}, expected 'true' or 'false'")
    bad_m49 = frame.loc[(frame["m49"] != "") & ~frame["m49"].str.fullmatch(r"\d+"), "m49"]
    if len(bad_m49):
        raise ValueError(f"{path}: m49 values {sorted(set(bad_m49))} are not integers")
    duplicated = frame.loc[frame["iso3"].duplicated(), "iso3"]
    if len(duplicated):
        raise ValueError(f"{path}: iso3 codes repeated: {sorted(set(duplicated))}")
    import pandas as pd

    frame["m49"] = pd.array([int(v) if v else pd.NA for v in frame["m49"]], dtype="Int64")
    frame["is_aggregate"] = frame["is_aggregate"].map(_BOOLEANS).astype(bool)
    return frame


def load_country_aliases(reference_dir: Path, sources: Iterable[Declares] = ()) -> pd.DataFrame:
    """Load ``country_aliases.csv``: codes publishers used that are not current codes, and those catalogue entries
    declare (``[source.aliases] countries``; the catalogue has checked they contradict neither the list nor each
    other).

    Args:
        reference_dir: the folder holding the seeds (``seeds/reference``).
        sources: catalogue entries whose declared aliases extend the list (``publisher``: the entry's id).

    Returns:
        One row per alias, string columns ``alias, iso3, publisher, note`` (``''`` for empty); ``iso3`` is the
        current code (a row of ``countries.csv``) the alias stands for.

    Raises:
        ValueError: the header is not the expected one, or an alias is listed twice.
    """
    path = Path(reference_dir) / ALIASES_FILE
    frame = _read_strings(path, ALIAS_COLUMNS)
    duplicated = frame.loc[frame["alias"].duplicated(), "alias"]
    if len(duplicated):
        raise ValueError(f"{path}: aliases repeated: {sorted(set(duplicated))}")
    declared = [
        {"alias": alias, "iso3": iso3, "publisher": source.id, "note": "declared in the catalogue ([source.aliases])"}
        for source in sources
        for alias, iso3 in source.country_aliases
    ]
    if declared:
        import pandas as pd

        extra = pd.DataFrame(declared, columns=ALIAS_COLUMNS, dtype=str)
        extra = extra[~extra["alias"].isin(frame["alias"])].drop_duplicates("alias")
        frame = pd.concat([frame, extra], ignore_index=True)
    return frame


def known_country_codes(reference_dir: Path) -> frozenset[str]:
    """Every code the warehouse recognises: the current codes and the publishers' old aliases.

    Args:
        reference_dir: the folder holding the seeds (``seeds/reference``).

    Returns:
        The ``iso3`` codes of ``countries.csv`` together with the ``alias`` codes of ``country_aliases.csv``.
    """
    countries = load_countries(reference_dir)
    aliases = load_country_aliases(reference_dir)
    return frozenset(countries["iso3"]) | frozenset(aliases["alias"])


def canonical_iso3(code: str, aliases: pd.DataFrame) -> str:
    """Translate a publisher's old code to the current one.

    Args:
        code: a country code as a publisher printed it (matched exactly, case and all).
        aliases: the table from :func:`load_country_aliases`.

    Returns:
        The current ``iso3`` code if ``code`` is an alias, otherwise ``code`` unchanged.
    """
    match = aliases.loc[aliases["alias"] == code, "iso3"]
    return str(match.iloc[0]) if len(match) else code
