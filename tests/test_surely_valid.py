"""``schemas.rules.surely_valid``: a batch it calls valid is one pandera's ``validate`` passes, so skipping pandera
there changes no quarantine; a clean batch does take the shortcut; any doubt leaves it to pandera."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.errors import SchemaErrors

from schemas.rules import RunContext, split_frame, surely_valid
from tests.conftest import FIXTURES, PROJECT_ROOT
from warehouse.common.reference import known_country_codes
from warehouse.extract.catalogue import MeasureSpec, Source
from warehouse.parse.comtrade import parse_comtrade
from warehouse.stage.batches import schema_for
from warehouse.stage.quarantine import _without_unique

REFERENCE = PROJECT_ROOT / "seeds" / "reference"


def _source() -> Source:
    return Source(
        id="comtrade_test",
        dataset="comtrade",
        publisher="UN Comtrade",
        title="test",
        licence="test",
        attribution="test",
        location_kind="seed",
        location="comtrade_test/*.csv",
        vintage="2025-01-01",
        measures=(MeasureSpec("customs_value", "USD", "USD", (1.0,)),),
    )


def _schema() -> pa.DataFrameSchema:
    context = RunContext(source=_source(), country_codes=known_country_codes(REFERENCE), reference_dir=REFERENCE)
    schema, _ = schema_for("comtrade", context)
    return _without_unique(schema)  # as a batch is validated (the key is checked across batches)


def _frame(path: Path) -> pd.DataFrame:
    frame = parse_comtrade(path, source_id="comtrade_test").frame
    return frame.assign(
        source_id="comtrade_test", vintage="2025-01-01", file_name=path.name, file_sha256="0" * 64
    ).reset_index(drop=True)


def _pandera_passes(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> bool:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors:
        return False
    return True


CLEAN = FIXTURES / "comtrade" / "mirror.csv"


def test_a_clean_batch_takes_the_shortcut() -> None:
    frame, schema = _frame(CLEAN), _schema()
    assert _pandera_passes(frame, schema)
    assert surely_valid(frame, schema)


def _parsed_fixtures() -> list[Path]:
    """The Comtrade fixtures the parser reads (the others are malformed files it refuses: nothing to validate)."""
    parsed = []
    for path in sorted((FIXTURES / "comtrade").glob("*.csv")):
        try:
            _frame(path)
        except Exception:  # noqa: BLE001, S112
            continue
        parsed.append(path)
    return parsed


@pytest.mark.parametrize("path", _parsed_fixtures(), ids=lambda p: p.name)
def test_valid_only_where_pandera_passes(path: Path) -> None:
    """Every fixture the parser reads, bad rows and all: called valid only where pandera passes."""
    frame, schema = _frame(path), _schema()
    assert surely_valid(frame, schema) == _pandera_passes(frame, schema)


# one broken cell each, of every kind pandera reports: a failed check, a null where none may be, a value of
# another type (coercion), a missing column
BREAKS = [
    ("value", -1.0),
    ("qty", -0.5),
    ("value_text", "n/a"),
    ("year", 1900),
    ("commodity_code", "85A"),
    ("vintage", "2025"),
    ("partner2_code", pd.NA),
    ("file_row", 0),
    ("layout", None),
    ("flow_code", "x"),
]


@pytest.mark.parametrize(("column", "value"), BREAKS, ids=[c for c, _ in BREAKS])
def test_a_broken_cell_goes_to_pandera(column: str, value: object) -> None:
    frame, schema = _frame(CLEAN), _schema()
    frame[column] = frame[column].astype(object)
    frame.loc[1, column] = value
    assert not surely_valid(frame, schema)
    assert not _pandera_passes(frame, schema)


def test_a_missing_column_goes_to_pandera() -> None:
    frame, schema = _frame(CLEAN).drop(columns="flag"), _schema()
    assert not surely_valid(frame, schema)
    assert not _pandera_passes(frame, schema)


def test_the_quarantine_is_pandera_s() -> None:
    """A batch with a bad row is validated by pandera as before: the same rows, rules and values."""
    frame, schema = _frame(FIXTURES / "comtrade" / "bad_rows.csv"), _schema()
    valid, quarantine, _ = split_frame(frame, schema)
    try:
        schema.validate(frame, lazy=True)
        raise AssertionError("bad_rows.csv passed pandera")
    except SchemaErrors as exc:
        expected = exc.failure_cases
    assert set(quarantine["file_row"]) == set(frame.loc[expected["index"].dropna().astype(int), "file_row"])
    assert len(valid) == len(frame) - quarantine["file_row"].nunique()
