"""The content of a fit's report, gathered from a :class:`~hiermodel.posterior.fitted.Fit` or a
stored run (:class:`~hiermodel.runs.RunFit`, whose tables come from its files): facts, the
diagnostics with advice, the prior table, the model graph, population and group effects with
forest plots, the posterior predictive check and the printed summary. Rendering is
:mod:`hiermodel.report.html`'s job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from hiermodel.errors import HiermodelError
from hiermodel.posterior.diagnostics import passed
from hiermodel.report.figures import MAX_LEVELS, plot_group_forest, plot_population
from hiermodel.runs import RunFit

log = logging.getLogger("hiermodel.report")

PPC_DRAWS = 60


@dataclass
class GroupSection:
    """One grouping factor: its varying terms, the per-level table and the forest plot."""

    name: str
    terms: list[str]
    levels: int
    table: pd.DataFrame
    figure: Figure | None
    note: str = ""


@dataclass
class FitReport:
    """Everything the fit report shows (see the module docstring)."""

    title: str
    formula: str
    facts: list[tuple[str, str]]
    ok: bool
    checks: pd.DataFrame
    priors: pd.DataFrame
    graph_svg: str | None
    fixef: pd.DataFrame
    fixef_figure: Figure | None
    varcorr: pd.DataFrame
    groups: list[GroupSection]
    ppc_figure: Figure | None
    summary_text: str
    prob: float
    notes: dict[str, str] = field(default_factory=dict)


def _groups(fit: Any) -> list[str]:
    if isinstance(fit, RunFit):
        return list(fit.manifest.get("groups", {}))
    return list(fit.model.info.group_terms)


def _facts(fit: Any) -> list[tuple[str, str]]:
    s = fit.sampler
    if isinstance(fit, RunFit):
        m = fit.manifest
        family = f"{m.get('family')} ({m.get('link')} link)"
        n = str(m.get("data", {}).get("observations", ""))
    else:
        family = f"{fit.model.family.name} ({fit.model.family.link} link)"
        n = str(fit.model.prepared.n)
    table = fit.prior_summary()
    facts = [("Formula", fit.formula), ("Family", family), ("Observations", n),
             ("Sampler", f"{s.get('backend')}: {s.get('chains')} chains × {s.get('draws')} "
                         f"draws after {s.get('tune')} tuning, seed {s.get('seed')}"),
             ("Priors", f"template '{table.template}'")]
    if isinstance(fit, RunFit):
        m = fit.manifest
        facts += [("Run", str(fit.run_dir)), ("Spec", str(m.get("spec", {}).get("label"))),
                  ("Created", str(m.get("created"))),
                  ("Versions", ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items()))]
    return facts


def _group_section(fit: Any, group: str, fixef: pd.DataFrame, prob: float) -> GroupSection:
    ranef = fit.ranef(group, prob)
    terms = list(dict.fromkeys(str(t) for t in ranef["term"]))
    coef = fit.coef(group, prob)
    coef = coef[coef["term"].isin(terms)]
    wide = coef.pivot_table(index="level", columns="term", values=["mean", "hdi_low",
                                                                   "hdi_high"],
                            sort=False)
    table = pd.DataFrame({"level": wide.index.astype(str)})
    for t in terms:
        for stat in ("mean", "hdi_low", "hdi_high"):
            table[f"{t} {stat}"] = wide[(stat, t)].to_numpy()
    population = {t: float(fixef.loc[t, "mean"]) for t in terms if t in fixef.index}
    n_levels = len(table)
    note = (f"the forest plot shows the {MAX_LEVELS} levels with the largest "
            f"{terms[0]}; the table lists all {n_levels}" if n_levels > MAX_LEVELS else "")
    figure = plot_group_forest(coef, group, terms, population, prob) if terms else None
    return GroupSection(group, terms, n_levels, table, figure, note)


def _graph(fit: Any, notes: dict[str, str]) -> str | None:
    from hiermodel.backend.diagram import graph_svg

    try:
        return graph_svg(fit.graph())
    except HiermodelError as exc:
        notes["graph"] = f"model graph not drawn: {exc}"
        return None


def _ppc(fit: Any, notes: dict[str, str]) -> Figure | None:
    try:
        figure: Figure = fit.pp_check(kind="density", ndraws=PPC_DRAWS, seed=0).figure
    except HiermodelError as exc:
        notes["ppc"] = f"posterior predictive check not drawn: {exc}"
        return None
    return figure


def fit_report(fit: Any, title: str | None = None) -> FitReport:
    """The content of the report of ``fit`` (a ``Fit`` or a ``RunFit``)."""
    prob = float(getattr(fit, "prob", 0.95))
    notes: dict[str, str] = {}
    fixef = fit.fixef(prob)
    checks = fit.checks()  # the convergence gate's table, with advice for this model
    groups = [_group_section(fit, g, fixef, prob) for g in _groups(fit)]
    return FitReport(
        title=title or f"hiermodel fit: {fit.formula}",
        formula=fit.formula,
        facts=_facts(fit),
        ok=passed(checks),
        checks=checks,
        priors=fit.prior_summary().to_frame(),
        graph_svg=_graph(fit, notes),
        fixef=fixef,
        fixef_figure=plot_population(fixef, prob) if len(fixef) else None,
        varcorr=fit.varcorr(prob),
        groups=groups,
        ppc_figure=_ppc(fit, notes),
        summary_text=str(fit.summary()).rstrip("\n"),
        prob=prob,
        notes=notes,
    )


__all__ = ["PPC_DRAWS", "FitReport", "GroupSection", "fit_report"]
