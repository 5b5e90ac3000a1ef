"""``hm.compare``: fit pooled, unpooled and hierarchical variants and report how they differ.

The :class:`Comparison` holds the fits, the tables (``Comparison.tables``), the figures
(``Comparison.figures``), a plain-text report (``str(comparison)``) and
:meth:`Comparison.write` (CSV + JSON tables and PNG figures). See ``docs/compare.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.compare.logo import LogoResult, leave_one_group_out
from hiermodel.compare.loo import K_THRESHOLD, compare_loo, loo, pareto_warning
from hiermodel.compare.pooling import (
    FLAGS,
    MIN_CELL,
    SMALL_N,
    EffectSpec,
    GroupTable,
    group_table,
    is_log_response,
    original_scale,
    resolve_effect,
    variance_partition,
)
from hiermodel.compare.variants import group_source_columns, resolve_variants, variant_kind
from hiermodel.errors import CompareError, HiermodelError
from hiermodel.pointwise import DEFAULT_CHUNK

if TYPE_CHECKING:
    import arviz as az
    from matplotlib.figure import Figure

    from hiermodel.formula.terms import ModelTerms
    from hiermodel.results import Fit

Progress = Callable[[str], None]


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else ""
    if isinstance(x, int | np.integer):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return ""
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 10 ** -(digits + 1)):
        return f"{v:.3g}"
    return f"{v:.{digits}f}"


def _text_table(df: pd.DataFrame, index: bool = True, digits: int = 2) -> str:
    frame = df.reset_index() if index else df
    header = [str(c) for c in frame.columns]
    body = [[_fmt(v, digits) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(len(r[j]) for r in [header, *body]) for j in range(len(header))]
    lines = []
    for r in [header, *body]:
        cells = [r[0].ljust(widths[0])] + [r[j].rjust(widths[j]) for j in range(1, len(r))]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


class Comparison:
    """The result of :func:`compare`: fits, tables, figures, a text report and ``write``."""

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

    # -- figures --------------------------------------------------------------------------------
    @property
    def figures(self) -> dict[str, Figure]:
        """Matplotlib figures, built on first access: ``estimates_<quantity>``,
        ``group_means``, ``loo``."""
        if self._figures is None:
            self._figures = self._make_figures()
        return self._figures

    def _make_figures(self) -> dict[str, Figure]:
        from hiermodel.compare.plots import plot_group_estimates, plot_group_means, plot_loo

        figs: dict[str, Figure] = {}
        gr = self.group_results
        pop = self.tables["population"]
        flags = self.tables["groups"].set_index("group")["flags"]
        for q in dict.fromkeys(gr.estimates["quantity"]):
            p = pop[pop.quantity == q]
            population = {r.variant: r.mean for r in p.itertuples()
                          if self.kinds.get(r.variant) != "unpooled"}
            label = self.effect.label if q == "effect" else "intercept (linear predictor at "\
                "the reference row)"
            figs[f"estimates_{q}"] = plot_group_estimates(
                gr.estimates, q, population=population, flags=flags,
                xlabel=label, title=f"Per-{self.group} {q} under each variant")
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
        variance partition, flagged groups and warnings."""
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
        """Write every table as CSV, a ``comparison.json`` summary, ``report.txt`` and (with
        ``figures``) PNG plots into ``directory``; returns the written paths."""
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
        path = out / "report.txt"
        path.write_text(str(self) + "\n")
        written.append(path)
        if figures:
            for name, fig in self.figures.items():
                path = out / f"{name}.png"
                fig.savefig(path, dpi=110)
                written.append(path)
        return written

    def __str__(self) -> str:
        s = self.settings
        gt = self.tables["groups"]
        lines = [
            f"Comparison of {len(self.formulas)} variants of  {self.formula}",
            f"  {s['n']} observations, {len(gt)} groups of '{self.group}'; effect: "
            f"{self.effect.label}",
            f"  {s['chains']} chains x {s['draws']} draws ({s['tune']} tune) per fit, backend "
            f"{s['backend']}, priors {s['priors']!s}",
            "",
            "Variants:",
        ]
        width = max(len(v) for v in self.formulas)
        for v, f in self.formulas.items():
            lines.append(f"  {v.ljust(width)}  {f}   [{self.kinds.get(v, '')}]")
        loo_t = self.tables["loo"][["elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight",
                                    "n_k_high"]].rename(columns={"n_k_high": f"k>{K_THRESHOLD}"})
        lines += ["", f"PSIS-LOO per observation (N = {s['n']}; higher elpd is better; weight ="
                  " stacking):", _text_table(loo_t)]
        if self.logo is not None:
            lt = self.tables["logo"][["elpd_logo", "se", "elpd_diff", "dse", "elpd_per_obs",
                                      "elpd_pointwise_per_obs"]]
            lines += ["", f"Leave-one-group-out: {self.logo.method}; elpd = sum over groups of "
                      "the joint log predictive density of the held-out group:", _text_table(lt)]
        pop = self.tables["population"]
        q = self.group_results.quantity
        p = pop[pop.quantity == q][["variant", "median", "low", "high", "basis"]]
        name = self.effect.label if q == "effect" else "linear predictor at the reference row"
        lines += ["", f"Population {q} ({name}), median and {int(s['prob'] * 100)}% interval:",
                  _text_table(p, index=False)]
        if "original_scale" in self.tables and len(self.tables["original_scale"]):
            o = self.tables["original_scale"][["variant", "ratio", "ratio_low", "ratio_high",
                                               "percent_change"]]
            lines += ["", "On the original scale (log response): multiplicative effect "
                      "exp(effect):", _text_table(o, index=False)]
        if "variance" in self.tables:
            v = self.tables["variance"][["component", "term", "variance", "share", "share_low",
                                         "share_high", "note"]]
            lines += ["", "Variance partition of the hierarchical model (share = ICC):",
                      _text_table(v, index=False)]
        flagged = self.flagged
        lines += ["", f"Per-group {q} (pooling factor 0 = unpooled, 1 = fully pooled; "
                  f"{len(flagged)} of {len(gt)} groups flagged):"]
        cols = ["group", "n"] + [c for c in ("n_off", "n_on") if c in gt]
        for v in self.formulas:
            if f"{q}_{v}" in gt:
                cols.append(f"{q}_{v}")
        if f"pooling_{q}" in gt:
            cols.append(f"pooling_{q}")
        cols.append("flags")
        shown = gt[cols].rename(columns={f"{q}_{v}": v for v in self.formulas})
        lines.append(_text_table(shown, index=False))
        if len(flagged):
            lines += ["", "Why flagged:"]
            for r in flagged.itertuples():
                lines.append(f"  {r.group}: {r.reason}")
        if self.warnings:
            lines += ["", "Warnings:"] + [f"  - {w}" for w in self.warnings]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<hiermodel.Comparison {self.formula!r}: {', '.join(self.formulas)}; "
                f"{len(self.flagged)} flagged groups>")


def _fit_diagnostics(name: str, fit: Fit) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    try:
        d = fit.diagnostics()
    except Exception:  # diagnostics are a report nicety, never a reason to fail
        return {}, warnings
    if d.get("divergences"):
        warnings.append(f"{name}: {d['divergences']} divergent transitions; estimates may be "
                        "biased (more tune/draws, or a different parametrization)")
    rhat = d.get("max_rhat", float("nan"))
    if isinstance(rhat, float) and math.isfinite(rhat) and rhat > 1.01:
        warnings.append(f"{name}: max R-hat {rhat:.3f} > 1.01; chains disagree (run longer)")
    return d, warnings


MODEL_OPTIONS = ("center_predictors", "parametrization", "compress")
SAMPLER_OPTIONS = ("cores", "target_accept", "progressbar")


def _check_fit_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    unknown = [k for k in options if k not in MODEL_OPTIONS + SAMPLER_OPTIONS]
    if unknown:
        raise CompareError(f"unknown fit_options {unknown}; allowed: "
                           f"{', '.join(MODEL_OPTIONS + SAMPLER_OPTIONS)}")
    return options


def _fit(formula: str, data: pd.DataFrame, *, family: Any, link: str | None, priors: Any,
         draws: int, tune: int, chains: int, seed: int | None, backend: str,
         options: Mapping[str, Any]) -> Fit:
    """What ``hm.fit`` does: build with :func:`hiermodel.model.model`, then sample."""
    from hiermodel.model import model

    built = model(formula, data, family=family, link=link, priors=priors,
                  **{k: v for k, v in options.items() if k in MODEL_OPTIONS})
    return built.fit(draws=draws, tune=tune, chains=chains, seed=seed, backend=backend,
                     **{k: v for k, v in options.items() if k in SAMPLER_OPTIONS})


def _translate(formula: str, data: pd.DataFrame, name: str) -> ModelTerms:
    import hiermodel as hm

    try:
        return hm.translate(formula, data)
    except HiermodelError as exc:
        if name == "hierarchical":
            raise
        raise CompareError(f"variant '{name}': {exc}") from exc


def _used_columns(all_terms: list[ModelTerms]) -> list[str]:
    cols: list[str] = []
    for t in all_terms:
        for var in t.variables.values():
            for c in var.source_columns:
                if c not in cols:
                    cols.append(c)
    return cols


def compare(
    formula: str,
    data: pd.DataFrame,
    *,
    family: str = "gaussian",
    link: str | None = None,
    priors: Any = "weakly_informative",
    variants: Mapping[str, str] | None = None,
    group: str | None = None,
    effect: str | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    backend: str = "pymc",
    logo: bool | str = "auto",
    logo_max_groups: int = 12,
    progress: Progress | None = None,
    logo_draws: int | None = None,
    logo_tune: int | None = None,
    prob: float = 0.95,
    small_n: int = SMALL_N,
    min_cell: int = MIN_CELL,
    chunk: int = DEFAULT_CHUNK,
    dropna: bool = False,
    keep_logo_fits: bool = False,
    fit_options: Mapping[str, Any] | None = None,
) -> Comparison:
    """Fit pooled, unpooled and hierarchical variants of ``formula`` and compare them.

    Variant rule (``docs/compare.md``): *pooled* drops every group-level term; *hierarchical*
    is ``formula`` as written; *unpooled* turns each varying term into a per-group fixed effect
    with no shared prior — ``(1|g)`` becomes ``0 + g`` (replacing the intercept), ``(1 + x|g)``
    becomes ``0 + g + g:x`` with the population ``x`` dropped; other population terms stay.
    ``variants={"unpooled": "y ~ 0 + g:x", "extra": "..."}`` replaces or adds variants. Every
    variant is fitted with :func:`hiermodel.fit` with the same priors and sampler settings.

    The report (``str(result)``, ``result.tables``, ``result.figures``, ``result.write(dir)``):

    - PSIS-LOO per observation (chunked, bounded memory), differences with SEs, stacking
      weights and Pareto-k warnings;
    - leave-one-group-out CV (``logo``: ``"auto"``/``True`` exact refits when there are at most
      ``logo_max_groups`` groups, else grouped K-fold with ``K = logo_max_groups``;
      ``"exact"``, ``"kfold"``; ``False`` skips). Refits use ``logo_draws``/``logo_tune``
      (default ``min(draws, 500)``/``min(tune, 500)``). New groups: hierarchical draws their
      effects from the fitted group distribution, unpooled from the prior of a group's
      coefficients, pooled simply predicts;
    - per-group table for ``group`` (default: the first grouping factor): estimates of the
      ``effect`` (default: its first varying slope, else the first population term that some
      variant lets vary by group, else none; ``"1"`` for the intercept only) and of the
      intercept under each variant, pooling factor
      ``(unpooled - hierarchical) / (unpooled - pooled)`` and flags ``small_n``,
      ``sign_reversal``, ``extreme``, ``wide_interval`` with the reason;
    - variance partition / ICC of the hierarchical model; for a ``log(...)``/``log_*`` response
      the multiplicative effect ``exp(effect)``.

    ``progress`` is called with messages such as ``"fitting unpooled (2/3)"``.
    ``fit_options`` passes ``parametrization``, ``center_predictors``, ``compress``,
    ``cores``, ``target_accept`` or ``progressbar`` to every fit (and refit).
    """
    if not isinstance(data, pd.DataFrame):
        raise CompareError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not 0 < prob < 1:
        raise CompareError(f"prob must be between 0 and 1 (got {prob})")
    say: Progress = progress if progress is not None else (lambda _msg: None)
    data = data.reset_index(drop=True)
    terms = _translate(formula, data, "hierarchical")
    formulas = resolve_variants(formula, data, variants, terms)
    all_terms = {name: (terms if name == "hierarchical" else _translate(f, data, name))
                 for name, f in formulas.items()}
    if dropna:
        cols = [c for c in _used_columns(list(all_terms.values())) if c in data.columns]
        keep = ~data[cols].isna().any(axis=1)
        if not keep.all():
            data = data.loc[keep].reset_index(drop=True)
    groups_in_formula = list(dict.fromkeys(b.group for b in terms.groups))
    group = group or groups_in_formula[0]
    group_cols = group_source_columns(terms, group)
    spec = resolve_effect(terms, data, group, effect, list(all_terms.values()))

    rng = np.random.default_rng(seed)
    fit_seed = int(rng.integers(2**31 - 1)) if seed is None else int(seed)
    logo_seed = int(rng.integers(2**31 - 1))
    fit_kw = {"family": family, "link": link, "priors": priors, "chains": chains,
              "backend": backend, "options": _check_fit_options(fit_options)}
    fits: dict[str, Fit] = {}
    warnings: list[str] = []
    diagnostics: dict[str, dict[str, Any]] = {}
    for i, (name, f) in enumerate(formulas.items(), start=1):
        say(f"fitting {name} ({i}/{len(formulas)})")
        try:
            fits[name] = _fit(f, data, draws=draws, tune=tune, seed=fit_seed, **fit_kw)
        except HiermodelError as exc:
            if name == "hierarchical":
                raise
            raise CompareError(f"fitting variant '{name}' ({f}) failed: {exc}") from exc
        diagnostics[name], w = _fit_diagnostics(name, fits[name])
        warnings += w

    hier = fits["hierarchical"]
    y = hier.model.design.y
    for name, fit in fits.items():
        other = fit.model.design.y
        if other.shape != y.shape or not np.allclose(other, y, equal_nan=True):
            raise CompareError(
                f"variant '{name}' ({formulas[name]}) does not model the same response rows as "
                f"'{formula}' ({len(other)} vs {len(y)} rows); LOO and LOGO compare predictions "
                "of the same observations — use the same response (and dropna=True when "
                "variants use different columns with missing values)")
    kinds = {name: variant_kind(fit, group_cols) for name, fit in fits.items()}

    elpds: dict[str, Any] = {}
    for i, (name, fit) in enumerate(fits.items(), start=1):
        say(f"PSIS-LOO {name} ({i}/{len(fits)})")
        elpds[name] = loo(fit, chunk=chunk)
        k_warning = pareto_warning(name, elpds[name])
        if k_warning:
            warnings.append(k_warning)
    loo_table = compare_loo(elpds, seed=fit_seed)

    block = next(b for b in hier.model.design.blocks if b.group == group)
    labels = np.asarray(block.levels, dtype=object)[block.index].astype(str)
    levels = list(block.levels)
    say("per-group estimates")
    log_resp = is_log_response(terms)
    gt = group_table(fits, kinds, data, labels, levels, group, group_cols, spec, prob=prob,
                     small_n=small_n, min_cell=min_cell, log_response=log_resp)
    tables: dict[str, pd.DataFrame] = {}
    tables["variants"] = pd.DataFrame([
        {"variant": n, "formula": formulas[n], "kind": kinds[n],
         "n_coef": len(fits[n].model.design.x_names) + int(fits[n].model.design.has_intercept),
         "seconds": fits[n].sampler.get("seconds"),
         **{k: diagnostics[n].get(k) for k in ("max_rhat", "min_ess_bulk", "divergences")}}
        for n in formulas])
    tables["loo"] = loo_table
    tables["groups"] = gt.table
    tables["estimates"] = gt.estimates
    tables["population"] = gt.population
    if hier.model.info.group_terms:
        tables["variance"] = variance_partition(hier, prob)
    if log_resp and spec.variable is not None:
        tables["original_scale"] = original_scale(gt.draws, prob)

    logo_result = None
    if logo is not False:
        mode = "auto" if logo is True else logo
        if len(levels) < 3:
            warnings.append(f"leave-one-group-out skipped: '{group}' has only {len(levels)} "
                            "groups (needs 3)")
        else:
            l_draws = logo_draws if logo_draws is not None else min(draws, 500)
            l_tune = logo_tune if logo_tune is not None else min(tune, 500)

            def refit(name: str, f: str, train: pd.DataFrame, fold: int) -> Fit:
                return _fit(f, train, draws=l_draws, tune=l_tune, seed=logo_seed + fold,
                            **fit_kw)

            trials = hier.model.design.trials
            logo_result = leave_one_group_out(
                formulas, data, labels, group_cols, y, trials, refit,
                max_groups=logo_max_groups, mode=mode, seed=logo_seed, chunk=chunk,
                progress=say, keep_fits=keep_logo_fits)
            tables["logo"] = logo_result.summary
            tables["logo_groups"] = logo_result.groups
    flagged = gt.table[gt.table["flags"] != ""]
    for flag in FLAGS:
        hit = flagged.loc[flagged[flag], "group"].astype(str).tolist()
        if hit and flag == "small_n":
            warnings.append(f"{len(hit)} group(s) with few rows ({', '.join(hit[:8])}"
                            f"{', ...' if len(hit) > 8 else ''}): their unpooled estimates are "
                            "noise-dominated; the hierarchical estimate borrows strength")
    settings = {"draws": draws, "tune": tune, "chains": chains, "seed": seed,
                "backend": backend, "family": family, "link": link, "priors": str(priors),
                "prob": prob, "n": len(y), "group": group, "effect": spec.label,
                "logo": str(logo), "logo_max_groups": logo_max_groups,
                "small_n": small_n, "min_cell": min_cell,
                "extreme_scale": gt.scale, "extreme_scale_source": gt.scale_source}
    say("done")
    return Comparison(formula=formula, formulas=formulas, fits=fits, kinds=kinds, loo=elpds,
                      group=group, effect=spec, groups=gt, tables=tables, logo=logo_result,
                      warnings=warnings, settings=settings, labels=labels, data=data,
                      log_response=log_resp)


__all__ = ["Comparison", "compare"]
