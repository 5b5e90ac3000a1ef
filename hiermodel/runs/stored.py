"""The fit-like object of a stored run: tables from the run's files, the rest from its posterior."""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.errors import HiermodelError, RunError
from hiermodel.posterior.fitted import Fit
from hiermodel.runs.store import (
    PROB,
    REPORT,
    REQUIRED_FILES,
    checks_from_json,
    data_hash,
    diagnostics_from_json,
    find_run,
    jsonable,
    read_json,
    read_manifest,
    read_table,
)
from hiermodel.spec import Spec, parse_spec

if TYPE_CHECKING:
    import arviz as az

    from hiermodel.models import Model

log = logging.getLogger("hiermodel.runs")

class StoredSummary(str):
    """The stored ``summary.txt``; prints like ``fit.summary()``."""

    def __repr__(self) -> str:
        return str(self)


class RunFit:
    """A fitted run directory, answering like a :class:`~hiermodel.posterior.fitted.Fit`.

    It *holds* a ``Fit`` rather than being one: tables at the stored ``prob`` (0.95) are read
    from the run's CSV files without loading anything; anything else (another ``prob``,
    ``predict``, ``draws``, functions that take a ``Fit``) goes through :attr:`fit`, built on
    first use from the posterior (``posterior.nc``) and the model, rebuilt from the stored spec
    — which needs the data, unchanged. ``reused`` says whether :func:`run_spec` found this run
    instead of sampling it.
    """

    def __init__(self, directory: str | Path, manifest: dict[str, Any] | None = None,
                 fit: Fit | None = None, reused: bool = False) -> None:
        self.run_dir = find_run(directory)
        self.manifest = manifest if manifest is not None else read_manifest(self.run_dir)
        if self.manifest.get("kind", "fit") != "fit":
            raise RunError(f"{self.run_dir} holds a {self.manifest.get('kind')}, not a fit; "
                           "use `hiermodel report` to show it")
        self.reused = reused
        self.fresh = fit is not None  # sampled in this process: tables come from memory
        self._fit = fit
        self._model: Model | None = fit.model if fit is not None else None
        self._idata: az.InferenceData | None = fit.idata if fit is not None else None
        self.sampler = dict(fit.sampler if fit is not None else self.manifest.get("sampler", {}))
        self.prob = float(self.manifest.get("prob", PROB))

    # -- lazily loaded pieces -------------------------------------------------------------------
    @property
    def fit(self) -> Fit:
        """The in-memory :class:`~hiermodel.posterior.fitted.Fit` (posterior and model loaded
        on first use)."""
        if self._fit is None:
            self._fit = Fit(self.model, self.idata, self.sampler)
        return self._fit

    @property
    def model(self) -> Model:
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

    @property
    def family(self) -> Any:
        return self.model.family

    @property
    def bambi_model(self) -> Any:
        return self.model.bambi_model

    @property
    def pymc_model(self) -> Any:
        return self.model.pymc_model

    def _stored(self, prob: float) -> bool:
        return not self.fresh and math.isclose(prob, self.prob)

    # -- accessors: stored tables where they exist, else the posterior ----------------------------
    def fixef(self, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return read_table(self.run_dir / "fixef.csv").set_index("term")
        return self.fit.fixef(prob)

    def varcorr(self, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return read_table(self.run_dir / "varcorr.csv")
        return self.fit.varcorr(prob)

    def _stored_levels(self, kind: str, group: str | None) -> pd.DataFrame:
        groups = dict(self.manifest.get("groups", {}))
        if group is not None and group not in groups:
            from hiermodel.errors import DataError, did_you_mean

            raise DataError(f"no grouping factor '{group}' in the model"
                            f"{did_you_mean(group, list(groups))}; groups: "
                            f"{', '.join(groups) or '(none)'}")
        names = [group] if group is not None else list(groups)
        frames = [read_table(self.run_dir / f"{kind}_{groups[g]}.csv") for g in names]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def ranef(self, group: str | None = None, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return self._stored_levels("ranef", group)
        return self.fit.ranef(group, prob)

    def coef(self, group: str | None = None, prob: float = PROB) -> pd.DataFrame:
        if self._stored(prob):
            return self._stored_levels("coef", group)
        return self.fit.coef(group, prob)

    def prior_summary(self) -> Any:
        if not self.fresh:
            from hiermodel.priors import PriorTable

            records = read_json(self.run_dir / "prior_summary.json")
            return PriorTable.from_records(records["rows"], records.get("template", ""))
        return self.fit.prior_summary()

    def diagnostics(self) -> dict[str, Any]:
        if not self.fresh:
            return diagnostics_from_json(dict(self.manifest.get("diagnostics", {})))
        return self.fit.diagnostics()

    def checks(self) -> pd.DataFrame:
        """The convergence gate's table (see :meth:`Fit.checks`), from the manifest."""
        if not self.fresh and "checks" in self.manifest:
            return checks_from_json(list(self.manifest["checks"]))
        return self.fit.checks()

    def summary(self, prob: float = PROB) -> Any:
        if self._stored(prob):
            text = (self.run_dir / "summary.txt").read_text(encoding="utf-8")
            return StoredSummary(text.rstrip("\n"))
        return self.fit.summary(prob)

    # -- everything that needs the posterior ------------------------------------------------------
    def thresholds(self, prob: float = PROB) -> pd.DataFrame:
        """The thresholds of an ordinal model (see :meth:`Fit.thresholds`)."""
        return self.fit.thresholds(prob)

    def auxiliary(self, prob: float = PROB) -> pd.DataFrame:
        """The family-specific parameters (see :meth:`Fit.auxiliary`)."""
        return self.fit.auxiliary(prob)

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of variable ``name`` as (chain, draw, ...)."""
        return self.fit.draws(name)

    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False, kind: str = "mean", summary: bool = True,
                prob: float = PROB, seed: int | None = None,
                new_levels: str = "sample") -> Any:
        """Posterior predictions (see :meth:`hiermodel.posterior.fitted.Fit.predict`)."""
        return self.fit.predict(newdata, re_form=re_form, allow_new_levels=allow_new_levels,
                                kind=kind, summary=summary, prob=prob, seed=seed,
                                new_levels=new_levels)

    def prior_predictive(self, draws: int = 200, seed: int | None = None) -> Any:
        """Prior predictive draws vs the observed response (needs the model)."""
        return self.fit.prior_predictive(draws=draws, seed=seed)

    def pp_check(self, kind: str = "density", stat: Any = "mean", group: str | None = None,
                 ndraws: int | None = None, seed: int | None = None,
                 bins: int | None = None) -> Any:
        """Posterior predictive check (see :meth:`Fit.pp_check`; needs the model)."""
        return self.fit.pp_check(kind=kind, stat=stat, group=group, ndraws=ndraws, seed=seed,
                                 bins=bins)

    def graph(self, path: str | Path | None = None, title: str | None = None) -> Any:
        """The model graph (see :meth:`hiermodel.models.Model.graph`; needs the model)."""
        return self.model.graph(path, title=title)

    def to_html(self, path: str | Path | None = None) -> Path:
        """Write the run's HTML report (default: ``report.html`` in the run directory)."""
        from hiermodel.report import write_fit_report

        return write_fit_report(self, path if path is not None else self.run_dir / REPORT)

    def __repr__(self) -> str:
        state = "reused" if self.reused else ("fitted" if self.fresh else "loaded")
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
    stored = read_json(directory / "prior_summary.json").get("rows")
    if stored is not None and jsonable(built.prior_table.to_records()) != stored:
        log.warning("run %s: the priors resolve differently now (template file changed?); "
                    "the rebuilt model's prior table differs from the one sampled", directory)
    return built

