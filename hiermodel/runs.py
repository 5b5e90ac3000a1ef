"""Run directories: a fitted spec on disk, reused while spec and data are unchanged.

:func:`run_spec` fits a :class:`~hiermodel.spec.Spec` into ``<output dir>/fit`` (default
``<spec dir>/runs/<spec stem>/fit``)::

    manifest.json        hashes, package versions, seed, backend, timings, diagnostics, files
    posterior.nc         fit.idata (NetCDF)
    summary.txt          print(fit.summary())
    fixef.csv            fit.fixef()
    varcorr.csv          fit.varcorr()
    ranef_<group>.csv    fit.ranef(group), one per grouping factor
    coef_<group>.csv     fit.coef(group)
    prior_summary.csv    fit.prior_summary() (+ prior_summary.json, exact)
    diagnostics.json     fit.diagnostics()
    trace.png, forest.png
    spec.toml, spec.json the spec as written and as parsed (to rebuild the model)

Writes are atomic: everything goes into a temporary directory next to the target, which is
renamed into place last; a directory without ``manifest.json`` is not a complete run. The
manifest records the spec hash (:meth:`Spec.hash`) and the data hash (:func:`data_hash`); a
second ``run_spec`` with both unchanged loads the stored run instead of sampling
(``refit=True`` forces a new fit).

:func:`load_run` returns a :class:`RunFit` — a :class:`~hiermodel.posterior.fitted.Fit` whose tables
come from the stored files and whose model is rebuilt from the stored spec only when something
needs it (``predict``, another ``prob``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from hiermodel.errors import DiagnosticsError, HiermodelError, RunError
from hiermodel.posterior.fitted import Fit
from hiermodel.spec import Spec, load_spec, parse_spec

if TYPE_CHECKING:
    import arviz as az

    from hiermodel.comparison import Comparison
    from hiermodel.models import Model

log = logging.getLogger("hiermodel.runs")

Progress = Callable[[str], None]

FORMAT = 1
MANIFEST = "manifest.json"
PROB = 0.95
VERSIONED_PACKAGES = ("hiermodel", "bambi", "pymc", "arviz", "pytensor", "numpy", "pandas")
REQUIRED_FILES = ("posterior.nc", "summary.txt", "fixef.csv", "varcorr.csv",
                  "prior_summary.csv", "diagnostics.json", "spec.toml", "spec.json")
_LABEL_COLUMNS = ("term", "grp", "var1", "var2", "level", "class", "group", "prior", "source")


# -- hashing and small helpers ------------------------------------------------------------------

def data_hash(df: pd.DataFrame) -> str:
    """sha256 over the prepared data: values (``pd.util.hash_pandas_object``), column names,
    dtypes and category levels."""
    h = hashlib.sha256()
    layout = []
    for column in df.columns:
        dtype = df[column].dtype
        cats = ([str(c) for c in dtype.categories] if isinstance(dtype, pd.CategoricalDtype)
                else None)
        layout.append([str(column), str(dtype), cats])
    h.update(json.dumps(layout).encode("utf-8"))
    h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
    return h.hexdigest()


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that determine a fit."""
    out = {}
    for name in VERSIONED_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def file_name(group: str) -> str:
    """A file-safe form of a grouping factor's name (``a:b`` -> ``a_b``)."""
    from hiermodel.naming import safe

    return safe(group)


def _jsonable(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(_jsonable(value), indent=2, sort_keys=False, default=str) + "\n",
                    encoding="utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None


def _read_table(path: Path) -> pd.DataFrame:
    """A stored CSV with label columns kept as text ('' stays '', 'NA' stays 'NA')."""
    if not path.is_file():
        raise RunError(f"run file {path} is missing; the run directory is damaged — fit again "
                       "with refit")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in df.columns:
        if column not in _LABEL_COLUMNS:
            df[column] = pd.to_numeric(df[column].replace("", "nan"), errors="coerce")
    return df


def _diagnostics_from_json(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (float("nan") if v is None and k != "ok" else v) for k, v in d.items()}


def _problems(diag: dict[str, Any]) -> str:
    from hiermodel.posterior.summary import diagnostic_problems

    return ", ".join(diagnostic_problems(diag)) or "not ok"


def diagnostics_error(label: str, diag: dict[str, Any], run_dir: Path) -> DiagnosticsError:
    """The :class:`DiagnosticsError` (exit code 2) for a run that failed the diagnostics."""
    return DiagnosticsError(
        f"{label}: diagnostics failed ({_problems(diag)}: max R-hat "
        f"{diag.get('max_rhat', float('nan')):.3f}, min bulk ESS "
        f"{diag.get('min_ess_bulk', float('nan')):.0f}, {diag.get('divergences', 0)} "
        f"divergences); the run is kept in {run_dir}. Increase [sampler] draws/tune, raise "
        "target_accept, or set [model] parametrization"
    )


# -- atomic directory writes ---------------------------------------------------------------------

@contextmanager
def atomic_dir(target: Path) -> Iterator[Path]:
    """Yield a temporary directory next to ``target``; on success it replaces ``target``.

    ``target`` may be missing, empty, or a previous hiermodel output (it has a
    ``manifest.json``); anything else is refused so a wrong ``--out`` cannot delete a user's
    directory.
    """
    target = Path(target)
    if target.exists():
        if not target.is_dir():
            raise RunError(f"output {target} exists and is not a directory")
        if any(target.iterdir()) and not (target / MANIFEST).is_file():
            raise RunError(f"output directory {target} exists and is not a hiermodel run (no "
                           f"{MANIFEST}); choose another [output] dir / --out, or remove it")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {target.parent}: {exc}") from None
    tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = target.parent / f".{target.name}.tmp-{tag}"
    tmp.mkdir()
    try:
        yield tmp
        if target.exists():
            old = target.parent / f".{target.name}.old-{tag}"
            os.replace(target, old)
            try:
                os.replace(tmp, target)
            except OSError:
                os.replace(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


# -- where runs live -----------------------------------------------------------------------------

def output_dir(spec: Spec, out: str | Path | None = None) -> Path:
    """The spec's output directory: ``out`` if given, else ``[output] dir``, else
    ``<spec dir>/runs/<spec stem>``."""
    return Path(out).expanduser().resolve() if out is not None else spec.output_dir


def run_dir(spec: Spec, out: str | Path | None = None) -> Path:
    """Where :func:`run_spec` writes the fit: ``<output dir>/fit``."""
    return output_dir(spec, out) / "fit"


def compare_dir(spec: Spec, out: str | Path | None = None) -> Path:
    """Where :func:`run_compare` writes the comparison: ``<output dir>/compare``."""
    return output_dir(spec, out) / "compare"


def find_run(path: str | Path, kind: str = "fit") -> Path:
    """The run directory at ``path``: ``path`` itself when it holds a ``manifest.json``, else
    ``path/<kind>`` (so the spec's output directory works too)."""
    p = Path(path).expanduser()
    if (p / MANIFEST).is_file():
        return p.resolve()
    if (p / kind / MANIFEST).is_file():
        return (p / kind).resolve()
    if not p.exists():
        raise RunError(f"run directory {path} not found")
    if not p.is_dir():
        raise RunError(f"{path} is not a directory")
    raise RunError(f"{path} is not a complete run (no {MANIFEST}; an interrupted or unfinished "
                   "run?) — run `hiermodel fit SPEC` to (re)create it")


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The ``manifest.json`` of the run at ``path`` (see :func:`find_run`)."""
    return dict(_read_json(find_run(path) / MANIFEST))


# -- the fit-like object of a stored run -----------------------------------------------------------

class StoredSummary(str):
    """The stored ``summary.txt``; prints like ``fit.summary()``."""

    def __repr__(self) -> str:
        return str(self)


class RunFit(Fit):
    """A :class:`~hiermodel.posterior.fitted.Fit` backed by a run directory.

    Tables at the stored ``prob`` (0.95) are read from the run's CSV files; anything else
    (another ``prob``, ``predict``, ``coef`` of a new kind) uses the posterior
    (``posterior.nc``, loaded on first use) and the model, rebuilt from the stored spec on
    first use — which needs the data, unchanged. ``reused`` says whether
    :func:`run_spec` found this run instead of sampling it.
    """

    def __init__(self, directory: str | Path, manifest: dict[str, Any] | None = None,
                 fit: Fit | None = None, reused: bool = False) -> None:
        self.run_dir = find_run(directory)
        self.manifest = manifest if manifest is not None else read_manifest(self.run_dir)
        if self.manifest.get("kind", "fit") != "fit":
            raise RunError(f"{self.run_dir} holds a {self.manifest.get('kind')}, not a fit; "
                           "use `hiermodel report` to show it")
        self.reused = reused
        self._fit = fit
        self._model: Model | None = fit.model if fit is not None else None
        self._idata: az.InferenceData | None = fit.idata if fit is not None else None
        self.sampler = dict(fit.sampler if fit is not None else self.manifest.get("sampler", {}))
        self.prob = float(self.manifest.get("prob", PROB))

    # -- lazily loaded pieces -------------------------------------------------------------------
    @property
    def model(self) -> Model:  # type: ignore[override]
        """The model, rebuilt from the stored spec (no sampling) on first use."""
        if self._model is None:
            self._model = rebuild_model(self.run_dir, self.manifest)
        return self._model

    @property
    def idata(self) -> az.InferenceData:
        """The posterior from ``posterior.nc``, loaded on first use."""
        if self._idata is None:
            import arviz as az

            path = self.run_dir / "posterior.nc"
            if not path.is_file():
                raise RunError(f"{path} is missing; fit again with refit")
            try:
                self._idata = az.from_netcdf(str(path))
            except Exception as exc:  # h5netcdf/xarray raise many types
                raise RunError(f"cannot read {path}: {exc}") from exc
        return self._idata

    @property
    def spec(self) -> Spec:
        """The spec as stored in the run (``spec.toml``), resolved like the original."""
        return stored_spec(self.run_dir, self.manifest)

    @property
    def formula(self) -> str:
        return str(self.manifest.get("formula", ""))

    def _stored(self, prob: float) -> bool:
        return self._fit is None and math.isclose(prob, self.prob)

    # -- accessors --------------------------------------------------------------------------------
    def fixef(self, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return _read_table(self.run_dir / "fixef.csv").set_index("term")
        return super().fixef(prob)

    def varcorr(self, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return _read_table(self.run_dir / "varcorr.csv")
        return super().varcorr(prob)

    def _groups(self) -> dict[str, str]:
        return dict(self.manifest.get("groups", {}))

    def _stored_levels(self, kind: str, group: str | None) -> pd.DataFrame:
        groups = self._groups()
        if group is not None and group not in groups:
            from hiermodel.errors import DataError, did_you_mean

            raise DataError(f"no grouping factor '{group}' in the model"
                            f"{did_you_mean(group, list(groups))}; groups: "
                            f"{', '.join(groups) or '(none)'}")
        names = [group] if group is not None else list(groups)
        frames = [_read_table(self.run_dir / f"{kind}_{groups[g]}.csv") for g in names]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def ranef(self, group: str | None = None, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return self._stored_levels("ranef", group)
        return super().ranef(group, prob)

    def coef(self, group: str | None = None, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return self._stored_levels("coef", group)
        return super().coef(group, prob)

    def prior_summary(self) -> Any:
        if self._fit is None:
            from hiermodel.priors import PriorTable

            records = _read_json(self.run_dir / "prior_summary.json")
            return PriorTable.from_records(records["rows"], records.get("template", ""))
        return super().prior_summary()

    def diagnostics(self) -> dict[str, Any]:
        if self._fit is None:
            return _diagnostics_from_json(dict(self.manifest.get("diagnostics", {})))
        return super().diagnostics()

    def summary(self, prob: float = PROB) -> Any:
        if self._stored(prob):
            text = (self.run_dir / "summary.txt").read_text(encoding="utf-8")
            return StoredSummary(text.rstrip("\n"))
        return super().summary(prob)

    def __repr__(self) -> str:
        state = "reused" if self.reused else ("fitted" if self._fit is not None else "loaded")
        return f"<hiermodel.RunFit {self.formula!r} {state} at {self.run_dir}>"


def load_run(path: str | Path) -> RunFit:
    """A stored run as a fit-like object (see :class:`RunFit`).

    ``path`` is a run directory (with ``manifest.json``) or a spec's output directory (its
    ``fit/`` run is used). Raises :class:`RunError` for a missing or incomplete run.
    """
    directory = find_run(path)
    manifest = read_manifest(directory)
    missing = [f for f in REQUIRED_FILES if not (directory / f).is_file()]
    if missing:
        raise RunError(f"run {directory} is damaged: missing {', '.join(missing)}; fit again "
                       "with refit")
    return RunFit(directory, manifest)


def stored_spec(directory: str | Path, manifest: dict[str, Any] | None = None) -> Spec:
    """The spec stored in a run, with relative paths resolved like the original file's."""
    directory = find_run(directory)
    manifest = manifest if manifest is not None else read_manifest(directory)
    info = manifest.get("spec", {})
    text = (directory / "spec.toml").read_text(encoding="utf-8")
    try:
        return parse_spec(text, file=info.get("file", directory / "spec.toml"),
                          label=info.get("label"), base_dir=info.get("dir"))
    except HiermodelError as exc:
        raise RunError(f"cannot rebuild the model of run {directory}: its spec no longer "
                       f"validates here:\n{exc}") from exc


def rebuild_model(directory: str | Path, manifest: dict[str, Any] | None = None) -> Model:
    """The model of a stored run, rebuilt (not sampled) from its spec and unchanged data."""
    directory = find_run(directory)
    manifest = manifest if manifest is not None else read_manifest(directory)
    spec = stored_spec(directory, manifest)
    try:
        frame = spec.load_data()
    except HiermodelError as exc:
        raise RunError(f"cannot rebuild the model of run {directory}: {exc}") from exc
    if data_hash(frame) != manifest.get("data_hash"):
        raise RunError(f"cannot rebuild the model of run {directory}: its data changed since "
                       "the run (data hash differs). The stored tables (fixef, varcorr, ranef, "
                       "summary) still work; refit for anything else")
    built = spec.build(frame)
    stored = _read_json(directory / "prior_summary.json").get("rows")
    if stored is not None and _jsonable(built.prior_table.to_records()) != stored:
        log.warning("run %s: the priors resolve differently now (template file changed?); "
                    "the rebuilt model's prior table differs from the one sampled", directory)
    return built


# -- fitting a spec --------------------------------------------------------------------------------

def _say(progress: Progress | None, message: str) -> None:
    log.info("%s", message)
    if progress is not None:
        progress(message)


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

    manifest = None if refit else reusable(target, spec_hash, digest)
    if manifest is not None:
        _say(progress, f"reused run {target} (spec and data unchanged)")
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
    _say(progress, f"fitting {spec.label}: {spec.model.formula}  ({s.chains} chains x "
                   f"{s.draws} draws after {s.tune} tune, backend {s.backend}, "
                   f"seed {kwargs['seed']}; {len(frame)} rows)")
    t2 = time.perf_counter()
    fit = built.fit(progressbar=progressbar, **kwargs)
    t_sample = time.perf_counter() - t2
    timings = {"load_data": t_data, "build": t_build, "sample": t_sample}
    manifest = write_run(fit, spec, target, spec_hash=spec_hash, data_digest=digest,
                         timings=timings, frame=frame, started=t0)
    diag = _diagnostics_from_json(manifest["diagnostics"])
    _say(progress, f"wrote run {target} ({manifest['timings']['total']:.1f} s; diagnostics "
                   f"{'ok' if diag['ok'] else 'CHECK: ' + _problems(diag)})")
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
            _write_json(tmp / "prior_summary.json",
                        {"template": table.template, "rows": table.to_records()})
            diag = dict(summary.diagnostics)
            _write_json(tmp / "diagnostics.json", diag)
            fit.idata.to_netcdf(str(tmp / "posterior.nc"))
            plots = _plots(fit, tmp)
            (tmp / "spec.toml").write_text(spec.text, encoding="utf-8")
            _write_json(tmp / "spec.json", spec.to_dict())
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
                "versions": package_versions(),
                "files": [*sorted(p.name for p in tmp.iterdir()), MANIFEST],
            }
            _write_json(tmp / MANIFEST, manifest)
    except OSError as exc:
        raise RunError(f"cannot write run {target}: {exc}") from exc
    return dict(_read_json(target / MANIFEST))


# -- comparing the variants of a spec --------------------------------------------------------------

def run_compare(spec: Spec | str | Path, out: str | Path | None = None,
                progress: Progress | None = None, progressbar: bool = False) -> Comparison:
    """Run :func:`hiermodel.comparison.compare` on a spec: its formula, data, family, priors,
    ``[compare]`` options and ``[sampler]`` settings; write the comparison (tables, figures,
    ``report.txt``, ``manifest.json``) atomically to ``<output dir>/compare``.

    ``progress`` receives messages such as ``fitting pooled (1/3)``.
    """
    from hiermodel.comparison import compare

    spec = _as_spec(spec)
    target = compare_dir(spec, out)
    t0 = time.perf_counter()
    frame, _ = spec.check()
    c, s, m = spec.compare, spec.sampler, spec.model
    label = spec.label

    def say(message: str) -> None:
        _say(progress, f"{label}: {message}")

    say(f"comparing variants of {m.formula} ({len(frame)} rows; {s.chains} chains x {s.draws} "
        f"draws after {s.tune} tune per fit)")
    fit_options: dict[str, Any] = {"center_predictors": m.center_predictors,
                                   "parametrization": m.parametrization_arg(),
                                   "compress": m.compress, "target_accept": s.target_accept,
                                   "progressbar": progressbar}
    if s.cores is not None:
        fit_options["cores"] = s.cores
    with spec.located("[compare]"):
        comparison = compare(
            m.formula, frame, family=m.family, link=m.link, priors=spec.prior_spec(),
            variants=dict(c.variants) or None, group=c.group, effect=c.effect,
            draws=s.draws, tune=s.tune, chains=s.chains, seed=s.seed, backend=s.backend,
            logo=c.logo, logo_max_groups=c.logo_max_groups, logo_folds=c.logo_folds,
            logo_draws=c.logo_draws,
            logo_tune=c.logo_tune, progress=say, dropna=m.dropna, fit_options=fit_options,
        )
    try:
        with atomic_dir(target) as tmp:
            written = comparison.write(tmp)
            (tmp / "spec.toml").write_text(spec.text, encoding="utf-8")
            _write_json(tmp / MANIFEST, {
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
    say(f"wrote comparison {target} ({time.perf_counter() - t0:.1f} s)")
    return comparison


__all__ = [
    "RunFit",
    "StoredSummary",
    "atomic_dir",
    "compare_dir",
    "data_hash",
    "diagnostics_error",
    "find_run",
    "load_run",
    "output_dir",
    "package_versions",
    "read_manifest",
    "rebuild_model",
    "run_compare",
    "run_dir",
    "run_spec",
    "stored_spec",
    "write_run",
]
