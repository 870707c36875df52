"""What the CLI prints: aligned tables cut to a width (ids never cut), and the published file opened read-only."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from warehouse.common.settings import Settings


def _open_read_only(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The published file, read-only, with external access off and the configuration locked."""
    from warehouse.common.readonly import connect_read_only

    try:
        return connect_read_only(settings.warehouse_path)
    except FileNotFoundError as exc:
        raise SystemExit(f"tradewh: {exc}") from None


def _fit(widths: list[int], numeric: list[bool], width: int | None) -> list[int]:
    """Column widths narrowed until the table fits ``width`` characters: the widest text columns first, none
    below 8 characters (numbers and the first column, the row's id, are never cut)."""
    if width is None:
        return widths
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > width:
        cuttable = [i for i, w in enumerate(widths) if i > 0 and not numeric[i] and w > 8]  # ids stay whole
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: widths[i])
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        widths[widest] = max(8, widths[widest] - excess)
    return widths


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]], *, width: int | None = None) -> str:
    """Rows as an aligned text table (numbers right-aligned), cut to ``width`` characters when given."""

    def cell(value: object) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, float):
            return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.0f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(r[i] is None or (isinstance(r[i], int | float) and not isinstance(r[i], bool)) for r in rows)
        for i in range(len(columns))
    ]
    widths = _fit(widths, numeric, width)
    lines = ["  ".join(_cut(c, w).ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for r in text:
        cells = (_cut(v, w) for v, w in zip(r, widths, strict=True))
        lines.append(
            "  ".join(
                v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(lines)


STATUS_WIDTH = 100
