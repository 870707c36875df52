"""A log file per run under ``<TRADEWH_HOME>/logs`` and lines that show progress while a long step runs.

Each run writes ``logs/run-<run id>.log``: every line of Prefect's flow and task loggers and of the
``warehouse`` modules, whichever way the run was started (``tradewh load``, ``tradewh serve``, a Prefect
worker). Files older than ``log_days`` are removed when a run starts. Long steps (staging a source, building the
views) report through ``Progress``: a line at most every few seconds with the count, the rate and, where the
total is known, a bar; on a terminal the same lines show as they come, in a log they stay plain text.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOGGERS = ("prefect", "warehouse", "flows")
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
BAR_WIDTH = 20


def log_path(logs_dir: Path, run_id: str) -> Path:
    return logs_dir / f"run-{run_id}.log"


def prune(logs_dir: Path, keep_days: int, *, now: float | None = None) -> list[Path]:
    """Remove run logs older than ``keep_days``; returns the files removed."""
    cutoff = (time.time() if now is None else now) - keep_days * 86_400
    removed = []
    for path in logs_dir.glob("run-*.log"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


class RunLogHandler(logging.FileHandler):
    """A FileHandler that, when its file cannot be written (a full disk), says so once on stderr and goes quiet,
    instead of a traceback per log line."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        if not self.failed:
            self.failed = True
            import sys

            print(
                f"tradewh: the run's log file {self.baseFilename} cannot be written; its lines are lost",
                file=sys.stderr,
            )


@contextmanager
def run_log(logs_dir: Path, run_id: str, keep_days: int) -> Iterator[Path]:
    """Copy every line of the run's loggers into ``logs/run-<run id>.log`` while the block runs."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    prune(logs_dir, keep_days)
    path = log_path(logs_dir, run_id)
    handler = RunLogHandler(path, encoding="utf-8", delay=True)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(logging.INFO)
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        if lg.getEffectiveLevel() > logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield path
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()


def bar(done: float, total: float) -> str:
    filled = int(BAR_WIDTH * min(max(done / total, 0.0), 1.0)) if total > 0 else 0
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {min(done / total, 1.0):4.0%}" if total > 0 else ""


class Progress:
    """Throttled progress lines for one step: ``what: 1,200,000 rows, 240,000 rows/s [#####.....] 52%``.

    Args:
        logger: where the lines go.
        what: the step (``"cn_us_sitc: staging"``).
        unit: what is counted (rows, views, bytes).
        total: the count at the end, when known (a bar is drawn).
        every_s: at most one line per this many seconds (the last one is always written by ``done``).
    """

    def __init__(
        self, logger: logging.Logger, what: str, *, unit: str, total: float | None = None, every_s: float = 2.0
    ) -> None:
        self.logger, self.what, self.unit, self.total, self.every_s = logger, what, unit, total, every_s
        self.count = 0.0
        self.started = self.last = time.monotonic()

    def _line(self, now: float, note: str = "") -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.count / elapsed
        shown = f"{self.what}: {self.count:,.0f} {self.unit}"
        if self.total:
            shown += f" of {self.total:,.0f} {bar(self.count, self.total)}"
        return f"{shown}, {rate:,.0f} {self.unit}/s, {elapsed:.1f} s{note}"

    def advance(self, n: float = 1, *, note: str = "") -> None:
        self.count += n
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self.logger.info("%s", self._line(now, note))

    def done(self, note: str = "") -> None:
        self.logger.info("%s", self._line(time.monotonic(), note))
