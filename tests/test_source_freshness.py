"""Source freshness with thresholds, as dbt's: `[source.freshness]` in the catalogue, `audit.source_freshness`,
`tradewh freshness` (exit 1 past error_after), and the nightly's log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, run_nightly
from warehouse.extract.catalogue import CatalogueError, hours, load_catalogue


def _catalogue(tmp_path: Path, freshness: dict[str, str]) -> Path:
    """The shipped catalogue with a [source.freshness] table added to the press release's entry."""
    text = (PROJECT_ROOT / "catalogue.toml").read_text()
    anchor = 'vintage = "2012-12-07"\n'
    table = "\n  [source.freshness]\n" + "".join(f'  {k} = "{v}"\n' for k, v in freshness.items())
    assert anchor in text
    path = tmp_path / "catalogue.toml"
    path.write_text(text.replace(anchor, anchor + table, 1))
    return path


def test_ages_are_read_in_hours_days_and_weeks():
    assert (hours("36h"), hours("2d"), hours("1w"), hours("1.5d")) == (36, 48, 168, 36)
    with pytest.raises(ValueError, match="is not an age"):
        hours("2 days")


@pytest.mark.parametrize(
    ("freshness", "message"),
    [
        ({"warn_after": "soon"}, "freshness.warn_after: 'soon' is not an age"),
        ({"warn_after": "8d", "error_after": "2d"}, "warn_after is longer than error_after"),
        ({"of": "release"}, "freshness.of must be 'fetch'"),
        ({"warn": "2d"}, r"\[source.freshness\] holds only warn_after, error_after, of"),
    ],
)
def test_a_wrong_threshold_names_the_entry_and_field(tmp_path, freshness, message):
    with pytest.raises(CatalogueError, match=message) as caught:
        load_catalogue(_catalogue(tmp_path, freshness))
    assert "mofcom_2012_technology_trade" in str(caught.value)


def test_the_shipped_catalogue_sets_thresholds_on_the_live_series():
    [wdi] = [s for s in load_catalogue(PROJECT_ROOT / "catalogue.toml") if s.id == "wdi_current"]
    assert (wdi.freshness_of, wdi.freshness_warn_after, wdi.freshness_error_after) == ("fetch", "48 hours", "192 hours")


def test_freshness_passes_warns_and_errs_and_exits_1_on_an_error(tmp_path, prefect_home):
    # the 2012 release measured on its vintage is years old: past error_after
    catalogue = _catalogue(tmp_path, {"of": "vintage", "warn_after": "30d", "error_after": "365d"})
    home = tmp_path / "home"
    result = run_nightly(home, catalogue)
    assert result["status"] == "succeeded"
    env = {**os.environ, "TRADEWH_HOME": str(home), "PYTHONPATH": str(PROJECT_ROOT)}
    shown = subprocess.run(
        [sys.executable, "-m", "warehouse.serve.cli", "freshness", "--width", "200"],  # cells whole, whatever the ids
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert shown.returncode == 1, shown.stdout + shown.stderr
    lines = {line.split()[0]: line for line in shown.stdout.splitlines()[2:] if line and not line.startswith("(")}
    assert lines["mofcom_2012_technology_trade"].split()[1:3] == ["error", "vintage"]
    assert lines["wdi_current"].split()[1:3] == ["pass", "fetch"]  # fetched by the run just now
    assert lines["wdi_2013"].split()[1:3] == ["no", "threshold"]
    assert "1 source(s) older than error_after: mofcom_2012_technology_trade" in shown.stderr
    log = Path(result["log_file"]).read_text()
    assert "mofcom_2012_technology_trade: freshness error" in log
