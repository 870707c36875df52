"""Bad nights, with real processes: SIGKILL at each stage, two loads at once, a reader during a load."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.common.failpoints import NAMES

pytestmark = pytest.mark.slow  # real `tradewh load` processes: the full tier (`make test`)

SEED = PROJECT_ROOT / "seeds" / "mofcom_2012_technology_trade" / "figures.csv"
FIGURES = ["core.fct_trade_figure", "marts.trade_balance", "marts.claim_checks", "marts.trade_figure_history"]


def _env(workdir: Path, home: Path, prefect: str = "prefect") -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "TRADEWH_HOME": str(home),
        "TRADEWH_CATALOGUE": str(workdir / "catalogue.toml"),
        "TRADEWH_ALLOWED_ROOTS": str(workdir),
        "PREFECT_HOME": str(workdir / prefect),
        "PREFECT_LOGGING_TO_API_ENABLED": "false",
    }
    env.pop("TRADEWH_FAILPOINT", None)
    return env


def start(workdir: Path, home: Path, *, failpoint: str | None = None, prefect: str = "prefect") -> subprocess.Popen:
    """`tradewh load` in its own process group (Prefect's local server is its child: a SIGKILL orphans it)."""
    env = _env(workdir, home, prefect)
    if failpoint:
        env["TRADEWH_FAILPOINT"] = failpoint
    log = open(workdir / f"load-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115 (closed in finish)
    proc = subprocess.Popen(
        [sys.executable, "-m", "warehouse.serve.cli", "load"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    proc.log = log  # type: ignore[attr-defined]
    return proc


def finish(proc: subprocess.Popen) -> tuple[int, str]:
    """Wait for a load, then end whatever it left running (an orphaned server), and return (code, output)."""
    try:
        code = proc.wait(timeout=300)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.log.seek(0)  # type: ignore[attr-defined]
    output = proc.log.read()  # type: ignore[attr-defined]
    proc.log.close()  # type: ignore[attr-defined]
    return code, output


def load(workdir: Path, home: Path, *, failpoint: str | None = None) -> tuple[int, str]:
    return finish(start(workdir, home, failpoint=failpoint))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def figures(warehouse: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            t: sorted(
                con.execute(
                    f"select * exclude (file_sha256) from {t}" if "fct" in t else f"select * from {t}"
                ).fetchall(),
                key=repr,
            )
            for t in FIGURES
        }  # noqa: E501


def revise(workdir: Path) -> None:
    """The publisher re-serves the release with one figure changed (exports 2011: 21.4 -> 21.5)."""
    path = workdir / "release" / "figures.csv"
    text = path.read_text().replace(",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,")
    assert text != path.read_text()
    path.write_text(text)


def debris(home: Path) -> list[Path]:
    leftovers = [p for p in home.rglob("*") if p.name.startswith((".part-", ".manifest-")) or ".building" in p.name]
    for manifest in (home / "lake").glob("*/*/_manifest.json"):
        import json

        named = {manifest.parent / v / n for v, n in json.loads(manifest.read_text())["files"].items()}
        leftovers += [p for p in manifest.parent.glob("*/data-*.parquet") if p not in named]
    return leftovers


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work folder with its own catalogue, loaded once: the warehouse as published before a bad night."""
    workdir = tmp_path_factory.mktemp("crash")
    (workdir / "release").mkdir()
    shutil.copy(SEED, workdir / "release" / "figures.csv")
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    local = workdir / "release" / "figures.csv"
    text = text.replace(
        'location = { seed = "mofcom_2012_technology_trade/figures.csv" }', f'location = {{ path = "{local}" }}'
    )
    (workdir / "catalogue.toml").write_text(text)
    code, output = load(workdir, workdir / "home")
    assert code == 0, output[-3000:]
    return workdir


@pytest.fixture(scope="module")
def uninterrupted(baseline: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple]]:
    """The figures after the revised release loads without a crash."""
    workdir = tmp_path_factory.mktemp("control")
    shutil.copytree(baseline, workdir, dirs_exist_ok=True)
    _repoint(workdir, baseline)
    revise(workdir)
    code, output = load(workdir, workdir / "home")
    assert code == 0, output[-3000:]
    return figures(workdir / "home" / "warehouse" / "tradewh.duckdb")


def _repoint(workdir: Path, baseline: Path) -> None:
    catalogue = workdir / "catalogue.toml"
    catalogue.write_text(catalogue.read_text().replace(str(baseline), str(workdir)))


@pytest.mark.parametrize("stage", NAMES)
def test_sigkill_leaves_the_published_warehouse_as_it_was(stage, baseline, uninterrupted, tmp_path):
    workdir = tmp_path / "work"
    shutil.copytree(baseline, workdir)
    _repoint(workdir, baseline)
    published = workdir / "home" / "warehouse" / "tradewh.duckdb"
    before = sha256(published)
    revise(workdir)

    code, output = load(workdir, workdir / "home", failpoint=stage)
    assert code == -signal.SIGKILL, f"the failpoint '{stage}' did not fire: {output[-2000:]}"
    assert sha256(published) == before  # readers still see exactly the last complete load

    code, output = load(workdir, workdir / "home")
    assert code == 0, output[-3000:]
    assert debris(workdir / "home") == []
    assert figures(published) == uninterrupted


def test_sigkill_while_a_no_op_run_publishes_leaves_the_warehouse_and_the_next_run_rebuilds(baseline, tmp_path):
    """Nothing changed: the run publishes a copy of the warehouse with its audit rows and dies in the swap."""
    workdir = tmp_path / "work"
    shutil.copytree(baseline, workdir)
    _repoint(workdir, baseline)
    published = workdir / "home" / "warehouse" / "tradewh.duckdb"
    code, output = load(workdir, workdir / "home")  # the catalogue now points here: rebuilt once
    assert code == 0, output[-3000:]
    before, kept = sha256(published), figures(published)

    code, output = load(workdir, workdir / "home", failpoint="publish")
    assert code == -signal.SIGKILL, f"the failpoint 'publish' did not fire: {output[-2000:]}"
    assert sha256(published) == before
    (copy,) = published.parent.glob(".*.building")  # what it was publishing: the copy, not a new build
    with duckdb.connect(str(copy), read_only=True) as con:
        publishes = con.execute("select is_rebuilt from audit.builds order by published_at").fetchall()
    assert publishes == [(True,), (False,)]

    code, output = load(workdir, workdir / "home")
    assert code == 0, output[-3000:]
    assert debris(workdir / "home") == []
    assert figures(published) == kept
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from audit.load_runs").fetchall() == [(4,)]  # the killed run included
        assert con.execute("select is_rebuilt from audit.builds").fetchall() == [(True,)]


def test_two_loads_at_once_one_refuses(baseline, tmp_path):
    workdir = tmp_path / "work"
    shutil.copytree(baseline, workdir)
    _repoint(workdir, baseline)
    shutil.rmtree(workdir / "home")
    procs = [start(workdir, workdir / "home", prefect=f"prefect{i}") for i in range(2)]
    results = [finish(p) for p in procs]
    assert sorted(code for code, _ in results) == [0, 75], results
    refused = next(output for code, output in results if code == 75)
    assert "another tradewh load is running" in refused
    with duckdb.connect(str(workdir / "home" / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from audit.load_runs").fetchall() == [(1,)]
        assert con.execute("select count(*) from raw.press_release").fetchall() == [(15,)]


READER = """
import sys, time, duckdb
from pathlib import Path
path, go = sys.argv[1], Path(sys.argv[2])
con = duckdb.connect(path, read_only=True)
query = "select exports from marts.trade_balance where period = '2011' and measure = 'technology_contract_value'"
print(con.execute(query).fetchall()[0][0], flush=True)
deadline = time.time() + 240
while not go.exists() and time.time() < deadline:
    time.sleep(0.2)
print(con.execute(query).fetchall()[0][0], flush=True)
"""


def test_a_reader_is_never_blocked_and_sees_old_then_new(baseline, tmp_path):
    workdir = tmp_path / "work"
    shutil.copytree(baseline, workdir)
    _repoint(workdir, baseline)
    published = workdir / "home" / "warehouse" / "tradewh.duckdb"
    go = tmp_path / "go"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(published), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_line = reader.stdout.readline()
    assert float(first_line) == 21.4e9  # the reader holds its connection open from here on
    revise(workdir)
    started = time.monotonic()
    code, output = load(workdir, workdir / "home")
    assert code == 0, output[-3000:]  # the load was not blocked by the reader
    go.touch()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    assert float(out) == 21.4e9  # the open connection keeps the load it started with
    query = "select exports from marts.trade_balance where period = '2011' and measure = 'technology_contract_value'"
    with duckdb.connect(str(published), read_only=True) as con:  # a new reader (another process) sees the new one
        assert con.execute(query).fetchall() == [(21.5e9,)]
    assert time.monotonic() - started < 300
