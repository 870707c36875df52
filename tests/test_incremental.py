"""A night that changed some sources builds on the published file (``warehouse.build.incremental``), and publishes
what a full build would: every public view equal, EXCEPT ALL both ways; any doubt builds in full.

First what decides (``plan_incremental``) on a small published file, then the real flow (through Prefect) on a copy
of the project whose press release is read from a local file that a test revises.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse import build
from warehouse.build import raw_tables
from warehouse.build.inputs import stamp, truncation
from warehouse.build.models import BuildError, read_header
from warehouse.extract.catalogue import load_catalogue

SOURCE_ID = "mofcom_2012_technology_trade"
RELEASE = f"lake:press_release/{SOURCE_ID}"
COMTRADE = "lake:comtrade/comtrade_chn_usa_sitc_2010_2014"

# Columns that tell one run or one build from another, never a figure: left out of the comparison, by name.
# audit.builds: the run that published the file, when, and the digest of the inputs (the flow's run and the
# test's build of the same lake differ in the run only, but the test names it to be sure).
RUN_COLUMNS = {  # what tells one publish from another, the build kind included
    "audit.builds": {"run_id", "published_at", "inputs_sha256", "inputs", "largest_revisions", "build_kind"}
}


# --- what decides ------------------------------------------------------------------------------------------------


def published_with(tmp_path: Path, parts: dict[str, str]) -> Path:
    """A file that records having been built from ``parts`` (the one table ``plan_incremental`` reads)."""
    path = tmp_path / "tradewh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("create schema audit")
        stamp(con, "r1", build.BuildInputs(parts), rebuilt=True, revisions="[]")
    return path


PARTS = {RELEASE: "a", COMTRADE: "b", "sql": "c", "reference": "d", "catalogue": "e", "code": "f"}


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        ({**PARTS, "sql": "x"}, "changed since the published build: sql"),
        ({**PARTS, "reference": "x", RELEASE: "x"}, "changed since the published build: reference"),
        ({**PARTS, "catalogue": "x"}, "changed since the published build: catalogue"),
        ({k: v for k, v in PARTS.items() if k != COMTRADE}, "no longer in the lake: comtrade/comtrade_chn_usa_sitc"),
        (PARTS, "no source changed"),
    ],
    ids=["sql", "seed", "catalogue", "source_removed", "nothing"],
)
def test_a_change_beyond_the_lake_or_a_removed_source_builds_in_full(tmp_path, now, reason):
    plan = build.plan_incremental(published_with(tmp_path, PARTS), build.BuildInputs(now))
    assert plan.reason is not None and reason in plan.reason and plan.sources == ()


def test_changed_and_new_sources_are_replaced(tmp_path):
    now = {**PARTS, RELEASE: "x", "lake:wdi/wdi_new": "y"}
    plan = build.plan_incremental(published_with(tmp_path, PARTS), build.BuildInputs(now))
    assert plan.reason is None
    assert plan.sources == (("press_release", SOURCE_ID), ("wdi", "wdi_new")) and plan.datasets == [
        "press_release",
        "wdi",
    ]


def test_a_file_that_cannot_say_what_it_was_built_from_builds_in_full(tmp_path):
    inputs = build.BuildInputs(PARTS)
    assert build.plan_incremental(tmp_path / "missing.duckdb", inputs).reason == "no warehouse published yet"
    bare = tmp_path / "bare.duckdb"
    duckdb.connect(str(bare)).close()
    assert "cannot say what it was built from" in build.plan_incremental(bare, inputs).reason
    with pytest.raises(ValueError, match="no incremental build"):
        build.build_incremental(bare, build.Plan("sql changed"), lake_dir=tmp_path, sql_dir=tmp_path)


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ("-- incremental: source_id\n", "with `-- materialized: table`"),
        ("-- materialized: table\n-- incremental: dataset\n", "`-- incremental: source_id` is the one setting"),
    ],
)
def test_incremental_is_said_of_a_stored_view_by_source(tmp_path, lines, error):
    path = tmp_path / "core" / "dim_toy.sql"
    path.parent.mkdir()
    path.write_text(
        f"-- grain: one row per toy\n{lines}create or replace view core.dim_toy as select 1 as source_id;\n"
    )
    with pytest.raises(BuildError, match=error):
        read_header(path)


def test_the_projects_stored_views_by_source_are_those_that_say_so():
    said = {p.stem for p in (PROJECT_ROOT / "sql").glob("*/*.sql") if read_header(p).incremental == "source_id"}
    assert said == {"fct_trade_figure", "trade_balance_vintages", "goods_composition", "trade_composition"}


# --- the flow on a copy of the project -------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, prefect_home: Path) -> dict[str, Path]:
    """The project's SQL, seeds and catalogue, the press release read from a local file a test can revise."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "sql", root / "sql")
    shutil.copytree(PROJECT_ROOT / "seeds", root / "seeds")
    release = root / "release" / "figures.csv"
    release.parent.mkdir()
    shutil.copy(PROJECT_ROOT / "seeds" / SOURCE_ID / "figures.csv", release)
    seed = f'location = {{ seed = "{SOURCE_ID}/figures.csv" }}'
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    assert text.count(seed) == 1
    (root / "catalogue.toml").write_text(text.replace(seed, f'location = {{ path = "{release}" }}'))
    return {"root": root, "home": tmp_path / "home", "release": release, "catalogue": root / "catalogue.toml"}


def run(project: dict[str, Path]) -> dict[str, object]:
    return run_nightly(project["home"], project["catalogue"], TRADEWH_PROJECT_ROOT=str(project["root"]))


def published(project: dict[str, Path]) -> Path:
    return project["home"] / "warehouse" / "tradewh.duckdb"


def revise(project: dict[str, Path], before: str, after: str) -> None:
    """A revised press release: one printed figure changed."""
    text = project["release"].read_text()
    assert text.count(before) == 1
    project["release"].write_text(text.replace(before, after))


class Builds:
    """Counts the full builds and the builds on the published file a run made (wrapping, not replacing, them)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = self.incremental = 0
        full, incremental = build.build_warehouse, build.build_incremental

        def counted_full(*args: object, **kwargs: object) -> object:
            self.full += 1
            return full(*args, **kwargs)

        def counted_incremental(*args: object, **kwargs: object) -> object:
            self.incremental += 1
            return incremental(*args, **kwargs)

        monkeypatch.setattr(build, "build_warehouse", counted_full)
        monkeypatch.setattr(build, "build_incremental", counted_incremental)

    def since(self) -> tuple[int, int]:
        """(full, incremental) since the last call."""
        counts = (self.full, self.incremental)
        self.full = self.incremental = 0
        return counts


def full_build(project: dict[str, Path], target: Path) -> None:
    """What a full build makes of the lake as it is now, with the build's own check and stamp."""
    root, lake = project["root"], project["home"] / "lake"
    catalogue = load_catalogue(project["catalogue"])
    inputs = build.build_inputs(
        lake_dir=lake, sql_dir=root / "sql", seeds_dir=root / "seeds", catalogue=catalogue, storage_version="v1.3.0"
    )
    build.build_warehouse(
        target,
        lake_dir=lake,
        seeds_dir=root / "seeds",
        sql_dir=root / "sql",
        catalogue=catalogue,
        storage_version="v1.3.0",
        check=build.check_trade_figures,
        finish=lambda con: build.stamp_build(con, inputs, "the test's full build"),
    )


def differences(full: Path, incremental: Path) -> dict[str, object]:
    """Every public relation (the views and tables of marts, core and audit) and the raw tables of two files
    compared: columns and their comments, row counts, EXCEPT ALL both ways without ``RUN_COLUMNS``."""
    found: dict[str, object] = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{full}' as f (read_only)")
        con.execute(f"attach '{incremental}' as i (read_only)")
        listed = (
            "select schema_name || '.' || view_name from duckdb_views() where database_name = ? and not internal "
            "and schema_name in ('marts', 'core', 'audit') union select schema_name || '.' || table_name "
            "from duckdb_tables() where database_name = ? and schema_name in ('marts', 'core', 'audit', 'raw') "
        )
        names = {db: {r[0] for r in con.execute(listed, [db, db]).fetchall()} for db in ("f", "i")}
        if names["f"] != names["i"]:
            found["relations"] = names["f"] ^ names["i"]
        comments = (
            "select schema_name, table_name, column_name, data_type, comment from duckdb_columns() "
            "where database_name = '{}' and schema_name in ('marts', 'core', 'audit', 'raw')"
        )
        for one, other in (("f", "i"), ("i", "f")):
            odd = con.execute(f"{comments.format(one)} except all {comments.format(other)}").fetchall()
            if odd:
                found[f"columns only in {one}"] = odd
        assert len(names["f"]) > 40  # every view and table, not an empty list compared
        for name in sorted(names["f"] & names["i"]):
            columns = [r[0] for r in con.execute(f"describe f.{name}").fetchall()]
            kept = ", ".join(f'"{c}"' for c in columns if c not in RUN_COLUMNS.get(name, ()))
            counts = con.execute(f"select (select count(*) from f.{name}), (select count(*) from i.{name})").fetchone()
            only_f, only_i = (
                con.execute(
                    f"select count(*) from (select {kept} from {a}.{name} except all select {kept} from {b}.{name})"
                ).fetchone()[0]
                for a, b in (("f", "i"), ("i", "f"))
            )
            if counts[0] != counts[1] or only_f or only_i:
                found[name] = {"rows": counts, "only in full": only_f, "only in incremental": only_i}
    return found


def logged(result: dict[str, object]) -> str:
    return Path(str(result["log_file"])).read_text()


def test_a_revised_release_is_built_on_the_published_file_and_equals_a_full_build(project, monkeypatch):
    builds = Builds(monkeypatch)
    first = run(project)
    assert first["status"] == "succeeded" and builds.since() == (1, 0)
    revise(project, ",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,")  # exports 2011: $21.4 billion -> $21.5 billion
    second = run(project)
    assert second["status"] == "succeeded" and builds.since() == (0, 1)
    assert f"raw.press_release: {SOURCE_ID} replaced" in logged(second)

    path = published(project)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute(
            "select value from core.fct_trade_figure where source_id = ? and period = '2011' and flow = 'export' "
            "and measure = 'technology_contract_value' and not is_derived order by vintage",
            [SOURCE_ID],
        ).fetchall()[-1] == (21.5e9,)
        builds_rows = con.execute("select run_id, is_rebuilt, inputs, build_kind from audit.builds").fetchall()
        runs = con.execute("select count(*) from audit.load_runs").fetchone()[0]
        assert truncation(con, path) is None  # rows deleted: free blocks cut off the file's end are not missing
    assert [r[:2] for r in builds_rows] == [(second["run_id"], True)] and runs == 2
    assert RELEASE in json.loads(builds_rows[0][2]) and builds_rows[0][3] == "incremental"

    full = project["home"] / "full.duckdb"
    full_build(project, full)
    assert differences(full, path) == {}
    assert list(path.parent.glob(".*")) == []  # no copy left
    # the ten largest revisions (the run summary's), taken without the unchanged sources' history: the full build's
    assert "largest revisions from the changed sources and the published list" in logged(second)
    revisions = []
    for file in (full, path):
        with duckdb.connect(str(file), read_only=True) as con:
            revisions.append(json.loads(con.execute("select largest_revisions from audit.builds").fetchone()[0]))
    assert revisions[0] and revisions[1] == revisions[0]  # the release's own revision: its earlier vintage's 21.4

    # the text every row of raw.press_release holds is stored once in its definition (warehouse.build.raw_tables):
    # the second night's new vintage changed that set, so the table was made again from its lake files; a third
    # vintage leaves it as it is, and the changed source's rows are replaced in place. Both equal a full build.
    assert "(the table made again from its lake files" in logged(second)
    revise(project, ",USD,21.5,21.5,1e9,", ",USD,21.6,21.6,1e9,")
    builds.since()  # the test's own full build above
    third = run(project)
    assert third["status"] == "succeeded" and builds.since() == (0, 1)
    assert f"raw.press_release: {SOURCE_ID} replaced, " in logged(third)
    with duckdb.connect(str(path), read_only=True) as con:
        kept = raw_tables.generated_constants(con, f"{path.stem}.raw.press_release")
    assert kept and kept["source_id"] == SOURCE_ID and "file_sha256" not in kept
    full.unlink()
    full_build(project, full)
    assert differences(full, path) == {}


def _revision(source: str, size: float) -> list[object]:
    return [source, "CHN", "2011", "export", "technology", 1.0, 1.0 + size, size]


@pytest.mark.parametrize(
    ("published", "expected"),
    [
        # ten rows of unchanged sources: still the ten largest of theirs; the changed source's larger ones join
        ([_revision("wdi", -float(n)) for n in range(10, 20)], "merged"),
        # fewer than ten: every revision there was; the changed source's old rows give way to its new ones
        ([_revision("release", 99.0), _revision("wdi", 1.0)], "merged"),
        # ten rows, one of a changed source: an unchanged source's eleventh might now belong: the whole history
        ([_revision("release", 99.0)] + [_revision("wdi", float(n)) for n in range(9)], None),
    ],
    ids=["ten_unchanged", "fewer_than_ten", "ten_with_a_changed_source"],
)
def test_the_largest_revisions_are_merged_only_when_exact(tmp_path, published, expected):
    from warehouse.build.incremental import _largest_revisions

    changed = [_revision("release", 50.0), _revision("release", -12.5)]
    with duckdb.connect() as con:
        con.execute(f"attach '{tmp_path / 'wh.duckdb'}' as wh")
        con.execute("create schema wh.audit")
        con.execute(
            "create table wh.audit.builds (run_id varchar, published_at timestamptz, largest_revisions varchar)"
        )
        con.execute("insert into wh.audit.builds values ('r1', now(), ?)", [json.dumps(published)])
        con.execute("create schema memory.marts")
        con.execute(
            "create table memory.marts.revisions (source_id varchar, reporter varchar, period varchar, flow varchar, "
            "category varchar, previous_vintage_value double, value double, revision double)"
        )
        con.executemany("insert into memory.marts.revisions values (?, ?, ?, ?, ?, ?, ?, ?)", changed)
        got = _largest_revisions(con, {"release"})
    if expected is None:
        assert got is None
        return
    every = [r for r in published if r[0] != "release"] + changed
    assert json.loads(got) == sorted(every, key=lambda r: -abs(r[7]))[:10]


def _comment_a_view(project: dict[str, Path]) -> None:
    path = project["root"] / "sql" / "core" / "dim_source.sql"
    path.write_text(path.read_text().replace("is 'What the source is'", "is 'What the source is, in its words'"))


def _rename_software(project: dict[str, Path]) -> None:
    path = project["root"] / "seeds" / "reference" / "categories.csv"
    path.write_text(path.read_text().replace('"Computer software"', '"Computer software and services"'))


def _remove_a_source(project: dict[str, Path]) -> None:
    """The catalogue without its last entry (its lake folder stays, as after `tradewh` forgets a source)."""
    text = project["catalogue"].read_text()
    project["catalogue"].write_text(text[: text.rindex("[[source]]")])


def test_a_changed_sql_file_seed_or_removed_source_builds_in_full(project, monkeypatch):
    builds = Builds(monkeypatch)
    run(project)
    builds.since()
    figures = ["21.4", "21.3", "21.2", "21.1"]
    changes = ((_comment_a_view, "sql"), (_rename_software, "reference"), (_remove_a_source, "catalogue"))
    for number, (change, part) in enumerate(changes):
        change(project)
        before, after = figures[number : number + 2]
        revise(project, f",USD,{before},{before},1e9,", f",USD,{after},{after},1e9,")  # and a source changed
        result = run(project)
        assert result["status"] == "succeeded", change.__name__
        assert builds.since() == (1, 0), change.__name__
        assert f"full build: changed since the published build: {part}" in logged(result), change.__name__
    with duckdb.connect(str(published(project)), read_only=True) as con:
        assert con.execute("select build_kind from audit.builds").fetchall() == [("full",)]
    full = project["home"] / "full.duckdb"
    full_build(project, full)
    assert differences(full, published(project)) == {}


# --- the code a build depends on (warehouse.build.code) ----------------------------------------------------------


def test_the_code_digest_covers_the_build_package_and_what_it_imports(tmp_path):
    from warehouse.build.code import code_files, code_packages

    for top in ("warehouse", "schemas", "flows"):
        shutil.copytree(PROJECT_ROOT / top, tmp_path / top, ignore=shutil.ignore_patterns("__pycache__"))
    packages = code_packages(tmp_path)
    assert {"warehouse/build", "warehouse/lake", "warehouse/stage", "schemas"} <= set(packages)
    assert not {"warehouse/serve", "warehouse/publish", "warehouse/orchestrate", "flows"} & set(packages)

    def digest() -> bytes:
        return b"".join(code_files(tmp_path))

    before = digest()
    (tmp_path / "warehouse" / "serve" / "status.py").write_text("# a command's output changed\n", "utf-8")
    (tmp_path / "flows" / "nightly.py").write_text("# the wiring changed\n", "utf-8")
    assert digest() == before
    # a package the build did not import becomes part of it once the build imports it
    models = tmp_path / "warehouse" / "build" / "models.py"
    models.write_text(models.read_text() + "\nfrom warehouse.serve import status  # noqa\n")
    assert "warehouse/serve" in code_packages(tmp_path) and digest() != before


def test_a_change_to_code_the_build_does_not_use_keeps_the_night_incremental(project, monkeypatch):
    """On a copy of the project's code (the digest reads it, the flow runs the real code): a command's module
    edited, the night stays incremental; a module of the build edited, or a SQL file, the night builds in full."""
    from warehouse.build import inputs

    code = project["root"]
    for top in ("warehouse", "schemas", "flows"):
        shutil.copytree(PROJECT_ROOT / top, code / top, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(inputs, "CODE_ROOT", code)
    builds = Builds(monkeypatch)
    run(project)
    assert builds.since() == (1, 0)

    status = code / "warehouse" / "serve" / "status.py"
    status.write_text(status.read_text() + "\n# tradewh status says it differently\n")
    revise(project, ",USD,21.4,21.4,1e9,", ",USD,21.5,21.5,1e9,")
    assert run(project)["status"] == "succeeded" and builds.since() == (0, 1)

    checks = code / "warehouse" / "build" / "checks.py"
    checks.write_text(checks.read_text() + "\n# the build's check changed\n")
    revise(project, ",USD,21.5,21.5,1e9,", ",USD,21.6,21.6,1e9,")
    result = run(project)
    assert result["status"] == "succeeded" and builds.since() == (1, 0)
    assert "full build: changed since the published build: code" in logged(result)

    _comment_a_view(project)
    revise(project, ",USD,21.6,21.6,1e9,", ",USD,21.7,21.7,1e9,")
    result = run(project)
    assert builds.since() == (1, 0) and "full build: changed since the published build: sql" in logged(result)
