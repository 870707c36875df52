"""The bare-DuckDB pipeline the benchmark compares tradewh with (measurement (a) of ``benchmarks/run.py``).

What a careful analyst would write by hand for one Comtrade ``plus_api_csv`` file, with the same rules as
``schemas/comtrade.py``:

1. ``csv_to_parquet``: ``read_csv`` with explicit types (codes as text where they carry leading zeros, the
   value as text so that a value that is not a number is kept for the rules, not fatal) -> Parquet (zstd)
   via ``COPY``;
2. ``parquet_to_table``: the Parquet file -> a table in a DuckDB file, with each row's CSV line number;
   ``reference``: the code list (``codes``) and the HS/SITC commodity codes (``commodities``: sections,
   chapters; what ``query.py``'s composition query joins to) as tables;
3. ``rules``: every row rule in one SQL pass (known reporter and partner by a join to the code list, known
   flow and classification, value is a number, non-negative value/qty/weight, year in range, commodity code
   format, period matches year, partner2 not null) into a ``rejected`` table: line, rule, column, value;
4. ``uniqueness``: a GROUP BY on the Comtrade key; every row of a duplicated key is rejected too;
5. ``remove_rejected``: the rejected rows deleted from the table, which then holds the valid rows only.

Prints one JSON line: the seconds of each stage, rows read, rows rejected, rows kept.

Usage::

    .venv/bin/python benchmarks/bare_duckdb.py --csv FILE --workdir DIR
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CODES_CSV = PROJECT_ROOT / "seeds" / "reference" / "comtrade_codes.csv"
COMMODITIES_CSV = PROJECT_ROOT / "seeds" / "reference" / "commodity_codes.csv"

# the explicit types of the 47 getFinalData columns
TYPES: dict[str, str] = {
    "typeCode": "VARCHAR", "freqCode": "VARCHAR", "refPeriodId": "VARCHAR", "refYear": "INTEGER",
    "refMonth": "INTEGER", "period": "VARCHAR", "reporterCode": "INTEGER", "reporterISO": "VARCHAR",
    "reporterDesc": "VARCHAR", "flowCode": "VARCHAR", "flowDesc": "VARCHAR", "partnerCode": "INTEGER",
    "partnerISO": "VARCHAR", "partnerDesc": "VARCHAR", "partner2Code": "INTEGER", "partner2ISO": "VARCHAR",
    "partner2Desc": "VARCHAR", "classificationCode": "VARCHAR", "classificationSearchCode": "VARCHAR",
    "isOriginalClassification": "BOOLEAN", "cmdCode": "VARCHAR", "cmdDesc": "VARCHAR", "aggrLevel": "INTEGER",
    "isLeaf": "BOOLEAN", "customsCode": "VARCHAR", "customsDesc": "VARCHAR", "mosCode": "VARCHAR",
    "motCode": "VARCHAR", "motDesc": "VARCHAR", "qtyUnitCode": "INTEGER", "qtyUnitAbbr": "VARCHAR",
    "qty": "DOUBLE", "isQtyEstimated": "BOOLEAN", "altQtyUnitCode": "INTEGER", "altQtyUnitAbbr": "VARCHAR",
    "altQty": "DOUBLE", "isAltQtyEstimated": "BOOLEAN", "netWgt": "DOUBLE", "isNetWgtEstimated": "BOOLEAN",
    "grossWgt": "DOUBLE", "isGrossWgtEstimated": "BOOLEAN", "cifvalue": "VARCHAR", "fobvalue": "VARCHAR",
    "primaryValue": "VARCHAR", "legacyEstimationFlag": "VARCHAR", "isReported": "BOOLEAN",
    "isAggregate": "BOOLEAN",
}  # fmt: skip

# schemas/comtrade.py's rules, as SQL conditions that are TRUE when the row breaks the rule
NUMBER = r"[+-]?(\d{1,30}(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?"  # warehouse.parse.csvtext.NUMBER
CLASSIFICATIONS = ("H0", "H1", "H2", "H3", "H4", "H5", "H6", "HS", "S1", "S2", "S3", "S4", "ST", "BEC", "B4", "B5")
RULES: tuple[tuple[str, str, str], ...] = (
    # (rule, column blamed, condition)
    ("known_reporter", "reporterCode", "r.code is null"),
    ("known_partner", "partnerCode", "p.code is null"),
    ("known_flow", "flowCode", "coalesce(upper(trim(s.flowCode)) not in ('M', 'X', 'RX', 'RM'), true)"),
    ("value_is_number", "primaryValue", f"not regexp_full_match(coalesce(trim(s.primaryValue), ''), '{NUMBER}')"),
    ("non_negative", "primaryValue", "s.value < 0"),
    ("non_negative", "qty", "s.qty < 0"),
    ("non_negative", "netWgt", "s.netWgt < 0"),
    ("year_in_range", "refYear", "coalesce(s.refYear not between 1962 and 2100, true)"),
    ("commodity_code_format", "cmdCode", r"not regexp_full_match(coalesce(trim(s.cmdCode), ''), '\d{1,12}|TOTAL')"),
    (
        "known_classification",
        "classificationCode",
        f"coalesce(upper(trim(s.classificationCode)) not in {CLASSIFICATIONS}, true)",
    ),
    (
        "period_matches_year",
        "period",
        "not (coalesce(s.period, cast(s.refYear as varchar)) = cast(s.refYear as varchar) or "
        "(length(s.period) = 6 and left(s.period, 4) = cast(s.refYear as varchar) "
        "and right(s.period, 2) between '01' and '12'))",
    ),
    ("not_null", "partner2Code", "s.partner2Code is null"),
)
KEY = (
    "classificationCode", "refYear", "period", "reporterCode", "partnerCode", "partner2Code", "flowCode",
    "customsCode", "motCode", "cmdCode",
)  # fmt: skip


def _q(text: object) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def rules_sql() -> str:
    """One pass over the table: a row per (line, rule, column) broken."""
    failures = ",\n        ".join(
        f"case when {cond} then {{'rule': '{rule}', 'column_name': '{column}', "
        f"'value': coalesce(cast(s.{column} as varchar), '')}} end"
        for rule, column, cond in RULES
    )
    any_failure = " or ".join(f"({cond})" for _, _, cond in RULES)
    return f"""
    create table rejected as
    with failing as (
        select s.file_row, list_filter([
        {failures}
        ], lambda x: x is not null) as failures
        from comtrade as s
        left join codes as r on r.code = s.reporterCode
        left join codes as p on p.code = s.partnerCode
        where {any_failure}
    )
    select file_row, unnest(failures, recursive := true) from failing
    """


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--workdir", type=Path, required=True, help="where data.parquet and bare.duckdb go")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    parquet, db = args.workdir / "data.parquet", args.workdir / "bare.duckdb"
    for stale in (parquet, db, db.with_name(db.name + ".wal")):
        stale.unlink(missing_ok=True)
    stages: dict[str, float] = {}
    started = time.perf_counter()

    def stage(name: str, since: float) -> float:
        now = time.perf_counter()
        stages[name] = round(now - since, 4)
        return now

    con = duckdb.connect(str(db))
    t = time.perf_counter()
    columns = "{" + ", ".join(f"{_q(name)}: {_q(kind)}" for name, kind in TYPES.items()) + "}"
    con.execute(
        f"""copy (
            select *, try_cast(primaryValue as double) as value
            from read_csv({_q(args.csv)}, header = true, auto_detect = false, columns = {columns})
        ) to {_q(parquet)} (format parquet, compression zstd)"""
    )
    t = stage("csv_to_parquet", t)
    con.execute(
        f"create table comtrade as select * exclude (file_row_number), file_row_number + 2 as file_row "
        f"from read_parquet({_q(parquet)}, file_row_number = true)"
    )
    t = stage("parquet_to_table", t)
    con.execute(
        f"create table codes as select cast(code as integer) as code, iso3 from read_csv({_q(CODES_CSV)}, "
        "header = true, all_varchar = true) where coalesce(iso3, '') <> ''"
    )
    con.execute(
        f"create table commodities as select * from read_csv({_q(COMMODITIES_CSV)}, header = true, all_varchar = true)"
    )
    t = stage("reference", t)
    con.execute(rules_sql())
    t = stage("rules", t)
    key = ", ".join(KEY)
    con.execute(
        f"""insert into rejected
        select c.file_row, 'duplicate_key', '{key}', concat_ws(', ', {key})
        from comtrade as c
        semi join (select {key} from comtrade group by all having count(*) > 1) as d using ({key})"""
    )
    t = stage("uniqueness", t)
    con.execute("delete from comtrade where file_row in (select file_row from rejected)")
    t = stage("remove_rejected", t)
    rows_kept = con.execute("select count(*) from comtrade").fetchone()[0]
    rejected_rows = con.execute("select count(distinct file_row) from rejected").fetchone()[0]
    con.close()  # checkpoint
    stage("close", t)
    stages["total"] = round(time.perf_counter() - started, 4)
    print(
        json.dumps(
            {
                "stages": stages,
                "rows_read": rows_kept + rejected_rows,
                "rows_rejected": rejected_rows,
                "rows_kept": rows_kept,
                "db": str(db),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
