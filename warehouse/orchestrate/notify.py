"""Tell someone when a night went wrong: a failed or partial run is sent to ``TRADEWH_NOTIFY_URL``.

An ``http://`` or ``https://`` URL receives the event as JSON (a webhook: Slack-compatible receivers, a chat
bridge, an incident tool); any other URL is given to Apprise, the library behind Prefect's notification blocks
(``slack://``, ``mailto://``, ``msteams://``, ``json://``, ...). The event names the run, its state, the failed
sources and the reason; it carries no URL, header or key of any source (source messages are redacted when they
are made), and the destination's own URL, which may hold a token, is never logged: only its scheme and host.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

import httpx

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class FailedSource:
    source_id: str
    message: str


@dataclass(frozen=True)
class RunEvent:
    """What a notification says about a run that did not succeed."""

    flow_run_id: str
    flow_run_name: str
    state: str  # Prefect's state name: Partial, Failed, Crashed
    message: str
    run_id: str | None = None
    status: str | None = None  # tradewh's: partial, failed
    failed_sources: list[FailedSource] = field(default_factory=list)
    log_file: str | None = None

    @property
    def title(self) -> str:
        return f"tradewh nightly {self.state.lower()}: {self.run_id or self.flow_run_name}"

    @property
    def body(self) -> str:
        lines = [self.message]
        lines += [f"- {s.source_id}: {s.message}" for s in self.failed_sources]
        if self.log_file:
            lines.append(f"log: {self.log_file}")
        lines.append(f"Prefect flow run {self.flow_run_name} ({self.flow_run_id})")
        return "\n".join(lines)


def where(url: str) -> str:
    """A destination as it may be logged: its scheme and host, never its path or query (tokens live there)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}"


def send(url: str, event: RunEvent) -> None:
    """Send ``event`` to ``url``.

    Raises:
        RuntimeError: the destination refused it or could not be reached (the message names scheme and host).
    """
    if url.startswith(("http://", "https://")):
        document = {"title": event.title, "text": event.body, **asdict(event)}
        try:
            reply = httpx.post(url, json=document, timeout=TIMEOUT_S, follow_redirects=False)
        except httpx.HTTPError as exc:
            raise RuntimeError(f"notification to {where(url)} failed: {type(exc).__name__}") from None
        if reply.status_code >= 300:
            raise RuntimeError(f"notification to {where(url)} answered HTTP {reply.status_code}")
        return
    import apprise

    sender = apprise.Apprise()
    if not sender.add(url):
        raise RuntimeError(f"not a notification URL Apprise knows: {where(url)}")
    if not sender.notify(title=event.title, body=event.body):
        raise RuntimeError(f"notification to {where(url)} failed (Apprise)")


def notify_quietly(url: str, event: RunEvent) -> bool:
    """``send``, logging instead of raising: a notification that fails must not change the run's outcome."""
    if not url:
        return False
    try:
        send(url, event)
    except Exception as exc:  # noqa: BLE001 (any failure of the destination is only logged)
        log.warning("%s", exc)
        return False
    log.info("run %s: notification sent to %s", event.run_id or event.flow_run_name, where(url))
    return True
