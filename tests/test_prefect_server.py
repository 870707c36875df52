"""Prefect's local server started early (``warehouse.orchestrate.prefect_server``): only where a flow would start
one, and the very server the flow's client then uses."""

from __future__ import annotations

import threading

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
