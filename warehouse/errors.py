"""Errors the project raises on bad input: each names the source, the file, the row and the rule."""

from __future__ import annotations


class SourceError(Exception):
    """A source could not be read as a whole (wrong layout, empty file, HTML instead of CSV, ...).

    The message always names the source id, the file (or URL), the row (1-based line number in the file,
    or None when the whole file is at fault) and the rule that was broken, so an operator can find it.
    """

    def __init__(
        self,
        message: str,
        *,
        source_id: str = "?",
        file: str = "?",
        row: int | None = None,
        rule: str = "layout",
    ) -> None:
        self.source_id = source_id
        self.file = file
        self.row = row
        self.rule = rule
        self.detail = message
        where = f"row {row}" if row is not None else "whole file"
        super().__init__(f"[{source_id}] {file}, {where}, rule '{rule}': {message}")
