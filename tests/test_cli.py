"""The tradewh command: every subcommand has help, reads read-only, and says how to fix what is wrong."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.serve.cli import build_parser, format_table, main


def tradewh(*args: str, home=None, cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    if home is not None:
        env["TRADEWH_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "warehouse.serve.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


SUBCOMMANDS = build_parser()._subparsers._group_actions[0].choices  # noqa: SLF001


def test_the_commands_are_all_there():
    expected = {"load", "serve", "server", "sql", "sources", "status", "freshness", "rollback", "export"}
    expected |= {"dictionary", "report", "docs", "verify", "check-source"}
    assert set(SUBCOMMANDS) == expected


@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_every_command_has_help_with_an_example(command):
    sub = SUBCOMMANDS[command]
    text = sub.format_help()
    assert sub.description, f"`tradewh {command} --help` says nothing about what it does"
    assert sub.description in " ".join(text.split())
    examples = [line for line in text.splitlines() if line.startswith("example: ")]
    assert len(examples) == 1, f"`tradewh {command} --help` should end with one 'example: tradewh {command} ...' line"
    argv = shlex.split(examples[0].removeprefix("example: "))
    assert argv[:2] == ["tradewh", command]
    assert build_parser().parse_args(argv[1:]).command == command  # the example is a valid command line


def test_help_runs_for_every_command():
    for command in SUBCOMMANDS:
        result = tradewh(command, "--help")
        assert result.returncode == 0, result.stderr
        assert f"example: tradewh {command}" in result.stdout


def test_sources_lists_the_catalogue(capsys):
    assert main(["sources"]) == 0
    out = capsys.readouterr().out
    for source_id in ("mofcom_2012_technology_trade", "wdi_2013", "wdi_current"):
        assert source_id in out


def test_sql_prints_an_aligned_table(loaded, tmp_path):
    result = tradewh(
        "sql",
        "select reporter, round(balance / 1e9, 2) as balance_bn from marts.trade_balance "
        "where measure = 'technology_contract_value' and period = '2011'",
        home=loaded["home"],
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["reporter", "balance_bn"]
    assert lines[2].split() == ["CHN", "-10.76"]
    assert lines[-1] == "(1 row)"


def test_sql_emits_csv_and_json(loaded):
    query = "select figure_id, verdict from marts.claim_checks where figure_id = 'total_2011'"
    csv_out = tradewh("sql", query, "--format", "csv", home=loaded["home"])
    assert csv_out.stdout.splitlines() == ["figure_id,verdict", "total_2011,consistent"]
    json_out = tradewh("sql", query, "--format", "json", home=loaded["home"])
    assert json.loads(json_out.stdout) == [{"figure_id": "total_2011", "verdict": "consistent"}]


def test_sql_is_read_only(loaded):
    result = tradewh("sql", "create table marts.x as select 1", home=loaded["home"])
    assert result.returncode == 1
    assert "read-only" in result.stderr.lower()


def test_status_shows_the_runs(loaded):
    result = tradewh("status", home=loaded["home"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("succeeded") >= 2
    assert "skipped" in result.stdout


def test_status_fits_100_columns_and_shows_one_run_in_detail(loaded):
    result = tradewh("status", home=loaded["home"])
    assert max(len(line) for line in result.stdout.splitlines() if not line.startswith("last run")) <= 100
    run_id = loaded["second"]["run_id"]
    assert run_id in result.stdout  # ids are never cut to fit
    detail = tradewh("status", "--run", run_id, home=loaded["home"])
    assert detail.returncode == 0, detail.stderr
    assert f"run {run_id}: succeeded" in detail.stdout
    assert f"log: {loaded['second']['log_file']}" in detail.stdout
    for source_id in ("mofcom_2012_technology_trade", "wdi_current"):
        assert source_id in detail.stdout
    unknown = tradewh("status", "--run", "nope", home=loaded["home"])
    assert unknown.returncode == 1 and "no run nope" in unknown.stderr


def test_status_last_0_prints_nothing_and_a_closed_pipe_is_no_traceback(loaded):
    assert tradewh("status", "--last", "0", home=loaded["home"]).stdout == ""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TRADEWH_HOME": str(loaded["home"])}
    piped = subprocess.run(
        f"{shlex.quote(sys.executable)} -m warehouse.serve.cli status --last 50 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert piped.stdout.startswith("run_id")
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_version_names_the_parts():
    result = tradewh("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("tradewh ") and "Prefect 3." in result.stdout and "DuckDB" in result.stdout


def test_a_table_is_cut_to_the_width_but_not_its_first_column():
    rows = [("20261204T212649-1fe134", "x" * 200, 12345)]
    lines = format_table(["run_id", "message", "n"], rows, width=60).splitlines()
    assert all(len(line) <= 60 for line in lines)
    assert lines[2].startswith("20261204T212649-1fe134") and lines[2].rstrip().endswith("12345")
    assert "\u2026" in lines[2]


def test_missing_warehouse_says_how_to_fix_it(tmp_path):
    result = tradewh("sql", "select 1", home=tmp_path / "empty")
    assert result.returncode != 0
    assert "run `tradewh load` first" in result.stderr


def test_format_table_aligns_numbers_right():
    text = format_table(["a", "n"], [("x", 1.5), ("long", 10.0)])
    assert text.splitlines()[2:4] == ["x     1.5", "long   10"]


def test_rollback_puts_the_previous_publish_back(loaded, tmp_path):
    import hashlib
    import shutil

    home = tmp_path / "home"
    shutil.copytree(loaded["home"] / "warehouse", home / "warehouse")
    current = home / "warehouse" / "tradewh.duckdb"
    previous = current.with_name("tradewh.duckdb.previous")
    digest = hashlib.sha256(previous.read_bytes()).hexdigest()
    result = tradewh("rollback", home=home)
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256(current.read_bytes()).hexdigest() == digest
    again = tradewh("rollback", home=home)
    assert again.returncode == 1 and "no previous publish" in again.stderr


# --- tradewh sql for analysts: limits, input, pipes, width, timeout ------------------------------------------------


def tradewh_sql(*args: str, home, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """``tradewh sql`` in a subprocess, standard input from ``stdin`` (closed when None), no COLUMNS unless given."""
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    environ.update(PYTHONPATH=str(PROJECT_ROOT), TRADEWH_HOME=str(home), **env)
    return subprocess.run(
        [sys.executable, "-m", "warehouse.serve.cli", "sql", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


def _balance_rows(loaded) -> int:
    import duckdb

    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:
        return con.execute("select count(*) from marts.trade_balance").fetchone()[0]


def test_sql_table_shows_100_rows_by_default_and_counts_the_rest(loaded):
    total = _balance_rows(loaded)
    assert total > 200  # else the test proves nothing
    result = tradewh_sql("select source_id, period from marts.trade_balance", home=loaded["home"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 2 + 100 + 1
    assert lines[-1].startswith(f"({total:,} rows, first 100 shown: {total - 100:,} left out;")
    limited = tradewh_sql("select source_id from marts.trade_balance", "--limit", "7", home=loaded["home"])
    assert len(limited.stdout.splitlines()) == 2 + 7 + 1
    assert f"first 7 shown: {total - 7:,} left out" in limited.stdout
    every = tradewh_sql("select source_id from marts.trade_balance", "--all", home=loaded["home"])
    assert every.stdout.splitlines()[-1] == f"({total} rows)"  # format_table's own count line
    assert len(every.stdout.splitlines()) == 2 + total + 1
    exact = tradewh_sql("select * from range(100)", home=loaded["home"])  # exactly the limit: nothing left out
    assert exact.stdout.splitlines()[-1] == "(100 rows)"
    both = tradewh_sql("select 1", "--all", "--limit", "3", home=loaded["home"])
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_sql_csv_and_json_stream_every_row_unless_limited(loaded):
    total = _balance_rows(loaded)
    query = "select source_id, period, exports from marts.trade_balance"
    csv_out = tradewh_sql(query, "--format", "csv", home=loaded["home"])
    assert csv_out.returncode == 0, csv_out.stderr
    assert len(csv_out.stdout.splitlines()) == 1 + total
    json_out = tradewh_sql(query, "--format", "json", home=loaded["home"])
    assert len(json.loads(json_out.stdout)) == total
    assert json.loads(tradewh_sql("select 1 as a where false", "--format", "json", home=loaded["home"]).stdout) == []
    capped = tradewh_sql(query, "--format", "json", "--limit", "3", home=loaded["home"])
    assert len(json.loads(capped.stdout)) == 3  # the note goes to stderr, away from the data
    assert f"3 rows written, {total - 3:,} more left out by --limit 3" in capped.stderr


def test_sql_reads_the_query_from_stdin_or_a_file(loaded, tmp_path):
    query = "select verdict from marts.claim_checks where figure_id = 'total_2011'"
    for args in (("-",), ()):
        result = tradewh_sql(*args, "--format", "csv", home=loaded["home"], stdin=query + ";\n")
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == ["verdict", "consistent"]
    path = tmp_path / "q.sql"
    path.write_text("-- a saved query\n" + query + ";\n")
    from_file = tradewh_sql("--file", str(path), "--format", "csv", home=loaded["home"])
    assert from_file.stdout.splitlines() == ["verdict", "consistent"]
    both = tradewh_sql("select 1", "--file", str(path), home=loaded["home"])
    assert both.returncode == 2 and "not both" in both.stderr
    empty = tradewh_sql("-", home=loaded["home"], stdin="  \n")
    assert empty.returncode == 2 and "empty" in empty.stderr
    missing = tradewh_sql("--file", str(tmp_path / "nope.sql"), home=loaded["home"])
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_sql_into_a_closed_pipe_is_no_traceback(loaded, fmt):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TRADEWH_HOME": str(loaded["home"])}
    query = shlex.quote("select range, repeat('x', 40) as text from range(300000)")
    command = f"{shlex.quote(sys.executable)} -m warehouse.serve.cli sql --format {fmt} --all {query} | head -1; "
    command += "exit ${PIPESTATUS[0]}"
    piped = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120
    )  # 300,000 rows of 50 bytes: far more than a pipe holds, so the writer meets the closed pipe
    assert piped.stdout.splitlines() == [{"table": "range   text", "csv": "range,text", "json": "["}[fmt]], piped.stderr
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr
    assert piped.returncode == 141


def test_sql_table_fits_the_width(loaded):
    query = "select * from marts.claim_checks"
    narrow = tradewh_sql(query, "--width", "80", home=loaded["home"])
    lines = narrow.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert lines[2].startswith("mofcom_2012_technology_trade")  # the first column is never cut
    assert "\u2026" in narrow.stdout and "more columns, --width 0 shows them" in lines[-1]
    terminal = tradewh_sql(query, home=loaded["home"], COLUMNS="100")
    assert max(len(line) for line in terminal.stdout.splitlines()) <= 100
    piped = tradewh_sql(query, home=loaded["home"])  # no terminal, no COLUMNS: nothing cut
    assert max(len(line) for line in piped.stdout.splitlines()) > 200
    assert "\u2026" not in piped.stdout and "more column" not in piped.stdout
    assert tradewh_sql(query, "--width", "0", home=loaded["home"], COLUMNS="100").stdout == piped.stdout


def test_sql_timeout_stops_a_long_query(loaded):
    import time

    started = time.monotonic()
    result = tradewh_sql(
        "select count(*) from range(100000000000) t where t.range % 7 = 3", "--timeout", "1", home=loaded["home"]
    )
    assert result.returncode == 1
    assert "ran longer than --timeout 1 s and was stopped" in result.stderr
    assert "Traceback" not in result.stderr
    assert time.monotonic() - started < 60  # the query alone takes many minutes
    quick = tradewh_sql("select 42 as answer", "--timeout", "30", home=loaded["home"])
    assert quick.returncode == 0 and "42" in quick.stdout


# --- the `tradewh` command itself (warehouse.serve.command: main, then os._exit once the exit handlers ran) -------

COMMAND = str(Path(sys.executable).with_name("tradewh"))


def test_the_command_is_the_console_script_of_warehouse_serve_command():
    script = Path(COMMAND).read_text()
    assert "from warehouse.serve.command import run" in script, script


def test_the_command_writes_every_row_and_keeps_the_exit_codes(loaded, tmp_path):
    env = {**os.environ, "TRADEWH_HOME": str(loaded["home"])}
    rows = subprocess.run(
        [COMMAND, "sql", "--format", "csv", "--all", "select range from range(300000)"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert rows.returncode == 0, rows.stderr
    lines = rows.stdout.splitlines()
    assert len(lines) == 300_001 and lines[-1] == "299999"  # the buffered tail is flushed before the process ends
    for args, code in [(["no-such-command"], 2), (["sql", "select * from no_such_table"], None), (["--help"], 0)]:
        ran = subprocess.run([COMMAND, *args], capture_output=True, text=True, env=env, timeout=120)
        same = subprocess.run(
            [sys.executable, "-m", "warehouse.serve.cli", *args], capture_output=True, text=True, env=env, timeout=120
        )
        assert ran.returncode == same.returncode and (code is None or ran.returncode == code), (args, ran.stderr)
        assert ran.returncode != 0 or args == ["--help"]
        assert (ran.stdout, ran.stderr) == (same.stdout, same.stderr)


def test_the_command_into_a_closed_pipe_is_no_traceback(loaded):
    env = {**os.environ, "TRADEWH_HOME": str(loaded["home"])}
    query = shlex.quote("select range, repeat('x', 40) as text from range(300000)")
    command = f"{shlex.quote(COMMAND)} sql --format csv --all {query} | head -1; exit ${{PIPESTATUS[0]}}"
    piped = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert piped.stdout.splitlines() == ["range,text"] and "Traceback" not in piped.stderr, piped.stderr
    assert piped.returncode == 141


def test_the_command_ends_after_every_exit_handler_registered_later(tmp_path):
    # a library imported by a command registers its exit handlers after the command's own: each must still run
    # (Prefect drains its log and event workers there, DuckDB closes its connections) before the process ends
    marker = tmp_path / "handler-ran"
    program = (
        "import atexit, sys\n"
        "from pathlib import Path\n"
        "from warehouse.serve import command\n"
        "import warehouse.serve.cli as cli\n"
        f"cli.main = lambda: (atexit.register(Path({str(marker)!r}).write_text, 'yes'), 3)[1]\n"
        "command.run()\n"
    )
    ended = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert ended.returncode == 3, ended.stderr
    assert marker.read_text() == "yes"


def test_the_command_interrupted_exits_130_as_a_shell_expects(tmp_path):
    program = (
        "import warehouse.serve.cli as cli\n"
        "from warehouse.serve import command\n"
        "def interrupted():\n"
        "    raise KeyboardInterrupt\n"
        "cli.main = interrupted\n"
        "command.run()\n"
    )
    ended = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert ended.returncode == 130 and "KeyboardInterrupt" in ended.stderr


def test_load_imports_staging_in_a_thread_before_the_flow():
    """`tradewh load` starts importing staging's modules (pandas, pandera) in a thread before the flow's own import:
    a fresh interpreter has none of them, and after the thread they are all there (the time it saves, ~0.24 s of a
    1M-row load, is measured in BENCHMARKS.md)."""
    code = (
        "import sys, threading\n"
        "from warehouse.serve.operations import _import_staging_early\n"
        "assert 'pandas' not in sys.modules and 'warehouse.stage.staging' not in sys.modules\n"
        "_import_staging_early()\n"
        "threads = [t for t in threading.enumerate() if t.name == 'tradewh-import-staging']\n"
        "assert len(threads) == 1 and threads[0].daemon\n"
        "threads[0].join()\n"
        "assert {'pandas', 'pandera', 'warehouse.stage.staging'} <= set(sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_an_import_that_meets_the_staging_thread_in_a_cycle_is_made_again(tmp_path, monkeypatch):
    """Two modules that import each other, one imported by a thread, the other by the caller at once: each holds one
    module's lock and wants the other's, and Python hands the caller the thread's module half-run, so its
    ``from ... import`` fails (a real ImportError, not a stand-in). ``import_beside`` waits for the thread and
    imports again: the module comes back whole."""
    import importlib

    from warehouse.serve.operations import import_beside

    # both modules start (each thread holding one module's lock) before either imports the other; the caller then
    # gives the thread half a second to block on p, so the caller is the one to meet the cycle
    (tmp_path / "tradewh_cycle_sync.py").write_text("import threading\np, q = threading.Event(), threading.Event()\n")
    (tmp_path / "tradewh_cycle_p.py").write_text(
        "import time, tradewh_cycle_sync as sync\n"
        "if not sync.p.is_set():\n    sync.p.set(); sync.q.wait(10); time.sleep(0.5)\n"
        "from tradewh_cycle_q import VALUE as Q_VALUE\nVALUE = 'p'\n"
    )
    (tmp_path / "tradewh_cycle_q.py").write_text(
        "import tradewh_cycle_sync as sync\nsync.q.set(); sync.p.wait(10)\nimport tradewh_cycle_p\nVALUE = 'q'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("tradewh_cycle_p", "tradewh_cycle_q", "tradewh_cycle_sync"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.import_module("tradewh_cycle_sync")
    thread = threading.Thread(target=importlib.import_module, args=("tradewh_cycle_q",), daemon=True)
    thread.start()
    attempts = []

    def load():
        attempts.append(1)
        return importlib.import_module("tradewh_cycle_p")

    module = import_beside(thread, load)
    assert (module.VALUE, module.Q_VALUE) == ("p", "q")
    assert len(attempts) == 2  # the first met the half-run module, the second imported it whole
    assert not thread.is_alive()


def test_an_import_that_fails_otherwise_is_not_made_again():
    from warehouse.serve.operations import import_beside

    thread = threading.Thread(target=lambda: None)
    thread.start()
    attempts = []

    def load():
        attempts.append(1)
        raise RuntimeError("something else")

    with pytest.raises(RuntimeError, match="something else"):
        import_beside(thread, load)
    assert len(attempts) == 1


# the command imports with the cyclic collector paused, and runs its work with it on and the imports frozen
# (warehouse.common.startup)
COLLECTOR_DRIVER = """
import gc, sys
from warehouse.serve import cli, operations

def report(where):
    print(f"{where}: collector on {gc.isenabled()}, frozen {gc.get_freeze_count()}", flush=True)

class Ran:
    def result(self, raise_on_failure=True):
        return {"summary": [], "log_file": "-", "status": "succeeded"}

def nightly(**kwargs):
    report("flow")
    return Ran()

def status(args, settings):
    report("status")
    return 0

cli.cmd_status = status
operations._nightly = lambda: nightly
sys.argv = ["tradewh", *sys.argv[1:]]
report("start")
from warehouse.serve.command import run
run()
"""


@pytest.mark.parametrize("command", ["status", "load"])
def test_the_command_runs_with_the_collector_on_and_its_imports_frozen(command, tmp_path):
    env = {
        **os.environ,
        "TRADEWH_HOME": str(tmp_path / "home"),
        "TRADEWH_CATALOGUE": str(PROJECT_ROOT / "catalogue.toml"),
        # a server that is never asked: `load` runs the flow above, and starts no ephemeral server for it
        "PREFECT_API_URL": "http://127.0.0.1:9/api",
    }
    ran = subprocess.run(
        [sys.executable, "-c", COLLECTOR_DRIVER, command], capture_output=True, text=True, env=env, timeout=300,
        cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    lines = dict(line.split(": ", 1) for line in ran.stdout.splitlines() if ": collector" in line)
    assert lines["start"] == "collector on True, frozen 0"
    where = "flow" if command == "load" else "status"
    on, frozen = lines[where].split(", frozen ")
    assert on == "collector on True" and int(frozen) > 10_000, lines  # what was imported (DuckDB, Prefect, ...)


def test_the_collector_is_left_alone_where_the_command_did_not_pause_it():
    code = (
        "import gc; from warehouse.common import startup; startup.imports_done(); "
        "print(gc.isenabled(), gc.get_freeze_count()); gc.disable(); startup.imports_done(); "
        "print(gc.isenabled(), gc.get_freeze_count())"
    )
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert ran.stdout.split() == ["True", "0", "False", "0"], ran.stdout + ran.stderr
