"""One exception hierarchy for every user-facing failure.

Every error a user can cause is a :class:`HiermodelError`; the subclass says which pipeline
stage found it. Messages say *where* (a caret under the formula token, ``file.toml: [priors]
key``) and *how to fix* it. The CLI turns any of these into one message and exit code 1.

A broken internal invariant is an :class:`InternalError`: a bug in hiermodel, not something
the user can fix. It is deliberately *not* a :class:`HiermodelError`, so the CLI shows its
traceback (and asks for a report) instead of one line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class HiermodelError(Exception):
    """Root of every error hiermodel raises for bad input or a failed run."""

    exit_code = 1


class FormulaError(HiermodelError):
    """The formula text cannot be parsed or does not mean a model hiermodel can build.

    ``formula`` and ``position`` (0-based character offset) locate the problem; ``str(err)``
    shows the formula with a caret under the offending token.
    """

    def __init__(
        self, message: str, formula: str | None = None, position: int | None = None, length: int = 1
    ) -> None:
        self.message = message
        self.formula = formula
        self.position = position
        self.length = max(1, length)
        super().__init__(self._render())

    def _render(self) -> str:
        if self.formula is None or self.position is None:
            return self.message
        caret = " " * self.position + "^" * self.length
        return f"{self.message}\n  {self.formula}\n  {caret}"


class FamilyError(HiermodelError):
    """Unknown family or link, or a response the family cannot model."""


class DataError(HiermodelError):
    """The data does not fit the formula: missing columns, NaN, invalid transforms, ..."""


class PriorError(HiermodelError):
    """Unknown template, malformed template file, or a prior that matches no parameter."""


class SpecError(HiermodelError):
    """A spec file is malformed: unknown keys, wrong types, missing files."""


class BuildError(HiermodelError):
    """The model cannot be assembled into a PyMC graph (unsupported combination)."""


class FitError(HiermodelError):
    """Sampling failed, or a requested backend is not installed."""


class ConvergenceError(FitError):
    """The fit finished but failed the convergence gate (``strict=True``, ``--strict``).

    The message lists each failed check with the parameters involved and what to change
    (:mod:`hiermodel.posterior.diagnostics`); the CLI exits with code 2.
    """

    exit_code = 2


DiagnosticsError = ConvergenceError  # the name before the gate had advice; kept for callers


class ConvergenceWarning(UserWarning):
    """A fit failed the convergence gate: the warning names the parameters and the advice
    (``fit.checks()`` has the table; ``strict=True`` raises :class:`ConvergenceError`)."""


class Interrupted(KeyboardInterrupt):
    """SIGINT (Ctrl-C) or SIGTERM stopped hiermodel; ``what`` says what was running.

    A :class:`KeyboardInterrupt`, so code that stops on Ctrl-C stops on it too; the CLI exits
    with ``128 + signum`` (130 for SIGINT, 143 for SIGTERM) after one line naming ``what``.
    """

    def __init__(self, signum: int, what: str = "") -> None:
        self.signum = int(signum)
        self.what = what
        super().__init__(what)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class CompareError(HiermodelError):
    """Variants cannot be derived or compared."""


class HypothesisError(HiermodelError):
    """A ``hypothesis()`` expression cannot be parsed or names no parameter of the fit."""


class RunError(HiermodelError):
    """A run directory is missing, incomplete or unreadable."""


class ClusterError(HiermodelError):
    """A Dask cluster cannot be reached or used (``--cluster`` / ``client=``), or the optional
    ``hiermodel[dask]`` extra is not installed."""


class SomeFailedError(HiermodelError):
    """Several independent fits ran and some of them failed; the others completed and were
    written. The message lists each failure (exit code 3)."""

    exit_code = 3


class InternalError(RuntimeError):
    """A bug in hiermodel: an internal invariant does not hold (never the user's fault)."""


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str:
    """Return ``"; did you mean 'x'?"`` (or ``'x' or 'y'``) for close matches, else ``""``."""
    matches = difflib.get_close_matches(name, list(choices), n=n, cutoff=0.6)
    if not matches:
        return ""
    quoted = " or ".join(f"'{m}'" for m in matches)
    return f"; did you mean {quoted}?"


__all__ = [
    "BuildError",
    "ClusterError",
    "CompareError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataError",
    "DiagnosticsError",
    "FamilyError",
    "FitError",
    "FormulaError",
    "HiermodelError",
    "HypothesisError",
    "InternalError",
    "Interrupted",
    "PriorError",
    "RunError",
    "SomeFailedError",
    "SpecError",
    "did_you_mean",
]
