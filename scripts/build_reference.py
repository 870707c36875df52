"""Build the curated country dimension the warehouse ships in ``seeds/reference/``.

Usage (paths are resolved relative to the project root, whatever the current directory)::

    python scripts/build_reference.py --shared ../shared/data --out seeds/reference

Reads the publishers' own lists in the shared data folder (see its PROVENANCE.md) and writes, deterministically
(sorted rows, UTF-8, LF line ends, csv minimal quoting), so that a rerun reproduces the files byte-for-byte:

* ``countries.csv``: ``iso3,m49,name,region,sub_region,is_aggregate,parent_iso3,publisher_note``: every
  ISO 3166-1 economy of datasets/country-codes, the World Bank's aggregates, the World Bank's non-ISO economy
  codes (XKX Kosovo, CHI Channel Islands), the World Bank groups of the 2013 vintage that no longer exist, and
  one sub-national group (CN-SJZ).
* ``country_aliases.csv``: ``alias,iso3,publisher,note``: codes the WDI 2013 vintage used that are not current
  codes, each mapped to its current row by the country name the publisher printed next to it.
* ``README.md``: what the files are, their sources, licences and how to regenerate them.

The script stops with a message (exit status 1) if any Country Code in the World Bank files cannot be resolved,
if two sources claim the same code, or if a name match is ambiguous: fix the constants below, never the seeds.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = "../shared/data"
DEFAULT_OUT = "seeds/reference"

COUNTRY_CODES = "reference/country-codes.csv"
WDI_METADATA = "worldbank/wdi-download/Metadata_Country_API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
WDI_DOWNLOAD_DATA = "worldbank/wdi-download/API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
WDI_2013_GLOB = "worldbank/wdi-2013/*.csv"
WDI_TIDY_GLOB = "worldbank/wdi-tidy/*.csv"

COUNTRY_COLUMNS = ["iso3", "m49", "name", "region", "sub_region", "is_aggregate", "parent_iso3", "publisher_note"]
ALIAS_COLUMNS = ["alias", "iso3", "publisher", "note"]
ALIAS_PUBLISHER = "wdi_2013"

# UN M49 gives 'World' the code 001; no other World Bank aggregate has an M49 code.
WORLD_BANK_M49 = {"WLD": 1}

NON_ISO_NOTE = "World Bank code, not ISO 3166"

# Groups a press release or publisher reports that no list above carries.
SUB_NATIONAL_GROUPS: list[dict[str, str]] = [
    {
        "iso3": "CN-SJZ",
        "m49": "",
        "name": "Shanghai, Jiangsu and Zhejiang",
        "region": "Asia",
        "sub_region": "Eastern Asia",
        "is_aggregate": "true",
        "parent_iso3": "CHN",
        "publisher_note": "sub-national group: three provinces of China (ISO 3166-2 CN-SH, CN-JS, CN-ZJ)",
    },
]

# WDI 2013 codes mapped by hand, because their Country Name matches no current row: {old: (current, reason)}.
# Empty: every renamed code of the 2013 vintage (ADO, IMY, KSV, ROM, TMP, WBG, ZAR) matches by name, either
# the current WDI TableName (e.g. 'West Bank and Gaza' -> PSE, 'Congo, Dem. Rep.' -> COD) or an ISO name.
HAND_MAPPED_ALIASES: dict[str, tuple[str, str]] = {}

# World Bank groups printed in the data files that have no current row to map to, so they are kept as rows of
# their own (is_aggregate = true; name from the data file): {code: publisher_note}. Mapping them to a current
# aggregate would be wrong: 'High income: OECD' (OEC) is not 'OECD members' (OED), nor 'High income' (HIC).
DISCONTINUED_WB_GROUPS: dict[str, str] = {
    "CAA": "World Bank aggregate in WDI 2013 (IFC classification), discontinued",
    "CEA": "World Bank aggregate in WDI 2013 (IFC classification), discontinued",
    "CEU": "World Bank aggregate in WDI 2013 (IFC classification), discontinued",
    "CLA": "World Bank aggregate in WDI 2013 (IFC classification), discontinued",
    "CME": "World Bank aggregate in WDI 2013 (IFC classification), discontinued",
    "CSA": "World Bank aggregate in WDI 2013 (IFC classification), discontinued",
    "NOC": "World Bank aggregate in WDI 2013 (high income non-OECD), discontinued",
    "OEC": "World Bank aggregate in WDI 2013 (high income OECD), discontinued",
    "INX": (
        "World Bank residual group of economies without an income classification; "
        "in the WDI data files but not in the country metadata"
    ),
}

PROVENANCE = {
    "country_codes": (
        "datasets/country-codes (datahub), file data/country-codes.csv; PROVENANCE.md records neither the path "
        "nor the commit of the copy used"
    ),
    "wdi_metadata": (
        "AleHerreraSoria/green-ai-analytics-platform, the companion of "
        "data/World_Bank_Group/API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv, commit 71b9184c2dff "
        '("Last Updated Date" 2026-02-24)'
    ),
    "wdi_2013": "ronnywang/worldbank, WDI_bundle/parsed/<CODE>_WDI.csv, commit dff56f37f6cc (December 2013 vintage)",
    "wdi_tidy": "datasets/world-development-indicators, indicators/<code>/data.csv, commit 4ebec5a2273f",
}


class BuildError(Exception):
    """The inputs cannot be turned into a consistent seed; the message says which file and which rule."""


@dataclass(frozen=True)
class WdiEntry:
    """One row of the WDI country metadata file."""

    code: str
    region: str
    name: str


def clean(value: str) -> str:
    """Strip ordinary and non-breaking spaces (country-codes.csv pads some cells with U+00A0)."""
    return value.strip().strip("\u00a0").strip()


def name_key(name: str) -> str:
    """Normalise a country name for matching: no accents, case-folded, single spaces."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().replace("\u00a0", " ").split())


def read_text(path: Path) -> str:
    """Read a UTF-8 file, dropping a byte-order mark if there is one."""
    if not path.is_file():
        raise BuildError(f"{path}: file not found")
    return path.read_bytes().decode("utf-8-sig")


def read_rows(path: Path, skip_lines: int = 0) -> list[dict[str, str]]:
    """Read a CSV (quoted fields may span lines) into dicts, after ``skip_lines`` preamble lines."""
    text = read_text(path)
    if skip_lines:
        text = text.split("\n", skip_lines)[skip_lines]
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    if not reader.fieldnames:
        raise BuildError(f"{path}: no header")
    return rows


def require(path: Path, rows: list[dict[str, str]], columns: Iterable[str]) -> None:
    """Fail unless every one of ``columns`` is in the file's header."""
    header = set(rows[0]) if rows else set()
    missing = [c for c in columns if c not in header]
    if missing:
        raise BuildError(f"{path}: missing column(s) {missing}")


def iso_rows(shared: Path) -> list[dict[str, str]]:
    """Every economy of datasets/country-codes with an ISO 3166-1 alpha-3 code."""
    path = shared / COUNTRY_CODES
    rows = read_rows(path)
    require(
        path,
        rows,
        [
            "ISO3166-1-Alpha-3",
            "M49",
            "CLDR display name",
            "UNTERM English Short",
            "official_name_en",
            "Region Name",
            "Sub-region Name",
        ],
    )
    out = []
    for line_no, row in enumerate(rows, start=2):
        iso3 = clean(row["ISO3166-1-Alpha-3"])
        if not iso3:
            continue
        m49 = clean(row["M49"])
        if m49 and not m49.isdigit():
            raise BuildError(f"{path}, row {line_no}: M49 {m49!r} is not an integer")
        name = next(
            (clean(row[c]) for c in ("official_name_en", "CLDR display name", "UNTERM English Short") if clean(row[c])),
            "",
        )
        if not name:
            raise BuildError(f"{path}, row {line_no}: {iso3} has no English name")
        out.append(
            {
                "iso3": iso3,
                "m49": str(int(m49)) if m49 else "",
                "name": name,
                "region": clean(row["Region Name"]),
                "sub_region": clean(row["Sub-region Name"]),
                "is_aggregate": "false",
                "parent_iso3": "",
                "publisher_note": "",
            }
        )
    return out


def wdi_metadata(shared: Path) -> list[WdiEntry]:
    """The rows of the WDI country metadata file (BOM, quoted multi-line notes, trailing comma)."""
    path = shared / WDI_METADATA
    rows = read_rows(path)
    require(path, rows, ["Country Code", "Region", "TableName"])
    return [
        WdiEntry(code=clean(r["Country Code"]), region=clean(r["Region"]), name=clean(r["TableName"]))
        for r in rows
        if clean(r["Country Code"])
    ]


def wdi_code_names(path: Path, skip_lines: int = 0) -> Iterator[tuple[str, str]]:
    """(Country Code, Country Name) of every row of one World Bank data file."""
    rows = read_rows(path, skip_lines)
    require(path, rows, ["Country Code", "Country Name"])
    for row in rows:
        yield clean(row["Country Code"]), clean(row["Country Name"])


def add_rows(countries: dict[str, dict[str, str]], rows: Iterable[dict[str, str]], source: str) -> None:
    """Add rows keyed by iso3, refusing a code two sources claim."""
    for row in rows:
        if row["iso3"] in countries:
            raise BuildError(f"{source}: code {row['iso3']} is already in countries.csv")
        countries[row["iso3"]] = row


def build(shared: Path) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Build the countries and aliases tables (lists of rows keyed by column) from the shared data folder."""
    countries: dict[str, dict[str, str]] = {}
    add_rows(countries, iso_rows(shared), COUNTRY_CODES)

    metadata = wdi_metadata(shared)
    aggregates = [
        {
            "iso3": e.code,
            "m49": str(WORLD_BANK_M49[e.code]) if e.code in WORLD_BANK_M49 else "",
            "name": e.name,
            "region": "",
            "sub_region": "",
            "is_aggregate": "true",
            "parent_iso3": "",
            "publisher_note": "",
        }
        for e in metadata
        if not e.region
    ]
    add_rows(countries, aggregates, f"{WDI_METADATA} (aggregates)")
    non_iso = [
        {
            "iso3": e.code,
            "m49": "",
            "name": e.name,
            "region": e.region,
            "sub_region": "",
            "is_aggregate": "false",
            "parent_iso3": "",
            "publisher_note": NON_ISO_NOTE,
        }
        for e in metadata
        if e.region and e.code not in countries
    ]
    add_rows(countries, non_iso, f"{WDI_METADATA} (non-ISO economies)")
    add_rows(countries, SUB_NATIONAL_GROUPS, "SUB_NATIONAL_GROUPS")

    # Names to match old codes by: every ISO name variant and the World Bank's current TableName.
    by_name: dict[str, set[str]] = {}
    for row in read_rows(shared / COUNTRY_CODES):
        iso3 = clean(row["ISO3166-1-Alpha-3"])
        for column in ("CLDR display name", "UNTERM English Short", "official_name_en"):
            if iso3 and clean(row[column]):
                by_name.setdefault(name_key(clean(row[column])), set()).add(iso3)
    for e in metadata:
        by_name.setdefault(name_key(e.name), set()).add(e.code)

    # Every code the World Bank files print, with the name printed next to it, per source.
    wb_files: list[tuple[str, Path, int]] = [("wdi_2013", p, 0) for p in sorted(shared.glob(WDI_2013_GLOB))]
    if not wb_files:
        raise BuildError(f"{shared / WDI_2013_GLOB}: no files")
    wb_files.append(("wdi_download", shared / WDI_DOWNLOAD_DATA, 4))
    wb_files += [("wdi_tidy", p, 0) for p in sorted(shared.glob(WDI_TIDY_GLOB))]
    unknown: dict[str, dict[str, set[str]]] = {}  # code -> source -> names
    for source, path, skip in wb_files:
        for code, name in wdi_code_names(path, skip):
            if code not in countries:
                unknown.setdefault(code, {}).setdefault(source, set()).add(name)

    aliases: list[dict[str, str]] = []
    problems: list[str] = []
    for code in sorted(unknown):
        names = sorted(set().union(*unknown[code].values()))
        if len(names) != 1:
            problems.append(f"{code}: printed with several names {names}")
            continue
        name = names[0]
        if code in DISCONTINUED_WB_GROUPS:
            add_rows(
                countries,
                [
                    {
                        "iso3": code,
                        "m49": "",
                        "name": name,
                        "region": "",
                        "sub_region": "",
                        "is_aggregate": "true",
                        "parent_iso3": "",
                        "publisher_note": DISCONTINUED_WB_GROUPS[code],
                    }
                ],
                "DISCONTINUED_WB_GROUPS",
            )
            continue
        if ALIAS_PUBLISHER not in unknown[code]:
            problems.append(f"{code} ({name!r}): unknown, and not in the WDI 2013 files the aliases come from")
            continue
        if code in HAND_MAPPED_ALIASES:
            target, reason = HAND_MAPPED_ALIASES[code]
            note = f"WDI 2013 name {name!r}; mapped by hand: {reason}"
        else:
            matches = sorted(by_name.get(name_key(name), set()) & countries.keys())
            if len(matches) != 1:
                problems.append(f"{code} ({name!r}): name matches {matches or 'no current row'}")
                continue
            target = matches[0]
            note = f"WDI 2013 name {name!r}; matched by name to {countries[target]['name']!r}"
        if target not in countries:
            problems.append(f"{code} -> {target}: target is not a row of countries.csv")
            continue
        aliases.append({"alias": code, "iso3": target, "publisher": ALIAS_PUBLISHER, "note": note})
    unused = sorted(set(DISCONTINUED_WB_GROUPS) - countries.keys())
    if unused:
        problems.append(f"DISCONTINUED_WB_GROUPS lists codes no World Bank file prints: {unused}")
    if problems:
        raise BuildError("unresolved World Bank country codes:\n  " + "\n  ".join(problems))

    return sorted(countries.values(), key=lambda r: r["iso3"]), sorted(aliases, key=lambda r: r["alias"])


def to_csv(rows: list[dict[str, str]], columns: list[str]) -> bytes:
    """Render rows as UTF-8 CSV with minimal quoting and LF line ends."""
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


OTHER_LISTS = """
## The other lists in this folder

Curated by hand for tradewh (edit them directly; the tests check their use):
- `wdi_indicators.csv`: the WDI indicator codes tradewh conforms, each with its flow, classification, category,
  measure, unit and scale, and the unit marker its Indicator Name must carry (rule `unit_matches_indicator`).
- `measures.csv`: the measures (concepts) a figure can have, their unit, whether they can be summed, and a
  definition; `core.dim_measure`.
- `categories.csv`: the category trees per classification (parent category for composition); `core.dim_category`.

Built by their own scripts from the publishers' lists (each rerun reproduces its file byte-for-byte):
- `commodity_codes.csv`: HS sections, chapters and headings (datahub's harmonized-system lists, ODC-PDDL; the
  6-digit subheadings left out) and SITC Rev.4 sections (the ten from UN SITC Rev.4) and the divisions UN
  Comtrade prints in `comtrade/legacy_api_CHN_5partners_S4_2digit_2010_2014.csv`; `core.dim_commodity`.
  Regenerate: `python scripts/build_commodity_reference.py --shared ../shared/data --out seeds/reference`.
- `comtrade_codes.csv`: every UN Comtrade reporter and partner code with its ISO3 (`code,iso3,name,is_aggregate,
  note`). `iso3` is Comtrade's own alpha-3 when it is a row of `countries.csv`, plus 0 -> WLD (World, 'W00') and
  412 -> XKX (Kosovo, '_KS'); codes with none (regions 'nes', former territories, bunkers, 490 'Other Asia, nes',
  97 EU, 975 ASEAN) have an empty `iso3` and a `note` saying why. 842 is Comtrade's 'USA' (incl. Puerto Rico and
  the US Virgin Islands); 840 is also USA. From `reference/comtrade_plus_partners.csv` and
  `reference/comtrade_plus_reporters.csv`, the current UN Comtrade API's reference lists, plus the codes of
  `reference/comtrade_country_codes.csv`, the legacy Comtrade country list (malformed: unquoted commas, 'NULL',
  validity years), that the current lists lack: 381 Italy (valid 1962-2061 there; the current lists code Italy
  380), which legacy API and bulk files use (United Nations Statistics Division, UN Comtrade terms of use,
  https://comtradeplus.un.org/). Regenerate:
  `python scripts/build_comtrade_reference.py --shared ../shared/data --out seeds/reference`.
- `sdmx_indicators.csv`: the SDMX indicators a staging view conforms: UNCTAD's exports and imports of
  digitally-deliverable services (printed in millions, UNIT_MULT 6). Every other indicator of an SDMX-CSV source
  is a valid raw row that no view conforms.
- `sdmx_area_codes.csv`: every REF_AREA code of the UNCTAD Data360 file (World Bank codes, each a row of
  `countries.csv`) and five OECD Data Explorer aggregate codes (OECD -> OED, EU27_2020 -> EUU, EA20 -> EMU; EU28
  and G20 have no `iso3` and are refused by rule `known_country`). From `sdmx/UNCTAD_DE_digital_services_trade.csv`
  (jeancecilia/unctad-digital-services-trade-regional-aggregates, datasets/UNCTAD_DE.csv, commit 037edfc3f694,
  CC BY 4.0). Regenerate: `python scripts/build_sdmx_reference.py --shared ../shared/data --out seeds/reference`.
- `oecd_country_names.csv`: the country column names of the R-pivoted MSTI 2018 file with their ISO3
  ('European Union (28 countries)' is left out: EUU is today's EU of 27). From `oecd/msti_2018_wide_by_country.csv`
  (saudino480/OECD-RND-Shiny-Tool, data/Science_Math_Eigth_Clean.csv, commit 31b480101c18, OECD terms).
  Regenerate: `python scripts/build_oecd_reference.py --shared ../shared/data --out seeds/reference`.
"""


def readme(shared: Path, countries: list[dict[str, str]], aliases: list[dict[str, str]]) -> bytes:
    """The seeds' README: contents, sources, licences, how to regenerate."""
    n_iso = sum(1 for r in countries if r["publisher_note"] == "" and r["is_aggregate"] == "false")
    n_agg = sum(1 for r in countries if r["is_aggregate"] == "true" and r["publisher_note"] == "")
    n_non_iso = sum(1 for r in countries if r["publisher_note"] == NON_ISO_NOTE)
    n_old = sum(1 for r in countries if r["iso3"] in DISCONTINUED_WB_GROUPS)
    alias_list = ", ".join(f"{a['alias']} -> {a['iso3']}" for a in aliases)
    inputs = (
        [COUNTRY_CODES, WDI_METADATA]
        + [p.relative_to(shared).as_posix() for p in sorted(shared.glob(WDI_2013_GLOB))]
        + [WDI_DOWNLOAD_DATA]
        + [p.relative_to(shared).as_posix() for p in sorted(shared.glob(WDI_TIDY_GLOB))]
    )
    checksums = "\n".join(f"    {sha256(shared / p)}  {p}" for p in inputs)
    text = f"""# Reference seeds: countries

Generated by `scripts/build_reference.py`; do not edit by hand (change the script's constants and rerun).

## Files

- `countries.csv` ({len(countries)} rows): the country dimension, one row per code.
  Columns `iso3,m49,name,region,sub_region,is_aggregate,parent_iso3,publisher_note`; booleans are `true`/`false`,
  empty means none.
  - {n_iso} economies with an ISO 3166-1 alpha-3 code (datasets/country-codes): `m49` is the UN M49 code,
    `name` the English name (official_name_en, else CLDR display name, else UNTERM English Short),
    `region`/`sub_region` the M49 region and sub-region names. `m49` is UN M49 (USA 840, World 1); UN
    Comtrade's reporter/partner codes are not M49 for every economy (842 'USA, Puerto Rico and US Virgin
    Islands', 0 World), so Comtrade codes need their own mapping.
  - {n_agg} World Bank aggregates (WDI country metadata rows with an empty Region): `name` is WDI's TableName,
    `is_aggregate` true, `m49` 1 for WLD (M49 'World' is 001) and empty otherwise.
  - {n_non_iso} World Bank economy codes that are not ISO 3166 (`publisher_note` says so), `region` is WDI's.
  - {n_old} World Bank groups printed in the data files that have no current equivalent (discontinued WDI 2013
    aggregates, and INX 'Not classified'): `is_aggregate` true, `publisher_note` explains.
  - 1 sub-national group, CN-SJZ (Shanghai, Jiangsu and Zhejiang), `parent_iso3` CHN.
- `country_aliases.csv` ({len(aliases)} rows): codes publishers used that are not current codes, mapped to
  the current `iso3`. Columns `alias,iso3,publisher,note`. Found by comparing the Country Code of every WDI 2013
  file with `countries.csv` and matching the printed Country Name: {alias_list}.
- `README.md`: this file.
{OTHER_LISTS}
## Sources and licences

- `reference/country-codes.csv`: datasets/country-codes on datahub, licence ODC-PDDL (public domain).
  Upstream: {PROVENANCE["country_codes"]}.
- `worldbank/wdi-download/Metadata_Country_API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv`: World Bank, World
  Development Indicators, licence CC BY 4.0; attribute "World Bank, World Development Indicators".
  Upstream: {PROVENANCE["wdi_metadata"]}.
- `worldbank/wdi-2013/*.csv` (old codes and the names of discontinued groups): World Bank, World Development
  Indicators, CC BY 4.0. Upstream: {PROVENANCE["wdi_2013"]}.
- `worldbank/wdi-download/API_*.csv` and `worldbank/wdi-tidy/*.csv` (checked only: every code they print must
  be known): World Bank, World Development Indicators, CC BY 4.0. Upstream: {PROVENANCE["wdi_tidy"]} for
  wdi-tidy; the AleHerreraSoria repository above for wdi-download.
- CN-SJZ is written from a constant in the script (a grouping used by a Chinese press release).

Input files (paths relative to the shared data folder) and their SHA-256:

{checksums}

## Regenerate

    python scripts/build_reference.py --shared ../shared/data --out seeds/reference

(the defaults; paths are resolved relative to the project root). A rerun reproduces these files byte-for-byte;
`tests/test_reference.py` checks that whenever the shared data folder is present.
"""
    return text.encode("utf-8")


def resolve(path: str) -> Path:
    """A command-line path: absolute as given, relative to the project root otherwise."""
    p = Path(path)
    return p if p.is_absolute() else (PROJECT_ROOT / p).resolve()


def main(argv: list[str] | None = None) -> int:
    """Build the seeds; return the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=DEFAULT_SHARED, help="shared data folder (default %(default)s)")
    parser.add_argument("--out", default=DEFAULT_OUT, help="output folder (default %(default)s)")
    args = parser.parse_args(argv)
    shared, out = resolve(args.shared), resolve(args.out)
    try:
        countries, aliases = build(shared)
        files = {
            "countries.csv": to_csv(countries, COUNTRY_COLUMNS),
            "country_aliases.csv": to_csv(aliases, ALIAS_COLUMNS),
            "README.md": readme(shared, countries, aliases),
        }
    except BuildError as exc:
        print(f"build_reference: {exc}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    print(f"wrote {out}: {len(countries)} countries, {len(aliases)} aliases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
