"""Regenerate the project's curated UN Comtrade extracts (seeds/comtrade_chn_usa_sitc, seeds/comtrade_chn_usa_hs8542).

Usage (from anywhere; relative paths are taken relative to the project root)::

    python scripts/extract_comtrade.py --shared ../shared/data --out seeds

* ``comtrade_chn_usa_sitc/``: from the legacy API file of China's trade with five partners (SITC Rev.4,
  2-digit, 2010-2014), the rows whose ``Partner ISO`` is USA: every year, flow and code.
* ``comtrade_chn_usa_hs8542/``: the current API file of China's imports of HS 8542 from the USA, 2010-2024,
  whole (it is small): its second-partner breakdown rows are what the staging view must not double count.

Rows are copied as the exact text the publisher printed, so each extract keeps its layout byte for byte
(quoting, CRLF line ends, the header). The script also writes each extract's README (attribution, provenance,
what was kept), so a rerun reproduces every file byte for byte.
"""

from __future__ import annotations

import sys as _sys

_sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import argparse
import sys
from pathlib import Path

from seedtools import project_path, raw_records, sha256, write_bytes  # scripts/ is on sys.path when a script runs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COMMAND = "python scripts/extract_comtrade.py --shared ../shared/data --out seeds"

LEGACY_API_FILE = "legacy_api_CHN_5partners_S4_2digit_2010_2014.csv"
SITC_DIR = "comtrade_chn_usa_sitc"
SITC_OUT = "legacy_api_CHN_USA_S4_2digit_2010_2014.csv"
PARTNER_COLUMN = "Partner ISO"
PARTNER = "USA"

PLUS_API_FILE = "plus_api_CHN_M_USA_HS8542_2010_2024.csv"
HS8542_DIR = "comtrade_chn_usa_hs8542"

ATTRIBUTION = (
    "Source: United Nations Statistics Division, UN Comtrade database (https://comtradeplus.un.org/).\n"
    "Terms: UN Comtrade's terms of use (see https://comtradeplus.un.org/); files from the legacy site\n"
    "(comtrade.un.org) came under its licence agreement and policy on re-dissemination.\n"
)


def extract_partner(source: Path, target: Path) -> tuple[int, int]:
    """Copy the header and the rows of one partner, in file order, byte for byte.

    Args:
        source: the legacy API file.
        target: the extract to write.

    Returns:
        (rows kept, data rows in the source).

    Raises:
        SystemExit: the file has no 'Partner ISO' column, or no row of the partner.
    """
    records = list(raw_records(source.read_bytes().decode("utf-8")))
    header = [cell.strip() for cell in records[0].cells]
    if PARTNER_COLUMN not in header:
        raise SystemExit(f"{source}: no column {PARTNER_COLUMN!r} in header {header[:8]}...")
    at = header.index(PARTNER_COLUMN)
    rows = [r for r in records[1:] if any(cell.strip() for cell in r.cells)]
    kept = [r for r in rows if r.cells[at].strip() == PARTNER]
    if not kept:
        raise SystemExit(f"{source}: no row with {PARTNER_COLUMN} {PARTNER}")
    write_bytes(target, (records[0].text + "".join(r.text for r in kept)).encode("utf-8"))
    return len(kept), len(rows)


def source_line(source: Path, note: str) -> str:
    """Describe a source file in a README: name, SHA-256 and what was kept."""
    return f"- `{source.name}` (sha256 `{sha256(source.read_bytes())}`): {note}"


def regenerate_section() -> list[str]:
    """The README lines on how to regenerate the extract."""
    return [
        "## Regenerate",
        "",
        "From the project root (this README is written by the script too):",
        "",
        "```",
        COMMAND,
        "```",
        "",
    ]


def readme_sitc(source: Path, kept: int, total: int) -> str:
    """Compose seeds/comtrade_chn_usa_sitc/README.md."""
    return "\n".join(
        [
            "# UN Comtrade: China's trade with the USA by SITC Rev.4 division, 2010-2014 (curated extract)",
            "",
            ATTRIBUTION + "The data are unchanged; only rows were selected.\n",
            (
                "Upstream: GitHub repository `shjain6670/IBE-Project---China`, path `comtrade.csv`, commit "
                f"`d15836591e2e` (copied in the shared data as `comtrade/{LEGACY_API_FILE}`), a download from the "
                "legacy comtrade.un.org API / website."
            ),
            "",
            (
                f"`{SITC_OUT}` holds, in the legacy API's 35-column CSV layout (header on line 1, CRLF line ends), "
                f"the rows of that file whose `{PARTNER_COLUMN}` is `{PARTNER}`: reporter China (156), partner USA "
                "(Comtrade code 842: the USA, Puerto Rico and the US Virgin Islands), imports and exports, SITC "
                "Rev.4 2-digit divisions (no TOTAL row: a total is the sum of the divisions), 2010-2014, in file "
                "order. Rows are copied byte for byte; nothing else was changed."
            ),
            "",
            "Source file:",
            "",
            source_line(source, f"{kept} of {total} data rows kept"),
            "",
            *regenerate_section(),
        ]
    )


def readme_hs8542(source: Path, rows: int) -> str:
    """Compose seeds/comtrade_chn_usa_hs8542/README.md."""
    return "\n".join(
        [
            "# UN Comtrade: China's imports of HS 8542 (electronic integrated circuits) from the USA, 2010-2024",
            "",
            ATTRIBUTION + "The file is copied whole and unchanged.\n",
            (
                "Upstream: GitHub repository `laureleallen/Economic-warfare-portfolio`, path "
                f"`data/raw/semiconductor_trade.csv`, commit `db7d10364657` (copied in the shared data as "
                f"`comtrade/{PLUS_API_FILE}`), a download from the current UN Comtrade API (getFinalData)."
            ),
            "",
            (
                f"`{PLUS_API_FILE}` is that file, whole and unchanged: the current API's 47-column CSV layout, "
                "fetched without descriptions (the *Desc and *ISO columns are empty), LF line ends. One total row "
                "a year (partner2Code 0, customsCode C00, motCode 0); in 2015-2017 also rows broken down by second "
                "partner (partner2Code != 0) that sum to that total, so summing every row counts those years "
                "twice; mosCode is sometimes `0 ` with a trailing space; classificationCode moves H3 -> H4 -> H5 "
                "-> H6."
            ),
            "",
            "Source file:",
            "",
            source_line(source, f"all {rows} data rows kept"),
            "",
            *regenerate_section(),
        ]
    )


def extract(shared: Path, out: Path) -> None:
    """Write every Comtrade extract and README.

    Args:
        shared: the shared data folder (holding comtrade/).
        out: the seeds folder.
    """
    comtrade = shared / "comtrade"
    legacy = comtrade / LEGACY_API_FILE
    kept, total = extract_partner(legacy, out / SITC_DIR / SITC_OUT)
    write_bytes(out / SITC_DIR / "README.md", readme_sitc(legacy, kept, total).encode("utf-8"))

    plus = comtrade / PLUS_API_FILE
    data = plus.read_bytes()
    write_bytes(out / HS8542_DIR / PLUS_API_FILE, data)
    rows = sum(1 for r in list(raw_records(data.decode("utf-8")))[1:] if any(cell.strip() for cell in r.cells))
    write_bytes(out / HS8542_DIR / "README.md", readme_hs8542(plus, rows).encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the extracts.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/data", help="shared data folder, relative to the project root")
    parser.add_argument("--out", default="seeds", help="seeds folder, relative to the project root")
    args = parser.parse_args(argv)
    shared, out = project_path(args.shared), project_path(args.out)
    if not (shared / "comtrade").is_dir():
        parser.error(f"{shared / 'comtrade'} does not exist")
    extract(shared, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
