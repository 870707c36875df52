"""An empty Prefect flow, started the way ``tradewh load`` starts the nightly flow (measurement of ``run.py``).

Same settings (``warehouse.orchestrate.prefect_server.configure_prefect``: Prefect's home in the data folder, a local
ephemeral
API server, telemetry off), the server started the same way (``warehouse.orchestrate.prefect_server.start_early``), same
kind of process, but a flow that does nothing: its wall time is Prefect's fixed cost (interpreter,
``import prefect``, the local server's start, one flow run), which the no-op rerun of tradewh is compared against.

Usage::

    TRADEWH_HOME=/tmp/x .venv/bin/python benchmarks/empty_flow.py
"""

from __future__ import annotations

import json
import sys
import time

from warehouse.common.settings import load_settings
from warehouse.orchestrate.prefect_server import configure_prefect, start_early


def main() -> int:
    started = time.perf_counter()
    settings = load_settings()
    configure_prefect(settings)
    server_started = start_early(settings.cache_path)
    from prefect import flow

    server_started()

    @flow(name="tradewh-benchmark-empty")
    def empty() -> str:
        return "done"

    result = empty()
    print(json.dumps({"result": result, "seconds_in_process": round(time.perf_counter() - started, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
