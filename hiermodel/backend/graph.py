"""The PyMC graph: population-level effects, group-level blocks and the likelihood.

This is hiermodel's extension of Bambi's PyMC backend. Bambi supplied the design matrices and
automatic priors (:mod:`hiermodel.backend.design`); here we add what Bambi 0.17 lacks:

* correlated group-level blocks — ``(x|g)`` gets an LKJ prior on the correlation matrix and a
  Cholesky non-centered (or centered MvNormal) parametrization, like lme4/brms;
* a per-block centered / non-centered choice from how informative the data are per level;
* exact data compression on the family's sufficient statistics or by multiplicity
  (:mod:`hiermodel.families.cells`).

Variable names follow brms: ``Intercept_c`` (intercept at the predictor means, where its
prior applies), ``Intercept``, ``b`` (dim ``coef``), ``sd_<g>`` (dim ``<g>__term``),
``cor_<g>`` (dim ``<g>__cor``), ``r_<g>`` (dims ``<g>``, ``<g>__term``), ``sigma`` etc.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from pymc.distributions.transforms import ordered

from hiermodel.backend.design import BlockDesign, ComponentDesign, ModelDesign
from hiermodel.backend.distributions import pymc_class, stacked_dist, vector_rv
from hiermodel.backend.likelihoods import (
    add_compressed_likelihood,
    add_likelihood,
    inverse_link,
    kept_cells_logp,
    kept_logp,
)
from hiermodel.backend.marginal import (
    MarginalStats,
    auto_marginalizes,
    block_cholesky,
    eligibility,
    marginal_group,
    marginal_logp,
    marginal_logp_rows,
    sufficient_statistics,
)
from hiermodel.backend.parametrization import (
    Population,
    block_mean,
    can_center_block,
    centering_group,
    choose_parametrization,
)
from hiermodel.errors import BuildError, InternalError
from hiermodel.families import Cells
from hiermodel.naming import coord_label, group_dims, safe

log = logging.getLogger("hiermodel")

Parametrization = Literal["auto", "centered", "noncentered"]

# up to this many population-level columns, eta adds them one by one (see build_graph)
NARROW_X = 4


@dataclass(frozen=True)
class BuildOptions:
    """How to build the graph. Every choice is reported in the fit summary."""

    center_predictors: bool = True
    parametrization: Parametrization | dict[str, str] = "auto"
    compress: bool | Literal["auto"] = "auto"
    # integrate gaussian group effects out analytically (backend/marginal.py): True, False or
    # "auto" (where the model allows it and the factor has >= marginal.AUTO_EFFECTS effects)
    marginalize: bool | Literal["auto"] = "auto"


@dataclass
class BuildInfo:
    """What the builder decided: names, centering, parametrizations, compression."""

    x_mean: np.ndarray
    centered: bool
    parametrization: dict[str, str] = field(default_factory=dict)  # group -> choice
    parametrization_reason: dict[str, str] = field(default_factory=dict)
    cells: Cells | None = None
    correlated_groups: list[str] = field(default_factory=list)
    group_terms: dict[str, list[str]] = field(default_factory=dict)  # group -> term names
    latent: list[str] = field(default_factory=list)  # internal RVs to drop from the posterior
    # the linear predictor per likelihood row (observation, or cell when compressed), without
    # a poisson offset folded into the cells' exposure; tests compare it with predict's
    eta: Any = None
    # sufficient statistics when the group effects were integrated out (backend/marginal.py)
    marginal: MarginalStats | None = None

    @property
    def compressed(self) -> bool:
        return self.cells is not None


def _should_compress(design: ModelDesign, requested: bool | str,
                     subset: np.ndarray | None = None) -> Cells | None:
    """Exact compression (families/cells.py): sufficient statistics when the family has them
    and the fit is unweighted, else multiplicity cells; "auto" only when it halves the rows.
    ``subset``: compress only these observations (cell rows then index the subset)."""
    if requested is False:
        return None

    def take(a: np.ndarray) -> np.ndarray:
        return a if subset is None else a[subset]

    keys: list[np.ndarray] = [take(design.X), *(take(c.X) for c in design.components.values())]
    for b in design.blocks:
        keys.extend([take(b.index), take(b.Z)])
    weights = design.prepared.weights
    if weights is None and design.components:
        # auxiliary parameters vary by row, so per-cell sufficient statistics (one sigma per
        # model) do not apply; unit weights ask for multiplicity cells, exact for any family
        weights = np.ones(len(design.y))
    cells = design.family.compress(keys, take(design.y),
                                   None if design.trials is None else take(design.trials),
                                   None if design.offset is None else take(design.offset),
                                   None if weights is None else take(weights))
    if requested == "auto" and cells.n_cells > 0.5 * len(keys[0]):
        return None
    return cells


@dataclass
class FoldRows:
    """The likelihood rows of one fold of observations (see ``build_graph(folds=)``): the
    observations, compressed on their own when the model is compressed."""

    observations: np.ndarray  # positions in the data
    cells: Cells | None

    @property
    def rows(self) -> np.ndarray:
        """Positions in the data of the fold's likelihood rows (a representative per cell)."""
        return self.observations if self.cells is None else self.observations[self.cells.rows]


def fold_rows(design: ModelDesign, folds: np.ndarray, compress: bool) -> list[FoldRows]:
    """Per fold ``0..K-1`` of ``folds`` (one label per observation), its likelihood rows."""
    out = []
    for k in range(int(folds.max()) + 1):
        obs = np.flatnonzero(folds == k)
        out.append(FoldRows(obs, _should_compress(design, True, obs) if compress else None))
    return out


def build_graph(
    design: ModelDesign, priors: Any, options: BuildOptions | None = None,
    folds: np.ndarray | None = None,
) -> tuple[pm.Model, BuildInfo]:
    """Assemble the PyMC model for ``design`` with the resolved prior table ``priors``.

    ``folds`` (a fold ``0..K-1`` per observation; models without an offset, not
    marginalised): the likelihood is ``sum_k keep[k] * log p(fold k)`` with ``keep`` the data
    vector ``fold_keep`` (ones), each fold compressed on its own when ``options.compress``
    is True, so one compiled graph fits every "all folds but k" by swapping ``fold_keep``
    (:mod:`hiermodel.backend.folds`)."""
    options = options or BuildOptions()
    family = design.family
    X = design.X
    centered = bool(options.center_predictors and design.has_intercept and X.shape[1] > 0)
    x_mean = X.mean(axis=0) if centered else np.zeros(X.shape[1])
    not_marginal = eligibility(design)
    if options.marginalize is True and not_marginal:
        raise BuildError(f"marginalize=True needs a gaussian model whose group effects "
                         f"integrate out; this one has: {not_marginal}")
    marginal = not_marginal is None and (
        options.marginalize is True
        or (options.marginalize == "auto" and auto_marginalizes(design)))
    integrated = marginal_group(design) if marginal else None
    by_fold = None
    if folds is not None:
        if marginal or design.offset is not None:
            raise InternalError("build_graph(folds=) takes models without an offset that are "
                                "not marginalised")
        by_fold = fold_rows(design, folds, options.compress is True)
    cells = None if marginal or by_fold else _should_compress(design, options.compress)
    order = None if by_fold is None else np.concatenate([f.rows for f in by_fold])

    def rows(a: np.ndarray) -> np.ndarray:
        if order is not None:
            return a[order]
        return a if cells is None else a[cells.rows]

    coords: dict[str, Any] = {}
    if X.shape[1]:
        coords["coef"] = list(design.x_names)
    for c, comp in design.components.items():
        if comp.x_names:
            coords[f"coef_{c}"] = list(comp.x_names)
    by_group: dict[str, list[BlockDesign]] = {}
    for b in design.blocks:
        by_group.setdefault(b.group, []).append(b)
    info = BuildInfo(x_mean=x_mean, centered=centered, cells=cells)
    for group, blocks in by_group.items():
        gdim, tdim, cdim = group_dims(group)
        terms = [t for b in blocks for t in b.terms]
        if len(set(terms)) != len(terms):
            raise BuildError(
                f"grouping factor '{group}' has the same term twice ({terms}); remove the "
                "duplicate group-level term"
            )
        coords[gdim] = blocks[0].levels
        coords[tdim] = [coord_label(t) for t in terms]
        info.group_terms[group] = terms
        pairs = [
            f"{coord_label(b.terms[i])}__{coord_label(b.terms[j])}"
            for b in blocks
            if b.correlated and b.k > 1
            for i in range(b.k)
            for j in range(i + 1, b.k)
        ]
        if pairs:
            coords[cdim] = pairs
            info.correlated_groups.append(group)
    if design.thresholds:
        coords["threshold__term"] = list(design.thresholds)
    n_rows = len(design.y) if cells is None else cells.n_cells
    if order is not None:
        n_rows = order.size
    coords["obs"] = np.arange(n_rows)

    with pm.Model(coords=coords) as model:
        eta: Any = pt.zeros(n_rows)
        if design.has_intercept:
            icpt = vector_rv("Intercept_c" if centered else "Intercept",
                             [priors.get("Intercept")])
            eta = eta + icpt
        if X.shape[1]:
            beta = vector_rv("b", [priors.get("b", name) for name in design.x_names], dims="coef")
            # a fold graph takes the training rows' means as data (folds.FoldSampler)
            xm = pm.Data("x_mean", x_mean) if by_fold is not None and centered else x_mean
            Xr = rows(X) - xm
            if X.shape[1] <= NARROW_X:
                # elementwise products fuse with the rest of eta, and their gradient with its
                # sum, where a matrix-vector product is a pass of its own (a tenth of the
                # gradient's time at 73,000 rows and one column, measured in numba)
                for j in range(X.shape[1]):
                    col = np.ascontiguousarray(Xr[:, j]) if isinstance(Xr, np.ndarray) \
                        else Xr[:, j]
                    eta = eta + col * beta[j]
            else:
                eta = eta + pt.dot(Xr, beta)
            if centered:
                pm.Deterministic("Intercept", icpt - pt.dot(xm, beta))
        # One centered group with an intercept is centered *around* the intercept
        # (a_j ~ Normal(Intercept, sd), like the talk's county_intercept ~ Normal(ic_mu, ...)):
        # with r_j ~ Normal(0, sd) instead, Intercept and the mean of the r_j are nearly
        # unidentified apart when levels carry much data, and NUTS mixes slowly
        # (centering_group picks which).
        population = Population(icpt, beta if X.shape[1] else None, list(design.x_names),
                                xm if X.shape[1] else x_mean, X) \
            if design.has_intercept else None
        etas: dict[str, Any] = {"": eta, **{c: _component_eta(comp, priors, n_rows, rows)
                                            for c, comp in design.components.items()}}
        chol = None
        center_on = centering_group(design, by_group, options.parametrization, population,
                                    integrated)
        for group, blocks in by_group.items():
            contributions, factor = _group_effects(
                design, group, blocks, priors, options, info, rows,
                population if center_on in (None, group) else None, group == integrated,
                len(by_group))
            if group == integrated:
                chol = factor
            for component, contribution in contributions.items():
                etas[component] = etas[component] + contribution
        eta = etas[""]
        if design.offset is not None and (cells is None or cells.exposure_log is None):
            eta = eta + rows(design.offset)
        info.eta = eta
        aux = {a: vector_rv(a, [priors.get(a)]) for a in family.aux
               if a != "threshold" and a not in design.components}
        for c, comp in design.components.items():  # per-row values from their own formula
            aux[c] = inverse_link(comp.link, etas[c])
        if design.thresholds:
            aux["threshold"] = _thresholds(design, priors)
        if marginal:
            theta_names = ([("Intercept_c" if centered else "Intercept")]
                           if design.has_intercept else []) + (["b"] if X.shape[1] else [])
            info.marginal = sufficient_statistics(design, x_mean, theta_names, integrated)
            info.eta = None
            if info.marginal.others:  # crossed: the other factors' effects are in eta
                pm.Potential("y_marginal", marginal_logp_rows(
                    info.marginal, pt.as_tensor_variable(np.asarray(design.y, dtype=float)) - eta,
                    chol, aux["sigma"]))
            else:
                theta = pt.concatenate([pt.atleast_1d(model[n]) for n in theta_names]) \
                    if theta_names else pt.zeros(0)
                pm.Potential("y_marginal", marginal_logp(info.marginal, theta, chol,
                                                         aux["sigma"]))
        elif by_fold is not None:
            pm.Potential("y_folds", _fold_logp(design, by_fold, eta, aux))
        elif cells is None:
            add_likelihood(family, eta, design.y, aux, design.trials, "obs",
                           design.prepared.weights)
        else:
            add_compressed_likelihood(family, eta, cells, aux)
    return model, info


def _fold_logp(design: ModelDesign, by_fold: list[FoldRows], eta: Any,
               aux: dict[str, Any]) -> Any:
    """``sum_k fold_keep[k] * log p(fold k)``, the likelihood rows laid out fold after fold:
    one vectorized log-density whose rows are weighted by their fold's ``fold_keep`` (one
    likelihood term per fold compiled several times slower, most for group-effect models)."""
    keep = pm.Data("fold_keep", np.ones(len(by_fold)))
    cells = [f.cells for f in by_fold if f.cells is not None]
    if cells:
        return kept_cells_logp(design.family, eta, cells, aux, keep)
    obs = np.concatenate([f.observations for f in by_fold])
    row_keep = keep[np.repeat(np.arange(len(by_fold)), [f.observations.size for f in by_fold])]
    weights = design.prepared.weights
    if weights is not None:
        row_keep = row_keep * np.asarray(weights, dtype=float)[obs]
    return kept_logp(design.family, eta, design.y[obs], aux,
                     None if design.trials is None else design.trials[obs], row_keep)


def _component_eta(comp: ComponentDesign, priors: Any, n_rows: int, rows: Any) -> Any:
    """Population-level part of an auxiliary parameter's linear predictor (RVs
    ``Intercept_<name>`` and ``b_<name>`` with dim ``coef_<name>``; not centered)."""
    eta: Any = pt.zeros(n_rows)
    if comp.has_intercept:
        eta = eta + vector_rv(f"Intercept_{comp.name}",
                              [priors.get("Intercept", f"{comp.name}_(Intercept)")])
    if comp.x_names:
        beta = vector_rv(f"b_{comp.name}", [priors.get("b", t) for t in comp.x_names],
                         dims=f"coef_{comp.name}")
        eta = eta + pt.dot(rows(comp.X), beta)
    return eta


def _thresholds(design: ModelDesign, priors: Any) -> Any:
    """Ordered thresholds of an ordinal model, each with its (class Intercept) prior.

    Started at the logistic quantiles of the observed category shares, so the sampler begins
    where the data put them."""
    chosen = [priors.get("Intercept", name) for name in design.thresholds]
    if len({(p.dist, tuple(p.kwargs)) for p in chosen}) != 1:
        raise BuildError("the thresholds' priors must share one distribution family (ordered "
                         f"thresholds are one vector); got {', '.join(map(str, chosen))}")
    k = len(design.thresholds) + 1
    share = np.bincount(design.y.astype(int) - 1, minlength=k)[:-1].cumsum() / len(design.y)
    share = np.clip(share, 0.02, 0.98)
    start = np.log(share / (1 - share))
    start = start + np.arange(k - 1) * 1e-3  # strictly increasing even for empty categories
    dist, names = chosen[0].dist, tuple(chosen[0].kwargs)
    kwargs = {n: np.array([p.kwargs[n] for p in chosen], dtype=float) for n in names}
    return pymc_class(dist)("threshold", dims="threshold__term", transform=ordered,
                            initval=start, **kwargs)


def _group_effects(
    design: ModelDesign,
    group: str,
    blocks: list[BlockDesign],
    priors: Any,
    options: BuildOptions,
    info: BuildInfo,
    rows: Any,
    population: Population | None = None,
    marginal: bool = False,
    n_groups: int = 1,
) -> tuple[Any, Any]:
    """(contributions to each component's eta, the Cholesky factor of the group's covariance
    when ``marginal``); ``population``: center the group's levels on it when centered."""
    gdim, tdim, cdim = group_dims(group)
    g = safe(group)
    centerable = can_center_block(population, blocks)
    if marginal:
        choice, reason = "marginalized", (
            ("gaussian, one grouping factor" if n_groups == 1 else
             f"gaussian, the largest of {n_groups} grouping factors (the others sampled "
             "jointly)") + ": integrated out exactly; drawn from the exact conditional")
    else:
        choice, reason = choose_parametrization(design, group, blocks,
                                                options.parametrization, centerable)
    info.parametrization[group] = choice
    info.parametrization_reason[group] = reason
    terms = info.group_terms[group]
    sd_priors = [priors.get("sd", coord_label(t), group) for t in terms]
    correlated = [b.correlated and b.k > 1 for b in blocks]
    # Without correlated blocks the SDs are one vector RV sd_<g>. With them, each correlated
    # block's SDs are the sd_dist of its LKJCholeskyCov (PyMC's standard, well-conditioned
    # parametrization: ~2x faster and no divergences on sleepstudy where a separate SD vector
    # times a normalised unit-scale Cholesky factor diverged), and sd_<g> is a Deterministic.
    sd: Any = vector_rv(f"sd_{g}", sd_priors, dims=tdim) if not any(correlated) else None
    n_levels = len(blocks[0].levels)
    parts: list[Any] = []
    sd_parts: list[Any] = []
    start = 0
    cor_parts: list[Any] = []
    shift_note = ""  # set once a block is centered on population values
    for i, block in enumerate(blocks):
        k = block.k
        suffix = "" if len(blocks) == 1 else f"_{i + 1}"
        block_priors = sd_priors[start : start + k]
        # a lone centered block is itself r_<g>, with readable dims
        shape_kw: dict[str, Any] = (
            {"dims": (gdim, tdim)} if len(blocks) == 1 else {"shape": (n_levels, k)}
        )
        if correlated[i]:
            eta_lkj = priors.get("cor", block.component, group).kwargs["eta"]
            iu = np.triu_indices(k, 1)
            sd_dist = stacked_dist(block_priors)
            if sd_dist is not None:
                chol = _unpacked_cholesky(k, pm.LKJCholeskyCov(
                    f"lkj_{g}{suffix}", n=k, eta=eta_lkj, sd_dist=sd_dist, compute_corr=False,
                ))
                sd_b, L_corr = _row_normalized(chol)
            else:
                # SD priors of different families in one block: sample the SDs separately and
                # take only the correlation from an LKJCholeskyCov with unit-scale SDs.
                sd_b = vector_rv(f"sd_{g}{suffix}", block_priors, vector=True)
                info.latent.append(f"sd_{g}{suffix}")
                packed = pm.LKJCholeskyCov(
                    f"lkj_{g}{suffix}", n=k, eta=eta_lkj,
                    sd_dist=pm.HalfNormal.dist(1.0, shape=k), compute_corr=False,
                )
                L_corr = _row_normalized(_unpacked_cholesky(k, packed))[1]
                chol = sd_b[:, None] * L_corr
            corr = pt.dot(L_corr, L_corr.T)
            info.latent.append(f"lkj_{g}{suffix}")
            cor_parts.append(corr[iu])
            if choice == "marginalized":
                r_b = chol
            elif choice == "centered":
                mu_b, shift, note = block_mean(block, k, None if shift_note or block.component
                                                   else population)
                if shift is None:
                    r_b = pm.MvNormal(f"r_{g}{suffix}", mu=mu_b, chol=chol, **shape_kw)
                else:
                    a_b = pm.MvNormal(f"a_{g}{suffix}", mu=mu_b, chol=chol, shape=(n_levels, k))
                    info.latent.append(f"a_{g}{suffix}")
                    r_b = a_b - shift
                    shift_note = note
            else:
                z = pm.Normal(f"z_{g}{suffix}", 0.0, 1.0, shape=(n_levels, k))
                # r_j = L z_j for every level: an elementwise product summed over the k
                # columns (k is small) rather than z @ L.T, whose transposed operand numba
                # (nutpie) can only multiply as a non-contiguous array
                r_b = pt.sum(z[:, None, :] * chol[None, :, :], axis=2)
        else:
            if sd is not None:
                sd_b = sd[start : start + k]
            else:
                sd_b = vector_rv(f"sd_{g}{suffix}", block_priors, vector=True)
                info.latent.append(f"sd_{g}{suffix}")
            if choice == "marginalized":
                r_b = pt.diag(sd_b)
            elif choice == "centered":
                mu_b, shift, note = block_mean(block, k, None if shift_note or block.component
                                                   else population)
                if shift is None:
                    r_b = pm.Normal(f"r_{g}{suffix}", 0.0, sd_b, **shape_kw)
                else:
                    a_b = pm.Normal(f"a_{g}{suffix}", mu_b, sd_b, shape=(n_levels, k))
                    info.latent.append(f"a_{g}{suffix}")
                    r_b = a_b - shift
                    shift_note = note
            else:
                z = pm.Normal(f"z_{g}{suffix}", 0.0, 1.0, shape=(n_levels, k))
                r_b = z * sd_b
        sd_parts.append(sd_b)
        parts.append(r_b)
        start += k
    if sd is None:
        pm.Deterministic(f"sd_{g}", pt.concatenate(sd_parts), dims=tdim)
    if cor_parts:
        pm.Deterministic(f"cor_{g}", pt.concatenate(cor_parts), dims=cdim)
    info.parametrization_reason[group] += shift_note
    if marginal:
        return {}, block_cholesky([(b.k, part) for b, part in zip(blocks, parts,
                                                                           strict=True)])
    if len(parts) == 1 and choice == "centered" and not shift_note:
        r = parts[0]
    else:
        r = pm.Deterministic(f"r_{g}", pt.concatenate(parts, axis=1), dims=(gdim, tdim))
    contributions: dict[str, Any] = {}
    r_width = sum(b.k for b in blocks)
    start = 0
    for block in blocks:
        k = block.k
        idx = rows(block.index)
        Z = rows(block.Z)
        # gather from one-dimensional arrays only: AdvancedSubtensor1 / AdvancedIncSubtensor1
        # (the gradient) have C code for 1-d operands, while a 2-d row gather's gradient runs
        # NumPy's add.at in Python (~18 us per call on sleepstudy, a third of the gradient)
        # and r[idx, cols] compiles to the generic AdvancedSubtensor, 2-3x slower again
        if k == 1 and np.all(Z == 1.0):
            part = r[:, start][idx]
        elif k == 1:
            part = r[:, start][idx] * Z[:, 0]
        else:
            flat = (idx[:, None] * r_width + np.arange(start, start + k)).ravel()
            part = pt.sum(pt.reshape(r.ravel()[flat], (len(idx), k)) * Z, axis=1)
        contributions[block.component] = contributions.get(block.component, 0.0) + part
        start += k
    return contributions, None


def _unpacked_cholesky(k: int, packed: Any) -> Any:
    """The k x k lower-triangular matrix of LKJCholeskyCov's packed (row-major) vector, set
    through a flat one-dimensional index: ``pm.expand_packed_triangular``'s two-dimensional
    advanced indexing (and its gradient) has no C code and ran in Python on every gradient
    (~18 us of sleepstudy's ~90)."""
    rows, cols = np.tril_indices(k)
    return pt.reshape(pt.set_subtensor(pt.zeros(k * k)[rows * k + cols], packed), (k, k))


def _row_normalized(chol: Any) -> tuple[Any, Any]:
    """(row norms, rows scaled to unit length) of a Cholesky factor: the SDs and the
    correlation matrix's Cholesky factor, as PyMC's ``compute_corr=True`` derives them."""
    norms = pt.sqrt(pt.sum(chol**2, axis=1))
    return norms, chol / norms[:, None]


__all__ = ["BuildInfo", "BuildOptions", "build_graph", "choose_parametrization"]
