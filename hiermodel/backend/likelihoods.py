"""The PyMC side of each family: the observed node on the linear predictor, for the full data
or for compressed cells, looked up by the family's canonical name (``Family.name``).

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


Observed = Callable[[Family, Any, np.ndarray, dict[str, Any], "np.ndarray | None", str], Any]
Compressed = Callable[[Family, Any, Cells, dict[str, Any]], None]


def _gaussian(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
              trials: np.ndarray | None, dims: str) -> Any:
    return pm.Normal("y", mu=inverse_link(family.link, eta), sigma=aux["sigma"], observed=y,
                     dims=dims)


def _student_t(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
               trials: np.ndarray | None, dims: str) -> Any:
    return pm.StudentT("y", nu=aux["nu"], mu=inverse_link(family.link, eta),
                       sigma=aux["sigma"], observed=y, dims=dims)


def _binomial(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
              trials: np.ndarray | None, dims: str) -> Any:
    """Bernoulli rows without trials, binomial with them; logit on eta directly (stable)."""
    p: dict[str, Any] = ({"logit_p": eta} if family.link == "logit"
                         else {"p": inverse_link(family.link, eta)})
    if trials is None:
        return pm.Bernoulli("y", **p, observed=y, dims=dims)
    return pm.Binomial("y", n=trials, **p, observed=y, dims=dims)


def _poisson(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
             trials: np.ndarray | None, dims: str) -> Any:
    return pm.Poisson("y", mu=inverse_link(family.link, eta), observed=y, dims=dims)


def _negativebinomial(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
                      trials: np.ndarray | None, dims: str) -> Any:
    return pm.NegativeBinomial("y", mu=inverse_link(family.link, eta), alpha=aux["alpha"],
                               observed=y, dims=dims)


def _gamma(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
           trials: np.ndarray | None, dims: str) -> Any:
    mu = inverse_link(family.link, eta)
    return pm.Gamma("y", alpha=aux["alpha"], beta=aux["alpha"] / mu, observed=y, dims=dims)


def _beta(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
          trials: np.ndarray | None, dims: str) -> Any:
    mu = inverse_link(family.link, eta)
    return pm.Beta("y", alpha=mu * aux["phi"], beta=(1 - mu) * aux["phi"], observed=y,
                   dims=dims)


def _lognormal(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
               trials: np.ndarray | None, dims: str) -> Any:
    return pm.LogNormal("y", mu=eta, sigma=aux["sigma"], observed=y, dims=dims)


def _zero_inflated(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
                   trials: np.ndarray | None, dims: str) -> Any:
    """PyMC's psi is the probability of the count part: psi = 1 - zi."""
    mu = pt.exp(eta)
    if "alpha" in aux:
        return pm.ZeroInflatedNegativeBinomial("y", psi=1 - aux["zi"], mu=mu, alpha=aux["alpha"],
                                               observed=y, dims=dims)
    return pm.ZeroInflatedPoisson("y", psi=1 - aux["zi"], mu=mu, observed=y, dims=dims)


def _hurdle(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
            trials: np.ndarray | None, dims: str) -> Any:
    """P(0) = hu; positive counts from the zero-truncated count distribution.

    The negative binomial is written out rather than PyMC's HurdleNegativeBinomial, whose
    truncation goes through the NB log-CDF (a scan): the same density, 3.6-7x cheaper per
    log-p + gradient call and 2.6-5x faster to compile (benchmarks/hurdle_likelihood.py, two
    runs); for the Poisson PyMC's own is as fast or faster (the written-out form was 0.7x).
    tests/test_families.py checks both against ``family.logpdf``."""
    if "alpha" not in aux:  # PyMC's own is faster for the Poisson (no scan in its log-CDF)
        return pm.HurdlePoisson("y", psi=1 - aux["hu"], mu=pt.exp(eta), observed=y, dims=dims)
    params = [pt.exp(eta), aux["hu"], aux["alpha"]]

    def logp(value: Any, mu: Any, hu: Any, alpha: Any) -> Any:
        count = pm.logp(pm.NegativeBinomial.dist(mu=mu, alpha=alpha), value)
        log0 = alpha * (pt.log(alpha) - pt.log(alpha + mu))
        return pt.switch(pt.eq(value, 0), pt.log(hu), pt.log1p(-hu) + count - pt.log1mexp(log0))

    def random(mu: Any, hu: Any, alpha: Any, rng: Any = None, size: Any = None) -> Any:
        shape = size if size is not None else np.shape(mu)
        eta_draws = np.log(np.broadcast_to(mu, shape))
        aux_draws = {"hu": np.asarray(hu), "alpha": np.asarray(alpha)}
        return family.simulate(rng, eta_draws, aux_draws).astype("int64")

    return pm.CustomDist("y", *params, logp=logp, random=random, observed=y, dims=dims,
                         dtype="int64")


def _cumulative(family: Family, eta: Any, y: np.ndarray, aux: dict[str, Any],
                trials: np.ndarray | None, dims: str) -> Any:
    """Categories coded 1..K by the data stage; PyMC's ordered likelihoods count from 0."""
    codes = np.asarray(y, dtype="int64") - 1
    if family.link == "logit":
        return pm.OrderedLogistic("y", eta=eta, cutpoints=aux["threshold"], observed=codes,
                                  dims=dims, compute_p=False)
    return pm.OrderedProbit("y", eta=eta, cutpoints=aux["threshold"], sigma=1.0,
                            observed=codes, dims=dims, compute_p=False)


def _gaussian_cells(family: Family, eta: Any, cells: Cells, aux: dict[str, Any]) -> None:
    """Cell means with sd sigma / sqrt(n) plus the within-cell part of the likelihood."""
    sigma = aux["sigma"]
    pm.Normal("y", mu=eta, sigma=sigma / np.sqrt(cells.count), observed=cells.y, dims="obs")
    n_minus_c = float(cells.count.sum() - cells.n_cells)
    pm.Potential("y_within",
                 cells.constant - n_minus_c * pt.log(sigma) - cells.ss_within / (2 * sigma**2))


def _binomial_cells(family: Family, eta: Any, cells: Cells, aux: dict[str, Any]) -> None:
    _binomial(family, eta, cells.y, aux, cells.trials, "obs")
    pm.Potential("y_constant", pt.as_tensor_variable(cells.constant))


def _poisson_cells(family: Family, eta: Any, cells: Cells, aux: dict[str, Any]) -> None:
    """Summed counts with the cell's summed exposure (log link: eta + log exposure)."""
    assert cells.exposure_log is not None
    pm.Poisson("y", mu=pt.exp(eta + cells.exposure_log), observed=cells.y, dims="obs")
    pm.Potential("y_constant", pt.as_tensor_variable(cells.constant))


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
                   trials: np.ndarray | None, dims: str) -> Any:
    """The observed node ``y`` for ``family`` with linear predictor ``eta``."""
    try:
        build = OBSERVED[family.name]
    except KeyError:
        raise InternalError(f"family '{family.name}' has no PyMC likelihood") from None
    return build(family, eta, y, aux, trials, dims)


def add_compressed_likelihood(family: Family, eta: Any, cells: Cells,
                              aux: dict[str, Any]) -> None:
    """The observed node on compressed cells plus the constant that restores full-data log-p."""
    try:
        build = COMPRESSED[family.name]
    except KeyError:
        raise InternalError(f"family '{family.name}' has no compressed likelihood") from None
    build(family, eta, cells, aux)


__all__ = ["COMPRESSED", "OBSERVED", "add_compressed_likelihood", "add_likelihood",
           "inverse_link"]
