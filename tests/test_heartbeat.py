"""The flow-run heartbeats `tradewh load` takes over from Prefect's engine (warehouse.orchestrate.heartbeat), in
this process: the engine's setting is off inside the block and back after it, and outside a flow run nothing is
sent. tests/test_scheduling.py has the server's side: one heartbeat per run, named as the engine names it."""

from __future__ import annotations

from prefect.settings import get_current_settings, temporary_settings

from warehouse.orchestrate import heartbeat


def test_the_engines_heartbeats_are_off_inside_the_block_and_back_after_it():
    configured = get_current_settings().flows.heartbeat_frequency
    assert configured is not None  # Prefect's default: 180 s
    with heartbeat.engine_heartbeats_off() as interval:
        assert interval == configured
        assert get_current_settings().flows.heartbeat_frequency is None
        assert heartbeat._taken_over == configured  # noqa: SLF001
    assert get_current_settings().flows.heartbeat_frequency == configured
    assert heartbeat._taken_over is None  # noqa: SLF001


def test_heartbeats_turned_off_in_the_settings_stay_off():
    with (
        temporary_settings(updates={"flows.heartbeat_frequency": None}),
        heartbeat.engine_heartbeats_off() as interval,
        heartbeat.flow_run_heartbeats() as thread,
    ):
        assert interval is None
        assert heartbeat._taken_over is None  # noqa: SLF001
        assert thread is None


def test_outside_a_flow_run_nothing_is_sent():
    with heartbeat.engine_heartbeats_off(), heartbeat.flow_run_heartbeats() as thread:
        assert thread is None
