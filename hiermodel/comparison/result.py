"""The result of :func:`hiermodel.comparison.compare`: :class:`Comparison` holds the fits, the
tables (``Comparison.tables``), the figures (``Comparison.figures``) and writes them
(:meth:`Comparison.write`: CSV + JSON tables, ``report.txt``, ``report.md``, PNG figures and
the HTML report ``report.html``).
The text itself is rendered by :mod:`hiermodel.comparison.text`. See ``docs/compare.md``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.comparison.flags import FLAGS
from hiermodel.comparison.text import (
    QUANTITY_LONG,
    render_markdown,
    render_terminal,
    render_text,
    report_quantities,
    summary_lines,
    verdict_lines,
)
from hiermodel.errors import CompareError

if TYPE_CHECKING:
    import arviz as az
    from matplotlib.figure import Figure

    from hiermodel.comparison.effects import EffectSpec
    from hiermodel.comparison.logo import LogoResult
    from hiermodel.comparison.pooling import GroupTable
    from hiermodel.posterior.fitted import Fit


class Comparison:
    """The result of :func:`compare`.

    - ``fits``: variant name -> :class:`~hiermodel.posterior.fitted.Fit`;
    - ``tables``: ``variants``, ``loo``, ``logo``/``logo_groups`` (unless skipped),
      ``groups`` (wide per-group table with pooling factors and flags), ``pooling`` (long:
      group x quantity), ``estimates`` (long: group x variant x quantity), ``population``,
      ``variance`` (ICC), ``original_scale`` (log response);
    - ``figures``: ``estimates_<quantity>`` (per-group forest plot by variant), ``shrinkage``,
      ``group_means``, ``loo``;
    - ``str(comparison)``: the report; :meth:`write` puts everything in a directory.
    """

    def __init__(self, *, formula: str, formulas: dict[str, str], fits: dict[str, Fit],
                 kinds: dict[str, str], loo: dict[str, az.ELPDData], group: str,
                 effect: EffectSpec, groups: GroupTable, tables: dict[str, pd.DataFrame],
                 logo: LogoResult | None, warnings: list[str], settings: dict[str, Any],
                 labels: np.ndarray, data: pd.DataFrame, log_response: bool) -> None:
        self.formula = formula
        self.formulas = formulas
        self.fits = fits
        self.kinds = kinds
        self.loo = loo
        self.group = group
        self.effect = effect
        self.group_results = groups
        self.tables = tables
        self.logo = logo
        self.warnings = warnings
        self.settings = settings
        self.log_response = log_response
        self._labels = labels
        self._data = data
        self._figures: dict[str, Figure] | None = None

    # -- convenience ----------------------------------------------------------------------------
    @property
    def variants(self) -> list[str]:
        return list(self.formulas)

    @property
    def flagged(self) -> pd.DataFrame:
        """Rows of the per-group table with at least one flag."""
        t = self.tables["groups"]
        return t[t["flags"] != ""]

    def flags(self, flag: str) -> list[str]:
        """Groups carrying ``flag`` (one of small_n, sign_reversal, extreme, wide_interval)."""
        if flag not in FLAGS:
            raise CompareError(f"unknown flag '{flag}'; flags: {', '.join(FLAGS)}")
        t = self.tables["groups"]
        return t.loc[t[flag], "group"].astype(str).tolist()

    @property
    def pointwise(self) -> pd.DataFrame:
        """Per-observation PSIS-LOO elpd and Pareto k of every variant (N rows)."""
        cols: dict[str, np.ndarray] = {"group": self._labels}
        for name, e in self.loo.items():
            cols[f"elpd_loo_{name}"] = np.asarray(e["loo_i"].values)
            cols[f"pareto_k_{name}"] = np.asarray(e["pareto_k"].values)
        return pd.DataFrame(cols)

    @property
    def pooling_quantity(self) -> str:
        """The quantity partial pooling acts on: the effect when the hierarchical model lets it
        vary by group, else the intercept."""
        varies = self.group_results.varies
        if varies.get("effect"):
            return "effect"
        if "mean" in varies:
            return "mean"
        return self.group_results.quantity

    # -- figures --------------------------------------------------------------------------------
    @property
    def figures(self) -> dict[str, Figure]:
        """Matplotlib figures, built on first access: ``estimates_<quantity>``, ``shrinkage``,
        ``group_means``, ``loo``."""
        if self._figures is None:
            self._figures = self._make_figures()
        return self._figures

    def _make_figures(self) -> dict[str, Figure]:
        from hiermodel.comparison.plots import (
            plot_group_estimates,
            plot_group_means,
            plot_loo,
            plot_shrinkage,
        )

        figs: dict[str, Figure] = {}
        gr = self.group_results
        pop = self.tables["population"]
        flags = self.tables["groups"].set_index("group")["flags"]
        for q in dict.fromkeys(gr.estimates["quantity"]):
            p = pop[pop.quantity == q]
            population = {r.variant: r.mean for r in p.itertuples()
                          if self.kinds.get(r.variant) != "unpooled"}
            label = self.effect.label if q == "effect" else QUANTITY_LONG.get(q, q)
            figs[f"estimates_{q}"] = plot_group_estimates(
                gr.estimates, q, population=population, flags=flags,
                xlabel=label, title=f"Per-{self.group} {q} under each variant")
        if {"unpooled", "hierarchical"} <= set(self.formulas):
            shown = report_quantities(self)

            def value(v: str, q: str) -> float:
                return float(pop[(pop.quantity == q) & (pop.variant == v)]["mean"].iloc[0])

            pooled = {q: value("pooled", q) for q in shown if "pooled" in self.formulas}
            population = {q: value("hierarchical", q) for q in shown}
            pooling = self.tables["pooling"]
            figs["shrinkage"] = plot_shrinkage(pooling[pooling["quantity"].isin(shown)],
                                               pooled=pooled, population=population,
                                               group=self.group,
                                               effect_label=self.effect.label)
        hier = self.fits.get("hierarchical") or next(iter(self.fits.values()))
        y = hier.model.design.y
        split = None
        if self.effect.kind in ("binary", "categorical") and self.effect.column is not None:
            split = self._data[self.effect.column]
        figs["group_means"] = plot_group_means(
            self._data, y, self._labels, response=hier.model.terms.response.variable.name,
            group=self.group, split=split, split_name=self.effect.variable)
        figs["loo"] = plot_loo(self.tables["loo"], self.tables.get("logo"))
        return figs

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: settings, formulas, LOO/LOGO totals, population effects,
        variance partition, flagged groups, warnings and the summary sentences."""
        def records(df: pd.DataFrame | None, index: bool = True) -> list[dict[str, Any]]:
            if df is None:
                return []
            frame = df.reset_index() if index else df
            return json.loads(frame.to_json(orient="records"))

        return {
            "formula": self.formula,
            "variants": self.formulas,
            "kinds": self.kinds,
            "group": self.group,
            "effect": self.effect.label,
            "settings": self.settings,
            "summary": self.summary_lines(),
            "loo": records(self.tables["loo"]),
            "logo": records(self.tables.get("logo")),
            "logo_method": self.logo.method if self.logo else None,
            "population": records(self.tables["population"], index=False),
            "original_scale": records(self.tables.get("original_scale"), index=False),
            "variance": records(self.tables.get("variance"), index=False),
            "flagged": records(self.flagged[["group", "n", "flags", "reason"]], index=False),
            "warnings": self.warnings,
        }

    def write(self, directory: str | Path, figures: bool = True,
              pointwise: bool = False) -> list[Path]:
        """Write every table as CSV, ``comparison.json``, ``report.txt`` (the text report),
        ``report.md`` (the report with the figures), (with ``figures``) PNG plots, and
        ``report.html`` with what rewriting it needs (``graph_<variant>.svg``,
        ``priors_<variant>.csv``) into ``directory``; ``pointwise=True`` adds the N-row
        per-observation LOO table. Returns the written paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name, table in self.tables.items():
            path = out / f"{name}.csv"
            index = name in ("loo", "logo")
            table.to_csv(path, index=index)
            written.append(path)
        if pointwise:
            path = out / "pointwise.csv"
            self.pointwise.to_csv(path, index=False)
            written.append(path)
        path = out / "comparison.json"
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        written.append(path)
        text = str(self)
        path = out / "report.txt"
        path.write_text(text + "\n")
        written.append(path)
        pngs: dict[str, bytes] = {}
        if figures:
            for name, fig in self.figures.items():
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=110)
                pngs[name] = buffer.getvalue()
                path = out / f"{name}.png"
                path.write_bytes(pngs[name])
                written.append(path)
        path = out / "report.md"
        path.write_text(render_markdown(self, text, [f"{name}.png" for name in pngs]))
        written.append(path)
        from hiermodel.report import write_comparison_files

        # the report embeds the PNGs just written (as when it is rewritten from the files)
        written += write_comparison_files(self, out, pngs if figures else None)
        return written

    def to_html(self, path: str | Path) -> Path:
        """Write the self-contained HTML report (verdict, LOO/LOGO, per-group table, figures,
        the variants' model graphs) to ``path``; see :mod:`hiermodel.report`."""
        from hiermodel.report import write_compare_report

        return write_compare_report(self, path)

    # -- the report -----------------------------------------------------------------------------
    def summary_lines(self) -> list[str]:
        """The report's opening: what partial pooling buys, in sentences."""
        return summary_lines(self)

    def verdict(self) -> list[str]:
        """The verdict sentences: the best variant for new observations of known groups
        (PSIS-LOO) and for new groups (leave-one-group-out)."""
        return verdict_lines(self)

    def terminal_summary(self, directory: str | Path | None = None) -> str:
        """The one-screen summary ``hiermodel compare`` prints (verdict, LOO/LOGO tables,
        effect on the original scale, flagged groups); ``directory`` is where the full report
        was written."""
        return render_terminal(self, directory)

    def __str__(self) -> str:
        return render_text(self)

    def __repr__(self) -> str:
        return (f"<hiermodel.Comparison {self.formula!r}: {', '.join(self.formulas)}; "
                f"{len(self.flagged)} flagged groups>")


__all__ = ["Comparison"]
