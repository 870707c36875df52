"""(b) step 1: the raw tables dbt's sources read, loaded by the project's own functions exactly as build_warehouse
does before it creates the views (same file settings, storage version). Usage: load_raw.py <target.duckdb>"""

import sys
import time
from pathlib import Path

import duckdb
from warehouse.catalogue import load_catalogue
from warehouse.settings import load_settings

from warehouse import build

s = load_settings()
catalogue = load_catalogue(s.catalogue_path)
target = Path(sys.argv[1])
target.unlink(missing_ok=True)
began = time.monotonic()
s.duckdb_temp_dir.mkdir(parents=True, exist_ok=True)
con = duckdb.connect(
    config={
        "memory_limit": s.duckdb_memory_limit,
        "temp_directory": str(s.duckdb_temp_dir),
        "preserve_insertion_order": False,
        **build.BUILD_CONFIG,
    }
)
con.execute("set enable_progress_bar = false")
con.execute(f"attach '{target}' as wh (storage_version '{s.storage_version}')")
con.execute("use wh")
for schema in ("raw", "audit"):
    con.execute(f"create schema {schema}")
staged = {p.stem.removeprefix("stg_") for p in (s.sql_dir / "staging").glob("stg_*.sql")}
build._load_raw(con, s.lake_dir, sorted({c.dataset for c in catalogue} | staged))
build._load_reference(con, s.seeds_dir, catalogue)
build._load_audit(con, s.lake_dir)
con.execute("checkpoint wh")
con.execute("use memory")
con.execute("detach wh")
con.close()
print(f"raw load: {time.monotonic() - began:.1f} s", file=sys.stderr)
