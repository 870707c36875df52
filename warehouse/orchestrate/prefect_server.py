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
import os
import threading
from collections.abc import Callable
from pathlib import Path

from warehouse.common.settings import Settings
from warehouse.orchestrate import prefect_db, server


def _wanted() -> bool:
    """True when a flow of this process would start Prefect's ephemeral server (no API URL configured)."""
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    return not PREFECT_API_URL.value() and bool(PREFECT_SERVER_EPHEMERAL_ENABLED.value())


def start_early(cache_dir: Path | None = None) -> Callable[[], None]:
    """Start the ephemeral server in a thread, if a flow would start one; call the returned function before
    the first flow runs (it waits for the start to finish).

    A failed start is not raised here: the flow's client starts the server again and reports its own error.
    With ``cache_dir`` (``Settings.cache_path``), a new home's database, once the server answers, is kept there
    as the template of the next new home's (``prefect_db.keep_template``).
    """
    if not _wanted():
        return lambda: None
    # imported here, not in the thread: two threads importing Prefect's modules at once could deadlock on their
    # import locks (the caller goes on to import the flow). The thread then only starts the process and waits.
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the instance Prefect's client takes (no port given)

    database = prefect_db.database_file(os.environ, Path.cwd()) if cache_dir is not None else None

    def start() -> None:
        with contextlib.suppress(Exception):  # the flow starts it again and raises what went wrong
            server.start()
            if database is not None:
                prefect_db.keep_template(database, cache_dir)

    thread = threading.Thread(target=start, name="tradewh-prefect-start", daemon=True)
    thread.start()
    return thread.join


def configure_prefect(settings: Settings) -> str | None:
    """Keep Prefect's state inside the data folder and run it offline unless the user configured it.

    When ``tradewh server start`` runs a server for this data folder and answers its health check, and no
    ``PREFECT_API_URL`` is set, Prefect is pointed at it: runs go to its database and scheduler, and no
    ephemeral server starts. Returns the API URL in use, or None when a flow would start an ephemeral server.

    With no API URL, Prefect 3 starts a local ephemeral server for the first flow of a process; on two
    cores that takes 7-15 s, so its start-up timeout is raised. Telemetry is off. The server does not register
    Prefect's block types when it starts (about 1 s on a new Prefect home): tradewh reads only Secret blocks, and
    saving a block registers its type.
    """
    prefect_home = Path(os.environ.setdefault("PREFECT_HOME", str(settings.home / "prefect")))
    prefect_home.mkdir(parents=True, exist_ok=True)  # the ephemeral server cannot start without it
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_REGISTER_BLOCKS_ON_START", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    # the warehouse's own loggers (progress inside staging and the build) go where the flow's lines go: the
    # console, the server's run log, the run's log file
    os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "warehouse")
    if not os.environ.get("PREFECT_API_URL"):
        info = server.running(settings.home)
        if info is not None:
            os.environ["PREFECT_API_URL"] = info.api_url
        else:  # a server of this process's will start: on a new home, from a migrated database
            prefect_db.seed(prefect_db.database_file(os.environ, Path.cwd()), settings.cache_path)
    return os.environ.get("PREFECT_API_URL") or None
