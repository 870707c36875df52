"""Serve: what users run and read: the ``tradewh`` CLI, read-only SQL, exports, the report, the data dictionary
and the docs page."""
