"""Where does a small fit's time go: compile or sampling? nutpie (numba) vs PyMC, side by side.

For one formula (default: sleepstudy ``Reaction ~ Days + (Days | Subject)``, issue 15's small
fit), build hiermodel's PyMC graph once, then in this one process

* compile it with nutpie (numba, ``nutpie.compile_pymc_model``) and sample, timing the two apart;
* sample it with PyMC's own NUTS (``pm.sample``: its C compile comes from the on-disk cache
  after the first run, so its time is almost all sampling);

and print the stage times, leapfrog steps per draw, min bulk ESS and the ratios. The point it
measures: on small likelihoods nutpie's sampling is an order of magnitude faster than PyMC's,
and nutpie's own numba compile (not cached across processes: its C callbacks close over the
model's sizes) is most of nutpie's time. hiermodel's fits cache that compile per model
(``hiermodel.backend.nutpie_cache``); this script times nutpie's uncached compile.

    python benchmarks/compile_split.py
    python benchmarks/compile_split.py --formula "Reaction ~ Days + (Days || Subject)"
"""

from __future__ import annotations

import argparse
import os
import time
import warnings


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formula", default="Reaction ~ Days + (Days | Subject)")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--target-accept", type=float, default=0.9, help="both samplers")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")

    import arviz as az
    import nutpie
    import pymc as pm

    import hiermodel as hm
    from hiermodel.backend.sampling import run_nutpie, stored_variables

    print(f"# compile vs sampling — {os.cpu_count()} CPUs, load average "
          f"{' / '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"sleepstudy: {args.formula}; {args.chains} chains x ({args.tune} tune + "
          f"{args.draws} draws)\n")
    start = time.perf_counter()
    model = hm.model(args.formula, hm.datasets.sleepstudy())
    graph = model.pymc_model
    build = time.perf_counter() - start

    start = time.perf_counter()
    compiled = nutpie.compile_pymc_model(graph)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    nut = run_nutpie(compiled, args.draws, args.tune, args.chains, min(args.chains, 2),
                     args.seed, args.target_accept, progressbar=False)
    nut_sample = time.perf_counter() - start

    start = time.perf_counter()
    with graph:
        ref = pm.sample(draws=args.draws, tune=args.tune, chains=args.chains,
                        cores=min(args.chains, 2), random_seed=args.seed,
                        target_accept=args.target_accept, progressbar=False,
                        compute_convergence_checks=False)
    pymc_wall = time.perf_counter() - start
    pymc_sample = float(ref.posterior.attrs.get("sampling_time", pymc_wall))

    shown = stored_variables(graph, model.info.latent)  # the parameters a fit reports

    def ess(idata: az.InferenceData) -> float:
        return float(az.ess(idata, var_names=shown).to_array().min())

    rows = [("nutpie (numba)", compile_s, nut_sample, compile_s + nut_sample,
             float(nut.sample_stats["n_steps"].mean()), ess(nut)),
            ("pymc", pymc_wall - pymc_sample, pymc_sample, pymc_wall,
             float(ref.sample_stats["n_steps"].mean()), ess(ref))]
    print(f"build (hm.model, shared): {build:.1f} s\n")
    print("| sampler | compile + init s | sampling s | total s | steps/draw | min bulk ESS |")
    print("|---|---|---|---|---|---|")
    for name, comp, samp, total, steps, min_ess in rows:
        print(f"| {name} | {comp:.1f} | {samp:.1f} | {total:.1f} | {steps:.1f} | {min_ess:.0f} |")
    print(f"\nsampling pymc/nutpie: {pymc_sample / nut_sample:.1f}x; "
          f"total pymc/nutpie: {pymc_wall / (compile_s + nut_sample):.2f}x; "
          f"nutpie compile/sampling: {compile_s / nut_sample:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
