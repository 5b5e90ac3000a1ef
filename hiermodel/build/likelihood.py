"""Family likelihoods on the linear predictor, full-data or on compressed cells."""

from __future__ import annotations

from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from hiermodel.errors import BuildError
from hiermodel.families import Family


def inverse_link(link: str, eta: Any) -> Any:
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
    raise BuildError(f"link '{link}' is not implemented")


def inverse_link_np(link: str, eta: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`inverse_link` for predictions on posterior draws."""
    from scipy import special

    if link == "identity":
        return eta
    if link == "log":
        return np.exp(eta)
    if link == "inverse":
        return 1.0 / eta
    if link == "logit":
        return special.expit(eta)
    if link == "probit":
        return special.ndtr(eta)
    if link == "cloglog":
        return -np.expm1(-np.exp(eta))
    raise BuildError(f"link '{link}' is not implemented")


def add_likelihood(
    family: Family,
    eta: Any,
    y: np.ndarray,
    aux: dict[str, Any],
    trials: np.ndarray | None,
    dims: str,
) -> Any:
    """The observed node ``y`` for ``family`` with linear predictor ``eta``."""
    name = family.name
    if name in ("bernoulli", "binomial") and family.link == "logit":
        if trials is None:
            return pm.Bernoulli("y", logit_p=eta, observed=y, dims=dims)
        return pm.Binomial("y", n=trials, logit_p=eta, observed=y, dims=dims)
    mu = inverse_link(family.link, eta)
    if name == "gaussian":
        return pm.Normal("y", mu=mu, sigma=aux["sigma"], observed=y, dims=dims)
    if name == "t":
        return pm.StudentT("y", nu=aux["nu"], mu=mu, sigma=aux["sigma"], observed=y, dims=dims)
    if name == "bernoulli" or (name == "binomial" and trials is None):
        return pm.Bernoulli("y", p=mu, observed=y, dims=dims)
    if name == "binomial":
        return pm.Binomial("y", n=trials, p=mu, observed=y, dims=dims)
    if name == "poisson":
        return pm.Poisson("y", mu=mu, observed=y, dims=dims)
    if name == "negativebinomial":
        return pm.NegativeBinomial("y", mu=mu, alpha=aux["alpha"], observed=y, dims=dims)
    if name == "gamma":
        return pm.Gamma("y", alpha=aux["alpha"], beta=aux["alpha"] / mu, observed=y, dims=dims)
    if name == "beta":
        return pm.Beta(
            "y", alpha=mu * aux["kappa"], beta=(1 - mu) * aux["kappa"], observed=y, dims=dims
        )
    raise BuildError(f"family '{name}' has no likelihood")


__all__ = ["add_likelihood", "inverse_link", "inverse_link_np"]
