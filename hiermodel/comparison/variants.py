"""Derive the pooled, unpooled and hierarchical variants of one hierarchical formula.

The rule (also in ``docs/compare.md``), applied to the *meaning* of the formula
(:class:`~hiermodel.formula.terms.ModelTerms`, after ``*``, ``||``, ``/`` and ``%in%`` are
expanded):

- **pooled**: drop every group-level term; the population-level terms stay as written.
- **hierarchical**: the formula as written.
- **unpooled**: every varying term becomes a per-group fixed effect with no shared prior:
  ``(1|g)`` becomes ``0 + g`` (replacing the population intercept), ``(1 + x|g)`` becomes
  ``0 + g + g:x`` with the population ``x`` dropped, ``(0 + x|g)`` becomes ``g:x`` (the
  population intercept stays). The remaining population terms are kept. A numeric grouping
  column is wrapped in ``factor()`` so that it is coded as a factor, as lme4 treats groups.

``variants={"unpooled": "...", "extra": "..."}`` replaces derived variants or adds new ones;
the talk's unpooled model (one parameter per county x hybrid cell) is
``{"unpooled": "log_y ~ 0 + county:used_hybrid_seeds"}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from hiermodel.errors import CompareError

if TYPE_CHECKING:
    from hiermodel.formula.terms import ModelTerms
    from hiermodel.models import Model

BASE_VARIANTS = ("pooled", "unpooled", "hierarchical")
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def _translate(formula: str, data: pd.DataFrame | None) -> ModelTerms:
    import hiermodel as hm

    return hm.translate(formula, data)


def response_text(terms: ModelTerms) -> str:
    """The left-hand side as lme4 text (``log(y + 0.1)``, ``cbind(s, f)``), with its weights
    (``y | weights(w)``) so that every variant is weighted alike."""
    resp = terms.response
    text = resp.variable.name
    if resp.kind == "cbind" and resp.failures is not None:
        text = f"cbind({resp.variable.name}, {resp.failures.name})"
    return text if resp.weights is None else f"{text} | weights({resp.weights.name})"


def _offset_text(terms: ModelTerms) -> list[str]:
    out = []
    for var in terms.offsets:
        name = var.name
        out.append(name if name.startswith("offset(") else f"offset({name})")
    return out


def _is_numeric_column(terms: ModelTerms, name: str, data: pd.DataFrame | None) -> bool:
    """True when grouping variable ``name`` would be coded as a number as a population term."""
    var = terms.variables.get(name)
    if var is None or var.categorical or data is None:
        return False
    if len(var.source_columns) != 1 or var.source_columns[0] not in data.columns:
        return False
    if name != var.source_columns[0]:  # an expression: leave it as written
        return False
    col = data[var.source_columns[0]]
    return bool(pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))


def _group_text(terms: ModelTerms, factor: tuple[str, ...], data: pd.DataFrame | None) -> str:
    parts = [f"factor({f})" if _is_numeric_column(terms, f, data) else f for f in factor]
    return ":".join(parts)


def _rhs(intercept: bool, terms: list[str]) -> str:
    if not terms:
        return "1" if intercept else "0"
    return " + ".join(terms) if intercept else "0 + " + " + ".join(terms)


def _dedup(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def pooled_formula(terms: ModelTerms) -> str:
    """Drop every group-level term."""
    rhs = [t.name for t in terms.fixed] + _offset_text(terms)
    return f"{response_text(terms)} ~ {_rhs(terms.intercept, _dedup(rhs))}"


def unpooled_formula(terms: ModelTerms, data: pd.DataFrame | None = None,
                     keep_intercept: bool = False) -> str:
    """Every varying term becomes a per-group fixed effect (see the module docstring).

    ``keep_intercept`` (ordinal families, whose thresholds take the intercept's place) keeps
    the intercept, so a varying intercept becomes treatment-coded group effects ``g``
    instead of ``0 + g``."""
    group_terms: list[str] = []
    dropped: set[str] = set()
    replaces_intercept = False
    for block in terms.groups:
        g = _group_text(terms, block.factor, data)
        if block.intercept:
            group_terms.append(g)
            replaces_intercept = True
        for term in block.terms:
            group_terms.append(f"{g}:{term.name}")
            dropped.add(term.name)
    rest = [t.name for t in terms.fixed if t.name not in dropped]
    intercept = terms.intercept and (keep_intercept or not replaces_intercept)
    rhs = _dedup(group_terms + rest) + _offset_text(terms)
    return f"{response_text(terms)} ~ {_rhs(intercept, rhs)}"


def derive_variants(formula: str, data: pd.DataFrame | None = None,
                    terms: ModelTerms | None = None, keep_intercept: bool = False
                    ) -> dict[str, str]:
    """``{"pooled": ..., "unpooled": ..., "hierarchical": formula}`` for a hierarchical formula.

    ``data`` (optional) is used to check column names and to wrap numeric grouping columns in
    ``factor()`` in the unpooled formula.
    """
    if terms is None:
        terms = _translate(formula, data)
    if not terms.groups:
        raise CompareError(
            f"'{formula}' has no group-level term such as (1 | group); compare() contrasts "
            "pooled, unpooled and hierarchical variants of a hierarchical formula"
        )
    return {
        "pooled": pooled_formula(terms),
        "unpooled": unpooled_formula(terms, data, keep_intercept),
        "hierarchical": formula,
    }


def resolve_variants(formula: str, data: pd.DataFrame | None = None,
                     variants: Mapping[str, str] | None = None,
                     terms: ModelTerms | None = None, keep_intercept: bool = False
                     ) -> dict[str, str]:
    """Derived variants, with ``variants`` replacing (same name) or adding (new name) formulas
    (``keep_intercept``: see :func:`unpooled_formula`)."""
    out = derive_variants(formula, data, terms, keep_intercept)
    for name, text in (variants or {}).items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise CompareError(f"variant name {name!r} must be letters, digits, '_', '.' or '-'"
                               " (it names files in Comparison.write)")
        if not isinstance(text, str) or "~" not in text:
            raise CompareError(f"variant '{name}' must be a formula string with '~' "
                               f"(got {text!r})")
        if name == "hierarchical" and text.strip() != formula.strip():
            raise CompareError("the 'hierarchical' variant is the formula passed to compare(); "
                               "pass a different formula instead of overriding it")
        out[name] = text
    return out


# -- how a fitted variant treats the comparison's grouping factor ----------------------------

def group_source_columns(terms: ModelTerms, group: str) -> tuple[str, ...]:
    """Data columns that define grouping factor ``group`` (``"a:b"`` -> ``("a", "b")``)."""
    block = next((b for b in terms.groups if b.group == group), None)
    if block is None:
        groups = [b.group for b in terms.groups]
        from hiermodel.errors import did_you_mean

        raise CompareError(f"no grouping factor '{group}' in '{terms.formula}'"
                           f"{did_you_mean(group, groups)}; grouping factors: "
                           f"{', '.join(dict.fromkeys(groups))}")
    cols: list[str] = []
    for f in block.factor:
        for c in terms.variables[f].source_columns:
            if c not in cols:
                cols.append(c)
    return tuple(cols)


def _group_variables(terms: ModelTerms, source: tuple[str, ...]) -> set[str]:
    """Safe columns of the variables of ``terms`` computed only from the group's columns."""
    return {v.column for v in terms.variables.values()
            if v.source_columns and set(v.source_columns) <= set(source)}


def group_x_columns(model: Model, source: tuple[str, ...]) -> list[int]:
    """Population-level design columns of ``model`` that belong to one level of the group."""
    cols = _group_variables(model.terms, source)
    return [j for j, recipe in enumerate(model.design.x_recipes)
            if any(col in cols and level is not None for col, level in recipe)]


def group_blocks(model: Model, source: tuple[str, ...]) -> list[Any]:
    """Group-level blocks of ``model`` whose grouping factor is (built from) the group's
    columns."""
    terms = model.terms
    out = []
    for block in model.design.blocks:
        src: set[str] = set()
        for f in block.source.factor:
            src |= set(terms.variables[f].source_columns)
        if src and src <= set(source):
            out.append(block)
    return out


def variant_kind(model: Model, source: tuple[str, ...]) -> str:
    """``hierarchical`` (group-level effects over the group), ``unpooled`` (per-group
    population coefficients), ``pooled`` (the group does not appear) or ``mixed`` (both)."""
    blocks = bool(group_blocks(model, source))
    cols = bool(group_x_columns(model, source))
    if blocks and cols:
        return "mixed"
    return "hierarchical" if blocks else "unpooled" if cols else "pooled"


__all__ = [
    "BASE_VARIANTS",
    "derive_variants",
    "group_blocks",
    "group_source_columns",
    "group_x_columns",
    "pooled_formula",
    "resolve_variants",
    "response_text",
    "unpooled_formula",
    "variant_kind",
]
