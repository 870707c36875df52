"""Orchestration around the flow: the project's Prefect server, Prefect's configuration, notifications of a failed
night, and the verification of raw payloads, lake files and publishes."""
