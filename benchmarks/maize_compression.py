"""hiermodel vs plain Bambi on the seed-shaped maize data (110,789 rows), in one run.

    python benchmarks/maize_compression.py              # full size: 30-70 min, mostly Bambi
    python benchmarks/maize_compression.py --skip-bambi # hiermodel systems only (~15 min)
    python benchmarks/maize_compression.py --quick      # CI smoke test (2,000 rows), < 60 s

Model: ``log(maize_yield + 0.1) ~ used_hybrid_seeds + (1|county)`` on
``hm.datasets.maize_yield()``; 4 chains x (1000 tune + 1000 draws) by default.

Systems (each in its own subprocess, see ``_common.py`` for what is timed and how memory is
measured):

* ``hiermodel default``  — ``hm.fit(formula, df)``: automatic compression, parametrization and
  whatever backend is hiermodel's default;
* ``hiermodel compress=False`` — the same model on all rows;
* ``hiermodel nutpie`` — ``backend="nutpie"`` (only if nutpie is installed);
* ``plain Bambi`` — ``bmb.Model("log_yield ~ used_hybrid_seeds + (1|county)", df)
  .fit(draws=1000, tune=1000, chains=4)`` with Bambi's defaults (its priors, PyMC's NUTS,
  PyMC's choice of cores);
* ``hiermodel default, 4x draws`` — the memory check: peak RSS must not grow like
  draws x rows;
* ``hiermodel default + LOO`` — the default fit followed by chunked PSIS-LOO over every
  observation (``hiermodel.comparison.loo.loo``): peak RSS before and after;
* ``lme4 lmer`` — only when ``Rscript`` with lme4 is on the PATH (``--lme4``).

Printed: the results table (wall, min bulk ESS, ESS/s, max R-hat, peak memory, ratios vs plain
Bambi), hiermodel's summary of the default fit (compression, parametrization), posterior means
compressed vs uncompressed in MCSE units, and the issue's must-show checks.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _common as C

FORMULA = "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1|county)"
BAMBI_FORMULA = "log_yield ~ used_hybrid_seeds + (1|county)"
SLOPES = {"used_hybrid_seeds": "used_hybrid_seedsTRUE"}

# --------------------------------------------------------------------------------------------
# workers
# --------------------------------------------------------------------------------------------


def _run_hiermodel(cfg: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    import arviz  # noqa: F401
    import pymc  # noqa: F401

    import hiermodel as hm

    if cfg["options"].get("backend") == "nutpie":
        import nutpie  # noqa: F401
    import_s = time.perf_counter() - t
    df = hm.datasets.maize_yield(n=cfg["n"], seed=cfg["data_seed"])
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
        "import_s": import_s, "build_s": t1 - t0, "fit_s": t2 - t1, "params": params,
        "backend": fit.sampler.get("backend"),
        "cores": fit.sampler.get("cores") or f"default (min(chains, 2) = {min(cfg['chains'], 2)})",
        "compressed": bool(info.compressed),
        "n_cells": int(info.cells.n_cells) if info.cells is not None else None,
        "n_rows": len(df),
        "parametrization": dict(info.parametrization),
        "parametrization_reason": dict(info.parametrization_reason),
        "summary": str(fit.summary()),
    }
    out.update(C.sampler_stats(fit.idata))
    out.update(C.summarise(params))
    if cfg.get("loo"):
        # pointwise log-likelihood per observation (not per cell), chunked
        from hiermodel.comparison.loo import loo
        from hiermodel.posterior.loglik import chunk_rows, n_draws

        out["rss_before_loo_mb"] = C.rss_mb()["rss_self_mb"]
        t3 = time.perf_counter()
        res = loo(fit)
        out["loo_s"] = time.perf_counter() - t3
        out["loo_elpd"] = float(res["elpd_loo"])
        out["loo_n"] = int(res["n_data_points"])
        out["loo_chunk"] = chunk_rows(n_draws(fit))
    return out


def _run_bambi(cfg: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    import arviz  # noqa: F401
    import bambi as bmb
    import numpy as np
    import pymc  # noqa: F401

    import hiermodel as hm

    import_s = time.perf_counter() - t
    df = hm.datasets.maize_yield(n=cfg["n"], seed=cfg["data_seed"])
    df["log_yield"] = np.log(df["maize_yield"] + 0.1)
    t0 = time.perf_counter()
    bm = bmb.Model(BAMBI_FORMULA, df)
    t1 = time.perf_counter()
    kw: dict[str, Any] = {}
    if cfg.get("cores"):
        kw["cores"] = cfg["cores"]
    idata = bm.fit(draws=cfg["draws"], tune=cfg["tune"], chains=cfg["chains"],
                   random_seed=cfg["seed"], progressbar=False, **kw)
    t2 = time.perf_counter()
    params = C.param_stats(C.canonical_bambi(idata, SLOPES, ["county"]))
    from pymc.sampling.parallel import _cpu_count

    out: dict[str, Any] = {
        "import_s": import_s, "build_s": t1 - t0, "fit_s": t2 - t1, "params": params,
        "backend": "pymc (Bambi)", "cores": cfg.get("cores") or min(4, _cpu_count()),
        "n_rows": len(df),
    }
    out.update(C.sampler_stats(idata))
    out.update(C.summarise(params))
    return out


def _run_lme4(cfg: dict[str, Any]) -> dict[str, Any]:
    import hiermodel as hm

    df = hm.datasets.maize_yield(n=cfg["n"], seed=cfg["data_seed"])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "maize.csv")
        df.to_csv(path, index=False)
        script = (
            "suppressMessages(library(lme4)); d <- read.csv(commandArgs(TRUE)[1]);"
            "t <- system.time(m <- lmer(log(maize_yield + 0.1) ~ used_hybrid_seeds + "
            "(1|county), data = d)); cat(t[['elapsed']], '\\n')"
        )
        res = subprocess.run(["Rscript", "-e", script, path], capture_output=True, text=True,
                             check=True)
    secs = float(res.stdout.strip().split()[-1])
    return {"import_s": float("nan"), "build_s": 0.0, "fit_s": secs, "params": {},
            "min_ess_bulk": float("nan"), "max_rhat": float("nan"), "backend": "lme4 (REML)"}


RUNNERS = {"hiermodel": _run_hiermodel, "bambi": _run_bambi, "lme4": _run_lme4}

# --------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------


def _lme4_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True)
    return res.returncode == 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="2,000 rows, 2 chains x (150 + 150) (CI smoke, < 60 s); no Bambi unless "
                        "--with-bambi, no nutpie unless listed in --systems")
    p.add_argument("--skip-bambi", action="store_true", help="do not run plain Bambi")
    p.add_argument("--with-bambi", action="store_true", help="run plain Bambi even with --quick")
    p.add_argument("--bambi-cores", type=int, default=None,
                   help="cores for plain Bambi (default: Bambi's/PyMC's own choice)")
    p.add_argument("--skip-nutpie", action="store_true",
                   help="do not run the backend='nutpie' system even if nutpie is installed")
    p.add_argument("--no-memory-check", action="store_true",
                   help="skip the 4x-draws peak-memory run and the LOO run")
    p.add_argument("--lme4", action="store_true", help="add lme4::lmer if Rscript+lme4 exist")
    p.add_argument("--systems", default=None,
                   help="comma-separated subset: default,uncompressed,nutpie,bambi,memory,loo,lme4")
    p.add_argument("--n", type=int, default=None, help="rows (default 110789; quick 2000)")
    p.add_argument("--chains", type=int, default=None)
    C.add_run_args(p, data_seed=0,
                   data_seed_help="maize_yield seed (default 0, the dataset's own default)")
    args = p.parse_args(argv)
    if C.run_worker_if_asked(args, RUNNERS):
        return 0

    n = args.n or (2000 if args.quick else 110_789)
    draws = args.draws or (150 if args.quick else 1000)
    tune = args.tune or (150 if args.quick else 1000)
    chains = args.chains or (2 if args.quick else 4)
    common = {"n": n, "draws": draws, "tune": tune, "chains": chains, "seed": args.seed,
              "data_seed": args.data_seed}

    want = set((args.systems or "default,uncompressed,nutpie,bambi,memory,loo,lme4").split(","))
    if args.quick:
        want -= {"memory", "loo"}
        if not args.systems:
            want -= {"nutpie"}  # numba compilation alone can take 10+ s on a cold cache
        if not args.with_bambi:
            want -= {"bambi"}
    if args.skip_bambi:
        want -= {"bambi"}
    if args.skip_nutpie or importlib.util.find_spec("nutpie") is None:
        want -= {"nutpie"}
    if not args.lme4 or not _lme4_available():
        want -= {"lme4"}

    systems: list[dict[str, Any]] = []
    if "default" in want:
        systems.append({"name": "hiermodel default", "kind": "hiermodel", "options": {}})
    if "uncompressed" in want:
        systems.append({"name": "hiermodel compress=False", "kind": "hiermodel",
                        "options": {"compress": False}})
    if "nutpie" in want:
        systems.append({"name": "hiermodel backend=nutpie", "kind": "hiermodel",
                        "options": {"backend": "nutpie"}})
    if "bambi" in want:
        name = "plain Bambi" + (f" (cores={args.bambi_cores})" if args.bambi_cores else "")
        systems.append({"name": name, "kind": "bambi", "cores": args.bambi_cores})
    if args.no_memory_check:
        want -= {"memory", "loo"}
    if "memory" in want:
        systems.append({"name": f"hiermodel default, {4 * draws} draws", "kind": "hiermodel",
                        "options": {}, "draws": 4 * draws, "memory_check": True})
    if "loo" in want:
        systems.append({"name": "hiermodel default + LOO", "kind": "hiermodel", "options": {},
                        "loo": True})
    if "lme4" in want:
        systems.append({"name": "lme4 lmer", "kind": "lme4"})

    started = _dt.datetime.now().astimezone()
    print(f"# hiermodel maize benchmark — {started:%Y-%m-%d %H:%M %Z}")
    print(f"machine: {C.machine()}; load average (1/5/15 min) at start: {C.load_average()}")
    print(f"versions: {C.versions()}")
    print(f"formula: {FORMULA}  (plain Bambi: {BAMBI_FORMULA}, log_yield = log(maize_yield+0.1))")
    print(f"data: hm.datasets.maize_yield(n={n}, seed={common['data_seed']}); "
          f"{chains} chains x ({tune} tune + {draws} draws), sampler seed {args.seed}"
          + ("  [--quick]" if args.quick else ""))
    print(flush=True)

    script = os.path.abspath(__file__)
    results: list[dict[str, Any]] = []
    t_all = time.perf_counter()
    for s in systems:
        cfg = {**common, **s}
        results.append(C.run_system(script, cfg, verbose=args.verbose))
    total = time.perf_counter() - t_all

    _report(results, args, n, draws, chains, total)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"started": started.isoformat(), "machine": C.machine(),
                       "versions": C.versions(), "n": n, "draws": draws, "tune": tune,
                       "chains": chains, "results": results}, fh, indent=1, default=float)
    return 0 if all(r.get("ok") for r in results) else 1


def _report(results: list[dict[str, Any]], args: Any, n: int, draws: int, chains: int,
            total: float) -> None:
    by_name = {r["name"]: r for r in results}
    default = by_name.get("hiermodel default")
    uncompressed = by_name.get("hiermodel compress=False")
    bambi = next((r for r in results if r["name"].startswith("plain Bambi")), None)
    memory = next((r for r in results if r["name"].startswith("hiermodel default, ")), None)

    print("## Results")
    print(C.SYSTEM_NOTES)
    print("min bulk ESS, max R-hat: over intercept, slope, county SD, sigma and the 30 county "
          "effects")
    print()
    rows = [C.system_row(r, bambi) for r in results]
    print(C.table(C.SYSTEM_HEADER, rows))
    print()
    details = []
    for r in results:
        if not r.get("ok"):
            continue
        extra = ""
        if "compressed" in r:
            extra = (f"compressed={r['compressed']}"
                     + (f" ({r['n_rows']} rows -> {r['n_cells']} cells)" if r["compressed"]
                        else "")
                     + "; parametrization "
                     + ", ".join(f"{g}: {c}" for g, c in r["parametrization"].items()))
        details.append(
            f"- {r['name']}: backend {r.get('backend')}, cores {r.get('cores', '-')}, "
            f"import {C.fmt(r.get('import_s'))} s, process total {C.fmt(r['process_s'])} s, "
            f"mean leapfrog steps/draw {C.fmt(r.get('mean_steps'))}, worst-ESS parameter "
            f"{r.get('min_ess_param', '-')}" + (f"; {extra}" if extra else "")
        )
    print("\n".join(details))
    for r in results:
        if r.get("ok") and "loo_s" in r:
            print(f"- {r['name']}: PSIS-LOO over {r['loo_n']} observations x "
                  f"{chains * draws} draws in chunks of {r['loo_chunk']} rows: "
                  f"{r['loo_s']:.1f} s, elpd_loo {r['loo_elpd']:.1f}; peak RSS "
                  f"{r['rss_before_loo_mb']:.0f} MB before LOO, {r['rss_self_mb']:.0f} MB after "
                  f"(a dense rows x draws float64 matrix would be "
                  f"{8.0 * r['loo_n'] * chains * draws / 1e9:.1f} GB)")
    print(f"\n(total benchmark time {total:.0f} s; load average at end: {C.load_average()})")

    if default and default.get("ok"):
        print("\n## hiermodel default fit: summary()")
        print(default["summary"])

    z_worst = None
    if default and uncompressed and default.get("ok") and uncompressed.get("ok"):
        print("\n## Posterior means: hiermodel default (compressed="
              f"{default.get('compressed')}) vs compress=False")
        rows, z_worst = C.mean_comparison(default["params"], uncompressed["params"])
        print(C.table(["parameter", "default", "compress=False", "|diff|",
                       "MCSE (combined)", "|diff|/MCSE"], rows))
        print(f"max |diff|/MCSE = {z_worst:.2f} over {len(rows)} parameters "
              "(MCSE = sqrt(mcse_default^2 + mcse_uncompressed^2), ArviZ mcse of the mean)")

    print("\n## Must-show checks (issue 7)")
    full = n == 110_789 and draws == 1000 and chains == 4 and not args.quick
    if not full:
        print("(not the full-size configuration: the numbers are shown for information only)")
    checks: list[tuple[str, bool | None, str]] = []
    if default and default.get("ok"):
        wall = default["build_s"] + default["fit_s"]
        checks.append(("R-hat <= 1.01", default["max_rhat"] <= 1.01,
                       f"max R-hat {default['max_rhat']:.3f}"))
        checks.append(("min bulk ESS >= 1000", default["min_ess_bulk"] >= 1000,
                       f"min bulk ESS {default['min_ess_bulk']:.0f}"))
        checks.append(("end to end <= 15 s on 2 cores", wall <= 15,
                       f"wall {wall:.1f} s (build + compile + sampling); with Python imports "
                       f"{wall + default['import_s']:.1f} s; whole process "
                       f"{default['process_s']:.1f} s"))
        if bambi and bambi.get("ok"):
            bw = bambi["build_s"] + bambi["fit_s"]
            ratio = bw / wall
            ess_ratio = (default["min_ess_bulk"] / wall) / (bambi["min_ess_bulk"] / bw)
            checks.append((">= 50x plain Bambi wall", ratio >= 50,
                           f"{bw:.1f} s / {wall:.1f} s = {ratio:.1f}x"))
            checks.append((">= 100x plain Bambi ESS/s", ess_ratio >= 100,
                           f"{default['min_ess_bulk'] / wall:.1f} / "
                           f"{bambi['min_ess_bulk'] / bw:.2f} = {ess_ratio:.1f}x"))
        else:
            checks.append((">= 50x / 100x plain Bambi", None, "plain Bambi not run"))
        if z_worst is not None:
            checks.append(("means within 2 MCSE of compress=False", z_worst <= 2,
                           f"max |diff|/MCSE {z_worst:.2f}"))
        peak = max(default["rss_self_mb"], default.get("rss_children_mb", 0.0))
        if memory and memory.get("ok"):
            peak4 = max(memory["rss_self_mb"], memory.get("rss_children_mb", 0.0))
            dense_gb = 8.0 * n * draws * chains / 1e9
            checks.append(("peak memory not linear in draws x rows", peak4 < 2 * peak,
                           f"peak RSS {peak:.0f} MB at {draws} draws, {peak4:.0f} MB at "
                           f"{4 * draws} draws (x{peak4 / peak:.2f} for 4x draws; one dense "
                           f"rows x draws float64 matrix would be {dense_gb:.1f} GB)"))
        else:
            checks.append(("peak memory reported", True, f"peak RSS {peak:.0f} MB"))
    for name, ok, detail in checks:
        # the targets are defined for the full-size run only
        mark = "info" if not full else "n/a " if ok is None else "PASS" if ok else "MISS"
        print(f"[{mark}] {name}: {detail}")


if __name__ == "__main__":
    raise SystemExit(main())
