"""Names and text the build writes into its SQL: one quoting for the raw tables, the parts, the checks, the plan
variables, the incremental night and the audit tables (a module of its own: ``warehouse.build.checks`` imports
pandera, which a build's other modules do not load)."""

from __future__ import annotations


def ident(name: str) -> str:
    """A SQL identifier in double quotes."""
    return '"' + name.replace('"', '""') + '"'


def text_literal(value: object) -> str:
    """A SQL text literal of ``value`` as text (``null`` for None)."""
    return "null" if value is None else "'" + str(value).replace("'", "''") + "'"
