"""Tests of the curated WDI extracts in seeds/ and of the script that regenerates them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from warehouse.parse.wdi import parse_wdi

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "extract_wdi.py"
SEED_DIRS = ("wdi_2013", "wdi_current")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "worldbank").is_dir(),
    reason=f"shared World Bank files not found at {SHARED / 'worldbank'} (CI provides them)",
)


def seed_files() -> list[Path]:
    """List the committed WDI seed files, relative to seeds/."""
    seeds = ROOT / "seeds"
    return sorted(p.relative_to(seeds) for d in SEED_DIRS for p in (seeds / d).iterdir() if p.is_file())


@needs_shared
def test_extract_reproduces_the_seeds_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--shared", str(SHARED), "--out", str(tmp_path)], check=True, cwd=tmp_path
    )
    produced = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert produced == seed_files()
    for name in produced:
        assert (tmp_path / name).read_bytes() == (ROOT / "seeds" / name).read_bytes(), name


@pytest.mark.parametrize("name", [p for p in seed_files() if p.suffix == ".csv"], ids=str)
def test_seed_file_parses(name: Path) -> None:
    parsed = parse_wdi(ROOT / "seeds" / name, source_id="seeds")
    assert set(parsed.frame.country_code) == {"CHN", "USA", "JPN", "KOR", "DEU", "HKG", "IND", "WLD"}
