"""Ordinal responses: the cumulative (proportional-odds) model of R's ``ordinal::clmm`` and
brms's ``cumulative``.

``P(y <= k) = F(theta_k - eta)`` for ordered thresholds ``theta_1 < ... < theta_{K-1}`` and the
inverse link ``F`` (logistic or standard normal). The linear predictor has no intercept: the
thresholds take its place. The data stage codes the response 1..K in the order of its levels
(an ordered pandas Categorical's categories, or sorted integers); thresholds are named by R's
convention ``1|2``, ``2|3``, ... from the level labels.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from scipy import special

from hiermodel.families.base import Aux, Family, link_scale_variance


def _cdf(link: str, x: np.ndarray) -> np.ndarray:
    return special.expit(x) if link == "logit" else special.ndtr(x)


def _padded(aux: Aux) -> np.ndarray:
    """Thresholds (draws, K - 1) padded to (draws, K + 1) with -inf and +inf."""
    theta = np.atleast_2d(np.asarray(aux["threshold"], dtype=float))
    inf = np.full((theta.shape[0], 1), np.inf)
    return np.concatenate([-inf, theta, inf], axis=1)


class Cumulative(Family):
    name = "cumulative"
    r_name = "cumulative"
    bambi_name = "gaussian"  # the design only: Bambi sees the 1..K codes
    links = ("logit", "probit")
    aux = ("threshold",)
    aliases = ("ordinal", "clmm", "cumulative_logit")
    ordinal = True

    def bambi_family(self) -> tuple[str, str]:
        return "gaussian", "identity"

    def check_response(self, y: np.ndarray, label: str, trials: np.ndarray | None = None) -> None:
        self._reject(y, (y < 1) | (y != np.round(y)), label, "categories coded 1..K",
                     "pass an ordered pandas Categorical or integer ratings")

    def mean(self, eta: np.ndarray, aux: Aux | None = None) -> np.ndarray:
        """The expected category number (1..K)."""
        if aux is None:
            raise ValueError("the mean of a cumulative model needs the thresholds")
        theta = np.atleast_2d(np.asarray(aux["threshold"], dtype=float))
        above = 1 - _cdf(self.link, theta[:, None, :] - np.asarray(eta)[..., None])
        return 1 + above.sum(axis=-1)

    def logpdf(self, y: np.ndarray, eta: np.ndarray, aux: Aux,
               trials: np.ndarray | None = None) -> np.ndarray:
        padded = _padded(aux)
        k = np.asarray(y, dtype=int)
        upper = padded[:, k] - eta
        lower = padded[:, k - 1] - eta
        if self.link == "logit":
            # log(expit(u) - expit(l)) = log(1 - exp(l - u)) + log expit(u) + log expit(-l)
            gap = np.where(np.isinf(lower), -np.inf, lower - upper)
            with np.errstate(divide="ignore"):
                return (np.log(-np.expm1(gap)) - np.logaddexp(0, -upper)
                        - np.logaddexp(0, lower))
        with np.errstate(divide="ignore"):
            # upper tail for large arguments keeps precision
            flip = (lower + upper) > 0
            p = np.where(flip, special.ndtr(-lower) - special.ndtr(-upper),
                         special.ndtr(upper) - special.ndtr(lower))
            return np.log(np.maximum(p, 1e-300))

    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        theta = np.atleast_2d(np.asarray(aux["threshold"], dtype=float))
        cum = _cdf(self.link, theta[:, None, :] - np.asarray(eta)[..., None])
        u = rng.random(np.shape(eta))
        return 1.0 + (u[..., None] > cum).sum(axis=-1)

    def latent_variance(self, aux: Aux, y_mean: float) -> tuple[np.ndarray | float, str]:
        value, text = link_scale_variance(self.link) or (float("nan"), "")
        return value, text + " (latent-variable scale)"


def threshold_names(levels: tuple[str, ...] | list[str]) -> list[str]:
    """R's threshold names for ordered levels: ``1|2``, ``2|3``, ..."""
    return [f"{a}|{b}" for a, b in pairwise(levels)]


__all__ = ["Cumulative", "threshold_names"]
