"""Regenerate seeds/comtrade_chn_usa_deu_total_2022: China, the USA and Germany each reporting the other two.

Usage (from anywhere; relative paths are taken relative to the project root)::

    python scripts/extract_comtrade_mirror.py --source PATH/TO/TradeData.csv --out seeds

``--source`` is the upstream file: GitHub repository ``nikolinanikolovska/Economic-Analysis-Trade-ML``, path
``TradeData.csv``, commit ``a41e4e9e2e15c68f9850409badc760228b8be874`` (for instance
``curl -LO https://raw.githubusercontent.com/nikolinanikolovska/Economic-Analysis-Trade-ML/a41e4e9e2e15c68f9850409badc760228b8be874/TradeData.csv``).
It is a download from the current UN Comtrade API (getFinalData, 47-column CSV, every field quoted, CRLF line
ends, cp1252 text): annual 2022, all commodities (cmdCode TOTAL, HS 2022 = H6), imports and exports of three
reporters (China 156, the USA 842, Germany 276) with every partner. The script refuses any other file (its SHA-256
is checked).

Kept: the rows whose reporter and partner are both among CHN, USA and DEU and differ (each economy's report of its
trade with the other two: 12 rows), in file order, byte for byte, so every flow between them is reported by both
its exporter and its importer. Dropped: the other partners, the world and area totals, and China's imports from
China (re-imports). The script also writes the extract's README (attribution, provenance, what was kept), so a rerun
reproduces both files byte for byte.
"""

from __future__ import annotations

import sys as _sys

_sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import argparse
import sys
from pathlib import Path

from seedtools import project_path, raw_records, sha256, write_bytes  # scripts/ is on sys.path when a script runs

COMMAND = "python scripts/extract_comtrade_mirror.py --source PATH/TO/TradeData.csv --out seeds"

UPSTREAM_REPO = "nikolinanikolovska/Economic-Analysis-Trade-ML"
UPSTREAM_PATH = "TradeData.csv"
UPSTREAM_COMMIT = "a41e4e9e2e15c68f9850409badc760228b8be874"
UPSTREAM_SHA256 = "f35cee765f0c83141a85cb3ae8ea8dc583ec751e3564424f5e279d013999d617"
ENCODING = "cp1252"  # partner names such as "Côte d'Ivoire" are cp1252 bytes; the kept rows are ASCII

OUT_DIR = "comtrade_chn_usa_deu_total_2022"
OUT_FILE = "plus_api_CHN_USA_DEU_TOTAL_2022.csv"
ECONOMIES = ("CHN", "USA", "DEU")
REPORTER_COLUMN = "reporterISO"
PARTNER_COLUMN = "partnerISO"

ATTRIBUTION = (
    "Source: United Nations Statistics Division, UN Comtrade database (https://comtradeplus.un.org/).\n"
    "Terms: UN Comtrade's terms of use (see https://comtradeplus.un.org/).\n"
)


def extract_mutual(data: bytes) -> tuple[bytes, int, int]:
    """The header and the rows of the economies' trade with each other, in file order, byte for byte.

    Args:
        data: the upstream file's bytes.

    Returns:
        (the extract's bytes, rows kept, data rows in the source).

    Raises:
        SystemExit: a column is missing, or an economy pair is not reported in both directions.
    """
    records = list(raw_records(data.decode(ENCODING)))
    header = [cell.strip() for cell in records[0].cells]
    for column in (REPORTER_COLUMN, PARTNER_COLUMN, "flowCode"):
        if column not in header:
            raise SystemExit(f"no column {column!r} in header {header[:8]}...")
    reporter, partner, flow = (header.index(c) for c in (REPORTER_COLUMN, PARTNER_COLUMN, "flowCode"))
    rows = [r for r in records[1:] if any(cell.strip() for cell in r.cells)]
    kept = [
        r
        for r in rows
        if r.cells[reporter] in ECONOMIES and r.cells[partner] in ECONOMIES and r.cells[reporter] != r.cells[partner]
    ]
    present = {(r.cells[reporter], r.cells[partner], r.cells[flow]) for r in kept}
    wanted = {(a, b, f) for a in ECONOMIES for b in ECONOMIES if a != b for f in ("X", "M")}
    if present != wanted:
        raise SystemExit(f"not every flow is reported by both sides: missing {sorted(wanted - present)}")
    text = records[0].text + "".join(r.text for r in kept)
    return text.encode(ENCODING), len(kept), len(rows)


def readme(kept: int, total: int) -> str:
    """Compose the extract's README.md."""
    return "\n".join(
        [
            "# UN Comtrade: China, the USA and Germany, each one's report of its trade with the other two, 2022",
            "",
            ATTRIBUTION + "The data are unchanged; only rows were selected.\n",
            (
                f"Upstream: GitHub repository `{UPSTREAM_REPO}`, path `{UPSTREAM_PATH}`, commit "
                f"`{UPSTREAM_COMMIT}` (2025-06-15; the repository states no licence of its own: the figures are UN "
                "Comtrade's, under its terms), a download from the current UN Comtrade API (getFinalData)."
            ),
            "",
            (
                f"`{OUT_FILE}` holds, in the current API's 47-column CSV layout (every field quoted, CRLF line ends, "
                "header on line 1), the rows of that file whose reporter and partner are both among China (156), "
                "the USA (842) and Germany (276) and differ: annual 2022, all commodities (`cmdCode` TOTAL, "
                "`classificationCode` H6 = HS 2022), imports (`flowCode` M, valued CIF: `cifvalue` = "
                "`primaryValue`) and exports (X, valued FOB), total customs procedure (C00), all modes of "
                "transport, no second partner (`partner2Code` 0). So each flow between two of them is reported "
                "twice, once by its exporter and once by its importer: a mirror pair. The USA's import rows also "
                "print a FOB value (`fobvalue`); the warehouse loads `primaryValue`. Rows are copied byte for byte, "
                "in file order; nothing else was changed."
            ),
            "",
            (
                "Dropped: every other partner, the world (W00) and area totals, China's imports from China "
                "(re-imports). The repository's services file (TradeData_Services.csv) is not used."
            ),
            "",
            "Source file:",
            "",
            f"- `{UPSTREAM_PATH}` (sha256 `{UPSTREAM_SHA256}`): {kept} of {total} data rows kept",
            "",
            "## Regenerate",
            "",
            "From the project root, with the upstream file downloaded (this README is written by the script too):",
            "",
            "```",
            f"curl -LO https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/{UPSTREAM_PATH}",
            COMMAND,
            "```",
            "",
        ]
    )


def extract(source: Path, out: Path) -> None:
    """Write the extract and its README.

    Args:
        source: the upstream TradeData.csv.
        out: the seeds folder.

    Raises:
        SystemExit: the file is not the upstream file this extract is made from.
    """
    data = source.read_bytes()
    if sha256(data) != UPSTREAM_SHA256:
        raise SystemExit(f"{source}: sha256 {sha256(data)} is not the upstream file's {UPSTREAM_SHA256}")
    extract_bytes, kept, total = extract_mutual(data)
    write_bytes(out / OUT_DIR / OUT_FILE, extract_bytes)
    write_bytes(out / OUT_DIR / "README.md", readme(kept, total).encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and write the extract.

    Args:
        argv: the arguments (default: sys.argv[1:]).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="the upstream TradeData.csv (relative to the project root)")
    parser.add_argument("--out", default="seeds", help="seeds folder, relative to the project root")
    args = parser.parse_args(argv)
    source, out = project_path(args.source), project_path(args.out)
    if not source.is_file():
        parser.error(f"{source} does not exist")
    extract(source, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
