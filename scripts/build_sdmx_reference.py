"""Build the SDMX-CSV reference lists in ``seeds/reference/``: the indicators tradewh maps and the area codes.

Usage (paths are resolved relative to the project root, whatever the current directory)::

    python scripts/build_sdmx_reference.py --shared ../shared/data --out seeds/reference

Writes, deterministically (sorted rows, UTF-8, LF line ends, csv minimal quoting), so that a rerun reproduces
the files byte-for-byte:

* ``sdmx_indicators.csv``: ``indicator,flow,classification,category,measure,unit,description``: the SDMX
  indicators a staging view conforms (UNCTAD's exports and imports of digitally-deliverable services). Every
  other indicator of an SDMX-CSV source (UNCTAD's ICT-use shares, ...) is a valid raw row that no view
  conforms.
* ``sdmx_area_codes.csv``: ``code,iso3,note``: every REF_AREA code of the UNCTAD file (Data360 prints World
  Bank codes: each is a row of ``countries.csv`` or an alias of one), plus the OECD Data Explorer aggregate
  codes that have a World Bank aggregate of the same membership. A code with an empty ``iso3`` has no
  equivalent in ``countries.csv``: rule 'known_country' refuses its rows.

The script stops with a message (exit status 1) if an indicator it maps is missing from the UNCTAD file or is
printed with another label or unit, if a REF_AREA code cannot be resolved, or if a mapped ``iso3`` is not a row
of ``countries.csv``: fix the constants below, never the seeds.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
UNCTAD_FILE = "sdmx/UNCTAD_DE_digital_services_trade.csv"
INDICATOR_COLUMNS = ["indicator", "flow", "classification", "category", "measure", "unit", "description"]
AREA_COLUMNS = ["code", "iso3", "note"]

# indicator -> (flow, the label UNCTAD prints, description)
INDICATORS: dict[str, tuple[str, str, str]] = {
    "UNCTAD_DE_DIG_SERVTRADE_ANN_EXP": (
        "export",
        "International exports in digitally-deliverable services",
        "UNCTAD: exports of digitally-deliverable services (EBOPS 2010 services that can be delivered over "
        "ICT networks), balance-of-payments basis, US dollars (printed in millions, UNIT_MULT 6)",
    ),
    "UNCTAD_DE_DIG_SERVTRADE_ANN_IMP": (
        "import",
        "International imports in digitally-deliverable services",
        "UNCTAD: imports of digitally-deliverable services (EBOPS 2010 services that can be delivered over "
        "ICT networks), balance-of-payments basis, US dollars (printed in millions, UNIT_MULT 6)",
    ),
}
CLASSIFICATION = "bop"
CATEGORY = "digitally_deliverable_services"
MEASURE = "bop_value"
UNIT = "USD"
SDMX_UNIT = "USD"  # the UNIT_MEASURE code the mapped indicators are printed with

# OECD Data Explorer's aggregate codes -> (World Bank aggregate of the same current membership or '', note)
OECD_AREAS: dict[str, tuple[str, str]] = {
    "OECD": ("OED", "OECD Data Explorer: OECD total (current members); World Bank 'OECD members'"),
    "EU27_2020": (
        "EUU",
        "OECD Data Explorer: European Union (27 countries from 01/02/2020); World Bank 'European Union'",
    ),
    "EA20": ("EMU", "OECD Data Explorer: Euro area (20 countries); World Bank 'Euro area' (current members)"),
    "EU28": (
        "",
        "OECD Data Explorer: European Union (28 countries, 2013-2020); no equivalent in countries.csv "
        "(EUU is the current 27): refused by known_country",
    ),
    "G20": ("", "OECD Data Explorer: G20; no equivalent in countries.csv: refused by known_country"),
}


def read_csv(path: Path) -> list[dict[str, str]]:
    """Read a CSV file (UTF-8, a BOM allowed) as a list of rows, every value a string."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def to_csv(columns: list[str], rows: list[dict[str, str]]) -> str:
    """CSV text with LF line ends and minimal quoting."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def indicator_rows(unctad: list[dict[str, str]]) -> list[dict[str, str]]:
    """The mapped indicators, checked against the labels and units the file prints."""
    printed = {(r["INDICATOR"], r["INDICATOR_LABEL"], r["UNIT_MEASURE"]) for r in unctad}
    rows = []
    for code, (flow, label, description) in sorted(INDICATORS.items()):
        seen = {p for p in printed if p[0] == code}
        if seen != {(code, label, SDMX_UNIT)}:
            raise SystemExit(f"{code}: expected label {label!r} and unit {SDMX_UNIT!r} in {UNCTAD_FILE}, got {seen}")
        rows.append(
            {
                "indicator": code,
                "flow": flow,
                "classification": CLASSIFICATION,
                "category": CATEGORY,
                "measure": MEASURE,
                "unit": UNIT,
                "description": description,
            }
        )
    return rows


def area_rows(
    unctad: list[dict[str, str]], countries: list[dict[str, str]], aliases: list[dict[str, str]]
) -> list[dict[str, str]]:
    """Every REF_AREA code of the UNCTAD file and the OECD aggregate codes, each with its ISO3 (or '')."""
    by_iso3 = {row["iso3"]: row for row in countries}
    alias_of = {row["alias"]: row["iso3"] for row in aliases}
    labels: dict[str, set[str]] = {}
    for row in unctad:
        labels.setdefault(row["REF_AREA"], set()).add(row["REF_AREA_LABEL"])
    rows = []
    for code, printed in sorted(labels.items()):
        if len(printed) != 1:
            raise SystemExit(f"REF_AREA {code} is printed with several labels: {sorted(printed)}")
        label = printed.pop()
        iso3 = code if code in by_iso3 else alias_of.get(code)
        if iso3 is None:
            raise SystemExit(f"REF_AREA {code} ({label!r}) is neither a code nor an alias of countries.csv")
        country = by_iso3[iso3]
        note = f"UNCTAD via Data360: '{label}'"
        if country["is_aggregate"] == "true":
            note += f"; an aggregate (countries.csv: '{country['name']}'), as UNCTAD computes it"
        elif iso3 != code:
            note += f"; alias of {iso3} '{country['name']}'"
        rows.append({"code": code, "iso3": iso3, "note": note})
    for code, (iso3, note) in sorted(OECD_AREAS.items()):
        if code in labels:
            raise SystemExit(f"{code} is both a Data360 and an OECD code: decide which one the mapping follows")
        if iso3 and iso3 not in by_iso3:
            raise SystemExit(f"{code} -> {iso3}: {iso3} is not a row of countries.csv")
        rows.append({"code": code, "iso3": iso3, "note": note})
    return sorted(rows, key=lambda r: r["code"])


def build(shared: Path, out: Path) -> None:
    """Write sdmx_indicators.csv and sdmx_area_codes.csv into ``out`` (which holds countries.csv)."""
    unctad = read_csv(shared / UNCTAD_FILE)
    countries = read_csv(out / "countries.csv")
    aliases = read_csv(out / "country_aliases.csv")
    out.mkdir(parents=True, exist_ok=True)
    (out / "sdmx_indicators.csv").write_bytes(to_csv(INDICATOR_COLUMNS, indicator_rows(unctad)).encode("utf-8"))
    areas = area_rows(unctad, countries, aliases)
    (out / "sdmx_area_codes.csv").write_bytes(to_csv(AREA_COLUMNS, areas).encode("utf-8"))


def project_path(text: str) -> Path:
    """Resolve a command-line path; a relative one is taken relative to the project root."""
    path = Path(text)
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the reference lists."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/data", help="shared data folder, relative to the project root")
    parser.add_argument("--out", default="seeds/reference", help="reference folder (holds countries.csv)")
    args = parser.parse_args(argv)
    shared, out = project_path(args.shared), project_path(args.out)
    if not (shared / UNCTAD_FILE).is_file():
        parser.error(f"{shared / UNCTAD_FILE} does not exist")
    build(shared, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
