"""The PyMC side of each family: the observed node on the linear predictor, for the full data
or for compressed cells, looked up by the family's canonical name (``Family.name``), and the
weighted likelihood (``y | weights(w)``, multiplicity-compressed cells) built from the same
distribution.

The NumPy side of the same densities (used by LOO, leave-one-group-out and predictions) is the
family class in :mod:`hiermodel.families`; a builds-tier test checks that both agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from hiermodel.errors import InternalError
from hiermodel.families import Cells, Family


def inverse_link(link: str, eta: Any) -> Any:
    """The mean for linear predictor ``eta`` (a PyTensor expression) under ``link``."""
    if link == "identity":
        return eta
    if link == "log":
        return pt.exp(eta)
    if link == "inverse":
        return 1.0 / eta
    if link == "logit":
        return pm.math.invlogit(eta)
    if link == "probit":
        return 0.5 * (1.0 + pt.erf(eta / np.sqrt(2.0)))
    if link == "cloglog":
        return 1.0 - pt.exp(-pt.exp(eta))
    raise InternalError(f"link '{link}' has no PyTensor inverse")


# A family's likelihood on the linear predictor: (PyMC distribution class, its parameters,
# the observed values as that distribution codes them). add_likelihood makes it the observed
# node "y", or, with observation weights, a Potential of the weighted log-density.
Likelihood = tuple[Any, dict[str, Any], np.ndarray]
Observed = Callable[[Family, Any, np.ndarray, dict[str, Any], "np.ndarray | None"], Likelihood]
# A sufficient-statistic likelihood: the family's likelihood on the cells plus the term
# (a PyTensor scalar) that restores the full-data log-density, and that term's node name.
CellLikelihood = tuple[Likelihood, str, Any]
Compressed = Callable[[Family, Any, Cells, dict[str, Any]], CellLikelihood]


def _gaussian(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
              trials: np.ndarray | None) -> Likelihood:
    return pm.Normal, {"mu": inverse_link(family.link, eta), "sigma": aux["sigma"]}, y


def _student_t(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
               trials: np.ndarray | None) -> Likelihood:
    return pm.StudentT, {"nu": aux["nu"], "mu": inverse_link(family.link, eta),
                         "sigma": aux["sigma"]}, y


def _binomial(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
              trials: np.ndarray | None) -> Likelihood:
    """Bernoulli rows without trials, binomial with them; logit on eta directly (stable)."""
    p: dict[str, Any] = ({"logit_p": eta} if family.link == "logit"
                         else {"p": inverse_link(family.link, eta)})
    if trials is None:
        return pm.Bernoulli, p, y
    return pm.Binomial, {"n": trials, **p}, y


def _poisson(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
             trials: np.ndarray | None) -> Likelihood:
    return pm.Poisson, {"mu": inverse_link(family.link, eta)}, y


def _negativebinomial(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
                      trials: np.ndarray | None) -> Likelihood:
    return pm.NegativeBinomial, {"mu": inverse_link(family.link, eta), "alpha": aux["alpha"]}, y


def _gamma(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
           trials: np.ndarray | None) -> Likelihood:
    mu = inverse_link(family.link, eta)
    return pm.Gamma, {"alpha": aux["alpha"], "beta": aux["alpha"] / mu}, y


def _beta(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
          trials: np.ndarray | None) -> Likelihood:
    mu = inverse_link(family.link, eta)
    return pm.Beta, {"alpha": mu * aux["phi"], "beta": (1 - mu) * aux["phi"]}, y


def _lognormal(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
               trials: np.ndarray | None) -> Likelihood:
    return pm.LogNormal, {"mu": eta, "sigma": aux["sigma"]}, y


def _zero_inflated(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
                   trials: np.ndarray | None) -> Likelihood:
    """PyMC's psi is the probability of the count part: psi = 1 - zi."""
    mu = pt.exp(eta)
    if "alpha" in aux:
        return pm.ZeroInflatedNegativeBinomial, {"psi": 1 - aux["zi"], "mu": mu,
                                                 "alpha": aux["alpha"]}, y
    return pm.ZeroInflatedPoisson, {"psi": 1 - aux["zi"], "mu": mu}, y


def _hurdle_nb_logp(value: Any, mu: Any, hu: Any, alpha: Any) -> Any:
    count = pm.logp(pm.NegativeBinomial.dist(mu=mu, alpha=alpha), value)
    log0 = alpha * (pt.log(alpha) - pt.log(alpha + mu))
    return pt.switch(pt.eq(value, 0), pt.log(hu), pt.log1p(-hu) + count - pt.log1mexp(log0))


def _hurdle_nb_random(mu: Any, hu: Any, alpha: Any, rng: Any = None, size: Any = None) -> Any:
    from hiermodel.families import get_family

    shape = size if size is not None else np.shape(mu)
    eta = np.log(np.broadcast_to(mu, shape))
    draws = get_family("hurdle_negativebinomial").simulate(
        rng, eta, {"hu": np.asarray(hu), "alpha": np.asarray(alpha)})
    return draws.astype("int64")


class HurdleNB:
    """The hurdle negative binomial as a PyMC ``CustomDist`` with the interface of a PyMC
    distribution class: ``HurdleNB("y", mu=, hu=, alpha=, observed=)`` and ``.dist(...)``."""

    def __new__(cls, name: str, *, mu: Any, hu: Any, alpha: Any, **kwargs: Any) -> Any:
        return pm.CustomDist(name, mu, hu, alpha, logp=_hurdle_nb_logp,
                             random=_hurdle_nb_random, dtype="int64", **kwargs)

    @staticmethod
    def dist(*, mu: Any, hu: Any, alpha: Any) -> Any:
        return pm.CustomDist.dist(mu, hu, alpha, logp=_hurdle_nb_logp,
                                  random=_hurdle_nb_random, dtype="int64")


def _hurdle(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
            trials: np.ndarray | None) -> Likelihood:
    """PyMC's psi is the probability of a positive count: psi = 1 - hu.

    The negative binomial is written out (:class:`HurdleNB`) rather than PyMC's
    HurdleNegativeBinomial, whose truncation goes through the NB log-CDF (a scan): the same
    density, 3.6-7x cheaper per log-p + gradient call and 2.6-5x faster to compile
    (benchmarks/hurdle_likelihood.py, two runs); for the Poisson PyMC's own is as fast or
    faster (the written-out form was 0.7x). tests/test_families.py checks both against
    ``family.logpdf``."""
    mu = pt.exp(eta)
    if "alpha" in aux:
        return HurdleNB, {"mu": mu, "hu": aux["hu"], "alpha": aux["alpha"]}, y
    return pm.HurdlePoisson, {"psi": 1 - aux["hu"], "mu": mu}, y


def _cumulative(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
                trials: np.ndarray | None) -> Likelihood:
    """Categories coded 1..K by the data stage; PyMC's ordered likelihoods count from 0."""
    codes = np.asarray(y, dtype="int64") - 1
    if family.link == "logit":
        return pm.OrderedLogistic, {"eta": eta, "cutpoints": aux["threshold"]}, codes
    return pm.OrderedProbit, {"eta": eta, "cutpoints": aux["threshold"], "sigma": 1.0}, codes


def _node(likelihood: Likelihood, dims: str) -> Any:
    """The observed node ``y`` of a likelihood (unweighted)."""
    cls, params, value = likelihood
    extra = {"compute_p": False} if cls in (pm.OrderedLogistic, pm.OrderedProbit) else {}
    return cls("y", **params, observed=value, dims=dims, **extra)


def _logp(likelihood: Likelihood) -> Any:
    """Per-row log-density of a likelihood at its observed values."""
    cls, params, value = likelihood
    dist = cls.dist(**params)
    return pm.logp(dist, np.asarray(value).astype(dist.type.dtype))


def _weighted_logp(likelihood: Likelihood, weights: np.ndarray) -> Any:
    """sum_i w_i log p(y_i | ...); a zero weight contributes 0 even where log p is -inf."""
    logp = _logp(likelihood)
    if np.all(weights > 0):
        return pt.sum(weights * logp)
    return pt.sum(pt.switch(weights > 0, weights * logp, 0.0))


def _weighted(likelihood: Likelihood, weights: np.ndarray) -> Any:
    """brms's weighted likelihood: sum_i w_i log p(y_i | ...) as the Potential ``y_weighted``
    (no observed node: prior predictive draws come from the unweighted graph, see
    ``sampling.prior_predictive``). A zero weight contributes 0 even where log p is -inf."""
    return pm.Potential("y_weighted", _weighted_logp(likelihood,
                                                     np.asarray(weights, dtype=float)))


def _gaussian_cells(family: Family, eta: Any, cells: Cells, aux: dict[str, Any]
                    ) -> CellLikelihood:
    """Cell means with sd sigma / sqrt(n) plus the within-cell part of the likelihood."""
    sigma = aux["sigma"]
    n_minus_c = float(cells.count.sum() - cells.n_cells)
    within = _gaussian_within(cells.constant, n_minus_c, cells.ss_within, sigma)
    return ((pm.Normal, {"mu": eta, "sigma": sigma / np.sqrt(cells.count)}, cells.y),
            "y_within", within)


def _gaussian_within(constant: Any, n_minus_c: Any, ss_within: Any, sigma: Any) -> Any:
    """The within-cell part of gaussian cells' log-density (scalars, or one per fold)."""
    return constant - n_minus_c * pt.log(sigma) - ss_within / (2 * sigma**2)


def _binomial_cells(family: Family, eta: Any, cells: Cells, aux: dict[str, Any]
                    ) -> CellLikelihood:
    return (_binomial(family, eta, cells.y, aux, cells.trials), "y_constant",
            pt.as_tensor_variable(cells.constant))


def _poisson_cells(family: Family, eta: Any, cells: Cells, aux: dict[str, Any]
                   ) -> CellLikelihood:
    """Summed counts with the cell's summed exposure (log link: eta + log exposure)."""
    assert cells.exposure_log is not None
    return ((pm.Poisson, {"mu": pt.exp(eta + cells.exposure_log)}, cells.y), "y_constant",
            pt.as_tensor_variable(cells.constant))


OBSERVED: dict[str, Observed] = {
    "gaussian": _gaussian,
    "t": _student_t,
    "bernoulli": _binomial,
    "binomial": _binomial,
    "poisson": _poisson,
    "negativebinomial": _negativebinomial,
    "gamma": _gamma,
    "beta": _beta,
    "lognormal": _lognormal,
    "zero_inflated_poisson": _zero_inflated,
    "zero_inflated_negativebinomial": _zero_inflated,
    "hurdle_poisson": _hurdle,
    "hurdle_negativebinomial": _hurdle,
    "cumulative": _cumulative,
}

COMPRESSED: dict[str, Compressed] = {
    "gaussian": _gaussian_cells,
    "lognormal": _gaussian_cells,  # cells hold mean log(y); the Jacobian is in the constant
    "bernoulli": _binomial_cells,
    "binomial": _binomial_cells,
    "poisson": _poisson_cells,
}


def add_likelihood(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
                   trials: np.ndarray | None, dims: str,
                   weights: np.ndarray | None = None) -> Any:
    """The likelihood of ``family`` with linear predictor ``eta``: the observed node ``y``, or
    with observation ``weights`` the Potential ``y_weighted`` (each row's log-density times
    its weight)."""
    try:
        build = OBSERVED[family.name]
    except KeyError:
        raise InternalError(f"family '{family.name}' has no PyMC likelihood") from None
    likelihood = build(family, eta, y, aux, trials)
    if weights is None:
        return _node(likelihood, dims)
    if len(weights) != len(y):
        raise InternalError(f"{len(weights)} weights for {len(y)} likelihood rows")
    return _weighted(likelihood, weights)


def _cell_likelihood(family: Family, eta: Any, cells: Cells, aux: dict[str, Any]
                     ) -> CellLikelihood:
    try:
        build = COMPRESSED[family.name]
    except KeyError:
        raise InternalError(f"family '{family.name}' has no compressed likelihood") from None
    return build(family, eta, cells, aux)


def add_compressed_likelihood(family: Family, eta: Any, cells: Cells,
                              aux: dict[str, Any]) -> None:
    """The likelihood on compressed cells: multiplicity cells (any family) as the weighted
    likelihood of one row per cell, sufficient-statistic cells through ``COMPRESSED`` with
    the constant that restores full-data log-p."""
    if cells.weights is not None:
        add_likelihood(family, eta, cells.y, aux, cells.trials, "obs", cells.weights)
        return
    likelihood, name, rest = _cell_likelihood(family, eta, cells, aux)
    _node(likelihood, "obs")
    pm.Potential(name, rest)


def kept_logp(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
              trials: np.ndarray | None, row_keep: Any) -> Any:
    """``sum_i row_keep[i] * log p(y_i | ...)`` with ``row_keep`` symbolic (a fold graph's
    keep weight of each row's fold, times the row's weight); a zero weight contributes 0."""
    try:
        build = OBSERVED[family.name]
    except KeyError:
        raise InternalError(f"family '{family.name}' has no PyMC likelihood") from None
    logp = _logp(build(family, eta, y, aux, trials))
    return pt.sum(pt.switch(row_keep > 0, row_keep * logp, 0.0))


def _stack_cells(per_fold: list[Cells]) -> Cells:
    """The cells of every fold, fold after fold, as one :class:`Cells` for their per-cell
    log-density (``rows``/``inverse`` index the folds' own rows; the per-fold scalars
    ``ss_within`` and ``constant`` are left out: :func:`kept_cells_logp` keeps them per fold)."""
    def cat(field: str) -> np.ndarray | None:
        parts = [getattr(c, field) for c in per_fold]
        return None if parts[0] is None else np.concatenate(parts)

    count = cat("count")
    assert count is not None
    return Cells(rows=np.concatenate([c.rows for c in per_fold]),
                 inverse=np.concatenate([c.inverse for c in per_fold]), count=count,
                 y=np.concatenate([c.y for c in per_fold]), trials=cat("trials"),
                 exposure_log=cat("exposure_log"), ss_within=0.0, constant=0.0,
                 weights=cat("weights"))


def kept_cells_logp(family: Family, eta: Any, per_fold: list[Cells], aux: dict[str, Any],
                    keep: Any) -> Any:
    """``sum_k keep[k] * log p(fold k)`` of folds compressed on their own, as one vectorized
    log-density over the stacked cells (``eta``: one value per cell, fold after fold) plus
    the folds' non-per-cell parts: the same density as summing each fold's compressed
    likelihood (:func:`add_compressed_likelihood`), in a graph that compiles like one
    likelihood instead of one per fold."""
    stacked = _stack_cells(per_fold)
    cell_keep = keep[np.repeat(np.arange(len(per_fold)), [c.n_cells for c in per_fold])]
    if stacked.weights is not None:
        return kept_logp(family, eta, stacked.y, aux, stacked.trials,
                         cell_keep * stacked.weights)
    likelihood, _, _ = _cell_likelihood(family, eta, stacked, aux)
    logp = _logp(likelihood)
    constant = np.array([c.constant for c in per_fold])
    if COMPRESSED.get(family.name) is _gaussian_cells:
        rest = _gaussian_within(constant, np.array([c.count.sum() - c.n_cells
                                                    for c in per_fold], dtype=float),
                                np.array([c.ss_within for c in per_fold]), aux["sigma"])
    else:  # the other sufficient-statistic cells' non-per-cell part is a constant
        rest = pt.as_tensor_variable(constant)
    return pt.sum(pt.switch(cell_keep > 0, cell_keep * logp, 0.0)) + pt.dot(keep, rest)


__all__ = ["COMPRESSED", "OBSERVED", "add_compressed_likelihood", "add_likelihood",
           "inverse_link", "kept_cells_logp", "kept_logp"]
