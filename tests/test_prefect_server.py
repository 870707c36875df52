"""Prefect's local server started early (``warehouse.orchestrate.prefect_server``): only where a flow would start
one, before Prefect is imported, and the very server the flow then runs on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.orchestrate import prefect_server


def test_prefects_own_settings_decide_where_they_may_name_a_server(tmp_path, monkeypatch):
    home, cwd = tmp_path / "prefect", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.delitem(sys.modules, "prefect.context", raising=False)  # as in `tradewh load`, before Prefect
    env = {"PREFECT_HOME": str(home)}
    assert not prefect_server._left_to_prefect(env, cwd)
    for variable, value in (
        ("PREFECT_API_URL", "http://127.0.0.1:9/api"),
        ("PREFECT_PROFILE", "mine"),
        ("PREFECT_SERVER_EPHEMERAL_ENABLED", "false"),
    ):
        assert prefect_server._left_to_prefect({**env, variable: value}, cwd), variable
    assert not prefect_server._left_to_prefect({**env, "PREFECT_SERVER_EPHEMERAL_ENABLED": "true"}, cwd)
    (cwd / "pyproject.toml").write_text("[project]\nname = 'x'\n# api_url\n")
    assert not prefect_server._left_to_prefect(env, cwd)  # not Prefect's table
    (cwd / "pyproject.toml").write_text("[tool.prefect.api]\nurl = 'http://127.0.0.1:9/api'\n")
    assert prefect_server._left_to_prefect(env, cwd)
    (cwd / "pyproject.toml").unlink()
    (home / "profiles.toml").write_text("[profiles.default]\nPREFECT_API_URL = 'http://127.0.0.1:9/api'\n")
    assert prefect_server._left_to_prefect(env, cwd)


def test_nothing_is_started_once_prefect_has_read_its_settings(monkeypatch):
    import prefect.context  # noqa: F401 (its settings are read: a URL set now would not be seen)

    spawned = []
    monkeypatch.setattr(prefect_server, "_spawn", spawned.append)
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    wait = prefect_server.start_early()
    wait()
    assert spawned == [] and "PREFECT_API_URL" not in os.environ


_EARLY = textwrap.dedent(
    """
    import json, sys
    from warehouse.common.settings import load_settings
    from warehouse.orchestrate.prefect_server import configure_prefect, start_early

    settings = load_settings()
    configure_prefect(settings)
    wait = start_early(settings.cache_path)
    import os
    from prefect import flow
    from prefect.client.orchestration import get_client

    wait()

    @flow(name="tradewh-early-server")
    def probe() -> int:
        return 7

    state = probe(return_state=True)
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(state.state_details.flow_run_id)
        api = str(client.api_url)
    print(json.dumps({
        "api_url": os.environ["PREFECT_API_URL"], "client": api, "result": state.result(),
        "run_state": run.state.type.value, "server_module_here": "prefect.server.api.server" in sys.modules,
    }))
    """
)


def _early_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TRADEWH_"))}
    return env | {
        "TRADEWH_HOME": str(tmp_path / "home"),
        "TRADEWH_CACHE_DIR": str(tmp_path / "cache"),
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
        "PYTHONPATH": str(PROJECT_ROOT),
    }


@pytest.mark.slow
def test_the_server_started_early_is_the_one_the_flow_runs_on_and_it_stops_with_the_process(tmp_path):
    """A real process as `tradewh load` starts: the server spawned before Prefect is imported, a real flow run
    recorded on it (read back through its API), Prefect's server module never imported by the process itself,
    and the server gone once the process exits."""
    done = subprocess.run(  # noqa: S603 (our interpreter, our script)
        [sys.executable, "-c", _EARLY], env=_early_env(tmp_path), cwd=tmp_path, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["client"].rstrip("/") == found["api_url"] and found["api_url"].startswith("http://127.0.0.1:")
    assert found["result"] == 7 and found["run_state"] == "COMPLETED"
    assert found["server_module_here"] is False  # the 3 s import Prefect's own start costs this process
    with pytest.raises(httpx.ConnectError):
        httpx.get(found["api_url"] + "/health", timeout=2)
    assert (tmp_path / "home" / "prefect" / "prefect.db").is_file()  # the data folder's own database


@pytest.mark.slow
def test_a_temporary_server_that_cannot_start_fails_the_load_with_one_line(tmp_path):
    """The server's database cannot be made (its folder does not exist): `tradewh load` says the temporary server
    exited, loads nothing, and leaves no server behind."""
    env = _early_env(tmp_path) | {
        "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'prefect.db'}"
    }
    done = subprocess.run(  # noqa: S603 (the project's console script)
        [sys.executable, "-m", "warehouse.serve.cli", "load"], env=env, cwd=tmp_path, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "tradewh load: Prefect's temporary server for this run exited with code" in done.stderr
    assert "nothing was loaded" in done.stderr
    assert not (tmp_path / "home" / "warehouse" / "tradewh.duckdb").exists()


@pytest.mark.slow
def test_server_start_has_the_new_server_answer_its_api_version(tmp_path, monkeypatch):
    """The first thing every Prefect client asks, answered once before `tradewh server start` returns (the first
    answer of a server process is the slow one), by the real server on a free port."""
    import socket

    import httpx

    from warehouse.orchestrate import server

    asked = []
    real_get = httpx.get

    def recording_get(url, *args, **kwargs):  # the real request, remembered
        reply = real_get(url, *args, **kwargs)
        asked.append((url, reply.status_code, reply.text))
        return reply

    monkeypatch.setattr(server.httpx, "get", recording_get)
    monkeypatch.delenv("PREFECT_HOME", raising=False)  # the server's state inside this home
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    home = tmp_path / "home"
    info = server.start(home, port=port)
    try:
        versions = [(code, text) for url, code, text in asked if url == f"{info.api_url}/admin/version"]
        assert len(versions) == 1 and versions[0][0] == 200, asked
        import prefect

        assert versions[0][1].strip('"') == prefect.__version__  # what the client compares with its own
    finally:
        assert server.stop(home) is not None


def test_health_questions_on_one_client_share_one_connection():
    """``server.healthy`` asks a real HTTP server on 127.0.0.1: true only for 200, false where nothing listens; a
    loop that passes one client asks every question over one kept-alive connection (no new client, no TLS context,
    per question: what kept a starting server's core busy)."""
    import http.server
    import socket
    import threading

    from warehouse.orchestrate import server

    peers: list[int] = []
    answers = iter([503, 503, 200, 200])

    class Health(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive

        def do_GET(self):  # noqa: N802 (the stdlib's name)
            peers.append(self.client_address[1])
            code = next(answers) if self.path == "/api/health" else 404
            self.send_response(code)
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"true")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/api"
        with httpx.Client() as client:
            said = [server.healthy(url, timeout=5, client=client) for _ in range(3)]
        assert said == [False, False, True]
        assert len(peers) == 3 and len(set(peers)) == 1, peers  # one connection for the three questions
        assert server.healthy(url, timeout=5)  # without a client: one of its own
        assert len(set(peers)) == 2
    finally:
        httpd.shutdown()
        httpd.server_close()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with httpx.Client() as client:
        assert not server.healthy(f"http://127.0.0.1:{closed}/api", timeout=1, client=client)
