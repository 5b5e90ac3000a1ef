"""Design stage: let Bambi parse the translated formula and build design matrices.

Bambi (through formulae) owns formula evaluation, categorical coding and its automatic priors;
this module reads them out into plain arrays with lme4 names (:class:`ModelDesign`), the
input of the PyMC graph builder. Nothing here creates PyMC variables.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hiermodel.data import PreparedData
from hiermodel.errors import BuildError
from hiermodel.formula.terms import GroupBlock, ModelTerms

log = logging.getLogger("hiermodel")

_LEVEL = re.compile(r"^(?P<col>.*?)\[(?P<level>.*)\]$")

# How to compute one design column from model-ready data: a product of factors, each a
# numeric column (level None) or the indicator of one level of a categorical column.
Recipe = tuple[tuple[str, str | None], ...]


def parse_label(label: str) -> Recipe:
    """formulae column label -> recipe (``Days:g2[lo]`` -> ``(("Days", None), ("g2", "lo"))``)."""
    out: list[tuple[str, str | None]] = []
    for part in label.split(":"):
        m = _LEVEL.match(part)
        out.append((m.group("col"), m.group("level")) if m else (part, None))
    return tuple(out)


def evaluate_recipes(recipes: list[Recipe], frame: pd.DataFrame) -> np.ndarray:
    """Design columns for ``frame`` (training or new data) from their recipes."""
    out = np.ones((len(frame), len(recipes)))
    cache: dict[str, np.ndarray] = {}
    for j, recipe in enumerate(recipes):
        for col, level in recipe:
            if level is None:
                out[:, j] *= np.asarray(frame[col], dtype=float)
            else:
                if col not in cache:
                    cache[col] = np.asarray(frame[col].astype(str))
                out[:, j] *= cache[col] == level
    return out


@dataclass
class BlockDesign:
    """One group-level block: ``k`` columns varying over the levels of one grouping factor."""

    group: str  # grouping factor display name, e.g. "Subject" or "a:b"
    levels: list[str]
    index: np.ndarray  # (N,) level index per row
    Z: np.ndarray  # (N, k) the block's expression columns (1 for the intercept)
    terms: list[str]  # lme4 column names, "(Intercept)" first when present
    correlated: bool
    source: GroupBlock
    recipes: list[Recipe] = field(default_factory=list)

    @property
    def k(self) -> int:
        return self.Z.shape[1]


@dataclass
class ModelDesign:
    """Arrays, names and Bambi's automatic priors for one model."""

    prepared: PreparedData
    bambi_model: Any
    y: np.ndarray
    X: np.ndarray  # (N, p) population-level columns, intercept excluded
    x_names: list[str]
    has_intercept: bool
    x_recipes: list[Recipe]
    blocks: list[BlockDesign]
    trials: np.ndarray | None = None
    offset: np.ndarray | None = None
    auto_priors: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def terms(self) -> ModelTerms:
        return self.prepared.terms

    @property
    def family(self) -> Any:
        return self.prepared.family

    @property
    def groups(self) -> list[str]:
        seen: list[str] = []
        for b in self.blocks:
            if b.group not in seen:
                seen.append(b.group)
        return seen


def _display_map(terms: ModelTerms) -> dict[str, str]:
    return {v.column: v.name for v in terms.variables.values()}


def lme4_label(label: str, col_to_name: dict[str, str]) -> str:
    """Bambi/formulae column label -> lme4 coefficient name (``g2[lo]`` -> ``g2lo``)."""
    parts = []
    for part in label.split(":"):
        m = _LEVEL.match(part)
        if m:
            level = m.group("level")
            level = {"True": "TRUE", "False": "FALSE"}.get(level, level)
            parts.append(col_to_name.get(m.group("col"), m.group("col")) + level)
        else:
            parts.append(col_to_name.get(part, part))
    return ":".join(parts)


def _full_dummies(
    values: pd.Series, name: str, column: str
) -> tuple[np.ndarray, list[str], list[Recipe]]:
    cat = values if isinstance(values.dtype, pd.CategoricalDtype) else pd.Categorical(values)
    cats = list(pd.Categorical(cat).categories)
    codes = pd.Categorical(cat, categories=cats).codes
    Z = np.zeros((len(values), len(cats)))
    Z[np.arange(len(values)), codes] = 1.0
    labels = [name + {"True": "TRUE", "False": "FALSE"}.get(str(c), str(c)) for c in cats]
    return Z, labels, [((column, str(c)),) for c in cats]


def _block_design(
    block: GroupBlock,
    group_terms: dict[str, Any],
    prepared: PreparedData,
    col_to_name: dict[str, str],
) -> BlockDesign:
    names = block.bambi_terms()
    missing = [n for n in names if n not in group_terms]
    if missing:
        raise BuildError(
            f"internal: Bambi did not create group terms {missing} for block '{block.group}' "
            f"(has {list(group_terms)})"
        )
    cols: list[np.ndarray] = []
    labels: list[str] = []
    recipes: list[Recipe] = []
    first = group_terms[names[0]]
    levels = [str(g) for g in first.groups]
    factor = np.asarray(first.factor.data)
    index = factor.argmax(axis=1) if factor.ndim == 2 else factor.astype(int)
    for i, name in enumerate(names):
        term = group_terms[name]
        if [str(g) for g in term.groups] != levels:
            raise BuildError(f"internal: group levels differ between terms of block {names}")
        expr_name = name.split("|")[0]
        if expr_name == "1":
            cols.append(np.ones((len(index), 1)))
            labels.append("(Intercept)")
            recipes.append(())
            continue
        data = np.asarray(term.expr.data, dtype=float)
        data = data.reshape(len(index), -1)
        # lme4: with no intercept in the block, a categorical first term gets full dummy coding
        # ((0 + f | g) estimates one effect per level). formulae drops the reference level.
        variables = block.terms[i - (1 if block.intercept else 0)].variables
        var_cols = [prepared.terms.variables[v].column for v in variables]
        is_cat = len(var_cols) == 1 and not pd.api.types.is_numeric_dtype(
            prepared.frame[var_cols[0]]
        )
        if not block.intercept and i == 0 and is_cat:
            data, term_labels, term_recipes = _full_dummies(
                prepared.frame[var_cols[0]], variables[0], var_cols[0]
            )
        else:
            raw = [str(lab) for lab in (getattr(term.expr, "labels", None) or [expr_name])]
            if len(raw) != data.shape[1]:
                raise BuildError(
                    f"internal: cannot name the {data.shape[1]} columns of group term '{name}'"
                )
            term_labels = [lme4_label(lab, col_to_name) for lab in raw]
            term_recipes = [parse_label(lab) for lab in raw]
        cols.append(data)
        labels.extend(term_labels)
        recipes.extend(term_recipes)
    Z = np.column_stack(cols)
    return BlockDesign(
        group=block.group,
        levels=levels,
        index=np.asarray(index, dtype=np.int64),
        Z=Z,
        terms=labels,
        correlated=block.correlated,
        source=block,
        recipes=recipes,
    )


def _bambi_prior(prior: Any) -> tuple[str, dict[str, Any]] | None:
    if prior is None or not hasattr(prior, "name"):
        return None
    args: dict[str, Any] = {}
    for key, value in prior.args.items():
        if hasattr(value, "name"):  # hyperprior: Normal(0, HalfNormal(s)) for group terms
            return _bambi_prior(value)
        args[key] = np.asarray(value, dtype=float).tolist()
    return prior.name, args


def build_design(prepared: PreparedData) -> ModelDesign:
    """Run Bambi on the prepared data and read out arrays, names and automatic priors."""
    import bambi as bmb

    terms = prepared.terms
    family = prepared.family
    frame = prepared.frame
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]ategorical.*", category=UserWarning)
            model = bmb.Model(
                terms.bambi_formula,
                frame,
                family=family.bambi_name,
                link=family.link,
                center_predictors=True,
                dropna=False,
            )
    except Exception as exc:  # Bambi raises bare exceptions; surface them as a build error
        raise BuildError(
            f"Bambi could not build '{terms.bambi_formula}' (from '{terms.formula}'): {exc}"
        ) from exc
    component = model.components[model.family.likelihood.parent]
    design = component.design
    col_to_name = _display_map(terms)

    y = np.asarray(frame[terms.response.variable.column], dtype=float)
    common = design.common
    x_cols: list[np.ndarray] = []
    x_names: list[str] = []
    x_recipes: list[Recipe] = []
    has_intercept = False
    auto: dict[tuple[str, str, str], Any] = {}
    if common is not None:
        matrix = np.asarray(common.design_matrix, dtype=float)
        for name, sl in common.slices.items():
            prior = _bambi_prior(component.terms[name].prior) if name in component.terms else None
            if name == "Intercept":
                has_intercept = True
                auto[("Intercept", "", "")] = prior
                continue
            labels = common.terms[name].labels
            block = matrix[:, sl]
            for j, lab in enumerate(labels):
                lname = lme4_label(str(lab), col_to_name)
                x_cols.append(block[:, j])
                x_names.append(lname)
                x_recipes.append(parse_label(str(lab)))
                auto[("b", lname, "")] = prior
    X = np.column_stack(x_cols) if x_cols else np.zeros((len(y), 0))
    # The recipes recompute every column for new data (predict); check them on the training
    # data against formulae's own matrices so the two can never disagree silently.
    if not np.allclose(evaluate_recipes(x_recipes, frame), X):
        raise BuildError(f"internal: design recipes disagree with formulae for {x_names}")

    blocks: list[BlockDesign] = []
    group_terms = dict(design.group.terms) if design.group is not None else {}
    notes: list[str] = []
    for gblock in terms.groups:
        bd = _block_design(gblock, group_terms, prepared, col_to_name)
        if not np.allclose(evaluate_recipes(bd.recipes, frame), bd.Z):
            raise BuildError(f"internal: group design recipes disagree for {bd.terms}")
        blocks.append(bd)
        for name in gblock.bambi_terms():
            prior = _bambi_prior(component.terms[name].prior) if name in component.terms else None
            expr = name.split("|")[0]
            for lab in bd.terms:
                key = ("sd", lab, bd.group)
                if key not in auto and (lab == "(Intercept)") == (expr == "1"):
                    auto[key] = prior
    for aux in family.aux:
        comp = model.components.get(aux)
        auto[(aux, "", "")] = _bambi_prior(comp.prior) if comp is not None else None

    offset = None
    for var in terms.offsets:
        values = np.asarray(frame[var.column], dtype=float)
        offset = values if offset is None else offset + values
    trials = None
    if terms.response.trials_column is not None:
        trials = np.asarray(frame[terms.response.trials_column], dtype=float)
    return ModelDesign(
        prepared=prepared,
        bambi_model=model,
        y=y,
        X=X,
        x_names=x_names,
        has_intercept=has_intercept,
        x_recipes=x_recipes,
        blocks=blocks,
        trials=trials,
        offset=offset,
        auto_priors=auto,
        notes=notes,
    )


__all__ = [
    "BlockDesign",
    "ModelDesign",
    "Recipe",
    "build_design",
    "evaluate_recipes",
    "lme4_label",
    "parse_label",
]
