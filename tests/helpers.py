"""Test helpers for evaluating PyMC graphs at chosen points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm


def fold_graph(m: Any, labels: Any) -> pm.Model:
    """``m``'s graph with its likelihood split by the groups ``labels`` (shared ``fold_keep``
    data), compressed like ``m`` (backend/folds.py's graph)."""
    from dataclasses import replace

    from hiermodel.backend.graph import build_graph

    codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)[1]
    options = replace(m.options, compress=m.info.cells is not None)
    return build_graph(m.design, m.prior_table, options, folds=codes)[0]


def point(model: pm.Model, values: dict[str, Any]) -> dict[str, np.ndarray]:
    """Value-variable point from constrained values of the free RVs (transformed as needed)."""
    out: dict[str, np.ndarray] = {}
    for rv in model.free_RVs:
        value = np.asarray(values[rv.name], dtype=float)
        vv = model.rvs_to_values[rv]
        tr = model.rvs_to_transforms.get(rv)
        if tr is not None:
            import pytensor.tensor as pt

            value = np.asarray(tr.forward(pt.as_tensor(value), *rv.owner.inputs).eval())
        out[vv.name] = value
    return out


def random_point(model: pm.Model, seed: int = 0) -> dict[str, np.ndarray]:
    """Constrained values of every free RV drawn from the prior."""
    draws = pm.draw(model.free_RVs, random_seed=seed)
    return {rv.name: np.asarray(d) for rv, d in zip(model.free_RVs, draws, strict=True)}


def logp_and_grad(model: pm.Model, values: dict[str, Any]) -> tuple[float, np.ndarray]:
    pt_ = point(model, values)
    logp = float(model.compile_logp()(pt_))
    grads = model.compile_dlogp()(pt_)
    return logp, np.asarray(grads)


def fixed_fit(model: Any, seed: int = 0, chains: int = 2, draws: int = 150,
              b_mean: float = 5.0, b_sd: float = 2.0) -> Any:
    """A :class:`~hiermodel.posterior.fitted.Fit` of ``model`` whose posterior is made up
    (seeded normal / half-normal draws of Intercept, b, sd, cor, r and the family's
    auxiliaries, named and dimensioned as the graph stores them): no MCMC."""
    import arviz as az

    from hiermodel.naming import coord_label, group_dims, safe
    from hiermodel.posterior.fitted import Fit

    rng = np.random.default_rng(seed)
    design = model.design
    shape = (chains, draws)
    post: dict[str, np.ndarray] = {}
    dims: dict[str, list[str]] = {}
    coords: dict[str, list[str]] = {}
    if design.has_intercept:
        post["Intercept"] = rng.normal(2.0, 0.1, shape)
    if design.x_names:
        post["b"] = rng.normal(b_mean, b_sd, (*shape, len(design.x_names)))
        dims["b"], coords["coef"] = ["coef"], list(design.x_names)
    for group, terms in model.info.group_terms.items():
        g, k = safe(group), len(terms)
        gdim = group_dims(group)[0]
        levels = next(b.levels for b in design.blocks if b.group == group)
        post[f"sd_{g}"] = np.abs(rng.normal(1.0, 0.2, (*shape, k)))
        post[f"r_{g}"] = rng.normal(0.0, 1.0, (*shape, len(levels), k))
        dims[f"sd_{g}"], dims[f"r_{g}"] = [f"{g}__term"], [gdim, f"{g}__term"]
        coords[gdim], coords[f"{g}__term"] = list(levels), [coord_label(t) for t in terms]
        if k == 2 and group in model.info.correlated_groups:
            post[f"cor_{g}"] = rng.uniform(-0.5, 0.5, (*shape, 1))
            dims[f"cor_{g}"], coords[f"{g}__cor"] = [f"{g}__cor"], ["__".join(
                coord_label(t) for t in terms)]
    for c, comp in design.components.items():  # an auxiliary parameter's own formula
        if comp.has_intercept:
            post[f"Intercept_{c}"] = rng.normal(1.0, 0.5, shape)
        if comp.x_names:
            post[f"b_{c}"] = rng.normal(b_mean, b_sd, (*shape, len(comp.x_names)))
            dims[f"b_{c}"], coords[f"coef_{c}"] = [f"coef_{c}"], list(comp.x_names)
    for a in model.family.aux:
        if a not in design.components:
            post[a] = np.abs(rng.normal(1.0, 0.1, shape))
    idata = az.from_dict(posterior=post, dims=dims, coords=coords)
    return Fit(model, idata, {})


# a one-chain, 60-draw sleepstudy spec: the smallest real fit the CLI and report tests run
TINY = """\
[data]
dataset = "sleepstudy"

[model]
formula = "Reaction ~ Days + (1 | Subject)"

[sampler]
chains = 1
draws = 60
tune = 60
seed = 3
"""
