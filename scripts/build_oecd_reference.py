"""Build ``seeds/reference/oecd_country_names.csv``: the country column names of the MSTI file and their ISO3.

Usage (paths are resolved relative to the project root, whatever the current directory)::

    python scripts/build_oecd_reference.py --shared ../shared/data --out seeds/reference

The R-pivoted MSTI file (``oecd/msti_2018_wide_by_country.csv``) names its country columns in English, as OECD
prints them. Each name is matched to ``countries.csv`` by its exact ``name``, else through ``OECD_NAMES``
below; names in ``NOT_MAPPED`` have no row in ``countries.csv`` of the same coverage and are left out, so rule
'known_country' refuses their values. Output: ``country_name,iso3``, sorted by name, UTF-8, LF line ends,
minimal quoting, so that a rerun reproduces the file byte-for-byte.

The script stops with a message (exit status 1) if a column name is neither matched nor listed as not mapped,
or if a mapped ISO3 is not a row of ``countries.csv``: fix the constants below, never the seed.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MSTI_FILE = "oecd/msti_2018_wide_by_country.csv"
ID_COLUMNS = ("", "YEAR", "MSTI_VAR", "MSTI.Variables", "Unit", "PowerCode")
COLUMNS = ["country_name", "iso3"]

# OECD's short English names that are not the name countries.csv carries
OECD_NAMES: dict[str, str] = {
    "China (People's Republic of)": "CHN",
    "Korea": "KOR",
    "Russia": "RUS",
    "United Kingdom": "GBR",
    "United States": "USA",
}
# names with no row of the same coverage in countries.csv, and why
NOT_MAPPED: dict[str, str] = {
    "European Union (28 countries)": "EU28 (2013-2020); countries.csv's EUU is the current European Union of 27",
}


def country_columns(path: Path) -> list[str]:
    """The country column names of the MSTI file's header."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh))
    return [name for name in header if name not in ID_COLUMNS]


def mapping(names: list[str], countries: list[dict[str, str]]) -> list[dict[str, str]]:
    """Each mappable column name with its ISO3, sorted by name."""
    by_name: dict[str, list[str]] = {}
    for row in countries:
        by_name.setdefault(row["name"], []).append(row["iso3"])
    known = {row["iso3"] for row in countries}
    rows = []
    for name in sorted(names):
        if name in NOT_MAPPED:
            continue
        iso3 = OECD_NAMES.get(name)
        if iso3 is None:
            matches = by_name.get(name, [])
            if len(matches) != 1:
                raise SystemExit(f"column {name!r}: {len(matches)} rows of countries.csv carry that name")
            iso3 = matches[0]
        if iso3 not in known:
            raise SystemExit(f"column {name!r} -> {iso3}: not a row of countries.csv")
        rows.append({"country_name": name, "iso3": iso3})
    return rows


def build(shared: Path, out: Path) -> None:
    """Write oecd_country_names.csv into ``out`` (which holds countries.csv)."""
    with (out / "countries.csv").open(encoding="utf-8", newline="") as fh:
        countries = list(csv.DictReader(fh))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(mapping(country_columns(shared / MSTI_FILE), countries))
    (out / "oecd_country_names.csv").write_bytes(buffer.getvalue().encode("utf-8"))


def project_path(text: str) -> Path:
    """Resolve a command-line path; a relative one is taken relative to the project root."""
    path = Path(text)
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the reference list."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/data", help="shared data folder, relative to the project root")
    parser.add_argument("--out", default="seeds/reference", help="reference folder (holds countries.csv)")
    args = parser.parse_args(argv)
    shared, out = project_path(args.shared), project_path(args.out)
    if not (shared / MSTI_FILE).is_file():
        parser.error(f"{shared / MSTI_FILE} does not exist")
    build(shared, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
