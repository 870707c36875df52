"""Read-only means read-only: an attacker's SQL through every reader tradewh runs or the README offers is refused,
and no file is created or changed.

The readers: ``tradewh sql`` (a real process), ``warehouse.common.readonly.connect_read_only`` (what every reading
command uses), the DuckDB CLI opened exactly as the README's "BI tools" section says, and SQLAlchemy engines with
duckdb-engine configured as it says (``connect_args`` and the URI a Superset user types). Each reader gets its own
byte copy of the session's warehouse: in one process DuckDB refuses two configurations of one file.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from warehouse.common.readonly import LOCKED_CONFIG, connect_read_only
from warehouse.serve.export import export_views

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LEGIT = "select count(*) from marts.trade_balance"
# what DuckDB says when it refuses: a file system operation, an extension, or a locked setting
REFUSED = re.compile(
    r"file system operations are disabled by configuration|Loading external extensions is disabled"
    r"|the configuration has been locked|cannot be used in -safe mode"
)

# The README's "BI tools" lines, exactly (test_the_readme_gives_these_settings checks they are there)
CLI_OPTIONS = [
    "-readonly",
    "-no-init",
    "-cmd",
    "SET autoinstall_known_extensions=false; SET autoload_known_extensions=false",
    "-cmd",
    ".safe_mode",
]
ENGINE_CONFIG = (
    '{"enable_external_access": False, "autoinstall_known_extensions": False, '
    '"autoload_known_extensions": False, "lock_configuration": True}'
)
URI_QUERY = (
    "?access_mode=read_only&enable_external_access=false&autoinstall_known_extensions=false"
    "&autoload_known_extensions=false&lock_configuration=true"
)


def attacks(target: Path) -> dict[str, str]:
    """Statements an attacker would run, each writing (if it worked) into ``target`` or reading elsewhere."""
    return {
        "read_csv": "select * from read_csv('/etc/passwd')",
        "read_text": "select * from read_text('/etc/hostname')",
        "glob": "select * from glob('/root/*')",
        "copy_to": f"COPY (select 1 as x) TO '{target}/x.csv'",
        "copy_view_to": f"COPY (select * from marts.trade_balance) TO '{target}/balance.parquet' (format parquet)",
        "attach_read_write": f"ATTACH '{target}/y.duckdb' AS y (READ_WRITE)",
        "export_database": f"EXPORT DATABASE '{target}/dump'",
        "enable_external_access": "SET enable_external_access = true",
        "reset_external_access": "RESET enable_external_access",
        "allowed_directories": f"SET allowed_directories = ['{target}']",
        "install": "INSTALL httpfs",
        "load": "LOAD httpfs",
    }


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(folder: Path) -> dict[str, str]:
    """Every file under a folder with its SHA-256."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def home(loaded: dict, tmp_path: Path) -> Path:
    """A data folder holding a byte copy of the session's warehouse (and nothing else)."""
    folder = tmp_path / "home"
    (folder / "warehouse").mkdir(parents=True)
    shutil.copy(loaded["warehouse"], folder / "warehouse" / "tradewh.duckdb")
    return folder


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """The folder the attacks write into: it must stay empty."""
    folder = tmp_path / "target"
    folder.mkdir()
    return folder


Runner = Callable[[list[str]], list[tuple[bool, str]]]  # statements -> (worked, output or error) for each


def run_tradewh_sql(home: Path) -> Runner:
    def run(statements: list[str]) -> list[tuple[bool, str]]:
        results = []
        for statement in statements:
            done = subprocess.run(
                [str(BIN / "tradewh"), "sql", statement, "--format", "csv"],
                capture_output=True,
                text=True,
                env={**os.environ, "TRADEWH_HOME": str(home)},
                cwd=home,
                timeout=120,
            )
            results.append((done.returncode == 0, done.stdout + done.stderr))
        return results

    return run


def run_duckdb_cli(warehouse: Path) -> Runner:
    """The DuckDB CLI as the README says, one session per statement (an error in one ends nothing else)."""

    def run(statements: list[str]) -> list[tuple[bool, str]]:
        results = []
        for statement in statements:
            done = subprocess.run(
                [str(BIN / "duckdb"), *CLI_OPTIONS, "-bail", "-csv", str(warehouse)],
                input=statement + ("" if statement.startswith(".") else ";") + "\n",
                capture_output=True,
                text=True,
                cwd=warehouse.parent,
                timeout=60,
            )
            results.append((done.returncode == 0 and not done.stderr, done.stdout + done.stderr))
        return results

    return run


def run_connection(con_factory: Callable[[], duckdb.DuckDBPyConnection]) -> Runner:
    def run(statements: list[str]) -> list[tuple[bool, str]]:
        results = []
        with con_factory() as con:
            for statement in statements:
                try:
                    rows = con.execute(statement).fetchall()
                    results.append((True, repr(rows)))
                except duckdb.Error as exc:
                    results.append((False, str(exc)))
        return results

    return run


def run_engine(engine: sa.Engine) -> Runner:
    def run(statements: list[str]) -> list[tuple[bool, str]]:
        results = []
        with engine.connect() as conn:
            for statement in statements:
                try:
                    rows = conn.exec_driver_sql(statement).all()
                    results.append((True, repr(rows)))
                except sa.exc.DBAPIError as exc:
                    conn.rollback()
                    results.append((False, str(exc.orig)))
        return results

    return run


CLIENTS = ["tradewh_sql", "connect_read_only", "duckdb_cli", "sqlalchemy_connect_args", "sqlalchemy_uri"]


@pytest.fixture(params=CLIENTS)
def client(request: pytest.FixtureRequest, home: Path) -> Iterator[Runner]:
    warehouse = home / "warehouse" / "tradewh.duckdb"
    if request.param == "tradewh_sql":
        yield run_tradewh_sql(home)
    elif request.param == "connect_read_only":
        yield run_connection(lambda: connect_read_only(warehouse))
    elif request.param == "duckdb_cli":
        yield run_duckdb_cli(warehouse)
    else:
        if request.param == "sqlalchemy_connect_args":
            config = ast.literal_eval(ENGINE_CONFIG)  # the README's literal, as a user pastes it
            engine = sa.create_engine(f"duckdb:///{warehouse}", connect_args={"read_only": True, "config": config})
        else:
            engine = sa.create_engine(f"duckdb:///{warehouse}{URI_QUERY}")
        yield run_engine(engine)
        engine.dispose()


def test_a_legitimate_query_still_works(client, loaded):
    (worked, output), *_ = client([LEGIT])
    assert worked, output
    with duckdb.connect(str(loaded["warehouse"]), read_only=True) as con:  # the same bytes
        expected = con.execute(LEGIT).fetchall()[0][0]
    assert expected > 0
    assert re.search(rf"\b{expected}\b", output), output


@pytest.mark.parametrize("attack", sorted(attacks(Path("/t"))))
def test_attack_is_refused_and_changes_nothing(client, home, target, attack):
    warehouse = home / "warehouse" / "tradewh.duckdb"
    before, home_before = sha256(warehouse), tree(home)
    statement = attacks(target)[attack]
    # a setting that someone tried to change is tried again after: external access must still be off
    statements = (
        [statement, "select * from read_text('/etc/hostname')"]
        if statement.startswith(("SET", "RESET"))
        else [statement]
    )
    results = client(statements)
    for (worked, output), sent in zip(results, statements, strict=True):
        assert not worked, f"{sent!r} was not refused: {output}"
        assert REFUSED.search(output), f"{sent!r} failed, but not because it was refused: {output}"
    assert list(target.iterdir()) == [], "the attack created a file"
    assert sha256(warehouse) == before, "the warehouse file changed"
    assert tree(home) == home_before, "a file in the data folder was created or changed"


@pytest.mark.parametrize(
    "command", [".sh touch {target}/shell", ".output {target}/out.txt", ".open {target}/new.duckdb"]
)
def test_duckdb_cli_refuses_dot_commands_that_write(home, target, command):
    """Safe mode also takes the CLI's own file and shell commands away (a script run with `duckdb ... < x.sql`)."""
    (worked, output), *_ = run_duckdb_cli(home / "warehouse" / "tradewh.duckdb")([command.format(target=target)])
    assert not worked
    assert "cannot be used in -safe mode" in output or REFUSED.search(output), output
    assert list(target.iterdir()) == []


def test_locked_connections_say_so(home):
    warehouse = home / "warehouse" / "tradewh.duckdb"
    with connect_read_only(warehouse) as con:
        settings = dict(
            con.execute(
                "select name, value from duckdb_settings() where list_contains(?, name) or name = 'access_mode'",
                [list(LOCKED_CONFIG)],
            ).fetchall()
        )
    assert settings == {
        "access_mode": "read_only",
        "enable_external_access": "false",
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "lock_configuration": "true",
    }


def test_missing_warehouse_is_a_clear_error(tmp_path):
    missing = tmp_path / "warehouse" / "tradewh.duckdb"
    with pytest.raises(FileNotFoundError, match=r"no warehouse at .*tradewh\.duckdb yet: run `tradewh load` first"):
        connect_read_only(missing)
    assert not missing.parent.exists()  # and nothing was created looking for it


def test_allowed_directory_is_the_only_place_written(home, tmp_path):
    warehouse = home / "warehouse" / "tradewh.duckdb"
    out, beside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    beside.mkdir()
    before = sha256(warehouse)
    with connect_read_only(warehouse, allowed_directories=[out]) as con:
        con.execute(f"copy (select * from marts.trade_balance) to '{out}/ok.csv'")
        for statement in (
            f"copy (select 1) to '{beside}/no.csv'",
            f"copy (select 1) to '{out}/../outside/no.csv'",  # no way out through ..
            f"copy (select 1) to '{out}side/no.csv'",  # a folder whose name only starts like it
            "select * from read_csv('/etc/passwd')",
            "set allowed_directories = ['/']",
            "set enable_external_access = true",
        ):
            with pytest.raises(duckdb.Error, match=REFUSED):
                con.execute(statement)
    assert [p.name for p in out.iterdir()] == ["ok.csv"]
    assert list(beside.iterdir()) == []
    assert sha256(warehouse) == before


def test_export_still_writes_its_files(home, tmp_path):
    warehouse = home / "warehouse" / "tradewh.duckdb"
    before = sha256(warehouse)
    exported = export_views(
        warehouse, ["marts.trade_balance", "core.dim_measure"], fmt="parquet", out_dir=tmp_path / "x"
    )
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "core.dim_measure.parquet",
        "marts.trade_balance.parquet",
    ]
    assert all(e.rows > 0 for e in exported)
    assert sha256(warehouse) == before
    done = subprocess.run(
        [str(BIN / "tradewh"), "export", "marts.claim_checks", "--format", "csv", "--out", "exports"],
        capture_output=True,
        text=True,
        env={**os.environ, "TRADEWH_HOME": str(home)},
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert [p.name for p in (tmp_path / "exports").iterdir()] == ["marts.claim_checks.csv"]


def test_the_readme_gives_these_settings():
    """The README's "BI tools" section gives the settings these tests use, word for word."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## BI tools", 1)[1].split("\n## ", 1)[0]
    flat = " ".join(section.split())
    cli = " ".join(f'"{o}"' if " " in o or ";" in o else o for o in CLI_OPTIONS)
    assert f"duckdb {cli} /path/to/tradewh.duckdb" in flat
    assert " ".join(f"config={ENGINE_CONFIG}".split()) in flat
    assert f"duckdb:////path/to/tradewh.duckdb{URI_QUERY}" in flat
