"""The dataset registry: one entry per publisher layout family, naming its parser, its schema and its staging view.

A catalogue source names its dataset (``dataset = "wdi"``); everything done with its payloads is looked up here,
by import, never by a module name built from a string. One name everywhere: the dataset ``wdi`` has its parser
in ``warehouse/parse/wdi.py``, its schema in ``schemas/wdi.py``, the raw table ``raw.wdi``, the staging view
``staging.stg_wdi`` (``sql/staging/stg_wdi.sql``) and its fixtures in ``tests/fixtures/wdi/``. Adding a dataset
is one entry in ``DATASETS``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandera.pandas as pa

from schemas import comtrade as comtrade_schema
from schemas import oecd_msti as oecd_msti_schema
from schemas import press_release as press_release_schema
from schemas import sdmx_csv as sdmx_csv_schema
from schemas import wdi as wdi_schema
from schemas.rules import FrameRule, RunContext
from warehouse.parse import (
    comtrade,
    comtrade_columnar,
    comtrade_layouts,
    oecd_msti,
    press_release,
    sdmx_csv,
    wdi,
    wdi_api,
)
from warehouse.parse.base import ParsedFile

Parser = Callable[..., ParsedFile]  # (path, *, source_id) -> ParsedFile
BatchParser = Callable[..., Iterator[ParsedFile]]  # (path, *, source_id, batch_rows, read_ahead) -> batches
Rules = Callable[[RunContext], tuple[pa.DataFrameSchema, list[FrameRule]]]
CrossBatchRules = Callable[[RunContext], list[tuple[str, str, str]]]


@dataclass(frozen=True)
class Dataset:
    """A publisher layout family.

    Attributes:
        name: the dataset's name (the catalogue's ``dataset``, the raw table ``raw.<name>``).
        parse: reads one payload whole.
        schema: the run's pandera schema and frame rules (``schemas/<name>.py``'s ``schema(context)``).
        model: the pandera model of the parsed rows (the lake's columns and types).
        layouts: the publisher layouts the parser recognises (by their content, never their file name).
        batches: reads a payload batch by batch, for big files (None: ``parse`` reads it whole).
        cross_batch_rules: the SQL of the rules that compare rows across batches (None: none).
    """

    name: str
    parse: Parser
    schema: Rules
    model: type[pa.DataFrameModel]
    layouts: tuple[str, ...]
    batches: BatchParser | None = None
    cross_batch_rules: CrossBatchRules | None = None

    @property
    def raw_table(self) -> str:
        return f"raw.{self.name}"

    @property
    def staging_view(self) -> str:
        return f"staging.stg_{self.name}"

    def staging_file(self, sql_dir: Path) -> Path:
        return sql_dir / "staging" / f"stg_{self.name}.sql"


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "press_release",
            parse=press_release.parse_press_release,
            schema=press_release_schema.schema,
            model=press_release_schema.PressRelease,
            layouts=("press_release_figures",),
        ),
        Dataset(
            "wdi",
            parse=wdi.parse_wdi,
            schema=wdi_schema.schema,
            model=wdi_schema.Wdi,
            layouts=(wdi.BULK_DOWNLOAD, wdi.WIDE_2013, wdi.TIDY, wdi_api.LAYOUT),
        ),
        Dataset(
            "comtrade",
            parse=comtrade.parse_comtrade,
            schema=comtrade_schema.schema,
            model=comtrade_schema.Comtrade,
            layouts=tuple(comtrade_layouts.LAYOUTS),
            batches=comtrade_columnar.batches_comtrade,
            cross_batch_rules=comtrade_schema.cross_batch_rules,
        ),
        Dataset(
            "sdmx_csv",
            parse=sdmx_csv.parse_sdmx_csv,
            schema=sdmx_csv_schema.schema,
            model=sdmx_csv_schema.SdmxCsv,
            layouts=(sdmx_csv.DATA360, sdmx_csv.OECD_LABELS, sdmx_csv.CODES_ONLY),
        ),
        Dataset(
            "oecd_msti",
            parse=oecd_msti.parse_oecd_msti,
            schema=oecd_msti_schema.schema,
            model=oecd_msti_schema.OecdMsti,
            layouts=(oecd_msti.LAYOUT,),
        ),
    )
}


class UnknownDataset(KeyError):
    """A catalogue names a dataset the registry does not hold."""

    def __str__(self) -> str:
        return str(self.args[0])


def dataset(name: str) -> Dataset:
    """The registry's entry for a dataset.

    Raises:
        UnknownDataset: naming the datasets there are, and where a new one is added.
    """
    try:
        return DATASETS[name]
    except KeyError:
        known = ", ".join(sorted(DATASETS))
        raise UnknownDataset(
            f"no dataset '{name}': the known ones are {known} (a new one is an entry in warehouse/stage/registry.py)"
        ) from None
