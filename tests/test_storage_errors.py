"""A data folder that cannot be written: read-only, or on a full disk. Real mounts (a read-only bind mount, a small
tmpfs), real `tradewh load` processes: one line naming the path and the fix, no traceback, the published file
intact, and the next load on a writable disk completes."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.slow


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[list[Path]]:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root and mount(8) for a read-only bind mount and a small tmpfs")
    made: list[Path] = []
    yield made
    for point in reversed(made):
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _load(home: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "TRADEWH_"))}
    environment.update(TRADEWH_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "warehouse.serve.cli", "load"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=600,
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_read_only_data_folder_is_one_line_naming_the_path_and_the_fix(tmp_path, mounts):
    writable, home = tmp_path / "writable", tmp_path / "home"
    writable.mkdir()
    home.mkdir()
    first = _load(writable)
    assert first.returncode == 0, first.stdout + first.stderr
    published = writable / "warehouse" / "tradewh.duckdb"
    before = _digest(published)
    if not (_mount("--bind", str(writable), str(home)) and _mount("-o", "remount,bind,ro", str(home))):
        pytest.skip("this machine refuses bind mounts")
    mounts.append(home)
    result = _load(home)
    assert result.returncode == 74, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.strip()]
    assert line.startswith(f"tradewh: cannot write {home}") and "read-only file system" in line
    assert "set TRADEWH_HOME to a writable folder" in line
    assert _digest(published) == before


def test_a_full_disk_fails_the_run_in_one_line_and_keeps_the_publish(tmp_path, mounts):
    home = tmp_path / "home"
    home.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=96m", "tmpfs", str(home)):
        pytest.skip("this machine refuses tmpfs mounts")
    mounts.append(home)
    env = {"TRADEWH_CATALOGUE": str(tmp_path / "catalogue.toml"), "TRADEWH_ALLOWED_ROOTS": str(tmp_path)}
    release = tmp_path / "release" / "figures.csv"
    release.parent.mkdir()
    shutil.copy(PROJECT_ROOT / "seeds" / "mofcom_2012_technology_trade" / "figures.csv", release)
    text = (
        (PROJECT_ROOT / "catalogue.toml")
        .read_text()
        .replace(
            'location = { seed = "mofcom_2012_technology_trade/figures.csv" }', f'location = {{ path = "{release}" }}'
        )
    )
    (tmp_path / "catalogue.toml").write_text(text)
    first = _load(home, **env)
    assert first.returncode == 0, first.stdout + first.stderr
    published = home / "warehouse" / "tradewh.duckdb"
    before = _digest(published)
    # the publisher revises a figure (a rebuild is needed), and the disk is full
    release.write_text(release.read_text().replace("21.4", "21.5", 1))
    filler = home / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * (1 << 20))
        except OSError:
            pass
    result = _load(home, **env)
    assert result.returncode == 74, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.strip()]  # said before Prefect starts, in one line
    assert line.startswith(f"tradewh: cannot write {home}: the disk is full") and "MiB free" in line
    assert _digest(published) == before  # what was published stays
    filler.unlink()
    again = _load(home, **env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert _digest(published) != before
