"""Fitting and comparing a spec into run directories (reused while spec and data are unchanged)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hiermodel.console import Reporter, scope
from hiermodel.errors import InternalError, RunError
from hiermodel.posterior.fitted import Fit
from hiermodel.runs.store import (
    FORMAT,
    MANIFEST,
    PROB,
    REPORT,
    REQUIRED_FILES,
    atomic_dir,
    checks_from_json,
    compare_dir,
    data_hash,
    diagnostics_error,
    file_name,
    package_versions,
    problems_text,
    read_json,
    run_dir,
    write_json,
)
from hiermodel.runs.stored import RunFit
from hiermodel.spec import Spec, load_spec

if TYPE_CHECKING:
    import arviz as az

    from hiermodel.comparison import Comparison

log = logging.getLogger("hiermodel.runs")

Progress = Callable[[str], None]


def tell(progress: Progress | None, message: str) -> None:
    """Report ``message`` as a progress note (the ``progress`` callback, the listeners of
    :mod:`hiermodel.console` and the ``hiermodel.progress`` logger)."""
    Reporter(progress).note(message)


def _as_spec(spec: Spec | str | Path) -> Spec:
    return spec if isinstance(spec, Spec) else load_spec(spec)


def reusable(directory: Path, spec_hash: str, data_digest: str) -> dict[str, Any] | None:
    """The manifest of a complete run at ``directory`` made from the same spec and data."""
    if not (directory / MANIFEST).is_file():
        return None
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    if manifest.get("format") != FORMAT or manifest.get("kind", "fit") != "fit":
        return None
    if manifest.get("spec_hash") != spec_hash or manifest.get("data_hash") != data_digest:
        return None
    if any(not (directory / f).is_file() for f in REQUIRED_FILES):
        return None
    return dict(manifest)


def spec_seed(spec: Spec) -> int:
    """The seed of a spec's fits: ``[sampler] seed``, or one derived from the spec's hash, so
    a spec without a seed still gives the same draws on every run, serially or on a cluster."""
    if spec.sampler.seed is not None:
        return int(spec.sampler.seed)
    return int(spec.hash()[:8], 16) & 0x7FFFFFFF


@dataclass
class RunJob:
    """What :func:`run_spec` knows before sampling: the data, its hashes, where the run goes and
    a reusable stored run (``manifest``)."""

    spec: Spec
    target: Path
    frame: pd.DataFrame
    spec_hash: str
    data_digest: str
    started: float
    load_seconds: float
    manifest: dict[str, Any] | None


@dataclass
class SpecFit:
    """A spec's fit with the seconds spent building and sampling it."""

    fit: Fit
    build_seconds: float
    sample_seconds: float


def prepare_run(spec: Spec, refit: bool = False, out: str | Path | None = None) -> RunJob:
    """Load the spec's data and look for a stored run of the same spec and data."""
    target = run_dir(spec, out)
    t0 = time.perf_counter()
    frame = spec.load_data()
    load_seconds = time.perf_counter() - t0
    spec_hash, digest = spec.hash(), data_hash(frame)
    manifest = None if refit else reusable(target, spec_hash, digest)
    return RunJob(spec, target, frame, spec_hash, digest, t0, load_seconds, manifest)


def fit_spec(spec: Spec, frame: pd.DataFrame, progressbar: bool = False) -> SpecFit:
    """Build and sample a spec on ``frame`` with :func:`spec_seed`: the task that runs
    in-process or on a Dask worker (same draws either way)."""
    t1 = time.perf_counter()
    built = spec.build(frame)
    t2 = time.perf_counter()
    kwargs = spec.sampler_kwargs()
    kwargs["seed"] = spec_seed(spec)
    fit = built.fit(progressbar=progressbar, **kwargs)
    return SpecFit(fit, t2 - t1, time.perf_counter() - t2)


def fitting_message(job: RunJob) -> str:
    """``fitting <spec>: <formula> (4 chains x 1000 draws ...)``."""
    spec, s = job.spec, job.spec.sampler
    return (f"fitting {spec.label}: {spec.model.formula}  ({s.chains} chains x {s.draws} draws "
            f"after {s.tune} tune, backend {s.backend}, seed {spec_seed(spec)}; "
            f"{len(job.frame)} rows)")


def reuse_run(job: RunJob, progress: Progress | None = None) -> RunFit:
    """The stored run that :func:`prepare_run` found reusable."""
    if job.manifest is None:
        raise InternalError(f"{job.target}: no reusable run to load")
    tell(progress, f"reused run {job.target} (spec and data unchanged)")
    return RunFit(job.target, job.manifest, reused=True)


def finish_run(job: RunJob, fitted: SpecFit, progress: Progress | None = None) -> RunFit:
    """Write a fitted spec's run directory."""
    timings = {"load_data": job.load_seconds, "build": fitted.build_seconds,
               "sample": fitted.sample_seconds}
    manifest = write_run(fitted.fit, job.spec, job.target, spec_hash=job.spec_hash,
                         data_digest=job.data_digest, timings=timings, frame=job.frame,
                         started=job.started)
    verdict = problems_text(checks_from_json(manifest["checks"]))
    tell(progress, f"wrote run {job.target} ({manifest['timings']['total']:.1f} s; diagnostics "
                   f"{verdict if verdict == 'ok' else 'FAILED: ' + verdict})")
    return RunFit(job.target, manifest, fit=fitted.fit)


def run_spec(spec: Spec | str | Path, refit: bool = False, strict: bool = False,
             progress: Progress | None = None, out: str | Path | None = None,
             progressbar: bool = False) -> RunFit:
    """Fit ``spec`` (a :class:`Spec` or a spec file path) into its run directory.

    If the run directory already holds a complete run of the same spec and data (equal
    :meth:`Spec.hash` and :func:`data_hash`), it is loaded instead of sampled (``progress``
    and the log say ``reused run <dir> (spec and data unchanged)``); ``refit=True`` always
    samples. ``out`` replaces the spec's output directory (the run goes to ``out/fit``).
    With ``strict``, a fit that fails the diagnostics gate raises :class:`ConvergenceError`
    (exit code 2) after the run is written. ``progress`` is called with one-line messages;
    ``progressbar`` shows PyMC's bar while sampling. The seed is :func:`spec_seed`.

    Returns a :class:`RunFit` (a :class:`~hiermodel.posterior.fitted.Fit`).
    """
    job = prepare_run(_as_spec(spec), refit, out)
    if job.manifest is not None:
        result = reuse_run(job, progress)
    else:
        with Reporter(progress).stage("fit", 1).step(job.spec.label, fitting_message(job)):
            fitted = fit_spec(job.spec, job.frame, progressbar)
        result = finish_run(job, fitted, progress)
    table = result.checks()
    if strict and (table["status"] == "failed").any():
        raise diagnostics_error(job.spec.label, table, job.target)
    return result


def _plot_vars(idata: az.InferenceData) -> list[str]:
    post = idata.posterior
    return [str(v) for v in post.data_vars
            if not str(v).startswith("r_") and str(v) != "Intercept_c"]


def _plots(fit: Fit, directory: Path) -> dict[str, str]:
    """trace.png and forest.png of the population-level parameters and SDs; a failing plot is
    recorded in the manifest, not fatal."""
    import arviz as az
    import matplotlib

    if "MPLBACKEND" not in os.environ:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = _plot_vars(fit.idata)
    status: dict[str, str] = {}
    for file, draw in (
        ("trace.png", lambda: az.plot_trace(fit.idata, var_names=names, compact=True)),
        ("forest.png", lambda: az.plot_forest(fit.idata, var_names=names, combined=True,
                                              hdi_prob=PROB)),
    ):
        try:
            axes = draw()
            first = axes.ravel()[0] if hasattr(axes, "ravel") else axes
            fig = first.get_figure()
            fig.tight_layout()
            fig.savefig(directory / file, dpi=100)
            plt.close(fig)
            status[file] = "ok"
        except Exception as exc:  # plotting must never lose a finished fit
            log.warning("could not draw %s: %s", file, exc)
            status[file] = f"failed: {type(exc).__name__}: {exc}"
            plt.close("all")
    return status


def _report(fit: Fit, path: Path) -> str:
    """Write the fit's HTML report; like the plots, a failure is recorded, not fatal."""
    from hiermodel.report import write_fit_report

    try:
        write_fit_report(fit, path)
    except Exception as exc:  # the report must never lose a finished fit
        log.warning("could not write %s: %s", path.name, exc)
        return f"failed: {type(exc).__name__}: {exc}"
    return "ok"


def write_run(fit: Fit, spec: Spec, target: Path, *, spec_hash: str, data_digest: str,
              timings: dict[str, float], frame: pd.DataFrame | None = None,
              started: float | None = None) -> dict[str, Any]:
    """Write ``fit`` as a complete run directory at ``target`` (atomically); returns the
    manifest."""
    t0 = time.perf_counter()
    try:
        with atomic_dir(target) as tmp:
            summary = fit.summary(PROB)
            (tmp / "summary.txt").write_text(str(summary) + "\n", encoding="utf-8")
            summary.fixef.to_csv(tmp / "fixef.csv")
            summary.varcorr.to_csv(tmp / "varcorr.csv", index=False)
            groups: dict[str, str] = {}
            for group in fit.model.info.group_terms:
                name = file_name(group)
                while name in groups.values():
                    name += "_"
                groups[group] = name
                fit.ranef(group, PROB).to_csv(tmp / f"ranef_{name}.csv", index=False)
                fit.coef(group, PROB).to_csv(tmp / f"coef_{name}.csv", index=False)
            table = fit.prior_summary()
            table.to_frame().to_csv(tmp / "prior_summary.csv", index=False)
            write_json(tmp / "prior_summary.json",
                        {"template": table.template, "rows": table.to_records()})
            diag = dict(summary.diagnostics)
            write_json(tmp / "diagnostics.json", diag)
            fit.idata.to_netcdf(str(tmp / "posterior.nc"))
            plots = _plots(fit, tmp)
            report = _report(fit, tmp / REPORT)
            (tmp / "spec.toml").write_text(spec.text, encoding="utf-8")
            write_json(tmp / "spec.json", spec.to_dict())
            timings = dict(timings)
            timings["write"] = time.perf_counter() - t0
            timings["total"] = time.perf_counter() - (started if started is not None else t0)
            prepared = fit.model.prepared
            manifest = {
                "format": FORMAT,
                "kind": "fit",
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "spec": {"file": str(spec.file), "label": spec.label,
                         "dir": str(spec.directory), "name": spec.name},
                "spec_hash": spec_hash,
                "data_hash": data_digest,
                "data": {"rows": len(frame) if frame is not None else None,
                         "observations": int(prepared.n),
                         "columns": [str(c) for c in frame.columns] if frame is not None
                         else None},
                "formula": fit.formula,
                "family": fit.model.family.name,
                "link": fit.model.family.link,
                "seed": fit.sampler.get("seed"),
                "seed_from_spec": spec.sampler.seed,
                "backend": fit.sampler.get("backend"),
                "sampler": fit.sampler,
                "prob": PROB,
                "timings": timings,
                "diagnostics": diag,
                "checks": fit.checks().to_dict("records"),
                "groups": groups,
                "plots": plots,
                "report": report,
                "versions": package_versions(),
                "files": [*sorted(p.name for p in tmp.iterdir()), MANIFEST],
            }
            write_json(tmp / MANIFEST, manifest)
    except OSError as exc:
        raise RunError(f"cannot write run {target}: {exc}") from exc
    return dict(read_json(target / MANIFEST))


# -- comparing the variants of a spec --------------------------------------------------------------

def run_compare(spec: Spec | str | Path, out: str | Path | None = None,
                progress: Progress | None = None, progressbar: bool = False,
                client: Any = None) -> Comparison:
    """Run :func:`hiermodel.comparison.compare` on a spec: its formula, data, family, priors,
    ``[compare]`` options and ``[sampler]`` settings; write the comparison (tables, figures,
    ``report.txt``, ``manifest.json``) atomically to ``<output dir>/compare``.

    ``progress`` receives messages such as ``<spec label>: fitting pooled (1/3)``; the
    listeners of :mod:`hiermodel.console` receive the events tagged with the spec's label.
    ``client`` runs the variant fits and refits as Dask tasks (see :mod:`hiermodel.cluster`);
    the seed is :func:`spec_seed`, so the result is the same in this process and on a cluster.
    """
    from hiermodel.comparison import compare

    spec = _as_spec(spec)
    target = compare_dir(spec, out)
    t0 = time.perf_counter()
    frame, _ = spec.check()
    c, s, m = spec.compare, spec.sampler, spec.model
    label = spec.label
    if m.aux:
        raise RunError(f"{label}: [model.aux]: the comparison of pooled, unpooled and "
                       "hierarchical variants does not take formulas for auxiliary parameters "
                       "yet; remove [model.aux] for `hiermodel compare` (it works for `fit`)")

    def prefixed(message: str) -> None:
        if progress is not None:
            progress(f"{label}: {message}")

    reporter = Reporter(prefixed)
    with scope(label):
        reporter.note(f"comparing variants of {m.formula} ({len(frame)} rows; {s.chains} chains x "
                      f"{s.draws} draws after {s.tune} tune per fit)")
        fit_options: dict[str, Any] = {"center_predictors": m.center_predictors,
                                       "parametrization": m.parametrization_arg(),
                                       "compress": m.compress, "target_accept": s.target_accept,
                                       "progressbar": progressbar}
        if s.cores is not None:
            fit_options["cores"] = s.cores
        with spec.located("[compare]"):
            comparison = compare(
                spec.weighted_formula(), frame, family=m.family, link=m.link,
                priors=spec.prior_spec(),
                variants=dict(c.variants) or None, group=c.group, effect=c.effect,
                draws=s.draws, tune=s.tune, chains=s.chains, seed=spec_seed(spec),
                backend=s.backend,
                logo=c.logo, logo_max_groups=c.logo_max_groups, logo_folds=c.logo_folds,
                logo_draws=c.logo_draws,
                logo_tune=c.logo_tune, progress=prefixed, dropna=m.dropna, fit_options=fit_options,
                client=client,
            )
        try:
            with atomic_dir(target) as tmp:
                written = comparison.write(tmp)
                (tmp / "spec.toml").write_text(spec.text, encoding="utf-8")
                write_json(tmp / MANIFEST, {
                    "format": FORMAT,
                    "kind": "compare",
                    "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    "spec": {"file": str(spec.file), "label": spec.label,
                             "dir": str(spec.directory), "name": spec.name},
                    "spec_hash": spec.hash(),
                    "data_hash": data_hash(frame),
                    "formula": m.formula,
                    "variants": dict(comparison.formulas),
                    "seed": spec_seed(spec),
                    "backend": s.backend,
                    "seconds": time.perf_counter() - t0,
                    "versions": package_versions(),
                    "files": [*sorted(p.name for p in written), "spec.toml", MANIFEST],
                })
        except OSError as exc:
            raise RunError(f"cannot write comparison {target}: {exc}") from exc
        reporter.note(f"wrote comparison {target} ({time.perf_counter() - t0:.1f} s)")
    return comparison

