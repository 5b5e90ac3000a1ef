"""Posterior predictions for new (or the training) data, lme4 style.

``re_form=None`` includes every group-level effect, ``re_form="~0"`` (or ``NA``) none, as in
lme4's ``predict.merMod``. New group levels are an error unless ``allow_new_levels=True``; then
each new level gets a fresh draw from the fitted group-level distribution per posterior draw
(``new_levels="sample"``, brms's default), or zero deviation (``new_levels="zero"``, lme4's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.backend.design import evaluate_recipes
from hiermodel.errors import DataError, did_you_mean
from hiermodel.families.links import inverse_link
from hiermodel.formula import evaluate_columns, evaluate_variable
from hiermodel.naming import safe
from hiermodel.posterior.stats import STAT_COLUMNS

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit

KINDS = ("link", "mean", "response")


def new_data_frame(fit: Fit, newdata: pd.DataFrame) -> pd.DataFrame:
    """``newdata``'s predictors evaluated as in fitting (stateful transforms, level checks),
    under the model's safe column names (the variables of every formula of the model). Basis
    columns (poly/bs/ns) use the basis fitted on the training data (``prepared.state``): no
    new knots, no re-orthogonalisation."""
    terms = fit.model.terms
    prepared = fit.model.prepared
    response = _response_names(fit)
    weights = terms.response.weights
    every = [terms, *(c.terms for c in fit.model.design.components.values())]
    grouping = {f for t in every for b in t.groups for f in b.factor}
    variables = {name: var for t in every for name, var in t.variables.items()}
    frame = pd.DataFrame(index=newdata.index)
    state = dict(prepared.state)
    for name, var in variables.items():
        if name in response:
            continue
        missing = [c for c in var.source_columns if c not in newdata.columns]
        if missing and weights is not None and name == weights.name and not _is_predictor(
                fit, weights.column):
            continue  # predictions ignore the weights (unless they are also a predictor)
        if missing:
            raise DataError(
                f"newdata has no column '{missing[0]}' (needed for '{name}')"
                f"{did_you_mean(missing[0], list(newdata.columns))}"
            )
        if var.basis is not None:
            for column, basis_values in evaluate_columns(var, newdata, state).items():
                frame[column] = basis_values
            continue
        values = evaluate_variable(var, newdata, state)
        if values.isna().any():
            raise DataError(f"newdata has missing values in '{name}' ({int(values.isna().sum())}"
                            " rows); predictions need complete predictors")
        if name in grouping:
            values = values.astype(str)
        else:
            train = prepared.frame[var.column]
            if not pd.api.types.is_numeric_dtype(train) or isinstance(
                    train.dtype, pd.CategoricalDtype):
                known = set(train.astype(str))
                new = sorted(set(values.astype(str)) - known)
                if new:
                    raise DataError(f"newdata has levels of '{name}' not seen in fitting: "
                                    f"{new[:5]}; known levels: {sorted(known)[:10]}")
        frame[var.column] = values
    return frame


def _response_names(fit: Fit) -> set[str]:
    response = fit.model.terms.response
    names = {response.variable.name}
    if response.failures is not None:
        names.add(response.failures.name)
    return names


def predictor_columns(fit: Fit) -> list[str]:
    """The data columns the linear predictors read (every formula's variables but the
    response): rows equal in these columns have equal linear-predictor draws."""
    every = [fit.model.terms, *(c.terms for c in fit.model.design.components.values())]
    response = _response_names(fit)
    columns = {c for t in every for name, var in t.variables.items() if name not in response
               for c in var.source_columns}
    return sorted(columns)


def _is_predictor(fit: Fit, column: str) -> bool:
    """Whether a design column of any formula of the model is computed from ``column``."""
    design = fit.model.design
    recipes = [*design.x_recipes, *(r for b in design.blocks for r in b.recipes),
               *(r for c in design.components.values() for r in c.x_recipes)]
    return any(col == column for recipe in recipes for col, _ in recipe)


def _stacked(fit: Fit, name: str) -> np.ndarray:
    d = fit.draws(name)
    return d.reshape(d.shape[0] * d.shape[1], *d.shape[2:])


def parse_re_form(re_form: Any) -> bool:
    """Whether ``re_form`` includes the group-level effects (None) or not ("~0", NA)."""
    if re_form is None:
        return True
    if re_form is pd.NA or (isinstance(re_form, float) and np.isnan(re_form)):
        return False
    if isinstance(re_form, str) and re_form.replace(" ", "") in ("~0", "NA", "~-1"):
        return False
    raise DataError(
        f"re_form={re_form!r} is not supported; use None (all group-level effects) or "
        "'~0' / NA (population level only)"
    )


def _new_level_draws(fit: Fit, group: str, start: int, k: int, correlated: bool,
                     cor_offset: int, n_new: int, rng: np.random.Generator) -> np.ndarray:
    """(S, n_new, k) draws of group effects for unseen levels from N(0, Sigma_s)."""
    g = safe(group)
    sd = _stacked(fit, f"sd_{g}")[:, start:start + k]
    z = rng.standard_normal((sd.shape[0], n_new, k))
    if not correlated or k == 1:
        return z * sd[:, None, :]
    cor_flat = _stacked(fit, f"cor_{g}")
    iu = np.triu_indices(k, 1)
    out = np.empty_like(z)
    for s in range(sd.shape[0]):
        C = np.eye(k)
        C[iu] = cor_flat[s, cor_offset:cor_offset + len(iu[0])]
        C = C + C.T - np.eye(k)
        L = np.linalg.cholesky(C + 1e-12 * np.eye(k))
        out[s] = (z[s] @ L.T) * sd[s]
    return out


def linear_predictor(fit: Fit, newdata: pd.DataFrame | None = None, re_form: Any = None,
                     allow_new_levels: bool = False, new_levels: str = "sample",
                     seed: int | None = None, rows: np.ndarray | None = None,
                     component: str = "") -> np.ndarray:
    """Posterior draws of the linear predictor, shape (draws, rows).

    Without ``newdata`` this is the training data, optionally only the row positions ``rows``
    (the pointwise log-likelihood walks the data in chunks this way). ``component`` names an
    auxiliary parameter with its own formula (its linear predictor, on its link scale).
    """
    model = fit.model
    design = model.design
    comp = design.components.get(component) if component else None
    if component and comp is None:
        raise DataError(f"'{component}' has no formula of its own in this model")
    use_groups = parse_re_form(re_form)
    if new_levels not in ("sample", "zero"):
        raise DataError(f"new_levels must be 'sample' or 'zero' (got {new_levels!r})")
    sel = slice(None) if rows is None else np.asarray(rows)
    if newdata is None:
        frame = model.prepared.frame.iloc[sel]
        X = (design.X if comp is None else comp.X)[sel]
    else:
        if not isinstance(newdata, pd.DataFrame):
            raise DataError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        frame = new_data_frame(fit, newdata)
        X = evaluate_recipes(design.x_recipes if comp is None else comp.x_recipes, frame)
    n = len(frame)
    eta = np.zeros((_stacked(fit, next(iter(fit.idata.posterior.data_vars))).shape[0], n))
    suffix = f"_{component}" if component else ""
    if (design.has_intercept if comp is None else comp.has_intercept):
        eta += _stacked(fit, f"Intercept{suffix}")[:, None]
    if X.shape[1]:
        eta += _stacked(fit, f"b{suffix}") @ X.T
    rng = np.random.default_rng(seed)
    if use_groups:
        starts: dict[str, int] = {}
        cor_offsets: dict[str, int] = {}
        for block in design.blocks:
            group = block.group
            start = starts.get(group, 0)
            cor_offset = cor_offsets.get(group, 0)
            starts[group] = start + block.k
            if block.correlated and block.k > 1:
                cor_offsets[group] = cor_offset + block.k * (block.k - 1) // 2
            if block.component != component:
                continue
            r = _stacked(fit, f"r_{safe(group)}")[:, :, start:start + block.k]
            if newdata is None:
                idx = block.index[sel]
                Z = block.Z[sel]
                contrib = np.einsum("sik,ik->si", r[:, idx, :], Z)
            else:
                col = model.terms.variables[block.source.factor[0]].column if len(
                    block.source.factor) == 1 else None
                values = (frame[col].astype(str) if col is not None else frame[[
                    model.terms.variables[f].column for f in block.source.factor
                ]].astype(str).agg(":".join, axis=1))
                lookup = {lv: i for i, lv in enumerate(block.levels)}
                idx = values.map(lookup)
                is_new = idx.isna().to_numpy()
                Z = evaluate_recipes(block.recipes, frame)
                if is_new.any() and not allow_new_levels:
                    new = sorted(set(values[is_new]))
                    raise DataError(
                        f"newdata has {len(new)} level(s) of '{group}' not seen in fitting "
                        f"(e.g. {new[:5]}); pass allow_new_levels=True to predict them from the "
                        "fitted group-level distribution, or re_form='~0'"
                    )
                safe_idx = np.where(is_new, 0, idx.fillna(0).to_numpy()).astype(int)
                effects = r[:, safe_idx, :]
                if is_new.any():
                    if new_levels == "zero":
                        effects[:, is_new, :] = 0.0
                    else:
                        new_vals = values[is_new]
                        uniq = sorted(set(new_vals))
                        draws = _new_level_draws(fit, group, start, block.k,
                                                 block.correlated, cor_offset, len(uniq), rng)
                        pos = np.array([uniq.index(v) for v in new_vals])
                        effects[:, is_new, :] = draws[:, pos, :]
                contrib = np.einsum("sik,ik->si", effects, Z)
            eta += contrib
    offsets = model.terms.offsets
    if offsets and comp is None:
        eta += sum(np.asarray(frame[v.column], dtype=float) for v in offsets)
    return eta


def auxiliary_draws(fit: Fit, newdata: pd.DataFrame | None = None, *,
                    rows: np.ndarray | None = None, re_form: Any = None,
                    allow_new_levels: bool = False, new_levels: str = "sample",
                    seed: int | None = None) -> dict[str, np.ndarray]:
    """The family's auxiliary parameters (sigma, alpha, ...) as the arrays
    :class:`~hiermodel.families.Family` methods broadcast against (draws, rows): (draws, 1)
    for a constant parameter, (draws, size) for a vector (an ordinal model's thresholds), and
    (draws, rows) — the inverse link of its own linear predictor on ``newdata`` or training
    ``rows`` — for a parameter with its own formula."""
    design = fit.model.design
    out = {}
    for i, a in enumerate(fit.model.family.aux):
        comp = design.components.get(a)
        if comp is not None:
            # its own stream for new group levels: the same seed as the mean's would draw the
            # same standard normals for both components' effects
            own_seed = None if seed is None else seed + 1 + i
            eta = linear_predictor(fit, newdata, re_form, allow_new_levels, new_levels,
                                   own_seed, rows=rows, component=a)
            out[a] = inverse_link(comp.link, eta)
        else:
            d = fit.draws(a)
            out[a] = d.reshape(d.shape[0] * d.shape[1], -1)
    return out


def predict(fit: Fit, newdata: pd.DataFrame | None = None, re_form: Any = None,
            allow_new_levels: bool = False, kind: str = "mean", summary: bool = True,
            prob: float = 0.95, seed: int | None = None, new_levels: str = "sample") -> Any:
    """Predictions on the link scale, of the mean, or of new responses.

    Returns a DataFrame of summaries per row (``summary=True``) or the draws (draws, rows).
    For binomial models ``kind="mean"`` is the success probability, as in lme4; for
    zero-inflated and hurdle models it includes the zeros (brms's ``posterior_epred``); for
    ordinal models it is the expected category number 1..K and ``kind="response"`` draws
    category numbers.
    """
    if kind not in KINDS:
        raise DataError(f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    eta = linear_predictor(fit, newdata, re_form, allow_new_levels, new_levels, seed)
    fam = fit.model.family
    if kind == "link":
        out = eta
    else:
        aux = auxiliary_draws(fit, newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                              new_levels=new_levels, seed=seed)
        out = (fam.mean(eta, aux) if kind == "mean" else
               fam.simulate(np.random.default_rng(seed), eta, aux, _trials(fit, newdata)))
    if not summary:
        return out
    import arviz as az

    hdi = np.array([az.hdi(out[:, i], hdi_prob=prob) for i in range(out.shape[1])]).reshape(-1, 2)
    index = newdata.index if newdata is not None else fit.model.prepared.frame.index
    return pd.DataFrame({
        "mean": out.mean(0), "median": np.median(out, 0), "sd": out.std(0, ddof=1),
        "hdi_low": hdi[:, 0], "hdi_high": hdi[:, 1],
    }, index=index)


def _trials(fit: Fit, newdata: pd.DataFrame | None) -> np.ndarray | None:
    """Binomial trials of the training rows or of ``newdata`` (None without cbind)."""
    design = fit.model.design
    if design.trials is None:
        return None
    if newdata is None:
        return design.trials
    resp = fit.model.terms.response
    assert resp.failures is not None
    cols = [c for v in (resp.variable, resp.failures) for c in v.source_columns]
    missing = [c for c in cols if c not in newdata.columns]
    if missing:
        raise DataError(f"kind='response' for a binomial model needs the trials: newdata has "
                        f"no column {missing}")
    state = dict(fit.model.prepared.state)
    s = evaluate_variable(resp.variable, newdata, state)
    f = evaluate_variable(resp.failures, newdata, state)
    return np.asarray(s + f, dtype=float)


__all__ = ["KINDS", "STAT_COLUMNS", "auxiliary_draws", "linear_predictor", "new_data_frame",
           "parse_re_form", "predict", "predictor_columns"]
