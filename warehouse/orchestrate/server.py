"""The project's own Prefect server: started, health-checked and stopped by ``tradewh server``.

A scheduled nightly needs a Prefect server that outlives one command: Prefect's ephemeral server (started by a
flow when no ``PREFECT_API_URL`` is set) has no scheduler and dies with its process, taking the run history with
it. ``tradewh server start`` runs ``prefect server start`` in its own session, bound to 127.0.0.1 unless told
otherwise, with its database under ``<TRADEWH_HOME>/prefect`` and its output in ``<TRADEWH_HOME>/logs``; its
process id and address are kept in ``<TRADEWH_HOME>/prefect/server.json``. Every other command finds it there
(``api_url``) and talks to it after a health check; a stale file (the process died) is ignored.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from warehouse.common.atomic import write_text_atomic
from warehouse.orchestrate import prefect_db

STATE_FILE = "server.json"
HEALTH_TIMEOUT_S = 2.0


class ServerError(RuntimeError):
    """The project's Prefect server could not be started, reached or stopped."""


@dataclass(frozen=True)
class ServerInfo:
    """A running server started by ``tradewh server start``."""

    pid: int
    host: str
    port: int
    started_at: str
    log: str

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def state_path(home: Path) -> Path:
    return home / "prefect" / STATE_FILE


def server_log(home: Path) -> Path:
    return home / "logs" / "prefect-server.log"


def healthy(api_url: str, timeout: float = HEALTH_TIMEOUT_S, client: httpx.Client | None = None) -> bool:
    """Whether a Prefect API answers its health check (``GET /health`` -> true).

    A loop that asks until a starting server answers passes one ``client`` for all its questions: a new client
    builds a TLS context (the CA bundle read and parsed) even for plain http, 21.7 ms of CPU against 0.15 ms for a
    question on a client kept (medians of 20, a closed port). Asked every 50 ms while a server started from the
    template database, new clients took 1.98 s of CPU against 0.11 s; the server answered no sooner (5.11 s against
    5.14 s, a spare core), but during a load that core copies and hashes the raw files.
    """
    url = f"{api_url.rstrip('/')}/health"
    try:
        reply = client.get(url, timeout=timeout) if client is not None else httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200


def wait_healthy(api_url: str, process: subprocess.Popen[bytes], timeout: float, interval: float) -> bool:
    """Ask a starting server's health check every ``interval`` seconds, on one client (``healthy``), until it
    answers (True), or ``process`` exits or ``timeout`` seconds pass (False: ``process.poll()`` tells which)."""
    deadline = time.monotonic() + timeout
    with httpx.Client() as client:
        while time.monotonic() < deadline and process.poll() is None:
            if healthy(api_url, timeout=1.0, client=client):
                return True
            time.sleep(interval)
    return False


def _ask_version(api_url: str) -> None:
    """Ask a new server its version, the first thing every Prefect client asks: the first answer of a server
    process took 0.2-0.56 s (measured on two cores; later ones 2-5 ms), which the first load would otherwise wait
    for. An error here is left to that client to report."""
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"{api_url.rstrip('/')}/admin/version", timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recorded(home: Path) -> ServerInfo | None:
    """The server recorded in the state file, if its process is still alive (health not checked)."""
    path = state_path(home)
    try:
        info = ServerInfo(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    return info if _alive(info.pid) else None


def running(home: Path) -> ServerInfo | None:
    """The project's server if it is alive and answers its health check."""
    info = recorded(home)
    return info if info is not None and healthy(info.api_url) else None


def server_env(home: Path) -> dict[str, str]:
    """The environment the server (and any Prefect process of this home) runs with."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)  # the server serves; it is no client of another
    env.setdefault("PREFECT_HOME", str(home / "prefect"))
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_REGISTER_BLOCKS_ON_START", "true")
    return env


def start(
    home: Path, *, host: str = "127.0.0.1", port: int = 4200, timeout: float = 180.0, cache_dir: Path | None = None
) -> ServerInfo:
    """Start the project's Prefect server and wait until it answers its health check.

    A server of this home that is already running is returned as it is. With ``cache_dir``
    (``Settings.cache_path``), a new home's database starts from the template there, or, when there is none, is
    kept there as the template once the server answers (``prefect_db``).

    Raises:
        ServerError: the port is taken by something else, or the server did not become healthy in time (the
            message names its log file).
    """
    if (info := running(home)) is not None:
        return info
    api_url = f"http://{host}:{port}/api"
    if healthy(api_url):
        raise ServerError(
            f"something already answers on {host}:{port} (not this home's server): choose another --port, "
            f"or use that server with PREFECT_API_URL={api_url}"
        )
    log = server_log(home)
    log.parent.mkdir(parents=True, exist_ok=True)
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    env = server_env(home)
    database = prefect_db.database_file(env, home) if cache_dir is not None else None
    if database is not None:
        prefect_db.seed(database, cache_dir)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)]
    with open(log, "ab") as out:
        out.write(f"\n--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n".encode())
        out.flush()
        process = subprocess.Popen(  # noqa: S603 (our own interpreter, fixed arguments)
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the shell that started it; stopped as a group
            cwd=home,
        )
    info = ServerInfo(process.pid, host, port, time.strftime("%Y-%m-%dT%H:%M:%S%z"), str(log))
    if not wait_healthy(info.api_url, process, timeout, interval=0.5):
        if process.poll() is not None:
            raise ServerError(f"the Prefect server exited with code {process.returncode} on start; see {log}")
        _stop_group(process.pid)
        raise ServerError(f"the Prefect server did not answer on {info.api_url} within {timeout:.0f} s; see {log}")
    _ask_version(info.api_url)
    write_text_atomic(state_path(home), json.dumps(asdict(info), indent=2))
    if database is not None:
        prefect_db.keep_template(database, cache_dir)
    return info


def _stop_group(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the server's process group (``prefect server start`` and its uvicorn), then SIGKILL if needed."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            try:  # our own child (a failed start): reap it, or it stays a zombie the group check still sees
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                pass
            time.sleep(0.2)


def stop(home: Path) -> ServerInfo | None:
    """Stop the project's server; returns what was stopped, or None when none was running."""
    info = recorded(home)
    if info is not None:
        _stop_group(info.pid)
    state_path(home).unlink(missing_ok=True)
    return info
