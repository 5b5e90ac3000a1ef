"""Centered vs non-centered group effects: where each wins, measured, for the auto rule.

    python benchmarks/geometry.py [--design one|crossed|both] [--reps 2] [--quick]

hiermodel's ``parametrization="auto"`` samples a gaussian factor's effects centered when the
data/prior precision ratio m * tau^2 / sigma^2 of a level (m rows, group SD tau, residual SD
sigma) is large, non-centered when it is small. This script fits simulated data across a grid
of true ratios, once forced centered and once forced non-centered, and prints the efficiency
of each: the minimum bulk ESS per 1000 leapfrog steps of the draw phase, over the population
parameters, the group SD and sigma ("pop"), and over the group effects ("effects"). Steps are
what a gradient costs; ESS per step does not depend on the machine's load, so the table is
reproducible where seconds are not. Each cell is the median over ``--reps`` data sets (data
and sampler seeds 1..reps).

Designs:

* ``one``: ``y ~ x + (1|g)``, 50 levels, m in {5, 20, 100} rows per level, sigma = 1.
* ``crossed``: ``y ~ x + (1|a) + (1|b)``, 4,000 rows, each pairing a random level of ``a``
  (400 levels, SD 0.6, always non-centered) with a random level of ``b`` (100 levels, 40 rows
  each, the factor whose geometry varies). The "rule's ratio" column is the ratio the build
  stage estimated for ``b`` (printed by ``hm.model(...).info.parametrization_reason``); it
  should track the true conditional ratio m * tau_b^2 / sigma^2.

The output ends with the crossover per design: the smallest true ratio from which centered is
at least as efficient as non-centered on the population parameters in every larger ratio of
the grid.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0)
QUICK_RATIOS = (0.5, 8.0)


def simulate_one(G: int, m: int, ratio: float, seed: int) -> pd.DataFrame:
    """y = 1 + 0.5 x + u_g + e, u ~ N(0, tau^2) with m tau^2 / sigma^2 = ratio, sigma = 1."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(G), m)
    x = rng.normal(size=G * m)
    tau = np.sqrt(ratio / m)
    y = 1.0 + 0.5 * x + rng.normal(0, tau, G)[g] + rng.normal(0, 1.0, G * m)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:03d}" for i in g]})


def simulate_crossed(ratio: float, seed: int, n: int = 4000, n_a: int = 400,
                     n_b: int = 100) -> pd.DataFrame:
    """Crossed a x b; b has n / n_b rows per level and true ratio (n / n_b) tau_b^2 = ratio."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, n_a, n)
    b = np.tile(np.arange(n_b), n // n_b)
    rng.shuffle(b)
    x = rng.normal(size=n)
    tau_b = np.sqrt(ratio / (n / n_b))
    y = (1.0 + 0.5 * x + rng.normal(0, 0.6, n_a)[a] + rng.normal(0, tau_b, n_b)[b]
         + rng.normal(0, 1.0, n))
    return pd.DataFrame({"y": y, "x": x, "a": [f"a{i:03d}" for i in a],
                         "b": [f"b{i:03d}" for i in b]})


def efficiency(fit: Any, group: str) -> dict[str, float]:
    """min bulk ESS per 1000 draw-phase leapfrog steps (pop / effects), steps/draw, divergences."""
    from hiermodel.posterior.convergence import rhat_ess

    post = fit.idata.posterior
    pop = [np.asarray(post["Intercept"].values)[..., None], np.asarray(post["b"].values),
           np.asarray(post[f"sd_{group}"].values).reshape(*post["b"].shape[:2], -1),
           np.asarray(post["sigma"].values)[..., None]]
    r = np.asarray(post[f"r_{group}"].values)
    effects = r.reshape(r.shape[0], r.shape[1], -1)
    steps = float(np.asarray(fit.idata.sample_stats["n_steps"].values).sum())
    _, ess_pop, _ = rhat_ess(np.concatenate(pop, axis=-1))
    _, ess_eff, _ = rhat_ess(effects)
    return {"pop": 1000 * float(ess_pop.min()) / steps,
            "effects": 1000 * float(ess_eff.min()) / steps,
            "steps": steps / (r.shape[0] * r.shape[1]),
            "div": float(np.asarray(fit.idata.sample_stats["diverging"].values).sum()),
            "seconds": fit.sampler["seconds"] - fit.sampler.get("compile_seconds", 0.0)}


def rule_ratio(model: Any, group: str) -> tuple[str, float]:
    """The auto rule's choice and its estimated data/prior precision ratio for ``group``."""
    reason = model.info.parametrization_reason[group]
    m = re.search(r"precision ≈ ([0-9.]+)", reason)
    return model.info.parametrization[group], float(m.group(1)) if m else float("nan")


def run_cell(design: str, m: int, ratio: float, reps: int, draws: int, tune: int,
             target_accept: float | str = "auto") -> dict[str, Any]:
    import hiermodel as hm

    group = "g" if design == "one" else "b"
    formula = "y ~ x + (1|g)" if design == "one" else "y ~ x + (1|a) + (1|b)"
    res: dict[str, list[dict[str, float]]] = {"centered": [], "noncentered": []}
    rule: list[tuple[str, float]] = []
    for rep in range(1, reps + 1):
        df = simulate_one(50, m, ratio, rep) if design == "one" else simulate_crossed(ratio, rep)
        auto = {"a": "noncentered", "b": "auto"} if design == "crossed" else "auto"
        rule.append(rule_ratio(hm.model(formula, df, parametrization=auto), group))
        for par in res:
            p = {"a": "noncentered", "b": par} if design == "crossed" else par
            fit = hm.fit(formula, df, parametrization=p, backend="nutpie", draws=draws,
                         tune=tune, chains=4, seed=rep, progressbar=False,
                         target_accept=target_accept)
            res[par].append(efficiency(fit, group))
    out: dict[str, Any] = {"design": design, "m": m, "ratio": ratio,
                           "rule_ratio": float(np.median([r for _, r in rule])),
                           "auto": "/".join(sorted({c for c, _ in rule}))}
    for par, rows in res.items():
        for key in ("pop", "effects", "steps", "div", "seconds"):
            vals = [r[key] for r in rows]
            out[f"{par}_{key}"] = float(np.sum(vals) if key == "div" else np.median(vals))
    return out


def crossover(rows: list[dict[str, Any]]) -> float:
    """Smallest grid ratio from which centered >= non-centered (pop) at every larger ratio."""
    ok = [r["centered_pop"] >= r["noncentered_pop"] for r in rows]
    for i in range(len(rows)):
        if all(ok[i:]):
            return float(rows[i]["ratio"])
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--design", choices=("one", "crossed", "both"), default="both")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--target-accept", default="auto",
                   help="NUTS target_accept of every fit (default: hiermodel's auto)")
    p.add_argument("--quick", action="store_true", help="2 ratios, m = 20, 1 rep, 200 + 200")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore")
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    target = args.target_accept if args.target_accept == "auto" else float(args.target_accept)
    ratios = QUICK_RATIOS if args.quick else RATIOS
    reps, draws, tune = (1, 200, 200) if args.quick else (args.reps, args.draws, args.tune)
    cells: list[tuple[str, int]] = []
    if args.design in ("one", "both"):
        cells += [("one", m) for m in ((20,) if args.quick else (5, 20, 100))]
    if args.design in ("crossed", "both"):
        cells.append(("crossed", 40))
    start = time.perf_counter()
    header = ("ratio  rule's  auto         centered: pop  effects steps div | "
              "noncentered: pop  effects steps div | winner (pop)")
    for design, m in cells:
        print(f"\n{design}: m = {m} rows/level, {reps} rep(s), 4 x ({tune} + {draws}), "
              f"target_accept {target}; ESS per 1000 leapfrog steps")
        print(header)
        rows = []
        for ratio in ratios:
            r = run_cell(design, m, ratio, reps, draws, tune, target)
            rows.append(r)
            win = "centered" if r["centered_pop"] >= r["noncentered_pop"] else "noncentered"
            print(f"{ratio:5.2f} {r['rule_ratio']:7.2f}  {r['auto']:12s} "
                  f"{r['centered_pop']:13.1f} {r['centered_effects']:8.1f} "
                  f"{r['centered_steps']:5.1f} {r['centered_div']:3.0f} | "
                  f"{r['noncentered_pop']:16.1f} {r['noncentered_effects']:8.1f} "
                  f"{r['noncentered_steps']:5.1f} {r['noncentered_div']:3.0f} | {win}")
        print(f"crossover ({design}, m = {m}): centered wins from true ratio "
              f"{crossover(rows):g} on")
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
