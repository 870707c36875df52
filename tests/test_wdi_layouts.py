"""WDI files whose indicator only their metadata states, and one source holding files of different layouts.

The World Bank's per-indicator data packages (``indicators/<code>/data.csv`` beside ``datapackage.json``) name every
file ``data.csv``: each keeps its indicator, read from the data package that is carried into the raw zone with it;
a tidy file that states no indicator is refused, whatever its name. A tidy file and a wide file in one source are
each parsed by their own layout and staged with the types of the dataset's model, not of the first batch.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from schemas.context import RunContext
from tests.conftest import PROJECT_ROOT
from warehouse.common.errors import SourceError
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.extract.fetch import fetch_source
from warehouse.parse.wdi import parse_wdi
from warehouse.stage import parse_payloads, stage_source

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "wdi"
INDICATORS = FIXTURES / "indicators"
REFERENCE = PROJECT_ROOT / "seeds" / "reference"
SHARED_TIDY = PROJECT_ROOT.parent / "shared" / "data" / "worldbank" / "wdi-tidy"


def source(location: str, source_id: str = "wdi_layouts") -> Source:
    return Source(
        id=source_id, dataset="wdi", publisher="World Bank", title="t", licence="CC BY 4.0", attribution="a",
        location_kind="path", location=location, vintage="2026-02-24",
        measures=(MeasureSpec("bop_value", "USD", "USD", (1.0,)), MeasureSpec("customs_value", "USD", "USD", (1.0,))),
    )  # fmt: skip


def fetch(src: Source, root: Path):
    return fetch_source(src, seeds_dir=root, project_root=root, roots=(root,), raw_dir=root / "raw")


def published(path: Path) -> list[tuple[str, int, str]]:
    """(country code, year, value text) of every non-empty value of a tidy file, read with the csv module."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [(r["Country Code"], int(r["Year"]), r["Value"]) for r in csv.DictReader(fh) if r["Value"].strip()]


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """The per-indicator layout, copied where a source's path can point."""
    shutil.copytree(INDICATORS, tmp_path / "indicators", ignore=shutil.ignore_patterns("README.md"))
    return tmp_path


@pytest.mark.parametrize("glob", ["indicators/*/data.csv", "indicators/*/*"])
def test_files_named_data_csv_keep_their_own_indicator(folders: Path, glob: str) -> None:
    payloads = fetch(source(glob), folders)
    data = [p for p in payloads if p.role == "data"]
    metadata = [p for p in payloads if p.role == "metadata"]
    assert [p.name for p in data] == ["data.csv", "data.csv"]
    assert [p.name for p in metadata] == ["datapackage.json", "datapackage.json"]
    frame = parse_payloads(source(glob), payloads)
    for code in ("bm.gsr.ccis.cd", "bx.gsr.ccis.cd"):
        mine = frame[frame["indicator_code"] == code.upper()]
        expected = published(folders / "indicators" / code / "data.csv")
        assert list(zip(mine["country_code"], mine["year"], mine["value_text"], strict=True)) == expected
        assert set(mine["file_sha256"]) == {
            hashlib.sha256((folders / "indicators" / code / "data.csv").read_bytes()).hexdigest()
        }
    assert not frame.duplicated(["country_code", "indicator_code", "year"]).any()


def test_the_data_package_is_kept_in_the_raw_zone_and_hashed_like_any_payload(folders: Path) -> None:
    src = source("indicators/*/data.csv")
    payloads = fetch(src, folders)
    for payload in payloads:
        assert payload.raw_path.is_relative_to(folders / "raw" / src.id)
        assert hashlib.sha256(payload.raw_path.read_bytes()).hexdigest() == payload.sha256
    packages = {p.raw_path for p in payloads if p.role == "metadata"}
    assert {p.metadata for p in payloads if p.role == "data"} == packages
    # the package alone changes: the source's payloads change, so a load stages it again
    package = folders / "indicators" / "bm.gsr.ccis.cd" / "datapackage.json"
    package.write_text(package.read_text().replace("ICT service imports", "ICT services imported"))
    again = fetch(src, folders)
    assert {p.sha256 for p in again} != {p.sha256 for p in payloads}
    assert {p.sha256 for p in again if p.role == "data"} == {p.sha256 for p in payloads if p.role == "data"}
    names = parse_payloads(src, again).drop_duplicates("indicator_code").set_index("indicator_code")["indicator_name"]
    assert names["BM.GSR.CCIS.CD"] == "ICT services imported (BoP, current US$)"


def test_a_tidy_file_that_states_no_indicator_is_refused_whatever_its_name(tmp_path: Path) -> None:
    for name in ("bx.gsr.royl.cd.csv", "data.csv"):
        path = tmp_path / name
        path.write_bytes((FIXTURES / "bx.gsr.royl.cd.csv").read_bytes())
        with pytest.raises(SourceError) as caught:
            parse_wdi(path, source_id="wdi_layouts")
        error = caught.value
        assert (error.rule, error.row, error.source_id) == ("no_indicator", 1, "wdi_layouts")
        assert "states no indicator" in str(error) and "file name is not read" in str(error)


def test_an_indicator_column_states_the_indicator(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_text(
        "Country Name,Country Code,Indicator Name,Indicator Code,Year,Value\n"
        'China,CHN,"ICT service imports (BoP, current US$)",BM.GSR.CCIS.CD,2011,6550000000\n'
        "China,CHN,Goods imports,bm.gsr.mrch.cd,2011,\n"
        "China,CHN,Goods imports,bm.gsr.mrch.cd,2012,1.8E+12\n"
    )
    frame = parse_wdi(path, source_id="t").frame
    assert list(zip(frame["indicator_code"], frame["year"], frame["value_text"], strict=True)) == [
        ("BM.GSR.CCIS.CD", 2011, "6550000000"),
        ("BM.GSR.MRCH.CD", 2012, "1.8E+12"),
    ]
    # a package beside that states another indicator than the column: refused, not guessed
    (tmp_path / "datapackage.json").write_text(json.dumps({"worldbank": {"indicator": "bx.gsr.ccis.cd"},
                                                           "resources": [{"path": "data.csv"}]}))  # fmt: skip
    with pytest.raises(SourceError, match="differs from the 'BX.GSR.CCIS.CD' its data package states"):
        parse_wdi(path, source_id="t")


def test_a_folder_package_describes_only_the_files_it_lists(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv"):
        (tmp_path / name).write_bytes((FIXTURES / "bx.gsr.royl.cd.csv").read_bytes())
    package = {"resources": [{"path": "a.csv", "worldbank": {"indicator": "bx.gsr.royl.cd"}}]}
    (tmp_path / "datapackage.json").write_text(json.dumps(package))
    assert set(parse_wdi(tmp_path / "a.csv", source_id="t").frame["indicator_code"]) == {"BX.GSR.ROYL.CD"}
    with pytest.raises(SourceError, match="states no indicator"):
        parse_wdi(tmp_path / "b.csv", source_id="t")


def test_a_tidy_and_a_wide_file_in_one_source_are_each_staged_by_their_layout(tmp_path: Path) -> None:
    """The tidy file comes first and its package gives no name: its indicator_name column is empty in every row (Arrow
    would type it null from that batch, and the wide file's names could not be cast to it)."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a_tidy.csv").write_bytes((FIXTURES / "bx.gsr.royl.cd.csv").read_bytes())
    (folder / "a_tidy.datapackage.json").write_text(json.dumps({"worldbank": {"indicator": "bx.gsr.royl.cd"}}))
    (folder / "b_wide.csv").write_bytes((FIXTURES / "wide_2013.csv").read_bytes())
    src = source("mixed/*.csv")
    payloads = fetch(src, tmp_path)
    context = RunContext(source=src, country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)
    staged = stage_source(src, payloads, context, tmp_path / "lake", "run1")
    try:
        [part] = staged.files.values()
        table = pq.read_table(part)
        assert table.schema.field("indicator_name").type == table.schema.field("country_code").type  # text
        rows = table.to_pandas()
        tidy = rows[rows["file_name"] == "a_tidy.csv"]
        wide = rows[rows["file_name"] == "b_wide.csv"]
        assert tidy["indicator_name"].isna().all() and set(tidy["indicator_code"]) == {"BX.GSR.ROYL.CD"}
        assert wide["indicator_name"].notna().all()
        assert staged.rows_read == len(parse_payloads(src, payloads))
        assert staged.rows_valid + len(staged.quarantine.drop_duplicates(["file_name", "file_row"])) >= staged.rows_read
    finally:
        staged.discard()


@pytest.mark.skipif(not SHARED_TIDY.is_dir(), reason=f"shared WDI tidy files not found at {SHARED_TIDY}")
def test_the_publishers_tidy_files_in_their_own_folders_keep_their_indicators(tmp_path: Path) -> None:
    """The shared tidy files put back as the publisher lays them out: indicators/<code>/data.csv beside the
    datapackage.json the World Bank publishes (the shared copy of tx.val.tech.cd's; for the others, one stating the
    indicator of their upstream folder, as PROVENANCE.md records it)."""
    codes = sorted(p.stem for p in SHARED_TIDY.glob("*.csv"))
    for code in codes:
        folder = tmp_path / "indicators" / code
        folder.mkdir(parents=True)
        shutil.copy(SHARED_TIDY / f"{code}.csv", folder / "data.csv")
        own = SHARED_TIDY / f"{code}.datapackage.json"
        package = (
            own.read_text()
            if own.exists()
            else json.dumps({"worldbank": {"indicator": code}, "resources": [{"path": "data.csv"}]})
        )
        (folder / "datapackage.json").write_text(package)
    src = source("indicators/*/data.csv")
    frame = parse_payloads(src, fetch(src, tmp_path))
    assert sorted(frame["indicator_code"].unique()) == sorted(code.upper() for code in codes)
    for code in codes:
        mine = frame[frame["indicator_code"] == code.upper()]
        assert len(mine) == len(published(SHARED_TIDY / f"{code}.csv"))
    assert not frame.duplicated(["country_code", "indicator_code", "year"]).any()
