"""hiermodel's posterior equals the exact one: a gaussian varying-intercept model whose posterior
means are computed here by quadrature, against a seeded MCMC fit.

y_ij = mu + u_j + e_ij with u_j ~ N(0, tau^2), e_ij ~ N(0, sigma^2), priors mu ~ N(0, 5),
tau ~ Exponential(1), sigma ~ Exponential(1). Given (tau, sigma) the group effects integrate
out in closed form (each group is multivariate normal with compound-symmetric covariance) and
mu is conjugate normal, so E[mu], E[tau], E[sigma] and E[u_j] are 2-D integrals over
(tau, sigma), evaluated on a fine grid (error < 1e-4, far below the Monte Carlo error).

Every posterior mean must lie within the Bonferroni bound of tests/mcse.py for the 3 + J
quantities (J = 5 groups: 8 quantities, 4.22 MCSEs): for a correct sampler a false failure has
probability < 1/1000, and the seed is fixed (PyMC backend, reproducible draws), so a given
checkout always gives the same verdict.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from tests.mcse import z_exact, z_limit

pytestmark = pytest.mark.fit

SIZES = [6, 8, 10, 12, 4]
MU_SD = 5.0  # prior scale of mu; tau and sigma: Exponential(rate 1)


def make_data() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    u = rng.normal(0, 0.8, len(SIZES))
    rows = [pd.DataFrame({"y": 1.5 + u[j] + rng.normal(0, 0.6, n), "g": f"g{j}"})
            for j, n in enumerate(SIZES)]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return make_data()


def exact_means(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Posterior means of mu, tau, sigma and u_j by quadrature over (tau, sigma)."""
    groups = df.groupby("g", sort=True)["y"]
    n = groups.size().to_numpy(dtype=float)
    ybar = groups.mean().to_numpy()
    ss = groups.apply(lambda v: float(((v - v.mean()) ** 2).sum())).to_numpy()
    tau = np.linspace(1e-4, 8.0, 800)[:, None, None]
    sigma = np.linspace(0.02, 5.0, 600)[None, :, None]
    s2, t2 = sigma ** 2, tau ** 2
    v = s2 + n * t2  # Var(ybar_j | mu) = v / n_j
    # y_j | mu ~ N(mu 1, s2 I + t2 11'): log-likelihood up to constants, with mu kept apart
    base = -0.5 * ((n - 1) * np.log(s2) + np.log(v) + ss / s2)
    w = n / v  # precision of ybar_j about mu
    prec = 1 / MU_SD ** 2 + w.sum(-1)
    mean_mu = (w * ybar).sum(-1) / prec  # E[mu | tau, sigma, y]
    # integrate mu out: N(0, MU_SD^2) prior times prod_j N(ybar_j; mu, 1 / w_j)
    log_mu = (-0.5 * (w * ybar ** 2).sum(-1) + 0.5 * prec * mean_mu ** 2
              - 0.5 * np.log(prec))
    logp = base.sum(-1) + log_mu - tau[..., 0] - sigma[..., 0]  # Exponential(1) priors
    p = np.exp(logp - logp.max())
    p /= p.sum()
    shrink = n * t2 / v  # E[u_j | mu, tau, sigma, y] = shrink_j (ybar_j - mu)
    u = (p[..., None] * shrink * (ybar - mean_mu[..., None])).sum((0, 1))
    return {"Intercept": np.array((p * mean_mu).sum()),
            "sd_g": np.array((p * tau[..., 0]).sum()),
            "sigma": np.array((p * sigma[..., 0]).sum()), "r_g": u}


def test_varying_intercept_posterior_means_are_exact(data: pd.DataFrame) -> None:
    priors = [hm.set_prior(f"normal(0, {MU_SD})", "Intercept"),
              hm.set_prior("exponential(1)", "sd"), hm.set_prior("exponential(1)", "sigma")]
    fit = hm.fit("y ~ 1 + (1 | g)", data, priors=priors, parametrization="noncentered",
                 draws=1000, tune=1000, chains=2, seed=5, backend="pymc", target_accept=0.95)
    assert fit.diagnostics()["divergences"] == 0
    exact = exact_means(data)
    z = {name: z_exact(fit.idata.posterior[name].values, value) for name, value in exact.items()}
    k = sum(v.size for v in z.values())
    assert k == 3 + len(SIZES)
    assert all(np.all(v < z_limit(k)) for v in z.values()), z
