"""Shared machinery for the benchmark scripts: one subprocess per system, timing, diagnostics.

Every system (hiermodel default, hiermodel uncompressed, plain Bambi, ...) runs in its own
Python subprocess, so that

* peak memory is per system: the worker reports ``getrusage(RUSAGE_SELF).ru_maxrss`` (its own
  peak resident set) and ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the largest of its finished
  child processes: PyMC's multiprocess sampler workers; nutpie samples in threads, so it has
  none);
* one system's imports, compiled-function caches and garbage do not leak into the next one.

Times are measured inside the worker with ``time.perf_counter``:

* ``import``: importing hiermodel / bambi / pymc (not part of "wall");
* ``build``: formula -> data -> design -> PyMC graph (``hm.model`` / ``bmb.Model``);
* ``fit``: compiling log-p and gradient, initialising, tuning and sampling, up to the
  InferenceData being returned (``Model.fit`` / ``bmb.Model.fit``);
* ``wall`` = build + fit: the end-to-end cost of a fit in a session where the libraries are
  already imported; ``sampling`` is PyMC's own ``sampling_time`` attribute when present
  (pure MCMC loop), so ``fit - sampling`` is compile + initialisation + conversion.

Convergence numbers are computed here with ArviZ on a common set of parameters, so systems with
different variable names are compared on the same quantities: the intercept, the slope, the
group-level SD(s), sigma and every group-level deviation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

# --------------------------------------------------------------------------------------------
# worker side
# --------------------------------------------------------------------------------------------


def rss_mb() -> dict[str, float]:
    """Peak RSS of this process and of its largest finished child, in MB (Linux: KB units)."""
    scale = 1024.0 if sys.platform != "darwin" else 1024.0 * 1024.0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    return {"rss_self_mb": own, "rss_children_mb": kids}


def param_stats(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """mean, sd, MCSE of the mean, bulk/tail ESS and R-hat of each (chain, draw) array."""
    import arviz as az

    out: dict[str, dict[str, float]] = {}
    for name, a in arrays.items():
        a = np.asarray(a, dtype=float)
        n_chain = a.shape[0]
        out[name] = {
            "mean": float(a.mean()),
            "sd": float(a.std(ddof=1)),
            "mcse_mean": float(np.ravel(az.mcse(a, method="mean"))[0]),
            "ess_bulk": float(np.ravel(az.ess(a, method="bulk"))[0]),
            "ess_tail": float(np.ravel(az.ess(a, method="tail"))[0]),
            "r_hat": float(np.ravel(az.rhat(a))[0]) if n_chain > 1 else float("nan"),
        }
    return out


def canonical_hiermodel(fit: Any) -> dict[str, np.ndarray]:
    """(chain, draw) arrays of the common parameters from a hiermodel Fit (lme4 names)."""
    post = fit.idata.posterior
    design = fit.model.design
    out: dict[str, np.ndarray] = {}
    if design.has_intercept:
        out["(Intercept)"] = np.asarray(post["Intercept"].values)
    if design.x_names:
        b = np.asarray(post["b"].values)
        for j, name in enumerate(design.x_names):
            out[name] = b[..., j]
    from hiermodel.naming import safe

    for group, terms in fit.model.info.group_terms.items():
        g = safe(group)
        sd = np.asarray(post[f"sd_{g}"].values)
        r = post[f"r_{g}"]
        levels = [str(v) for v in r[r.dims[2]].values]
        rv = np.asarray(r.values)
        for k, term in enumerate(terms):
            label = "" if len(terms) == 1 else f" {term}"
            out[f"sd_{group}{label}"] = sd[..., k]
            for j, level in enumerate(levels):
                out[f"r_{group}[{level}]{label}"] = rv[:, :, j, k]
    if "sigma" in post:
        out["sigma"] = np.asarray(post["sigma"].values)
    return out


def canonical_bambi(idata: Any, slopes: dict[str, str], groups: list[str]) -> dict[str, np.ndarray]:
    """The same parameters from a plain Bambi fit of ``y ~ x + (1|g) + ...``.

    ``slopes`` maps Bambi's variable name to the lme4 name (``used_hybrid_seeds`` ->
    ``used_hybrid_seedsTRUE``); ``groups`` are the grouping factors of ``(1|g)`` terms.
    """
    post = idata.posterior
    out: dict[str, np.ndarray] = {"(Intercept)": np.asarray(post["Intercept"].values)}
    for bname, lname in slopes.items():
        v = np.asarray(post[bname].values)
        out[lname] = v.reshape(v.shape[0], v.shape[1], -1)[..., 0]
    for group in groups:
        out[f"sd_{group}"] = np.asarray(post[f"1|{group}_sigma"].values)
        r = post[f"1|{group}"]
        levels = [str(v) for v in r[r.dims[2]].values]
        rv = np.asarray(r.values)
        for j, level in enumerate(levels):
            out[f"r_{group}[{level}]"] = rv[:, :, j]
    out["sigma"] = np.asarray(post["sigma"].values)
    return out


def sampler_stats(idata: Any) -> dict[str, float]:
    """Divergences, mean leapfrog steps per draw and PyMC's sampling_time (if recorded)."""
    out: dict[str, float] = {"divergences": float("nan"), "mean_steps": float("nan"),
                             "mean_tree_depth": float("nan"), "sampling_s": float("nan")}
    if "sample_stats" in idata.groups():
        ss = idata.sample_stats
        if "diverging" in ss:
            out["divergences"] = float(np.asarray(ss["diverging"].values).sum())
        if "n_steps" in ss:
            out["mean_steps"] = float(np.asarray(ss["n_steps"].values).mean())
        if "tree_depth" in ss:
            out["mean_tree_depth"] = float(np.asarray(ss["tree_depth"].values).mean())
        elif "depth" in ss:
            out["mean_tree_depth"] = float(np.asarray(ss["depth"].values).mean())
    t = idata.posterior.attrs.get("sampling_time")
    if t is not None:
        out["sampling_s"] = float(t)
    return out


Runners = Mapping[str, Callable[[dict[str, Any]], dict[str, Any]]]


def worker_main(cfg: dict[str, Any], runners: Runners) -> None:
    """Run one system described by ``cfg`` and write its result JSON to ``cfg['out']``."""
    import warnings

    warnings.filterwarnings("ignore")
    result: dict[str, Any] = {"name": cfg["name"], "ok": False}
    try:
        result.update(runners[cfg["kind"]](cfg))
        result["ok"] = True
    except Exception as exc:  # report, do not crash the whole benchmark
        import traceback

        result["error"] = f"{type(exc).__name__}: {exc}"
        result["traceback"] = traceback.format_exc()
    result.update(rss_mb())
    with open(cfg["out"], "w") as fh:
        json.dump(result, fh, default=float)


def add_run_args(p: argparse.ArgumentParser, data_seed: int, data_seed_help: str) -> None:
    """The options every benchmark script shares (sampler settings, output, worker mode)."""
    p.add_argument("--draws", type=int, default=None)
    p.add_argument("--tune", type=int, default=None)
    p.add_argument("--seed", type=int, default=1, help="sampler seed")
    p.add_argument("--data-seed", type=int, default=data_seed, help=data_seed_help)
    p.add_argument("--json", default=None, help="also write all raw results to this file")
    p.add_argument("--verbose", action="store_true", help="show the workers' output")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)


def run_worker_if_asked(args: argparse.Namespace, runners: Runners) -> bool:
    """In a ``--worker`` subprocess run that one system and return True; else set up the
    parent's line-buffered output and return False."""
    if args.worker is not None:
        worker_main(json.loads(args.worker), runners)
        return True
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    return False


def summarise(params: dict[str, dict[str, float]]) -> dict[str, Any]:
    """min bulk ESS (and which parameter), max R-hat over all parameters."""
    ess = [p["ess_bulk"] for p in params.values() if np.isfinite(p["ess_bulk"])]
    rhat = [p["r_hat"] for p in params.values() if np.isfinite(p["r_hat"])]
    worst = min(params, key=lambda k: params[k]["ess_bulk"]) if params else ""
    return {
        "min_ess_bulk": float(min(ess)) if ess else float("nan"),
        "min_ess_param": worst,
        "max_rhat": float(max(rhat)) if rhat else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# parent side
# --------------------------------------------------------------------------------------------


def run_system(script: str, cfg: dict[str, Any], verbose: bool = False,
               timeout: float | None = None) -> dict[str, Any]:
    """Run ``script --worker <cfg>`` in a fresh interpreter and return its result dict
    (``cfg["pythonpath"]``: import hiermodel from that source tree, e.g. a previous commit)."""
    fd, path = tempfile.mkstemp(prefix="hm_bench_", suffix=".json")
    os.close(fd)
    cfg = dict(cfg, out=path)
    cmd = [sys.executable, script, "--worker", json.dumps(cfg)]
    start = time.perf_counter()
    print(f"  running {cfg['name']} ...", file=sys.stderr, flush=True)
    pipe = None if verbose else subprocess.PIPE
    # own session: on timeout the whole process group (incl. sampler workers) is killed
    env = dict(os.environ, PYTHONPATH=cfg["pythonpath"]) if cfg.get("pythonpath") else None
    proc = subprocess.Popen(cmd, stdout=pipe, stderr=pipe, text=True, start_new_session=True,
                            env=env)
    try:
        try:
            _, err = proc.communicate(timeout=timeout)
        except KeyboardInterrupt:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            elapsed = time.perf_counter() - start
            result = {"name": cfg["name"], "ok": False, "timed_out": True,
                      "error": f"timed out after {timeout:.0f} s (killed)"}
        else:
            elapsed = time.perf_counter() - start
            try:
                with open(path) as fh:
                    result = json.load(fh)
            except (OSError, json.JSONDecodeError):
                result = {"name": cfg["name"], "ok": False,
                          "error": f"worker exited with code {proc.returncode}"}
                if err:
                    result["traceback"] = err[-3000:]
    finally:
        if os.path.exists(path):
            os.remove(path)
    result["process_s"] = elapsed
    if not result.get("ok"):
        print(f"  {cfg['name']} FAILED: {result.get('error')}", file=sys.stderr)
        if result.get("traceback"):
            print(result["traceback"], file=sys.stderr)
    else:
        print(f"  {cfg['name']} done in {elapsed:.1f} s", file=sys.stderr, flush=True)
    return result


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        n_cpu = len(os.sched_getaffinity(0))
    except AttributeError:
        n_cpu = os.cpu_count() or 0
    return (f"{n_cpu} CPUs ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def load_average() -> str:
    """The 1/5/15-minute load averages (other work on the machine distorts wall times)."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "-"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def versions(packages: tuple[str, ...] = ("hiermodel", "bambi", "pymc", "pytensor", "nutpie",
                                          "arviz", "numpy")) -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for p in packages:
        try:
            parts.append(f"{p} {version(p)}")
        except PackageNotFoundError:
            parts.append(f"{p} -")
    return ", ".join(parts)


def fmt(x: Any, digits: int = 1) -> str:
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if not np.isfinite(x):
        return "-"
    if digits == 0:
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    """A plain Markdown table (readable in a terminal, pasteable into docs)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths, strict=True))) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


def system_row(r: dict[str, Any], ref: dict[str, Any] | None) -> list[str]:
    """One line of the main results table."""
    if not r.get("ok"):
        return [r["name"], "FAILED: " + str(r.get("error", ""))[:60]] + [""] * 11
    wall = r["build_s"] + r["fit_s"]
    ess = r["min_ess_bulk"]
    ess_s = ess / wall
    sampling = r.get("sampling_s", float("nan"))
    compile_init = r["fit_s"] - sampling if np.isfinite(sampling) else float("nan")
    wall_x = ess_x = "-"
    if ref is not None and ref.get("ok") and ref is not r:
        ref_wall = ref["build_s"] + ref["fit_s"]
        wall_x = f"{ref_wall / wall:.1f}x"
        ess_x = f"{ess_s / (ref['min_ess_bulk'] / ref_wall):.1f}x"
    rss = max(r["rss_self_mb"], r.get("rss_children_mb", 0.0))
    return [
        r["name"], fmt(wall), fmt(r["build_s"], 2), fmt(compile_init), fmt(sampling),
        fmt(ess, 0), fmt(ess_s, 1), fmt(r["max_rhat"], 3), fmt(r.get("divergences"), 0),
        fmt(r["rss_self_mb"], 0) + " / " + fmt(r.get("rss_children_mb"), 0),
        fmt(rss, 0), wall_x, ess_x,
    ]


SYSTEM_HEADER = ["system", "wall s", "build s", "compile+init s", "sampling s", "min bulk ESS",
                 "ESS/s", "max R-hat", "div", "RSS main/child MB", "peak MB", "wall x",
                 "ESS/s x"]
SYSTEM_NOTES = (
    "wall = build + compile + sampling, libraries already imported (import times listed below)\n"
    "sampling = PyMC's sampling_time (MCMC loop only; '-' when the backend does not record it)\n"
    "ESS/s = min bulk ESS / wall\n"
    "RSS main/child = peak RSS (getrusage maxrss) of the system's own process / of its largest\n"
    "  child process (PyMC's forked sampler workers, the C compiler); peak = the larger one\n"
    "wall x, ESS/s x = ratio vs plain Bambi (>1: better than Bambi)"
)


def mean_comparison(a: dict[str, dict[str, float]], b: dict[str, dict[str, float]]
                    ) -> tuple[list[list[str]], float]:
    """|mean_a - mean_b| in units of the combined MCSE sqrt(mcse_a^2 + mcse_b^2), per parameter."""
    rows = []
    worst = 0.0
    for name in a:
        if name not in b:
            continue
        pa, pb = a[name], b[name]
        diff = abs(pa["mean"] - pb["mean"])
        mcse = float(np.hypot(pa["mcse_mean"], pb["mcse_mean"]))
        z = diff / mcse if mcse > 0 else float("inf")
        worst = max(worst, z)
        rows.append([name, f"{pa['mean']:.4f}", f"{pb['mean']:.4f}", f"{diff:.4f}",
                     f"{mcse:.4f}", f"{z:.2f}"])
    return rows, worst


__all__ = [
    "SYSTEM_HEADER",
    "SYSTEM_NOTES",
    "canonical_bambi",
    "canonical_hiermodel",
    "fmt",
    "load_average",
    "machine",
    "mean_comparison",
    "param_stats",
    "rss_mb",
    "run_system",
    "sampler_stats",
    "summarise",
    "system_row",
    "table",
    "versions",
    "worker_main",
]
