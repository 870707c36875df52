"""Build: a new DuckDB file from the lake, the reference lists and ``sql/`` (models in dependency order, stored
where the file says), checked against the conformed trade figure, stamped with what it was built from."""

from warehouse.build.builder import build_warehouse, check_trade_figures
from warehouse.build.incremental import Plan, build_incremental, plan_incremental
from warehouse.build.inputs import BuildInputs, build_inputs, reason_to_rebuild, stamp_build, stored_views_reading_audit
from warehouse.build.models import BuildError, Header, create_object, read_header, sql_files
from warehouse.build.statements import references

__all__ = [
    "BuildError", "BuildInputs", "Header", "Plan", "build_incremental", "build_inputs", "build_warehouse",
    "check_trade_figures", "create_object", "plan_incremental", "read_header", "reason_to_rebuild", "references",
    "sql_files", "stamp_build", "stored_views_reading_audit",
]  # fmt: skip
