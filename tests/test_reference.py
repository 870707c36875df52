"""Tests of the country seeds (seeds/reference) and their loader, and of the script that builds them."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from warehouse.common.reference import (
    canonical_iso3,
    known_country_codes,
    load_countries,
    load_country_aliases,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEEDS = PROJECT_ROOT / "seeds" / "reference"
SCRIPT = PROJECT_ROOT / "scripts" / "build_reference.py"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SEED_FILES = ["countries.csv", "country_aliases.csv", "README.md"]

needs_shared = pytest.mark.skipif(
    not (SHARED / "worldbank").is_dir() or not (SHARED / "reference").is_dir(),
    reason=f"shared publishers' data not found at {SHARED} (CI provides it; local checkouts may not)",
)


@pytest.fixture(scope="module")
def countries() -> pd.DataFrame:
    return load_countries(SEEDS)


@pytest.fixture(scope="module")
def aliases() -> pd.DataFrame:
    return load_country_aliases(SEEDS)


def row(countries: pd.DataFrame, iso3: str) -> pd.Series:
    match = countries[countries["iso3"] == iso3]
    assert len(match) == 1, f"{iso3} should be exactly one row of countries.csv"
    return match.iloc[0]


# --- the committed seeds -------------------------------------------------------------------------------------


def test_columns_and_dtypes(countries: pd.DataFrame, aliases: pd.DataFrame) -> None:
    assert list(countries.columns) == [
        "iso3",
        "m49",
        "name",
        "region",
        "sub_region",
        "is_aggregate",
        "parent_iso3",
        "publisher_note",
    ]
    assert str(countries["m49"].dtype) == "Int64"
    assert countries["is_aggregate"].dtype == bool
    assert countries["iso3"].map(type).eq(str).all()
    assert list(aliases.columns) == ["alias", "iso3", "publisher", "note"]


def test_iso3_unique(countries: pd.DataFrame) -> None:
    assert countries["iso3"].is_unique
    assert (countries["iso3"] != "").all()


def test_china(countries: pd.DataFrame) -> None:
    chn = row(countries, "CHN")
    assert chn["m49"] == 156
    assert not chn["is_aggregate"]


def test_usa(countries: pd.DataFrame) -> None:
    # UN M49 (and ISO 3166-1 numeric) for the United States is 840. UN Comtrade reports the USA under its own
    # code 842 ('USA, Puerto Rico and US Virgin Islands'), which is not M49 and is not what this column holds.
    assert row(countries, "USA")["m49"] == 840


def test_world_is_an_aggregate_with_m49_1(countries: pd.DataFrame) -> None:
    wld = row(countries, "WLD")
    assert wld["is_aggregate"]
    assert wld["m49"] == 1


def test_sub_national_group(countries: pd.DataFrame) -> None:
    sjz = row(countries, "CN-SJZ")
    assert sjz["parent_iso3"] == "CHN"
    assert sjz["is_aggregate"]
    assert pd.isna(sjz["m49"])


def test_parents_are_rows(countries: pd.DataFrame) -> None:
    parents = set(countries["parent_iso3"]) - {""}
    assert parents <= set(countries["iso3"])


def test_every_alias_maps_to_a_country(countries: pd.DataFrame, aliases: pd.DataFrame) -> None:
    assert len(aliases) > 0
    assert set(aliases["iso3"]) <= set(countries["iso3"])
    assert not set(aliases["alias"]) & set(countries["iso3"]), "an alias must not also be a current code"
    assert aliases["alias"].is_unique


def test_known_codes() -> None:
    known = known_country_codes(SEEDS)
    assert {"CHN", "USA", "JPN", "KOR", "DEU", "HKG", "WLD"} <= known
    assert {"ADO", "ZAR", "AND", "COD"} <= known


def test_canonical_iso3(aliases: pd.DataFrame) -> None:
    assert canonical_iso3("ADO", aliases) == "AND"
    assert canonical_iso3("ZAR", aliases) == "COD"
    assert canonical_iso3("CHN", aliases) == "CHN"
    assert canonical_iso3("XYZ", aliases) == "XYZ"


def test_seed_files_are_lf_utf8() -> None:
    for name in SEED_FILES:
        data = (SEEDS / name).read_bytes()
        assert b"\r" not in data, name
        assert not data.startswith(b"\xef\xbb\xbf"), name
        data.decode("utf-8")


# --- against the publishers' files ---------------------------------------------------------------------------


@needs_shared
def test_rerun_reproduces_seeds(tmp_path: Path) -> None:
    out = tmp_path / "reference"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--shared", str(SHARED), "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for name in SEED_FILES:
        assert (out / name).read_bytes() == (SEEDS / name).read_bytes(), f"{name} differs from the committed seed"


def _country_codes(path: Path) -> set[str]:
    """Country Code values of a World Bank file, wide or tidy, with or without the metadata preamble."""
    lines = path.read_bytes().decode("utf-8-sig").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.lstrip('"').startswith("Country Name"))
    reader = csv.DictReader(io.StringIO("".join(lines[start:]), newline=""))
    return {r["Country Code"] for r in reader}


@needs_shared
@pytest.mark.parametrize(
    "pattern",
    [
        "worldbank/wdi-2013/*.csv",
        "worldbank/wdi-download/API_*.csv",
        "worldbank/wdi-tidy/*.csv",
    ],
)
def test_every_world_bank_code_is_known(pattern: str) -> None:
    files = sorted(SHARED.glob(pattern))
    assert files, f"no files match {pattern}"
    known = known_country_codes(SEEDS)
    unknown = {p.name: sorted(_country_codes(p) - known) for p in files}
    assert not {k: v for k, v in unknown.items() if v}


def test_commodity_codes_rebuild_byte_for_byte(tmp_path):
    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    if not shared.is_dir():
        pytest.skip(f"real publishers' files not found at {shared} (CI provides them)")
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [
            sys.executable,
            str(root / "scripts" / "build_commodity_reference.py"),
            "--shared",
            str(shared),
            "--out",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "commodity_codes.csv").read_bytes() == (
        root / "seeds" / "reference" / "commodity_codes.csv"
    ).read_bytes()
