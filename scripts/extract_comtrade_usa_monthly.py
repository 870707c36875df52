"""Regenerate seeds/comtrade_usa_chn_monthly_2010_2014: the USA's monthly reports of its trade with China, 2010-2014.

Usage (from anywhere; relative paths are taken relative to the project root)::

    python scripts/extract_comtrade_usa_monthly.py --source PATH/TO/TradeData_4_16_2023_14_25_34.csv \
        --source PATH/TO/TradeData_4_16_2023_14_25_19.csv ... --out seeds

``--source`` (given five times) are the upstream files: GitHub repository ``yq808/us-china-trade-analysis``, folder
``datasets/uncomtrade_datasets/``, commit ``7c5543b4bd46dc9a4cabd5be61c15a7339b52f3d`` (the same files are at
``old/datasets/uncomtrade_datasets/`` in later commits), one per year: the Comtrade+ portal's CSV download (the API's
47 columns with capitalised headers such as "PrimaryValue", every field quoted, a separator after the last field,
CRLF line ends): the USA (842) reporting its imports (M) from and exports (X) to China (156), monthly (FreqCode M),
all commodities (CmdCode TOTAL, HS as of the year: H3 for 2010-2011, H4 for 2012-2014). The script refuses any
other file (each one's SHA-256 is checked) and needs all five.

Kept: the header once, then every file's rows whose reporter is the USA, partner China, commodity TOTAL, frequency
monthly, in year order and file order, byte for byte (120 rows: 12 months x 2 flows x 5 years); it checks that each
year and flow has its 12 months. The script also writes the extract's README (attribution, provenance, what was
kept), so a rerun reproduces both files byte for byte.
"""

from __future__ import annotations

import sys as _sys

_sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import argparse
import sys
from pathlib import Path

from seedtools import project_path, raw_records, sha256, write_bytes  # scripts/ is on sys.path when a script runs

UPSTREAM_REPO = "yq808/us-china-trade-analysis"
UPSTREAM_FOLDER = "datasets/uncomtrade_datasets"
UPSTREAM_COMMIT = "7c5543b4bd46dc9a4cabd5be61c15a7339b52f3d"
# year -> (file name, its SHA-256)
UPSTREAM_FILES: dict[int, tuple[str, str]] = {
    2010: ("TradeData_4_16_2023_14_25_34.csv", "5deda56f194d102ba333cc9a94824c800766841ee71828197bd2b7f31829ad63"),
    2011: ("TradeData_4_16_2023_14_25_19.csv", "ce03ecb859afffd66b9b88d398fb7542dbe1822eb75b008a157528c7e76b521b"),
    2012: ("TradeData_4_16_2023_14_25_3.csv", "da124463b5858dab1d1eb132660844e44342efffff4255d64eab62a5f3298181"),
    2013: ("TradeData_4_16_2023_14_24_36.csv", "3454be8bc22a8546271c69a6568f3a1798628040d2cdc825171073d4aaf1f43c"),
    2014: ("TradeData_4_16_2023_14_24_14.csv", "b212b399d332253eab3ed3231df0455ef25d1823e3667eedab1a668b82583419"),
}
COMMAND = (
    "python scripts/extract_comtrade_usa_monthly.py "
    + " ".join(f"--source PATH/TO/{name}" for name, _ in UPSTREAM_FILES.values())
    + " --out seeds"
)
ENCODING = "utf-8"

OUT_DIR = "comtrade_usa_chn_monthly_2010_2014"
OUT_FILE = "plus_portal_USA_CHN_TOTAL_monthly_2010_2014.csv"
WANTED = {"ReporterISO": "USA", "PartnerISO": "CHN", "CmdCode": "TOTAL", "FreqCode": "M"}

ATTRIBUTION = (
    "Source: United Nations Statistics Division, UN Comtrade database (https://comtradeplus.un.org/).\n"
    "Terms: UN Comtrade's terms of use (see https://comtradeplus.un.org/).\n"
)


def extract_year(data: bytes, year: int) -> tuple[str, str, int, int]:
    """One upstream file's header and kept rows, byte for byte.

    Args:
        data: the file's bytes.
        year: the year it must cover.

    Returns:
        (the header's text, the kept rows' text, rows kept, data rows in the file).

    Raises:
        SystemExit: a column is missing, or a flow of the year lacks a month.
    """
    records = list(raw_records(data.decode(ENCODING)))
    header = [cell.strip() for cell in records[0].cells]
    for column in (*WANTED, "RefYear", "RefMonth", "FlowCode"):
        if column not in header:
            raise SystemExit(f"no column {column!r} in header {header[:8]}...")
    index = {column: header.index(column) for column in (*WANTED, "RefYear", "RefMonth", "FlowCode")}
    rows = [r for r in records[1:] if any(cell.strip() for cell in r.cells)]
    kept = [
        r
        for r in rows
        if all(r.cells[index[c]] == v for c, v in WANTED.items()) and r.cells[index["RefYear"]] == str(year)
    ]
    for flow in ("M", "X"):
        months = sorted(int(r.cells[index["RefMonth"]]) for r in kept if r.cells[index["FlowCode"]] == flow)
        if months != list(range(1, 13)):
            raise SystemExit(f"{year} flow {flow}: months {months}, not the 12 months once each")
    return records[0].text, "".join(r.text for r in kept), len(kept), len(rows)


def readme(counts: dict[int, tuple[int, int]]) -> str:
    """Compose the extract's README.md."""
    files = [
        f"- {year}: `{UPSTREAM_FOLDER}/{name}` (sha256 `{digest}`): {counts[year][0]} of {counts[year][1]} "
        "data rows kept"
        for year, (name, digest) in UPSTREAM_FILES.items()
    ]
    return "\n".join(
        [
            "# UN Comtrade: the USA's monthly reports of its total goods trade with China, 2010-2014",
            "",
            ATTRIBUTION + "The data are unchanged; only rows were selected.\n",
            (
                f"Upstream: GitHub repository `{UPSTREAM_REPO}`, folder `{UPSTREAM_FOLDER}/` (the same files are "
                f"at `old/{UPSTREAM_FOLDER}/` in later commits), commit `{UPSTREAM_COMMIT}` (2023-04-27; the "
                "repository states no licence of its own: the figures are UN Comtrade's, under its terms), "
                "downloads from the UN Comtrade+ portal (comtradeplus.un.org) of 2023-04-16, one file per year."
            ),
            "",
            (
                f"`{OUT_FILE}` holds, in the portal's CSV layout (the current API's 47 columns with capitalised "
                "headers such as `PrimaryValue`, `RefYear`, `CmdCode`; every field quoted; a separator after the "
                "last field; CRLF line ends), the header once and then every row of the five files, in year order "
                "and file order: the USA (842) reporting its imports from China (`FlowCode` M, valued CIF: "
                "`Cifvalue` = `PrimaryValue`) and its exports to China (X, valued FOB), monthly (`FreqCode` M, "
                "`RefMonth` 1-12), all commodities (`CmdCode` TOTAL; `ClassificationCode` H3 = HS 2007 for "
                "2010-2011, H4 = HS 2012 for 2012-2014), total customs procedure (C00), all modes of transport, no "
                "second partner. Each year and flow has its 12 months. Rows are copied byte for byte; nothing else "
                "was changed. No annual row is published in these files: an annual total is the sum of the 12 "
                "months (marts.mirror_flows derives it, and flags it)."
            ),
            "",
            (
                "Dropped: the repository's other years (2015-2022) and its other files. China's side of the same "
                "flows is seeds/comtrade_chn_usa_sitc (SITC Rev.4 divisions, annual)."
            ),
            "",
            "Source files:",
            "",
            *files,
            "",
            "## Regenerate",
            "",
            "From the project root, with the upstream files downloaded (this README is written by the script too):",
            "",
            "```",
            *(
                f"curl -LO https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/{UPSTREAM_FOLDER}/{name}"
                for name, _ in UPSTREAM_FILES.values()
            ),
            COMMAND,
            "```",
            "",
        ]
    )


def extract(sources: list[Path], out: Path) -> None:
    """Write the extract and its README.

    Args:
        sources: the five upstream files, in any order.
        out: the seeds folder.

    Raises:
        SystemExit: a file is not one of the upstream files, or one is missing.
    """
    by_digest = {digest: year for year, (_, digest) in UPSTREAM_FILES.items()}
    found: dict[int, bytes] = {}
    for source in sources:
        data = source.read_bytes()
        if sha256(data) not in by_digest:
            raise SystemExit(f"{source}: sha256 {sha256(data)} is none of the upstream files' (see UPSTREAM_FILES)")
        found[by_digest[sha256(data)]] = data
    missing = [UPSTREAM_FILES[year][0] for year in UPSTREAM_FILES if year not in found]
    if missing:
        raise SystemExit(f"missing upstream files: {missing}")
    header, body, counts = "", "", {}
    for year in UPSTREAM_FILES:
        year_header, rows, kept, total = extract_year(found[year], year)
        if header and year_header != header:
            raise SystemExit(f"{UPSTREAM_FILES[year][0]}: its header differs from the other files'")
        header, body, counts[year] = year_header, body + rows, (kept, total)
    write_bytes(out / OUT_DIR / OUT_FILE, (header + body).encode(ENCODING))
    write_bytes(out / OUT_DIR / "README.md", readme(counts).encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the extract.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, action="append", help="an upstream TradeData_*.csv (give all five)")
    parser.add_argument("--out", default="seeds", help="seeds folder, relative to the project root")
    args = parser.parse_args(argv)
    sources = [project_path(s) for s in args.source]
    for source in sources:
        if not source.is_file():
            parser.error(f"{source} does not exist")
    extract(sources, project_path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
