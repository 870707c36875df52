"""Keys never shown: API keys read by name (the environment, or a Prefect Secret block) for a source's headers,
and ``redact``, which takes them (and any credential in a URL) out of every message, log line and file name."""

from __future__ import annotations

import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Mapping

from warehouse.common.errors import SourceError

_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:subscription-key|api[-_]?key|access[-_]?token|token|key|secret|password|passwd|sig|signature)=)"
    r"[^&;#\s'\"]*"
)


_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/?#@\s:]*:)[^/?#@\s]*@")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Hide keys in a URL or a message.

    Args:
        text: a URL or a message that may hold one.
        secrets: key values to hide wherever they appear (as is or URL-quoted).

    Returns:
        The text with key-like query parameters (``subscription-key=...``, ``api_key=...``, ``token=...``) and a
        URL's password shown as ``***``, and every secret value replaced by ``***``.
    """
    text = _SECRET_PARAM.sub(r"\1***", text)
    text = _USERINFO.sub(r"\1***@", text)
    for secret in secrets:
        for form in {secret, urllib.parse.quote(secret, safe="")}:
            if form:
                text = text.replace(form, "***")
    return text


_FETCHING = threading.local()  # .secrets: the keys of the fetch this thread makes (or made last)


class _RedactRecord(logging.Filter):
    """httpx and httpcore log URLs, reason phrases, headers: keys are hidden before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact(record.getMessage(), getattr(_FETCHING, "secrets", ())), ()
        return True


def _from_secret_block(name: str) -> tuple[str, str]:
    """A Prefect Secret block's value, or ('', why not); what went wrong is named by its type only."""
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(name).get()
    except Exception as exc:  # noqa: BLE001 (no server, no block, no permission: all mean 'no key')
        return "", f"could not be loaded ({type(exc).__name__})"
    if not isinstance(value, str):
        return "", "does not hold a string"
    return value.strip(), "" if value.strip() else "is empty"


def _secret_value(header: str, variable: str | None, block: str | None, *, source_id: str, file: str) -> str:
    """The key for one header: the environment variable, else the Secret block; missing is 'missing_secret'."""
    value = os.environ.get(variable, "").strip() if variable else ""
    tried = [f"environment variable {variable} is not set"] if variable else []
    where = f"environment variable {variable}"
    if not value and block:
        value, problem = _from_secret_block(block)
        tried.append(f"Prefect Secret block '{block}' {problem}")
        where = f"Prefect Secret block '{block}'"
    if not value:
        detail = f"the {header} header needs a key: {'; '.join(tried)}"
        raise SourceError(detail, source_id=source_id, file=file, rule="missing_secret")
    if not (value.isascii() and value.isprintable()):
        detail = f"the key for the {header} header in {where} holds characters a header cannot carry"
        raise SourceError(detail, source_id=source_id, file=file, rule="bad_secret")
    return value


def secret_headers(
    headers_from_env: Mapping[str, str] | None,
    secret_blocks: Mapping[str, str] | None = None,
    *,
    source_id: str,
    file: str,
) -> dict[str, str]:
    """The request headers that carry keys, read from the environment (or Prefect Secret blocks).

    Args:
        headers_from_env: header name -> the environment variable holding its value.
        secret_blocks: header name -> a Prefect Secret block holding its value, read when the variable is unset.
        source_id: the catalogue entry, for messages.
        file: the (redacted) URL, for messages.

    Returns:
        Header name -> value.

    Raises:
        SourceError: 'missing_secret' naming the variable (and block) when no value is found; 'bad_secret' when
            the value cannot be a header value. Never with the value.
    """
    env, blocks = dict(headers_from_env or {}), dict(secret_blocks or {})
    return {
        header: _secret_value(header, env.get(header), blocks.get(header), source_id=source_id, file=file)
        for header in dict.fromkeys([*env, *blocks])
    }


for _name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks"):
    logging.getLogger(_name).addFilter(_RedactRecord())  # httpx logs each request, reason phrase included
