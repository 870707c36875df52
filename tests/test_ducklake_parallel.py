"""Parallel ingestion into DuckLake (issue 21, part 2): the lake nightly (flows/lake_nightly.py) on Prefect's Dask
task runner with two worker processes, against the project's own Prefect server (``tradewh server``'s
``server.start``: a real ``prefect server start`` on 127.0.0.1, not the temporary one the Dask workers time out
against) and a Postgres catalog; and two processes replacing the same vintage at once.

Skips where the lake environment (``make lake-env``) or Debian's ``postgresql`` is absent.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_ducklake import lake_python, lake_script  # noqa: F401 (a fixture)
from tests.test_ducklake_postgres import _free_port, _fresh_database, postgres  # noqa: F401 (a fixture)
from warehouse.extract.catalogue import load_catalogue
from warehouse.orchestrate import server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The project's Prefect server for a home of its own, on a free port: its API URL; stopped afterwards."""
    home = tmp_path_factory.mktemp("prefect-server-home")
    saved = os.environ.get("PREFECT_HOME")
    os.environ["PREFECT_HOME"] = str(home / "prefect")  # its own database, not the test session's server's
    try:
        info = server.start(home, port=_free_port())
    finally:
        if saved is None:
            os.environ.pop("PREFECT_HOME", None)
        else:
            os.environ["PREFECT_HOME"] = saved
    try:
        yield info.api_url
    finally:
        server.stop(home)


def lake_env(home: Path, catalog: str, data: Path, api_url: str) -> dict[str, str]:
    """The lake flow's environment: its own data folder and lake, the project's server; nothing of the session's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRADEWH_", "PREFECT_"))}
    return {
        **env,
        "TRADEWH_HOME": str(home),
        "TRADEWH_LAKE_CATALOG": catalog,
        "TRADEWH_LAKE_DATA": str(data),
        "PREFECT_API_URL": api_url,
        "PREFECT_HOME": str(home / "prefect-client"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }


# In the lake environment: each ingest table against the lake zone's committed files of its dataset (EXCEPT ALL
# both ways, on the table's columns), the partitions' recorded row counts, and every public view of a DuckDB file
# against the lake's view of the same name.
CHECK = """
import glob, json, math, sys
from warehouse.ducklake import connect, target_from
catalog, data, lake_dir, file = sys.argv[1:5]
con = connect(target_from(catalog, data), read_only=True)
con.execute(f"attach '{file}' as wh (read_only)")
count = lambda q: con.execute(f"select count(*) from ({q})").fetchone()[0]
out = {"ingest": {}, "views": {}}
tables = [t for (t,) in con.execute("select table_name from duckdb_tables() where database_name = 'lake' "
                                    "and schema_name = 'ingest' and table_name <> 'partitions'").fetchall()]
for t in sorted(tables):
    files = sorted(glob.glob(f"{lake_dir}/{t}/*/*/data-*.parquet"))
    cols = ", ".join(f'"{c}"' for (c,) in con.execute(
        "select column_name from duckdb_columns() where database_name = 'lake' and schema_name = 'ingest' "
        "and table_name = ? order by column_index", [t]).fetchall())
    zone = f"select {cols} from read_parquet({files!r}, union_by_name = true)"
    lake = f"select {cols} from lake.ingest.{t}"
    out["ingest"][t] = {
        "files": len(files), "rows": count(lake), "zone_rows": count(zone),
        "missing": count(f"{zone} except all {lake}"), "extra": count(f"{lake} except all {zone}"),
        "recorded": con.execute(
            "select sum(row_count) from lake.ingest.partitions where dataset = ?", [t]).fetchone()[0],
        "keys": count(f"select source_id, vintage from lake.ingest.{t} group by all"),
    }
for (v,) in con.execute("select view_name from duckdb_views() where database_name = 'wh' and schema_name = 'marts' "
                        "and not internal").fetchall():
    a, b = f"wh.marts.{v}", f"lake.marts.{v}"
    types = con.execute(f"select * from {a} limit 0").description
    floats = [i for i, d in enumerate(types) if str(d[1]) in ("DOUBLE", "FLOAT")]
    exact = ", ".join(f'"{d[0]}"' for i, d in enumerate(types) if i not in floats)
    got = {"rows": count(f"select * from {a}"), "lake_rows": count(f"select * from {b}"),
           "missing": count(f"select {exact} from {a} except all select {exact} from {b}"),
           "extra": count(f"select {exact} from {b} except all select {exact} from {a}"), "float_diffs": []}
    key = lambda row: tuple(str(x) for i, x in enumerate(row) if i not in floats)
    pairs = zip(sorted(con.execute(f"select * from {a}").fetchall(), key=key),
                sorted(con.execute(f"select * from {b}").fetchall(), key=key))
    for ra, rb in pairs:
        for i in floats:
            x, y = ra[i], rb[i]
            if (x is None) != (y is None) or (x is not None and not math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)):
                got["float_diffs"].append([types[i][0], x, y])
            elif x is not None and x != y:
                got["rounding"] = got.get("rounding", 0) + 1
    out["views"][v] = got
out["partitions"] = count("select source_id, vintage from lake.ingest.partitions")
print(json.dumps(out, default=str))
"""


def test_the_lake_nightly_spreads_over_two_dask_workers(lake_python, loaded, postgres, prefect_server, tmp_path):  # noqa: F811
    catalog, home, data = _fresh_database(postgres, "parallel"), tmp_path / "home", tmp_path / "lake-data"
    done = subprocess.run(
        [str(lake_python), "-m", "flows.lake_nightly", "--workers", "2"],
        capture_output=True, text=True, cwd=PROJECT_ROOT, env=lake_env(home, catalog, data, prefect_server),
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["status"] == "succeeded" and outcome["failed_writes"] == []
    catalogue = load_catalogue(PROJECT_ROOT / "catalogue.toml")
    sources = {s.id for s in catalogue}
    staged = [t for t in outcome["tasks"] if t["task"] == "ingest_source"]
    assert sorted(t["source_id"] for t in staged) == sorted(sources)  # every source's task ran, once
    written = [t for t in outcome["tasks"] if t["task"] == "write_partition"]
    assert {t["source_id"] for t in written} == sources  # every source has rows, and each was written to the lake
    by_dataset: dict[str, list[tuple[float, float]]] = {}
    for t in written:
        by_dataset.setdefault(t["dataset"], []).append((t["held_from"], t["held_to"]))
    shared = [d for d in by_dataset if sum(s.dataset == d for s in catalogue) > 1]
    assert shared, "the catalogue has several sources of one dataset, whose writes must take turns (the limit)"
    for dataset, spans in by_dataset.items():
        spans.sort()
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:], strict=False)), (dataset, spans)
    workers = {t["worker"] for t in outcome["tasks"]}
    assert len(workers) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in workers), workers  # both workers
    assert len({t["pid"] for t in outcome["tasks"]}) == 2 and os.getpid() not in {t["pid"] for t in outcome["tasks"]}
    found = lake_script(lake_python, CHECK, catalog, str(data), str(home / "lake"), str(loaded["warehouse"]))
    assert found["ingest"], found
    for table, got in found["ingest"].items():  # every row of the lake zone once in its dataset's table
        assert got["files"] > 0 and got["rows"] == got["zone_rows"] == got["recorded"] > 0, (table, got)
        assert got["missing"] == got["extra"] == 0, (table, got)
    assert sum(g["keys"] for g in found["ingest"].values()) == found["partitions"] == len(written)
    differ = {
        v: got
        for v, got in found["views"].items()
        if got["missing"] or got["extra"] or got["float_diffs"] or got["rows"] != got["lake_rows"]
    }
    # the lake's public views hold the DuckDB-file build's rows, both ways: every column exactly but the floating
    # ones, equal to 1e-9 relative (the lake's build runs DuckDB 1.5.5, the file's 2.0.1: measured, 11 views differ
    # by a cent in one row, e.g. 99761080104.04 against .05, a sum of doubles rounded to the cent)
    assert differ == {}, differ
    assert sum(got["rows"] for got in found["views"].values()) > 0 and len(found["views"]) >= 5


# In the lake environment: replace one partition from a Parquet file, holding the transaction open just before its
# commit until the other writer is there too (both markers), so the two commits meet; prints what it did.
WRITER = """
import json, sys, time
from dataclasses import asdict
from pathlib import Path
from warehouse.ducklake import ingest, target_from
from warehouse.lake.manifest import sha256_file
catalog, data, file, me, other = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
part = ingest.Partition("demo", "demo_source", "2024-01-01", file, sha256_file(file))
def together():
    if me.exists():
        return  # a retry: the other writer committed already
    me.touch()
    deadline = time.monotonic() + 120
    while not other.exists():
        if time.monotonic() > deadline:
            raise SystemExit("the other writer never reached its commit")
        time.sleep(0.01)
written = ingest.replace_partition(target_from(catalog, data), part, me.name, before_commit=together)
print(json.dumps(asdict(written)))
"""


def test_two_processes_replacing_one_vintage_both_succeed(lake_python, postgres, tmp_path):  # noqa: F811
    catalog, data = _fresh_database(postgres, "replaces"), str(tmp_path / "lake-data")
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    with duckdb.connect() as con:  # a vintage as it was, then as revised (other values, more rows)
        for path, rows, factor in ((old, 30_000, 1), (new, 50_000, 3)):
            con.execute(
                f"copy (select 'demo_source' as source_id, '2024-01-01' as vintage, range as row_number, "
                f"range * {factor} as value from range({rows})) to '{path}' (format parquet)"
            )
    alone = str(tmp_path / "writer-0")  # the first write, alone: its own marker stands for the other's
    lake_script(lake_python, WRITER, catalog, data, str(old), alone, alone)
    procs = [
        subprocess.Popen(
            [str(lake_python), "-c", WRITER, catalog, data, str(new), str(tmp_path / me), str(tmp_path / other)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=PROJECT_ROOT,
        )  # fmt: skip
        for me, other in (("writer-1", "writer-2"), ("writer-2", "writer-1"))
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]  # both replaces succeed
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert all(r["rows"] == 50_000 for r in results)
    assert sum(r["attempts"] for r in results) >= 3, results  # they met: one of them took its commit again
    found = lake_script(
        lake_python,
        """
        import json, sys
        from warehouse.ducklake import connect, target_from
        con = connect(target_from(sys.argv[1], sys.argv[2]), read_only=True)
        new = f"select source_id, vintage, row_number, value from read_parquet('{sys.argv[3]}')"
        lake = "select source_id, vintage, row_number, value from lake.ingest.demo"
        count = lambda q: con.execute(f"select count(*) from ({q})").fetchone()[0]
        print(json.dumps({"rows": count(lake), "missing": count(f"{new} except all {lake}"),
                          "extra": count(f"{lake} except all {new}"),
                          "recorded": con.execute("select row_count, run_id from lake.ingest.partitions").fetchall(),
                          "commits": [m for (m,) in con.execute(
                              "select commit_message from lake.snapshots() where author = 'tradewh-ingest' "
                              "order by snapshot_id").fetchall()]}))
        """,
        catalog,
        data,
        str(new),
    )
    assert found["rows"] == 50_000 and found["missing"] == found["extra"] == 0  # exactly one copy of the new rows
    assert len(found["recorded"]) == 1 and found["recorded"][0][0] == 50_000
    assert found["commits"][0] == "writer-0" and sorted(found["commits"][1:]) == ["writer-1", "writer-2"]


def test_a_write_refuses_a_file_its_manifest_does_not_name(lake_python, tmp_path):  # noqa: F811
    file = tmp_path / "part.parquet"
    with duckdb.connect() as con:
        con.execute(f"copy (select 'x' as source_id, 'v' as vintage, 1 as value) to '{file}' (format parquet)")
    found = lake_script(
        lake_python,
        """
        import json, sys
        from pathlib import Path
        from warehouse.ducklake import ingest, target_from
        part = ingest.Partition("demo", "x", "v", Path(sys.argv[1]), "0" * 64)
        try:
            ingest.replace_partition(target_from(sys.argv[2], sys.argv[3]), part, "run")
        except ingest.PartitionChanged as exc:
            print(json.dumps(str(exc)))
        """,
        str(file),
        f"sqlite:{tmp_path / 'catalog.sqlite'}",
        str(tmp_path / "data"),
    )
    assert "not the file its manifest recorded" in found
    assert not (tmp_path / "catalog.sqlite").exists()  # refused before the lake was touched


def test_a_state_back_from_the_api_without_its_data_gives_the_runs_own_outcome() -> None:
    """The lake nightly's final state may come back from the Prefect API without its data (MissingResult: once in
    a CI run, the flow Completed): the outcome the run recorded in this process is its result; with none recorded,
    the error stands; a state with its data gives that data."""
    from prefect.client.schemas.objects import State, StateType
    from prefect.exceptions import MissingResult
    from prefect.states import Completed

    from flows import lake_nightly

    bare = State(type=StateType.COMPLETED)  # what the API returns for a run whose result was not persisted
    lake_nightly._LAST_OUTCOME.clear()
    with pytest.raises(MissingResult):
        lake_nightly.result_of(bare)
    lake_nightly._LAST_OUTCOME.update({"run_id": "r1", "status": "succeeded"})
    try:
        assert lake_nightly.result_of(bare) == {"run_id": "r1", "status": "succeeded"}
        assert lake_nightly.result_of(Completed(data={"run_id": "r2"})) == {"run_id": "r2"}
    finally:
        lake_nightly._LAST_OUTCOME.clear()
