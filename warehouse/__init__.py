"""tradewh's stages, one package each, in the order the data moves through them:

``common`` (settings, errors, atomic writes, run logs: used by all) -> ``extract`` (the catalogue, the raw zone,
files and HTTP) -> ``parse`` (publisher layouts to tidy rows) -> ``schemas`` (pandera rules, beside the package)
-> ``lake`` (the Parquet lake's manifests and the audit records) -> ``stage`` (parse, validate, quarantine,
commit to the lake) -> ``build`` (the DuckDB file from the lake and ``sql/``) -> ``publish`` (swap, history,
rollback, republish) -> ``orchestrate`` (the Prefect server, notifications, verification) -> ``flows`` (the
nightly) -> ``serve`` (the CLI, SQL, export, report, docs). A package imports only from packages before it
(``tests/test_architecture.py``).
"""
