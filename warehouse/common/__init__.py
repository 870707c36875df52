"""What every stage uses: settings, errors, atomic writes, run logs and progress, read-only connections."""

from warehouse.common.atomic import write_bytes_atomic, write_text_atomic
from warehouse.common.errors import SourceError, StorageError, require_free_space, storage_error
from warehouse.common.readonly import connect_read_only
from warehouse.common.runlog import Progress, run_log
from warehouse.common.settings import PROJECT_ROOT, Settings, load_settings

__all__ = [
    "PROJECT_ROOT", "Progress", "Settings", "SourceError", "StorageError", "connect_read_only", "load_settings",
    "require_free_space", "run_log", "storage_error", "write_bytes_atomic", "write_text_atomic",
]  # fmt: skip
