"""A catalogue entry names the definition its figures are compiled under (``definition = "BPM6"``) where the
curated list (seeds/reference/definitions.csv) has no row for it: a user's later release of a shipped series is
then a revision of it, not a break in series."""

from __future__ import annotations

import csv
import io

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse.extract.catalogue import CatalogueError, load_catalogue

BULK = PROJECT_ROOT / "seeds" / "wdi_current" / "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_920.csv"
ENTRY = """
[[source]]
id = "wdi_next_release"
dataset = "wdi"
publisher = "World Bank"
title = "World Development Indicators, a later release (test)"
licence = "CC BY 4.0"
attribution = "World Bank, World Development Indicators"
location = {{ path = "{path}" }}
vintage = "2026-06-30"
definition = "BPM6"

  [[source.measures]]
  measure = "bop_value"
  unit = "USD"
  currency = "USD"
  scales = [1]
"""


def later_release(folder, factor: float = 1.01) -> tuple[object, float, float]:
    """The shipped bulk-download file as a later release: its date moved on, China's 2011 value revised."""
    text = BULK.read_text(encoding="utf-8-sig")
    lines = text.splitlines(keepends=True)
    records = list(csv.reader(io.StringIO(text)))
    at = next(i for i, r in enumerate(records) if r[:2] == ["Country Name", "Country Code"])
    year = records[at].index("2011")
    china = next(i for i, r in enumerate(records) if len(r) > 1 and r[1] == "CHN")
    before = float(records[china][year])
    after = round(before * factor)
    row = records[china]
    row[year] = str(after)
    lines[china] = ",".join(f'"{cell}"' for cell in row[:-1]) + ",\n"  # every cell quoted, a trailing comma
    out = folder / "API_BX.GSR.CCIS.CD_DS2_en_csv_v2_next.csv"
    folder.mkdir(parents=True, exist_ok=True)
    out.write_text("\ufeff" + "".join(lines).replace('"2026-02-24"', '"2026-06-30"', 1), encoding="utf-8")
    return out, before, float(after)


def test_a_definition_must_be_a_short_key(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(ENTRY.format(path="x.csv").replace('"BPM6"', '"BPM 6 (2009)"'), encoding="utf-8")
    with pytest.raises(CatalogueError, match="definition must be a short key"):
        load_catalogue(path)


def test_a_later_release_under_the_declared_definition_is_a_revision(tmp_path, prefect_home):
    data, before, after = later_release(tmp_path / "data")
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(
        (PROJECT_ROOT / "catalogue.toml").read_text(encoding="utf-8") + ENTRY.format(path=data), encoding="utf-8"
    )
    result = run_nightly(tmp_path / "home", catalogue, TRADEWH_ALLOWED_ROOTS=str(tmp_path / "data"))
    assert result["status"] == "succeeded", result["summary"]
    warehouse = tmp_path / "home" / "warehouse" / "tradewh.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        definitions = con.execute(
            "select distinct definition from core.fct_trade_figure where source_id = 'wdi_next_release'"
        ).fetchall()
        assert definitions == [("BPM6",)]
        history = con.execute(
            "select source_id, change_kind, previous_vintage_value, value from marts.trade_figure_history "
            "where reporter = 'CHN' and category = 'ict_services' and period = '2011' and flow = 'export' "
            "order by vintage"
        ).fetchall()
        assert history[-1][:2] == ("wdi_next_release", "revised")
        assert history[-1][2:] == (pytest.approx(before), pytest.approx(after))
        revised = con.execute(
            "select count(*) from marts.revisions where reporter = 'CHN' and category = 'ict_services' "
            "and period = '2011'"
        ).fetchone()
        assert revised == (1,)
