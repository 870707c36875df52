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


class ReadAgain(Exception):  # noqa: N818 (an instruction, not an error to report)
    """The batches a streaming parser handed out are void: read the file again from its start.

    Raised by a parser that reads ahead of its own checks (``batches_comtrade(read_ahead=True)``) when a later
    check fails; the parser keeps what it found, so the second read takes its exact path at once.
    """
