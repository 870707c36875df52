"""The report's SQL: one query per file under ``queries/``, run by name with named parameters (``$reporter``).

Each file starts with a comment saying what it returns; ``run(con, "technology_balance", reporter="CHN")``
returns its rows as dicts. A file's parameters are read from the query itself, so a call passes the ones it
has and a query is never given a value it does not use (DuckDB refuses those).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import duckdb

PARAMETER = re.compile(r"\$([a-z_][a-z0-9_]*)")
COMMENT = re.compile(r"--[^\n]*")


@cache
def sql(name: str) -> str:
    """The text of ``queries/<name>.sql`` (shipped as package data)."""
    return resources.files(__package__).joinpath("queries", f"{name}.sql").read_text(encoding="utf-8")


def names() -> list[str]:
    """The name of every query file."""
    folder = resources.files(__package__).joinpath("queries")
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))


def run(con: duckdb.DuckDBPyConnection, name: str, **params: object) -> list[dict[str, object]]:
    """The rows of query ``name`` as dicts, with the named parameters it uses taken from ``params``."""
    text = sql(name)
    wanted = set(PARAMETER.findall(COMMENT.sub("", text)))
    missing = wanted - set(params)
    if missing:
        raise TypeError(f"query {name} needs {sorted(missing)}")
    cursor = con.execute(text, {k: v for k, v in params.items() if k in wanted})
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]


def one(con: duckdb.DuckDBPyConnection, name: str, **params: object) -> object:
    """The first column of the first row of query ``name``; None when it returns no row."""
    rows = run(con, name, **params)
    return next(iter(rows[0].values())) if rows else None


def country_name(con: duckdb.DuckDBPyConnection, iso3: str) -> str:
    """The English name of an economy, else its code."""
    return str(one(con, "country_name", iso3=iso3) or iso3)


@dataclass(frozen=True)
class Focus:
    """What the page is about: a reporter, a partner for its goods trade (if any), and the report's year."""

    reporter: str
    reporter_name: str
    partner: str | None
    partner_name: str | None
    year: int | None


def choose_focus(con: duckdb.DuckDBPyConnection, reporter: str | None = None, partner: str | None = None) -> Focus:
    """The reporter and partner asked for, or the defaults the data suggest (``focus_reporter``, ``focus_partner``).

    Raises:
        LookupError: the warehouse holds no figure of the reporter asked for (or none at all).
    """
    if reporter is None:
        reporter = one(con, "focus_reporter")
        if reporter is None:
            raise LookupError("the warehouse holds no trade figures yet")
    reporter = str(reporter).upper()
    known = {str(r["reporter"]) for r in run(con, "reporters")}
    if reporter not in known:
        listed = ", ".join(sorted(known)[:20]) + (", ..." if len(known) > 20 else "")
        raise LookupError(f"no figures of reporter {reporter} in the warehouse; reporters held: {listed or 'none'}")
    partner = str(partner).upper() if partner is not None else one(con, "focus_partner", reporter=reporter)
    year = one(con, "focus_year", reporter=reporter, partner=partner)
    return Focus(
        reporter,
        country_name(con, reporter),
        None if partner is None else str(partner),
        None if partner is None else country_name(con, str(partner)),
        None if year is None else int(year),
    )
