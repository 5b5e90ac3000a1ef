"""Exact marginalisation of gaussian group effects vs the joint sampler, side by side.

    python benchmarks/marginal.py [--quick]

For each workload (sleepstudy ``Reaction ~ Days + (Days|Subject)``; the talk's maize model
``log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)`` on 110,789 rows) and each
system, one fresh Python process runs *process start -> printed summary* with the defaults
(4 chains x 1000 + 1000), and reports wall time, min bulk ESS over the population parameters
and group SDs, max R-hat and ESS/s.
Ratios are against hiermodel's default (joint sampler) measured in the same run; the machine
is noisy, so compare ratios, not absolute seconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

WORKER = r"""
import json, sys, time
t0 = time.perf_counter()
import hiermodel as hm
workload, marginalize, backend, draws = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
marginalize = {"True": True, "False": False}.get(marginalize, marginalize)
if workload == "sleepstudy":
    df, formula = hm.datasets.sleepstudy(), "Reaction ~ Days + (Days|Subject)"
else:
    df = hm.datasets.maize_yield()
    formula = "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)"
fit = hm.fit(formula, df, marginalize=marginalize, backend=backend, draws=draws, tune=draws,
             seed=1)
text = str(fit.summary())
wall = time.perf_counter() - t0
import arviz as az
names = [v for v in fit.idata.posterior.data_vars if v.startswith(("b", "Intercept", "sd_",
                                                                   "sigma"))]
post = fit.idata.posterior[names]
ess = float(az.ess(post).to_array().min())
rhat = float(az.rhat(post).to_array().max())
print(json.dumps({"wall": wall, "sampling": fit.sampler["seconds"], "ess": ess, "rhat": rhat,
                  "backend": fit.sampler["backend"]}))
"""

SYSTEMS = [
    ("hiermodel default (joint)", "False", "auto"),
    ("marginalize=True, pymc", "True", "pymc"),
    ("marginalize=True, nutpie", "True", "nutpie"),
]


def run(workload: str, marginalize: str, backend: str, draws: int) -> dict[str, float]:
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WORKER, workload, marginalize, backend,
                          str(draws)], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="sleepstudy only")
    args = parser.parse_args()
    workloads = ["sleepstudy"] if args.quick else ["sleepstudy", "maize"]
    print("| workload | system | wall s (start -> summary) | sampling s | min bulk ESS | "
          "max R-hat | ESS/s | wall vs default | ESS/s vs default |")
    print("|---|---|---|---|---|---|---|---|---|")
    for workload in workloads:
        base = None
        for name, marginalize, backend in SYSTEMS:
            r = run(workload, marginalize, backend, 1000)
            rate = r["ess"] / r["process"]
            if base is None:
                base = (r["process"], rate)
            print(f"| {workload} | {name} ({r['backend']}) | {r['process']:.1f} | "
                  f"{r['sampling']:.1f} | {r['ess']:.0f} | {r['rhat']:.3f} | {rate:.0f} | "
                  f"{base[0] / r['process']:.2f}x | {rate / base[1]:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
