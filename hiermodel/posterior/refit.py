"""``fit.update(...)``: the same model with some of its inputs changed, refitted (brms ``update``).

The formula takes R's ``update.formula`` dot semantics (:mod:`hiermodel.formula.rewrite`):
``fit.update("~ . + Sex")``, ``fit.update(". ~ . - Days")``; an auxiliary formula likewise
(``fit.update(sigma="~ . + Days")`` rewrites the old ``sigma`` formula). Every other keyword
replaces one argument of :func:`hiermodel.model` (``data``, ``priors``, ``family``, ``link``,
``weights``, ``dropna``, ...) or of the sampler (``draws``, ``tune``, ``chains``, ``seed``,
``backend``, ``target_accept``, ...); what is not given is kept from the original fit
(:attr:`Model.call` and ``fit.sampler``).

The built model is reused when only sampler settings change. The PyMC graph holds the data as
constants (:mod:`hiermodel.backend.graph` bakes the design matrices, group indices and the
response into the graph; there are no ``pm.Data`` containers to swap), so new data rebuild
the model; building takes well under a second for data of this size, and PyMC's on-disk
compile cache makes recompiling an unchanged graph structure cheap.
"""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any

from hiermodel.errors import ConvergenceWarning, FitError
from hiermodel.formula.distributional import AUX_LINKS
from hiermodel.formula.rewrite import update_formula, update_rhs
from hiermodel.models import model

if TYPE_CHECKING:
    import pandas as pd

    from hiermodel.posterior.fitted import Fit

log = logging.getLogger("hiermodel")

MODEL_ARGS = ("data", "family", "link", "priors", "dropna", "center_predictors",
              "parametrization", "compress", "weights", "marginalize")
SAMPLER_ARGS = ("draws", "tune", "chains", "cores", "seed", "backend", "target_accept",
                "progressbar")


def sampler_settings(fit: Fit) -> dict[str, Any]:
    """The keyword arguments of ``Model.fit`` that reproduce ``fit``'s sampling."""
    s = fit.sampler
    keys = ("draws", "tune", "chains", "seed", "target_accept")
    out: dict[str, Any] = {k: s[k] for k in keys if k in s}
    out["backend"] = s.get("backend_requested", s.get("backend", "auto"))
    return out


def model_call(fit: Fit) -> dict[str, Any]:
    """The arguments ``fit``'s model was built with (:attr:`Model.call`)."""
    call = dict(getattr(fit.model, "call", {}) or {})
    if not call:
        raise FitError("this fit does not record the arguments its model was built with (it "
                       "was not built by hiermodel.model / hiermodel.fit); refit it with "
                       "hm.fit(...) to use update(), kfold() or reloo")
    return call


def _split_aux(call: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """(main formula, {parameter: '~ rhs'}) of a recorded call (list or keyword spelling)."""
    formula = call["formula"]
    aux = {k: str(v) for k, v in call.items() if k in AUX_LINKS and v is not None}
    if isinstance(formula, str):
        return formula, aux
    items = [str(f) for f in formula]
    for text in items[1:]:
        name, rhs = text.split("~", 1)
        aux[name.strip()] = f"~ {rhs.strip()}"
    return items[0], aux


def rebuilt_call(fit: Fit, formula: str | None = None, **changes: Any
                 ) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """(arguments of :func:`hiermodel.model`, sampler settings, whether the model changed)."""
    call = model_call(fit)
    main, aux = _split_aux(call)
    unknown = [k for k in changes if k not in MODEL_ARGS + SAMPLER_ARGS and k not in AUX_LINKS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], [*MODEL_ARGS, *SAMPLER_ARGS, *AUX_LINKS],
                                          n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise TypeError(f"update() got an unexpected keyword argument '{unknown[0]}'{hint}")
    changed = formula is not None
    if formula is not None:
        main = update_formula(main, formula)
    for name in AUX_LINKS:
        if name not in changes:
            continue
        new = changes.pop(name)
        changed = True
        if new is None:
            aux.pop(name, None)
            continue
        new_rhs = str(new).split("~", 1)[-1]
        old_rhs = aux.get(name, "~ 1").split("~", 1)[-1]
        aux[name] = f"~ {update_rhs(old_rhs, new_rhs)}"
    args = {k: call[k] for k in MODEL_ARGS if k in call}
    for k in MODEL_ARGS:
        if k in changes:
            args[k] = changes.pop(k)
            changed = True
    sampler = sampler_settings(fit)
    sampler.update({k: changes.pop(k) for k in SAMPLER_ARGS if k in changes})
    return {"formula": main, **args, **aux}, sampler, changed


def refit_on(fit: Fit, data: pd.DataFrame, **sampler: Any) -> Fit:
    """``fit``'s model fitted again on ``data`` (same formula, family, priors, options and
    sampler settings unless ``sampler`` overrides them): kfold and reloo refits."""
    args, settings, _ = rebuilt_call(fit, data=data, **sampler)
    return model(**args).fit(**settings)


def training_data(fit: Fit) -> pd.DataFrame:
    """The rows of the data ``fit`` was fitted to (after ``dropna``), in its row order, with
    the user's column names: what refits subset."""
    data = model_call(fit)["data"]
    return data.loc[fit.model.prepared.frame.index]


def update(fit: Fit, formula: str | None = None, **changes: Any) -> Fit:
    """``fit`` refitted with the given changes (see the module docstring)."""
    args, sampler, changed = rebuilt_call(fit, formula, **changes)
    built = model(**args) if changed else fit.model
    return built.fit(**sampler)


def gated(fit: Fit, strict: bool = False, remedy: bool = False) -> Fit:
    """The convergence gate after a fit (:mod:`hiermodel.posterior.diagnostics`).

    A fit that passes is returned as it is. A failed one, with ``remedy=True``, is refitted once
    with the gate's advice applied (:func:`~hiermodel.posterior.diagnostics.remedy_changes`:
    flipped parametrization of the flagged groups, a higher target_accept, more tuning and
    draws); the refit's ``fit.remedy`` records the changes and a log line says them. If the
    (refitted) fit still fails, ``strict=True`` raises
    :class:`~hiermodel.errors.ConvergenceError`, else a
    :class:`~hiermodel.errors.ConvergenceWarning` names the checks, parameters and advice.
    """
    from hiermodel.posterior.diagnostics import (
        context_of,
        convergence_error,
        convergence_message,
        passed,
        remedy_changes,
    )
    from hiermodel.posterior.summary import remedy_text

    table = fit.checks()
    if passed(table):
        return fit
    what = f"the fit of {fit.formula}"
    if remedy:
        changes = remedy_changes(table, context_of(fit))
        log.warning("remedy: %s failed %d check(s); refitting once with %s", what,
                    int((table["status"] == "failed").sum()), remedy_text(changes))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            refitted = update(fit, **changes)
        refitted.remedy = changes
        fit, table = refitted, refitted.checks()
        if passed(table):
            log.warning("remedy: the refit passes every check")
            return fit
        what += f" (refitted once with {remedy_text(changes)})"
    if strict:
        raise convergence_error(table, what)
    warnings.warn(convergence_message(table, what), ConvergenceWarning, stacklevel=4)
    return fit


__all__ = ["MODEL_ARGS", "SAMPLER_ARGS", "gated", "model_call", "rebuilt_call", "refit_on",
           "sampler_settings", "training_data", "update"]
