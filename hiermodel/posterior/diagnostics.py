"""The convergence gate: Stan's checks on a fit's draws, as one table with model-specific advice.

Checks (Stan's thresholds; Vehtari et al. 2021 for R-hat and ESS, Betancourt 2016 for E-BFMI):

=====================  =========================================================  ==========
check                  fails when                                                 threshold
=====================  =========================================================  ==========
``max R-hat``          rank-normalized split R-hat of any parameter > 1.01        1.01
``min bulk ESS``       bulk ESS of any parameter < 100 per chain                  100 x chains
``min tail ESS``       tail ESS of any parameter < 100 per chain                  100 x chains
``divergences``        any post-warmup divergent transition                       0
``tree depth``         any post-warmup transition that hit the maximum tree depth  0
``min E-BFMI``         E-BFMI of any chain < 0.2                                  0.2
=====================  =========================================================  ==========

A value exactly at the threshold passes. :func:`checks` works on an InferenceData alone (ArviZ
and NumPy, no PyMC); a :class:`GateContext` (what the model and sampler were: target_accept,
each group's parametrization and SD priors) turns the generic advice into advice for this model:
*raise target_accept to 0.95*, *switch group 'school' to non-centered*, *draws=2000*, *a tighter
prior on the prior-table row 'sd: Intercept|school'*. :func:`remedy_changes` is that advice as
arguments of ``fit.update`` (what ``fit(remedy=True)`` applies once).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hiermodel.errors import ConvergenceError
from hiermodel.priors import Prior
from hiermodel.priors.table import PriorRow

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100
EBFMI_MIN = 0.2
COLUMNS = ["check", "status", "value", "threshold", "parameters", "advice"]
TARGET_ACCEPT_STEPS = (0.95, 0.99)
MAX_LISTED = 5  # parameters named per check
MORE_DRAWS = "more draws (draws="
CENTER_ROWS = 10  # advise centering a non-centered group only from this many rows per level

_DEPTH_HIT = ("reached_max_treedepth", "maxdepth_reached")  # PyMC, nutpie


@dataclass(frozen=True)
class GateContext:
    """What the advice needs to know about a fit, as plain data.

    ``groups`` maps each grouping factor's variable-safe name (``sd_<safe>``) to its name;
    ``parametrization`` the group to ``"centered"`` / ``"noncentered"``; ``sd_priors`` the group
    to its prior-table rows of class ``sd``; ``levels`` the group to its number of levels;
    ``rows_per_level`` the group to its median number of rows per level.
    """

    target_accept: float = 0.9
    draws: int = 1000
    tune: int = 1000
    groups: Mapping[str, str] = field(default_factory=dict)
    parametrization: Mapping[str, str] = field(default_factory=dict)
    sd_priors: Mapping[str, tuple[PriorRow, ...]] = field(default_factory=dict)
    levels: Mapping[str, int] = field(default_factory=dict)
    rows_per_level: Mapping[str, float] = field(default_factory=dict)


def context_of(fit: Any) -> GateContext:
    """The :class:`GateContext` of a :class:`~hiermodel.posterior.fitted.Fit`."""
    from hiermodel.naming import safe

    s = fit.sampler
    info = fit.model.info
    levels: dict[str, int] = {}
    rows: dict[str, float] = {}
    for block in fit.model.design.blocks:
        levels.setdefault(block.group, len(block.levels))
        counts = np.bincount(block.index, minlength=len(block.levels))
        rows.setdefault(block.group, float(np.median(counts[counts > 0])))
    return GateContext(
        target_accept=float(s.get("target_accept", 0.9)), draws=int(s.get("draws", 1000)),
        tune=int(s.get("tune", 1000)),
        groups={safe(g): g for g in info.group_terms},
        parametrization=dict(info.parametrization),
        sd_priors={g: tuple(r for r in fit.model.prior_table if r.cls == "sd" and r.group == g)
                   for g in info.group_terms},
        levels=levels, rows_per_level=rows,
    )


# -- the numbers ---------------------------------------------------------------------------------

def parameter_table(idata: Any) -> pd.DataFrame:
    """R-hat, bulk and tail ESS of every element of every reported posterior variable:
    columns parameter (``sd_school[Intercept]``), variable, rhat, ess_bulk, ess_tail (ArviZ's
    estimators, computed for all elements at once by :mod:`hiermodel.posterior.convergence`)."""
    from hiermodel.posterior.convergence import rhat_ess

    post = idata.posterior
    names = [str(v) for v in post.data_vars if post[v].ndim >= 2]
    if not names or int(post.sizes.get("draw", 0)) < 4:
        return pd.DataFrame(columns=["parameter", "variable", "rhat", "ess_bulk", "ess_tail"])
    labels: list[str] = []
    variables: list[str] = []
    columns = []
    for name in names:
        da = post[name].transpose("chain", "draw", ...)
        element = da.isel(chain=0, draw=0)
        these = _element_labels(name, element)
        labels += these
        variables += [name] * len(these)
        columns.append(np.asarray(da.values, dtype=float).reshape(da.shape[0], da.shape[1], -1))
    rhat, bulk, tail = rhat_ess(np.concatenate(columns, axis=2))
    return pd.DataFrame({"parameter": labels, "variable": variables, "rhat": rhat,
                         "ess_bulk": bulk, "ess_tail": tail})


def _element_labels(name: str, da: Any) -> list[str]:
    if da.ndim == 0:
        return [name]
    coords = [[str(v) for v in da[d].values] for d in da.dims]
    out = [""]
    for values in coords:
        out = [f"{o},{v}" if o else v for o in out for v in values]
    return [f"{name}[{o}]" for o in out]


def _stat(idata: Any, names: tuple[str, ...]) -> np.ndarray | None:
    if "sample_stats" not in idata.groups():
        return None
    for name in names:
        if name in idata.sample_stats:
            return np.asarray(idata.sample_stats[name].values)
    return None


def _worst(table: pd.DataFrame, column: str, failing: pd.Series, largest: bool) -> list[str]:
    hit = table[failing].sort_values(column, ascending=not largest)
    return [str(p) for p in hit["parameter"].head(MAX_LISTED)]


# -- the gate ------------------------------------------------------------------------------------

def checks(idata: Any, context: GateContext | None = None) -> pd.DataFrame:
    """The gate's verdicts on ``idata``: one row per check with columns ``check``, ``status``
    (``ok``, ``failed`` or ``skipped``), ``value``, ``threshold``, ``parameters`` (the worst
    offenders, comma-separated) and ``advice`` (what to do; for a skipped check, why)."""
    context = context or GateContext()
    post = idata.posterior
    chains = int(post.sizes.get("chain", 1))
    params = parameter_table(idata)
    rows: list[list[Any]] = []

    def add(check: str, ok: bool | None, value: float, threshold: float,
            parameters: list[str], why_skipped: str = "") -> None:
        status = "skipped" if ok is None else ("ok" if ok else "failed")
        advice = why_skipped if ok is None else ("" if ok else
                                                 advise(check, parameters, context, value,
                                                        threshold))
        rows.append([check, status, value, threshold, ", ".join(parameters), advice])

    rhat = params["rhat"].to_numpy(dtype=float)
    finite = np.isfinite(rhat)
    if chains < 2 or not finite.any():
        add("max R-hat", None, math.nan, RHAT_MAX, [], "R-hat needs at least 2 chains")
    else:
        bad = pd.Series(finite & (rhat > RHAT_MAX), index=params.index)
        add("max R-hat", not bad.any(), float(rhat[finite].max()), RHAT_MAX,
            _worst(params, "rhat", bad, largest=True))
    need = float(ESS_PER_CHAIN_MIN * chains)
    for check, column in (("min bulk ESS", "ess_bulk"), ("min tail ESS", "ess_tail")):
        ess = params[column].to_numpy(dtype=float)
        ok_values = np.isfinite(ess)
        if not ok_values.any():
            add(check, None, math.nan, need, [], "no parameter with finite ESS (constant draws "
                "or fewer than 4 draws)")
            continue
        bad = pd.Series(ok_values & (ess < need), index=params.index)
        add(check, not bad.any(), float(ess[ok_values].min()), need,
            _worst(params, column, bad, largest=False))
    diverging = _stat(idata, ("diverging",))
    if diverging is None:
        add("divergences", None, math.nan, 0, [], "the sampler recorded no divergences")
    else:
        n = int(np.asarray(diverging, dtype=bool).sum())
        add("divergences", n == 0, float(n), 0, [])
    depth = _stat(idata, _DEPTH_HIT)
    if depth is None:
        add("tree depth", None, math.nan, 0, [],
            "the sampler recorded no maximum-tree-depth flags")
    else:
        n = int(np.asarray(depth, dtype=bool).sum())
        add("tree depth", n == 0, float(n), 0, [])
    energy = _stat(idata, ("energy",))
    if energy is None or energy.ndim != 2 or energy.shape[1] < 3:
        add("min E-BFMI", None, math.nan, EBFMI_MIN, [], "the sampler recorded no energies")
    else:
        bfmi = ebfmi(energy)
        low = [f"chain {i}" for i in np.flatnonzero(bfmi < EBFMI_MIN)]
        add("min E-BFMI", not low, float(bfmi.min()), EBFMI_MIN, low)
    return pd.DataFrame(rows, columns=COLUMNS)


def ebfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI per chain of an energy array (chain, draw): summed squared energy changes over
    the summed squared deviations (Betancourt 2016; as Stan and ``arviz.bfmi``)."""
    e = np.asarray(energy, dtype=float)
    return np.square(np.diff(e, axis=1)).sum(axis=1) / (e.var(axis=1) * e.shape[1])


def failed(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a :func:`checks` table that failed."""
    return table[table["status"] == "failed"]


def passed(table: pd.DataFrame) -> bool:
    """True when no check of a :func:`checks` table failed (skipped checks do not fail)."""
    return bool(failed(table).empty)


# -- advice --------------------------------------------------------------------------------------

def flagged_groups(parameters: list[str], context: GateContext) -> list[str]:
    """Grouping factors whose SD, correlation or effects are among ``parameters``; for a check
    without parameters (divergences, tree depth, E-BFMI), the centered groups first, else all."""
    found: list[str] = []
    for p in parameters:
        variable = p.split("[", 1)[0]
        for prefix in ("sd_", "cor_", "r_"):
            if variable.startswith(prefix) and variable[len(prefix):] in context.groups:
                group = context.groups[variable[len(prefix):]]
                if group not in found:
                    found.append(group)
    if found or parameters:
        return found
    centered = [g for g, c in context.parametrization.items() if c == "centered"]
    return centered or list(context.parametrization)


def _next_target_accept(current: float) -> float | None:
    for step in TARGET_ACCEPT_STEPS:
        if current < step - 1e-9:
            return step
    return None


def tighter_prior(row: PriorRow) -> Prior | None:
    """The prior of an SD row with half its scale (Exponential: twice its rate), or None."""
    params = dict(row.prior.params)
    for key, factor in (("sigma", 0.5), ("beta", 0.5), ("lam", 2.0)):
        if key in params:
            params[key] = float(f"{params[key] * factor:.4g}")
            return Prior(row.prior.dist, tuple(params.items()))
    return None


def _prior_advice(group: str, context: GateContext) -> str:
    rows = context.sd_priors.get(group, ())
    if not rows:
        return ""
    row = rows[0]
    tighter = tighter_prior(row)
    suggestion = (f", e.g. priors=[hm.set_prior(\"{tighter}\", \"sd\", group=\"{group}\")]"
                  if tighter is not None else "")
    n = context.levels.get(group)
    few = f" ({n} levels carry little information about it)" if n is not None else ""
    return (f"a tighter prior on the SD of '{group}'{few}: prior-table row '{row.label}' is "
            f"{row.prior}{suggestion}")


def flipped(group: str, context: GateContext) -> str | None:
    """The other parametrization of ``group`` when switching to it is sound advice: always to
    non-centered; to centered only with at least :data:`CENTER_ROWS` rows per level (with less
    data per level the centered form is the funnel)."""
    current = context.parametrization.get(group)
    if current == "centered":
        return "noncentered"
    if current == "noncentered" and context.rows_per_level.get(group, CENTER_ROWS) >= CENTER_ROWS:
        return "centered"
    return None


def _flip_advice(group: str, context: GateContext) -> str:
    other = flipped(group, context)
    if other is None:
        return ""
    return (f"switch group '{group}' from {context.parametrization[group]} to {other} "
            f"(parametrization={{\"{group}\": \"{other}\"}})")


def advise(check: str, parameters: list[str], context: GateContext, value: float,
           threshold: float) -> str:
    """What to do about one failed check, for this model (``; ``-separated suggestions)."""
    groups = flagged_groups(parameters, context)
    out: list[str] = []
    geometry = check in ("divergences", "tree depth", "min E-BFMI")
    if geometry:
        centered = [g for g in groups if context.parametrization.get(g) == "centered"]
        out += [_flip_advice(g, context) for g in centered]
        step = _next_target_accept(context.target_accept)
        if check == "divergences" and step is not None:
            out.append(f"raise target_accept from {context.target_accept:g} to {step:g}")
        if not centered:
            out += [_prior_advice(g, context) for g in groups]
    else:
        out += [_flip_advice(g, context) for g in groups]
        if check == "max R-hat":
            out.append(f"more tuning and draws (tune={2 * context.tune}, "
                       f"draws={2 * context.draws})")
        else:
            scale = threshold / value if value > 0 else 4.0
            draws = int(math.ceil(context.draws * min(scale * 1.2, 10.0) / 100.0) * 100)
            out.append(f"{MORE_DRAWS}{max(draws, context.draws + 100)})")
        out += [_prior_advice(g, context) for g in groups
                if context.levels.get(g, math.inf) < 10 or flipped(g, context) is None]
    return "; ".join(a for a in out if a)


def remedy_changes(table: pd.DataFrame, context: GateContext) -> dict[str, Any]:
    """The advice of a failed :func:`checks` table as ``fit.update`` arguments, applied once:
    flipped parametrization of the flagged groups, the next target_accept step (after
    divergences), twice the tuning, and more draws after a short ESS. Empty when nothing
    failed or nothing can be changed."""
    bad = failed(table)
    if bad.empty:
        return {}
    changes: dict[str, Any] = {}
    flip: dict[str, str] = {}
    for row in bad.itertuples(index=False):
        params = [p for p in str(row.parameters).split(", ") if p]
        if row.check in ("divergences", "tree depth", "min E-BFMI"):
            groups = [g for g in flagged_groups(params, context)
                      if context.parametrization.get(g) == "centered"]
        else:
            groups = flagged_groups(params, context)
        for g in groups:
            other = flipped(g, context)
            if other is not None:
                flip[g] = other
        if row.check == "divergences":
            step = _next_target_accept(context.target_accept)
            if step is not None:
                changes["target_accept"] = step
        if row.check in ("min bulk ESS", "min tail ESS") and float(row.value) > 0:
            scale = min(float(row.threshold) / float(row.value) * 1.2, 10.0)
            draws = int(math.ceil(context.draws * scale / 100.0) * 100)
            changes["draws"] = max(changes.get("draws", 0), draws, context.draws + 100)
    if flip:
        changes["parametrization"] = {**dict(context.parametrization), **flip}
    changes["tune"] = 2 * context.tune
    return changes


# -- text ----------------------------------------------------------------------------------------

def _value(check: str, value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if check == "max R-hat":
        return f"{value:.3f}"
    if check == "min E-BFMI":
        return f"{value:.2f}"
    return f"{value:.0f}"


def _condition(check: str, threshold: float) -> str:
    if check.startswith("max "):
        return f"<= {threshold:g}"
    if check.startswith("min "):
        return f">= {threshold:g}"
    return f"= {threshold:g}"


def failure_lines(table: pd.DataFrame) -> list[str]:
    """The failed checks, one line each (``min bulk ESS 85 (needs >= 400; sd_g[Intercept])``),
    then ``what to do:`` and each distinct suggestion of their advice once (``- ...``)."""
    lines, advice = [], []
    for row in failed(table).itertuples(index=False):
        where = f"; {row.parameters}" if row.parameters else ""
        lines.append(f"{row.check} {_value(str(row.check), float(row.value))} (needs "
                     f"{_condition(str(row.check), float(row.threshold))}{where})")
        advice += [a for a in str(row.advice).split("; ") if a and a not in advice]
    draws = [a for a in advice if a.startswith(MORE_DRAWS)]
    if len(draws) > 1:  # bulk and tail ESS each ask for draws: say the larger number once
        most = max(draws, key=lambda a: int(a[len(MORE_DRAWS):].rstrip(")")))
        advice = [a for a in advice if a not in draws or a == most]
    if advice:
        lines += ["what to do:", *(f"- {a}" for a in advice)]
    return lines


def convergence_message(table: pd.DataFrame, what: str = "the fit") -> str:
    """The text of a :class:`~hiermodel.errors.ConvergenceWarning` / ``ConvergenceError``."""
    n = len(failed(table))
    return (f"{what} failed {n} convergence check(s); do not trust its estimates yet:\n  "
            + "\n  ".join(failure_lines(table)))


def convergence_error(table: pd.DataFrame, what: str = "the fit") -> ConvergenceError:
    """The :class:`~hiermodel.errors.ConvergenceError` of a failed table (``strict=True``)."""
    return ConvergenceError(convergence_message(table, what))


__all__ = ["CENTER_ROWS", "COLUMNS", "EBFMI_MIN", "ESS_PER_CHAIN_MIN", "RHAT_MAX", "GateContext",
           "advise", "checks", "context_of", "convergence_error", "convergence_message", "ebfmi",
           "failed", "failure_lines", "flagged_groups", "flipped", "parameter_table", "passed",
           "remedy_changes", "tighter_prior"]
