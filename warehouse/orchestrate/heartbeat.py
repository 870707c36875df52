"""Flow-run heartbeats that end with the flow, not up to a second after it.

Prefect's flow engine sends a ``prefect.flow-run.heartbeat`` event when a flow run starts and every
``PREFECT_FLOWS_HEARTBEAT_FREQUENCY`` seconds after (180 by default; the events Prefect's zombie-flow automation
watches) from a thread that sleeps in steps of one second and that the engine joins when the flow returns: 0-1 s,
0.5 s on average, added to the end of every run (0.69 s of a 1M-row load's 9.5 s, issue 22). ``tradewh load`` runs
its flow with the engine's heartbeats off (``engine_heartbeats_off``) and the flow sends the same events itself
(``flow_run_heartbeats``): the same name, resource and related resources, at the same interval, from a thread that
waits on an event, so that leaving it costs nothing. Where the engine's heartbeats are on (the served deployment's
runs, ``flows.nightly.nightly`` called from Python), the flow sends none: one heartbeat per interval either way.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

HEARTBEAT_EVENT = "prefect.flow-run.heartbeat"

# the interval ``engine_heartbeats_off`` took from the engine while its flow runs (None: the engine sends them)
_taken_over: int | None = None


@contextmanager
def engine_heartbeats_off() -> Iterator[int | None]:
    """Run a flow called inside with the engine's heartbeats off; ``flow_run_heartbeats`` sends them instead at the
    interval Prefect's settings give. Yields that interval (None where heartbeats are off in the settings)."""
    global _taken_over
    from prefect.settings import get_current_settings, temporary_settings

    interval = get_current_settings().flows.heartbeat_frequency
    if interval is None:
        yield None
        return
    previous, _taken_over = _taken_over, interval
    try:
        with temporary_settings(updates={"flows.heartbeat_frequency": None}):
            yield interval
    finally:
        _taken_over = previous


@contextmanager
def flow_run_heartbeats() -> Iterator[threading.Thread | None]:
    """Inside a flow run whose heartbeats ``engine_heartbeats_off`` took over: send them until the block ends.

    Yields the sending thread, or None where there is nothing to send (no flow run, or the engine sends them).
    """
    interval = _taken_over
    if interval is None:
        yield None
        return
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        yield None
        return
    resource, related = heartbeat_resources(context)
    stop = threading.Event()

    def beat() -> None:
        from prefect.events import emit_event

        while True:
            try:
                emit_event(event=HEARTBEAT_EVENT, resource=resource, related=related)
            except Exception:  # noqa: BLE001 (a heartbeat that fails must not fail the night; the engine's does the same)
                logger.debug("a flow-run heartbeat could not be sent", exc_info=True)
            if stop.wait(interval):
                return

    # the caller's context: the thread sends through the same Prefect settings (the same API URL) as the flow
    thread = threading.Thread(
        target=contextvars.copy_context().run, args=(beat,), name="tradewh-heartbeat", daemon=True
    )
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=2)


def heartbeat_resources(context: object) -> tuple[dict[str, str], list]:
    """The event's resource (the flow run) and related resources (its flow, deployment and tags), as Prefect's
    engine names them."""
    import prefect
    from prefect.events.related import tags_as_related_resources
    from prefect.events.schemas.events import RelatedResource

    run = context.flow_run  # type: ignore[attr-defined]
    flow = getattr(context, "flow", None)
    resource = {
        "prefect.resource.id": f"prefect.flow-run.{run.id}",
        "prefect.resource.name": run.name or "",
        "prefect.version": prefect.__version__,
    }
    related: list = []
    if run.flow_id:
        related.append(
            RelatedResource.model_validate(
                {
                    "prefect.resource.id": f"prefect.flow.{run.flow_id}",
                    "prefect.resource.role": "flow",
                    "prefect.resource.name": flow.name if flow else "",
                }
            )
        )
    if run.deployment_id:
        related.append(
            RelatedResource.model_validate(
                {
                    "prefect.resource.id": f"prefect.deployment.{run.deployment_id}",
                    "prefect.resource.role": "deployment",
                }
            )
        )
    related += tags_as_related_resources(set(run.tags or []))
    return resource, related
