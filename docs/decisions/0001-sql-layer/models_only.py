"""(a'') The builder's model step alone, in a fresh process on a file whose raw tables another process loaded
(load_raw.py): what (b) does, with the builder instead of dbt. Usage: models_only.py <file with raw tables>"""

import logging
import sys
import time
from pathlib import Path

import duckdb
from warehouse.settings import load_settings

from warehouse import build

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
s = load_settings()
target = Path(sys.argv[1])
began = time.monotonic()
con = duckdb.connect(
    config={
        "memory_limit": s.duckdb_memory_limit,
        "temp_directory": str(s.duckdb_temp_dir),
        "preserve_insertion_order": False,
        **build.BUILD_CONFIG,
    }
)
con.execute("set enable_progress_bar = false")
con.execute(f"attach '{target}' as wh")
con.execute("use wh")
for schema in ("staging", "core", "marts", "store"):
    con.execute(f"create schema {schema}")
for path in build.sql_files(s.sql_dir):
    t = time.monotonic()
    build.create_object(con, path)
    logging.info("%s.%s (%s, %.1f s)", path.parent.name, path.stem, build.materialization(path), time.monotonic() - t)
build.check_trade_figures(con)
logging.info("checked")
con.execute("checkpoint wh")
con.close()
print(f"models only: {time.monotonic() - began:.1f} s", file=sys.stderr)
