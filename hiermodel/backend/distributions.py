"""Turn resolved :class:`~hiermodel.priors.Prior` values into PyMC random variables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from hiermodel.errors import BuildError, InternalError

_PYMC: dict[str, Any] = {
    "Normal": pm.Normal,
    "HalfNormal": pm.HalfNormal,
    "HalfCauchy": pm.HalfCauchy,
    "HalfStudentT": pm.HalfStudentT,
    "StudentT": pm.StudentT,
    "Cauchy": pm.Cauchy,
    "Exponential": pm.Exponential,
    "Gamma": pm.Gamma,
    "InverseGamma": pm.InverseGamma,
    "LogNormal": pm.LogNormal,
    "Laplace": pm.Laplace,
    "Uniform": pm.Uniform,
    "Beta": pm.Beta,
    "Flat": pm.Flat,
    "HalfFlat": pm.HalfFlat,
}


def pymc_class(dist: str) -> Any:
    try:
        return _PYMC[dist]
    except KeyError:
        raise BuildError(f"prior distribution '{dist}' has no PyMC counterpart here") from None


def stacked_dist(priors: Sequence[Any]) -> Any | None:
    """One unregistered vector ``.dist`` for priors of a single family, else None.

    Used as ``sd_dist`` of :class:`pymc.LKJCholeskyCov`, which needs one distribution for the
    whole SD vector.
    """
    keys = {(p.dist, tuple(p.kwargs)) for p in priors}
    if len(keys) != 1:
        return None
    dist, names = next(iter(keys))
    kwargs = {k: np.array([p.kwargs[k] for p in priors], dtype=float) for k in names}
    return pymc_class(dist).dist(**kwargs, shape=len(priors))


def vector_rv(name: str, priors: Sequence[Any], dims: str | None = None,
              vector: bool = False) -> pt.TensorVariable:
    """One RV per prior family; a vector with per-element parameters when families agree.

    A scalar prior list without ``dims`` gives a scalar RV. Mixed families give one RV per
    family and a Deterministic ``name`` that puts the elements back in order.
    """
    size: dict[str, Any] = {"dims": dims} if dims is not None else {"shape": len(priors)}
    if dims is None and not vector:
        if len(priors) != 1:
            raise InternalError(f"scalar RV '{name}' with {len(priors)} priors")
        p = priors[0]
        return pymc_class(p.dist)(name, **p.kwargs)
    families: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for i, p in enumerate(priors):
        families.setdefault((p.dist, tuple(p.kwargs)), []).append(i)
    if len(families) == 1:
        (dist, keys), _ = next(iter(families.items()))
        kwargs = {k: np.array([p.kwargs[k] for p in priors], dtype=float) for k in keys}
        return pymc_class(dist)(name, **size, **kwargs)
    parts: list[pt.TensorVariable] = []
    order: list[int] = []
    for j, ((dist, keys), idx) in enumerate(families.items()):
        kwargs = {k: np.array([priors[i].kwargs[k] for i in idx], dtype=float) for k in keys}
        parts.append(pymc_class(dist)(f"{name}_part{j}", shape=len(idx), **kwargs))
        order.extend(idx)
    stacked = pt.concatenate(parts)
    inverse = np.argsort(np.asarray(order))
    if dims is None:
        return pm.Deterministic(name, stacked[inverse])
    return pm.Deterministic(name, stacked[inverse], dims=dims)


__all__ = ["pymc_class", "stacked_dist", "vector_rv"]
