"""Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman 2018).

For each simulation: draw every parameter from the prior and a data set from the likelihood
(PyMC's prior predictive of hiermodel's own uncompressed graph), fit the simulated data with
hiermodel's default path (``hm.model(...).fit()``: exact compression where it applies, automatic
parametrization and backend), thin the posterior to ``L`` draws and record the rank of the true
value among them (the number of draws below it, 0..L). If the posterior is the exact Bayesian
posterior of the prior and likelihood, every rank is uniform on 0..L.

Uniformity test: the ranks of each parameter are put into ``B`` equal bins (of ``(L + 1) / B``
ranks each) and a chi-square test of equal bin counts gives a p-value; the model passes when no
parameter has ``p < alpha / k`` (Bonferroni over the ``k`` parameters checked; ``alpha = 0.01``
family-wise by default). The priors are fixed numbers (not the data-scaled default template),
because SBC needs one prior that does not depend on the simulated data.

    python benchmarks/sbc.py --model gaussian --sims 100           # one model
    python benchmarks/sbc.py --model all --sims 100 --out results/  # all three, JSON per model

Results measured with this script are recorded in docs/calibration.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------------------------
# rank statistics and the uniformity test (pure NumPy/SciPy: tested on exact posteriors)
# --------------------------------------------------------------------------------------------


def rank_of(true: float, draws: np.ndarray) -> int:
    """The SBC rank: how many of the (thinned) posterior draws are below the true value."""
    return int(np.sum(np.asarray(draws) < true))


def thin(draws: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws evenly spaced over the flattened (chain, draw) sample."""
    flat = np.asarray(draws).reshape(-1)
    if flat.size < n:
        raise ValueError(f"need at least {n} draws to thin, got {flat.size}")
    idx = np.linspace(0, flat.size - 1, n).round().astype(int)
    return flat[idx]


@dataclass
class Uniformity:
    """Chi-square test of uniform SBC ranks, one row per parameter, Bonferroni-corrected."""

    table: pd.DataFrame  # parameter, n, chi2, df, p
    alpha: float
    threshold: float  # alpha / number of parameters

    @property
    def passed(self) -> bool:
        return bool((self.table["p"] >= self.threshold).all())

    @property
    def flagged(self) -> list[str]:
        return list(self.table.loc[self.table["p"] < self.threshold, "parameter"])


def rank_uniformity(ranks: Mapping[str, Sequence[int]], n_draws: int, bins: int = 10,
                    alpha: float = 0.01) -> Uniformity:
    """Chi-square test that each parameter's ranks (0..n_draws) are uniform.

    ``n_draws + 1`` must be a multiple of ``bins`` so every bin covers the same number of
    possible ranks (equal expected counts under uniformity).
    """
    from scipy import stats

    if (n_draws + 1) % bins:
        raise ValueError(f"n_draws + 1 ({n_draws + 1}) must be a multiple of bins ({bins})")
    width = (n_draws + 1) // bins
    rows = []
    for name, r in ranks.items():
        r = np.asarray(r, dtype=int)
        if r.min(initial=0) < 0 or r.max(initial=0) > n_draws:
            raise ValueError(f"{name}: ranks must lie in 0..{n_draws}")
        counts = np.bincount(r // width, minlength=bins)
        expected = r.size / bins
        chi2 = float(((counts - expected) ** 2 / expected).sum())
        rows.append({"parameter": name, "n": int(r.size), "chi2": chi2, "df": bins - 1,
                     "p": float(stats.chi2.sf(chi2, bins - 1)),
                     "counts": counts.tolist()})
    table = pd.DataFrame(rows)
    return Uniformity(table, alpha, alpha / max(1, len(rows)))


# --------------------------------------------------------------------------------------------
# the three models
# --------------------------------------------------------------------------------------------


@dataclass
class Case:
    formula: str
    family: str
    data: Callable[[], pd.DataFrame]
    priors: list[tuple[str, str]]  # (prior, class)
    params: list[str] = field(default_factory=list)  # flattened names "var[i]" or "var"


def _groups(n_groups: int, per_cell: int) -> pd.DataFrame:
    """``n_groups`` groups x a binary predictor x ``per_cell`` rows: 2 * n_groups cells."""
    g = np.repeat([f"g{i}" for i in range(n_groups)], 2 * per_cell)
    x = np.tile(np.repeat([0.0, 1.0], per_cell), n_groups)
    return pd.DataFrame({"g": g, "x": x})


def _gaussian() -> pd.DataFrame:
    return _groups(8, 4).assign(y=0.0)


def _binomial() -> pd.DataFrame:
    d = _groups(8, 3)
    return d.assign(s=1, f=9)  # 10 trials per row (placeholder split, replaced by simulation)


def _negbinomial() -> pd.DataFrame:
    return _groups(8, 4).assign(count=1)


CASES: dict[str, Case] = {
    "gaussian": Case(
        "y ~ x + (1|g)", "gaussian", _gaussian,
        [("normal(0, 1)", "Intercept"), ("normal(0, 1)", "b"), ("exponential(1)", "sd"),
         ("exponential(1)", "sigma")],
        ["Intercept", "b[0]", "sd_g[0]", "sigma", "r_g[0]", "r_g[1]"]),
    "binomial": Case(
        "cbind(s, f) ~ x + (x|g)", "binomial", _binomial,
        [("normal(0, 1)", "Intercept"), ("normal(0, 1)", "b"), ("exponential(2)", "sd"),
         ("lkj(2)", "cor")],
        ["Intercept", "b[0]", "sd_g[0]", "sd_g[1]", "r_g[0]", "r_g[1]"]),
    "negbinomial": Case(
        "count ~ x + (1|g)", "negativebinomial", _negbinomial,
        [("normal(1, 0.5)", "Intercept"), ("normal(0, 0.5)", "b"), ("exponential(2)", "sd"),
         ("gamma(4, 1)", "alpha")],
        ["Intercept", "b[0]", "sd_g[0]", "alpha", "r_g[0]", "r_g[1]"]),
}


def _priors(case: Case) -> list[Any]:
    import hiermodel as hm

    return [hm.set_prior(p, c) for p, c in case.priors]


def _flat(ds: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """``{"b[0]": (chain, draw) array, ...}`` from a posterior/prior Dataset."""
    out = {}
    for name in names:
        var, _, idx = name.partition("[")
        arr = np.asarray(ds[var])
        arr = arr.reshape(arr.shape[0], arr.shape[1], -1)
        out[name] = arr[:, :, int(idx.rstrip("]")) if idx else 0]
    return out


def simulate(case: Case, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """One data set and its true parameters, drawn from hiermodel's own uncompressed graph."""
    import pymc as pm

    import hiermodel as hm

    template = case.data()
    built = hm.model(case.formula, template, family=case.family, priors=_priors(case),
                     compress=False)
    with built.pymc_model:
        prior = pm.sample_prior_predictive(draws=1, random_seed=seed)
    truth = {k: float(v[0, 0]) for k, v in _flat(prior.prior, case.params).items()}
    (obs_name,) = [v.name for v in built.pymc_model.observed_RVs]
    y = np.asarray(prior.prior_predictive[obs_name]).reshape(-1)
    data = template.copy()
    if case.family == "binomial":
        trials = (template["s"] + template["f"]).to_numpy()
        data["s"], data["f"] = y.astype(int), (trials - y).astype(int)
    else:
        data[case.formula.split("~")[0].strip()] = y
    return data, truth


def one(case: Case, seed: int, draws: int, tune: int, chains: int, n_rank: int) -> dict[str, Any]:
    import arviz as az

    import hiermodel as hm

    data, truth = simulate(case, seed)
    built = hm.model(case.formula, data, family=case.family, priors=_priors(case))
    fit = built.fit(draws=draws, tune=tune, chains=chains, seed=seed + 1)
    post = _flat(fit.idata.posterior, case.params)
    ess = {k: float(az.ess(v)) for k, v in post.items()}
    stats = fit.idata.sample_stats
    return {
        "seed": seed,
        "ranks": {k: rank_of(truth[k], thin(v, n_rank)) for k, v in post.items()},
        "truth": truth,
        "min_ess_bulk": min(ess.values()),
        "divergences": int(np.asarray(stats["diverging"]).sum()) if "diverging" in stats else 0,
        "compressed": bool(built.info.compressed),
        "rows": len(data),
        "likelihood_rows": int(built.info.cells.n_cells if built.info.cells else len(data)),
        "backend": fit.sampler.get("backend"),
    }


def run(name: str, sims: int, draws: int, tune: int, chains: int, n_rank: int, bins: int,
        alpha: float, seed: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    case = CASES[name]
    start = time.perf_counter()
    results = []
    for i in range(sims):
        results.append(one(case, seed + 1000 * i, draws, tune, chains, n_rank))
        if (i + 1) % 10 == 0:
            log(f"{name}: {i + 1}/{sims} simulations, {time.perf_counter() - start:.0f} s")
    ranks = {p: [r["ranks"][p] for r in results] for p in case.params}
    test = rank_uniformity(ranks, n_rank, bins=bins, alpha=alpha)
    return {
        "model": name, "formula": case.formula, "family": case.family,
        "priors": case.priors, "sims": sims, "draws": draws, "tune": tune, "chains": chains,
        "n_rank": n_rank, "bins": bins, "alpha": alpha, "threshold": test.threshold,
        "passed": test.passed, "flagged": test.flagged,
        "table": test.table.to_dict(orient="records"),
        "seconds": time.perf_counter() - start,
        "compressed": sorted({r["compressed"] for r in results}),
        "likelihood_rows": sorted({r["likelihood_rows"] for r in results}),
        "rows": results[0]["rows"] if results else 0,
        "min_ess_bulk": float(np.min([r["min_ess_bulk"] for r in results])),
        "median_min_ess_bulk": float(np.median([r["min_ess_bulk"] for r in results])),
        "sims_with_divergences": int(sum(r["divergences"] > 0 for r in results)),
        "simulations": results,
    }


def report(res: dict[str, Any]) -> str:
    lines = [f"{res['model']}: {res['formula']} ({res['family']}), {res['sims']} simulations, "
             f"{res['chains']} x ({res['tune']} + {res['draws']}), ranks among {res['n_rank']} "
             f"thinned draws, {res['bins']} bins; compressed={res['compressed']} "
             f"({res['rows']} rows -> {res['likelihood_rows']} likelihood rows); "
             f"{res['seconds']:.0f} s",
             f"  min bulk ESS over sims {res['min_ess_bulk']:.0f} (median "
             f"{res['median_min_ess_bulk']:.0f}); sims with divergences: "
             f"{res['sims_with_divergences']}",
             f"  {'parameter':<10} {'chi2':>7} {'p':>7}  bin counts"]
    for row in res["table"]:
        lines.append(f"  {row['parameter']:<10} {row['chi2']:7.2f} {row['p']:7.3f}  "
                     f"{' '.join(str(c) for c in row['counts'])}")
    verdict = "PASS" if res["passed"] else f"FAIL ({', '.join(res['flagged'])})"
    lines.append(f"  {verdict}: every p >= alpha/k = {res['alpha']}/{len(res['table'])} "
                 f"= {res['threshold']:.4f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", choices=[*CASES, "all"], default="all")
    p.add_argument("--sims", type=int, default=100)
    p.add_argument("--draws", type=int, default=200, help="posterior draws per chain")
    p.add_argument("--tune", type=int, default=300)
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--n-rank", type=int, default=99,
                   help="thinned draws the rank is taken among (ranks 0..n_rank)")
    p.add_argument("--bins", type=int, default=10)
    p.add_argument("--alpha", type=float, default=0.01, help="family-wise level (Bonferroni)")
    p.add_argument("--seed", type=int, default=20181)
    p.add_argument("--out", default="results", help="folder for sbc_<model>.json")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ok = True
    for name in CASES if a.model == "all" else [a.model]:
        res = run(name, a.sims, a.draws, a.tune, a.chains, a.n_rank, a.bins, a.alpha, a.seed,
                  log=lambda s: print(s, file=sys.stderr, flush=True))
        (out / f"sbc_{name}.json").write_text(json.dumps(res, indent=1))
        print(report(res), flush=True)
        ok = ok and res["passed"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
