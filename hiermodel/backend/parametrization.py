"""Centered vs non-centered group effects, per grouping factor, from how informative the data
are per level (docs/architecture.md, "Centered vs non-centered")."""

from __future__ import annotations

from typing import Any

import numpy as np

from hiermodel.backend.design import BlockDesign, ModelDesign
from hiermodel.errors import BuildError


def _informative_ratio(design: ModelDesign, block: BlockDesign) -> tuple[float, float]:
    """(median rows per level, data-to-prior precision ratio) for a block, moment-based."""
    counts = np.bincount(block.index, minlength=len(block.levels)).astype(float)
    counts = counts[counts > 0]
    median_n = float(np.median(counts))
    y = design.y
    if design.family.name != "gaussian":
        return median_n, float("nan")
    sums = np.bincount(block.index, weights=y, minlength=len(block.levels))
    n = np.bincount(block.index, minlength=len(block.levels)).astype(float)
    ok = n > 0
    means = sums[ok] / n[ok]
    resid = y - (sums / np.maximum(n, 1))[block.index]
    within = float(resid @ resid) / max(len(y) - ok.sum(), 1)
    between = max(float(np.var(means, ddof=1)) - within * float(np.mean(1.0 / n[ok])), 1e-12)
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
        choice = "centered" if ratio > 10 and median_n >= 10 else "noncentered"
        return choice, f"median {median_n:.0f} rows/level, data/prior precision ≈ {ratio:.1f}"
    choice = "centered" if median_n >= 200 else "noncentered"
    return choice, f"median {median_n:.0f} rows/level (non-gaussian rule: centered at ≥ 200)"


__all__ = ["choose_parametrization"]
