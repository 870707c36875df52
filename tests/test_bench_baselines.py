"""Issue 22's baselines (benchmarks/dlt_pipeline.py, benchmarks/polars_parquet.py, benchmarks/baselines.py).

The two baselines must read the file as bare DuckDB does (the same 47 columns, the same types, every row, empty
fields null), or the comparison is of different work; they run in the bench-only environment .venv-bench (`make
bench-env`) and the test skips where it is absent. The section's ratios and verdicts are checked on runs made up
here, against figures computed here. No timing is asserted."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT

BENCH = PROJECT_ROOT / "benchmarks"
BENCH_PYTHON = PROJECT_ROOT / ".venv-bench" / "bin" / "python"


def _bench_module(name: str) -> ModuleType:
    """A script of benchmarks/ imported as a module (the folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _run(python: Path | str, *args: str) -> None:
    proc = subprocess.run(
        [str(python), *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.skipif(not BENCH_PYTHON.exists(), reason="the bench environment .venv-bench is absent (make bench-env)")
def test_dlt_and_polars_read_the_file_as_bare_duckdb_does(tmp_path: Path) -> None:
    data = tmp_path / "comtrade.csv"
    _run(sys.executable, str(BENCH / "generate.py"), "--rows", "1500", "--aggregates", "--out", str(data))
    _run(sys.executable, str(BENCH / "bare_duckdb.py"), "--csv", str(data), "--workdir", str(tmp_path / "bare"))
    _run(BENCH_PYTHON, str(BENCH / "polars_parquet.py"), "--csv", str(data), "--workdir", str(tmp_path / "polars"))
    _run(BENCH_PYTHON, str(BENCH / "dlt_pipeline.py"), "--csv", str(data), "--workdir", str(tmp_path / "dlt"))
    bare = f"select * exclude (value) from read_parquet('{tmp_path / 'bare' / 'data.parquet'}')"  # + derived value
    sides = {
        "polars": f"select * from read_parquet('{tmp_path / 'polars' / 'data.parquet'}')",
        "dlt": "select * from dlt.bench.comtrade",  # dlt names the columns in snake case; same order
    }
    with duckdb.connect() as con:
        con.execute(f"attach '{tmp_path / 'dlt' / 'dlt.duckdb'}' as dlt (read_only)")
        want = [(c[0], c[1]) for c in con.execute(f"describe {bare}").fetchall()]
        assert len(want) == 47 and con.execute(f"select count(*) from ({bare})").fetchone()[0] == 1500
        for name, query in sides.items():
            got = [c[1] for c in con.execute(f"describe {query}").fetchall()]
            assert got == [t for _, t in want], name
            for first, second in ((bare, query), (query, bare)):
                extra = con.execute(f"select count(*) from ({first} except all {second})").fetchone()[0]
                assert extra == 0, f"{name}: {extra} rows differ from bare DuckDB's read"
        nulls = con.execute(f"select count(*) filter (where qty is null) from ({bare})").fetchone()[0]
        assert nulls > 0  # the comparison covers empty fields read as null


def _runs(key: str, walls: list[float], rss: float = 500.0) -> list[dict]:
    return [
        {"wall_s": w, "maxrss_mib": rss, "returncode": 0, "killed": "", "log": f"/x/{key}-10000000-{i}.log"}
        for i, w in enumerate(walls, start=1)
    ]


def test_section_pairs_ratios_by_repeat_and_states_the_targets(tmp_path: Path) -> None:
    base = _bench_module("baselines")
    walls = {"a": [80.0, 90.0, 70.0], "dlt": [50.0, 40.0, 60.0], "b": [100.0, 110.0, 90.0], "b_srv": [70.0, 60.0, 80.0]}
    size = {
        "rows": 10_000_000,
        "measurements": {k: _runs(k, v, rss=900.0) for k, v in walls.items()} | {"polars": _runs("polars", [9.0])},
        "checks": {"polars": [{"all_rows": True}]},
        "loadavg": {"start": [3.0, 3.0, 3.0], "end": [4.0, 4.0, 4.0]},
    }
    paired, each = base.paired_ratio(size["measurements"]["b"], size["measurements"]["dlt"])
    expected = sorted(b / d for b, d in zip(walls["b"], walls["dlt"], strict=True))
    assert each == pytest.approx([b / d for b, d in zip(walls["b"], walls["dlt"], strict=True)])
    assert paired == pytest.approx(expected[1])
    text = base.section([size])
    median_b, median_dlt = sorted(walls["b"])[1], sorted(walls["dlt"])[1]
    assert f"{median_b / median_dlt:.2f}x (paired {expected[1]:.2f}x" in text
    target = next(line for line in text.splitlines() if line.startswith("- **Target 1"))
    fresh, with_server = target.split(": ", 1)[1].split("; ")
    for part, key in ((fresh, "b"), (with_server, "b_srv")):
        median = sorted(walls[key])[1]
        for name, other in (("dlt", median_dlt), ("bare DuckDB", sorted(walls["a"])[1])):
            verdict = "**met**" if median <= other else "**not met**"
            assert f"at most 1.0x {name} {verdict} ({median / other:.2f}x" in part, (key, name)
        assert "peak RSS at most 1 GiB **met** (900 MiB)" in part
    assert "**Target 2, 1,000,000 rows**: not measured" in text

    out = tmp_path / "BENCHMARKS.md"
    out.write_text("# top\n\n<!-- incremental: begin -->\nnights\n<!-- incremental: end -->\n")
    base.write_section(out, text)
    base.write_section(out, text)  # in place of the one there, not twice
    written = out.read_text()
    assert written.count(base.BEGIN) == 1 and written.index(base.END) < written.index("<!-- incremental: begin -->")
    assert written.startswith("# top\n") and written.rstrip().endswith("<!-- incremental: end -->")


def test_a_ratio_target_is_met_only_by_the_medians_and_the_pairs_together() -> None:
    """One favourable median (a baseline's slow repeat) does not meet a target alone: the ratio of the medians and
    the median of the ratios paired by repeat must both be within it; the count of repeats under it is stated."""
    base = _bench_module("baselines")
    # medians 45 / 50 = 0.90x, but paired 39/38, 61/60, 45/50 = 1.03, 1.02, 0.90: median 1.02x
    m = {"b_srv": _runs("b_srv", [39.0, 61.0, 45.0]), "dlt": _runs("dlt", [38.0, 60.0, 50.0])}
    ok, text = base.ratio_verdict(m, "b_srv", "dlt", 1.0)
    assert not ok
    assert text.startswith("0.90x (paired 1.02x: 1.03, 1.02, 0.90)")
    assert "under 1.0x in 1 of 3 repeats, met by the medians only" in text
    # both within: met, every repeat counted
    m = {"b_srv": _runs("b_srv", [36.0, 38.0, 40.0]), "dlt": _runs("dlt", [38.0, 40.0, 42.0])}
    ok, text = base.ratio_verdict(m, "b_srv", "dlt", 1.0)
    assert ok and text.endswith("under 1.0x in 3 of 3 repeats")
    # target 2's limit, 1.5x: the same rule
    m = {"b": _runs("b", [7.0, 8.5]), "dlt": _runs("dlt", [5.0, 5.0])}  # 1.40 and 1.70: 1.55x either way
    ok, text = base.ratio_verdict(m, "b", "dlt", 1.5)
    assert not ok and text.endswith("under 1.5x in 1 of 2 repeats")
