"""Report stage: the lme4-like printed summary, ending with the diagnostics gate's verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.numbers import NumberStyle, column_style, format_column, format_number
from hiermodel.posterior.diagnostics import failure_lines, passed

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit


def diagnostics(fit: Fit) -> dict[str, Any]:
    """The gate's headline numbers (:meth:`Fit.checks` has every check): max R-hat, min bulk
    and tail ESS over the reported parameters, divergences, and ``ok`` (no check failed)."""
    table = fit.checks()
    value = dict(zip(table["check"], table["value"], strict=True))
    divergences = value["divergences"]
    return {"max_rhat": float(value["max R-hat"]), "min_ess_bulk": float(value["min bulk ESS"]),
            "min_ess_tail": float(value["min tail ESS"]),
            "divergences": int(divergences) if np.isfinite(divergences) else 0,
            "ok": passed(table)}


CORRELATION = NumberStyle("fixed", decimals=2)


def _shared(*columns: list[float]) -> list[list[str]]:
    """Columns of one quantity (estimate and interval bounds) in one style."""
    style = column_style([v for c in columns for v in c])
    return [[style.format(v) for v in c] for c in columns]


def _table(df: pd.DataFrame) -> str:
    cells = [[str(c) for c in df.columns]] + [[str(v) for v in row] for row in df.to_numpy()]
    widths = [max(len(r[j]) for r in cells) for j in range(len(df.columns))]
    lines = []
    for r in cells:
        parts = [r[0].ljust(widths[0])] + [r[j].rjust(widths[j]) for j in range(1, len(r))]
        lines.append(" " + "  ".join(parts))
    return "\n".join(lines)


def _effects_table(fe: pd.DataFrame, prob: float) -> str:
    """fixef-like rows (estimate, error, interval, R-hat, ESS) as brms prints them."""
    if fe.empty:
        return " (none)"
    pct = round(prob * 100)
    estimate, low, high = _shared(fe["mean"].tolist(), fe["hdi_low"].tolist(),
                                  fe["hdi_high"].tolist())
    df = pd.DataFrame({
        "": fe.index,
        "Estimate": estimate,
        "Est.Error": format_column(fe["sd"].tolist()),
        f"l-{pct}%": low,
        f"u-{pct}%": high,
        "Rhat": format_column(fe["r_hat"].tolist()),
        "Bulk_ESS": [f"{v:.0f}" if np.isfinite(v) else "" for v in fe["ess_bulk"]],
    })
    return _table(df)


class Summary:
    """What ``print(fit.summary())`` shows: lme4's layout with posterior intervals."""

    def __init__(self, fit: Fit, prob: float = 0.95) -> None:
        self.fit = fit
        self.prob = prob
        self.fixef = fit.fixef(prob)
        self.varcorr = fit.varcorr(prob)
        self.diagnostics = fit.diagnostics()

    def _random_effects(self) -> str:
        vc = self.varcorr
        if vc.empty:
            return ""
        pct = round(self.prob * 100)
        rows = []
        info = self.fit.model.info
        for group, terms in info.group_terms.items():
            sds = vc[(vc.grp == group) & (vc.var2 == "")]
            cors = vc[(vc.grp == group) & (vc.var2 != "")]
            for i, t in enumerate(terms):
                row = sds[sds.var1 == t].iloc[0]
                corr = []
                for prev in terms[:i]:
                    hit = cors[((cors.var1 == prev) & (cors.var2 == t))
                               | ((cors.var1 == t) & (cors.var2 == prev))]
                    corr.append(CORRELATION.format(float(hit["mean"].iloc[0])) if len(hit)
                                else "")
                rows.append([group if i == 0 else "", t, row["mean"], row["hdi_low"],
                             row["hdi_high"], " ".join(corr)])
        res = vc[vc.grp == "Residual"]
        if len(res):
            r = res.iloc[0]
            rows.append(["Residual", "", r["mean"], r["hdi_low"], r["hdi_high"], ""])
        sd, low, high = _shared(*([float(r[j]) for r in rows] for j in (2, 3, 4)))
        for r, cells in zip(rows, zip(sd, low, high, strict=True), strict=True):
            r[2:5] = cells
        df = pd.DataFrame(rows, columns=["Groups", "Name", "Std.Dev.", f"l-{pct}%", f"u-{pct}%",
                                         "Corr"])
        return _table(df)

    def __str__(self) -> str:
        fit = self.fit
        model = fit.model
        prepared = model.prepared
        s = fit.sampler
        fam = model.family
        gaussian = fam.name == "gaussian" and fam.link == "identity"
        kind = "linear" if gaussian else "generalized linear"
        lines = [
            f"Bayesian {kind} mixed model fit by hiermodel (NUTS via {s.get('backend')}: "
            f"{s.get('chains')} chains x {s.get('draws')} draws after {s.get('tune')} tuning)",
            f" Formula: {model.formula}",
            *(f"          {c.formula}" for c in model.design.components.values()),
            f"  Family: {fam.r_name} ( {fam.link} )",
        ]
        if prepared.response_levels and fam.ordinal:
            lines.append("Response: ordered levels " + " < ".join(prepared.response_levels))
        elif prepared.response_levels:
            fail, succ = prepared.response_levels
            lines.append(f"Response: '{succ}' = success (1), '{fail}' = failure (0)")
        dropped = f" ({prepared.n_dropped} rows with missing values dropped)" \
            if prepared.n_dropped else ""
        lines.append(f"    Data: {prepared.n} observations{dropped}")
        w_var = model.terms.response.weights
        if prepared.weights is not None and w_var is not None:
            lines.append(f" Weights: {w_var.name} (weighted fit: each "
                         "row's log-likelihood times its weight; total weight "
                         f"{prepared.weights.sum():.6g})")
        spec = model.prior_spec
        tmpl = spec.template if isinstance(spec.template, str) else getattr(
            spec.template, "name", str(spec.template))
        n_over = len(spec.overrides)
        lines.append(f"  Priors: template '{tmpl}'"
                     + (f" + {n_over} override(s)" if n_over else "")
                     + "; see prior_summary()")
        lines.append("")
        re_text = self._random_effects()
        if re_text:
            lines += ["Random effects (posterior mean SD, correlation):", re_text]
            groups = ", ".join(
                f"{g}, {len(b)}" for g, b in _levels(model).items()
            )
            lines.append(f"Number of obs: {prepared.n}, groups:  {groups}")
            lines.append("")
        thresholds = list(model.design.thresholds)
        components = model.design.components
        own = [n for c in components.values() for n in c.names]
        fixed = self.fixef.drop(index=thresholds + own)
        lines += ["Fixed effects:", _effects_table(fixed, self.prob), ""]
        for c in components.values():  # one section per distributional sub-model
            lines += [f"Fixed effects of {c.name} ({c.link} link):",
                      _effects_table(self.fixef.loc[c.names], self.prob), ""]
        if thresholds:
            lines += ["Threshold coefficients:",
                      _effects_table(self.fixef.loc[thresholds], self.prob), ""]
        # sigma is the Residual row of the random effects, as lme4 prints it
        aux = fit.auxiliary(self.prob).drop(index="sigma", errors="ignore")
        if len(aux):
            lines += ["Family-specific parameters:", _effects_table(aux, self.prob), ""]
        info = model.info
        notes = []
        for g, choice in info.parametrization.items():
            notes.append(f"{g}: {choice} ({info.parametrization_reason[g]})")
        if notes:
            lines.append("Parametrization: " + "; ".join(notes))
        if info.cells is not None:
            lines.append(f"Compression: exact, {prepared.n} rows -> {info.cells.n_cells} cells "
                         f"({info.cells.method}; compress=False to turn off)")
        if info.centered:
            lines.append("Predictors centered while sampling; (Intercept) reported uncentered")
        if s.get("backend_reason") and s.get("backend_reason") != "requested":
            accept = f", target_accept {s['target_accept']:g}" if "target_accept" in s else ""
            why = s.get("target_accept_reason", "requested")
            accept += f" ({why})" if accept and why != "requested" else ""
            lines.append(f"Sampler: {s.get('backend')} ({s['backend_reason']}){accept}")
        d = self.diagnostics
        table = fit.checks()
        failures = failure_lines(table)
        verdict = "ok" if not failures else f"FAILED {int((table.status == 'failed').sum())} " \
            "check(s):"
        lines.append(
            f"Diagnostics: max R-hat {format_number(d['max_rhat'], 4)}, min bulk ESS "
            f"{d['min_ess_bulk']:.0f}, min tail ESS {d['min_ess_tail']:.0f}, "
            f"{d['divergences']} divergences -> {verdict}"
        )
        lines += [f"  {line}" for line in failures]
        if getattr(fit, "remedy", None):
            lines.append("Remedy: refitted once with " + remedy_text(fit.remedy))
        lines.append(f"Sampling time: {s.get('seconds', float('nan')):.1f} s")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def remedy_text(changes: dict[str, Any]) -> str:
    """``target_accept=0.95, parametrization={'g': 'noncentered'}, tune=2000``."""
    return ", ".join(f"{k}={v!r}" for k, v in changes.items())


def _levels(model: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for b in model.design.blocks:
        out.setdefault(b.group, b.levels)
    return out


__all__ = ["Summary", "diagnostics", "remedy_text"]
