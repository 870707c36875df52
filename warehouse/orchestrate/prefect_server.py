"""Start Prefect's local API server early, while the process still imports and prepares its run.

With no ``PREFECT_API_URL``, Prefect 3 starts a local ephemeral server (a second process) when the first flow
calls its API, and the flow waits for it: the import of Prefect (1.2 s) and of its server module in this process
(3.2 s more on two cores: only to build the object that starts the process), then the server's own start (its
interpreter, the same imports, the database's migrations). ``start_early`` starts the very process Prefect would
(``SubprocessASGIServer``'s command: uvicorn serving ``prefect.server.api.server:create_app`` in Prefect's
ephemeral mode, on a free port of 127.0.0.1) before this process imports Prefect at all, and points this process
at it (``PREFECT_API_URL``, read when Prefect is imported), so the server comes up while ``tradewh load`` imports
its flow and keeps its local files in the raw zone; it is stopped when the process exits, as Prefect stops its
own. Measured on two cores, an empty flow on a new data folder: 8.8-9.0 s with Prefect's own start, 5.9-6.0 s so.

Where that could differ from what Prefect would do, nothing is started early and Prefect decides: Prefect is
already imported (its settings were read), an API URL or a profile is set (in the environment, or in a Prefect
profile or settings file that names one), or Prefect's ephemeral server is turned off.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from warehouse.common.settings import Settings
from warehouse.orchestrate import prefect_db, server

log = logging.getLogger(__name__)

_SETTING_FILES = ("prefect.toml", ".env", "pyproject.toml")  # where Prefect reads settings in the working folder
# an API URL (PREFECT_API_URL, api.url, a table [api] or [tool.prefect.api]) or the ephemeral server's settings
_NAMES_A_SERVER = re.compile(r"api[._\]]|ephemeral")


class EarlyServerError(RuntimeError):
    """The Prefect server started for this process did not come up (its output is on the console)."""


def _left_to_prefect(env: dict[str, str], cwd: Path) -> bool:
    """Whether Prefect's own settings may say something other than "start an ephemeral server here"."""
    if "prefect.context" in sys.modules or env.get("PREFECT_API_URL") or env.get("PREFECT_PROFILE"):
        return True
    if env.get("PREFECT_SERVER_EPHEMERAL_ENABLED", "true").strip().lower() in {"0", "false", "no", "off"}:
        return True
    files = [Path(env.get("PREFECT_HOME", "~/.prefect")).expanduser() / "profiles.toml"]
    files += [cwd / name for name in _SETTING_FILES]
    for file in files:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = file.read_text(encoding="utf-8").lower()
            if _NAMES_A_SERVER.search(text) and (file.name != "pyproject.toml" or "tool.prefect" in text):
                return True
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(port: int) -> subprocess.Popen[bytes]:
    """Prefect's ephemeral server, as ``SubprocessASGIServer._run_uvicorn_command`` starts it (Prefect 3.x)."""
    spec = importlib.util.find_spec("prefect")  # found, not imported
    assert spec is not None and spec.submodule_search_locations
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}  # it serves; it is no client of another
    env |= {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(Path(spec.submodule_search_locations[0]).parent),
        "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env)  # noqa: S603 (our interpreter, Prefect's module, fixed arguments)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_early(cache_dir: Path | None = None) -> Callable[[], None]:
    """Start Prefect's ephemeral server for this process now, if a flow would start one; call the returned function
    before the first flow runs (it waits until the server answers its health check).

    With ``cache_dir`` (``Settings.cache_path``), a new home's database, once the server answers, is kept there as
    the template of the next new home's (``prefect_db.keep_template``).

    Raises (the returned function):
        EarlyServerError: the server exited, or did not answer within Prefect's start-up timeout
            (``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``).
    """
    if _left_to_prefect(dict(os.environ), Path.cwd()):
        return lambda: None
    database = prefect_db.database_file(os.environ, Path.cwd()) if cache_dir is not None else None
    timeout = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 120)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    process = _spawn(port)
    atexit.register(_stop, process)
    os.environ["PREFECT_API_URL"] = url  # read when Prefect is imported: this process's flows use this server

    def wait() -> None:
        if not server.wait_healthy(url, process, timeout, interval=0.05):
            if process.poll() is not None:  # its own error is on the console above
                raise EarlyServerError(f"Prefect's temporary server for this run exited with code {process.returncode}")
            _stop(process)
            raise EarlyServerError(f"Prefect's temporary server did not answer on {url} within {timeout:.0f} s")
        log.info("Prefect's temporary server for this run answers at %s", url)
        if database is not None:
            prefect_db.keep_template(database, cache_dir)

    return wait


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
