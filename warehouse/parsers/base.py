"""What every parser returns."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class ParsedFile:
    """Tidy rows of one file in its dataset's own columns.

    Attributes:
        frame: one row per published value, in the dataset's columns, plus ``file_row`` (int, the 1-based
            line number in the file where the value was printed) so a rejected row can be found by hand.
        vintage: the release date the payload itself states (ISO ``YYYY-MM-DD``), or None when the layout
            carries none and the catalogue's vintage applies.
        layout: the name of the publisher layout that was recognised.
    """

    frame: pd.DataFrame
    vintage: str | None
    layout: str
