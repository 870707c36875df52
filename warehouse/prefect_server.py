"""Start Prefect's local API server early, while the process still imports and prepares its run.

With no ``PREFECT_API_URL``, Prefect 3 starts a local ephemeral server (a second process) when the first flow
calls its API, and the flow waits for it: the import of Prefect's server module in this process, then the
server's own start (its interpreter, imports, database migrations). ``start_early`` imports that module and
begins the same start in a thread as soon as Prefect is configured, so the server comes up while ``tradewh load``
imports its flow and keeps its local files in the raw zone. Prefect's own code starts it (``SubprocessASGIServer``,
the object its client uses); the flow then finds it running.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable


def _wanted() -> bool:
    """True when a flow of this process would start Prefect's ephemeral server (no API URL configured)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def start_early() -> Callable[[], None]:
    """Start the ephemeral server in a thread, if a flow would start one; call the returned function before
    the first flow runs (it waits for the start to finish).

    A failed start is not raised here: the flow's client starts the server again and reports its own error.
    """
    if not _wanted():
        return lambda: None
    # imported here, not in the thread: two threads importing Prefect's modules at once could deadlock on their
    # import locks (the caller goes on to import the flow). The thread then only starts the process and waits.
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance Prefect's client takes (no port given)

    def start() -> None:
        with contextlib.suppress(Exception):  # the flow starts it again and raises what went wrong
            server.start()

    thread = threading.Thread(target=start, name="tradewh-prefect-start", daemon=True)
    thread.start()
    return thread.join
