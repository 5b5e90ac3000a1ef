"""Link functions on NumPy arrays (the PyMC twins live in ``hiermodel.backend.likelihoods``)."""

from __future__ import annotations

import numpy as np
from scipy import special

from hiermodel.errors import InternalError

LINKS = ("identity", "log", "inverse", "logit", "probit", "cloglog")


def inverse_link(link: str, eta: np.ndarray) -> np.ndarray:
    """The mean for linear predictor ``eta`` under ``link``."""
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
    raise InternalError(f"link '{link}' has no inverse")


__all__ = ["LINKS", "inverse_link"]
