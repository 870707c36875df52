"""Build seeds/reference/commodity_codes.csv: HS sections, chapters and headings; SITC sections and divisions.

Usage: python scripts/build_commodity_reference.py [--shared ../shared/data] [--out seeds/reference]
(relative paths resolve against the project root). A rerun reproduces the file byte-for-byte.

Sources: HS from datahub's harmonized-system lists (``reference/hs_sections.csv``, ``reference/harmonized-system.csv``,
ODC-PDDL), levels 2 and 4 only (the 6-digit subheadings are left out to keep the seed small); SITC Rev.4 division
names as UN Comtrade prints them in ``comtrade/legacy_api_CHN_5partners_S4_2digit_2010_2014.csv`` (its Commodity
column), and the ten SITC sections from a constant (UN SITC Rev.4).
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ["family", "code", "level", "parent_code", "section", "name"]
SITC_SECTIONS = {
    "0": "Food and live animals",
    "1": "Beverages and tobacco",
    "2": "Crude materials, inedible, except fuels",
    "3": "Mineral fuels, lubricants and related materials",
    "4": "Animal and vegetable oils, fats and waxes",
    "5": "Chemicals and related products, n.e.s.",
    "6": "Manufactured goods classified chiefly by material",
    "7": "Machinery and transport equipment",
    "8": "Miscellaneous manufactured articles",
    "9": "Commodities and transactions not classified elsewhere in the SITC",
}
SITC_SOURCE = "comtrade/legacy_api_CHN_5partners_S4_2digit_2010_2014.csv"


def read(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def hs_rows(shared: Path) -> list[dict[str, str]]:
    rows = [
        {"family": "HS", "code": r["section"], "level": "section", "parent_code": "", "section": r["section"],
         "name": r["name"].strip()}
        for r in read(shared / "reference" / "hs_sections.csv")
    ]  # fmt: skip
    for r in read(shared / "reference" / "harmonized-system.csv"):
        if r["level"] in ("2", "4"):
            rows.append(
                {
                    "family": "HS",
                    "code": r["hscode"],
                    "level": "chapter" if r["level"] == "2" else "heading",
                    "parent_code": r["section"] if r["level"] == "2" else r["parent"],
                    "section": r["section"],
                    "name": r["description"].strip(),
                }
            )
    return rows


def sitc_rows(shared: Path) -> list[dict[str, str]]:
    rows = [
        {"family": "SITC", "code": c, "level": "section", "parent_code": "", "section": c, "name": n}
        for c, n in SITC_SECTIONS.items()
    ]
    divisions = {r["Commodity Code"]: r["Commodity"].strip() for r in read(shared / SITC_SOURCE)}
    rows += [
        {"family": "SITC", "code": c, "level": "division", "parent_code": c[0], "section": c[0], "name": n}
        for c, n in divisions.items()
        if len(c) == 2
    ]
    return rows


def build(shared: Path, out: Path) -> Path:
    rows = sorted(hs_rows(shared) + sitc_rows(shared), key=lambda r: (r["family"], r["level"] != "section", r["code"]))
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    target = out / "commodity_codes.csv"
    target.write_bytes(buffer.getvalue().encode("utf-8"))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default="../shared/data")
    parser.add_argument("--out", default="seeds/reference")
    args = parser.parse_args(argv)
    shared, out = (Path(p) if Path(p).is_absolute() else (PROJECT_ROOT / p).resolve() for p in (args.shared, args.out))
    target = build(shared, out)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
