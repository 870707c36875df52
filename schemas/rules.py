"""Run a pandera schema lazily and turn every failure into a quarantine row.

The schemas in this package hold the rules that need no outside knowledge; rules that depend on the run
(the country dimension, the catalogue's measures and units) are added here as named pandera checks, so a
quarantine row always names one rule a reader can look up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from schemas.context import RunContext  # noqa: F401 (the rules' argument; re-exported)
from warehouse.extract.catalogue import Source
from warehouse.parse.csvtext import NUMBER  # noqa: F401 (what a parser reads as a number; re-exported)

QUARANTINE_COLUMNS = ["source_id", "file_name", "file_sha256", "file_row", "column_name", "rule", "value"]

# pandera's own names for its built-in checks, mapped to the rule names the quarantine shows
_BUILTIN_RULES = {
    "multiple_fields_uniqueness": "duplicate_key",
    "field_uniqueness": "duplicate_key",
    "not_nullable": "not_null",
    "column_in_dataframe": "missing_column",
    "dtype": "wrong_type",
    "coerce_dtype": "wrong_type",
}


@dataclass(frozen=True)
class FrameRule:
    """A row rule that reads several columns; ``column`` is the one the quarantine blames.

    ``across_rows`` marks a rule that compares a row with other rows (a row alone cannot break it): a load in
    batches runs it over all rows at once instead (``warehouse.stage.staging.cross_batch_quarantine``).
    """

    name: str
    column: str
    test: Callable[[pd.DataFrame], pd.Series]
    across_rows: bool = False


QUARANTINE_VALUE_MAX_CHARS = 1000


def _text(value: object) -> str:
    """An offending value as text for the quarantine ('' for a missing one; a huge one cut, its length said)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    text = str(value)
    if len(text) > QUARANTINE_VALUE_MAX_CHARS:
        return f"{text[:QUARANTINE_VALUE_MAX_CHARS]}... ({len(text)} characters)"
    return text


def _failure_values(frame: pd.DataFrame, cases: pd.DataFrame) -> list[str]:
    """Each failure's value as text, read from the row itself (pandera's failure_case column is upcast when it
    mixes types: an int year would print as '1950.0' in one batch and '1950' in another)."""
    return [
        _text(frame.at[int(index), column]) if column in frame.columns else _text(value)
        for index, column, value in zip(cases["index"], cases["column"].astype(str), cases["failure_case"], strict=True)
    ]


def _rule_name(check: object) -> str:
    text = str(check)
    for key, name in _BUILTIN_RULES.items():
        if text.startswith(key):
            return name
    return text


def validate_frame(
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    frame_rules: Iterable[FrameRule] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Validate every row, lazily, and split the frame: (valid rows, quarantine rows); see ``split_frame``."""
    valid, quarantine, _ = split_frame(frame, schema, frame_rules)
    return valid, quarantine


def split_frame(
    frame: pd.DataFrame,
    schema: pa.DataFrameSchema,
    frame_rules: Iterable[FrameRule] = (),
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Validate every row, lazily, and split the frame.

    Args:
        frame: parsed rows with ``file_name``, ``file_sha256`` and ``file_row`` columns and a unique index.
        schema: the pandera schema (column rules, uniqueness).
        frame_rules: rules over several columns, each blaming one column.

    Returns:
        (valid rows, quarantine rows, rejected rows): a row breaking any rule is not in the first frame, appears
        in the second once per rule it broke, with the column, the rule and the offending value as text, and
        once in the third, as it was.
    """
    frame = frame.reset_index(drop=True)
    failures: list[pd.DataFrame] = []
    try:
        if not surely_valid(frame, schema):  # a clean batch skips pandera's machinery; any doubt runs it
            schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        cases = cases[cases["index"].notna()]
        failures.append(
            pd.DataFrame(
                {
                    "index": cases["index"].astype("int64"),
                    "column_name": cases["column"].astype(str),
                    "rule": cases["check"].map(_rule_name),
                    "value": _failure_values(frame, cases),
                }
            )
        )
    for rule in frame_rules:
        ok = rule.test(frame).fillna(False).astype(bool)
        bad = frame.index[~ok]
        if len(bad):
            failures.append(
                pd.DataFrame(
                    {
                        "index": bad.astype("int64"),
                        "column_name": rule.column,
                        "rule": rule.name,
                        "value": frame.loc[bad, rule.column].map(_text).to_numpy(),
                    }
                )
            )
    if not failures:
        return frame, pd.DataFrame(columns=QUARANTINE_COLUMNS), frame.iloc[:0]
    cases = _one_row_per_rule(pd.concat(failures, ignore_index=True).drop_duplicates(["index", "column_name", "rule"]))
    where = frame.loc[cases["index"], ["source_id", "file_name", "file_sha256", "file_row"]].reset_index(drop=True)
    quarantine = pd.concat([where, cases.drop(columns="index").reset_index(drop=True)], axis=1)
    quarantine = quarantine.sort_values(["file_name", "file_row", "rule"]).reset_index(drop=True)
    rejected = cases["index"].unique()
    valid = frame.drop(index=rejected)
    return valid.reset_index(drop=True), quarantine[QUARANTINE_COLUMNS], frame.loc[sorted(rejected)]


# pandera's built-in checks whose answer for a value depends on that value alone: on a text column, ``surely_valid``
# runs them on the column's distinct values (a batch's vintage is one value in 200,000 rows)
PER_VALUE_CHECKS = frozenset(
    {"str_matches", "str_contains", "str_startswith", "str_endswith", "str_length", "isin", "notin"}
)


def per_distinct(frame: pd.DataFrame, test: Callable[[pd.DataFrame], pd.Series]) -> pd.Series:
    """``test`` run once on each distinct row of ``frame`` and its answers spread back to every row.

    For a test whose answer for a row depends on that row's values alone (a pattern, a year against a period), on
    columns of few distinct values in a batch (its vintage, its periods, its few thousand commodity codes): a
    regular expression over 200,000 values costs 7-9 ms, finding their distinct values 3-4 ms. A null is one
    value like any other (the test sees it once). Not for a column of mostly distinct values (a printed amount).

    Returns:
        The answers, one per row of ``frame``, with its index (and the dtype ``test`` gave).
    """
    if frame.empty:
        return test(frame).set_axis(frame.index)
    codes: np.ndarray | None = None
    for column in frame.columns:
        found = pd.factorize(frame[column], use_na_sentinel=False)[0]
        codes = found if codes is None else pd.factorize(codes * (int(found.max()) + 1) + found)[0]
    assert codes is not None
    # the first row of each distinct combination: factorize numbers them 0, 1, 2, ... in order of appearance, so a
    # row is the first of its combination where the running maximum of the numbers grows
    highest = np.maximum.accumulate(codes)
    first = np.flatnonzero(np.r_[True, highest[1:] > highest[:-1]])
    answers = test(frame.iloc[first].reset_index(drop=True))
    return answers.take(codes).set_axis(frame.index)


def surely_valid(frame: pd.DataFrame, schema: pa.DataFrameSchema) -> bool:
    """Whether ``schema.validate(frame, lazy=True)`` would pass, told cheaply; False means "run pandera to know".

    True only when each of pandera's steps is certain to pass: every column the schema requires is there; each
    column already has its dtype (pandera's own dtype test), so coercing it changes nothing and cannot fail; a
    column that may not be null holds none; and each of the schema's checks passes when called the way
    pandera's backend calls it (its ``ignore_na`` included; a check in ``PER_VALUE_CHECKS`` on a text column's
    distinct values: each value passes or fails alone, so all rows pass when all distinct values do). Anything
    this does not model (an index, a regex column, uniqueness, ``strict``, a check by group, other options)
    answers False, and pandera decides. The quarantine is therefore always pandera's: this only skips its work on
    a batch with nothing to report (measured on 200,000 UN Comtrade rows: 0.44 s for ``validate``, most of it
    pandera's bookkeeping around the same checks).
    """
    from pandera.engines.pandas_engine import Engine

    if (
        schema.index is not None
        or schema.unique
        or schema.unique_column_names
        or schema.ordered
        or schema.strict
        or schema.add_missing_columns
        or schema.drop_invalid_rows
        or not isinstance(frame.index, pd.RangeIndex)
    ):
        return False
    for name, column in schema.columns.items():
        if column.regex or column.unique or column.drop_invalid_rows:
            return False
        if name not in frame.columns:
            if column.required:
                return False
            continue
        series = frame[name]
        if not isinstance(series, pd.Series):  # a duplicated column name
            return False
        if column.dtype is not None:
            same = column.dtype.check(Engine.dtype(series.dtype), series)
            if isinstance(same, bool | np.bool_):
                if not same:
                    return False
            # element by element (text: pandas' ``str`` against pandera's ``string[pyarrow]``): every value
            # passes, and no null whose marker the coercion would change (NaN -> NA) reaches a check
            elif series.hasnans or not bool(np.all(same)):
                return False
        if not column.nullable and series.isna().any():
            return False
        distinct = None  # the column's distinct values, found once for the checks that look at values alone
        for check in column.checks:
            if check.groupby is not None or check.groups is not None:
                return False
            values = series
            if check.name in PER_VALUE_CHECKS and not pd.api.types.is_numeric_dtype(series.dtype):
                distinct = series.drop_duplicates() if distinct is None else distinct
                values = distinct
            if not check(values).check_passed:
                return False
    for check in schema.checks:
        if check.groupby is not None or check.groups is not None or not check(frame).check_passed:
            return False
    return True


def _one_row_per_rule(cases: pd.DataFrame) -> pd.DataFrame:
    """A multi-column rule (a duplicated key) fails once per column: report it once, naming every column."""
    grouped = cases.groupby(["index", "rule"], sort=False, as_index=False).agg(
        column_name=("column_name", ", ".join), value=("value", ", ".join)
    )
    return grouped[["index", "column_name", "rule", "value"]]


def known_country(codes: frozenset[str], *, optional: bool = False) -> pa.Check:
    """The code is in the country dimension (or its publisher aliases)."""
    allowed = set(codes) | ({""} if optional else set())
    return pa.Check(lambda s: s.isin(allowed), name="known_country")


def catalogue_unit(source: Source, measure: str, unit: str, scale: str | None = None) -> FrameRule:
    """The row's measure, unit and scale are among those the catalogue declares for the source."""

    def test(df: pd.DataFrame) -> pd.Series:
        triples = pd.DataFrame(
            {"m": df[measure], "u": df[unit], "s": df[scale].astype(float) if scale else 1.0}, index=df.index
        )
        # a batch holds few distinct (measure, unit, scale): ask the catalogue once for each, then join
        distinct = triples.drop_duplicates()
        distinct = distinct.assign(ok=[source.allows(m, u, s) for m, u, s in distinct.itertuples(index=False)])
        joined = triples.merge(distinct, on=["m", "u", "s"], how="left")["ok"]
        return pd.Series(joined.to_numpy(dtype=bool), index=df.index)

    return FrameRule("unit_matches_catalogue", unit, test)


def with_column_checks(schema: pa.DataFrameSchema, checks: dict[str, list[pa.Check]]) -> pa.DataFrameSchema:
    """A copy of the schema with more checks on some columns (keeping those it had)."""
    return schema.update_columns({c: {"checks": [*schema.columns[c].checks, *extra]} for c, extra in checks.items()})
