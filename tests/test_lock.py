"""Tests of the writer lock: one load at a time, a clear message, and no stale lock after a killed run."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from warehouse.publish.lock import LoadRunning, writer_lock

CHILD = """
import sys, time
from pathlib import Path
from warehouse.publish.lock import writer_lock

with writer_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(120)
"""
TIMEOUT_S = 30


def test_second_lock_in_the_same_process_raises(tmp_path: Path) -> None:
    with writer_lock(tmp_path), pytest.raises(LoadRunning), writer_lock(tmp_path):
        pass


def test_message_names_the_holder_pid_and_how_to_wait(tmp_path: Path) -> None:
    with writer_lock(tmp_path), pytest.raises(LoadRunning) as info, writer_lock(tmp_path):
        pass
    message = str(info.value)
    assert f"(pid {os.getpid()})" in message
    assert str(tmp_path) in message
    assert "Wait for it" in message
    assert "--wait" in message


def test_lock_can_be_taken_again_after_release(tmp_path: Path) -> None:
    with writer_lock(tmp_path):
        pass
    with writer_lock(tmp_path):
        assert (tmp_path / ".writer.lock").read_text() == str(os.getpid())


def test_lock_is_released_when_the_body_raises(tmp_path: Path) -> None:
    with pytest.raises(ZeroDivisionError), writer_lock(tmp_path):
        1 / 0  # noqa: B018
    with writer_lock(tmp_path):
        pass


def test_lock_creates_a_missing_home(tmp_path: Path) -> None:
    home = tmp_path / "new" / "home"
    with writer_lock(home):
        assert (home / ".writer.lock").is_file()


@pytest.fixture
def child(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A python child process holding the writer lock of tmp_path (it has printed 'locked')."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT_S)
        assert ready, f"the child did not take the lock within {TIMEOUT_S}s"
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "locked", f"the child said {line!r} (exit code {proc.poll()})"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=TIMEOUT_S)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_lock_held_by_another_process_refuses_this_one(tmp_path: Path, child: subprocess.Popen[str]) -> None:
    with pytest.raises(LoadRunning) as info, writer_lock(tmp_path):
        pass
    assert f"(pid {child.pid})" in str(info.value)


def test_lock_is_free_after_the_holder_is_killed(tmp_path: Path, child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    assert child.wait(timeout=TIMEOUT_S) == -signal.SIGKILL
    with writer_lock(tmp_path):
        assert (tmp_path / ".writer.lock").read_text() == str(os.getpid())
