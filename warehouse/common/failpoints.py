"""Crash injection for the crash-safety tests: ``TRADEWH_FAILPOINT=<name>`` kills the process at that point.

Each name marks the middle of one stage (fetch, Parquet write, DuckDB load, publish), where a real crash
would do the most harm. Unset, a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

NAMES = ("fetch", "parquet", "load", "publish")
LAKE_NAMES = ("lake_commit",)  # the DuckLake publish's: everything written, nothing committed


def failpoint(name: str) -> None:
    """SIGKILL this process if the environment asks for a crash here."""
    if os.environ.get("TRADEWH_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
