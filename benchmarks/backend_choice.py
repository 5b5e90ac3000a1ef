"""Where does nutpie beat PyMC's own sampler? The measurement behind ``backend="auto"``.

For gaussian ``y ~ x + (1|g)`` models with unique rows (no compression), fit the same model
with ``backend="pymc"`` and ``backend="nutpie"`` side by side for several data sizes and print
wall time (build + compile + sampling), min bulk ESS and the pymc/nutpie time ratio.

nutpie compiles a model with numba on its first fit (a fixed ~5-15 s here; later fits of the
same model load the compile from ``hiermodel.backend.nutpie_cache``) and then samples with very
little per-step overhead; PyMC reuses its on-disk C cache but pays roughly 0.1 ms of Python per
leapfrog step plus the gradient. Without the compile cache small likelihoods favoured PyMC;
this table set the old 1,000-row rule of ``backend="auto"``, which is nutpie for every model now.

    python benchmarks/backend_choice.py               # n = 1000, 10000, 30000; 4 x (1000 + 1000)
    python benchmarks/backend_choice.py --n 3000,20000 --chains 2
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd


def simulate(n: int, groups: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(groups, size=n)
    x = rng.normal(size=n)
    a = rng.normal(0, 0.5, size=groups)
    y = 1.0 + 0.5 * x + a[g] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i:03d}" for i in g]})


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", default="1000,10000,30000", help="comma-separated row counts")
    ap.add_argument("--groups", type=int, default=100)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    args = ap.parse_args(argv)

    import arviz as az

    import hiermodel as hm
    from hiermodel.backend.sampling import AUTO_REASON

    print(f"# backend choice benchmark — {os.cpu_count()} CPUs, load average "
          f"{' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"y ~ x + (1|g), {args.groups} groups, unique rows; {args.chains} chains x "
          f"({args.tune} tune + {args.draws} draws); {AUTO_REASON}\n")
    print("|      n | pymc wall s | nutpie wall s | pymc/nutpie | pymc min ESS | nutpie min ESS "
          "| auto picks |")
    print("|--------|-------------|---------------|-------------|--------------|----------------"
          "|------------|")
    for n in [int(v) for v in args.n.split(",")]:
        data = simulate(n, args.groups, seed=n)
        row: dict[str, tuple[float, float]] = {}
        picked = ""
        for backend in ("pymc", "nutpie", "auto"):
            if backend == "auto":
                model = hm.model("y ~ x + (1|g)", data)
                from hiermodel.backend.sampling import resolve_backend

                picked = resolve_backend(model, "auto")[0]
                continue
            start = time.perf_counter()
            fit = hm.fit("y ~ x + (1|g)", data, backend=backend, chains=args.chains,
                         draws=args.draws, tune=args.tune, seed=1)
            wall = time.perf_counter() - start
            ess = float(az.ess(fit.idata, var_names=["Intercept", "b", "sd_g", "sigma", "r_g"],
                               method="bulk").to_array().min())
            row[backend] = (wall, ess)
        (tp, ep), (tn, en) = row["pymc"], row["nutpie"]
        print(f"| {n:>6} | {tp:11.1f} | {tn:13.1f} | {tp / tn:10.2f}x | {ep:12.0f} | {en:14.0f} "
              f"| {picked:<10} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
