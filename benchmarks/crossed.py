"""Crossed designs with thousands of levels: hiermodel vs plain Bambi.

    python benchmarks/crossed.py --skip-bambi   # the issue's workload, 4 chains x (1000 + 1000)
    python benchmarks/crossed.py --design two   # y ~ x + (1|student) + (1|instructor), 70,000 rows
    python benchmarks/crossed.py --quick        # 5,000 rows, 2 x (150 + 150)

``--design three`` (default) is shaped like lme4's InstEval: 73,000 simulated ratings by
3,000 students of 1,100 instructors, each instructor in one of 7 departments, each rating of a
service course or not, and the model ``y ~ x + (1|student) + (1|instructor) + (1|dept:service)``
(three crossed factors, one an interaction with 14 levels). Every row has its own numeric ``x``,
so exact compression does not apply.

Systems run in separate subprocesses (see ``_common.py``), one after another:

- hiermodel default (``backend="auto"``: nutpie, compile cached after its first run;
  ``target_accept="auto"``: 0.8 here);
- design three: the default with ``target_accept=0.9`` (the default before session 11);
- hiermodel ``marginalize=False``: the joint sampler (the default, ``marginalize="auto"``,
  integrates the factor with the most effects, the students, out exactly: backend/marginal.py);
- with ``--previous TREE``, the default with hiermodel imported from TREE (an earlier commit);
- hiermodel ``backend="pymc"`` (PyMC's NUTS on the default graph; ``--skip-pymc``);
- plain Bambi with its defaults (``--bambi-sampler nutpie``: Bambi's ``inference_method=
  "nutpie"``), killed after ``--bambi-timeout`` seconds (default 900).

Run it twice for warm compile caches (the second run's hiermodel rows load their compiled
model; ``compile+init`` then shows ~0.5 s).
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
# the issue's workload, shaped like lme4's InstEval (73,421 ratings, 2,972 students, 1,128
# instructors nested in 14 departments, lectures as a service course or not)
FORMULA3 = "y ~ x + (1|student) + (1|instructor) + (1|dept:service)"
TRUTH3 = {"(Intercept)": 3.0, "x": 0.5, "sd_student": 0.3, "sd_instructor": 0.5,
          "sd_dept:service": 0.15, "sigma": 1.2}
DESIGNS = {"two": (FORMULA, TRUTH), "three": (FORMULA3, TRUTH3)}


def _encounters(rng: Any, n: int, n_students: int, n_instructors: int) -> tuple[Any, Any]:
    """Each row's student (uniform) and instructor (instructors of very different sizes: a few
    teach many students); every level appears at least once."""
    import numpy as np

    student = rng.integers(0, n_students, n)
    w = rng.gamma(2.0, 1.0, n_instructors)
    instructor = rng.choice(n_instructors, size=n, p=w / w.sum())
    student[:n_students] = np.arange(n_students)
    instructor[n_students:n_students + n_instructors] = np.arange(n_instructors)
    return student, instructor


def simulate(n: int, n_students: int, n_instructors: int, seed: int) -> Any:
    """Students x instructors with a numeric covariate: unique rows, crossed random intercepts."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    student, instructor = _encounters(rng, n, n_students, n_instructors)
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


def simulate3(n: int, n_students: int, n_instructors: int, n_depts: int, seed: int) -> Any:
    """InstEval-shaped ratings: students x instructors, each instructor in one department, and a
    service-course indicator per row, so ``dept:service`` is a third factor crossed with both."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    student, instructor = _encounters(rng, n, n_students, n_instructors)
    dept_of = rng.integers(0, n_depts, n_instructors)
    dept_of[:n_depts] = np.arange(n_depts)
    dept = dept_of[instructor]
    service = rng.random(n) < 0.4
    x = rng.normal(0, 1, n)
    t = TRUTH3
    u = rng.normal(0, t["sd_student"], n_students)
    v = rng.normal(0, t["sd_instructor"], n_instructors)
    cell = dept * 2 + service.astype(int)
    c = rng.normal(0, t["sd_dept:service"], 2 * n_depts)
    y = (t["(Intercept)"] + t["x"] * x + u[student] + v[instructor] + c[cell]
         + rng.normal(0, t["sigma"], n))
    return pd.DataFrame({
        "y": y,
        "x": x,
        "student": pd.Categorical([f"s{i:04d}" for i in student]),
        "instructor": pd.Categorical([f"i{i:04d}" for i in instructor]),
        "dept": pd.Categorical([f"d{i:02d}" for i in dept]),
        "service": pd.Categorical(np.where(service, "yes", "no")),
    })


def _data(cfg: dict[str, Any]) -> Any:
    if cfg["design"] == "three":
        return simulate3(cfg["n"], cfg["n_students"], cfg["n_instructors"], cfg["n_depts"],
                         cfg["data_seed"])
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
    formula = DESIGNS[cfg["design"]][0]
    sampler_keys = ("backend", "target_accept")
    model = hm.model(formula, df, **{k: v for k, v in cfg["options"].items()
                                     if k not in sampler_keys})
    t1 = time.perf_counter()
    fit_kw = {k: v for k, v in cfg["options"].items() if k in sampler_keys}
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
    if "compile_seconds" in fit.sampler:  # nutpie: sampling (+ conditional draws) = the rest
        out["sampling_s"] = fit.sampler["seconds"] - fit.sampler["compile_seconds"]
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
    formula = DESIGNS[cfg["design"]][0]
    bm = bmb.Model(formula, df)
    t1 = time.perf_counter()
    kw: dict[str, Any] = {}
    if cfg.get("cores"):
        kw["cores"] = cfg["cores"]
    if cfg.get("bambi_sampler", "pymc") != "pymc":
        kw["inference_method"] = cfg["bambi_sampler"]
    idata = bm.fit(draws=cfg["draws"], tune=cfg["tune"], chains=cfg["chains"],
                   random_seed=cfg["seed"], progressbar=False, **kw)
    t2 = time.perf_counter()
    params = C.param_stats(C.canonical_bambi(
        idata, {"x": "x"},
        ["student", "instructor"] + (["dept:service"] if cfg["design"] == "three" else [])))
    from pymc.sampling.parallel import _cpu_count

    out: dict[str, Any] = {
        "import_s": import_s, "build_s": t1 - t0, "fit_s": t2 - t1, "params": _small(params),
        "backend": f"{cfg.get('bambi_sampler', 'pymc')} (Bambi)",
        "cores": cfg.get("cores") or min(4, _cpu_count()),
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
    p.add_argument("--bambi-sampler", choices=["pymc", "nutpie"], default="pymc",
                   help="plain Bambi's inference_method (default pymc, Bambi's default)")
    p.add_argument("--skip-pymc", action="store_true",
                   help="do not run the backend='pymc' comparison row")
    p.add_argument("--skip-marginal", action="store_true",
                   help="do not run the marginalize=False (joint sampler) row")
    p.add_argument("--previous", default=None,
                   help="also run the default with hiermodel imported from this source tree "
                        "(a worktree of an earlier commit)")
    p.add_argument("--n", type=int, default=None)
    p.add_argument("--students", type=int, default=None)
    p.add_argument("--instructors", type=int, default=None)
    p.add_argument("--depts", type=int, default=None,
                   help="departments of --design three (x 2 service levels; default 7)")
    p.add_argument("--design", choices=sorted(DESIGNS), default="three",
                   help="three: the issue's InstEval-shaped workload (default); two: "
                        "y ~ x + (1|student) + (1|instructor) at 70,000 rows")
    p.add_argument("--chains", type=int, default=4)
    C.add_run_args(p, data_seed=2024, data_seed_help="simulation seed (default 2024)")
    args = p.parse_args(argv)
    if C.run_worker_if_asked(args, RUNNERS):
        return 0

    three = args.design == "three"
    n = args.n or (5000 if args.quick else 73_000 if three else 70_000)
    n_students = args.students or (400 if args.quick else 3000)
    n_instructors = args.instructors or (60 if args.quick and three else 20 if args.quick
                                         else 1100 if three else 100)
    n_depts = args.depts or (3 if args.quick else 7)
    draws = args.draws or (150 if args.quick else 1000)
    tune = args.tune or (150 if args.quick else 1000)
    formula, truth = DESIGNS[args.design]
    common = {"design": args.design, "n": n, "n_students": n_students,
              "n_instructors": n_instructors, "n_depts": n_depts, "draws": draws,
              "tune": tune, "chains": args.chains, "seed": args.seed,
              "data_seed": args.data_seed}
    systems: list[dict[str, Any]] = [
        {"name": "hiermodel default", "kind": "hiermodel", "options": {}},
    ]
    if args.previous:
        systems.append({"name": "hiermodel previous default", "kind": "hiermodel",
                        "options": {}, "pythonpath": os.path.abspath(args.previous)})
    if three:
        # the default's sampler setting before session 11 (target_accept="auto" is 0.8 here):
        # what the centering rule alone changed
        systems.append({"name": "hiermodel default, target_accept=0.9", "kind": "hiermodel",
                        "options": {"target_accept": 0.9}})
    if not args.skip_marginal:
        # the default integrates the students out (marginalize="auto": 3,000 effects); this is
        # the joint sampler on the same model
        systems.append({"name": "hiermodel marginalize=False", "kind": "hiermodel",
                        "options": {"marginalize": False}})
    # the default backend is "auto" (nutpie here, 70,000 likelihood rows); the other row is
    # PyMC's own sampler on the same graph
    if not args.skip_pymc and not args.quick:
        systems.append({"name": "hiermodel backend=pymc", "kind": "hiermodel",
                        "options": {"backend": "pymc"}})
    if not args.skip_bambi and (not args.quick or args.with_bambi):
        systems.append({"name": "plain Bambi", "kind": "bambi", "cores": args.bambi_cores,
                        "timeout": args.bambi_timeout, "bambi_sampler": args.bambi_sampler})

    started = _dt.datetime.now().astimezone()
    print(f"# hiermodel crossed-design benchmark — {started:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {C.machine()}; load average (1/5/15 min) at start: {C.load_average()}")
    print(f"versions: {C.versions()}")
    print(f"formula: {formula}")
    print(f"data: simulate{'3' if three else ''}(n={n}, students={n_students}, "
          f"instructors={n_instructors}"
          + (f", depts={n_depts} (x 2 service = {2 * n_depts} dept:service levels)" if three
             else "")
          + f", seed={args.data_seed}) — numeric x, so rows are unique; {args.chains} chains x "
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
    print("hiermodel rows (nutpie): sampling = the sampler's seconds minus its compile seconds\n"
          "  (MCMC, trace conversion, marginalised effects' conditional draws); compile+init =\n"
          "  the rest of fit(): the compile (cached: ~0.5 s) and the convergence gate")
    print("min bulk ESS, max R-hat: over the intercept, slope, SDs, sigma and all "
          f"{n_students + n_instructors + (2 * n_depts if three else 0)} group-level effects "
          "(the population parameters alone: below the table)")
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
        pop = {k: v for k, v in r["params"].items() if k in truth}
        worst = min(pop, key=lambda k: pop[k]["ess_bulk"])
        extra += (f"; population parameters: min bulk ESS {pop[worst]['ess_bulk']:.0f} "
                  f"({worst}), max R-hat {max(v['r_hat'] for v in pop.values()):.3f}")
        print(f"- {r['name']}: backend {r.get('backend')}, cores {r.get('cores', '-')}, "
              f"import {C.fmt(r.get('import_s'))} s, process total {C.fmt(r['process_s'])} s, "
              f"mean leapfrog steps/draw {C.fmt(r.get('mean_steps'))}, worst-ESS parameter "
              f"{r.get('min_ess_param', '-')}{extra}")
    print(f"\n(total benchmark time {total:.0f} s; load average at end: {C.load_average()})")

    print("\n## Population-level posterior means (truth in brackets)")
    ok = [r for r in results if r.get("ok")]
    if ok:
        names = list(truth)
        header = ["parameter", *[r["name"] for r in ok]]
        rows = []
        for name in names:
            cells = [f"{name} [{truth[name]}]"]
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
