"""Crossed design with thousands of levels: hiermodel vs plain Bambi.

    python benchmarks/crossed.py                 # 70,000 rows, 3,000 students x 100 instructors
    python benchmarks/crossed.py --skip-bambi
    python benchmarks/crossed.py --quick         # 5,000 rows, 400 students x 20 instructors

Simulated ratings: every row is one (student, instructor) encounter with a numeric predictor
``x``, so no two rows share their model inputs and exact compression does not apply (hiermodel's
``compress="auto"`` keeps the full likelihood; the output says so). Model
``y ~ x + (1|student) + (1|instructor)``; 2 chains x (500 tune + 500 draws) by default.

Systems run in separate subprocesses (see ``_common.py``): hiermodel default (``backend="auto"``,
which picks nutpie for a likelihood this size), hiermodel with ``backend="pymc"`` (PyMC's own
NUTS on the same graph) and plain Bambi with its defaults. Plain Bambi is killed
after ``--bambi-timeout`` seconds (default 900 = 15 min) and reported as timed out.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C

FORMULA = "y ~ x + (1|student) + (1|instructor)"
TRUTH = {"(Intercept)": 3.0, "x": 0.5, "sd_student": 0.6, "sd_instructor": 0.4, "sigma": 1.0}


def simulate(n: int, n_students: int, n_instructors: int, seed: int) -> Any:
    """Students x instructors with a numeric covariate: unique rows, crossed random intercepts."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    student = rng.integers(0, n_students, n)
    # instructors of very different sizes (a few teach many students)
    w = rng.gamma(2.0, 1.0, n_instructors)
    instructor = rng.choice(n_instructors, size=n, p=w / w.sum())
    # make sure every level appears at least once
    student[:n_students] = np.arange(n_students)
    instructor[n_students:n_students + n_instructors] = np.arange(n_instructors)
    x = rng.normal(0, 1, n)
    u = rng.normal(0, TRUTH["sd_student"], n_students)
    v = rng.normal(0, TRUTH["sd_instructor"], n_instructors)
    y = (TRUTH["(Intercept)"] + TRUTH["x"] * x + u[student] + v[instructor]
         + rng.normal(0, TRUTH["sigma"], n))
    return pd.DataFrame({
        "y": y,
        "x": x,
        "student": pd.Categorical([f"s{i:04d}" for i in student]),
        "instructor": pd.Categorical([f"i{i:03d}" for i in instructor]),
    })


def _data(cfg: dict[str, Any]) -> Any:
    return simulate(cfg["n"], cfg["n_students"], cfg["n_instructors"], cfg["data_seed"])


def _run_hiermodel(cfg: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    import arviz  # noqa: F401
    import nutpie  # noqa: F401  (the default backend "auto" picks it for this model)
    import pymc  # noqa: F401

    import hiermodel as hm
    import_s = time.perf_counter() - t
    df = _data(cfg)
    t0 = time.perf_counter()
    model = hm.model(FORMULA, df, **{k: v for k, v in cfg["options"].items() if k != "backend"})
    t1 = time.perf_counter()
    fit_kw = {"backend": cfg["options"]["backend"]} if "backend" in cfg["options"] else {}
    fit = model.fit(draws=cfg["draws"], tune=cfg["tune"], chains=cfg["chains"],
                    seed=cfg["seed"], **fit_kw)
    t2 = time.perf_counter()
    params = C.param_stats(C.canonical_hiermodel(fit))
    info = model.info
    out: dict[str, Any] = {
        "import_s": import_s, "build_s": t1 - t0, "fit_s": t2 - t1, "params": _small(params),
        "backend": fit.sampler.get("backend"),
        "cores": fit.sampler.get("cores") or f"default (min(chains, 2) = {min(cfg['chains'], 2)})",
        "compressed": bool(info.compressed),
        "n_cells": int(info.cells.n_cells) if info.cells is not None else None,
        "n_rows": len(df),
        "parametrization": dict(info.parametrization),
        "parametrization_reason": dict(info.parametrization_reason),
    }
    out.update(C.sampler_stats(fit.idata))
    out.update(C.summarise(params))
    return out


def _run_bambi(cfg: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    import arviz  # noqa: F401
    import bambi as bmb
    import pymc  # noqa: F401

    import_s = time.perf_counter() - t
    df = _data(cfg)
    t0 = time.perf_counter()
    bm = bmb.Model(FORMULA, df)
    t1 = time.perf_counter()
    kw: dict[str, Any] = {}
    if cfg.get("cores"):
        kw["cores"] = cfg["cores"]
    idata = bm.fit(draws=cfg["draws"], tune=cfg["tune"], chains=cfg["chains"],
                   random_seed=cfg["seed"], progressbar=False, **kw)
    t2 = time.perf_counter()
    params = C.param_stats(C.canonical_bambi(idata, {"x": "x"}, ["student", "instructor"]))
    from pymc.sampling.parallel import _cpu_count

    out: dict[str, Any] = {
        "import_s": import_s, "build_s": t1 - t0, "fit_s": t2 - t1, "params": _small(params),
        "backend": "pymc (Bambi)", "cores": cfg.get("cores") or min(4, _cpu_count()),
        "n_rows": len(df),
    }
    out.update(C.sampler_stats(idata))
    out.update(C.summarise(params))
    return out


def _small(params: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Population-level parameters only (3,100 per-level rows are not worth shipping)."""
    return {k: v for k, v in params.items() if not k.startswith("r_")}


RUNNERS = {"hiermodel": _run_hiermodel, "bambi": _run_bambi}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="5,000 rows, 400 students, 20 instructors, 2 x (150 + 150); no Bambi "
                        "unless --with-bambi")
    p.add_argument("--skip-bambi", action="store_true")
    p.add_argument("--with-bambi", action="store_true")
    p.add_argument("--bambi-timeout", type=float, default=900.0,
                   help="kill plain Bambi after this many seconds (default 900)")
    p.add_argument("--bambi-cores", type=int, default=None)
    p.add_argument("--skip-pymc", action="store_true",
                   help="do not run the backend='pymc' comparison row")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--students", type=int, default=None)
    p.add_argument("--instructors", type=int, default=None)
    p.add_argument("--chains", type=int, default=2)
    C.add_run_args(p, data_seed=2024, data_seed_help="simulation seed (default 2024)")
    args = p.parse_args(argv)
    if C.run_worker_if_asked(args, RUNNERS):
        return 0

    n = args.n or (5000 if args.quick else 70_000)
    n_students = args.students or (400 if args.quick else 3000)
    n_instructors = args.instructors or (20 if args.quick else 100)
    draws = args.draws or (150 if args.quick else 500)
    tune = args.tune or (150 if args.quick else 500)
    common = {"n": n, "n_students": n_students, "n_instructors": n_instructors, "draws": draws,
              "tune": tune, "chains": args.chains, "seed": args.seed,
              "data_seed": args.data_seed}
    systems: list[dict[str, Any]] = [
        {"name": "hiermodel default", "kind": "hiermodel", "options": {}},
    ]
    # the default backend is "auto" (nutpie here, 70,000 likelihood rows); the other row is
    # PyMC's own sampler on the same graph
    if not args.skip_pymc and not args.quick:
        systems.append({"name": "hiermodel backend=pymc", "kind": "hiermodel",
                        "options": {"backend": "pymc"}})
    if not args.skip_bambi and (not args.quick or args.with_bambi):
        systems.append({"name": "plain Bambi", "kind": "bambi", "cores": args.bambi_cores,
                        "timeout": args.bambi_timeout})

    started = _dt.datetime.now().astimezone()
    print(f"# hiermodel crossed-design benchmark — {started:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {C.machine()}; load average (1/5/15 min) at start: {C.load_average()}")
    print(f"versions: {C.versions()}")
    print(f"formula: {FORMULA}")
    print(f"data: simulate(n={n}, students={n_students}, instructors={n_instructors}, "
          f"seed={args.data_seed}) — numeric x, so rows are unique; {args.chains} chains x "
          f"({tune} tune + {draws} draws), sampler seed {args.seed}"
          + ("  [--quick]" if args.quick else ""))
    print(flush=True)

    script = os.path.abspath(__file__)
    results = []
    t_all = time.perf_counter()
    for s in systems:
        timeout = s.pop("timeout", None)
        results.append(C.run_system(script, {**common, **s}, verbose=args.verbose,
                                    timeout=timeout))
    total = time.perf_counter() - t_all

    bambi = next((r for r in results if r["name"] == "plain Bambi"), None)
    print("## Results")
    print(C.SYSTEM_NOTES)
    print("min bulk ESS, max R-hat: over intercept, slope, both SDs, sigma and all "
          f"{n_students + n_instructors} group-level effects")
    print()
    print(C.table(C.SYSTEM_HEADER, [C.system_row(r, bambi) for r in results]))
    print()
    for r in results:
        if not r.get("ok"):
            continue
        extra = ""
        if "compressed" in r:
            extra = (f"; compressed={r['compressed']}"
                     + (f" ({r['n_rows']} rows -> {r['n_cells']} cells)" if r["compressed"]
                        else "")
                     + "; parametrization " + ", ".join(
                         f"{g}: {c} ({r['parametrization_reason'][g]})"
                         for g, c in r["parametrization"].items()))
        print(f"- {r['name']}: backend {r.get('backend')}, cores {r.get('cores', '-')}, "
              f"import {C.fmt(r.get('import_s'))} s, process total {C.fmt(r['process_s'])} s, "
              f"mean leapfrog steps/draw {C.fmt(r.get('mean_steps'))}, worst-ESS parameter "
              f"{r.get('min_ess_param', '-')}{extra}")
    print(f"\n(total benchmark time {total:.0f} s; load average at end: {C.load_average()})")

    print("\n## Population-level posterior means (truth in brackets)")
    ok = [r for r in results if r.get("ok")]
    if ok:
        names = list(TRUTH)
        header = ["parameter", *[r["name"] for r in ok]]
        rows = []
        for name in names:
            cells = [f"{name} [{TRUTH[name]}]"]
            for r in ok:
                q = r["params"].get(name)
                cells.append("-" if q is None else
                             f"{q['mean']:.3f} (ESS {q['ess_bulk']:.0f}, R-hat {q['r_hat']:.3f})")
            rows.append(cells)
        print(C.table(header, rows))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"started": started.isoformat(), "machine": C.machine(),
                       "versions": C.versions(), **common, "results": results}, fh, indent=1,
                      default=float)
    return 0 if all(r.get("ok") or r.get("timed_out") for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
