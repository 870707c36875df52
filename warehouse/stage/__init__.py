"""Stage: a source's payloads parsed batch by batch (``batches``), validated against its dataset's schema, bad rows
quarantined with their reason (``quarantine``), valid rows staged as Parquet (``staging``) and committed to the
lake (``commit``); each dataset's parser, schema and staging view come from the registry (``registry``)."""

from warehouse.stage.batches import BATCH_ROWS, model_for, parse_payloads, parser_for, schema_for, validate_source
from warehouse.stage.commit import Staged, commit_lake, dictionary_columns, write_lake
from warehouse.stage.registry import DATASETS, Dataset, UnknownDataset, dataset
from warehouse.stage.staging import stage_source

__all__ = [
    "BATCH_ROWS", "DATASETS", "Dataset", "Staged", "UnknownDataset", "commit_lake", "dataset", "dictionary_columns",
    "model_for", "parse_payloads", "parser_for", "schema_for", "stage_source", "validate_source", "write_lake",
]  # fmt: skip
