"""The Parquet lake: a folder per dataset, source and vintage, a manifest per source naming the committed files
with their SHA-256 (``manifest``), and the audit records of every run (``audit``)."""

from warehouse.lake.manifest import (
    MANIFEST,
    LakeIntegrityError,
    damaged,
    file_problems,
    lake_files,
    manifest,
    source_dir,
    unchanged,
    verified_lake_files,
)

__all__ = [
    "MANIFEST", "LakeIntegrityError", "damaged", "file_problems", "lake_files", "manifest", "source_dir", "unchanged",
    "verified_lake_files",
]  # fmt: skip
