"""The lake is verified and every failure leaves a trace, with real `tradewh load` processes on real files.

A lake file rewritten behind the load's back (doubled values, as `COPY ... TO` from any DuckDB client did) is not
published: the next load finds its SHA-256 differs from its manifest's and stages the source again from its raw
payload. A truncated published file is rebuilt by the next load. Four payloads sharing a file name keep every
quarantined row; a clean home has an empty `audit.rejected_rows`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from tests.test_crash_safety import load, sha256
from warehouse import lake
from warehouse.build.builder import build_warehouse
from warehouse.common.errors import StorageError, storage_error
from warehouse.extract.catalogue import load_catalogue
from warehouse.orchestrate import verify

pytestmark = pytest.mark.slow  # real `tradewh load` processes: the full tier (`make test`)

SOURCE_ID = "mofcom_2012_technology_trade"
SEED = PROJECT_ROOT / "seeds" / SOURCE_ID / "figures.csv"
EXPORTS_2011 = (
    "select exports from marts.trade_balance where reporter = 'CHN' and period = '2011' "
    "and measure = 'technology_contract_value' and exports is not null"
)


def one_source_catalogue(workdir: Path, location: str) -> None:
    """The press release's catalogue entry alone, reading ``location`` (a path glob)."""
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    entry = "[[source]]\n" + text.split("\n[[source]]\n")[1]
    entry = entry.replace(f'location = {{ seed = "{SOURCE_ID}/figures.csv" }}', f'location = {{ path = "{location}" }}')
    assert f'path = "{location}"' in entry
    (workdir / "catalogue.toml").write_text(entry)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A work folder whose catalogue is the press release alone, loaded once."""
    workdir = tmp_path_factory.mktemp("integrity")
    (workdir / "release").mkdir()
    shutil.copy(SEED, workdir / "release" / "figures.csv")
    one_source_catalogue(workdir, str(workdir / "release" / "figures.csv"))
    code, output = load(workdir, workdir / "home")
    assert code == 0, output[-3000:]
    return workdir


@pytest.fixture
def work(baseline: Path, tmp_path: Path) -> Path:
    workdir = tmp_path / "work"
    shutil.copytree(baseline, workdir)
    catalogue = workdir / "catalogue.toml"
    catalogue.write_text(catalogue.read_text().replace(str(baseline), str(workdir)))
    return workdir


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def lake_file(home: Path) -> Path:
    (path,) = lake.lake_files(home / "lake", "press_release")
    return path


def double_values(path: Path) -> None:
    """What the attacker did with two COPY statements from a DuckDB client: the values doubled, in place."""
    doubled = path.with_name("doubled.parquet")
    with duckdb.connect() as con:
        con.execute(f"copy (select * replace (value * 2 as value) from read_parquet('{path}')) to '{doubled}'")
        con.execute(f"copy (select * from read_parquet('{doubled}')) to '{path}' (format parquet)")
    doubled.unlink()


def test_the_manifest_records_each_lake_file_s_sha256(baseline):
    home = baseline / "home"
    path = lake_file(home)
    state = json.loads((path.parent.parent / lake.MANIFEST).read_text())
    assert state["file_sha256"] == {path.parent.name: sha256(path)}
    assert verify.verify(home) == []


def test_a_lake_file_with_doubled_values_is_staged_again_and_not_published(work):
    home = work / "home"
    published = home / "warehouse" / "tradewh.duckdb"
    assert query(published, EXPORTS_2011) == [(21.4e9,)]
    double_values(lake_file(home))
    problems = verify.verify(home)
    assert len(problems) == 1 and str(lake_file(home)) in problems[0] and "SHA-256" in problems[0]

    # the build alone refuses the file, naming it
    catalogue = load_catalogue(work / "catalogue.toml")
    with pytest.raises(lake.LakeIntegrityError, match=str(lake_file(home))):
        build_warehouse(
            work / "check.duckdb", lake_dir=home / "lake", seeds_dir=PROJECT_ROOT / "seeds",
            sql_dir=PROJECT_ROOT / "sql", catalogue=catalogue, storage_version="v1.3.0",
        )  # fmt: skip
    assert not (work / "check.duckdb").exists()

    code, output = load(work, home)
    assert code == 0, output[-3000:]
    assert "does not match" in output and str(home / "lake") in output  # says why
    assert query(published, EXPORTS_2011) == [(21.4e9,)]  # not 42.8 bn
    last = "select status from audit.source_runs where run_id = (select max(run_id) from audit.load_runs)"
    assert query(published, last) == [("loaded",)]  # staged again from its raw payload, not skipped
    assert verify.verify(home) == []


def test_a_tampered_raw_payload_is_not_staged(work):
    """The lake file and the raw payload both rewritten: the source fails with the raw file named, and nothing of
    the doubled lake file is published (the previous warehouse stays)."""
    home = work / "home"
    published = home / "warehouse" / "tradewh.duckdb"
    before = sha256(published)
    (raw,) = (home / "raw" / SOURCE_ID).glob("*/figures.csv")
    raw.write_text(raw.read_text().replace(",USD,21.4,21.4,1e9,", ",USD,42.8,42.8,1e9,"))
    double_values(lake_file(home))
    assert any(str(raw) in p for p in verify.verify(home))

    code, output = load(work, home)
    assert code != 0
    assert "raw_payload_sha256" in output and str(raw.parent) in output
    assert sha256(published) == before  # the build stopped on the lake file: nothing published
    assert query(published, EXPORTS_2011) == [(21.4e9,)]

    shutil.rmtree(raw.parent)  # the fix the message gives: the payload is fetched anew
    code, output = load(work, home)
    assert code == 0, output[-3000:]
    assert query(published, EXPORTS_2011) == [(21.4e9,)] and verify.verify(home) == []


def test_a_truncated_published_file_is_rebuilt_by_the_next_load(work):
    home = work / "home"
    published = home / "warehouse" / "tradewh.duckdb"
    size = published.stat().st_size
    with open(published, "r+b") as fh:
        fh.truncate(size // 2)
    assert any(str(published) in p for p in verify.verify(home))

    code, output = load(work, home)
    assert code == 0, output[-3000:]
    assert query(published, EXPORTS_2011) == [(21.4e9,)]
    assert [r[1] for r in query(published, "select run_id, is_rebuilt from audit.builds")] == [True]
    assert verify.verify(home) == []


def test_a_clean_home_has_an_empty_rejected_rows_table(baseline):
    published = baseline / "home" / "warehouse" / "tradewh.duckdb"
    assert query(published, "select count(*) from audit.rejected_rows") == [(0,)]
    for table in ("load_runs", "source_runs", "source_files", "rejected_rows", "rollbacks"):
        assert query(published, f"select count(*) >= 0 from audit.{table}") == [(True,)]


def test_four_payloads_sharing_a_file_name_keep_every_rejection(tmp_path):
    workdir = tmp_path / "work"
    with open(SEED, newline="") as fh:
        header, *rows = list(csv.reader(fh))
    expected = set()
    for number, part in enumerate((rows[0:4], rows[4:8], rows[8:12], rows[12:])):
        folder = workdir / "four" / f"folder{number}"
        folder.mkdir(parents=True)
        bad = [*part[0][:2], "short", *part[0][3:]]  # the quote: at least 10 characters
        path = folder / "data.csv"
        with open(path, "w", newline="") as fh:
            csv.writer(fh).writerows([header, bad, *part[1:]])
        expected.add((sha256(path), "data.csv", 2))  # line 2 of every file
    one_source_catalogue(workdir, str(workdir / "four" / "*" / "data.csv"))
    home = workdir / "home"
    with pytest.MonkeyPatch.context() as patched:
        patched.setenv("TRADEWH_REJECT_THRESHOLD", "1")  # the load's environment is this process's
        code, output = load(workdir, home)
    assert code == 0, output[-3000:]
    published = home / "warehouse" / "tradewh.duckdb"
    rows_kept = query(
        published, "select file_sha256, file_name, file_row, rule from audit.rejected_rows where column_name = 'quote'"
    )
    assert {r[:3] for r in rows_kept} == expected  # one per payload, though the name and the line are the same
    assert len(rows_kept) == 4
    recorded = "select sum(rows_rejected) from audit.load_runs"
    distinct = "select count(*) from (select distinct file_sha256, file_row from audit.rejected_rows)"
    assert query(published, distinct) == query(published, recorded)  # every rejected row is there


def test_a_read_only_home_is_one_line_naming_the_path_and_the_fix(tmp_path):
    error = storage_error(PermissionError(13, "Permission denied"), tmp_path / "home" / "lake")
    assert isinstance(error, StorageError) and "\n" not in str(error)
    assert str(tmp_path / "home" / "lake") in str(error) and "TRADEWH_HOME" in str(error)
    full = storage_error(OSError(28, "No space left on device"), tmp_path)
    assert full is not None and "free space" in str(full)
    assert storage_error(OSError(2, "No such file"), tmp_path) is None


def test_repair_deletes_only_the_raw_payloads_whose_bytes_are_wrong(tmp_path):
    raw = tmp_path / "raw" / "source"
    good, bad = b"figures,1\n", b"figures,2\n"
    for body in (good, bad):
        folder = raw / hashlib.sha256(body).hexdigest()
        folder.mkdir(parents=True)
        (folder / "data.csv").write_bytes(body)
    wrong = raw / hashlib.sha256(bad).hexdigest()
    (wrong / "data.csv").write_bytes(b"figures,4\n")  # rewritten after it was kept
    assert [p.split(":")[0] for p in verify.verify_raw(tmp_path / "raw")] == [str(wrong / "data.csv")]
    assert verify.repair_raw(tmp_path / "raw") == [wrong]
    assert sorted(p.name for p in raw.iterdir()) == [hashlib.sha256(good).hexdigest()]
    assert verify.verify_raw(tmp_path / "raw") == []
