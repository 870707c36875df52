"""The process's allocators (warehouse.common.memory): freed memory kept for reuse after ``tune_allocators``, handed
back by ``release_freed_memory`` only above the budget it is given. Each case runs in a fresh interpreter: glibc's
settings are the process's, and mimalloc reads its own when pyarrow is first imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from warehouse.common import memory

ROOT = Path(__file__).resolve().parents[1]
glibc_only = pytest.mark.skipif(memory._libc("mallopt") is None, reason="glibc's mallopt and malloc_trim only")

# malloc a block of BLOCK bytes and touch every page, free it, report the resident memory at each step (MiB)
_PROBE = """
import ctypes, ctypes.util, json, os, sys
sys.path.insert(0, {root!r})
from warehouse.common import memory
if {tune}:
    memory.tune_allocators()
import pyarrow  # before the first figure: release_freed_memory hands Arrow's pool back too
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
BLOCK = 24 << 20
before = memory.resident_mib()
block = libc.malloc(BLOCK)
libc.memset(block, 1, BLOCK)
touched = memory.resident_mib()
libc.free(block)
freed = memory.resident_mib()
released = memory.release_freed_memory(above_mib={above})
after = memory.resident_mib()
print(json.dumps(dict(before=before, touched=touched, freed=freed, released=released, after=after,
                      purge=os.environ.get("MIMALLOC_PURGE_DELAY"))))
"""


def _probe(*, tune: bool, above: float | None, env: dict[str, str] | None = None) -> dict:
    code = textwrap.dedent(_PROBE).format(root=str(ROOT), tune=tune, above=above)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MIMALLOC_"))}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **(env or {})}, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


@glibc_only
def test_untuned_a_freed_block_goes_back_to_the_kernel_at_once() -> None:
    seen = _probe(tune=False, above=None)
    assert seen["touched"] - seen["before"] > 20  # the 24 MiB block was resident
    assert seen["touched"] - seen["freed"] > 20  # unmapped when freed: the next batch faults its pages in again


@glibc_only
def test_tuned_a_freed_block_is_kept_until_the_process_is_above_its_budget() -> None:
    kept = _probe(tune=True, above=1e9)  # a budget the process is far below
    assert kept["touched"] - kept["before"] > 20
    assert kept["touched"] - kept["freed"] < 4  # kept in the heap for the next batch
    assert kept["released"] is False
    assert kept["after"] - kept["before"] > 20  # below the budget nothing is handed back
    released = _probe(tune=True, above=0)  # a budget the process is above
    assert released["released"] is True
    assert released["touched"] - released["after"] > 20  # malloc_trim gave the block's pages back


@glibc_only
def test_release_without_a_budget_always_hands_memory_back() -> None:
    seen = _probe(tune=True, above=None)
    assert seen["released"] is True
    assert seen["touched"] - seen["after"] > 20


def test_mimalloc_purge_delay_is_set_unless_the_user_set_one() -> None:
    assert _probe(tune=True, above=None)["purge"] == memory.MIMALLOC_PURGE_DELAY_MS
    assert _probe(tune=True, above=None, env={"MIMALLOC_PURGE_DELAY": "7"})["purge"] == "7"
    assert _probe(tune=False, above=None)["purge"] is None


@glibc_only
def test_a_users_glibc_setting_is_left_as_given() -> None:
    # the user's own mmap threshold (128 KiB, glibc's starting value, fixed): the block is unmapped when freed
    seen = _probe(tune=True, above=1e9, env={"MALLOC_MMAP_THRESHOLD_": str(128 << 10)})
    assert seen["touched"] - seen["freed"] > 20


def test_mimalloc_reads_the_purge_delay_set_before_pyarrow_is_imported() -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from warehouse.common import memory\nmemory.tune_allocators()\n"
        "import pyarrow as pa\npa.array(list(range(1000)))\n"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "MIMALLOC_"))}
    done = subprocess.run(
        [sys.executable, "-c", code], env={**clean, "MIMALLOC_VERBOSE": "1"}, capture_output=True, text=True, check=True
    )
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "mimalloc":
        pytest.skip("pyarrow's pool is not mimalloc here")
    assert f"option 'purge_delay': {memory.MIMALLOC_PURGE_DELAY_MS}" in done.stderr


def test_resident_memory_is_read() -> None:
    if not Path("/proc/self/statm").exists():
        pytest.skip("no /proc")
    assert 10 < memory.resident_mib() < 100_000
