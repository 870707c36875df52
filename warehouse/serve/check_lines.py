"""What ``tradewh check-source`` proposes to add to a catalogue entry: the ``[[source.indicators]]``, the
``[[source.measures]]`` and the ``[source.aliases]`` lines for the indicators, units and country codes a source's
rows carry that nothing maps yet, in the shapes ``warehouse.extract.declared`` reads.

A proposal is read from the file itself (the indicator's published name, the economy's published name) and the
shipped reference lists; what cannot be read from them is written '?', for the person to choose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from warehouse.extract.catalogue import Source
from warehouse.extract.declared import indicator_lines, known_categories

UNKNOWN = "?"


@dataclass(frozen=True)
class Meaning:
    """What an indicator's figures are, as ``[[source.indicators]]`` says it."""

    flow: str
    classification: str
    category: str
    measure: str
    unit: str
    scale: float


def _words(text: str) -> set[str]:
    """Lower-case words, a plural 's' dropped ('services' and 'service' alike)."""
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in re.findall(r"[a-z0-9]+", text.lower())}


# the classifications a measure's figures are filed under (``seeds/reference/categories.csv``)
MEASURE_CLASSIFICATIONS = {"bop_value": ("bop",), "customs_value": ("customs", "hightech_products")}
_SYNONYMS = {"merchandise": "good", "commodity": "good"}  # the publishers' words for a category's
_STOP = {"export", "import", "receipt", "payment", "of", "and", "the", "for", "use", "total", "current", "us"}


def guess_meaning(
    name: str, categories: Iterable[tuple[str, str]], category_names: dict[tuple[str, str], str]
) -> Meaning:
    """An indicator's flow, classification, category, measure, unit and scale, read from its published name
    ('ICT service exports (% of service exports, BoP)'); '?' where the name does not say.

    The category is the one of the measure's classifications whose words the name's subject (before the
    parenthesis) shares most: its id's words count twice, a word of its id the subject lacks counts against it.

    Args:
        name: the indicator's name as the file prints it.
        categories: the known (classification, category) pairs.
        category_names: their names (``categories.csv``'s ``name``).
    """
    lower = name.lower()
    flow = UNKNOWN
    exports, imports = re.search(r"\b(exports?|receipts?)\b", lower), re.search(r"\b(imports?|payments?)\b", lower)
    if exports and (not imports or exports.start() < imports.start()):
        flow = "export"
    elif imports:
        flow = "import"
    bop = "bop" in _words(lower)
    if "%" in name or "percent" in lower:
        measure, unit = "share", "percent"
    elif "us$" in lower and "constant" not in lower:
        measure, unit = ("bop_value" if bop else "customs_value"), "USD"
    else:
        measure, unit = UNKNOWN, UNKNOWN
    allowed = MEASURE_CLASSIFICATIONS.get(measure, ("bop",) if bop else ())
    subject = _words(name.split("(")[0].replace("-", " ")) - _STOP
    subject |= {_SYNONYMS[w] for w in subject if w in _SYNONYMS}
    best, best_score = (UNKNOWN, UNKNOWN), 0
    for pair in sorted(categories):
        if pair[0] not in allowed:
            continue
        own = _words(pair[1].replace("_", " ")) - _STOP
        named = _words(category_names.get(pair, "").split("(")[0].replace("-", " ")) - _STOP
        score = 2 * len(subject & own) - len(own - subject) + len(subject & named)
        if score > best_score:
            best, best_score = pair, score
    classification = best[0] if best[0] != UNKNOWN else (allowed[0] if len(allowed) == 1 else UNKNOWN)
    return Meaning(flow, classification, best[1], measure, unit, 1.0)


def measure_lines(measure: str, unit: str, scales: Iterable[float]) -> str:
    """A ``[[source.measures]]`` table."""
    currency = '\ncurrency = "USD"' if unit == "USD" else ""
    shown = ", ".join(f"{s:g}" for s in sorted(set(scales)))
    return f'[[source.measures]]\nmeasure = "{measure}"\nunit = "{unit}"{currency}\nscales = [{shown}]'


def alias_lines(source: Source, aliases: dict[str, str]) -> str:
    """The ``[source.aliases]`` table for these publisher codes (or its pairs, when the entry has the table)."""
    pairs = ", ".join(f'"{code}" = "{iso3}"' for code, iso3 in sorted(aliases.items()))
    if source.country_aliases:
        kept = ", ".join(f'"{code}" = "{iso3}"' for code, iso3 in source.country_aliases)
        return f"[source.aliases]  # replaces the entry's table, which holds {kept}\ncountries = {{ {kept}, {pairs} }}"
    return f"[source.aliases]\ncountries = {{ {pairs} }}"


def country_by_name(countries: pd.DataFrame) -> dict[str, str]:
    """Lower-case name -> ISO3, for the economies of ``countries.csv`` (not the aggregates)."""
    economies = countries[countries["is_aggregate"].astype(str).str.lower() != "true"]
    return {str(n).strip().lower(): str(i) for n, i in zip(economies["name"], economies["iso3"], strict=True)}


@dataclass
class Proposal:
    """The lines to add to the entry, and why each is there."""

    measures: list[str]
    indicators: list[str]
    aliases: dict[str, str]
    notes: list[str]

    def text(self, source: Source) -> str:
        blocks = [*self.measures, *self.indicators]
        if self.aliases:
            blocks.append(alias_lines(source, self.aliases))
        return "\n\n".join(blocks)


def propose(
    source: Source,
    reference_dir: Path,
    *,
    indicators: dict[str, str],
    countries: dict[str, str],
    undeclared: Iterable[tuple[str, str, float]] = (),
) -> Proposal:
    """The catalogue lines that map what a source's rows carry and nothing maps yet.

    Args:
        source: the catalogue entry.
        reference_dir: ``seeds/reference``.
        indicators: each unknown indicator code -> its published name.
        countries: each unknown country code -> its published name ('' when the file prints none).
        undeclared: (measure, unit, scale) the rows carry that the entry's ``[[source.measures]]`` do not declare.
    """
    from warehouse.common.reference import load_countries

    categories = known_categories(reference_dir)
    names = pd.read_csv(reference_dir / "categories.csv", dtype=str, keep_default_na=False)
    category_names = {
        (c, k): n for c, k, n in zip(names["classification"], names["category"], names["name"], strict=True)
    }
    wanted: dict[tuple[str, str], set[float]] = {}
    for measure, unit, scale in undeclared:
        wanted.setdefault((measure, unit), set()).add(scale)
    notes, lines = [], []
    for code, name in sorted(indicators.items()):
        meaning = guess_meaning(name, categories, category_names)
        lines.append(
            indicator_lines(
                code,
                flow=meaning.flow,
                classification=meaning.classification,
                category=meaning.category,
                measure=meaning.measure,
                unit=meaning.unit,
                scale=meaning.scale,
                name=name or UNKNOWN,
            )  # fmt: skip
        )
        if UNKNOWN not in (meaning.measure, meaning.unit) and not source.allows(meaning.measure, meaning.unit, 1.0):
            wanted.setdefault((meaning.measure, meaning.unit), set()).add(1.0)
        if UNKNOWN in (meaning.flow, meaning.classification, meaning.category, meaning.measure, meaning.unit):
            notes.append(f"indicator {code}: its name ({name!r}) does not say every field: replace each '?'")
        else:
            notes.append(f"indicator {code}: read from its name {name!r}; check the flow, category and unit")
    by_name = country_by_name(load_countries(reference_dir))
    aliases = {}
    for code, name in sorted(countries.items()):
        iso3 = by_name.get(name.strip().lower(), UNKNOWN) if name else UNKNOWN
        aliases[code] = iso3
        notes.append(
            f"country code {code!r}" + (f" ({name})" if name else "") + (f": matched by name to {iso3}"
            if iso3 != UNKNOWN else ": no economy of seeds/reference/countries.csv has that name: replace '?'")
        )  # fmt: skip
    measures = [measure_lines(m, u, scales) for (m, u), scales in sorted(wanted.items())]
    return Proposal(measures, lines, aliases, notes)
