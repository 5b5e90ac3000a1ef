"""The analyst's loop, process start -> printed summary, side by side in one run (issue 15).

    python benchmarks/loop.py                      # sleepstudy (hiermodel vs plain Bambi),
                                                   # the talk's default fit, the README main job
                                                   # (this tree vs --previous)
    python benchmarks/loop.py --only sleepstudy    # one workload
    python benchmarks/loop.py --previous /work/main --skip-bambi

Every system is one fresh Python process (``subprocess``), so "wall" includes interpreter
start, imports and compilation, exactly what a new user waits for. Peak memory is the
process's own maximum resident set (``os.wait4``; PyMC's sampler workers are children of it
and are not added, nutpie samples in threads). Fits print, after their summary, one JSON line
with the in-process split (import, build, fit = compile + tune + sample, PyMC's or nutpie's
sampling time where reported) and convergence (min bulk ESS and max R-hat over the population
parameters, group SDs and sigma; ESS/s = min bulk ESS / fit seconds). The comparison reports
its own split (fits, PSIS-LOO, leave-one-group-out) in comparison.json's ``seconds``.

"previous" runs the same command with ``PYTHONPATH`` set to ``--previous`` (default
``/work/main``: hiermodel before this change), so the ratio shows what the change bought on
the same machine in the same run. hiermodel runs twice more: "cached compile" after an
unreported warm-up run (the analyst's second fit of a model, nutpie's compile loaded from
``hiermodel.backend.nutpie_cache``), and "compile cache off" (``HIERMODEL_NUTPIE_CACHE=0``:
nutpie compiles from scratch, what the first fit of a new model costs). On a shared CPU,
absolute times are noisy; compare ratios within one run. Crossed designs: ``benchmarks/crossed.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

HIERMODEL_FIT = """
import json, time
t0 = time.perf_counter()
import hiermodel as hm
import arviz as az
data = hm.datasets.{dataset}({dataset_args})
t1 = time.perf_counter()
m = hm.model({formula!r}, data{model_args})
t2 = time.perf_counter()
fit = m.fit(seed=1)
t3 = time.perf_counter()
print(fit.summary())
vars_ = [v for v in fit.idata.posterior.data_vars if not v.startswith(("r_", "a_", "cor_"))]
s = az.summary(fit.idata, var_names=vars_, kind="diagnostics")
print("LOOPJSON " + json.dumps({{"import": t1 - t0, "build": t2 - t1, "fit": t3 - t2,
    "sampling": fit.sampler["seconds"], "backend": fit.sampler["backend"],
    "compile": fit.sampler.get("compile_seconds"),
    "ess": float(s["ess_bulk"].min()), "rhat": float(s["r_hat"].max())}}))
"""

BAMBI_FIT = """
import json, time
t0 = time.perf_counter()
import bambi as bmb
import arviz as az
import hiermodel as hm
data = hm.datasets.{dataset}({dataset_args})
t1 = time.perf_counter()
m = bmb.Model({formula!r}, data)
t2 = time.perf_counter()
idata = m.fit(random_seed=1)
t3 = time.perf_counter()
s = az.summary(idata, kind="diagnostics")
print(az.summary(idata))
keep = [i for i in s.index if "|" not in i or i.endswith("_sigma") or "_sigma[" in i]
s = s.loc[keep]
print("LOOPJSON " + json.dumps({{"import": t1 - t0, "build": t2 - t1, "fit": t3 - t2,
    "sampling": float(idata.posterior.attrs.get("sampling_time", float("nan"))),
    "backend": "pymc (bambi)", "ess": float(s["ess_bulk"].min()),
    "rhat": float(s["r_hat"].max())}}))
"""

SLEEP = {"dataset": "sleepstudy", "dataset_args": "", "formula": "Reaction ~ Days + (Days|Subject)",
         "model_args": ""}
TALK = {"dataset": "maize_yield", "dataset_args": "seed=0",
        "formula": "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)",
        "model_args": ", priors='maize_talk', center_predictors=False"}


def run(cmd: list[str], pythonpath: Path, timeout: float,
        extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one system: wall seconds, peak RSS (MB), its JSON line or the comparison's
    seconds, exit code."""
    env = dict(os.environ, PYTHONPATH=str(pythonpath), MPLBACKEND="Agg", **(extra_env or {}))
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        # cwd is the tree under test: ``python -c`` puts the cwd first on sys.path
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=pythonpath)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        out.seek(0)
        text = out.read()
    result: dict[str, Any] = {"wall": wall, "rss_mb": usage.ru_maxrss / 1024.0,
                              "rc": os.waitstatus_to_exitcode(status)}
    for line in text.splitlines():
        if line.startswith("LOOPJSON "):
            result.update(json.loads(line[len("LOOPJSON "):]))
    if "--out" in cmd:  # the comparison's own split: fits, PSIS-LOO, leave-one-group-out
        for path in Path(cmd[cmd.index("--out") + 1]).glob("**/comparison.json"):
            seconds = json.loads(path.read_text())["settings"]["seconds"]
            result.update({k: float(v) for k, v in seconds.items()})
    if result["rc"] != 0:
        result["error"] = text[-2000:]
    return result


def fit_cmd(template: str, workload: dict[str, str]) -> list[str]:
    return [sys.executable, "-c", template.format(**workload)]


def compare_cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "hiermodel", "compare", "specs/maize_yield.toml", "--out",
            str(out)]


def fmt(x: Any, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and x != x):
        return "–"
    return f"{x:,.{digits}f}" if isinstance(x, float) else str(x)


def ess_per_s(r: dict[str, Any]) -> float:
    return float(r.get("ess", float("nan")) / r["fit"]) if "fit" in r else float("nan")


def row(name: str, r: dict[str, Any], ref: dict[str, Any] | None) -> str:
    ratio = f"{r['wall'] / ref['wall']:.2f}" if ref else "1.00"
    ess_ratio = f"{ess_per_s(r) / ess_per_s(ref):.2f}" if ref else "1.00"
    cells = [name, fmt(r["wall"]), ratio, fmt(r.get("build"), 2), fmt(r.get("compile") or "–"),
             fmt(r.get("fit")), fmt(r.get("sampling")), r.get("backend", "–"),
             fmt(r.get("ess"), 0), fmt(ess_per_s(r)), ess_ratio, fmt(r.get("rhat"), 3),
             fmt(r.get("leave-one-group-out")), fmt(r["rss_mb"], 0),
             "" if r["rc"] == 0 else f"exit {r['rc']}"]
    return "| " + " | ".join(cells) + " |"


HEADER = ("| system | wall s | wall ratio | build s | compile s | fit s (compile+tune+sample) | "
          "sampling s | backend | min bulk ESS | ESS/s | ESS/s ratio | max R-hat | LOGO s | "
          "peak RSS MB | note |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=("sleepstudy", "talk", "main"), action="append")
    p.add_argument("--previous", type=Path, default=Path("/work/main"),
                   help="source tree of the previous default (PYTHONPATH for 'previous')")
    p.add_argument("--skip-bambi", action="store_true")
    p.add_argument("--skip-previous", action="store_true")
    p.add_argument("--timeout", type=float, default=3600.0)
    args = p.parse_args()
    only = set(args.only or ("sleepstudy", "talk", "main"))
    load = os.getloadavg()
    print(f"load average at start: {load[0]:.1f} (CPUs: {os.cpu_count()})\n")
    systems: list[tuple[str, str, list[str], Path, dict[str, str]]] = []
    cold = {"HIERMODEL_NUTPIE_CACHE": "0"}

    def ours(workload: str, cmd: list[str]) -> None:
        systems.append((workload, "warm-up", cmd, ROOT, {}))
        systems.append((workload, "hiermodel, cached compile", cmd, ROOT, {}))
        systems.append((workload, "hiermodel, compile cache off", cmd, ROOT, cold))
        if not args.skip_previous:
            systems.append((workload, "hiermodel previous", cmd, args.previous, {}))

    if "sleepstudy" in only:
        ours("sleepstudy", fit_cmd(HIERMODEL_FIT, SLEEP))
        if not args.skip_bambi:
            systems.append(("sleepstudy", "plain Bambi", fit_cmd(BAMBI_FIT, SLEEP), ROOT, {}))
    if "talk" in only:
        ours("talk", fit_cmd(HIERMODEL_FIT, TALK))
    with tempfile.TemporaryDirectory() as tmp:
        if "main" in only:
            ours("main job", compare_cmd(Path(tmp) / "out"))
        results: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for workload, name, cmd, path, extra_env in systems:
            print(f"running {workload}: {name} ...", flush=True)
            if "--out" in cmd:  # a fresh output folder, so no run reuses an earlier one
                cmd = [*cmd[:-1], str(Path(tmp) / name.replace(" ", "_").replace(",", ""))]
            result = run(cmd, path, args.timeout, extra_env)
            if name != "warm-up":
                results.setdefault(workload, []).append((name, result))
    for workload, rows in results.items():
        print(f"\n{workload} (ratios: wall and ESS/s / the first system's; compile: nutpie's "
              f"numba compile, inside fit; PyMC compiles inside its sampling)\n{HEADER}")
        ref = rows[0][1]
        for name, r in rows:
            print(row(name, r, None if r is ref else ref))
            if "error" in r:
                print(f"    {name} failed: {r['error'][-300:]!r}")
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
