# ruff: noqa: E501  (measurement script: its SQL kept on one line each)
"""Build only, from the 10M lake, as the nightly does (check included, no publish). Run with cwd = a worktree.
usage: buildbench.py <tag> <out.duckdb>"""

import logging
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, os.getcwd())
import warehouse.build.builder as b
from warehouse.build import builder
from warehouse.common.settings import load_settings
from warehouse.extract.catalogue import load_catalogue

assert b.__file__.startswith(os.getcwd()), b.__file__
logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f %(message)s")
tag, out = sys.argv[1], Path(sys.argv[2])
out.unlink(missing_ok=True)
out.with_name(out.name + ".wal").unlink(missing_ok=True)
s = load_settings({"TRADEWH_HOME": os.environ.get("S_HOME", "/tmp/S/home10m-before")})
cat = load_catalogue(Path(os.environ.get("S_CAT", "/tmp/S/catalogue_10M.toml")))
tmp = Path("/tmp/S/measure/tmp")
tmp.mkdir(exist_ok=True)
times = {}


def check(con):
    t = time.monotonic()
    builder.check_trade_figures(con)
    times["check"] = time.monotonic() - t


load1 = os.getloadavg()[0]
t0 = time.monotonic()
builder.build_warehouse(
    out,
    lake_dir=s.lake_dir,
    seeds_dir=s.seeds_dir,
    sql_dir=s.sql_dir,
    catalogue=cat,
    storage_version=s.storage_version,
    memory_limit=s.duckdb_memory_limit,
    temp_dir=tmp,
    check=check,
)
took = time.monotonic() - t0
print(
    f"RESULT {tag}: build {took:.1f} s, check {times['check']:.2f} s, file {out.stat().st_size / 2**20:.1f} MiB, "
    f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB, load1 {load1:.2f}->{os.getloadavg()[0]:.2f}",
    flush=True,
)
