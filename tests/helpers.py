"""Test helpers for evaluating PyMC graphs at chosen points."""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm


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
