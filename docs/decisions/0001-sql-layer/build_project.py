"""(a) The project's build of the warehouse from the lake, as flows/nightly.py's build_and_publish calls it
(check and build stamp included; no publish). Usage: build_project.py <target.duckdb>"""

import logging
import sys
import time
from pathlib import Path

from warehouse.catalogue import load_catalogue
from warehouse.settings import load_settings

from warehouse import build, freshness

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
