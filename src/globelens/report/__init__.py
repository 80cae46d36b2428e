"""Reports: one self-contained HTML file with plots, tables and confusion thumbnails."""

from globelens.report.html import render_report, write_report
from globelens.report.plots import figure_to_data_uri
from globelens.report.render import esc, html_table, pct

__all__ = ["esc", "figure_to_data_uri", "html_table", "pct", "render_report", "write_report"]
