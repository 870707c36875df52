"""Prefect's local server started early (``warehouse.orchestrate.prefect_server``): only where a flow would start
one, and the very server the flow's client then uses."""

from __future__ import annotations

import threading

import pytest

from warehouse.orchestrate import prefect_server


def test_no_server_is_started_when_an_api_url_is_configured(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings  # here: Prefect's import is 0.8 s of collection

    started = []
    monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self.name))
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        wait = prefect_server.start_early()
    wait()
    assert started == []


def test_the_server_started_early_is_the_one_prefects_client_uses(prefect_home):
    from prefect.client.orchestration import get_client
    from prefect.server.api.server import SubprocessASGIServer

    names_before = {t.name for t in threading.enumerate()}
    wait = prefect_server.start_early()
    wait()
    server = SubprocessASGIServer()
    assert server.running and server.server_process is not None and server.server_process.poll() is None
    with get_client(sync_client=True) as client:
        assert str(client.api_url).rstrip("/") == server.api_url
        assert client.api_healthcheck() is None  # None: healthy
    assert "tradewh-prefect-start" not in {t.name for t in threading.enumerate()} - names_before  # joined


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
