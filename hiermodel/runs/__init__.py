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

:func:`load_run` returns a :class:`RunFit`: it answers like a
:class:`~hiermodel.posterior.fitted.Fit` (same accessors), with tables read from the stored
files; the posterior and the model (rebuilt from the stored spec) are loaded only when something
needs them (``predict``, another ``prob``), and ``run.fit`` is then the in-memory ``Fit``.

Modules: :mod:`~hiermodel.runs.store` (layout, manifest, hashes, atomic writes),
:mod:`~hiermodel.runs.stored` (:class:`RunFit`, :func:`load_run`) and
:mod:`~hiermodel.runs.runner` (:func:`run_spec`, :func:`run_compare`) and
:mod:`~hiermodel.runs.batch` (:func:`run_specs`: many specs, in this process or on a Dask
cluster).
"""

from hiermodel.runs.batch import SpecRuns, run_specs
from hiermodel.runs.runner import Progress, reusable, run_compare, run_spec, spec_seed, write_run
from hiermodel.runs.store import (
    MANIFEST,
    REQUIRED_FILES,
    atomic_dir,
    compare_dir,
    data_hash,
    diagnostics_error,
    find_run,
    output_dir,
    package_versions,
    read_manifest,
    run_dir,
)
from hiermodel.runs.stored import RunFit, StoredSummary, load_run, rebuild_model, stored_spec

__all__ = [
    "MANIFEST",
    "REQUIRED_FILES",
    "Progress",
    "RunFit",
    "SpecRuns",
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
    "reusable",
    "run_compare",
    "run_dir",
    "run_spec",
    "run_specs",
    "spec_seed",
    "stored_spec",
    "write_run",
]
