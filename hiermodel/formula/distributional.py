"""Distributional sub-models: a formula for an auxiliary parameter (brms ``sigma ~ x``,
glmmTMB ``dispformula`` / ``ziformula``).

Two spellings, as in brms and Bambi: keyword formulas (``sigma="~ Days"``) and a list whose
first element is the main formula and the others ``name ~ rhs`` (``["y ~ x", "sigma ~ x"]``).
:func:`split_formulas` turns either into (main formula, {parameter: right-hand side}); each
right-hand side is translated like a main formula with the main response (so it may hold
population-level and group-level terms).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence

from hiermodel.errors import FormulaError

#: Links of auxiliary parameters that get their own formula (brms's defaults).
AUX_LINKS: dict[str, str] = {"sigma": "log", "nu": "log", "alpha": "log", "phi": "log",
                             "zi": "logit", "hu": "logit"}


def _rhs(name: str, text: str, where: str) -> str:
    text = str(text).strip()
    if "~" not in text:
        raise FormulaError(f"{where}: the formula for '{name}' must be one-sided, like "
                           f"'~ x' (got {text!r})")
    lhs, rhs = text.split("~", 1)
    if lhs.strip() and lhs.strip() != name:
        raise FormulaError(
            f"{where}: the formula for '{name}' has a response ({lhs.strip()!r}); write it "
            f"one-sided ('~ {rhs.strip()}'): the response is the main formula's"
        )
    if not rhs.strip():
        raise FormulaError(f"{where}: the formula for '{name}' has no right-hand side; use "
                           "'~ 1' for a constant")
    return rhs.strip()


def split_formulas(formula: str | Sequence[str], aux: Mapping[str, str | None],
                   parameters: Sequence[str], family: str
                   ) -> tuple[str, dict[str, str]]:
    """(main formula, {auxiliary parameter: right-hand side}) from a formula or a list of them
    and keyword formulas. ``parameters`` are the family's auxiliary parameters."""
    out: dict[str, str] = {}
    if isinstance(formula, str):
        main = formula
    else:
        items = [str(f) for f in formula]
        if not items:
            raise FormulaError("the formula list is empty; its first element is the main "
                               "formula, e.g. ['y ~ x + (1|g)', 'sigma ~ x']")
        main = items[0]
        for text in items[1:]:
            name = text.split("~", 1)[0].strip() if "~" in text else ""
            if not name:
                raise FormulaError(
                    f"formula {text!r} after the main formula names no parameter; write "
                    f"'<parameter> ~ ...' with one of: {', '.join(parameters) or '(none)'}")
            out[_check_name(name, parameters, family)] = _rhs(name, text, "formula list")
    for name, given in aux.items():
        if given is None:
            continue
        key = _check_name(name, parameters, family)
        if key in out:
            raise FormulaError(f"two formulas for '{key}' (in the list and as {key}=); keep one")
        out[key] = _rhs(key, given, f"{key}=")
    return main, out


def _check_name(name: str, parameters: Sequence[str], family: str) -> str:
    if name in parameters and name in AUX_LINKS:
        return name
    if name in parameters:
        raise FormulaError(f"'{name}' of family '{family}' cannot have its own formula")
    able = [p for p in parameters if p in AUX_LINKS]
    if name in AUX_LINKS:
        hint = f" ('{name}' belongs to other families)"
    else:
        close = difflib.get_close_matches(name, able or list(AUX_LINKS), n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
    listing = ", ".join(able) or "(none)"
    raise FormulaError(
        f"family '{family}' has no auxiliary parameter '{name}'{hint}; parameters that can "
        f"have a formula: {listing}"
    )


__all__ = ["AUX_LINKS", "split_formulas"]
