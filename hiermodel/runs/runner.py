"""Fitting and comparing a spec into run directories (reused while spec and data are unchanged)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hiermodel.console import Reporter, scope
from hiermodel.errors import RunError
from hiermodel.posterior.fitted import Fit
from hiermodel.runs.store import (
    FORMAT,
    MANIFEST,
    PROB,
    REPORT,
    REQUIRED_FILES,
    atomic_dir,
    compare_dir,
    data_hash,
    diagnostics_error,
    diagnostics_from_json,
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


def run_spec(spec: Spec | str | Path, refit: bool = False, strict: bool = False,
             progress: Progress | None = None, out: str | Path | None = None,
             progressbar: bool = False) -> RunFit:
    """Fit ``spec`` (a :class:`Spec` or a spec file path) into its run directory.

    If the run directory already holds a complete run of the same spec and data (equal
    :meth:`Spec.hash` and :func:`data_hash`), it is loaded instead of sampled (``progress``
    and the log say ``reused run <dir> (spec and data unchanged)``); ``refit=True`` always
    samples. ``out`` replaces the spec's output directory (the run goes to ``out/fit``).
    With ``strict``, a fit that fails the diagnostics gate raises :class:`DiagnosticsError`
    (exit code 2) after the run is written. ``progress`` is called with one-line messages;
    ``progressbar`` shows PyMC's bar while sampling.

    Returns a :class:`RunFit` (a :class:`~hiermodel.posterior.fitted.Fit`).
    """
    spec = _as_spec(spec)
    target = run_dir(spec, out)
    t0 = time.perf_counter()
    frame = spec.load_data()
    t_data = time.perf_counter() - t0
    spec_hash, digest = spec.hash(), data_hash(frame)

    reporter = Reporter(progress)
    manifest = None if refit else reusable(target, spec_hash, digest)
    if manifest is not None:
        reporter.note(f"reused run {target} (spec and data unchanged)")
        result = RunFit(target, manifest, reused=True)
        diag = result.diagnostics()
        if strict and not diag.get("ok", False):
            raise diagnostics_error(spec.label, diag, target)
        return result

    t1 = time.perf_counter()
    built = spec.build(frame)
    t_build = time.perf_counter() - t1
    kwargs = spec.sampler_kwargs()
    if kwargs["seed"] is None:  # record a seed so the run can be repeated exactly
        kwargs["seed"] = int.from_bytes(os.urandom(4), "little") & 0x7FFFFFFF
    s = spec.sampler
    t2 = time.perf_counter()
    with reporter.stage("fit", 1).step(
            spec.label, f"fitting {spec.label}: {spec.model.formula}  ({s.chains} chains x "
                        f"{s.draws} draws after {s.tune} tune, backend {s.backend}, "
                        f"seed {kwargs['seed']}; {len(frame)} rows)"):
        fit = built.fit(progressbar=progressbar, **kwargs)
    t_sample = time.perf_counter() - t2
    timings = {"load_data": t_data, "build": t_build, "sample": t_sample}
    manifest = write_run(fit, spec, target, spec_hash=spec_hash, data_digest=digest,
                         timings=timings, frame=frame, started=t0)
    diag = diagnostics_from_json(manifest["diagnostics"])
    reporter.note(f"wrote run {target} ({manifest['timings']['total']:.1f} s; diagnostics "
                  f"{'ok' if diag['ok'] else 'CHECK: ' + problems_text(diag)})")
    result = RunFit(target, manifest, fit=fit)
    if strict and not diag.get("ok", False):
        raise diagnostics_error(spec.label, diag, target)
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
                progress: Progress | None = None, progressbar: bool = False) -> Comparison:
    """Run :func:`hiermodel.comparison.compare` on a spec: its formula, data, family, priors,
    ``[compare]`` options and ``[sampler]`` settings; write the comparison (tables, figures,
    ``report.txt``, ``manifest.json``) atomically to ``<output dir>/compare``.

    ``progress`` receives messages such as ``<spec label>: fitting pooled (1/3)``; the
    listeners of :mod:`hiermodel.console` receive the events tagged with the spec's label.
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
                draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed, backend=s.backend,
                logo=c.logo, logo_max_groups=c.logo_max_groups, logo_folds=c.logo_folds,
                logo_draws=c.logo_draws,
                logo_tune=c.logo_tune, progress=prefixed, dropna=m.dropna, fit_options=fit_options,
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
                    "seed": s.seed,
                    "backend": s.backend,
                    "seconds": time.perf_counter() - t0,
                    "versions": package_versions(),
                    "files": [*sorted(p.name for p in written), "spec.toml", MANIFEST],
                })
        except OSError as exc:
            raise RunError(f"cannot write comparison {target}: {exc}") from exc
        reporter.note(f"wrote comparison {target} ({time.perf_counter() - t0:.1f} s)")
    return comparison

