"""The command's imports with Python's cyclic garbage collector paused, and what they made frozen.

Importing Prefect, pandas, pandera, pyarrow and DuckDB makes about 180,000 objects that live as long as the process;
the collector's automatic passes walk them again and again while they are made (0.25-0.33 s of a 1.5-1.8 s import of
the flow and staging's modules, measured with and without ``gc.disable``), and each full pass after (staging's
``gc.collect`` once its batches are gone, the automatic ones during a load) walks them once more: 0.09-0.10 s each.
``tradewh`` (``warehouse.serve.command.run``) pauses the collector before its first import; ``imports_done`` moves
everything made so far into the collector's permanent generation (``gc.freeze``, never walked again) and starts it
again: the command calls it once its modules are imported (a load: before its flow runs, while a night that changes
nothing republishes without the flow and ends with the collector still paused, a second or so that makes few objects;
any other command: before it runs). Reference counting frees memory all along; only cycles wait. Where the collector
was not paused by the command (tests calling ``main`` in their own process), ``imports_done`` does nothing."""

from __future__ import annotations

import gc

_paused = False


def pause_collector() -> None:
    """Pause the cyclic collector while the command imports (``imports_done`` starts it again)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def imports_done() -> None:
    """Freeze the objects made so far (modules, classes, functions) out of the collector's passes and start it
    again, if ``pause_collector`` paused it; else nothing."""
    global _paused
    if not _paused:
        return
    _paused = False
    gc.freeze()
    gc.enable()
