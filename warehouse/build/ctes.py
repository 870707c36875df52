"""The CTEs of a view file's query, read from its text: where each lies, which it reads, and the query without
those nothing reads (what the build cuts a stored query into: ``warehouse.build.models.stored_statements``)."""

from __future__ import annotations

import re

# what a view file's code is not: comments, strings and quoted names (an unclosed one runs to the end)
_LITERAL = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)|'(?:[^']|'')*(?:'|\Z)|\"(?:[^\"]|\"\")*(?:\"|\Z)", re.S)
_CTE = re.compile(r"^([a-z_][a-z0-9_]*) as (?:not materialized |materialized )?\(", re.M)
_PARENS = re.compile(r"[()]")
_WORD = re.compile(r"\w+")


def blank_literals(sql: str) -> str:
    """The SQL with its comments, strings and quoted names turned into spaces, every other character where it
    was: what is left is code, to search for references and parentheses at the same positions as in ``sql``."""
    return _LITERAL.sub(lambda found: " " * len(found.group()), sql)


def cte_spans(sql: str) -> dict[str, tuple[int, int, int]]:
    """Each CTE of a query, written at the start of a line as ``<cte> as (`` or ``<cte> as [not] materialized (``:
    where its line starts, where its body's ``(`` is, and the position after its ``)``."""
    code = blank_literals(sql)
    spans = {}
    for found in _CTE.finditer(code):
        depth = 0
        for paren in _PARENS.finditer(code, found.end() - 1):
            depth += 1 if paren.group() == "(" else -1
            if depth == 0:
                spans[found.group(1)] = (found.start(), found.end() - 1, paren.end())
                break
    return spans


def cte_body(sql: str, cte: str) -> tuple[int, int] | None:
    """Where the body of ``cte`` lies in a query (``cte_spans``): from its opening parenthesis to the position
    after its closing one; None when there is no such CTE."""
    span = cte_spans(sql).get(cte)
    return None if span is None else (span[1], span[2])


def cte_reads(sql: str) -> dict[str, set[str]]:
    """Each CTE of a query -> the CTEs its body names (itself left out)."""
    spans, code = cte_spans(sql), blank_literals(sql)
    # a name is read where it is a whole word (``\bname\b``): one of the body's runs of word characters
    return {name: set(_WORD.findall(code, body, end)) & spans.keys() - {name} for name, (_, body, end) in spans.items()}


def reads_of(sql: str, cte: str) -> set[str]:
    """The CTEs ``cte`` reads, directly or through others (``cte`` itself not included)."""
    direct, found, todo = cte_reads(sql), set(), [cte]
    while todo:
        for other in direct.get(todo.pop(), set()) - found:
            found.add(other)
            todo.append(other)
    return found


def prune_ctes(sql: str) -> str:
    """The query without the CTEs nothing reads any more (those a stored CTE's rows were made from), so the view
    a BI tool shows is the query it runs: those the final select reads, and those they read."""
    spans, code = cte_spans(sql), blank_literals(sql)
    if not spans:
        return sql
    reads = cte_reads(sql)
    tail = code[max(end for *_, end in spans.values()) :]
    todo = [name for name in spans if re.search(rf"\b{name}\b", tail)]
    wanted: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(reads[name])
    for name, (start, _, end) in sorted(spans.items(), key=lambda item: -item[1][0]):
        if name not in wanted:
            comma = re.match(r"\s*,\s*", sql[end:])  # the separator before the next CTE goes with it
            sql = sql[:start] + sql[end + (comma.end() if comma else 0) :]
    # where the last CTE went, the comma after the one before it goes too: that one now ends the list
    last = max((end for *_, end in cte_spans(sql).values()), default=None)
    comma = None if last is None else re.match(r"\s*,\s*", sql[last:])
    return sql[:last] + "\n\n" + sql[last + comma.end() :] if comma else sql
