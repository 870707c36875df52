"""``tradewh sql``: one query against the published warehouse, printed for a person or streamed for a program.

- The query comes from the command line, from a file (``--file PATH``) or from standard input (``tradewh sql -``,
  or no query at all while standard input is not a terminal).
- The table format prints the first ``--limit`` rows (100 unless ``--all``) and says how many were left out.
  The rest are counted, not kept: they are read from DuckDB's streaming result in pandas chunks of 50 vectors
  (10M rows of 4 columns: 2.8 s, under 300 MB; fetching them as tuples took 34 s).
- csv and json stream every row in chunks: the default limit is the table's only; an explicit ``--limit N``
  caps every format (and the note of rows left out then goes to standard error, away from the data).
- The table fits ``--width`` columns, by default the terminal's when standard output is one (or ``COLUMNS`` is
  set): text columns are cut with an ellipsis, never the first column nor numbers. Piped, it is never cut.
- ``--timeout SECONDS`` stops a query that runs longer (DuckDB has no statement timeout: a timer thread calls
  ``con.interrupt()``).

A reader that goes away (``tradewh sql ... | head``) raises BrokenPipeError, which ``warehouse.serve.cli.main`` turns
into a quiet exit.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

import duckdb

DEFAULT_LIMIT = 100
CHUNK_ROWS = 10_000  # rows per fetch when streaming csv / json
_COUNT_VECTORS = 50  # DuckDB vectors (2,048 rows) per chunk when counting the rows left out


class SqlInputError(ValueError):
    """No query, or more than one place to read it from."""


def read_query(query: str | None, file: Path | None, stdin: IO[str]) -> str:
    """The SQL to run: the argument, the file's text, or standard input (``-``, or no argument on a pipe)."""
    if query is not None and file is not None:
        raise SqlInputError("give the query either as an argument or with --file, not both")
    if file is not None:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except OSError as exc:
            raise SqlInputError(f"cannot read {file}: {exc.strerror or exc}") from None
    elif query == "-" or (query is None and not stdin.isatty()):
        text = stdin.read()
    elif query is None:
        raise SqlInputError(
            'no query: tradewh sql "select ...", --file query.sql, or pipe it in (tradewh sql - < q.sql)'
        )
    else:
        text = query
    if not text.strip():
        raise SqlInputError("the query is empty")
    return text


def table_width(requested: int | None, stdout: IO[str]) -> int | None:
    """The width to fit the table to: ``--width`` (0: never cut), else the terminal's when there is one."""
    if requested is not None:
        return requested or None
    try:
        is_terminal = stdout.isatty()
    except (AttributeError, ValueError):
        is_terminal = False
    if is_terminal or os.environ.get("COLUMNS", "").strip().isdigit():
        return shutil.get_terminal_size().columns
    return None


def count_rest(cursor: duckdb.DuckDBPyConnection) -> int:
    """The rows of a result not fetched yet, counted in pandas chunks and dropped (memory stays flat)."""
    rest = 0
    while True:
        chunk = cursor.fetch_df_chunk(_COUNT_VECTORS)
        if len(chunk) == 0:
            return rest
        rest += len(chunk)


def _plural(n: int) -> str:
    return f"{n:,} row{'s' if n != 1 else ''}"


def left_out_note(shown: int, rest: int) -> str:
    return f"({_plural(shown + rest)}, first {shown:,} shown: {rest:,} left out; --all or --limit N for more)"


def fit_columns(
    columns: Sequence[str], rows: Sequence[Sequence[object]], width: int | None, format_table: Callable[..., str]
) -> tuple[str, int]:
    """The table cut to ``width`` (text columns narrowed by ``format_table``) and, when even that is too wide, with
    only as many leading columns as fit (at least one); and how many columns it shows."""

    def render(k: int) -> str:
        return format_table(columns[:k], [r[:k] for r in rows], width=width)

    def fits(text: str) -> bool:
        return max(len(line) for line in text.splitlines()[:-1]) <= width

    text = render(len(columns))
    if width is None or len(columns) <= 1 or fits(text):
        return text, len(columns)
    low, high = 1, len(columns) - 1  # the most leading columns that fit, by bisection
    while low < high:
        middle = (low + high + 1) // 2
        if fits(render(middle)):
            low = middle
        else:
            high = middle - 1
    return render(low), low


def _chunks(cursor: duckdb.DuckDBPyConnection, limit: int | None):
    """The result's rows, CHUNK_ROWS at a time, at most ``limit`` of them."""
    left = limit
    while left is None or left > 0:
        rows = cursor.fetchmany(CHUNK_ROWS if left is None else min(CHUNK_ROWS, left))
        if not rows:
            return
        if left is not None:
            left -= len(rows)
        yield rows


def write_csv(cursor, columns: Sequence[str], out: IO[str], limit: int | None) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    written = 0
    for rows in _chunks(cursor, limit):
        writer.writerows(rows)
        written += len(rows)
    return written


def write_json(cursor, columns: Sequence[str], out: IO[str], limit: int | None) -> int:
    """A JSON array of objects, one per row, laid out as ``json.dumps(rows, indent=2)`` lays it out."""
    written = 0
    for rows in _chunks(cursor, limit):
        for row in rows:
            item = json.dumps(dict(zip(columns, row, strict=True)), default=str, indent=2)
            out.write(("[\n" if written == 0 else ",\n") + "\n".join("  " + line for line in item.splitlines()))
            written += 1
    out.write("\n]\n" if written else "[]\n")
    return written


def write_table(
    cursor,
    columns: Sequence[str],
    out: IO[str],
    limit: int | None,
    width: int | None,
    format_table: Callable[..., str],
) -> None:
    rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
    text, shown = fit_columns(columns, rows, width, format_table)
    rest = 0 if limit is None or len(rows) < limit else count_rest(cursor)
    lines = text.split("\n")
    if rest:
        lines[-1] = left_out_note(len(rows), rest)
    if shown < len(columns):
        hidden = columns[shown:]
        note = (
            f"({len(hidden)} more column{'s' if len(hidden) != 1 else ''}, --width 0 shows them: {', '.join(hidden)})"
        )
        lines.append(note if len(note) <= width else note[: max(width, 40) - 2] + "…)")
    # in blocks of lines: one write of a large table into a pipe its reader closed keeps only what the pipe took,
    # without an error, so the rest of the text would be lost in silence; the next write raises BrokenPipeError
    for start in range(0, len(lines), 1000):
        out.write("\n".join(lines[start : start + 1000]) + "\n")


class _Deadline:
    """Interrupts the connection's query after ``seconds`` (none when ``seconds`` is falsy)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float | None) -> None:
        self.fired = False
        self._con = con
        self._timer = threading.Timer(seconds, self._fire) if seconds else None
        if self._timer is not None:
            self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        self._con.interrupt()

    def __enter__(self) -> _Deadline:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._timer is not None:
            self._timer.cancel()


def run_sql(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    fmt: str,
    limit: int | None,
    width: int | None,
    timeout: float | None,
    format_table: Callable[..., str],
    out: IO[str] = sys.stdout,
    err: IO[str] = sys.stderr,
) -> int:
    """Run ``query`` and print its result; the exit status (0, or 1 with the error on ``err``)."""
    deadline = _Deadline(con, timeout)
    try:
        with deadline:
            cursor = con.execute(query)
            if cursor is None or not cursor.description:
                out.write("(no result)\n")
                return 0
            columns = [d[0] for d in cursor.description]
            if fmt == "table":
                write_table(cursor, columns, out, limit, width, format_table)
                return 0
            write = write_csv if fmt == "csv" else write_json
            written = write(cursor, columns, out, limit)
            if limit is not None and written == limit:
                rest = count_rest(cursor)
                if rest:
                    out.flush()
                    err.write(f"tradewh sql: {_plural(written)} written, {rest:,} more left out by --limit {limit}\n")
            return 0
    except duckdb.InterruptException:
        if deadline.fired:
            err.write(f"tradewh sql: the query ran longer than --timeout {timeout:g} s and was stopped\n")
        else:
            err.write("tradewh sql: the query was interrupted\n")
        return 1
    except duckdb.Error as exc:
        err.write(f"tradewh sql: {exc}\n")
        return 1
