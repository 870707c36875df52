"""The report: one self-contained HTML page of the published warehouse's figures, for any catalogue.

``queries/`` holds its SQL (one query per file), ``queries.py`` runs them and chooses the page's focus,
``charts.py`` draws with altair and vl-convert (SVG, offline), ``sections.py``, ``analyses.py`` (the deficit across
measures, peers, mirror flows, breaks in series) and ``checks.py`` build the sections, ``page.py`` renders
``templates/`` with Jinja2 and writes the file.
"""

from warehouse.serve.report.page import ReportError, build_report, write_report

__all__ = ["ReportError", "build_report", "write_report"]
