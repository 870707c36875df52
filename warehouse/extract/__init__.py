"""Extract: the source catalogue, and each source's payloads kept in the raw zone as they were served (local files
and HTTP, content-addressed by SHA-256)."""

from warehouse.extract.catalogue import CatalogueError, Source, load_catalogue
from warehouse.extract.fetch import Payload, fetch_source
from warehouse.extract.prefetch import prefetch_local, wait_prefetched
from warehouse.extract.secrets import redact

__all__ = [
    "CatalogueError", "Payload", "Source", "fetch_source", "load_catalogue", "prefetch_local", "redact",
    "wait_prefetched",
]  # fmt: skip
