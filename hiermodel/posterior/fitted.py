"""Answers in lme4's vocabulary: ``fixef``, ``ranef``, ``coef``, ``varcorr``, ``summary``.

Every accessor returns a DataFrame of posterior summaries (mean, median, sd, HDI, R-hat,
bulk ESS) with lme4 names, computed from ``fit.idata`` (an ArviZ InferenceData whose
variables carry readable names and dims; see :mod:`hiermodel.backend.graph`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.errors import DataError, did_you_mean
from hiermodel.naming import coord_label, group_dims, safe
from hiermodel.posterior.stats import summarize, with_labels

if TYPE_CHECKING:
    import arviz as az

    from hiermodel.models import Model


class Fit:
    """A fitted hierarchical model: the posterior plus lme4-style accessors."""

    def __init__(self, model: Model, idata: az.InferenceData, sampler: dict[str, Any]) -> None:
        self.model = model
        self.idata = idata
        self.sampler = dict(sampler)
        self.cached = False  # True when hm.fit(file=...) reused a stored fit
        self.remedy: dict[str, Any] = {}  # what fit(remedy=True) changed before this refit
        self._checks: pd.DataFrame | None = None

    # -- the objects underneath -------------------------------------------------------------
    @property
    def bambi_model(self) -> Any:
        return self.model.bambi_model

    @property
    def pymc_model(self) -> Any:
        """The PyMC model that was sampled (a ``pymc.Model``)."""
        return self.model.pymc_model

    @property
    def formula(self) -> str:
        return self.model.formula

    @property
    def family(self) -> Any:
        return self.model.family

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of variable ``name`` as (chain, draw, ...)."""
        post = self.idata.posterior
        if name not in post:
            raise DataError(f"no posterior variable '{name}'{did_you_mean(name, list(post))}")
        return np.asarray(post[name].values)

    def _flat(self, name: str) -> np.ndarray:
        d = self.draws(name)
        return d.reshape(d.shape[0], d.shape[1], -1)

    # -- lme4 accessors -----------------------------------------------------------------------
    def fixef(self, prob: float = 0.95) -> pd.DataFrame:
        """Population-level effects, one row per term, lme4 names (``(Intercept)``, ``Days``).

        Ordinal (cumulative) models list their thresholds first, with R's names ``1|2``,
        ``2|3``, ... (as ``coef()`` of an ``ordinal::clmm`` fit), then the coefficients. The
        coefficients of an auxiliary parameter's own formula follow, prefixed with its name as
        in brms (``sigma_(Intercept)``, ``sigma_Days``; on its link scale, log for sigma).
        """
        design = self.model.design
        names: list[str] = []
        parts: list[np.ndarray] = []
        if design.thresholds:
            names.extend(design.thresholds)
            parts.append(self._flat("threshold"))
        if design.has_intercept:
            names.append("(Intercept)")
            parts.append(self._flat("Intercept"))
        if design.x_names:
            names.extend(design.x_names)
            parts.append(self._flat("b"))
        for c, comp in design.components.items():  # brms: sigma_(Intercept), sigma_Days
            if comp.has_intercept:
                names.append(f"{c}_(Intercept)")
                parts.append(self._flat(f"Intercept_{c}"))
            if comp.x_names:
                names.extend(comp.x_names)
                parts.append(self._flat(f"b_{c}"))
        if not parts:
            return pd.DataFrame(columns=["term"])
        stats = summarize(np.concatenate(parts, axis=2), prob)
        return with_labels({"term": names}, stats).set_index("term")

    def thresholds(self, prob: float = 0.95) -> pd.DataFrame:
        """The ordered thresholds of an ordinal model (rows ``1|2``, ``2|3``, ...; columns as
        :meth:`fixef`), on the scale of the linear predictor."""
        names = self.model.design.thresholds
        if not names:
            raise DataError(f"family '{self.family.name}' has no thresholds; thresholds() "
                            "is for ordinal families (family='cumulative')")
        stats = summarize(self._flat("threshold"), prob)
        return with_labels({"term": names}, stats).set_index("term")

    def auxiliary(self, prob: float = 0.95) -> pd.DataFrame:
        """The family-specific parameters (brms's "Family Specific Parameters"): ``sigma``,
        ``nu``, ``alpha`` (NB2 shape = glmmTMB's theta = brms's shape; gamma shape), ``phi``
        (beta precision), ``zi``, ``hu``. Rows named by parameter, columns as :meth:`fixef`;
        empty for families without one (thresholds are in :meth:`thresholds`; a parameter
        with its own formula is in :meth:`fixef`)."""
        names = [a for a in self.family.aux
                 if a != "threshold" and a not in self.model.design.components]
        if not names:
            return pd.DataFrame(columns=["parameter"]).set_index("parameter")
        stats = summarize(np.concatenate([self._flat(a) for a in names], axis=2), prob)
        return with_labels({"parameter": names}, stats).set_index("parameter")

    def varcorr(self, prob: float = 0.95) -> pd.DataFrame:
        """Like R's ``as.data.frame(VarCorr(m))``: grp, var1, var2 and posterior summaries.

        SD rows have ``var2`` empty; correlation rows have both set; the residual SD (gaussian
        and t families) is the row with ``grp == "Residual"``.
        """
        info = self.model.info
        frames = []
        for group, terms in info.group_terms.items():
            g = safe(group)
            sd = summarize(self._flat(f"sd_{g}"), prob)
            frames.append(with_labels({"grp": [group] * len(terms), "var1": terms,
                                       "var2": [""] * len(terms)}, sd))
            if group in info.correlated_groups:
                _, _, cdim = group_dims(group)
                pairs = [str(p) for p in self.idata.posterior[cdim].values]
                by_label = {coord_label(t): t for t in terms}
                v1 = [by_label[p.split("__")[0]] for p in pairs]
                v2 = [by_label[p.split("__")[1]] for p in pairs]
                cor = summarize(self._flat(f"cor_{g}"), prob)
                frames.append(with_labels({"grp": [group] * len(pairs), "var1": v1, "var2": v2},
                                          cor))
        if "sigma" in self.idata.posterior:
            frames.append(with_labels({"grp": ["Residual"], "var1": [""], "var2": [""]},
                                      summarize(self._flat("sigma"), prob)))
        if not frames:
            return pd.DataFrame(columns=["grp", "var1", "var2"])
        return pd.concat(frames, ignore_index=True)

    def ranef(self, group: str | None = None, prob: float = 0.95) -> pd.DataFrame:
        """Group-level deviations per level: grp, level, term and posterior summaries."""
        return self._per_level(group, prob, total=False)

    def coef(self, group: str | None = None, prob: float = 0.95) -> pd.DataFrame:
        """Total coefficients per level (fixed + group deviation), like lme4's ``coef``.

        Terms that do not vary over the group appear with their population value, as in lme4.
        """
        return self._per_level(group, prob, total=True)

    def _per_level(self, group: str | None, prob: float, total: bool) -> pd.DataFrame:
        info = self.model.info
        groups = list(info.group_terms)
        if group is not None and group not in groups:
            raise DataError(f"no grouping factor '{group}' in the model"
                            f"{did_you_mean(group, groups)}; groups: {', '.join(groups)}")
        fixed = self._fixed_draws() if total else {}
        frames = []
        for grp in [group] if group else groups:
            g = safe(grp)
            gdim, _, _ = group_dims(grp)
            levels = [str(v) for v in self.idata.posterior[gdim].values]
            r = self.draws(f"r_{g}")  # (chain, draw, level, term)
            terms = info.group_terms[grp]
            term_names = list(fixed) if total else terms
            for t in terms:
                if t not in term_names:
                    term_names.append(t)
            cols, lv, tn = [], [], []
            for j, level in enumerate(levels):
                for t in term_names:
                    value = fixed.get(t, 0.0)
                    if t in terms:
                        value = value + r[:, :, j, terms.index(t)]
                    cols.append(np.broadcast_to(value, r.shape[:2]))
                    lv.append(level)
                    tn.append(t)
            stats = summarize(np.stack(cols, axis=2), prob)
            frames.append(with_labels({"grp": [grp] * len(lv), "level": lv, "term": tn}, stats))
        return pd.concat(frames, ignore_index=True)

    def _fixed_draws(self) -> dict[str, np.ndarray]:
        design = self.model.design
        out: dict[str, np.ndarray] = {}
        if design.has_intercept:
            out["(Intercept)"] = self.draws("Intercept")
        if design.x_names:
            b = self.draws("b")
            for j, name in enumerate(design.x_names):
                out[name] = b[..., j]
        for c, comp in design.components.items():
            if comp.has_intercept:
                out[f"{c}_(Intercept)"] = self.draws(f"Intercept_{c}")
            if comp.x_names:
                bc = self.draws(f"b_{c}")
                for j, name in enumerate(comp.x_names):
                    out[name] = bc[..., j]
        return out

    def prior_summary(self) -> Any:
        """The prior of every parameter and where it came from (template, override, auto)."""
        return self.model.prior_table

    def prior_predictive(self, draws: int = 200, seed: int | None = None) -> Any:
        """Prior predictive draws vs the observed response (``.summary()``, ``.plot()``)."""
        return self.model.prior_predictive(draws=draws, seed=seed)

    # -- predictions --------------------------------------------------------------------------
    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False, kind: str = "mean", summary: bool = True,
                prob: float = 0.95, seed: int | None = None,
                new_levels: str = "sample") -> Any:
        """Posterior predictions; see :func:`hiermodel.posterior.prediction.predict`.

        ``new_levels="sample"`` draws effects of unseen group levels from the fitted
        (co)variance; ``"zero"`` sets them to zero (lme4's ``allow.new.levels`` behaviour).
        """
        from hiermodel.posterior.prediction import predict

        return predict(self, newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                       kind=kind, summary=summary, prob=prob, seed=seed, new_levels=new_levels)

    def pp_check(self, kind: str = "density", stat: Any = "mean", group: str | None = None,
                 ndraws: int | None = None, seed: int | None = None,
                 bins: int | None = None) -> Any:
        """Posterior predictive check (brms ``pp_check``): numbers and a figure; see
        :func:`hiermodel.posterior.ppc.pp_check`."""
        from hiermodel.posterior.ppc import pp_check

        return pp_check(self, kind=kind, stat=stat, group=group, ndraws=ndraws, seed=seed,
                        bins=bins)

    # -- interpretation (marginaleffects / bambi.interpret, brms) -----------------------------
    def predictions(self, conditional: Any = None, by: Any = None, average: bool = False,
                    re_form: Any = None, kind: str = "response", prob: float = 0.95,
                    **options: Any) -> Any:
        """Expected responses over a grid, at reference values or averaged over the data;
        see :mod:`hiermodel.posterior.interpret`."""
        from hiermodel.posterior.interpret import predictions

        return predictions(self, conditional=conditional, by=by, average=average,
                           re_form=re_form, kind=kind, prob=prob, **options)

    def comparisons(self, contrast: Any, conditional: Any = None, by: Any = None,
                    comparison: str = "difference", average: bool = False,
                    re_form: Any = None, kind: str = "response", prob: float = 0.95,
                    **options: Any) -> Any:
        """Contrasts of one variable (``{"x": [a, b]}``: ``b`` vs ``a``); see
        :mod:`hiermodel.posterior.interpret`."""
        from hiermodel.posterior.interpret import comparisons

        return comparisons(self, contrast, conditional=conditional, by=by,
                           comparison=comparison, average=average, re_form=re_form,
                           kind=kind, prob=prob, **options)

    def slopes(self, variable: str, conditional: Any = None, by: Any = None,
               average: bool = False, re_form: Any = None, kind: str = "response",
               prob: float = 0.95, eps: float | None = None, **options: Any) -> Any:
        """Finite-difference slopes of a numeric variable (step ``eps``, default 1e-4 x its
        range); see :mod:`hiermodel.posterior.interpret`."""
        from hiermodel.posterior.interpret import comparisons

        return comparisons(self, variable, conditional=conditional, by=by, average=average,
                           re_form=re_form, kind=kind, prob=prob, eps=eps, slope=True,
                           **options)

    def conditional_effects(self, effects: Any = None, re_form: Any = "~0",
                            kind: str = "response", prob: float = 0.95,
                            seed: int | None = None) -> Any:
        """brms's ``conditional_effects``: one panel per population-level variable."""
        from hiermodel.posterior.interpret import conditional_effects

        return conditional_effects(self, effects, re_form=re_form, kind=kind, prob=prob,
                                   seed=seed)

    def hypothesis(self, hypothesis: str | list[str], alpha: float = 0.05,
                   seed: int | None = None, prior_draws: int = 4000) -> pd.DataFrame:
        """brms's ``hypothesis()``: ``"Days > 5"``, ``"SexMale = 0"``, ``"a - b > 0"``; see
        :mod:`hiermodel.posterior.hypothesis` for the names and the evidence ratios."""
        from hiermodel.posterior.hypothesis import hypothesis as test

        return test(self, hypothesis, alpha=alpha, seed=seed, prior_draws=prior_draws)

    def bayes_R2(self, re_form: Any = None, summary: bool = True, prob: float = 0.95,
                 residual: str = "residuals") -> Any:
        """Bayesian R² (conditional with ``re_form=None``, marginal with ``"~0"``); see
        :mod:`hiermodel.posterior.r2`."""
        from hiermodel.posterior.r2 import bayes_r2

        return bayes_r2(self, re_form=re_form, summary=summary, prob=prob, residual=residual)

    def loo_R2(self, summary: bool = True, prob: float = 0.95,
               seed: int | None = None) -> Any:
        """LOO-adjusted R² (rstanarm / brms); see :mod:`hiermodel.posterior.r2`."""
        from hiermodel.posterior.r2 import loo_r2

        return loo_r2(self, summary=summary, prob=prob, seed=seed)

    def update(self, formula: str | None = None, **kwargs: Any) -> Fit:
        """Refit with a changed formula (R's ``update`` dot semantics: ``"~ . + Sex"``,
        ``". ~ . - Days"``), data, priors, family or sampler settings; see
        :func:`hiermodel.posterior.refit.update`."""
        from hiermodel.posterior.refit import update

        return update(self, formula, **kwargs)

    # -- diagnostics and reports --------------------------------------------------------------
    def checks(self) -> pd.DataFrame:
        """The convergence gate: one row per check (R-hat, bulk and tail ESS, divergences, tree
        depth, E-BFMI) with status, value, threshold, the parameters involved and advice for
        this model; see :mod:`hiermodel.posterior.diagnostics`."""
        if self._checks is None:
            from hiermodel.posterior.diagnostics import checks, context_of

            self._checks = checks(self.idata, context_of(self))
        return self._checks.copy()

    def graph(self, path: str | Path | None = None, title: str | None = None) -> Any:
        """The model graph (see :meth:`hiermodel.models.Model.graph`)."""
        return self.model.graph(path, title=title)

    def to_html(self, path: str | Path) -> Path:
        """Write a self-contained HTML report of this fit (see :mod:`hiermodel.report`)."""
        from hiermodel.report import write_fit_report

        return write_fit_report(self, path)

    def diagnostics(self) -> dict[str, float]:
        """max R-hat, min bulk/tail ESS over the reported parameters, divergences, ``ok``."""
        from hiermodel.posterior.summary import diagnostics

        return diagnostics(self)

    def summary(self, prob: float = 0.95) -> Any:
        """An lme4-like summary (print it)."""
        from hiermodel.posterior.summary import Summary

        return Summary(self, prob)

    def __repr__(self) -> str:
        return f"<hiermodel.Fit {self.formula!r} ({self.sampler.get('backend')})>"


__all__ = ["Fit"]
