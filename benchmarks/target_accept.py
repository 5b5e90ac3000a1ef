"""target_accept 0.8 vs 0.9 on the models users fit: divergences, gate, ESS per step and per second.

    python benchmarks/target_accept.py [--targets 0.8 0.9] [--seeds 3] [--models NAME ...]

hiermodel's default NUTS target acceptance rate is a trade: a higher target takes smaller
steps (more gradient evaluations per draw) and diverges less. Stan, brms, PyMC and nutpie
default to 0.8. This script fits each model of a fixed suite (the reference datasets with
published R fits, the talk's model) with 4 chains x (1000 + 1000) at each target and each
sampler seed, with everything else at hiermodel's defaults, and prints per model and target:

* divergences, summed over the seeds, and how many of the seeds' fits passed the convergence
  gate (``fit.diagnostics()["ok"]``: R-hat, bulk and tail ESS, divergences, tree depth, E-BFMI);
* mean leapfrog steps per draw;
* min bulk ESS (the gate's: over every reported parameter) per 1000 leapfrog steps of the draw
  phase, median over seeds -- independent of the machine's load;
* min bulk ESS per second of sampling (compile excluded), median over seeds -- load-dependent;
* the ratio of the last two between the targets (first target / second target).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

OWLS = "SiblingNegotiation ~ FoodTreatment + SexParent + offset(log(BroodSize)) + (1|Nest)"


def funnel() -> pd.DataFrame:
    """Eight schools, two noisy rows each, almost no between-school variation (the data of
    tests/test_gate_fits.py): Neal's funnel if sampled centered; auto samples it non-centered."""
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(8), 2)
    y = rng.normal(0, 0.3, 8)[g] + rng.normal(0, 5, g.size)
    return pd.DataFrame({"y": y, "school": [f"s{i}" for i in g]})


def _models() -> dict[str, tuple[str, Callable[[], pd.DataFrame], dict[str, Any]]]:
    import hiermodel as hm

    return {
        "sleepstudy (Days|Subject)": ("Reaction ~ Days + (Days|Subject)",
                                      hm.datasets.sleepstudy, {}),
        "sleepstudy (1|Subject)": ("Reaction ~ Days + (1|Subject)", hm.datasets.sleepstudy, {}),
        "radon (1|county)": ("log_radon ~ floor + (1|county)", hm.datasets.radon, {}),
        "radon (floor|county)": ("log_radon ~ floor + log_uranium + (floor|county)",
                                 hm.datasets.radon, {}),
        "radon sigma ~ floor": ("log_radon ~ floor + (1|county)", hm.datasets.radon,
                                {"sigma": "~ floor"}),
        "owls negbin": (OWLS, hm.datasets.owls, {"family": "negativebinomial"}),
        "owls zip": (OWLS, hm.datasets.owls, {"family": "zero_inflated_poisson"}),
        "soup cumulative": ("SURENESS ~ PROD + (1|RESP)", hm.datasets.soup,
                            {"family": "cumulative"}),
        "funnel, 8 schools": ("y ~ 1 + (1|school)", funnel, {}),
        "maize (the talk)": ("log(maize_yield + 0.1) ~ used_hybrid_seeds + (1|county)",
                             hm.datasets.maize_yield, {}),
    }


def run_one(formula: str, df: pd.DataFrame, kw: dict[str, Any], target: float, seed: int,
            draws: int, tune: int) -> dict[str, float]:
    import hiermodel as hm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = hm.fit(formula, df, target_accept=target, draws=draws, tune=tune, chains=4,
                     seed=seed, progressbar=False, **kw)
        d = fit.diagnostics()
    steps = float(np.asarray(fit.idata.sample_stats["n_steps"].values).sum())
    n = 4 * draws
    seconds = fit.sampler["seconds"] - fit.sampler.get("compile_seconds", 0.0)
    return {"div": float(d["divergences"]), "ok": float(bool(d["ok"])), "steps": steps / n,
            "ess_kstep": 1000 * d["min_ess_bulk"] / steps,
            "ess_s": d["min_ess_bulk"] / max(seconds, 1e-9), "rhat": d["max_rhat"],
            "backend": fit.sampler.get("backend")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--targets", type=float, nargs=2, default=(0.8, 0.9))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--models", nargs="*", default=None, help="substrings of model names")
    args = p.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    models = _models()
    if args.models:
        models = {k: v for k, v in models.items() if any(s in k for s in args.models)}
    a, b = args.targets
    print(f"4 chains x ({args.tune} + {args.draws}), seeds 1..{args.seeds}, targets {a} / {b}")
    print(f"{'model':28s} {'target':>6s} {'backend':>7s} {'div':>4s} {'gate ok':>7s} "
          f"{'steps':>6s} {'ESS/kstep':>9s} {'ESS/s':>7s} {'max R-hat':>9s}")
    start = time.perf_counter()
    ratios = []
    for name, (formula, data, kw) in models.items():
        df = data()
        agg: dict[float, dict[str, float]] = {}
        for target in (a, b):
            rows = [run_one(formula, df, kw, target, s, args.draws, args.tune)
                    for s in range(1, args.seeds + 1)]
            agg[target] = {
                "div": sum(r["div"] for r in rows), "ok": sum(r["ok"] for r in rows),
                "steps": float(np.mean([r["steps"] for r in rows])),
                "ess_kstep": float(np.median([r["ess_kstep"] for r in rows])),
                "ess_s": float(np.median([r["ess_s"] for r in rows])),
                "rhat": max(r["rhat"] for r in rows)}
            r = agg[target]
            print(f"{name:28s} {target:6.2f} {rows[0]['backend']:>7s} {r['div']:4.0f} "
                  f"{r['ok']:3.0f}/{args.seeds:<3d} {r['steps']:6.1f} {r['ess_kstep']:9.1f} "
                  f"{r['ess_s']:7.0f} {r['rhat']:9.3f}")
        ratio = agg[a]["ess_kstep"] / agg[b]["ess_kstep"]
        ratios.append(ratio)
        print(f"{'':28s} ESS/kstep {a} / {b} = {ratio:.2f}, "
              f"ESS/s {a} / {b} = {agg[a]['ess_s'] / agg[b]['ess_s']:.2f}")
    print(f"\ngeometric mean ESS/kstep ratio {a} / {b}: {np.exp(np.mean(np.log(ratios))):.2f}; "
          f"total {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
