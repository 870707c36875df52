"""The benchmark harness (benchmarks/) at a tiny size, so it cannot rot. No timing is asserted: only that it runs,
that tradewh's load in it succeeded, that the bare pipeline and the queries agree, that the report has its rows,
and that the profiler and the budgets behave (a fake clock, a tiny budget)."""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path
from types import ModuleType

import duckdb
import pyarrow as pa
import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow  # real `tradewh load` processes: the full tier (`make test`)

BENCH = PROJECT_ROOT / "benchmarks"
SEED_CSV = PROJECT_ROOT / "seeds" / "comtrade_chn_usa_hs8542" / "plus_api_CHN_M_USA_HS8542_2010_2024.csv"
ROWS = 2000


def _bench_module(name: str) -> ModuleType:
    """A script of benchmarks/ imported as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(*args: str, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_generator_is_deterministic_and_in_the_seed_layout(tmp_path: Path) -> None:
    first, second = tmp_path / "one.csv", tmp_path / "two.csv"
    _run(str(BENCH / "generate.py"), "--rows", "500", "--bad-share", "0.02", "--out", str(first))
    _run(str(BENCH / "generate.py"), "--rows", "500", "--bad-share", "0.02", "--out", str(second))
    assert first.read_bytes() == second.read_bytes()
    with SEED_CSV.open(newline="", encoding="utf-8-sig") as fh:
        seed_header = next(csv.reader(fh))
    with first.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == seed_header
    assert len(rows) == 500
    assert all(len(r["cmdCode"]) == 6 for r in rows) and any(r["cmdCode"].startswith("0") for r in rows)
    assert any(r["qty"] == "" for r in rows)
    key = [(r["reporterCode"], r["partnerCode"], r["flowCode"], r["cmdCode"]) for r in rows]
    record = json.loads(first.with_name(first.name + ".json").read_text())
    assert record["rows"] == 500 and record["bad_rows"] == 10 == len(record["bad_lines"])
    clean = [k for line, k in enumerate(key, start=2) if line not in set(record["bad_lines"])]
    assert len(set(clean)) == len(clean)  # unique keys (a bad partner code may collide, and is rejected anyway)


def test_generator_writes_consistent_aggregation_levels_and_the_rows_asked(tmp_path: Path) -> None:
    data = tmp_path / "levels.csv"
    _run(str(BENCH / "generate.py"), "--rows", "1500", "--aggregates", "--bad-share", "0.02", "--out", str(data))
    record = json.loads(data.with_name(data.name + ".json").read_text())
    assert record["rows"] == 1500 == sum(record["rows_by_level"].values()) and record["aggregates"]
    with data.open(newline="", encoding="utf-8") as fh:
        rows = [{**r, "line": line} for line, r in enumerate(csv.DictReader(fh), start=2)]
    with duckdb.connect() as con:
        con.register("generated", pa.Table.from_pylist(rows))
        con.execute("create table t as select * from generated")
        assert con.execute("select count(*) from t").fetchone()[0] == 1500
        levels = dict(con.execute("select aggrLevel, count(*) from t group by all").fetchall())
        assert levels == record["rows_by_level"] and set(levels) == {"6", "2", "0"}
        assert con.execute("select distinct isLeaf from t where aggrLevel <> '6'").fetchall() == [("False",)]
        bad = set(record["bad_lines"])
        assert (
            len(bad) == 30 and {r[0] for r in con.execute("select line from t where aggrLevel <> '6'").fetchall()} & bad
        )
        # every chapter and TOTAL row is the sum of the HS6 rows below it (bad rows aside: they are corrupted)
        key = "reporterCode, flowCode, partnerISO"  # a corrupted partnerCode (999) keeps its ISO3
        gaps = con.execute(
            f"""
            with clean as (select * from t where line not in (select unnest(?))),
            parents as (
                select {key}, cmdCode as parent, try_cast(primaryValue as double) as value from clean
                where aggrLevel in ('2', '0')
            ),
            leaves as (select {key}, cmdCode, try_cast(primaryValue as double) as value, line from t
                       where aggrLevel = '6'),
            sums as (
                select {key}, parents.parent, parents.value,
                    sum(leaves.value) as leaves_value, bool_or(leaves.line in (select unnest(?))) as has_bad_leaf
                from parents join leaves using ({key})
                where parents.parent = 'TOTAL' or left(leaves.cmdCode, 2) = parents.parent
                group by all
            )
            select count(*), count(*) filter (where value <> leaves_value) from sums where not has_bad_leaf
            """,
            [sorted(bad), sorted(bad)],
        ).fetchone()
        assert gaps[0] > 100 and gaps[1] == 0
        dups = con.execute(f"select count(*) from (select {key}, cmdCode from t group by all having count(*) > 1)")
        assert dups.fetchone()[0] == 0  # one row per reporter x flow x partner x code, of every level


def test_generator_pairs_every_series_with_both_flows(tmp_path: Path) -> None:
    data = tmp_path / "paired.csv"
    _run(str(BENCH / "generate.py"), "--rows", "1000", "--paired", "--out", str(data))
    record = json.loads(data.with_name(data.name + ".json").read_text())
    assert record["rows"] == 1000 and record["paired"] and record["rows_by_level"] == {"6": 1000, "2": 0, "0": 0}
    with duckdb.connect() as con:
        flows = con.execute(
            f"""
            select count(*), count(*) filter (where flows = ['M', 'X']), count(*) filter (where reporter = partner)
            from (
                select reporterCode as reporter, partnerCode as partner, cmdCode, list_sort(list(flowCode)) as flows
                from read_csv('{data}', all_varchar = true) group by all
            )
            """
        ).fetchone()
    assert flows == (500, 500, 0)  # 500 keys, each with M and X once, none of an economy with itself
    again = tmp_path / "again.csv"
    _run(str(BENCH / "generate.py"), "--rows", "1000", "--paired", "--out", str(again))
    assert again.read_bytes() == data.read_bytes()
    for refused in (["--rows", "1001", "--paired"], ["--rows", "1000", "--paired", "--aggregates"]):
        proc = subprocess.run(
            [sys.executable, str(BENCH / "generate.py"), *refused, "--out", str(tmp_path / "no.csv")],
            cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert proc.returncode != 0 and "--paired" in proc.stderr, proc.stderr


def test_a_file_whose_series_all_have_both_flows_loads_with_a_total_and_a_balance_for_each(tmp_path: Path) -> None:
    """The paired file through `tradewh load` (its own temporary Prefect server): the fact derives each series' total
    from its two printed flows, grouped staging view by staging view, and the balance pairs every series."""
    bench = _bench_module("run")
    data = tmp_path / "data" / "paired.csv"
    data.parent.mkdir()
    _run(str(BENCH / "generate.py"), "--rows", str(ROWS), "--paired", "--out", str(data))
    home = tmp_path / "home"
    catalogue = bench.write_catalogue(data, ROWS, tmp_path / "catalogue.toml")
    env = {**bench.tradewh_env(home, catalogue, data.parent), "PREFECT_HOME": str(tmp_path / "prefect")}
    load = subprocess.run([bench.TRADEWH, "load"], env=env, capture_output=True, text=True, timeout=600, check=False)
    assert load.returncode == 0, load.stdout[-3000:] + load.stderr[-3000:]
    with duckdb.connect(str(home / "warehouse" / "tradewh.duckdb"), read_only=True) as con:
        figures = con.execute(
            """
            select
                count(*) filter (where not is_derived),
                count(*) filter (where is_derived and flow = 'total' and derivation_rule = 'identity'),
                count(*) filter (where is_derived and flow = 'total' and value = round(printed, 2)),
                count(*) filter (where is_derived and flow <> 'total'),
            from (
                select *, sum(value) filter (where not is_derived) over series as printed
                from core.fct_trade_figure
                where source_id = ?
                window series as (partition by reporter, partner, period, category)
            )
            """,
            [bench.SOURCE_ID],
        ).fetchone()
        balances = con.execute(
            "select count(*), count(*) filter (where exports is not null and imports is not null "
            "and balance = round(exports - imports, 2)) from marts.trade_balance where source_id = ?",
            [bench.SOURCE_ID],
        ).fetchone()
    assert figures == (ROWS, ROWS // 2, ROWS // 2, 0)  # a total for each series, its exports plus its imports
    assert balances == (ROWS // 2, ROWS // 2)


def test_bare_pipeline_rejects_exactly_the_bad_rows(tmp_path: Path) -> None:
    data = tmp_path / "bad.csv"
    _run(str(BENCH / "generate.py"), "--rows", "1000", "--aggregates", "--bad-share", "0.03", "--out", str(data))
    out = _run(str(BENCH / "bare_duckdb.py"), "--csv", str(data), "--workdir", str(tmp_path / "bare"))
    result = json.loads(out.stdout.strip().splitlines()[-1])
    expected = json.loads(data.with_name(data.name + ".json").read_text())["bad_lines"]
    with duckdb.connect(str(tmp_path / "bare" / "bare.duckdb"), read_only=True) as con:
        rejected = {r[0] for r in con.execute("select file_row from rejected").fetchall()}
    assert rejected == set(expected)
    assert result["rows_kept"] == 1000 - len(expected)


def test_benchmark_runs_end_to_end_at_a_tiny_size(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    other = "<!-- scale: begin -->\n## Flat to 100M rows\n\nmeasured by another command\n<!-- scale: end -->\n"
    report.write_text("# before\n\n" + other)  # what other commands wrote stays when this one renders its own
    _run(
        str(BENCH / "run.py"),
        "--rows", str(ROWS), "--repeat", "1", "--bad-share", "0", "--profile-rows", str(ROWS),
        "--measure", "a", "b", "d_mart", "d_hand", "d2_mart", "d2_hand",
        "--workdir", str(tmp_path / "work"), "--out", str(report), "--quiet",
    )  # fmt: skip
    text = report.read_text(encoding="utf-8")
    results = json.loads(report.with_suffix(".json").read_text())
    labels = ("(a) bare DuckDB", "(b) tradewh load", "(d) marts.trade_balance", "(d) hand-written SQL")
    for label in (*labels, "(d2) marts.goods_composition", "(d2) hand-written SQL"):
        assert any(line.startswith(f"| {ROWS:,} | {label}") for line in text.splitlines()), label
    assert "## The targets of issue 5" in text and "python benchmarks/run.py" in text
    assert text.count(other) == 1 and "# before" not in text
    assert "Several aggregation levels" in text and results["meta"]["aggregates"]
    size = results["sizes"][0]
    assert sum(size["files"]["clean"]["rows_by_level"].values()) == ROWS
    (b,) = size["measurements"]["b"]
    assert b["returncode"] == 0 and not b["killed"], b["tail"]
    (check,) = size["checks"]["b"]
    assert check["run_status"] == "succeeded" and check["source_status"] == "loaded"
    assert check["rows_loaded"] == ROWS
    (mart,), (hand,) = size["measurements"]["d_mart"], size["measurements"]["d_hand"]
    assert mart["payload"]["rows"] == hand["payload"]["rows"] > 0
    assert mart["payload"]["total"] == pytest.approx(hand["payload"]["total"], rel=1e-9)
    (mart,), (hand,) = size["measurements"]["d2_mart"], size["measurements"]["d2_hand"]
    assert mart["returncode"] == 0 and hand["returncode"] == 0, mart["tail"] + hand["tail"]
    composition, by_hand = mart["payload"]["checksum"], hand["payload"]["checksum"]
    assert composition["rows"] == by_hand["rows"] == size["files"]["clean"]["rows_by_level"]["2"]
    for key, value in by_hand.items():
        assert composition[key] == pytest.approx(value, rel=1e-9), key
    assert composition["named_sections"] == composition["rows"]  # every chapter found its section
    assert composition["largest_gap_to_published_total"] == pytest.approx(0, abs=1e-12)  # chapters sum to TOTAL
    ratios = next(line for line in text.splitlines() if line.startswith(f"| {ROWS:,} | ") and " yes | " in line)
    assert ratios.count(" yes |") == 2  # same figures, for (d) and for (d2)
    # the profile of a real load: each stage's process CPU beside its wall time, shown as the cores kept busy
    load = results["profile"]["load"]["payload"]
    assert load["exit_code"] == 0 and load["total_cpu_seconds"] > 0
    stages = {st["path"]: st for st in load["stages"]}
    assert stages["build warehouse"]["cpu_seconds"] > 0 and stages["build warehouse"]["seconds"] > 0
    assert "| stage | seconds | share of the load | cores busy while running |" in text
    built = next(line for line in text.splitlines() if line.startswith("| build warehouse | "))
    assert float(built.split(" | ")[3]) > 0  # the cores column holds the build's figure


def test_profiler_skips_absent_names_and_times_a_generator_by_its_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    profile = _bench_module("profile_load")
    now, cpu = [0.0], [0.0]
    fake = types.ModuleType("warehouse.fake_stage")

    def work(seconds: float, cores: float = 1.0) -> None:
        now[0] += seconds
        cpu[0] += seconds * cores

    def inner() -> None:
        work(1.0)

    def batches(n: int):  # noqa: ANN202 (a generator function: the profiler must time its iteration)
        for _ in range(n):
            work(2.0, cores=2.0)
            fake.inner()
            yield "batch"

    def stage_all() -> int:
        count = 0
        for _ in fake.batches(3):
            work(10.0)  # the consumer's own work between two items: not the generator's
            count += 1
        return count

    fake.inner, fake.batches, fake.stage_all = inner, batches, stage_all
    copy = types.ModuleType("warehouse.fake_flow")
    copy.stage_all = stage_all  # ``from warehouse.fake_stage import stage_all``: must be timed too
    monkeypatch.setitem(sys.modules, "warehouse.fake_stage", fake)
    monkeypatch.setitem(sys.modules, "warehouse.fake_flow", copy)
    stages = profile.Stages(clock=lambda: now[0], cpu_clock=lambda: cpu[0])
    candidates = [
        profile.Candidate("warehouse.fake_stage:stage_all", "stage all"),
        profile.Candidate("warehouse.fake_stage:batches", "batches"),
        profile.Candidate("warehouse.fake_stage:inner", "inner"),
        profile.Candidate("warehouse.fake_stage:gone", "renamed since"),
        profile.Candidate("warehouse.no_such_module:stage", "moved since"),
        profile.Candidate("warehouse.fake_stage:Missing.method", "class gone"),
    ]
    profile.instrument(stages, candidates, rules=False)
    assert stages.missing == [
        "warehouse.fake_stage:gone", "warehouse.no_such_module:stage", "warehouse.fake_stage:Missing.method"
    ]  # fmt: skip
    assert copy.stage_all() == 3
    rows = {row["path"]: row for row in stages.summary()}
    assert set(rows) == {"stage all", "stage all > batches", "stage all > batches > inner"}
    assert rows["stage all"]["seconds"] == 39.0  # 3 x (2 + 1) in the generator, 3 x 10 of its own
    gen = rows["stage all > batches"]
    assert gen["seconds"] == 9.0 and gen["calls"] == 1 and gen["items"] == 3  # resumptions only
    assert rows["stage all > batches > inner"]["seconds"] == 3.0 and rows["stage all > batches > inner"]["calls"] == 3
    # the process's CPU over each stage's span: 2 s on two cores and 1 s on one per item, 10 s on one between items
    assert rows["stage all"]["cpu_seconds"] == 45.0 and gen["cpu_seconds"] == 15.0
    assert rows["stage all > batches > inner"]["cpu_seconds"] == 3.0
    shown = {name: cores for _, name, _, cores, _, _ in _bench_module("run").stage_rows(stages.summary())}
    assert shown["stage all"] == 45.0 / 39.0 and shown["batches (3 items)"] == 15.0 / 9.0 and shown["inner (x3)"] == 1.0
    assert shown["*its own code*"] is None  # a parent's own work: no CPU of its own is known


def test_profiler_candidates_cover_the_streaming_names() -> None:
    profile = _bench_module("profile_load")
    targets = {c.target for c in profile.CANDIDATES}
    assert {
        "warehouse.stage.staging:stage_source",
        "warehouse.parse.comtrade_columnar:batches_comtrade",
        "warehouse.stage.commit:commit_lake",
        "warehouse.build.builder:build_warehouse",
        "warehouse.build.builder:check_trade_figures",
        "warehouse.publish.noop:republish",
    } <= targets


def test_prediction_is_flat_when_memory_is_flat_and_a_killed_run_is_reported(tmp_path: Path) -> None:
    run = _bench_module("run")

    def size(rows: int, wall: float, rss: float) -> dict:
        ok = {"returncode": 0, "killed": "", "wall_s": wall, "maxrss_mib": rss, "tree_peak_mib": rss + 150}
        return {"rows": rows, "measurements": {"b": [ok], "empty_cold": [{**ok, "wall_s": 14.0}]}}

    flat = run.predict([size(100_000, 20.0, 700.0), size(1_000_000, 40.0, 690.0)], 10_000_000)
    assert flat["peak_rss_mib"] == 690.0  # the largest size's figure; a shrinking peak is not extrapolated down
    assert flat["wall_s"] == pytest.approx(40.0 + 20.0 / 900_000 * 9_000_000)
    growing = run.predict([size(100_000, 20.0, 700.0), size(1_000_000, 60.0, 5000.0)], 10_000_000)
    assert growing["peak_rss_mib"] == pytest.approx(5000.0 + 4300.0 / 900_000 * 9_000_000)
    one = run.predict([size(1_000_000, 60.0, 5000.0)], 10_000_000)
    assert one["peak_rss_mib"] is None and one["wall_s"] == pytest.approx(14.0 + 46.0 * 10)

    hog = "import time; x = b'x' * (160 << 20); time.sleep(30)"
    killed = run.measure(
        [sys.executable, "-c", hog], env=run.base_env(), log=tmp_path / "hog.log", time_budget=60,
        memory_budget=64 * 2**20,
    )  # fmt: skip
    assert killed.killed.startswith("killed: process tree RSS") and killed.wall_s < 20
    if killed.maxrss_from == "gnu-time":  # GNU time outlived the command and wrote its peak
        assert killed.maxrss_mib >= 64


def test_measure_counts_the_cpu_of_the_child_and_of_what_it_reaps(tmp_path: Path) -> None:
    """A real child that spins 0.4 s of its own CPU and waits for a grandchild that spins 0.4 s more: the harness's
    CPU seconds hold both (the work done, not the wall time), and the baselines table shows them with the cores."""
    run = _bench_module("run")
    spin = "import time\nwhile time.process_time() < 0.4: pass\n"
    parent = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {spin!r}], check=True)\n{spin}"
    measured = run.measure(
        [sys.executable, "-c", parent], env=run.base_env(), log=tmp_path / "spin.log", time_budget=120,
        memory_budget=2 * 2**30,
    )  # fmt: skip
    assert measured.returncode == 0, measured.tail
    assert measured.cpu_s is not None and measured.cpu_s >= 0.8
    baselines = _bench_module("baselines")
    ok = {"returncode": 0, "killed": "", "log": "/x/b-10-1.log"}
    two = [{**ok, "wall_s": 2.0, "cpu_s": 3.0}, {**ok, "wall_s": 4.0, "cpu_s": 5.0}]
    assert baselines.cpu_text(two) == "4.0 (1.38)"  # medians: 4.0 CPU s; cores 1.5 and 1.25
    assert baselines.cpu_text([{**ok, "wall_s": 2.0}]) == "—"  # recorded before CPU was measured
