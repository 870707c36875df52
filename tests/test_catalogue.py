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


# --- declared mappings: [[source.indicators]] and [source.aliases] --------------------------------------------------

INDICATOR = """
[[source.indicators]]
code = "{code}"
flow = "{flow}"
classification = "bop"
category = "{category}"
measure = "bop_value"
unit = "USD"
scale = 1
name = "ICT service imports (BoP, current US$)"
"""


def _entry(tmp_path, extra: str, *, id: str = "a", dataset: str = "wdi"):
    text = ENTRY.format(id=id, vintage="2013-01-01", measures=MEASURE).replace(
        'dataset = "wdi"', f'dataset = "{dataset}"'
    )
    path = tmp_path / "catalogue.toml"
    path.write_text(text + extra)
    return path


def _indicator(code="BM.GSR.CCIS.CD", flow="import", category="ict_services"):
    return INDICATOR.format(code=code, flow=flow, category=category)


def test_an_entry_declares_indicators_and_aliases(tmp_path):
    path = _entry(tmp_path, _indicator() + '\n[source.aliases]\ncountries = { "381" = "ITA", "ZAR" = "COD" }\n')
    [source] = load_catalogue(path)
    [spec] = source.indicators
    assert (spec.code, spec.flow, spec.classification, spec.category) == (
        "BM.GSR.CCIS.CD",
        "import",
        "bop",
        "ict_services",
    )
    assert (spec.measure, spec.unit, spec.scale) == ("bop_value", "USD", 1.0)
    assert source.country_aliases == (("381", "ITA"), ("ZAR", "COD"))
    # the lines a user is shown are lines the catalogue reads back to the same declaration
    [again] = load_catalogue(_entry(tmp_path, "\n" + spec.toml() + "\n"))
    assert again.indicators == (spec,)


def test_the_catalogue_header_example_loads(tmp_path):
    """The [[source.indicators]] example in catalogue.toml's header comment is an entry that loads as written."""
    header = (PROJECT_ROOT / "catalogue.toml").read_text().split("\n[[source]]")[0]
    lines = header[header.index("#   [[source.indicators]]") :].splitlines()
    example = [line.lstrip("#").strip().split("  ", 1)[0] for line in lines if line.startswith("#" + " " * 19)]
    example = [line for line in example if " = " in line and not line.startswith("countries")]
    [source] = load_catalogue(_entry(tmp_path, "\n[[source.indicators]]\n" + "\n".join(example) + "\n"))
    assert source.indicators[0].code == "BM.GSR.CCIS.CD"


def test_an_unknown_category_is_refused_naming_the_entry_and_the_known_ones(tmp_path):
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(_entry(tmp_path, _indicator(category="travel"), id="my_wdi"))
    message = str(caught.value)
    assert "id 'my_wdi'" in message and "code 'BM.GSR.CCIS.CD'" in message and "'travel'" in message
    assert "categories.csv" in message
    with (PROJECT_ROOT / "seeds" / "reference" / "categories.csv").open() as fh:
        known = [line.split(",")[:2] for line in fh.read().splitlines()[1:]]
    assert all(f"{c}/{k}" in message for c, k in known)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (_indicator(flow="exports"), "flow 'exports' must be one of export, import, balance, total"),
        (_indicator(code="BM GSR"), "must be letters, digits and '.'"),
        (_indicator().replace('unit = "USD"', 'unit = "EUR"'), "not among this entry's \\[\\[source.measures\\]\\]"),
        (_indicator().replace("scale = 1", "scale = 1e6"), "at scale 1e\\+06 is not among"),
        (_indicator().replace("scale = 1", "scale = 0"), "scale must be a positive number"),
        (_indicator().replace('name = "', 'label = "'), "unknown key"),
        (_indicator() * 2, "declared twice"),
        # a shipped indicator may be declared, but only with the meaning seeds/reference/wdi_indicators.csv gives it
        (_indicator(code="BX.GSR.CCIS.CD"), "is in seeds/reference/wdi_indicators.csv as export"),
        ('\n[source.aliases]\ncountries = { "381" = "XXX" }\n', "'XXX' is not a code of seeds/reference/countries.csv"),
        ('\n[source.aliases]\ncountries = { "FRA" = "ITA" }\n', "'FRA' is a current code"),
        ('\n[source.aliases]\ncountries = { "ROM" = "ITA" }\n', "country_aliases.csv has 'ROM' = 'ROU'"),
        ('\n[source.aliases]\ncountries = { "381" = "ita" }\n', "must map to an ISO3 code"),
        ('\n[source.aliases]\nreporters = { "381" = "ITA" }\n', "holds only countries"),
    ],
)
def test_wrong_declarations_are_refused_by_name(tmp_path, extra, message):
    with pytest.raises(CatalogueError, match=message) as caught:
        load_catalogue(_entry(tmp_path, extra, id="my_wdi"))
    assert "my_wdi" in str(caught.value)


def test_a_shipped_indicator_declared_alike_is_accepted(tmp_path):
    shipped = INDICATOR.format(code="BX.GSR.CCIS.CD", flow="export", category="ict_services")
    [source] = load_catalogue(_entry(tmp_path, shipped))
    assert [s.code for s in source.indicators] == ["BX.GSR.CCIS.CD"]


def test_indicators_are_refused_for_a_dataset_that_does_not_read_them(tmp_path):
    with pytest.raises(CatalogueError, match="applies to the datasets wdi only"):
        load_catalogue(_entry(tmp_path, _indicator(), dataset="comtrade"))


def test_two_entries_may_not_read_one_code_two_ways(tmp_path):
    first = ENTRY.format(id="a", vintage="2013-01-01", measures=MEASURE) + _indicator()
    second = ENTRY.format(id="b", vintage="2013-01-01", measures=MEASURE) + _indicator(flow="export")
    path = tmp_path / "catalogue.toml"
    path.write_text(first + second)
    with pytest.raises(CatalogueError, match="'BM.GSR.CCIS.CD' is declared by 'a' and 'b'"):
        load_catalogue(path)
    aliases = '\n[source.aliases]\ncountries = {{ "381" = "{}" }}\n'
    path.write_text(
        ENTRY.format(id="a", vintage="2013-01-01", measures=MEASURE) + aliases.format("ITA")
        + ENTRY.format(id="b", vintage="2013-01-01", measures=MEASURE) + aliases.format("FRA")
    )  # fmt: skip
    with pytest.raises(CatalogueError, match="alias '381' is 'ITA' in 'a' and 'FRA' in 'b'"):
        load_catalogue(path)


def test_the_reference_folder_can_be_given(tmp_path):
    folder = tmp_path / "reference"
    folder.mkdir()
    for name in ("countries.csv", "country_aliases.csv", "wdi_indicators.csv"):
        (folder / name).write_bytes((PROJECT_ROOT / "seeds" / "reference" / name).read_bytes())
    (folder / "categories.csv").write_text("classification,category,parent_category,name\nbop,travel,services,Travel\n")
    [source] = load_catalogue(_entry(tmp_path, _indicator(category="travel")), reference_dir=folder)
    assert source.indicators[0].category == "travel"
    with pytest.raises(CatalogueError, match="bop/travel"):
        load_catalogue(_entry(tmp_path, _indicator(category="ict_services")), reference_dir=folder)
