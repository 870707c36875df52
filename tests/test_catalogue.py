"""The source catalogue: the project's entries are complete, and a wrong entry is refused by name."""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.extract.catalogue import CatalogueError, load_catalogue

CATALOGUE = PROJECT_ROOT / "catalogue.toml"


def test_every_dataset_has_parser_schema_and_staging_view():
    for source in load_catalogue(CATALOGUE):
        parser = importlib.import_module(f"warehouse.parse.{source.dataset}")
        assert callable(getattr(parser, f"parse_{source.dataset}"))
        assert callable(importlib.import_module(f"schemas.{source.dataset}").schema)
        assert (PROJECT_ROOT / "sql" / "staging" / f"stg_{source.dataset}.sql").exists()
        assert source.licence and source.attribution and source.publisher


def test_measures_carry_unit_and_scale():
    sources = {s.id: s for s in load_catalogue(CATALOGUE)}
    release = sources["mofcom_2012_technology_trade"]
    assert release.allows("technology_contract_value", "USD", 1e9)
    assert release.allows("technology_contract_value", "USD", 1e6)
    assert not release.allows("technology_contract_value", "EUR", 1e9)
    assert not release.allows("bop_value", "USD", 1)
    assert sources["wdi_2013"].allows("bop_value", "USD", 1)


ENTRY = """
[[source]]
id = "{id}"
dataset = "wdi"
publisher = "p"
title = "t"
licence = "l"
attribution = "a"
location = {{ seed = "x.csv" }}
vintage = "{vintage}"
{measures}
"""
MEASURE = '[[source.measures]]\nmeasure = "bop_value"\nunit = "USD"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ENTRY.format(id="a", vintage="2013", measures=MEASURE), "vintage '2013' is not a YYYY-MM-DD date"),
        (ENTRY.format(id="A-b", vintage="2013-01-01", measures=MEASURE), "must be lower-case"),
        (ENTRY.format(id="a", vintage="2013-01-01", measures=""), "declare at least one"),
        (ENTRY.format(id="a", vintage="2013-01-01", measures=MEASURE) * 2, "id 'a' appears twice"),
        (ENTRY.format(id="a", vintage="2013-01-01", measures=MEASURE).replace('publisher = "p"', ""), "'publisher'"),
        ("[[source]\n", "catalogue"),
    ],
)
def test_wrong_entries_are_refused_by_name(tmp_path, text, message):
    path = tmp_path / "catalogue.toml"
    path.write_text(text)
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)


def test_http_keys_are_named_never_given(tmp_path):
    text = ENTRY.format(id="a", vintage="2013-01-01", measures=MEASURE).replace(
        'location = { seed = "x.csv" }', 'location = { url = "https://example.org/x.csv" }'
    )
    good = text + '\n[source.http]\nheaders_from_env = { "Ocp-Apim-Subscription-Key" = "COMTRADE_API_KEY" }\n'
    path = tmp_path / "catalogue.toml"
    path.write_text(good)
    [source] = load_catalogue(path)
    assert source.headers_from_env == (("Ocp-Apim-Subscription-Key", "COMTRADE_API_KEY"),)
    path.write_text(text + '\n[source.http]\nheaders_from_env = { "X-Key" = "abc def 123" }\n')
    with pytest.raises(CatalogueError, match="must be a header name and its value a name"):
        load_catalogue(path)


def test_a_source_may_set_its_own_reject_threshold(tmp_path):
    base = (PROJECT_ROOT / "catalogue.toml").read_text()
    own = tmp_path / "own.toml"
    own.write_text(base.replace('vintage = "2013-12-01"', 'vintage = "2013-12-01"\nreject_threshold = 0.01', 1))
    by_id = {s.id: s for s in load_catalogue(own)}
    assert by_id["wdi_2013"].threshold(0.05) == 0.01
    assert by_id["wdi_current"].threshold(0.05) == 0.05
    bad = tmp_path / "bad.toml"
    bad.write_text(base.replace('vintage = "2013-12-01"', 'vintage = "2013-12-01"\nreject_threshold = 5', 1))
    with pytest.raises(CatalogueError, match="reject_threshold must be a share between 0 and 1"):
        load_catalogue(bad)
