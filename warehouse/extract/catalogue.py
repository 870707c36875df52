"""The source catalogue: a declarative TOML file, read into typed entries."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from warehouse.extract.declared import (  # noqa: F401 (CatalogueError, IndicatorSpec, indicator_lines: re-exported)
    CATEGORIES_FILE,
    CatalogueError,
    IndicatorSpec,
    MeasureSpec,
    check_against_reference,
    check_declared_agree,
    declares,
    indicator_lines,
    known_categories,
    parse_aliases,
    parse_indicators,
    require,
)

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_ENV_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_BLOCK = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # Prefect block document names: lower-case letters, digits, '-'

# [source.http] limits of a url location, and their defaults (see warehouse.extract.http)
HTTP_TIMEOUT_S = 300.0  # the whole fetch of the URL: connecting, redirects, every page, to the last byte
HTTP_READ_TIMEOUT_S = 60.0  # the longest wait to connect, or for the next bytes: a silent server is retried
HTTP_MAX_BYTES = 2 * 1024**3  # every byte of the source's answers together (all pages), not per response
_HTTP_KEYS = ("headers_from_env", "secret_blocks", "timeout_s", "read_timeout_s", "max_bytes")


@dataclass(frozen=True)
class Source:
    """One catalogue entry."""

    id: str
    dataset: str
    publisher: str
    title: str
    licence: str
    attribution: str
    location_kind: str  # 'seed', 'path' or 'url'
    location: str
    vintage: str
    homepage: str = ""
    measures: tuple[MeasureSpec, ...] = field(default_factory=tuple)
    # url locations only ([source.http]): (header, the environment variable holding its value), and
    # (header, the Prefect Secret block read when that variable is unset). Names only, never a key.
    headers_from_env: tuple[tuple[str, str], ...] = ()
    secret_blocks: tuple[tuple[str, str], ...] = ()
    # url locations only ([source.http] timeout_s, read_timeout_s, max_bytes): how long and how large
    http_timeout_s: float = HTTP_TIMEOUT_S
    http_read_timeout_s: float = HTTP_READ_TIMEOUT_S
    http_max_bytes: int = HTTP_MAX_BYTES
    # [source.freshness]: how old the last successful fetch ("fetch") or the newest vintage ("vintage") may be
    # before `tradewh freshness` warns or errs, as DuckDB interval text ('36 hours'); '' = no threshold
    freshness_of: str = "fetch"
    freshness_warn_after: str = ""
    freshness_error_after: str = ""
    # reject_threshold = 0.01: the share of rejected rows above which this source fails (None = the setting)
    reject_threshold: float | None = None
    # definition = "BPM6": what the entry's figures are compiled under, where seeds/reference/definitions.csv
    # has no row for it (two vintages under different definitions are a break in series, not a revision)
    definition: str = ""
    # [[source.indicators]]: indicators this source maps beyond the shipped list (seeds/reference/wdi_indicators.csv)
    indicators: tuple[IndicatorSpec, ...] = ()
    # [source.aliases] countries: (the publisher's code, the ISO3 code it stands for), beyond the shipped aliases
    country_aliases: tuple[tuple[str, str], ...] = ()

    def threshold(self, default: float) -> float:
        """The share of rejected rows above which this source fails: its own, else the setting's default."""
        return default if self.reject_threshold is None else self.reject_threshold

    def allows(self, measure: str, unit: str, scale: float) -> bool:
        """Whether the catalogue declares this measure with this unit and scale."""
        return declares(self.measures, measure, unit, scale)


def _pairs(http: dict, key: str, where: str, name_pattern: re.Pattern[str]) -> tuple[tuple[str, str], ...]:
    """A ``[source.http]`` table of header name -> the name of a variable or block, checked; never a key itself."""
    table = http.get(key, {})
    if not isinstance(table, dict):
        raise CatalogueError(f'{where}: http.{key} must be a table of "Header-Name" = "NAME"')
    for header, name in table.items():
        if not _HEADER.match(header) or not isinstance(name, str) or not name_pattern.match(name):
            raise CatalogueError(f"{where}: http.{key}: '{header}' must be a header name and its value a name")
    return tuple(sorted(table.items()))


def _limit(http: dict, key: str, default: float, where: str, *, integer: bool = False) -> float:
    """A ``[source.http]`` limit: a positive number (a whole one for ``max_bytes``), or the default."""
    value = http.get(key, default)
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not value > 0 or value == float("inf"):
        what = "a positive whole number of bytes" if integer else "a positive number of seconds"
        raise CatalogueError(f"{where}: http.{key} must be {what}")
    return value if integer else float(value)


def _parse_http(entry: dict, kind: str, where: str) -> dict[str, object]:
    """The ``Source`` fields of a ``[source.http]`` table: key names, and the limits (defaults when absent)."""
    http = entry.get("http", {})
    if not isinstance(http, dict) or set(http) - set(_HTTP_KEYS):
        raise CatalogueError(f"{where}: [source.http] holds only {', '.join(_HTTP_KEYS)}")
    if http and kind != "url":
        raise CatalogueError(f"{where}: [source.http] applies to a url location only")
    return {
        "headers_from_env": _pairs(http, "headers_from_env", where, _ENV_VAR),
        "secret_blocks": _pairs(http, "secret_blocks", where, _BLOCK),
        "http_timeout_s": _limit(http, "timeout_s", HTTP_TIMEOUT_S, where),
        "http_read_timeout_s": _limit(http, "read_timeout_s", HTTP_READ_TIMEOUT_S, where),
        "http_max_bytes": _limit(http, "max_bytes", HTTP_MAX_BYTES, where, integer=True),
    }


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|d|w)\s*$")
_HOURS = {"h": 1, "d": 24, "w": 24 * 7}
_FRESHNESS_KEYS = ("warn_after", "error_after", "of")


def hours(text: str) -> float:
    """An age such as '36h', '2d' or '1w' in hours.

    Raises:
        ValueError: not a number followed by h, d or w.
    """
    match = _AGE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not an age such as 36h, 2d or 1w")
    return float(match.group(1)) * _HOURS[match.group(2)]


def _parse_freshness(entry: dict, where: str) -> dict[str, str]:
    """The ``Source`` fields of a ``[source.freshness]`` table (as dbt's ``warn_after`` / ``error_after``)."""
    table = entry.get("freshness", {})
    if not isinstance(table, dict) or set(table) - set(_FRESHNESS_KEYS):
        raise CatalogueError(f"{where}: [source.freshness] holds only {', '.join(_FRESHNESS_KEYS)}")
    of = table.get("of", "fetch")
    if of not in ("fetch", "vintage"):
        raise CatalogueError(f"{where}: freshness.of must be 'fetch' (the last successful fetch) or 'vintage'")
    limits: dict[str, float | None] = {}
    for key in ("warn_after", "error_after"):
        value = table.get(key)
        try:
            limits[key] = None if value is None else hours(str(value))
        except ValueError as exc:
            raise CatalogueError(f"{where}: freshness.{key}: {exc}") from None
    warn, error = limits["warn_after"], limits["error_after"]
    if warn is not None and error is not None and warn > error:
        raise CatalogueError(f"{where}: freshness.warn_after is longer than error_after")
    return {
        "freshness_of": of,
        "freshness_warn_after": "" if warn is None else f"{warn:g} hours",
        "freshness_error_after": "" if error is None else f"{error:g} hours",
    }


def _definition(entry: dict, where: str) -> str:
    """The entry's ``definition`` (a short key such as BPM6), or ''."""
    value = entry.get("definition", "")
    if not isinstance(value, str) or (value and not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", value)):
        raise CatalogueError(f"{where}: definition must be a short key such as \"BPM6\" (letters, digits, _ . -)")
    return value


def _parse_entry(entry: dict, where: str, categories: frozenset[tuple[str, str]] | None = None) -> Source:
    source_id = require(entry, "id", where)
    where = f"{where} (id '{source_id}')"
    dataset = require(entry, "dataset", where)
    for name, value in (("id", source_id), ("dataset", dataset)):
        if not _ID.match(value):
            raise CatalogueError(f"{where}: {name} '{value}' must be lower-case letters, digits and '_'")
    location = entry.get("location")
    if not isinstance(location, dict) or len(location) != 1 or next(iter(location)) not in {"seed", "path", "url"}:
        raise CatalogueError(f"{where}: location must be exactly one of seed = ..., path = ..., url = ...")
    kind, target = next(iter(location.items()))
    vintage = require(entry, "vintage", where)
    try:
        dt.date.fromisoformat(vintage)
    except ValueError as exc:
        raise CatalogueError(f"{where}: vintage '{vintage}' is not a YYYY-MM-DD date") from exc
    measures = tuple(
        MeasureSpec(
            measure=require(m, "measure", where),
            unit=require(m, "unit", where),
            currency=m.get("currency"),
            scales=tuple(float(s) for s in m.get("scales", [1])),
        )
        for m in entry.get("measures", [])
    )
    if not measures:
        raise CatalogueError(f"{where}: declare at least one [[source.measures]]")
    threshold = entry.get("reject_threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1
    ):
        raise CatalogueError(f"{where}: reject_threshold must be a share between 0 and 1 (0.01 = 1 %)")
    return Source(
        id=source_id,
        dataset=dataset,
        publisher=require(entry, "publisher", where),
        title=require(entry, "title", where),
        licence=require(entry, "licence", where),
        attribution=require(entry, "attribution", where),
        location_kind=kind,
        location=str(target),
        vintage=vintage,
        homepage=entry.get("homepage", ""),
        measures=measures,
        **_parse_http(entry, kind, where),
        **_parse_freshness(entry, where),
        reject_threshold=None if threshold is None else float(threshold),
        definition=_definition(entry, where),
        indicators=parse_indicators(entry, where, measures, categories),
        country_aliases=parse_aliases(entry, where),
    )


def load_catalogue(path: Path, *, reference_dir: Path | None = None) -> list[Source]:
    """Read and check the catalogue.

    Args:
        path: the TOML file.
        reference_dir: the reference lists that declared indicators are checked against (their categories); the
            project's ``seeds/reference`` when None.

    Returns:
        The entries, in file order.

    Raises:
        CatalogueError: on a missing field, a bad id or vintage, a duplicated id, an indicator of an unknown
            category, or two entries giving one indicator code or one country alias different meanings.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogueError(f"catalogue {path}: {exc}") from exc
    entries = document.get("source", [])
    declares = any(isinstance(e, dict) and (e.get("indicators") or e.get("aliases")) for e in entries)
    folder = reference_dir
    if folder is None:
        from warehouse.common.settings import PROJECT_ROOT

        folder = PROJECT_ROOT / "seeds" / "reference"
    categories = None
    if declares:  # the reference lists are read only when an entry declares mappings
        try:
            categories = known_categories(folder)
        except (OSError, KeyError) as exc:
            raise CatalogueError(f"catalogue {path.name}: cannot read {folder / CATEGORIES_FILE}: {exc}") from exc
    sources = [_parse_entry(e, f"catalogue {path.name}, source #{i + 1}", categories) for i, e in enumerate(entries)]
    seen: set[str] = set()
    for s in sources:
        if s.id in seen:
            raise CatalogueError(f"catalogue {path.name}: id '{s.id}' appears twice")
        seen.add(s.id)
    check_declared_agree(sources, path.name)
    if declares:
        check_against_reference(sources, path.name, folder)
    return sources
