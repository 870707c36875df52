"""Partial losses: a reporter, partner, indicator or year of a file whose every row was rejected.

The reject threshold judges a source by the share of its rows rejected; a whole economy can be a small share (a
reporter code missing from the code list: 1.4 % of a Comtrade file) and the source loads without it. While a
source is staged, ``Tally`` counts each batch's rows per value of those dimensions, read and valid; a value read
and never valid is a ``Loss``, which the run reports as a warning whatever the threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from warehouse.lake.audit import Loss
from warehouse.stage.batches import _sql_text

# each dataset's columns that a sum across the marts runs over: dimension -> the dataset's column
DIMENSIONS: dict[str, dict[str, str]] = {
    "comtrade": {"reporter": "reporter_code", "partner": "partner_code", "year": "year"},
    "wdi": {"reporter": "country_code", "indicator": "indicator_code", "year": "year"},
    "sdmx_csv": {"reporter": "ref_area", "indicator": "indicator", "year": "year"},
    "oecd_msti": {"reporter": "country_name", "indicator": "msti_var", "year": "year"},
    "press_release": {"reporter": "reporter", "partner": "partner"},
}
MISSING = "(missing)"  # a row whose value is empty: it counts as a value of its own


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return MISSING
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _counts(column: pd.Series) -> Counter[str]:
    """Rows per value of a column: counted on the column as it is (fast), the few distinct values turned to text."""
    counts: Counter[str] = Counter()
    for value, n in column.value_counts(dropna=False).items():
        counts[_text(value)] += int(n)
    return counts


class Tally:
    """Rows read and rows valid per file and per value of the dataset's dimensions (``DIMENSIONS``)."""

    def __init__(self, dataset: str) -> None:
        self.columns = DIMENSIONS.get(dataset, {})
        self.read: dict[tuple[str, str], Counter[str]] = {}
        self.valid: dict[tuple[str, str], Counter[str]] = {}
        self.rows_read: Counter[str] = Counter()
        self.rows_valid: Counter[str] = Counter()

    def add(self, file_name: str, frame: pd.DataFrame, valid: pd.DataFrame) -> None:
        """Count one batch: all its rows, and those that passed the row rules."""
        self.rows_read[file_name] += len(frame)
        self.rows_valid[file_name] += len(valid)
        for dimension, column in self.columns.items():
            if column not in frame.columns:
                continue
            self.read.setdefault((file_name, dimension), Counter()).update(_counts(frame[column]))
            if len(valid):
                self.valid.setdefault((file_name, dimension), Counter()).update(_counts(valid[column]))

    def recount_valid(self, files: Iterable[Path]) -> None:
        """Count the valid rows again from the staged Parquet files (the cross-batch rules removed some)."""
        import duckdb

        paths = [f"'{_sql_text(p)}'" for p in files]
        self.valid.clear()
        self.rows_valid.clear()
        if not paths:
            return
        scan = f"read_parquet([{', '.join(paths)}], union_by_name = true)"
        with duckdb.connect() as con:
            for name, n in con.execute(f"select file_name, count(*) from {scan} group by all").fetchall():
                self.rows_valid[name] += int(n)
            for dimension, column in self.columns.items():
                query = f'select file_name, "{column}", count(*) from {scan} group by all'
                try:
                    rows = con.execute(query).fetchall()
                except duckdb.BinderException:  # a layout without that column
                    continue
                for name, value, n in rows:
                    self.valid.setdefault((name, dimension), Counter())[_text(value)] += int(n)

    def losses(self, quarantine: pd.DataFrame | None = None) -> list[Loss]:
        """Every value read in a file and never valid there; one ``file`` loss instead when no row of the file was.

        Args:
            quarantine: the source's quarantine rows (``QUARANTINE_COLUMNS``): the rules that blamed the value.
        """
        blamed = _blamed_rules(quarantine)
        found = []
        for name, read in sorted(self.rows_read.items()):
            if read and not self.rows_valid.get(name):
                found.append(Loss(name, "file", "", "", read, ", ".join(blamed.get(("", ""), []))))
        whole = {loss.file_name for loss in found}
        for (name, dimension), counts in sorted(self.read.items()):
            if name in whole:
                continue
            valid = self.valid.get((name, dimension), Counter())
            column = self.columns[dimension]
            for value, n in sorted(counts.items()):
                if not valid.get(value):
                    rules = ", ".join(blamed.get((column, "" if value == MISSING else value), []))
                    found.append(Loss(name, dimension, column, value, n, rules))
        return found


def _blamed_rules(quarantine: pd.DataFrame | None) -> dict[tuple[str, str], list[str]]:
    """(column, value) -> the rules that blamed it, from the quarantine; ('', '') -> every rule of it."""
    if quarantine is None or not len(quarantine):
        return {}
    pairs = quarantine[["column_name", "value", "rule"]].drop_duplicates()
    blamed: dict[tuple[str, str], list[str]] = {}
    for column, value, rule in pairs.itertuples(index=False):
        for key in ((str(column), str(value)), ("", "")):
            if rule not in blamed.setdefault(key, []):
                blamed[key].append(rule)
    return {key: sorted(rules) for key, rules in blamed.items()}
