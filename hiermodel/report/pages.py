"""Writing the report pages: a fit's, a comparison's, and either from a stored run directory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiermodel.report.compare_data import (
    CompareReport,
    comparison_report,
    stored_comparison_report,
)
from hiermodel.report.fit_data import fit_report
from hiermodel.report.html import render, write_html
from hiermodel.runs.store import MANIFEST, REPORT, find_run, read_manifest
from hiermodel.runs.stored import load_run

if TYPE_CHECKING:
    from hiermodel.comparison import Comparison


def write_fit_report(fit: Any, path: str | Path) -> Path:
    """Write the one-file HTML report of ``fit`` (a ``Fit`` or a stored ``RunFit``) to
    ``path``; returns the path."""
    return write_html(render("fit.html.j2", report=fit_report(fit)), path)


def write_compare_report(comparison: Comparison | CompareReport, path: str | Path) -> Path:
    """Write the one-file HTML report of a comparison (or of its gathered content) to
    ``path``; returns the path."""
    report = comparison if isinstance(comparison, CompareReport) \
        else comparison_report(comparison)
    return write_html(render("compare.html.j2", report=report), path)


def write_comparison_files(comparison: Comparison, directory: str | Path,
                           pngs: dict[str, bytes] | None = None) -> list[Path]:
    """What a comparison directory needs for its report to be rewritten later without the
    fits: ``graph_<variant>.svg`` (when drawn), ``priors_<variant>.csv`` and the report
    itself, ``report.html`` (``pngs``: the figures as already written, name -> PNG bytes).
    Returns the written paths."""
    out = Path(directory)
    report = comparison_report(comparison, pngs)
    written = []
    for g in report.graphs:
        if g.svg is not None:
            path = out / f"graph_{g.variant}.svg"
            path.write_text(g.svg, encoding="utf-8")
            written.append(path)
    for name, table in report.priors.items():
        path = out / f"priors_{name}.csv"
        table.to_csv(path, index=False)
        written.append(path)
    written.append(write_compare_report(report, out / REPORT))
    return written


def write_run_report(path: str | Path) -> Path:
    """(Re)write ``report.html`` of the stored fit or comparison at ``path`` (a run
    directory or a spec's output directory); returns the report's path."""
    path = Path(path)
    if not (path / MANIFEST).is_file() and not (path / "fit" / MANIFEST).is_file() \
            and (path / "compare" / MANIFEST).is_file():
        path = path / "compare"
    directory = find_run(path)
    if read_manifest(directory).get("kind") == "compare":
        return write_compare_report(stored_comparison_report(directory), directory / REPORT)
    return write_fit_report(load_run(directory), directory / REPORT)


__all__ = ["write_compare_report", "write_comparison_files", "write_fit_report",
           "write_run_report"]
