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
from hiermodel.errors import BuildError, InternalError
from hiermodel.families import threshold_names
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
    owners: list[int] = field(default_factory=list)  # column -> index of its Bambi term
    component: str = ""  # "" for the mean; an auxiliary parameter's name (terms prefixed)

    @property
    def k(self) -> int:
        return self.Z.shape[1]


@dataclass
class ModelDesign:
    """Arrays, names and Bambi's automatic priors for one model."""

    prepared: PreparedData
    bambi_model: Any  # None when built with stand-in grouping factors (see DENSE_GROUP_CELLS)
    y: np.ndarray
    X: np.ndarray  # (N, p) population-level columns, intercept excluded
    x_names: list[str]
    has_intercept: bool
    x_recipes: list[Recipe]
    blocks: list[BlockDesign]
    trials: np.ndarray | None = None
    offset: np.ndarray | None = None
    auto_priors: dict[tuple[str, str, str], Any] = field(default_factory=dict)
    # ordinal families: threshold names in order (R's "1|2", "2|3", ...); empty otherwise
    thresholds: list[str] = field(default_factory=list)
    # distributional sub-models: auxiliary parameter -> its population-level design (its
    # group-level blocks are in ``blocks``, with ``component`` set)
    components: dict[str, ComponentDesign] = field(default_factory=dict)

    def main_blocks(self) -> list[BlockDesign]:
        """The group-level blocks of the mean's linear predictor."""
        return [b for b in self.blocks if not b.component]

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


@dataclass
class ComponentDesign:
    """The population-level design of an auxiliary parameter's own formula (``sigma ~ x``):
    names prefixed with the parameter (``sigma_(Intercept)``, ``sigma_x``), as brms."""

    name: str
    link: str
    formula: str  # as the user wrote it, brms style: "sigma ~ Days"
    terms: ModelTerms
    X: np.ndarray
    x_names: list[str]  # prefixed
    x_recipes: list[Recipe]
    has_intercept: bool

    @property
    def names(self) -> list[str]:
        """fixef row names: the intercept (if any) first."""
        return ([f"{self.name}_(Intercept)"] if self.has_intercept else []) + self.x_names


def add_component(design: ModelDesign, name: str, link: str, prepared: PreparedData,
                  formula: str) -> None:
    """Add the design of auxiliary parameter ``name``'s formula (prepared on the same rows)."""
    sub = build_design(prepared)
    if sub.offset is not None:
        raise BuildError(f"offset() is not supported in the formula for '{name}'; put the "
                         "offset in the main formula")
    for block in sub.blocks:
        block.component = name
        block.terms = [f"{name}_{t}" for t in block.terms]
        design.blocks.append(block)
    design.components[name] = ComponentDesign(
        name=name, link=link, formula=formula, terms=prepared.terms, X=sub.X,
        x_names=[f"{name}_{t}" for t in sub.x_names], x_recipes=sub.x_recipes,
        has_intercept=sub.has_intercept)


def _display_map(terms: ModelTerms) -> dict[str, str]:
    """safe column -> lme4 name (a basis column: ``hm_poly_x_2_1`` -> ``poly(x, 2)1``)."""
    return {c: n for v in terms.variables.values()
            for c, n in zip(v.design_columns, v.column_names, strict=True)}


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


def _factor_levels(values: pd.Series) -> tuple[list[str], np.ndarray]:
    """formulae's coding of one grouping column: (level labels, code per row).

    formulae keeps the category order of an *ordered* Categorical and sorts the values of
    anything else (an unordered Categorical's own order is ignored)."""
    if isinstance(values.dtype, pd.CategoricalDtype) and values.dtype.ordered:
        cat = pd.Categorical(values)
    else:
        cat = pd.Categorical(values, categories=sorted(pd.unique(values).tolist()))
    return [str(c) for c in cat.categories], np.asarray(cat.codes, dtype=np.int64)


def group_index(block: GroupBlock, prepared: PreparedData) -> tuple[list[str], np.ndarray]:
    """Levels (``a:b`` labels for interactions, in formulae's product order) and the level
    index of every row, computed without any (rows x levels) indicator matrix."""
    levels: list[str] = [""]
    index = np.zeros(prepared.n, dtype=np.int64)
    for k, name in enumerate(block.factor):
        labs, codes = _factor_levels(prepared.frame[prepared.terms.variables[name].column])
        levels = [f"{a}:{b}" if k else b for a in levels for b in labs]
        index = index * len(labs) + codes
    return levels, index


# Above this many (rows x levels) cells summed over grouping factors, formulae's dense
# indicator matrices (8 bytes a cell: 1.7 GB for 70,000 rows x 3,100 levels) are not built:
# Bambi sees a two-level stand-in for each grouping column that no other term uses — its
# automatic priors for group-level terms depend only on the response and the slope
# expressions, never on the grouping factor — and the level index comes from group_index().
DENSE_GROUP_CELLS = 20_000_000


def _standin_frame(prepared: PreparedData) -> tuple[pd.DataFrame, bool]:
    """(frame for Bambi, whether its grouping factors are the real ones)."""
    terms = prepared.terms
    frame = prepared.frame
    cells = 0
    for block in terms.groups:
        n_levels = 1
        for name in block.factor:
            n_levels *= frame[terms.variables[name].column].nunique()
        cells += len(frame) * n_levels
    if cells <= DENSE_GROUP_CELLS:
        return frame, True
    grouping = {f for block in terms.groups for f in block.factor}
    used_elsewhere = {v for t in terms.fixed for v in t.variables}
    used_elsewhere.add(terms.response.variable.name)
    used_elsewhere |= {v for block in terms.groups for t in block.terms for v in t.variables}
    used_elsewhere |= {v.name for v in terms.offsets}
    replace = [terms.variables[f].column for f in grouping - used_elsewhere]
    if not replace:
        return frame, True
    stand_in = pd.Categorical(np.where(np.arange(len(frame)) % 2 == 0, "a", "b"))
    log.info("grouping factors %s: %d rows x levels exceed %d; Bambi sees a stand-in factor",
             replace, cells, DENSE_GROUP_CELLS)
    return frame.assign(**{c: stand_in for c in replace}), False


def _block_design(
    block: GroupBlock,
    group_terms: dict[str, Any],
    prepared: PreparedData,
    col_to_name: dict[str, str],
    exact_groups: bool = True,
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
    owners: list[int] = []
    levels, index = group_index(block, prepared)
    if exact_groups:
        # formulae evaluated the real grouping factor: it must agree with our own indexing
        first = group_terms[names[0]]
        factor = np.asarray(first.factor.data)
        theirs = factor.argmax(axis=1) if factor.ndim == 2 else factor.astype(int)
        if [str(g) for g in first.groups] != levels or not np.array_equal(theirs, index):
            raise InternalError(f"group levels of block {names} disagree with formulae")
    for i, name in enumerate(names):
        term = group_terms[name]
        expr_name = name.split("|")[0]
        if expr_name == "1":
            cols.append(np.ones((len(index), 1)))
            labels.append("(Intercept)")
            recipes.append(())
            owners.append(i)
            continue
        data = np.asarray(term.expr.data, dtype=float)
        data = data.reshape(len(index), -1)
        # lme4: with no intercept in the block, a categorical first term gets full dummy coding
        # ((0 + f | g) estimates one effect per level). formulae drops the reference level.
        owner = block.bambi_owners[i] if block.bambi_owners else i - int(block.intercept)
        variables = block.terms[owner].variables
        first_var = prepared.terms.variables[variables[0]]
        var_cols = [prepared.terms.variables[v].column for v in variables]
        is_cat = (len(var_cols) == 1 and first_var.basis is None
                  and not pd.api.types.is_numeric_dtype(prepared.frame[var_cols[0]]))
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
        owners.extend([i] * len(term_labels))
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
        owners=owners,
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


def bambi_model(prepared: PreparedData, frame: pd.DataFrame | None = None) -> Any:
    """The Bambi model of the translated formula (on ``frame``, default the prepared data)."""
    import bambi as bmb

    terms = prepared.terms
    family = prepared.family
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*[Cc]ategorical.*", category=UserWarning)
            return bmb.Model(
                terms.bambi_formula,
                prepared.frame if frame is None else frame,
                family=family.bambi_family()[0],
                link=family.bambi_family()[1],
                center_predictors=True,
                dropna=False,
            )
    except Exception as exc:  # Bambi raises bare exceptions; surface them as a build error
        raise BuildError(
            f"Bambi could not build '{terms.bambi_formula}' (from '{terms.formula}'): {exc}"
        ) from exc


def _column_prior(prior: tuple[str, dict[str, Any]] | None, j: int, n_cols: int
                  ) -> tuple[str, dict[str, Any]] | None:
    """Bambi's prior of a multi-column term (one sigma per column) restricted to column j."""
    if prior is None or n_cols <= 1:
        return prior
    name, args = prior
    out: dict[str, Any] = {}
    for key, value in args.items():
        arr = np.asarray(value, dtype=float)
        out[key] = float(arr.flat[j]) if arr.ndim and arr.size == n_cols else value
    return name, out


def build_design(prepared: PreparedData) -> ModelDesign:
    """Run Bambi on the prepared data and read out arrays, names and automatic priors."""
    terms = prepared.terms
    family = prepared.family
    frame = prepared.frame
    bambi_frame, exact_groups = _standin_frame(prepared)
    model = bambi_model(prepared, bambi_frame)
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
                if family.ordinal:  # the thresholds take the intercept's place
                    continue
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
                auto[("b", lname, "")] = _column_prior(prior, j, len(labels))
    X = np.column_stack(x_cols) if x_cols else np.zeros((len(y), 0))
    # The recipes recompute every column for new data (predict); check them on the training
    # data against formulae's own matrices so the two can never disagree silently.
    if not np.allclose(evaluate_recipes(x_recipes, frame), X):
        raise InternalError(f"design recipes disagree with formulae for {x_names}")

    blocks: list[BlockDesign] = []
    group_terms = dict(design.group.terms) if design.group is not None else {}
    for gblock in terms.groups:
        bd = _block_design(gblock, group_terms, prepared, col_to_name, exact_groups)
        if not np.allclose(evaluate_recipes(bd.recipes, frame), bd.Z):
            raise InternalError(f"group design recipes disagree for {bd.terms}")
        blocks.append(bd)
        start = 0  # the columns of each Bambi term are contiguous, in term order
        for owner, name in enumerate(gblock.bambi_terms()):
            prior = _bambi_prior(component.terms[name].prior) if name in component.terms else None
            n_cols = bd.owners.count(owner)
            for j, lab in enumerate(bd.terms[start:start + n_cols]):
                auto.setdefault(("sd", lab, bd.group), _column_prior(prior, j, n_cols))
            start += n_cols
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
        bambi_model=model if exact_groups else None,
        y=y,
        X=X,
        x_names=x_names,
        has_intercept=has_intercept,
        x_recipes=x_recipes,
        blocks=blocks,
        trials=trials,
        offset=offset,
        auto_priors=auto,
        thresholds=_thresholds(prepared),
    )


def _thresholds(prepared: PreparedData) -> list[str]:
    if not prepared.family.ordinal:
        return []
    if prepared.response_levels is None:
        raise InternalError("ordinal family without response levels from the data stage")
    return threshold_names(list(prepared.response_levels))


__all__ = [
    "DENSE_GROUP_CELLS",
    "BlockDesign",
    "ComponentDesign",
    "ModelDesign",
    "Recipe",
    "add_component",
    "bambi_model",
    "build_design",
    "evaluate_recipes",
    "group_index",
    "lme4_label",
    "parse_label",
]
