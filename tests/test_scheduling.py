"""The nightly as an operator runs it: the project's Prefect server, `tradewh serve` on a cron, the prefect.yaml
deployment through a process worker, and a failing night seen as FAILED in Prefect and sent to a webhook.

Nothing of Prefect is replaced: each test starts the real server with `tradewh server start` on a free port of
127.0.0.1, drives the real commands as subprocesses, reads the runs from the server's REST API, and stops every
process it started by its process id.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import httpx
import pytest

from tests.conftest import FIXTURES, PROJECT_ROOT

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TRADEWH_"))}
    env.update(TRADEWH_HOME=str(home), PREFECT_HOME=str(home / "prefect"), **extra)
    return env


def _tradewh(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "tradewh"), *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=PROJECT_ROOT
    )


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def _stop(process: subprocess.Popen) -> None:
    """End a process started in its own session, and all it started, by its process id."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


class Server:
    def __init__(self, home: Path, api_url: str, pid: int) -> None:
        self.home, self.api_url, self.pid = home, api_url, pid

    def flow_runs(self, state_type: str | None = None) -> list[dict]:
        body: dict = {"sort": "EXPECTED_START_TIME_DESC"}
        if state_type:
            body["flow_runs"] = {"state": {"type": {"any_": [state_type]}}}
        reply = httpx.post(f"{self.api_url}/flow_runs/filter", json=body, timeout=10)
        reply.raise_for_status()
        return reply.json()

    def heartbeats(self, flow_run_id: str, timeout: float = 60) -> list[dict]:
        """The ``prefect.flow-run.heartbeat`` events the server stored for a flow run, once it has any (the server
        stores events in batches, seconds after they arrive)."""
        body = {
            "filter": {
                "event": {"name": ["prefect.flow-run.heartbeat"]},
                "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]},
            },
            "limit": 50,
        }
        deadline = time.monotonic() + timeout
        while True:
            reply = httpx.post(f"{self.api_url}/events/filter", json=body, timeout=10)
            reply.raise_for_status()
            events = reply.json()["events"]
            if events or time.monotonic() > deadline:
                return events
            time.sleep(1)

    def wait_for_run(self, state_type: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = self.flow_runs(state_type)
            if runs:
                return runs[0]
            time.sleep(2)
        states = [(r["name"], r["state_name"]) for r in self.flow_runs()]
        raise AssertionError(f"no {state_type} flow run within {timeout:.0f} s; runs on the server: {states}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """The project's Prefect server for a fresh data folder, started and stopped by `tradewh server`."""
    home = tmp_path / "home"
    env = _env(home)
    started = _tradewh("server", "start", "--port", str(_free_port()), env=env, timeout=240)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads((home / "prefect" / "server.json").read_text())
    api_url = f"http://{state['host']}:{state['port']}/api"
    assert state["host"] == "127.0.0.1"
    assert httpx.get(f"{api_url}/health", timeout=5).json() is True
    status = _tradewh("server", "status", env=env)
    assert status.returncode == 0 and f"PREFECT_API_URL={api_url}" in status.stdout
    try:
        yield Server(home, api_url, state["pid"])
    finally:
        stopped = _tradewh("server", "stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert _gone(state["pid"]), f"the Prefect server (pid {state['pid']}) is still running"
        assert _tradewh("server", "status", env=env).returncode == 3


def _published_runs(home: Path) -> list[tuple]:
    with duckdb.connect(str(home / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        return con.execute("select run_id, status from audit.load_runs order by started_at").fetchall()


def test_serve_refuses_a_temporary_server(tmp_path):
    result = _tradewh("serve", "--cron", "* * * * *", env=_env(tmp_path / "home"), timeout=60)
    assert result.returncode == 1
    assert "no Prefect server to schedule on" in result.stderr and "tradewh server start" in result.stderr


def test_serve_runs_the_nightly_on_its_cron_and_publishes(server):
    env = _env(server.home)  # no PREFECT_API_URL: serve finds the project's server under TRADEWH_HOME
    serve = subprocess.Popen(
        [str(BIN / "tradewh"), "serve", "--cron", "* * * * *"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        start_new_session=True,
    )
    try:
        run = server.wait_for_run("COMPLETED", timeout=200)  # the first minute boundary, plus the run
    finally:
        _stop(serve)
    output = serve.stdout.read()
    assert f"on the Prefect server at {server.api_url}" in output
    assert run["deployment_id"] is not None and run["auto_scheduled"] is True, run
    # the served run's heartbeat is the flow engine's own (warehouse.orchestrate.heartbeat): one, not two
    [beat] = server.heartbeats(run["id"])
    assert {r["prefect.resource.role"] for r in beat["related"]} >= {"flow", "deployment"}, beat
    published = _published_runs(server.home)
    assert published and published[0][1] == "succeeded"
    assert _gone(serve.pid)


def test_prefect_yaml_deployment_runs_through_a_process_worker(server):
    env = _env(server.home, PREFECT_API_URL=server.api_url, TRADEWH_PROJECT_ROOT=str(PROJECT_ROOT))
    prefect = str(BIN / "prefect")
    pool = subprocess.run(
        [prefect, "work-pool", "create", "tradewh", "--type", "process"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert pool.returncode == 0, pool.stdout + pool.stderr
    deploy = subprocess.run(
        [prefect, "--no-prompt", "deploy", "--name", "tradewh-nightly", "--cron", "* * * * *"],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=180,
    )
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    worker = subprocess.Popen(
        [prefect, "worker", "start", "--pool", "tradewh"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=server.home,
        start_new_session=True,
    )
    try:
        run = server.wait_for_run("COMPLETED", timeout=240)
    finally:
        _stop(worker)
    assert run["work_pool_name"] == "tradewh" and run["auto_scheduled"] is True, run
    assert _published_runs(server.home)[0][1] == "succeeded"
    assert _gone(worker.pid)


def test_a_load_sends_the_flow_runs_heartbeat_itself_once_not_twice(server):
    """`tradewh load` turns the engine's heartbeats off and the flow sends the same event (a thread that stops when
    the flow returns, instead of one the engine waits up to a second for): the server has exactly one heartbeat
    for the run (the engine's and the flow's together would be two), naming the run and its flow as the engine's
    does, so Prefect's zombie-flow automation sees the run."""
    result = _tradewh("load", env=_env(server.home))
    assert result.returncode == 0, result.stdout + result.stderr
    [run] = server.flow_runs()
    assert run["state_type"] == "COMPLETED", run
    [beat] = server.heartbeats(run["id"])
    assert beat["resource"]["prefect.resource.id"] == f"prefect.flow-run.{run['id']}"
    assert beat["resource"]["prefect.resource.name"] == run["name"]
    [flow] = [r for r in beat["related"] if r["prefect.resource.role"] == "flow"]
    assert flow["prefect.resource.id"] == f"prefect.flow.{run['flow_id']}"
    assert flow["prefect.resource.name"] == "tradewh-nightly"


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook on 127.0.0.1 that keeps what it is sent."""

    def __init__(self) -> None:
        self.received: list[dict] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # noqa: N805
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.append({"path": handler.path, "json": json.loads(body)})
                handler.send_response(204)
                handler.end_headers()

            def log_message(handler, *args) -> None:  # noqa: N805
                pass

        super().__init__(("127.0.0.1", 0), Handler)


def _catalogue_with_unreadable_release(tmp_path: Path) -> Path:
    """The shipped catalogue, with the press release read from an HTML page instead of its CSV."""
    local = tmp_path / "release" / "figures.csv"
    local.parent.mkdir()
    shutil.copy(FIXTURES / "catalogue" / "not_csv.html", local)
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    text = text.replace(
        'location = { seed = "mofcom_2012_technology_trade/figures.csv" }', f'location = {{ path = "{local}" }}'
    )
    catalogue = tmp_path / "catalogue.toml"
    catalogue.write_text(text)
    return catalogue


def test_a_failing_night_is_failed_in_prefect_and_notified(server, tmp_path):
    receiver = Receiver()
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    secret = "tok3n-not-for-logs"
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook/{secret}"
    env = _env(
        server.home,
        TRADEWH_CATALOGUE=str(_catalogue_with_unreadable_release(tmp_path)),
        TRADEWH_ALLOWED_ROOTS=str(tmp_path),
        TRADEWH_NOTIFY_URL=hook,
    )
    try:
        result = _tradewh("load", env=env)
    finally:
        receiver.shutdown()
        receiver.server_close()
    output = result.stdout + result.stderr
    assert result.returncode == 2, output  # partial: the CLI's exit codes stay
    assert f"runs on the Prefect server at {server.api_url}" in output
    assert "Starting temporary server" not in output  # no per-run server
    assert secret not in output
    [run] = server.flow_runs()
    assert run["state_type"] == "FAILED" and run["state_name"] == "Partial", run
    assert "mofcom_2012_technology_trade" in run["state"]["message"]
    assert "html_not_csv" in run["state"]["message"]
    [sent] = receiver.received
    assert sent["path"] == f"/hook/{secret}"
    event = sent["json"]
    assert event["flow_run_id"] == run["id"] and event["state"] == "Partial" and event["status"] == "partial"
    assert [s["source_id"] for s in event["failed_sources"]] == ["mofcom_2012_technology_trade"]
    assert event["run_id"] in output and Path(event["log_file"]).exists()
    log_text = Path(event["log_file"]).read_text()
    assert "html_not_csv" in log_text and secret not in log_text
    # the rest of the night is published; status shows the run
    assert _published_runs(server.home)[-1] == (event["run_id"], "partial")
