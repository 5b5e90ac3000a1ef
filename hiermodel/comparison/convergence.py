"""The comparison's view of the convergence gate: a variant fit's failed checks, and the
leave-one-group-out refits' failed checks as one warning (not one Python warning per refit)."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from hiermodel.errors import ConvergenceWarning

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit


def variant_diagnostics(name: str, fit: Fit) -> tuple[dict[str, Any], list[str]]:
    """A variant fit's headline diagnostics and, when the convergence gate failed it, one
    warning naming the failed checks and the advice."""
    from hiermodel.posterior.diagnostics import failure_lines

    try:
        d = fit.diagnostics()
        lines = failure_lines(fit.checks())
    except Exception:  # diagnostics are a report nicety, never a reason to fail
        return {}, []
    return d, [f"{name}: failed convergence checks: " + "; ".join(lines)] if lines else []


def refit_warnings(caught: list[warnings.WarningMessage], n_refits: int) -> list[str]:
    """The refits' failed convergence checks as one comparison warning (their first failed
    check each); any other warning is shown as it would have been."""
    failed: list[str] = []
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            lines = str(w.message).splitlines()
            failed.append(lines[1].strip() if len(lines) > 1 else lines[0])
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if not failed:
        return []
    return [f"leave-one-group-out: {len(failed)} of {n_refits} refits failed "
            f"a convergence check ({'; '.join(dict.fromkeys(failed))}); their held-out "
            "scores are less certain (more logo_draws / logo_tune help)"]


__all__ = ["refit_warnings", "variant_diagnostics"]
