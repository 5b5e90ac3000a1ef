"""Sampling geometry of the group effects: centered vs non-centered per grouping factor, from
how informative the data are per level (docs/architecture.md, "Centered vs non-centered"),
and which centered factor is centered on the population values (hierarchical centering;
docs/performance.md, "Level intercepts centered on the intercept")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytensor.tensor as pt

from hiermodel.backend.design import BlockDesign, ModelDesign
from hiermodel.errors import BuildError

# A gaussian factor's effects are sampled centered when the data/prior precision ratio
# m * tau^2 / sigma^2 of a level exceeds a threshold measured by benchmarks/geometry.py
# (min bulk ESS per leapfrog step over the population parameters, centered vs non-centered):
# * the factor alone, y ~ x + (1|g): crossover at a true ratio between 1 and 2 for 5, 20 and
#   100 rows per level; at 4 centered was 2.9-3.9x more efficient -> CENTER_RATIO;
# * one factor of several (crossed y ~ x + (1|a) + (1|b)): crossover between 4 and 8 (at 4
#   centered 0.73x, at 8 1.9x) -> CENTER_RATIO_SEVERAL;
# * fewer than MANY_LEVELS levels: the estimate is too noisy to trust near the crossover (8
#   levels of 2 rows with a true ratio of 0.7 estimated 6.6), so those keep the conservative
#   threshold of earlier sessions.
CENTER_RATIO = 2.0
CENTER_RATIO_SEVERAL = 6.0
CENTER_RATIO_FEW_LEVELS = 10.0
MANY_LEVELS = 20

# Gauss-Seidel sweeps of the additive fit behind the precision ratio; it converges in a few
# sweeps on crossed designs (each sweep is one bincount per factor)
SWEEPS = 20


def _additive_effects(design: ModelDesign) -> tuple[dict[str, np.ndarray], float]:
    """The per-level fixed-effect means of every grouping factor of the mean, fitted jointly
    with the population-level columns (least squares, then backfitting, so crossed factors are
    separated), and the residual variance of that additive fit on its degrees of freedom."""
    y = design.y - (design.offset if design.offset is not None else 0.0)
    X = np.column_stack([np.ones(len(y)), design.X]) if design.X.size else np.ones((len(y), 1))
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    r = y - X @ coef
    factors: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for b in design.main_blocks():
        if b.group not in factors:
            factors[b.group] = b.index
            counts[b.group] = np.maximum(np.bincount(b.index, minlength=len(b.levels)), 1.0)
    effects = {g: np.zeros(len(counts[g])) for g in factors}
    fitted = np.zeros(len(y))
    for _ in range(SWEEPS if len(factors) > 1 else 1):
        before = fitted.copy()
        for g, idx in factors.items():
            partial = r - fitted + effects[g][idx]
            new = np.bincount(idx, weights=partial, minlength=len(counts[g])) / counts[g]
            new -= new.mean()
            fitted += (new - effects[g])[idx]
            effects[g] = new
        if np.max(np.abs(fitted - before)) < 1e-8 * (1.0 + np.max(np.abs(fitted))):
            break
    resid = r - fitted
    dof = len(y) - X.shape[1] - sum(len(e) - 1 for e in effects.values())
    return effects, float(resid @ resid) / max(dof, 1)


def _informative_ratio(design: ModelDesign, block: BlockDesign) -> tuple[float, float]:
    """(median rows per level, data-to-prior precision ratio m * tau^2 / sigma^2) for a block,
    moment-based: tau^2 and sigma^2 from an additive fixed-effects fit of the population-level
    columns and every grouping factor, so that neither the predictors nor the other (crossed)
    factors count as within-level noise."""
    counts = np.bincount(block.index, minlength=len(block.levels)).astype(float)
    median_n = float(np.median(counts[counts > 0]))
    if design.family.name != "gaussian":
        return median_n, float("nan")
    effects, within = _additive_effects(design)
    ok = counts > 0
    # a factor of an auxiliary parameter's formula (sigma ~ (1|g)) has no mean effects: 0
    means = effects.get(block.group, np.zeros(len(counts)))
    between = max(float(np.var(means[ok], ddof=1)) - within * float(np.mean(1.0 / counts[ok])),
                  1e-12)
    return median_n, median_n * between / max(within, 1e-12)


def _level_weights(design: ModelDesign, block: BlockDesign) -> tuple[np.ndarray, np.ndarray]:
    """(weight per row, summed weight per level): w = trials for binomial responses, else 1."""
    w = design.trials if design.trials is not None else np.ones(len(design.y))
    return w, np.bincount(block.index, weights=w, minlength=len(block.levels))


def _trials_per_level(design: ModelDesign, block: BlockDesign) -> float:
    _, sums = _level_weights(design, block)
    return float(np.median(sums[sums > 0]))


def _weakest_term_information(design: ModelDesign, block: BlockDesign) -> float:
    """min over levels and block columns of sum_i w_i (z_i - mean_j z)^2 (the intercept: sum_i
    w_i), w = trials for binomial responses, else 1: how much the data of the worst-informed
    level say about its worst-informed coefficient. One level whose slope rests on a single
    row makes the centered posterior a narrow ridge that a diagonal mass matrix cannot follow
    (measured: maize (hybrid|county) with Nyandarua's one non-hybrid row, > 10 min centered)."""
    w, tot = _level_weights(design, block)
    n_lev = len(block.levels)
    present = tot > 0
    worst = float(tot[present].min())
    for j in range(block.k):
        z = block.Z[:, j]
        if np.all(z == 1.0):
            continue
        mean = np.bincount(block.index, weights=w * z, minlength=n_lev) / np.maximum(tot, 1e-300)
        ss = np.bincount(block.index, weights=w * (z - mean[block.index]) ** 2, minlength=n_lev)
        worst = min(worst, float(ss[present].min()))
    return worst


def choose_parametrization(
    design: ModelDesign, group: str, blocks: list[BlockDesign], requested: Any,
    can_center_block: bool = False,
) -> tuple[str, str]:
    """Centered when each level carries much more information than the prior, else non-centered."""
    if isinstance(requested, dict):
        requested = requested.get(group, "auto")
    if requested in ("centered", "noncentered"):
        return requested, "requested"
    if requested != "auto":
        raise BuildError(
            f"parametrization must be 'auto', 'centered' or 'noncentered' (got {requested!r})"
        )
    median_n, ratio = _informative_ratio(design, blocks[0])
    if any(b.correlated and b.k > 1 for b in blocks):
        # A centered correlated block only mixes well when it is centered on the population
        # values of *all* its terms (a_j ~ MvNormal((Intercept, b), Sigma)); centered on zero
        # it was far slower than the Cholesky non-centered form even with thousands of rows
        # per level (30k-row maize varying slopes: > 10 min vs ~50 s). So auto centers a
        # correlated block only when it can be centered that way and each level carries a lot
        # of information; parametrization="centered" still forces it.
        if not can_center_block:
            return "noncentered", (
                f"correlated block (median {median_n:.0f} rows/level) that cannot be centered "
                "on population values"
            )
        weakest = min(_weakest_term_information(design, b) for b in blocks
                      if b.correlated and b.k > 1)
        if weakest < 100:
            return "noncentered", (
                f"correlated block whose least-informed level/term has information "
                f"{weakest:.1f} (centered needs ≥ 100 for every level and term)"
            )
        if design.family.name in ("binomial", "bernoulli"):
            trials = _trials_per_level(design, blocks[0])
            choice = "centered" if trials >= 200 else "noncentered"
            return choice, (f"correlated block, median {trials:.0f} trials/level "
                            "(centered at ≥ 200)")
        if design.family.name == "gaussian":
            choice = "centered" if ratio > 10 and median_n >= 100 else "noncentered"
            return choice, (f"correlated block, median {median_n:.0f} rows/level, data/prior "
                            f"precision ≈ {ratio:.1f} (centered at > 10 with ≥ 100 rows/level)")
        choice = "centered" if median_n >= 200 else "noncentered"
        return choice, (f"correlated block, median {median_n:.0f} rows/level (centered at "
                        "≥ 200)")
    if design.family.name == "gaussian":
        several = len({b.group for b in design.main_blocks()}) > 1
        threshold = (CENTER_RATIO_FEW_LEVELS if len(blocks[0].levels) < MANY_LEVELS
                     else CENTER_RATIO_SEVERAL if several else CENTER_RATIO)
        choice = "centered" if ratio > threshold and median_n >= 10 else "noncentered"
        return choice, f"median {median_n:.0f} rows/level, data/prior precision ≈ {ratio:.1f}"
    choice = "centered" if median_n >= 200 else "noncentered"
    return choice, f"median {median_n:.0f} rows/level (non-gaussian rule: centered at ≥ 200)"


@dataclass
class Population:
    """The population-level RVs a centered group may be centered on (hierarchical centering):
    the sampled intercept (``Intercept_c`` when predictors are centered), ``b`` and the column
    means subtracted from X while sampling."""

    icpt: Any
    beta: Any
    x_names: list[str]
    x_mean: Any  # np.ndarray, or the data vector "x_mean" of a fold graph
    X: np.ndarray

    def slope_columns(self, block: BlockDesign) -> list[int] | None:
        """Positions in ``b`` of the block's slopes when the block is ``(1 + slopes | g)``
        with every slope also a population-level column (same values), else None."""
        if self.beta is None or block.terms[0] != "(Intercept)" or block.k < 2:
            return None
        cols: list[int] = []
        for j, term in enumerate(block.terms[1:], start=1):
            if term not in self.x_names:
                return None
            c = self.x_names.index(term)
            if not np.array_equal(self.X[:, c], block.Z[:, j]):
                return None
            cols.append(c)
        return cols


def can_center_block(population: Population | None, blocks: list[BlockDesign]) -> bool:
    """Whether every correlated block of a group can be centered on population values."""
    return population is not None and all(
        population.slope_columns(b) is not None for b in blocks
        if b.correlated and b.k > 1 and not b.component)


def centering_group(design: ModelDesign, by_group: dict[str, list[BlockDesign]],
                     requested: Any, population: Population | None,
                     integrated: str | None) -> str | None:
    """The grouping factor whose level intercepts are centered on the population intercept:
    of the factors the parametrization rule centers, the one with the fewest levels (formula
    order breaks ties). Each factor's effects trade off against the intercept, but a factor's
    prior pins the mean of its effects to within sd / sqrt(levels), so the factor with the
    fewest levels is the one whose trade-off is loosest (measured on benchmarks/crossed.py with
    students, instructors and 14 dept:service levels: centering the instructors on the
    intercept, as formula order did, gave the intercept a bulk ESS of 47 in 4 x 1000 draws;
    centering the 14 dept:service levels, 2,082)."""
    if population is None:
        return None
    candidates = []
    for group, blocks in by_group.items():
        main = [b for b in blocks if not b.component]
        if group == integrated or not main or main[0].terms[0] != "(Intercept)":
            continue
        choice, _ = choose_parametrization(design, group, blocks, requested,
                                           can_center_block(population, blocks))
        if choice == "centered":
            candidates.append((len(blocks[0].levels), group))
    return min(candidates, key=lambda c: c[0])[1] if candidates else None


def block_mean(block: BlockDesign, k: int, population: Population | None
                ) -> tuple[Any, Any, str]:
    """(mean vector, shift, note for the parametrization reason) of a centered block's level
    coefficients a_j; r_j = a_j - shift.

    With a population given and a block starting with an intercept, the levels are centered
    on the population values: the intercept and, when every slope of the block is also a
    population-level column, the slopes too (hierarchical centering). The intercept component
    is the intercept at x = 0 of the block's slopes (``Intercept_c - x_mean . b``), so that
    eta = a_j0 + a_j . x (+ the other population terms) and the likelihood no longer involves
    the intercept or those slopes directly. Otherwise (0, None): r_j has mean zero.
    """
    if population is None or block.terms[0] != "(Intercept)":
        return (pt.zeros(k) if k > 1 else 0.0), None, ""
    icpt = population.icpt
    intercepts = "; level intercepts centered on (Intercept)"
    if k == 1:
        return icpt, icpt, intercepts
    cols = population.slope_columns(block)
    if cols is None:
        mu = pt.concatenate([pt.reshape(icpt, (1,)), pt.zeros(k - 1)])
        return mu, mu, intercepts
    b_sel = population.beta[cols]
    a0 = icpt - pt.dot(population.x_mean[cols], b_sel)
    mu = pt.concatenate([pt.reshape(a0, (1,)), b_sel])
    return mu, mu, "; level coefficients centered on the population values"


__all__ = ["Population", "block_mean", "can_center_block", "centering_group",
           "choose_parametrization"]
