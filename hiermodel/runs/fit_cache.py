"""``hm.fit(..., file="fits/sleep")``: store a fit and reuse it while its inputs are unchanged
(brms's ``file`` / ``file_refit``).

The fit is written (atomically, :func:`~hiermodel.runs.store.atomic_dir`) to the directory
``file``: the posterior as ``posterior.nc`` (the netCDF round trip of stored runs) and a
``manifest.json`` with a key — a sha256 over the formula(s), family and link, the priors
(template name, the text of a template file, every override), the model options
(``dropna``, ``center_predictors``, ``parametrization``, ``compress``, ``weights``,
``marginalize``), the
sampler settings (``draws``, ``tune``, ``chains``, ``seed``, ``backend``, ``target_accept``),
the data (:func:`~hiermodel.runs.store.data_hash`) and the hiermodel version — and its parts.

``refit``:

- ``"on_change"`` (default): reuse the stored fit when the key is unchanged, else refit and
  overwrite it (the log says which inputs changed);
- ``"always"``: refit and overwrite;
- ``"never"``: reuse a stored fit even when inputs changed (with a warning naming them); fit
  only when nothing is stored.

A reused fit has ``fit.cached = True``; an info line on the ``hiermodel`` logger says where it
came from. Its model is rebuilt from the same arguments (no sampling; well under a second for
data of this size), so every accessor, ``predict``, ``pp_check`` and ``update`` work.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiermodel.errors import RunError
from hiermodel.runs.store import (
    MANIFEST,
    atomic_dir,
    data_hash,
    jsonable,
    package_versions,
    read_json,
    write_json,
)

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit

log = logging.getLogger("hiermodel")

REFIT = ("on_change", "always", "never")
KIND = "cached_fit"
SAMPLER_KEYS = ("draws", "tune", "chains", "seed", "backend", "target_accept")


def _priors_text(priors: Any) -> str:
    """A stable description of ``priors=``: the PriorSpec's repr, plus the text of a template
    file (so editing the file counts as a change)."""
    from hiermodel.priors import as_prior_spec

    spec = as_prior_spec(priors)
    text = repr(spec)
    template = spec.template
    if isinstance(template, str | Path) and Path(str(template)).expanduser().is_file():
        text += "\n" + Path(str(template)).expanduser().read_text(encoding="utf-8")
    return text


def fit_key(model_args: dict[str, Any], sampler: dict[str, Any]) -> dict[str, str]:
    """The parts that decide whether a stored fit can be reused (each a short text/hash)."""
    data = model_args["data"]
    formula = model_args["formula"]
    options = {k: model_args.get(k) for k in ("dropna", "center_predictors", "parametrization",
                                             "compress", "weights", "marginalize")}
    aux = {k: v for k, v in model_args.items()
           if k not in ("formula", "data", "family", "link", "priors", *options)}
    parts = {
        "formula": json.dumps([formula if isinstance(formula, str) else list(formula),
                               sorted((k, str(v)) for k, v in aux.items())]),
        "family": f"{model_args.get('family')!s} link={model_args.get('link')}",
        "priors": hashlib.sha256(_priors_text(model_args.get("priors")).encode()).hexdigest(),
        "options": json.dumps(jsonable(options), sort_keys=True, default=str),
        "sampler": json.dumps(jsonable({k: sampler.get(k) for k in SAMPLER_KEYS}),
                              sort_keys=True, default=str),
        "data": data_hash(data),
        "version": package_versions()["hiermodel"],
    }
    return parts


def _digest(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _stored(path: Path) -> dict[str, Any] | None:
    manifest = path / MANIFEST
    if not manifest.is_file():
        if path.exists() and (not path.is_dir() or any(path.iterdir())):
            raise RunError(f"file={str(path)!r} exists and is not a stored hiermodel fit; "
                           "choose another path or remove it")
        return None
    stored = dict(read_json(manifest))
    if stored.get("kind") != KIND or not (path / "posterior.nc").is_file():
        raise RunError(f"file={str(path)!r} holds no stored fit (a run of another kind, or "
                       "damaged); choose another path or remove it")
    return stored


def _load(path: Path, stored: dict[str, Any], model_args: dict[str, Any]) -> Fit:
    import arviz as az

    from hiermodel.models import model
    from hiermodel.posterior.fitted import Fit

    try:
        idata = az.from_netcdf(str(path / "posterior.nc"))
        idata.load()
    except Exception as exc:  # h5netcdf/xarray raise many types
        raise RunError(f"cannot read the stored fit {path / 'posterior.nc'}: {exc}; refit "
                       "with refit='always'") from exc
    fit = Fit(model(**model_args), idata, dict(stored.get("sampler", {})))
    fit.cached = True
    return fit


def _write(path: Path, fit: Fit, parts: dict[str, str]) -> None:
    try:
        with atomic_dir(path) as tmp:
            fit.idata.to_netcdf(str(tmp / "posterior.nc"))
            write_json(tmp / MANIFEST, {
                "kind": KIND, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "key": _digest(parts), "parts": parts, "formula": fit.formula,
                "sampler": fit.sampler,
            })
    except OSError as exc:
        raise RunError(f"cannot store the fit in {path}: {exc}") from exc


def cached_fit(file: str | Path, refit: str, model_args: dict[str, Any],
               sampler: dict[str, Any]) -> Fit:
    """The fit of ``model_args`` / ``sampler``, from ``file`` or fitted and stored there."""
    from hiermodel.models import model

    if refit not in REFIT:
        raise RunError(f"refit={refit!r}: use one of {', '.join(REFIT)}")
    path = Path(file).expanduser()
    parts = fit_key(model_args, sampler)
    stored = _stored(path)
    if stored is not None and refit != "always":
        old = dict(stored.get("parts", {}))
        changed = [k for k in parts if old.get(k) != parts[k]]
        if not changed:
            fit = _load(path, stored, model_args)
            log.info("hm.fit: reusing the fit stored in %s (formula, data, priors and sampler "
                     "settings unchanged)", path)
            return fit
        if refit == "never":
            message = (f"hm.fit: reusing the fit stored in {path} although its "
                       f"{', '.join(changed)} changed (refit='never'); pass "
                       "refit='on_change' to refit")
            log.warning(message)
            warnings.warn(message, UserWarning, stacklevel=3)
            return _load(path, stored, model_args)
        log.info("hm.fit: %s changed since the fit stored in %s; refitting", ", ".join(changed),
                 path)
    fit = model(**model_args).fit(**sampler)
    _write(path, fit, parts)
    log.info("hm.fit: stored the fit in %s", path)
    return fit


__all__ = ["KIND", "REFIT", "cached_fit", "fit_key"]

