"""What a publisher's error looks like: a JSON API error document (its message, cut to a length), or an HTML page
served where data was expected."""

from __future__ import annotations

import json

from warehouse.extract.fetch import BOM

API_ERROR_MAX_BYTES = 64 * 1024  # a JSON body larger than this is data, not an error document


ERROR_MESSAGE_MAX_CHARS = 500


def _text_of(value: object) -> str:
    """A publisher's error message as text: strings as they are, WDI's {key, value} items as 'key: value'."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        key = value.get("key")
        text = value.get("value") or value.get("message") or value.get("description")
        if text:
            return f"{key}: {_text_of(text)}" if isinstance(key, str) and key else _text_of(text)
    return json.dumps(value)


def _error_of(document: object) -> str | None:
    if isinstance(document, dict):
        if document.get("error"):  # UN Comtrade sends "error": "" with its data
            return _text_of(document["error"])
        status = document.get("statusCode")  # the API gateway's own errors (a wrong key, a quota)
        if isinstance(status, int) and status >= 400 and document.get("message"):
            return _text_of(document["message"])
        return None
    if isinstance(document, list) and document and isinstance(document[0], dict):
        first = document[0]
        if "message" in first and "page" not in first:  # World Bank API v2: [{"message": [{id, key, value}]}]
            return _text_of(first["message"])
    return None


def api_error_message(body: bytes) -> str | None:
    """The publisher's message if a body (or its first API_ERROR_MAX_BYTES + 1 bytes) is a JSON error document.

    Returns:
        The message of ``{"error": ...}`` (non-empty), ``{"statusCode": 4xx, "message": ...}`` or World Bank's
        ``[{"message": [...]}]``, cut to ERROR_MESSAGE_MAX_CHARS; None for anything else, or a body too large to
        be an error document.
    """
    text = body.removeprefix(BOM).lstrip()
    if len(body) > API_ERROR_MAX_BYTES or not text.startswith((b"{", b"[")):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    message = _error_of(document)
    return None if message is None else message[:ERROR_MESSAGE_MAX_CHARS]


def looks_like_html(body: bytes) -> bool:
    """Whether a body (its first bytes are enough) is an HTML page, whatever its content type said."""
    return body[:1024].removeprefix(BOM).lstrip().lower().startswith((b"<!doctype", b"<html"))
