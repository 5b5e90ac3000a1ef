"""The HTML reports (hiermodel/report): number formatting, tables, the fit report of a Fit built
by hand from prior draws (no MCMC), self-containment (no scripts, no network resources), and
the stored-run path of ``hiermodel report`` (one tiny fit)."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from markupsafe import escape as html_escape

import hiermodel as hm
from hiermodel import cli
from hiermodel.backend.sampling import prior_predictive
from hiermodel.posterior.fitted import Fit
from hiermodel.report.fit_data import fit_report
from hiermodel.report.html import table
from hiermodel.runs import run_spec
from tests.helpers import TINY

EXTERNAL = re.compile(r"""(src|href)\s*=\s*["']?(https?:|//|file:)|<script|@import|url\(""",
                      re.IGNORECASE)


def assert_self_contained(html: str) -> None:
    """No script, no stylesheet or image from anywhere but the page itself."""
    assert EXTERNAL.search(html) is None, EXTERNAL.search(html)
    for src in re.findall(r"<img [^>]*src=\"([^\"]*)\"", html):
        assert src.startswith(("data:image/png;base64,", "data:image/svg+xml;base64,")), src


# -- formatting (pure) ---------------------------------------------------------------------------

def test_table_columns_use_the_number_styles() -> None:
    """Each HTML column is formatted in one style of hiermodel.numbers (never fixed and
    scientific mixed), booleans as yes / blank, missing values blank."""
    df = pd.DataFrame({"pooling": [0.0, 0.000472, 8.67e-05, 0.95],
                       "share": [0.012, 0.5, 0.95, np.nan], "n": [1, 20, 300, 4000],
                       "flag": [True, False, True, False], "name": ["a<b", None, "c", "d"]})
    html = str(table(df))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", html)
    rows = [cells[i:i + 5] for i in range(0, len(cells), 5)]
    assert [r[0] for r in rows] == ["0.00e+00", "4.72e-04", "8.67e-05", "9.50e-01"]
    assert [r[1] for r in rows] == ["0.0120", "0.5000", "0.9500", ""]
    assert [r[2] for r in rows] == ["1", "20", "300", "4000"]
    assert [r[3] for r in rows] == ["yes", "", "yes", ""]
    assert [r[4] for r in rows] == ["a&lt;b", "", "c", "d"]


def test_table_escapes_and_aligns() -> None:
    html = str(table(pd.DataFrame({"term": ["<b>x</b>"], "mean": [1.25]}), table_id="t1"))
    assert html.startswith('<table id="t1"><thead><tr><th>term</th><th>mean</th>')
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td>" in html and '<td class="num">1.25</td>' in html
    long = str(table(pd.DataFrame({"i": range(12)}), max_rows=10))
    assert long.count("<tr>") == 11 and "first 10 of 12 rows" in long


# -- a fit report without sampling -----------------------------------------------------------------

@pytest.fixture(scope="module")
def hand_fit() -> Fit:
    """A Fit whose 'posterior' is 200 prior draws (1 chain) of the sleepstudy model."""
    m = hm.model("Reaction ~ Days + (Days | Subject)", hm.datasets.sleepstudy())
    prior = prior_predictive(m, draws=200, seed=1).prior
    keep = [v for v in prior.data_vars
            if not str(v).startswith(("z_", "lkj_")) and str(v) not in m.info.latent]
    idata = az.InferenceData(posterior=prior[keep])
    sampler = {"backend": "pymc", "chains": 1, "draws": 200, "tune": 0, "seed": 1,
               "seconds": 0.0}
    return Fit(m, idata, sampler)


@pytest.mark.builds
def test_fit_report_content(hand_fit: Fit) -> None:
    report = fit_report(hand_fit)
    assert report.formula == "Reaction ~ Days + (Days | Subject)"
    assert dict(report.facts)["Observations"] == "180"
    assert [g.name for g in report.groups] == ["Subject"]
    subject = report.groups[0]
    assert subject.terms == ["(Intercept)", "Days"] and subject.levels == 18
    assert list(subject.table.columns) == [
        "level", "(Intercept) mean", "(Intercept) hdi_low", "(Intercept) hdi_high",
        "Days mean", "Days hdi_low", "Days hdi_high"]
    coef = hand_fit.coef("Subject").set_index(["level", "term"])
    row = subject.table.iloc[0]
    assert row["Days mean"] == coef.loc[(row["level"], "Days"), "mean"]
    assert report.priors.equals(hand_fit.prior_summary().to_frame())
    assert report.ppc_figure is not None
    if shutil.which("dot") is not None:
        assert report.graph_svg is not None and report.graph_svg.startswith("<svg")
        assert "r_Subject" in report.graph_svg


@pytest.mark.builds
def test_fit_report_page(hand_fit: Fit, tmp_path: Path) -> None:
    path = hand_fit.to_html(tmp_path / "sub" / "fit.html")
    assert path == tmp_path / "sub" / "fit.html"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert_self_contained(html)
    for anchor in ("diagnostics", "model", "fixed", "groups", "ppc", "summary"):
        assert f'<section id="{anchor}"' in html, anchor
    for table_id in ("checks-table", "priors-table", "fixef-table", "varcorr-table",
                     "group-table-1"):
        assert f'id="{table_id}"' in html, table_id
    # the convergence gate's table, with its advice for every failed check
    checks = hand_fit.checks()
    for check, advice in zip(checks["check"], checks["advice"], strict=True):
        assert str(html_escape(check)) in html
        if advice:
            assert str(html_escape(advice)) in html, advice
    n_png = html.count('src="data:image/png;base64,')
    assert n_png == 3  # population effects, forest by Subject, posterior predictive check
    if shutil.which("dot") is not None:
        assert html.count('src="data:image/svg+xml;base64,') == 1
    assert not list(tmp_path.glob("sub/.*"))  # no temporary file left


@pytest.mark.builds
def test_report_without_dot_says_why(hand_fit: Fit, monkeypatch: pytest.MonkeyPatch,
                                     tmp_path: Path) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    html = hand_fit.to_html(tmp_path / "r.html").read_text(encoding="utf-8")
    assert "model graph not drawn: drawing the model graph needs Graphviz" in html
    assert "svg+xml" not in html


# -- a stored run ----------------------------------------------------------------------------------

@pytest.mark.fit
def test_run_dir_report_is_written_and_rewritten(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "tiny.toml"
    spec.write_text(textwrap.dedent(TINY), encoding="utf-8")
    run = run_spec(spec)
    page = run.run_dir / "report.html"
    first = page.read_text(encoding="utf-8")
    assert_self_contained(first)
    assert 'id="group-table-1"' in first and "By Subject (18 levels" in first

    page.unlink()
    assert cli.main(["report", str(tmp_path / "runs" / "tiny")]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().splitlines()[-1] == f"HTML report: {page}"
    again = page.read_text(encoding="utf-8")
    assert_self_contained(again)
    # from the stored files: the same tables, plus the run's facts
    for needle in ('id="fixef-table"', 'id="varcorr-table"', "By Subject (18 levels",
                   f"<dd>{run.run_dir}</dd>", "Posterior predictive check"):
        assert needle in again, needle
    assert again.count('src="data:image/png;base64,') == 3
