"""What a catalogue entry declares beyond where its files are: the measures it holds ([[source.measures]]), the
indicators it maps ([[source.indicators]], extending ``seeds/reference/wdi_indicators.csv``) and the country codes
its publisher writes otherwise ([source.aliases]); each checked when the catalogue is read, against the reference
lists, so a mapping that contradicts them is refused with the entry's name, not found later in a load."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from warehouse.extract.catalogue import Source

# [[source.indicators]]: a publisher's indicator mapped to the conformed figure, extending the shipped reference list
INDICATOR_KEYS = ("code", "flow", "classification", "category", "measure", "unit", "scale", "name")
INDICATOR_FLOWS = ("export", "import", "balance", "total")
_INDICATOR_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._]*$")
_ALIAS_KINDS = ("countries",)
_ISO3 = re.compile(r"^[A-Z]{3}$")
CATEGORIES_FILE = "categories.csv"  # the known (classification, category) pairs, in the reference folder
INDICATORS_FILE = "wdi_indicators.csv"  # the shipped indicators the declared ones extend
COUNTRIES_FILE = "countries.csv"
ALIASES_FILE = "country_aliases.csv"
INDICATOR_DATASETS = ("wdi",)  # the datasets whose rules and staging view read declared indicators


class CatalogueError(ValueError):
    """The catalogue itself is wrong; the message names the entry and the field."""


@dataclass(frozen=True)
class MeasureSpec:
    """A measure a source holds, with its unit, currency and the scales its figures are printed in."""

    measure: str
    unit: str
    currency: str | None
    scales: tuple[float, ...]


@dataclass(frozen=True)
class IndicatorSpec:
    """A publisher indicator a source declares (``[[source.indicators]]``): what its figures are, as a row of
    ``seeds/reference/wdi_indicators.csv`` says it for the shipped ones."""

    code: str
    flow: str
    classification: str
    category: str
    measure: str
    unit: str
    scale: float
    name: str

    def toml(self) -> str:
        """The entry's ``[[source.indicators]]`` lines that declare this indicator."""
        return indicator_lines(
            self.code, flow=self.flow, classification=self.classification, category=self.category,
            measure=self.measure, unit=self.unit, scale=self.scale, name=self.name,
        )  # fmt: skip


def indicator_lines(
    code: str,
    *,
    flow: str = "?",
    classification: str = "?",
    category: str = "?",
    measure: str = "?",
    unit: str = "?",
    scale: float | str = 1,
    name: str = "?",
) -> str:
    """The ``[[source.indicators]]`` lines of a catalogue entry for an indicator ('?' where a value is to be chosen).

    Args:
        code: the publisher's indicator code.
        flow, classification, category, measure, unit, scale, name: what its figures are.

    Returns:
        TOML text, one key a line, to paste under the entry's ``[[source]]``.
    """

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    scale_text = f"{scale:g}" if isinstance(scale, float | int) else str(scale)
    return "\n".join(
        [
            "[[source.indicators]]",
            f"code = {quoted(code)}",
            f"flow = {quoted(flow)}            # {' | '.join(INDICATOR_FLOWS)}",
            f"classification = {quoted(classification)}",
            f"category = {quoted(category)}",
            f"measure = {quoted(measure)}",
            f"unit = {quoted(unit)}",
            f"scale = {scale_text}",
            f"name = {quoted(name)}",
        ]
    )


def declares(measures: tuple[MeasureSpec, ...], measure: str, unit: str, scale: float) -> bool:
    return any(
        m.measure == measure and m.unit == unit and any(abs(scale - s) < 1e-9 * max(1.0, s) for s in m.scales)
        for m in measures
    )


def require(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CatalogueError(f"{where}: field '{key}' is required and must be a non-empty string")
    return value


def known_categories(reference_dir: Path) -> frozenset[tuple[str, str]]:
    """The (classification, category) pairs of ``categories.csv`` in the reference folder."""
    path = reference_dir / CATEGORIES_FILE
    with path.open(encoding="utf-8", newline="") as fh:
        return frozenset((row["classification"], row["category"]) for row in csv.DictReader(fh))


def parse_indicators(
    entry: dict, where: str, measures: tuple[MeasureSpec, ...], categories: frozenset[tuple[str, str]] | None
) -> tuple[IndicatorSpec, ...]:
    """The ``[[source.indicators]]`` of an entry, each checked: a known flow and category, and a measure, unit and
    scale that the entry's ``[[source.measures]]`` declare (else every row of it would be quarantined)."""
    tables = entry.get("indicators", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise CatalogueError(f"{where}: indicators must be [[source.indicators]] tables")
    specs: list[IndicatorSpec] = []
    for number, table in enumerate(tables, start=1):
        code = table.get("code")
        at = f"{where}, [[source.indicators]] #{number}" + (f" (code '{code}')" if isinstance(code, str) else "")
        if set(table) - set(INDICATOR_KEYS):
            raise CatalogueError(f"{at}: unknown key(s) {sorted(set(table) - set(INDICATOR_KEYS))}; "
                                 f"the keys are {', '.join(INDICATOR_KEYS)}")  # fmt: skip
        text = {key: require(table, key, at) for key in INDICATOR_KEYS if key != "scale"}
        if not _INDICATOR_CODE.match(text["code"]):
            raise CatalogueError(f"{at}: code '{text['code']}' must be letters, digits and '.' (a publisher code)")
        if text["flow"] not in INDICATOR_FLOWS:
            raise CatalogueError(f"{at}: flow '{text['flow']}' must be one of {', '.join(INDICATOR_FLOWS)}")
        scale = table.get("scale", 1)
        if isinstance(scale, bool) or not isinstance(scale, int | float) or not 0 < scale < float("inf"):
            raise CatalogueError(f"{at}: scale must be a positive number (1 for figures printed in units)")
        pair = (text["classification"], text["category"])
        if categories is not None and pair not in categories:
            known = ", ".join(f"{c}/{k}" for c, k in sorted(categories))
            raise CatalogueError(
                f"{at}: category '{pair[1]}' of classification '{pair[0]}' is unknown; the known "
                f"classification/category pairs (seeds/reference/{CATEGORIES_FILE}) are: {known}"
            )
        spec = IndicatorSpec(**{**text, "code": text["code"].upper()}, scale=float(scale))
        if not declares(measures, spec.measure, spec.unit, spec.scale):
            raise CatalogueError(
                f"{at}: measure '{spec.measure}' in '{spec.unit}' at scale {spec.scale:g} is not among this entry's "
                "[[source.measures]]; declare it there too"
            )
        if any(s.code == spec.code for s in specs):
            raise CatalogueError(f"{at}: code '{spec.code}' is declared twice")
        specs.append(spec)
    return tuple(specs)


def parse_aliases(entry: dict, where: str) -> tuple[tuple[str, str], ...]:
    """``[source.aliases] countries = { "381" = "ITA" }``: a publisher's country code -> the ISO3 code it stands for."""
    table = entry.get("aliases", {})
    if not isinstance(table, dict) or set(table) - set(_ALIAS_KINDS):
        raise CatalogueError(f"{where}: [source.aliases] holds only {', '.join(_ALIAS_KINDS)}")
    countries = table.get("countries", {})
    if not isinstance(countries, dict):
        raise CatalogueError(f'{where}: aliases.countries must be a table of "publisher code" = "ISO3"')
    for alias, iso3 in countries.items():
        if not alias.strip() or alias != alias.strip():
            raise CatalogueError(f"{where}: aliases.countries: '{alias}' is not a code (empty, or spaces around it)")
        if not isinstance(iso3, str) or not _ISO3.match(iso3):
            raise CatalogueError(f"{where}: aliases.countries: '{alias}' must map to an ISO3 code such as \"ITA\"")
        if alias == iso3:
            raise CatalogueError(f"{where}: aliases.countries: '{alias}' maps to itself")
    return tuple(sorted(countries.items()))


def _rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise CatalogueError(f"cannot read {path}: {exc}") from exc


def check_against_reference(sources: list[Source], name: str, folder: Path) -> None:
    """Declared mappings extend the shipped lists, never contradict them: an indicator of
    ``wdi_indicators.csv`` declared with another meaning, an alias of ``country_aliases.csv`` pointing elsewhere, an
    alias that is itself a current code, or one pointing to a code ``countries.csv`` does not hold is refused."""
    shipped = {
        row["indicator_code"]: (
            row["flow"],
            row["classification"],
            row["category"],
            row["measure"],
            row["unit"],
            float(row["scale"]),
        )  # fmt: skip
        for row in _rows(folder / INDICATORS_FILE)
    }
    countries = {row["iso3"] for row in _rows(folder / COUNTRIES_FILE)}
    aliases = {row["alias"]: row["iso3"] for row in _rows(folder / ALIASES_FILE)}
    for source in sources:
        where = f"catalogue {name} (id '{source.id}')"
        if source.indicators and source.dataset not in INDICATOR_DATASETS:
            raise CatalogueError(
                f"{where}: [[source.indicators]] applies to the datasets {', '.join(INDICATOR_DATASETS)} only"
            )
        for spec in source.indicators:
            if spec.code in shipped and shipped[spec.code] != _meaning(spec):
                flow, classification, category, measure, unit, scale = shipped[spec.code]
                raise CatalogueError(
                    f"{where}: indicator '{spec.code}' is in seeds/reference/{INDICATORS_FILE} as {flow}, "
                    f"{classification}/{category}, {measure} in {unit} at scale {scale:g}; a declaration may add "
                    "indicators, not give a shipped one another meaning"
                )
        for alias, iso3 in source.country_aliases:
            if iso3 not in countries:
                raise CatalogueError(
                    f"{where}: aliases.countries '{alias}' = '{iso3}': '{iso3}' is not a code of "
                    f"seeds/reference/{COUNTRIES_FILE}"
                )
            if alias in countries:
                raise CatalogueError(
                    f"{where}: aliases.countries '{alias}' is a current code of seeds/reference/{COUNTRIES_FILE}; "
                    "an alias may name only a code the country list does not hold"
                )
            if aliases.get(alias, iso3) != iso3:
                raise CatalogueError(
                    f"{where}: aliases.countries '{alias}' = '{iso3}', but seeds/reference/{ALIASES_FILE} has "
                    f"'{alias}' = '{aliases[alias]}'"
                )


def check_declared_agree(sources: list[Source], name: str) -> None:
    """Two entries may declare the same indicator or alias only with the same meaning: the warehouse holds one
    mapping per code (a code read two ways would put one figure under two categories)."""
    indicators: dict[str, tuple[str, IndicatorSpec]] = {}
    aliases: dict[str, tuple[str, str]] = {}
    for source in sources:
        for spec in source.indicators:
            first = indicators.setdefault(spec.code, (source.id, spec))
            if _meaning(first[1]) != _meaning(spec):
                raise CatalogueError(
                    f"catalogue {name}: indicator '{spec.code}' is declared by '{first[0]}' and '{source.id}' with "
                    "different flow, classification, category, measure, unit or scale; declare it alike in both"
                )
        for alias, iso3 in source.country_aliases:
            first_alias = aliases.setdefault(alias, (source.id, iso3))
            if first_alias[1] != iso3:
                raise CatalogueError(
                    f"catalogue {name}: country alias '{alias}' is '{first_alias[1]}' in '{first_alias[0]}' "
                    f"and '{iso3}' in '{source.id}'"
                )


def _meaning(spec: IndicatorSpec) -> tuple[object, ...]:
    return (spec.flow, spec.classification, spec.category, spec.measure, spec.unit, spec.scale)
