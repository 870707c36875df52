"""(a') build_project.py with one change: `checkpoint` after the raw tables are loaded (see ADR 0001).
(check and build stamp included; no publish). Usage: build_project.py <target.duckdb>"""

import logging
import sys
import time
from pathlib import Path

from warehouse.catalogue import load_catalogue
from warehouse.settings import load_settings

from warehouse import build, freshness

_load_audit = build._load_audit


def _load_audit_then_checkpoint(con, lake_dir):  # variant: the raw tables checkpointed before the views are built
    _load_audit(con, lake_dir)
    con.execute("checkpoint wh")
    logging.info("raw tables checkpointed")


build._load_audit = _load_audit_then_checkpoint

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
s = load_settings()
catalogue = load_catalogue(s.catalogue_path)
target = Path(sys.argv[1])
target.unlink(missing_ok=True)
began = time.monotonic()
logging.info("start")
inputs = freshness.build_inputs(
    lake_dir=s.lake_dir,
    sql_dir=s.sql_dir,
    seeds_dir=s.seeds_dir,
    catalogue=catalogue,
    storage_version=s.storage_version,
)


def _finish(con):
    logging.info("finish: views built and checked")
    freshness.stamp_build(con, inputs, "bench")
    logging.info("finish: stamped")


build.build_warehouse(
    target,
    lake_dir=s.lake_dir,
    seeds_dir=s.seeds_dir,
    sql_dir=s.sql_dir,
    catalogue=catalogue,
    storage_version=s.storage_version,
    check=build.check_trade_figures,
    finish=_finish,
)
logging.info("end")
print(f"project build: {time.monotonic() - began:.1f} s", file=sys.stderr)
