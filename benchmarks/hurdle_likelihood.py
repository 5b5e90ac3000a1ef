"""Hurdle likelihoods: hiermodel's written-out density vs PyMC's Hurdle* distributions.

PyMC's ``HurdleNegativeBinomial`` truncates the count distribution through its log-CDF (a
regularized incomplete beta function evaluated by a scan for the negative binomial);
hiermodel writes the same density out (``backend/likelihoods.py``: log(1 - hu) + NB log-pmf -
log(1 - P(0))). Both graphs are built in this process on the same data and parameters; the
script checks that their log-densities agree and prints the cost of one log-p + gradient
evaluation (what NUTS pays per leapfrog step) side by side, as a ratio.

    python benchmarks/hurdle_likelihood.py [--rows 2000] [--repeats 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pymc as pm

from hiermodel.backend.likelihoods import OBSERVED
from hiermodel.families import get_family


def _model(kind: str, y: np.ndarray, x: np.ndarray, family: str) -> pm.Model:
    fam = get_family(family)
    with pm.Model() as m:
        a = pm.Normal("a", 0.0, 2.0)
        b = pm.Normal("b", 0.0, 2.0)
        hu = pm.Beta("hu", 1.0, 1.0)
        aux = {"hu": hu}
        if fam.name.endswith("negativebinomial"):
            aux["alpha"] = pm.HalfCauchy("alpha", 1.0)
        eta = a + b * x
        if kind == "hiermodel":
            OBSERVED[fam.name](fam, eta, y, aux, None, None)
        elif "alpha" in aux:
            pm.HurdleNegativeBinomial("y", psi=1 - hu, mu=pm.math.exp(eta), alpha=aux["alpha"],
                                      observed=y)
        else:
            pm.HurdlePoisson("y", psi=1 - hu, mu=pm.math.exp(eta), observed=y)
    return m


def _time(m: pm.Model, repeats: int) -> tuple[float, float, float]:
    """(logp at a fixed point, compile seconds, seconds per logp + gradient call)."""
    t0 = time.perf_counter()
    logp_fn, dlogp_fn = m.compile_logp(), m.compile_dlogp()
    compile_s = time.perf_counter() - t0
    point = {k: v + 0.1 for k, v in m.initial_point().items()}
    logp = float(logp_fn(point))
    dlogp_fn(point)
    t1 = time.perf_counter()
    for _ in range(repeats):
        logp_fn(point)
        dlogp_fn(point)
    return logp, compile_s, (time.perf_counter() - t1) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    x = rng.normal(size=args.rows)
    print(f"{'family':26} {'system':10} {'compile s':>10} {'us/call':>10}  ratio")
    for family in ("hurdle_negativebinomial", "hurdle_poisson"):
        fam = get_family(family)
        aux = {"hu": np.array([[0.3]]), "alpha": np.array([[2.0]])}
        y = fam.simulate(rng, (0.5 + 0.4 * x)[None, :], aux)[0].astype(int)
        results = {kind: _time(_model(kind, y, x, family), args.repeats)
                   for kind in ("pymc", "hiermodel")}
        (lp_p, c_p, t_p), (lp_h, c_h, t_h) = results["pymc"], results["hiermodel"]
        assert abs(lp_p - lp_h) < 1e-6 * abs(lp_p), (lp_p, lp_h)  # the same density
        print(f"{family:26} {'pymc':10} {c_p:10.2f} {t_p * 1e6:10.1f}")
        print(f"{family:26} {'hiermodel':10} {c_h:10.2f} {t_h * 1e6:10.1f}  "
              f"{t_p / t_h:.1f}x faster per call")


if __name__ == "__main__":
    main()
