"""Reports of stored runs: one self-contained HTML file per run (``spreadhawk report RUN_ID``)."""

from spreadhawk.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]
