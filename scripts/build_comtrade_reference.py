"""Build ``seeds/reference/comtrade_codes.csv``: every UN Comtrade reporter and partner code with its ISO3.

Usage (paths are resolved relative to the project root, whatever the current directory)::

    python scripts/build_comtrade_reference.py --shared ../shared/data --out seeds/reference

Reads the current Comtrade API's reference lists in the shared data folder (``reference/comtrade_plus_partners.csv``
and ``reference/comtrade_plus_reporters.csv``, see its PROVENANCE.md), the legacy Comtrade country list
(``reference/comtrade_country_codes.csv``: codes the legacy API and bulk files used that the current lists dropped,
e.g. 381 Italy) and the project's country dimension
(``seeds/reference/countries.csv``), and writes deterministically (rows by code, UTF-8, LF line ends, csv
minimal quoting), so that a rerun reproduces the file byte-for-byte. Columns ``code,iso3,name,is_aggregate,note``:

* ``code``: the Comtrade code (UN M49 for most economies, but not all: 842 is Comtrade's 'USA', M49 840 the
  United States alone; 0 is World), one row per code found in either list.
* ``iso3``: the code's ISO alpha-3 as Comtrade states it, when that code is a row of ``countries.csv``; else a
  mapping of ``ISO3_OVERRIDES``; else empty (the row is kept, and ``note`` says why).
* ``name``: Comtrade's short name (``text``), stripped.
* ``is_aggregate``: ``true`` when Comtrade flags the code as a group (``isGroup``) in every list that has it.
* ``note``: what a reader must know: a territory that differs from the ISO3 economy's M49 one, a code no longer
  in use, Comtrade's own pseudo-ISO code, a mapping made here, lists that disagree, a code of the legacy list only
  (with its validity years there, and the current code of its ISO3).

The legacy list is malformed: names holding a comma are not quoted (``472,Africa CAMEU region, nes,...``), so a
row has 9 fields or more; its code is the first field and its ISO2, ISO3, first and last valid years the last
four ('NULL' for none). Only its codes the current lists lack are added.

The lists' quirks (see the tests): a leading unnamed index column; names and pseudo-ISO codes with trailing
spaces ('Åland Islands ', 'X1 '); pseudo-ISO codes that are no ISO code ('W00' World, '_KS' Kosovo, 'A79' used by
two codes); several codes for one ISO3 (historical territories: 58 Belgium-Luxembourg and 56 Belgium are both
'BEL'); codes in only one list (97 European Union and 975 ASEAN are reporters only); one code flagged a group in
one list and not the other (490).

The script stops with a message (exit status 1) if the lists' columns change, if a code is listed twice with
different names or ISO codes, or if an override points at an ISO3 that ``countries.csv`` lacks.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = "../shared/data"
DEFAULT_OUT = "seeds/reference"
DEFAULT_COUNTRIES = "seeds/reference/countries.csv"
OUT_FILE = "comtrade_codes.csv"

PARTNERS = "reference/comtrade_plus_partners.csv"
REPORTERS = "reference/comtrade_plus_reporters.csv"
LEGACY = "reference/comtrade_country_codes.csv"
LEGACY_HEADER = [
    "Country Code", "Country Name English", "Country Fullname English", "Country Abbrevation", "Cty Comments",
    "ISO2-digit Alpha", "ISO3-digit Alpha", "Start Valid Year", "End Valid Year",
]  # fmt: skip

COLUMNS = ["code", "iso3", "name", "is_aggregate", "note"]

# The lists' columns (after the leading unnamed index column), by role
LIST_COLUMNS: dict[str, dict[str, str]] = {
    PARTNERS: {
        "code": "PartnerCode",
        "name": "text",
        "full_name": "partnerNote",
        "iso3": "PartnerCodeIsoAlpha3",
        "is_group": "isGroup",
        "expired": "entryExpiredDate",
    },
    REPORTERS: {
        "code": "reporterCode",
        "name": "text",
        "full_name": "reporterNote",
        "iso3": "reporterCodeIsoAlpha3",
        "is_group": "isGroup",
        "expired": "entryExpiredDate",
    },
}

# Codes whose Comtrade ISO code is not a row of countries.csv but whose territory is one: {code: (iso3, note)}.
ISO3_OVERRIDES: dict[str, tuple[str, str]] = {
    "0": ("WLD", "Comtrade's World (its pseudo-ISO code 'W00'), mapped to the WLD aggregate"),
    "412": ("XKX", "Comtrade's Kosovo (its pseudo-ISO code '_KS'), mapped to the World Bank code XKX"),
}

# Notes written by hand, placed first: {code: note}
HAND_NOTES: dict[str, str] = {
    "842": (
        "Comtrade's 'USA' is the USA, Puerto Rico and the US Virgin Islands (M49 840 is the United States alone; "
        "Puerto Rico and the US Virgin Islands have their own ISO3 PRI and VIR)"
    ),
    "490": (
        "'Other Asia, not elsewhere specified': the code under which Comtrade publishes the trade of Taiwan, "
        "Province of China, which it does not list by name; not mapped to TWN"
    ),
    "97": (
        "the European Union as a reporter (its membership of each year); not mapped to EUU, the World Bank "
        "aggregate of the current members"
    ),
}


class BuildError(Exception):
    """The lists cannot be turned into the seed; the message says what to fix."""


@dataclass(frozen=True)
class Entry:
    """One code as one list states it.

    Attributes:
        code: the Comtrade code, as text.
        name: the short name, stripped.
        full_name: the list's note (the long name), stripped.
        iso3: Comtrade's ISO alpha-3 (or pseudo-code), stripped.
        is_group: Comtrade's isGroup flag.
        expired: the date the code stopped being used ('' when in use).
    """

    code: str
    name: str
    full_name: str
    iso3: str
    is_group: bool
    expired: str


def read_list(path: Path, columns: dict[str, str]) -> dict[str, Entry]:
    """Read one Comtrade reference list.

    Args:
        path: the CSV file (a leading unnamed index column, then the list's columns).
        columns: the role -> column name map of the list.

    Returns:
        The list's entries by code.

    Raises:
        BuildError: a column is missing, or a code is listed twice.
    """
    reader = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline=""))
    header = reader.fieldnames or []
    missing = [c for c in columns.values() if c not in header]
    if missing:
        raise BuildError(f"{path}: no column {missing} (header {header})")
    entries: dict[str, Entry] = {}
    for row in reader:
        entry = Entry(
            code=row[columns["code"]].strip(),
            name=row[columns["name"]].strip(),
            full_name=row[columns["full_name"]].strip(),
            iso3=row[columns["iso3"]].strip(),
            is_group=row[columns["is_group"]].strip() == "True",
            expired=row[columns["expired"]].strip()[:10],
        )
        if entry.code in entries:
            raise BuildError(f"{path}: code {entry.code} is listed twice")
        entries[entry.code] = entry
    return entries


@dataclass(frozen=True)
class LegacyEntry:
    """One code of the legacy country list.

    Attributes:
        code: the Comtrade code, as text.
        name: the English short name (best reading of a malformed row, see ``legacy_name``).
        iso3: the ISO alpha-3 ('' for 'NULL').
        valid: the first and last valid years, 'YYYY-YYYY' ('' when 'NULL').
    """

    code: str
    name: str
    iso3: str
    valid: str


def legacy_name(middle: list[str]) -> str:
    """The short name of a legacy row whose name fields hold unquoted commas.

    ``middle`` is the row between the code and the last four fields: short name, full name, abbreviation and
    comment, split at every comma. Of the ways to cut it into those four, the first whose short name equals the
    abbreviation and whose comment is one field is taken (Comtrade repeats the short name as the abbreviation);
    the first field otherwise.
    """
    n = len(middle)
    for i in range(1, n - 2):
        for j in range(i + 1, n - 1):
            for k in range(j + 1, n):
                name, abbreviation = ",".join(middle[:i]), ",".join(middle[j:k])
                if name == abbreviation and n - k == 1:
                    return name.strip()
    return middle[0].strip()


def read_legacy(path: Path) -> dict[str, LegacyEntry]:
    """Read the legacy Comtrade country list.

    Args:
        path: the CSV file (malformed: see the module docstring).

    Returns:
        Its entries by code.

    Raises:
        BuildError: the header changed, a row has fewer than 9 fields or a code that is not a number, or a code
            is listed twice.
    """
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    if not rows or rows[0] != LEGACY_HEADER:
        raise BuildError(f"{path}: header {rows[0] if rows else None}, expected {LEGACY_HEADER}")
    entries: dict[str, LegacyEntry] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < len(LEGACY_HEADER) or not row[0].strip().isdigit():
            raise BuildError(f"{path}: line {line} is not a code row: {row}")
        code = row[0].strip()
        iso3, start, end = (None if v.strip() == "NULL" else v.strip() for v in row[-3:])
        entry = LegacyEntry(code, legacy_name(row[1:-4]), iso3 or "", f"{start}-{end}" if start and end else "")
        if code in entries:
            raise BuildError(f"{path}: code {code} is listed twice")
        entries[code] = entry
    return entries


def legacy_rows(
    legacy: dict[str, LegacyEntry], listed: set[str], current_iso3: dict[str, str], countries: dict[str, str]
) -> list[dict[str, str]]:
    """The seed rows of the legacy codes the current lists lack.

    Args:
        legacy: the legacy list by code.
        listed: the codes of the current lists.
        current_iso3: code -> ISO3 of the current lists' rows, to name a legacy code's current successor.
        countries: iso3 -> m49 of the country dimension.

    Returns:
        One row per such code; ``iso3`` the legacy ISO3 when it is a row of ``countries.csv`` (else empty, with
        the reason in ``note``).
    """
    rows = []
    for code in sorted(set(legacy) - listed, key=int):
        entry = legacy[code]
        notes = ["in the legacy Comtrade country list only" + (f", valid {entry.valid}" if entry.valid else "")]
        if entry.iso3 in countries:
            iso3 = entry.iso3
            successors = sorted((c for c, i in current_iso3.items() if i == iso3), key=int)
            if successors:
                notes.append(f"the current lists code {iso3} as {', '.join(successors)}")
        else:
            iso3 = ""
            notes.append(f"no ISO3 in countries.csv (the legacy list's ISO3: '{entry.iso3}')")
        rows.append({"code": code, "iso3": iso3, "name": entry.name, "is_aggregate": "false", "note": "; ".join(notes)})
    return rows


def read_countries(path: Path) -> dict[str, str]:
    """Read the country dimension.

    Args:
        path: seeds/reference/countries.csv.

    Returns:
        iso3 -> m49 ('' when none).
    """
    reader = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline=""))
    return {row["iso3"]: row["m49"] for row in reader}


def build(partners: dict[str, Entry], reporters: dict[str, Entry], countries: dict[str, str]) -> list[dict[str, str]]:
    """Merge both lists into one row per code.

    Args:
        partners: the partner list by code.
        reporters: the reporter list by code.
        countries: iso3 -> m49 of the country dimension.

    Returns:
        The rows, ordered by code as a number.

    Raises:
        BuildError: a code's name or ISO code differs between the lists, or an override is not a country.
    """
    for code, (iso3, _) in ISO3_OVERRIDES.items():
        if iso3 not in countries:
            raise BuildError(f"override {code} -> {iso3}: {iso3} is not in countries.csv")
    rows = []
    for code in sorted(set(partners) | set(reporters), key=int):
        stated = [e for e in (partners.get(code), reporters.get(code)) if e is not None]
        first = stated[0]
        if any((e.name, e.iso3, e.expired) != (first.name, first.iso3, first.expired) for e in stated):
            raise BuildError(f"code {code}: the partner and reporter lists disagree: {stated}")
        rows.append(row_for(code, stated, partners, reporters, countries))
    return rows


def row_for(
    code: str,
    stated: list[Entry],
    partners: dict[str, Entry],
    reporters: dict[str, Entry],
    countries: dict[str, str],
) -> dict[str, str]:
    """The seed row of one code.

    Args:
        code: the Comtrade code.
        stated: the code's entries (partner list first).
        partners: the partner list, to say which list a code is missing from.
        reporters: the reporter list, likewise.
        countries: iso3 -> m49 of the country dimension.

    Returns:
        The row, every column as text.
    """
    entry = stated[0]
    notes = [HAND_NOTES[code]] if code in HAND_NOTES else []
    if code in ISO3_OVERRIDES:
        iso3, note = ISO3_OVERRIDES[code]
        notes.append(note)
    elif entry.iso3 in countries:
        iso3 = entry.iso3
        m49 = countries[iso3]
        if m49 != code and code not in HAND_NOTES:
            territory = f"'{entry.full_name}'" if entry.full_name else f"'{entry.name}'"
            notes.append(f"Comtrade code {code} ({territory}) is not the M49 code {m49 or 'none'} of {iso3}")
    else:
        iso3 = ""
        notes.append(f"no ISO3 in countries.csv (Comtrade's ISO code: '{entry.iso3}')")
    if entry.expired:
        notes.append(f"in use until {entry.expired}")
    if code not in partners:
        notes.append("in the reporter list only")
    groups = {e.is_group for e in stated}
    if len(groups) > 1:
        notes.append(
            f"isGroup {'True' if partners[code].is_group else 'False'} in the partner list, "
            f"{'True' if reporters[code].is_group else 'False'} in the reporter list"
        )
    return {
        "code": code,
        "iso3": iso3,
        "name": entry.name,
        "is_aggregate": "true" if all(e.is_group for e in stated) else "false",
        "note": "; ".join(notes),
    }


def to_csv(rows: list[dict[str, str]]) -> bytes:
    """Render rows as UTF-8 CSV with minimal quoting and LF line ends."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def resolve(path: str) -> Path:
    """A command-line path: absolute as given, relative to the project root otherwise."""
    p = Path(path)
    return p if p.is_absolute() else (PROJECT_ROOT / p).resolve()


def main(argv: list[str] | None = None) -> int:
    """Build the seed; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=DEFAULT_SHARED, help="shared data folder (default %(default)s)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    parser.add_argument("--countries", default=DEFAULT_COUNTRIES, help="country dimension (default %(default)s)")
    args = parser.parse_args(argv)
    shared, out, countries_path = resolve(args.shared), resolve(args.out), resolve(args.countries)
    try:
        partners = read_list(shared / PARTNERS, LIST_COLUMNS[PARTNERS])
        reporters = read_list(shared / REPORTERS, LIST_COLUMNS[REPORTERS])
        countries = read_countries(countries_path)
        rows = build(partners, reporters, countries)
        current_iso3 = {r["code"]: r["iso3"] for r in rows if r["iso3"]}
        rows += legacy_rows(read_legacy(shared / LEGACY), {r["code"] for r in rows}, current_iso3, countries)
        rows.sort(key=lambda r: int(r["code"]))
    except (BuildError, OSError) as exc:
        print(f"build_comtrade_reference: {exc}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    (out / OUT_FILE).write_bytes(to_csv(rows))
    mapped = sum(1 for r in rows if r["iso3"])
    print(f"wrote {out / OUT_FILE}: {len(rows)} codes, {mapped} with an ISO3")
    return 0


if __name__ == "__main__":
    sys.exit(main())
