"""Shared helpers to read publisher CSV text safely: bytes checks, numbers that refuse to guess."""

from __future__ import annotations

import math
import re

from warehouse.errors import SourceError

# A plain decimal number, finite as a float: at most 30 digits before the point and a two-digit exponent, so
# '1e999' or a 400-digit string is text to quarantine, never an infinite value. schemas.rules uses it too.
NUMBER = r"[+-]?(\d{1,30}(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?"
_NUMBER = re.compile(f"^{NUMBER}$")


def decode_text(data: bytes, *, source_id: str, file: str) -> str:
    """Decode a CSV payload as UTF-8 (a BOM is allowed) after refusing what is not CSV text.

    Raises:
        SourceError: 'empty_file', 'gzip_not_csv', 'html_not_csv' or 'encoding'.
    """
    if not data.strip():
        raise SourceError("the file is empty", source_id=source_id, file=file, rule="empty_file")
    if data[:2] == b"\x1f\x8b":
        raise SourceError(
            "gzip bytes, not CSV text: decompress first", source_id=source_id, file=file, rule="gzip_not_csv"
        )
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        raise SourceError("an HTML/XML page, not CSV", source_id=source_id, file=file, rule="html_not_csv")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(
            f"bytes that are not UTF-8 at offset {exc.start} (cp1252 or latin-1?)",
            source_id=source_id,
            file=file,
            row=line,
            rule="encoding",
        ) from exc


def to_number(text: str | None) -> float:
    """A published cell as a float, or NaN when it is not a plain number.

    Thousands separators, units, 'n/a' and the like are not guessed at: they give NaN, and the caller keeps
    the text so validation quarantines the row with the value as published.
    """
    if text is None:
        return math.nan
    text = text.strip()
    return float(text) if _NUMBER.match(text) else math.nan
