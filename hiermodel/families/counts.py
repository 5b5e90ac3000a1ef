"""Counts with extra zeros: zero-inflated and hurdle Poisson and negative binomial.

* Zero-inflated (glmmTMB ``ziformula``, brms ``zero_inflated_*``): with probability ``zi`` the
  count is a structural zero, otherwise it comes from the count distribution (which can also be
  zero). ``E[y] = (1 - zi) mu``.
* Hurdle (brms ``hurdle_*``, glmmTMB ``truncated_*`` + zero model): with probability ``hu`` the
  count is zero; otherwise it comes from the count distribution truncated at zero.
  ``E[y] = (1 - hu) mu / (1 - P(0 | mu))``.

``zi`` and ``hu`` are probabilities (logit scale when they get their own formula); ``mu`` is the
count distribution's mean on the log link, ``alpha`` the NB2 shape (glmmTMB's theta, brms's
shape): variance ``mu + mu^2 / alpha``.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy import special

from hiermodel.families.base import Aux, Family
from hiermodel.families.discrete import Poisson


def poisson_log0(mu: np.ndarray) -> np.ndarray:
    """log P(y = 0) under Poisson(mu)."""
    return -mu


def nb_log0(mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """log P(y = 0) under NB2(mu, alpha): alpha log(alpha / (alpha + mu))."""
    return alpha * (np.log(alpha) - np.log(alpha + mu))


def poisson_logpmf(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    return special.xlogy(y, mu) - mu - special.gammaln(y + 1)


def nb_logpmf(y: np.ndarray, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return (special.gammaln(y + alpha) - special.gammaln(alpha) - special.gammaln(y + 1)
            + alpha * (np.log(alpha) - np.log(alpha + mu)) + special.xlogy(y, mu)
            - special.xlogy(y, alpha + mu))


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x < 0, accurate at both ends."""
    x = np.minimum(x, -1e-300)
    return np.where(x > -np.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


class _ExtraZeros(Family):
    """Shared code: a count part (Poisson or NB2 on the log link) and a zero probability."""

    links: ClassVar[tuple[str, ...]] = ("log",)
    aux: ClassVar[tuple[str, ...]] = ()
    nb: ClassVar[bool] = False
    check_response = Poisson.check_response  # non-negative integer counts

    def _count_logpmf(self, y: np.ndarray, mu: np.ndarray, aux: Aux) -> np.ndarray:
        return nb_logpmf(y, mu, aux["alpha"]) if self.nb else poisson_logpmf(y, mu)

    def _count_log0(self, mu: np.ndarray, aux: Aux) -> np.ndarray:
        return nb_log0(mu, aux["alpha"]) if self.nb else poisson_log0(mu)

    def _count_draw(self, rng: np.random.Generator, mu: np.ndarray, aux: Aux) -> np.ndarray:
        if self.nb:
            alpha = np.broadcast_to(aux["alpha"], mu.shape)
            mu = rng.gamma(alpha, mu / alpha)
        return rng.poisson(mu).astype(float)


class ZeroInflatedPoisson(_ExtraZeros):
    name = "zero_inflated_poisson"
    r_name = "zero_inflated_poisson"
    bambi_name = "poisson"
    aux: ClassVar[tuple[str, ...]] = ("zi",)
    aliases: ClassVar[tuple[str, ...]] = ("zip", "zeroinflatedpoisson")

    def mean(self, eta: np.ndarray, aux: Aux | None = None) -> np.ndarray:
        mu = np.exp(eta)
        return mu if aux is None else (1 - aux["zi"]) * mu

    def logpdf(self, y: np.ndarray, eta: np.ndarray, aux: Aux,
               trials: np.ndarray | None = None) -> np.ndarray:
        mu = np.exp(eta)
        zi = aux["zi"]
        count = np.log1p(-zi) + self._count_logpmf(y, mu, aux)
        at_zero = np.logaddexp(np.log(zi), count)
        return np.where(y == 0, at_zero, count)

    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        counts = self._count_draw(rng, np.exp(eta), aux)
        structural = rng.random(eta.shape) < np.broadcast_to(aux["zi"], eta.shape)
        return np.where(structural, 0.0, counts)


class ZeroInflatedNegativeBinomial(ZeroInflatedPoisson):
    name = "zero_inflated_negativebinomial"
    r_name = "zero_inflated_negbinomial"
    bambi_name = "negativebinomial"
    aux: ClassVar[tuple[str, ...]] = ("alpha", "zi")
    aliases: ClassVar[tuple[str, ...]] = ("zinb", "zero_inflated_negbinomial",
                                          "zero_inflated_negative_binomial")
    nb = True


class HurdlePoisson(_ExtraZeros):
    name = "hurdle_poisson"
    r_name = "hurdle_poisson"
    bambi_name = "poisson"
    aux: ClassVar[tuple[str, ...]] = ("hu",)
    aliases: ClassVar[tuple[str, ...]] = ("hurdlepoisson",)

    def mean(self, eta: np.ndarray, aux: Aux | None = None) -> np.ndarray:
        mu = np.exp(eta)
        if aux is None:
            return mu
        positive = np.exp(-_log1mexp(self._count_log0(mu, aux)))  # 1 / (1 - P(0))
        return (1 - aux["hu"]) * mu * positive

    def logpdf(self, y: np.ndarray, eta: np.ndarray, aux: Aux,
               trials: np.ndarray | None = None) -> np.ndarray:
        mu = np.exp(eta)
        hu = aux["hu"]
        positive = (np.log1p(-hu) + self._count_logpmf(y, mu, aux)
                    - _log1mexp(self._count_log0(mu, aux)))
        return np.where(y == 0, np.log(hu) + 0 * mu, positive)

    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        mu = np.exp(eta)
        out = self._count_draw(rng, mu, aux)
        todo = out == 0  # zero-truncated draws by rejection (few rounds unless mu is tiny)
        for _ in range(200):
            if not todo.any():
                break
            redraw = self._count_draw(rng, mu, aux)
            out = np.where(todo, redraw, out)
            todo = out == 0
        if todo.any():  # mu so small that P(y = 1 | y > 0) ~ 1
            out[todo] = 1.0
        zero = rng.random(eta.shape) < np.broadcast_to(aux["hu"], eta.shape)
        return np.where(zero, 0.0, out)


class HurdleNegativeBinomial(HurdlePoisson):
    name = "hurdle_negativebinomial"
    r_name = "hurdle_negbinomial"
    bambi_name = "negativebinomial"
    aux: ClassVar[tuple[str, ...]] = ("alpha", "hu")
    aliases: ClassVar[tuple[str, ...]] = ("hurdle_negbinomial", "hurdle_negative_binomial")
    nb = True


__all__ = ["HurdleNegativeBinomial", "HurdlePoisson", "ZeroInflatedNegativeBinomial",
           "ZeroInflatedPoisson", "nb_log0", "nb_logpmf", "poisson_log0", "poisson_logpmf"]
