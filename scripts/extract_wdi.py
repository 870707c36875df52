"""Regenerate the project's curated WDI extracts (seeds/wdi_2013, seeds/wdi_current) from the full files.

Usage (from anywhere; relative paths are taken relative to the project root)::

    python scripts/extract_wdi.py --shared ../shared/data --out seeds

Only the rows of a few economies are kept. Rows are copied as the exact text the publisher printed, so each
extract keeps its layout byte for byte: quoting, BOM, metadata lines, trailing commas and line endings. The
script also writes the extracts' README files (attribution, provenance, what was filtered), so that a rerun
reproduces every file byte for byte.
"""

from __future__ import annotations

import sys as _sys

_sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import argparse
import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path

from seedtools import RawRecord, project_path, raw_records  # scripts/ is on sys.path when a script runs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COUNTRIES: tuple[str, ...] = ("CHN", "USA", "JPN", "KOR", "DEU", "HKG", "IND", "WLD")
COMMAND = "python scripts/extract_wdi.py --shared ../shared/data --out seeds"

BULK_FILE = "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
WIDE_2013_OUT = "WDI_2013_extract.csv"
TIDY_FILES: tuple[str, ...] = (
    "bm.gsr.royl.cd.csv",
    "bx.gsr.royl.cd.csv",
    "tm.val.mrch.cd.wt.csv",
    "tx.val.mrch.cd.wt.csv",
    "tx.val.tech.cd.csv",
)
DATAPACKAGE = "tx.val.tech.cd.datapackage.json"
# the tidy files' indicators, as the upstream folders indicators/<code>/ name them: the files were renamed <code>.csv
# and only tx.val.tech.cd kept its data package, so seeds/wdi_current/datapackage.json states the others' (a tidy
# file's indicator is read from its metadata, never from its file name)
FOLDER_PACKAGE = "datapackage.json"
UPSTREAM = "GitHub repository datasets/world-development-indicators, commit 4ebec5a2273f"

ATTRIBUTION = (
    "Source: World Bank, World Development Indicators. Licence: CC BY 4.0\n"
    "(https://creativecommons.org/licenses/by/4.0/). The data are unchanged; only rows were selected.\n"
)


@dataclass(frozen=True)
class CsvFile:
    """A CSV file split into the lines before its data and its data records.

    Attributes:
        preamble: the raw text of everything up to and including the header line (BOM, metadata lines).
        header: the header's fields, stripped, BOM removed.
        rows: the data records, in file order (blank lines dropped).
        newline: the line ending of the header line.
    """

    preamble: str
    header: list[str]
    rows: list[RawRecord]
    newline: str

    def column(self, name: str) -> int:
        """Find a column by name.

        Args:
            name: the header name.

        Returns:
            Its index.

        Raises:
            SystemExit: the header has no such column.
        """
        if name not in self.header:
            raise SystemExit(f"no column {name!r} in header {self.header[:6]}...")
        return self.header.index(name)


def read_csv_file(path: Path) -> CsvFile:
    """Read a WDI CSV file: the preamble up to its "Country Name" header, then the data records.

    Args:
        path: the file (UTF-8, a BOM is kept in the preamble).

    Returns:
        The split file.

    Raises:
        SystemExit: no header line starting with "Country Name".
    """
    text = path.read_bytes().decode("utf-8")
    records = list(raw_records(text))
    for i, record in enumerate(records):
        header = [cell.replace("\ufeff", "").strip() for cell in record.cells]
        if header and header[0] == "Country Name":
            preamble = "".join(r.text for r in records[: i + 1])
            rows = [r for r in records[i + 1 :] if any(cell.strip() for cell in r.cells)]
            return CsvFile(preamble=preamble, header=header, rows=rows, newline=line_ending(record.text))
    raise SystemExit(f"{path}: no header line starting with 'Country Name'")


def line_ending(text: str) -> str:
    """Return the line ending a raw line ends with.

    Args:
        text: a raw line.

    Returns:
        "\\r\\n", "\\n" or "\\r" ("\\n" when the line has none).
    """
    for ending in ("\r\n", "\n", "\r"):
        if text.endswith(ending):
            return ending
    return "\n"


def terminated(text: str, newline: str) -> str:
    """Make sure a raw record ends with a line ending (the file's last line may lack one).

    Args:
        text: the raw record.
        newline: the ending to add when it has none.

    Returns:
        The record, ending with a line ending.
    """
    return text if text.endswith(("\n", "\r")) else text + newline


def keep_countries(csv_file: CsvFile) -> list[RawRecord]:
    """Select the rows of the extract's countries.

    Args:
        csv_file: the full file.

    Returns:
        The rows whose Country Code is one of COUNTRIES, in file order.

    Raises:
        SystemExit: one of the countries is missing from the file.
    """
    at = csv_file.column("Country Code")
    kept = [row for row in csv_file.rows if row.cells[at].strip() in COUNTRIES]
    missing = sorted(set(COUNTRIES) - {row.cells[at].strip() for row in kept})
    if missing:
        raise SystemExit(f"countries {missing} are missing from a source file")
    return kept


def write_text(path: Path, text: str) -> None:
    """Write text as UTF-8 without translating line endings.

    Args:
        path: the output file; its folder is created.
        text: the content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def sha256(path: Path) -> str:
    """Hash a file.

    Args:
        path: the file.

    Returns:
        The hex SHA-256 of its bytes.
    """
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract_wide_2013(source_dir: Path, out_dir: Path) -> list[str]:
    """Merge the 7 countries' rows of every WDI 2013 file into one wide_2013 file.

    Args:
        source_dir: worldbank/wdi-2013.
        out_dir: seeds/wdi_2013.

    Returns:
        README lines describing each source file.

    Raises:
        SystemExit: no source files, or their headers differ.
    """
    paths = sorted(source_dir.glob("*.csv"))
    if not paths:
        raise SystemExit(f"no CSV files in {source_dir}")
    files = {path: read_csv_file(path) for path in paths}
    first = files[paths[0]]
    rows: list[tuple[CsvFile, RawRecord]] = []
    readme_lines: list[str] = []
    for path, csv_file in files.items():
        if csv_file.preamble != first.preamble:
            raise SystemExit(f"{path}: header differs from {paths[0]}")
        kept = keep_countries(csv_file)
        rows.extend((csv_file, row) for row in kept)
        readme_lines.append(source_line(path, len(kept), len(csv_file.rows)))
    rows.sort(key=lambda item: sort_key(*item))
    body = "".join(terminated(row.text, first.newline) for _, row in rows)
    write_text(out_dir / WIDE_2013_OUT, first.preamble + body)
    return readme_lines


def sort_key(csv_file: CsvFile, row: RawRecord) -> tuple[str, str]:
    """Order wide rows by indicator code, then country code.

    Args:
        csv_file: the file the row comes from (for its header).
        row: the row.

    Returns:
        The sort key.
    """
    return (
        row.cells[csv_file.column("Indicator Code")].strip(),
        row.cells[csv_file.column("Country Code")].strip(),
    )


def extract_filtered(source: Path, target: Path) -> str:
    """Copy a file keeping its preamble and only the 7 countries' rows, in file order.

    Args:
        source: the full file.
        target: the extract to write.

    Returns:
        A README line describing the source file.
    """
    csv_file = read_csv_file(source)
    kept = keep_countries(csv_file)
    write_text(target, csv_file.preamble + "".join(terminated(row.text, csv_file.newline) for row in kept))
    return source_line(source, len(kept), len(csv_file.rows))


def source_line(source: Path, kept: int, total: int) -> str:
    """Describe a source file in a README.

    Args:
        source: the full file.
        kept: how many data rows were kept.
        total: how many data rows it holds.

    Returns:
        A Markdown list item with the file name, its SHA-256 and the row counts.
    """
    return f"- `{source.name}` (sha256 `{sha256(source)}`): {kept} of {total} data rows kept"


def readme_2013(file_lines: list[str]) -> str:
    """Compose seeds/wdi_2013/README.md.

    Args:
        file_lines: one line per source file.

    Returns:
        The README text.
    """
    return "\n".join(
        [
            "# WDI, December 2013 vintage: curated extract",
            "",
            ATTRIBUTION,
            (
                "Upstream: GitHub repository `ronnywang/worldbank`, path `WDI_bundle/parsed/<CODE>_WDI.csv`, "
                "commit `dff56f37f6cc` (copied in the shared data as `worldbank/wdi-2013/`)."
            ),
            "",
            (
                f"`{WIDE_2013_OUT}` holds, in the publisher's wide layout (header on line 1, one column per year "
                "1960-2013, minimal quoting, LF line endings), the rows of the economies "
                f"{', '.join(COUNTRIES)} from every file of that folder, one header, ordered by indicator code "
                "then country code. Rows are copied byte for byte; nothing else was changed."
            ),
            "",
            "Source files:",
            "",
            *file_lines,
            "",
            "Regenerate (from the project root; this README is written by the script too):",
            "",
            "```",
            COMMAND,
            "```",
            "",
        ]
    )


def readme_current(bulk_line: str, tidy_lines: list[str]) -> str:
    """Compose seeds/wdi_current/README.md.

    Args:
        bulk_line: the line describing the bulk-download source file.
        tidy_lines: one line per tidy source file.

    Returns:
        The README text.
    """
    return "\n".join(
        [
            "# WDI, current vintage: curated extracts",
            "",
            ATTRIBUTION,
            (
                f"Rows kept: the economies {', '.join(COUNTRIES)}, in the source files' own order. Rows are copied "
                "byte for byte (quoting, BOM, metadata lines, trailing commas, line endings); nothing else was "
                "changed."
            ),
            "",
            f"## `{BULK_FILE}`",
            "",
            (
                "The World Bank's bulk-download layout. Upstream: GitHub "
                "repository `AleHerreraSoria/green-ai-analytics-platform`, path "
                f"`data/World_Bank_Group/{BULK_FILE}`, commit `71b9184c2dff` (copied in the shared data as "
                "`worldbank/wdi-download/`). The metadata lines are kept."
            ),
            "",
            bulk_line,
            "",
            "## Tidy files",
            "",
            (
                "Upstream: GitHub repository `datasets/world-development-indicators`, path "
                "`indicators/<code>/data.csv` (renamed `<code>.csv`), commit `4ebec5a2273f`, CC-BY-4.0 (copied in "
                f"the shared data as `worldbank/wdi-tidy/`). `{DATAPACKAGE}` is copied unchanged. "
                f"`{FOLDER_PACKAGE}` is written by the script: a Frictionless data package stating the indicator of "
                "each other tidy file (`worldbank.indicator`, the `<code>` of its upstream folder), as tradewh reads a "
                "tidy file's indicator from its metadata, never from its file name."
            ),
            "",
            *tidy_lines,
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


def folder_package(names: list[str]) -> str:
    """A Frictionless data package stating the indicator of each tidy file that has no data package of its own.

    Args:
        names: the tidy files, each ``<code>.csv`` as renamed from the upstream ``indicators/<code>/data.csv``.

    Returns:
        The JSON text of ``seeds/wdi_current/datapackage.json``.
    """
    import json

    resources = [
        {
            "name": name.removesuffix(".csv"),
            "path": name,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "sources": [{"title": UPSTREAM, "path": f"indicators/{name.removesuffix('.csv')}/data.csv"}],
            "worldbank": {"indicator": name.removesuffix(".csv")},
        }
        for name in names
    ]
    package = {
        "name": "tradewh-wdi-current-tidy",
        "title": "WDI tidy files (extract): the indicator of each",
        "description": (
            f"Written by {COMMAND}. Each resource is an upstream file indicators/<code>/data.csv ({UPSTREAM}), "
            "renamed <code>.csv; worldbank.indicator is the <code> of its upstream folder, as the World Bank's "
            "own indicators/<code>/datapackage.json states it."
        ),
        "licenses": [{"name": "CC-BY-4.0"}],
        "resources": resources,
    }
    return json.dumps(package, indent=2) + "\n"


def extract(shared: Path, out: Path) -> None:
    """Write every WDI extract and README.

    Args:
        shared: the shared data folder (holding worldbank/).
        out: the seeds folder.
    """
    worldbank = shared / "worldbank"
    lines_2013 = extract_wide_2013(worldbank / "wdi-2013", out / "wdi_2013")
    write_text(out / "wdi_2013" / "README.md", readme_2013(lines_2013))

    current = out / "wdi_current"
    bulk_line = extract_filtered(worldbank / "wdi-download" / BULK_FILE, current / BULK_FILE)
    tidy_lines = [extract_filtered(worldbank / "wdi-tidy" / name, current / name) for name in TIDY_FILES]
    package = worldbank / "wdi-tidy" / DATAPACKAGE
    (current / DATAPACKAGE).write_bytes(package.read_bytes())
    described = [name for name in TIDY_FILES if not (worldbank / "wdi-tidy" / f"{name[:-4]}.{FOLDER_PACKAGE}").exists()]
    write_text(current / FOLDER_PACKAGE, folder_package(described))
    write_text(current / "README.md", readme_current(bulk_line, tidy_lines))


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
    if not (shared / "worldbank").is_dir():
        parser.error(f"{shared / 'worldbank'} does not exist")
    extract(shared, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
