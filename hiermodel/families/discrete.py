"""Families for discrete responses: binomial, bernoulli, poisson, negative binomial."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from scipy import special, stats

from hiermodel.families.base import Aux, Family, link_scale_variance
from hiermodel.families.cells import Cells


def log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return special.gammaln(n + 1) - special.gammaln(k + 1) - special.gammaln(n - k + 1)


class Binomial(Family):
    """Successes out of ``trials`` (cbind(successes, failures)); 0/1 rows without trials."""

    name = "binomial"
    r_name = "binomial"
    bambi_name = "binomial"
    links = ("logit", "probit", "cloglog")
    compress_links = links

    def check_response(self, y: np.ndarray, label: str, trials: np.ndarray | None = None) -> None:
        if trials is None:
            self._reject(y, (y != 0) & (y != 1), label,
                         "a 0/1 (or two-level) response or cbind(successes, failures)",
                         "write the response as cbind(successes, failures)")
            return
        self._reject(y, (y < 0) | (y != np.round(y)), label, "non-negative integer successes",
                     "check the first argument of cbind()")
        self._reject(y, np.asarray(trials) < y, label, "successes ≤ successes + failures",
                     "failures must be non-negative")

    def logpdf(self, y: np.ndarray, eta: np.ndarray, aux: Aux,
               trials: np.ndarray | None = None) -> np.ndarray:
        n = np.ones_like(y, dtype=float) if trials is None else np.asarray(trials, dtype=float)
        if self.link == "logit":  # stable in eta
            return log_choose(n, y) + y * eta - n * np.logaddexp(0, eta)
        return stats.binom.logpmf(y, n, np.clip(self.mean(eta), 1e-300, 1 - 1e-16))

    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        n = np.ones(1) if trials is None else np.asarray(trials)
        return rng.binomial(n.astype(int), self.mean(eta)).astype(float)

    def cell_statistics(self, rows: np.ndarray, inverse: np.ndarray, y: np.ndarray,
                        trials: np.ndarray | None, offset: np.ndarray | None) -> Cells:
        """Successes and trials per cell; the constant is the difference of the binomial
        coefficients."""
        n_cells = rows.size
        count = np.bincount(inverse, minlength=n_cells).astype(float)
        t = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
        sums = np.bincount(inverse, weights=y, minlength=n_cells)
        cell_trials = np.bincount(inverse, weights=t, minlength=n_cells)
        constant = float(log_choose(t, y).sum()) - float(log_choose(cell_trials, sums).sum())
        return Cells(rows, inverse, count, sums, cell_trials, None, 0.0, constant)

    def latent_variance(self, aux: Aux, y_mean: float) -> tuple[np.ndarray | float, str]:
        value, text = link_scale_variance(self.link) or (float("nan"), "")
        return value, text + " (latent-variable scale)"


class Bernoulli(Binomial):
    name = "bernoulli"
    r_name = "bernoulli"
    bambi_name = "bernoulli"

    def check_response(self, y: np.ndarray, label: str, trials: np.ndarray | None = None) -> None:
        self._reject(y, (y != 0) & (y != 1), label, "a 0/1 (or two-level) response",
                     "use 'binomial' with cbind(successes, failures) for counts")

    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        return rng.binomial(1, self.mean(eta)).astype(float)


class Poisson(Family):
    name = "poisson"
    r_name = "poisson"
    bambi_name = "poisson"
    links = ("log", "identity")
    compress_links: ClassVar[tuple[str, ...]] = ("log",)
    offset_as_exposure = True

    def check_response(self, y: np.ndarray, label: str, trials: np.ndarray | None = None) -> None:
        self._reject(y, (y < 0) | (y != np.round(y)), label, "non-negative integer counts",
                     "use family 'gaussian' (or 'gamma') for continuous responses")

    def logpdf(self, y: np.ndarray, eta: np.ndarray, aux: Aux,
               trials: np.ndarray | None = None) -> np.ndarray:
        return stats.poisson.logpmf(y, self.mean(eta))

    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        return rng.poisson(self.mean(eta)).astype(float)

    def cell_statistics(self, rows: np.ndarray, inverse: np.ndarray, y: np.ndarray,
                        trials: np.ndarray | None, offset: np.ndarray | None) -> Cells:
        """Summed counts with summed exposure exp(offset) per cell (the offset is not part of
        the cell key)."""
        n_cells = rows.size
        count = np.bincount(inverse, minlength=n_cells).astype(float)
        sums = np.bincount(inverse, weights=y, minlength=n_cells)
        o = np.zeros_like(y) if offset is None else np.asarray(offset, dtype=float)
        log_t = np.log(np.bincount(inverse, weights=np.exp(o), minlength=n_cells))
        constant = float((y * o).sum() - special.gammaln(y + 1).sum() - (sums * log_t).sum()
                         + special.gammaln(sums + 1).sum())
        return Cells(rows, inverse, count, sums, None, log_t, 0.0, constant)

    def latent_variance(self, aux: Aux, y_mean: float) -> tuple[np.ndarray | float, str]:
        if self.link != "log":
            return super().latent_variance(aux, y_mean)
        lam = max(y_mean, 1e-8)
        return math.log1p(1 / lam), "log(1 + 1/mean(y)) (lognormal approximation)"


class NegativeBinomial(Poisson):
    """NB2: mean mu, variance mu + mu^2 / alpha."""

    name = "negativebinomial"
    r_name = "negbinomial"
    bambi_name = "negativebinomial"
    aux = ("alpha",)
    aliases = ("negative_binomial", "negbinomial", "negbin")
    compress_links = ()
    offset_as_exposure = False

    def logpdf(self, y: np.ndarray, eta: np.ndarray, aux: Aux,
               trials: np.ndarray | None = None) -> np.ndarray:
        alpha = aux["alpha"]
        return stats.nbinom.logpmf(y, alpha, alpha / (self.mean(eta) + alpha))

    def simulate(self, rng: np.random.Generator, eta: np.ndarray, aux: Aux,
                 trials: np.ndarray | None = None) -> np.ndarray:
        alpha = aux["alpha"]
        return rng.poisson(rng.gamma(alpha, self.mean(eta) / alpha)).astype(float)

    def latent_variance(self, aux: Aux, y_mean: float) -> tuple[np.ndarray | float, str]:
        if self.link != "log":
            return Family.latent_variance(self, aux, y_mean)
        lam = max(y_mean, 1e-8)
        alpha = np.ravel(aux["alpha"])
        return np.log1p(1 / lam + 1 / alpha), "log(1 + 1/mean(y) + 1/alpha) (approximate)"


__all__ = ["Bernoulli", "Binomial", "NegativeBinomial", "Poisson", "log_choose"]
