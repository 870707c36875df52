"""Shared fixtures: paths, the real publishers' files (skipped where absent), and one loaded warehouse."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _prefect_offline(home: Path) -> None:
    # Before any flow runs: keep Prefect's state in a temporary folder, no telemetry, room to start.
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"
    os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"  # nothing to send once the server stops
    os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "180"
    (home / "prefect").mkdir(parents=True, exist_ok=True)


# Fixtures that run the real Prefect flow (a server start, a full load): tests using them are in the full tier only
PREFECT_FIXTURES = frozenset({"loaded", "prefect_home"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tier the suite: a test that runs the real flow (through ``PREFECT_FIXTURES``) is marked ``prefect``;
    ``make check`` runs what is neither ``slow`` nor ``prefect`` (no Prefect server, no browser, no subprocess
    load), ``make test`` and CI run everything."""
    for item in items:
        if PREFECT_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.prefect)


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """tradewh's cache folder (``TRADEWH_CACHE_DIR``: the migrated Prefect database new data folders start from)
    in the session's temporary folder, not the user's; the loads the tests spawn inherit it."""
    os.environ.setdefault("TRADEWH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (the real publishers' files), or skip the test with the reason."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real publishers' files not found at {SHARED_DATA} (CI provides them)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("prefect")
    _prefect_offline(home)
    return home


def run_nightly(home: Path, catalogue: Path | None = None, **env: str) -> dict[str, object]:
    """Run the real Prefect flow once against a data folder (and optionally another catalogue)."""
    from flows.nightly import nightly

    saved = dict(os.environ)
    os.environ["TRADEWH_HOME"] = str(home)
    if catalogue is not None:
        os.environ["TRADEWH_CATALOGUE"] = str(catalogue)
    os.environ.update(env)
    try:
        state = nightly(return_state=True)  # a partial night ends FAILED ("Partial") with the same result
        result = state.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            raise result
        return result
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def loaded(tmp_path_factory: pytest.TempPathFactory, prefect_home: Path) -> dict[str, object]:
    """The project's own catalogue loaded twice into a fresh data folder, through the real flow.

    Returns the data folder, the warehouse path, both run results and a copy of the warehouse file as it
    was after the first run.
    """
    home = tmp_path_factory.mktemp("tradewh-home")
    first = run_nightly(home)
    warehouse = home / "warehouse" / "tradewh.duckdb"
    after_first = home.parent / "after-first-run.duckdb"
    shutil.copy(warehouse, after_first)
    second = run_nightly(home)
    return {"home": home, "warehouse": warehouse, "first": first, "second": second, "after_first": after_first}


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop Prefect's ephemeral server while pytest's streams are still open (its atexit log would hit a closed one)."""
    module = sys.modules.get("prefect.server.api.server")  # only where a test started one: importing it costs 1.5 s
    if module is None:
        return
    SubprocessASGIServer = module.SubprocessASGIServer  # noqa: N806
    for server in list(SubprocessASGIServer._instances.values()):  # noqa: SLF001
        server.stop()


# --- a browser, for the pages (report, docs): Debian's headless Chromium with no network -------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no host name resolves: nothing leaves the machine
    "--enable-logging=stderr",
    "--v=0",
)


def find_chromium() -> str | None:
    """Debian's ``/usr/bin/chromium``, else ``chromium`` on PATH, else None."""
    return next((p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and os.access(p, os.X_OK)), None)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium, or skip (outside CI) / fail (in CI) with how to install it."""
    found = find_chromium()
    if found is None:
        reason = "Chromium not found (/usr/bin/chromium or chromium on PATH): apt-get install -y chromium (as root)"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
        pytest.skip(reason)
    return found


@pytest.fixture(scope="session")
def no_network_prefix() -> list[str]:
    """``unshare --net`` where a new, empty network namespace can be made (root); nothing otherwise."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    try:
        probe = subprocess.run([unshare, "--net", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [unshare, "--net"] if probe.returncode == 0 else []
