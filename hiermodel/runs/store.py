"""What a run directory holds and where it lives: manifest, hashes, JSON/CSV files, atomic writes.

The layout of a fit run is described in :mod:`hiermodel.runs`; everything here is file and
path plumbing shared by :mod:`hiermodel.runs.stored` (reading runs) and
:mod:`hiermodel.runs.runner` (writing them).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from hiermodel.errors import ConvergenceError, RunError
from hiermodel.spec import Spec

FORMAT = 1
MANIFEST = "manifest.json"
REPORT = "report.html"
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


def jsonable(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(jsonable(value), indent=2, sort_keys=False, default=str) + "\n",
                    encoding="utf-8")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from None


def read_table(path: Path) -> pd.DataFrame:
    """A stored CSV with label columns kept as text ('' stays '', 'NA' stays 'NA')."""
    if not path.is_file():
        raise RunError(f"run file {path} is missing; the run directory is damaged — fit again "
                       "with refit")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in df.columns:
        if column not in _LABEL_COLUMNS:
            df[column] = pd.to_numeric(df[column].replace("", "nan"), errors="coerce")
    return df


def diagnostics_from_json(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (float("nan") if v is None and k != "ok" else v) for k, v in d.items()}


def checks_from_json(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The gate's table (``fit.checks()``) from a manifest's ``checks`` records."""
    from hiermodel.posterior.diagnostics import COLUMNS

    table = pd.DataFrame(records, columns=COLUMNS)
    for column in ("value", "threshold"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype(float)
    for column in ("parameters", "advice"):
        table[column] = table[column].fillna("").astype(str)
    return table


def problems_text(table: pd.DataFrame) -> str:
    """``min bulk ESS, divergences``: the failed checks of a gate table, or ``ok``."""
    bad = table[table["status"] == "failed"]
    return ", ".join(str(c) for c in bad["check"]) or "ok"


def diagnostics_error(label: str, table: pd.DataFrame, run_dir: Path) -> ConvergenceError:
    """The :class:`ConvergenceError` (exit code 2) for a run that failed the gate."""
    from hiermodel.posterior.diagnostics import convergence_message

    return ConvergenceError(f"{convergence_message(table, label)}\n  the run is kept in "
                            f"{run_dir}")


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
            except BaseException:  # also Ctrl-C / SIGTERM (errors.Interrupted) between renames
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
    return dict(read_json(find_run(path) / MANIFEST))
