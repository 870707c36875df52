"""Regenerate the curated SDMX and OECD extracts (seeds/unctad_digital_services, seeds/oecd_msti_2018).

Usage (from anywhere; relative paths are taken relative to the project root)::

    python scripts/extract_sdmx_oecd.py --shared ../shared/data --out seeds

* ``unctad_digital_services/UNCTAD_DE_digital_services_trade.csv``: the rows of UNCTAD's exports and imports of
  digitally-deliverable services for a few areas, all years, from the Data360 SDMX-CSV file.
* ``oecd_msti_2018/msti_2018_wide_by_country.csv``: the rows of the technology balance of payments (receipts and
  payments, current US$) and of the high-technology industries' exports and imports, every country column, from
  the R-pivoted MSTI 2018 file.

Rows are copied as the exact text the publisher printed (quoting, line endings), the header line unchanged; the
script also writes each extract's README (attribution, provenance, what was kept), so that a rerun reproduces
every file byte for byte.
"""

from __future__ import annotations

import sys as _sys

_sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import argparse
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path

from seedtools import project_path, raw_records  # scripts/ is on sys.path when a script runs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python scripts/extract_sdmx_oecd.py --shared ../shared/data --out seeds"

SDMX_FILE = "sdmx/UNCTAD_DE_digital_services_trade.csv"
SDMX_OUT = "unctad_digital_services"
SDMX_AREAS: tuple[str, ...] = ("CHN", "USA", "JPN", "KOR", "DEU", "HKG", "IND", "WLD")
SDMX_INDICATORS: tuple[str, ...] = ("UNCTAD_DE_DIG_SERVTRADE_ANN_EXP", "UNCTAD_DE_DIG_SERVTRADE_ANN_IMP")

MSTI_FILE = "oecd/msti_2018_wide_by_country.csv"
MSTI_OUT = "oecd_msti_2018"
MSTI_VARIABLES: tuple[str, ...] = (
    "TBP_RUSD",  # technology balance of payments: receipts, million current US$
    "TBP_PUSD",  # technology balance of payments: payments, million current US$
    "TD_EAERO",  # total exports: aerospace industry
    "TD_ECOMP",  # total exports: computer, electronic and optical industry
    "TD_EDRUG",  # total exports: pharmaceutical industry
    "TD_IAERO",  # total imports: aerospace industry
    "TD_ICOMP",  # total imports: computer, electronic and optical industry
    "TD_IDRUG",  # total imports: pharmaceutical industry
)


def sha256(path: Path) -> str:
    """The hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_text(path: Path, text: str) -> None:
    """Write text as UTF-8 without translating line endings (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def extract_rows(source: Path, target: Path, keep: Callable[[dict[str, str]], bool]) -> tuple[int, int]:
    """Copy the header line and the kept data records of a CSV file, byte for byte, in file order.

    Args:
        source: the full file (UTF-8; a BOM stays in the header line).
        target: the extract to write.
        keep: tells, from a record's fields by header name, whether it is kept.

    Returns:
        (rows kept, data rows in the file).

    Raises:
        SystemExit: the file has no header, or a record has another number of fields than the header.
    """
    records = list(raw_records(source.read_bytes().decode("utf-8")))
    if not records:
        raise SystemExit(f"{source}: empty")
    header = [cell.replace("\ufeff", "").strip() for cell in records[0].cells]
    rows = [r for r in records[1:] if any(cell.strip() for cell in r.cells)]
    kept = []
    for row in rows:
        if len(row.cells) != len(header):
            raise SystemExit(f"{source}: a record has {len(row.cells)} fields, the header {len(header)}")
        if keep(dict(zip(header, (c.strip() for c in row.cells), strict=True))):
            kept.append(row.text if row.text.endswith(("\n", "\r")) else row.text + "\n")
    write_text(target, records[0].text + "".join(kept))
    return len(kept), len(rows)


def source_line(source: Path, shared_name: str, kept: int, total: int) -> str:
    """A README list item naming the source file, its SHA-256 and the rows kept."""
    return f"- `{shared_name}` (sha256 `{sha256(source)}`): {kept} of {total} data rows kept"


def readme_sdmx(line: str) -> str:
    """Compose seeds/unctad_digital_services/README.md."""
    return "\n".join(
        [
            "# UNCTAD digitally-deliverable services trade (SDMX-CSV, World Bank Data360): curated extract",
            "",
            (
                "Source: UN Trade and Development (UNCTAD), International trade in digitally-deliverable services "
                "(UNCTADstat), as served in SDMX-CSV by the World Bank's Data360 (database UNCTAD_DE). Licence: "
                "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/), as the upstream repository states; "
                'attribute "UNCTAD, International trade in digitally-deliverable services, via World Bank Data360". '
                "The data are unchanged; only rows were selected."
            ),
            "",
            (
                "Upstream: GitHub repository `jeancecilia/unctad-digital-services-trade-regional-aggregates`, path "
                "`datasets/UNCTAD_DE.csv`, commit `037edfc3f694` (the repository states the UNCTAD data were "
                "accessed on 2025-12-18); copied in the shared data as `sdmx/UNCTAD_DE_digital_services_trade.csv`."
            ),
            "",
            (
                f"Rows kept: the indicators {', '.join(SDMX_INDICATORS)} (exports and imports of "
                f"digitally-deliverable services, US dollars, printed in millions: UNIT_MULT 6) for the areas "
                f"{', '.join(SDMX_AREAS)}, all years, in the file's own order. The header line and every row are "
                "copied byte for byte. The file's ICT-use indicators (shares of businesses and employees) are left "
                "out. Rows whose OBS_VALUE is empty are the publisher's missing observations (OBS_STATUS 'O')."
            ),
            "",
            line,
            "",
            "## Regenerate",
            "",
            "From the project root (this README is written by the script too):",
            "",
            "```",
            COMMAND,
            "```",
            "",
        ]
    )


def readme_msti(line: str) -> str:
    """Compose seeds/oecd_msti_2018/README.md."""
    return "\n".join(
        [
            "# OECD Main Science and Technology Indicators, 2018 edition: curated extract",
            "",
            (
                "Source: OECD, Main Science and Technology Indicators (MSTI), 2018 edition. OECD data fall under "
                "the OECD's terms and conditions (https://www.oecd.org/en/about/terms-conditions.html); attribute "
                '"OECD, Main Science and Technology Indicators (2018)". The data are unchanged; only rows were '
                "selected."
            ),
            "",
            (
                "Upstream: GitHub repository `saudino480/OECD-RND-Shiny-Tool`, path "
                "`data/Science_Math_Eigth_Clean.csv`, commit `31b480101c18`; copied in the shared data as "
                "`oecd/msti_2018_wide_by_country.csv`. Not OECD's own layout: the repository's author pivoted the "
                "MSTI download with R (a row-index column, YEAR, MSTI_VAR, MSTI.Variables, Unit, PowerCode, then "
                "one column per country name; NA for missing)."
            ),
            "",
            (
                f"Rows kept: the variables {', '.join(MSTI_VARIABLES)} (technology balance of payments receipts "
                "and payments, and total exports and imports of the aerospace, computer/electronic/optical and "
                "pharmaceutical industries, all million current US$), every year and every country column, in "
                "the file's own order. The header line and every row (row-index numbers included) are copied byte "
                "for byte."
            ),
            "",
            line,
            "",
            "## Regenerate",
            "",
            "From the project root (this README is written by the script too):",
            "",
            "```",
            COMMAND,
            "```",
            "",
        ]
    )


def extract(shared: Path, out: Path) -> None:
    """Write both extracts and their READMEs.

    Raises:
        SystemExit: an area, indicator or variable the extract keeps is missing from its source file.
    """
    sdmx = shared / SDMX_FILE
    seen: set[tuple[str, str]] = set()

    def keep_sdmx(row: dict[str, str]) -> bool:
        keep = row["INDICATOR"] in SDMX_INDICATORS and row["REF_AREA"] in SDMX_AREAS
        if keep:
            seen.add((row["REF_AREA"], row["INDICATOR"]))
        return keep

    kept, total = extract_rows(sdmx, out / SDMX_OUT / Path(SDMX_FILE).name, keep_sdmx)
    missing = sorted({(a, i) for a in SDMX_AREAS for i in SDMX_INDICATORS} - seen)
    if missing:
        raise SystemExit(f"{sdmx}: no rows for {missing}")
    write_text(out / SDMX_OUT / "README.md", readme_sdmx(source_line(sdmx, SDMX_FILE, kept, total)))

    msti = shared / MSTI_FILE
    variables: set[str] = set()

    def keep_msti(row: dict[str, str]) -> bool:
        keep = row["MSTI_VAR"] in MSTI_VARIABLES
        if keep:
            variables.add(row["MSTI_VAR"])
        return keep

    kept, total = extract_rows(msti, out / MSTI_OUT / Path(MSTI_FILE).name, keep_msti)
    if set(MSTI_VARIABLES) - variables:
        raise SystemExit(f"{msti}: no rows for {sorted(set(MSTI_VARIABLES) - variables)}")
    write_text(out / MSTI_OUT / "README.md", readme_msti(source_line(msti, MSTI_FILE, kept, total)))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the extracts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/data", help="shared data folder, relative to the project root")
    parser.add_argument("--out", default="seeds", help="seeds folder, relative to the project root")
    args = parser.parse_args(argv)
    shared, out = project_path(args.shared), project_path(args.out)
    for name in (SDMX_FILE, MSTI_FILE):
        if not (shared / name).is_file():
            parser.error(f"{shared / name} does not exist")
    extract(shared, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
