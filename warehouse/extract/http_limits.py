"""What one fetch of a URL may spend: a deadline for the whole of it (connect, redirects, every page, the last
byte; a watchdog shuts the socket being read when it passes) and a byte budget for the whole source."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from warehouse.common.errors import SourceError
from warehouse.extract.secrets import redact


@dataclass(frozen=True)
class _Target:
    """A URL being fetched for a source, and the keys that must not show in anything said about it."""

    source_id: str
    url: str
    secrets: tuple[str, ...]

    @property
    def origin(self) -> str:
        return redact(self.url, self.secrets)

    def error(self, detail: str, rule: str) -> SourceError:
        return SourceError(redact(detail, self.secrets), source_id=self.source_id, file=self.origin, rule=rule)

    def retryable(self, detail: str) -> ConnectionError:
        return ConnectionError(f"[{self.source_id}] {self.origin}: {redact(detail, self.secrets)}")


@dataclass
class Budget:
    """The bytes one source's answers may bring, all its URLs and pages together."""

    max_bytes: int
    used: int = 0

    def refuse(self, target: _Target, detail: str) -> SourceError:
        return target.error(
            f"{detail}: more than the {self.max_bytes:,} bytes allowed for the source ([source.http] max_bytes)",
            "payload_too_large",
        )

    def expect(self, announced: int, target: _Target) -> None:
        """Refuse at once a body whose Content-Length cannot fit in what is left."""
        if self.used + announced > self.max_bytes:
            raise self.refuse(target, f"a body of {announced:,} bytes announced after {self.used:,} received")

    def take(self, received: int, target: _Target) -> None:
        self.used += received
        if self.used > self.max_bytes:
            raise self.refuse(target, f"stopped after {self.used:,} bytes")


def _shut(sock: object) -> None:
    """Wake a read blocked on a socket (a closed one is left alone: its descriptor is -1 once closed)."""
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Deadline:
    """The one deadline of a URL's fetch. Its watchdog shuts the connection being read when it passes.

    httpx's timeouts apply to each read, so they cannot end a fetch that keeps receiving a byte at a time;
    httpcore's ``trace`` request extension hands over each new connection's socket, which the watchdog shuts.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._socket: object = None
        self._fired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            self._socket = None

    @property
    def passed(self) -> bool:
        return self._fired or time.monotonic() >= self.at

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        """httpcore's trace callback: note the socket of each connection made."""
        if event in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            stream = info.get("return_value")
            with self._lock:
                self._socket = stream.get_extra_info("socket") if stream is not None else None
                if self._fired:
                    _shut(self._socket)

    def _expire(self) -> None:
        with self._lock:
            self._fired = True
            _shut(self._socket)
