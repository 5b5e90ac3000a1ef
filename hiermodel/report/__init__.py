"""Self-contained HTML reports of a fit and of a comparison: one file, figures embedded as PNG
(Matplotlib) and the model graphs as SVG (Graphviz) ``data:`` URIs, no script, no network.

- :func:`write_fit_report` (``fit.to_html(path)``; ``hiermodel fit`` writes ``report.html``
  into every run directory): the model and its priors, the diagnostics with advice, population
  and group effects with forest plots by group, the posterior predictive check, the graph;
- :func:`write_compare_report` (``comparison.to_html(path)``; ``hiermodel compare`` writes
  it into the comparison directory): the "what partial pooling buys" verdict first, LOO / LOGO
  tables, the per-group table, shrinkage and forest plots, the variants' graphs side by side;
- :func:`write_run_report` (``hiermodel report RUN_DIR``): either, rewritten from the files of
  a stored run.

Gathering the content (:mod:`~hiermodel.report.fit_data`, :mod:`~hiermodel.report.compare_data`)
is separate from rendering it (:mod:`~hiermodel.report.html`, Jinja2 templates in
``templates/``). PyMC is reached only through :mod:`hiermodel.backend.diagram`.
"""

from hiermodel.report.compare_data import CompareReport, comparison_report, stored_comparison_report
from hiermodel.report.fit_data import FitReport, fit_report
from hiermodel.report.pages import (
    write_compare_report,
    write_comparison_files,
    write_fit_report,
    write_run_report,
)

__all__ = ["CompareReport", "FitReport", "comparison_report", "fit_report",
           "stored_comparison_report", "write_compare_report", "write_comparison_files",
           "write_fit_report", "write_run_report"]
