"""The ``tradewh`` command: ``warehouse.serve.cli.main``, then an end of the process without the interpreter's
teardown.

Once every exit handler has run (Prefect's log and event workers drained, its temporary server stopped, DuckDB's
connections closed, the readline history saved, the logging handlers flushed) and the standard streams are
flushed, the process ends with ``os._exit``: the teardown Python would do next (freeing every module of Prefect,
pandas, pyarrow, DuckDB, pydantic) writes nothing and took 0.35-0.45 s after merely importing them, 0.64 s after a
1M-row load. This module imports nothing heavy, so its handler is registered before any library's and runs after
all of them (``atexit`` runs the last registered first). Only the command ends this way, never ``main``: tests
call it inside their own process, and ``python -m warehouse.serve.cli`` ends as Python does.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys


def run() -> None:
    """Run ``tradewh`` with ``sys.argv`` and end the process with its exit code."""
    status = {"code": 1}  # an exception main does not handle: Python prints it, and the exit code is 1
    atexit.register(_end_process, status)
    from warehouse.common.startup import pause_collector

    pause_collector()  # the imports below make objects that live as long as the process (warehouse.common.startup)
    from warehouse.common.memory import tune_allocators

    tune_allocators()  # before pyarrow is imported: mimalloc reads its settings then
    from warehouse.serve.cli import main

    try:
        status["code"] = main()
    except SystemExit as exc:  # argparse's usage errors and --help
        status["code"] = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    except KeyboardInterrupt:  # Ctrl-C (`tradewh serve`, a long query): the shells' 128 + SIGINT
        status["code"] = 130
        raise
    sys.exit(status["code"])


def _end_process(status: dict[str, int]) -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away, a closed stream
            stream.flush()
    os._exit(status["code"])
