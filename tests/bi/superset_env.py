"""Apache Superset for tests/test_superset.py: installed in a virtualenv of its own (never the project's), kept in
the user's cache between runs, started on 127.0.0.1 with its metadata in a temporary folder, driven through its
REST API, and stopped by its process group.

The virtualenv lives in ``${XDG_CACHE_HOME:-~/.cache}/tradewh/superset-<version>/venv`` and is reused when the
marker file beside it names the same requirement and constraint files (by SHA-256) and the same Python; otherwise
it is rebuilt from ``tests/bi/superset-requirements.txt`` and ``superset-constraints.txt``. A file lock keeps two
test runs on one machine from installing into it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

SUPERSET_VERSION = "6.1.0"
HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "superset-requirements.txt"
CONSTRAINTS = HERE / "superset-constraints.txt"
INSTALL_TIMEOUT_S = 1800
START_TIMEOUT_S = 180
ADMIN = {"username": "admin", "password": secrets.token_urlsafe(16)}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tradewh" / f"superset-{SUPERSET_VERSION}"


def fingerprint() -> dict[str, str]:
    """What the cached virtualenv must have been built from to be reused."""
    return {
        "superset": SUPERSET_VERSION,
        "requirements_sha256": hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest(),
        "constraints_sha256": hashlib.sha256(CONSTRAINTS.read_bytes()).hexdigest(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def pip_install_args() -> list[str]:
    """``pip install`` arguments, the README's line: the requirements, pinned by the constraints."""
    return ["install", "-r", str(REQUIREMENTS), "-c", str(CONSTRAINTS)]


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_superset() -> tuple[Path, float | None]:
    """The Superset virtualenv, installed if the cache has none that matches.

    Returns:
        The virtualenv's folder and the seconds the install took (None when the cached one was reused).
    """
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    venv, marker = root / "venv", root / "installed.json"
    want = fingerprint()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run installing waits here, then reuses its install
        try:
            have = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            have = {}
        if {k: have.get(k) for k in want} == want and (venv / "bin" / "superset").is_file():
            return venv, None
        marker.unlink(missing_ok=True)
        shutil.rmtree(venv, ignore_errors=True)
        started = time.monotonic()
        steps = [
            ("create the virtualenv", [sys.executable, "-m", "venv", str(venv)]),
            ("pip install Superset", [str(venv / "bin" / "python"), "-m", "pip", *pip_install_args()]),
            ("pip check", [str(venv / "bin" / "python"), "-m", "pip", "check"]),
        ]
        env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.pop("PYTHONPATH", None)
        for step, cmd in steps:
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pytest.fail(f"install Superset: {step} took over {INSTALL_TIMEOUT_S} s: {' '.join(cmd)}")
            if done.returncode != 0:
                pytest.fail(
                    f"install Superset: {step} exited {done.returncode}: {' '.join(cmd)}\n"
                    f"{_tail(done.stdout + done.stderr)}"
                )
        seconds = time.monotonic() - started
        marker.write_text(json.dumps({**want, "install_seconds": round(seconds, 1)}, indent=2), encoding="utf-8")
        return venv, seconds


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SupersetServer:
    """One Superset: its config, metadata database and logs in ``workdir``; ``superset run`` on 127.0.0.1."""

    def __init__(self, venv: Path, workdir: Path) -> None:
        self.venv, self.workdir = venv, workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "superset-server.log"
        self.process: subprocess.Popen[bytes] | None = None
        config = workdir / "superset_config.py"
        config.write_text(
            "# written by tests/bi/superset_env.py for one test run\n"
            f"SECRET_KEY = {secrets.token_urlsafe(42)!r}\n"
            f"SQLALCHEMY_DATABASE_URI = {'sqlite:///' + str(workdir / 'superset.db')!r}\n"
            "# every chart query reaches DuckDB: no cached results\n"
            'DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}\n'
            'RATELIMIT_STORAGE_URI = "memory://"\n',
            encoding="utf-8",
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
            "SUPERSET_CONFIG_PATH": str(config),
            "SUPERSET_HOME": str(workdir / "superset-home"),
            "FLASK_APP": "superset",
            "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def cli(self, step: str, *args: str, timeout: float = 600) -> None:
        """Run ``superset <args>``; a failure names the step and ends with Superset's own output."""
        cmd = [str(self.venv / "bin" / "superset"), *args]
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, env=self.env, cwd=self.workdir, timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{step}: `superset {' '.join(args)}` took over {timeout} s")
        (self.workdir / f"superset-{args[0]}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        if done.returncode != 0:
            pytest.fail(f"{step}: `superset {args[0]}` exited {done.returncode}:\n{_tail(done.stdout + done.stderr)}")

    def set_up(self) -> None:
        """The metadata database, an admin, the roles: what a new Superset needs before it starts."""
        self.cli("superset db upgrade", "db", "upgrade")
        self.cli(
            "superset fab create-admin",
            "fab",
            "create-admin",
            "--username",
            ADMIN["username"],
            "--password",
            ADMIN["password"],
            "--firstname",
            "tradewh",
            "--lastname",
            "test",
            "--email",
            "admin@example.invalid",
        )
        self.cli("superset init", "init")

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [str(self.venv / "bin" / "superset"), "run", "-h", "127.0.0.1", "-p", str(self.port), "--with-threads"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.workdir,
                start_new_session=True,  # its own process group: stop() ends Superset and any child with it
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"start Superset: `superset run` exited {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=5).status_code == 200:
                    return
            time.sleep(0.5)
        pytest.fail(f"start Superset: no answer on {self.base_url}/health in {START_TIMEOUT_S} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM to Superset's process group, SIGKILL after 30 s."""
        if self.process is None or self.process.poll() is not None:
            return
        pgid = self.process.pid  # start_new_session: the group's id is Superset's process id
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return _tail("\n".join(line for line in text.splitlines() if "GET /static/" not in line), lines)


def superset_error(response: httpx.Response) -> str:
    """Superset's own words for a failed call: ``message``, ``errors[].message`` or a chart query's ``error``."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:2000]
    found: list[str] = []
    if isinstance(body, dict):
        if body.get("message"):
            found.append(json.dumps(body["message"]) if not isinstance(body["message"], str) else body["message"])
        found += [str(e.get("message")) for e in body.get("errors") or [] if isinstance(e, dict)]
        found += [str(q["error"]) for q in body.get("result") or [] if isinstance(q, dict) and q.get("error")]
    return " | ".join(found) or json.dumps(body)[:2000]


class SupersetApi:
    """Superset's REST API as a logged-in admin: JWT access token, CSRF token and session cookie."""

    def __init__(self, server: SupersetServer) -> None:
        self.server = server
        self.client = httpx.Client(base_url=server.base_url, timeout=300)
        login = self.call(
            "log in (POST /api/v1/security/login)",
            "POST",
            "/api/v1/security/login",
            json={**ADMIN, "provider": "db", "refresh": True},
        )
        self.client.headers["Authorization"] = f"Bearer {login['access_token']}"
        csrf = self.call("get a CSRF token", "GET", "/api/v1/security/csrf_token/")
        self.client.headers["X-CSRFToken"] = csrf["result"]
        self.client.headers["Referer"] = server.base_url

    def call(self, step: str, method: str, path: str, *, expect: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        """One API call; a status outside ``expect`` fails the test with the step and Superset's error."""
        response = self.raw(method, path, **kwargs)
        if response.status_code not in expect:
            pytest.fail(
                f"{step}: {method} {path} -> HTTP {response.status_code}: {superset_error(response)}\n"
                f"Superset's log, last lines:\n{self.server.log_tail(15)}"
            )
        return response.json()

    def raw(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, **kwargs)

    def close(self) -> None:
        self.client.close()


def rison(params: dict[str, str | bool | int]) -> str:
    """A flat dict in Rison, the encoding Superset's ``?q=`` takes (strings always quoted)."""

    def value(v: str | bool | int) -> str:
        if isinstance(v, bool):
            return "!t" if v else "!f"
        if isinstance(v, int):
            return str(v)
        return "'" + v.replace("!", "!!").replace("'", "!'") + "'"

    return "(" + ",".join(f"{k}:{value(v)}" for k, v in params.items()) + ")"


@contextlib.contextmanager
def running_superset(venv: Path, workdir: Path) -> Iterator[SupersetApi]:
    server = SupersetServer(venv, workdir)
    server.set_up()
    try:
        server.start()
        api = SupersetApi(server)
        try:
            yield api
        finally:
            api.close()
    finally:
        server.stop()
