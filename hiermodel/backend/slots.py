"""Prior slots of a design: every parameter that needs a prior, with its scaling numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from hiermodel.backend.design import ModelDesign


def _prior_from_bambi(auto: Any) -> Any:
    """Bambi's (name, args) -> a hiermodel Prior, or None when Bambi has no numeric prior."""
    from hiermodel.priors import Prior

    if auto is None:
        return None
    name, args = auto
    params: list[tuple[str, float]] = []
    for key, value in args.items():
        arr = np.asarray(value, dtype=float)
        if arr.ndim and arr.size > 1:
            if not np.allclose(arr, arr.flat[0]):
                return None
            arr = arr.flat[0]
        params.append((key, float(arr)))
    return Prior(name, tuple(params))


def model_stats(design: ModelDesign) -> dict[str, float]:
    """Response-level scaling numbers for templates (rstanarm's autoscale conventions).

    For gaussian/t with identity link: mean, SD and MAD of the response. For every other
    family/link the linear predictor lives on the link scale, so ``sd_y = mad_y = 1`` and
    ``mean_y = 0`` (rstanarm's convention).
    """
    fam = design.family
    y = fam.prior_response(design.y)
    if fam.identity_gaussian:
        sd_y = float(np.std(y, ddof=1)) if y.size > 1 else 1.0
        mad = float(np.median(np.abs(y - np.median(y))) * 1.4826)
        return {
            "mean_y": float(np.mean(y)),
            "sd_y": sd_y if sd_y > 0 else 1.0,
            "mad_y": mad if mad > 0 else (sd_y if sd_y > 0 else 1.0),
            "n_obs": float(y.size),
            "gaussian_identity": 1.0,
        }
    return {"mean_y": 0.0, "sd_y": 1.0, "mad_y": 1.0, "n_obs": float(y.size),
            "gaussian_identity": 0.0}


def _col_stats(col: np.ndarray) -> dict[str, float]:
    sd = float(np.std(col, ddof=1)) if col.size > 1 else 1.0
    return {"sd_x": sd if sd > 0 else 1.0, "mean_x": float(np.mean(col))}


def _block_slots(blocks: list[Any], auto: dict[tuple[str, str, str], Any],
                 cor_term: str = "") -> list[Any]:
    from hiermodel.priors import Prior, Slot

    slots: list[Any] = []
    cor_done: set[str] = set()
    for block in blocks:
        for j, term in enumerate(block.terms):
            stats = {"sd_x": 1.0, "mean_x": 1.0} if term.endswith("(Intercept)") else _col_stats(
                block.Z[:, j])
            stats["n_levels"] = float(len(block.levels))
            slots.append(Slot("sd", "Intercept" if term == "(Intercept)" else term, block.group,
                              stats=stats,
                              auto=_prior_from_bambi(auto.get(("sd", term, block.group)))))
        if block.correlated and block.k > 1 and block.group not in cor_done:
            cor_done.add(block.group)
            slots.append(Slot("cor", cor_term, block.group, stats={"dim": float(block.k)},
                              auto=Prior("LKJ", (("eta", 1.0),))))
    return slots


def prior_slots(design: ModelDesign) -> list[Any]:
    """Every (class, term, group) slot of the mean's linear predictor and of the family's
    constant auxiliary parameters, in summary order (see :func:`component_slots` for the
    auxiliary parameters that have their own formula)."""
    from hiermodel.priors import Slot

    auto = design.auto_priors
    slots: list[Any] = []
    if design.has_intercept:
        slots.append(Slot("Intercept", "", "", stats={}, auto=_prior_from_bambi(
            auto.get(("Intercept", "", "")))))
    for j, name in enumerate(design.x_names):
        slots.append(Slot("b", name, "", stats=_col_stats(design.X[:, j]),
                          auto=_prior_from_bambi(auto.get(("b", name, "")))))
    slots.extend(_block_slots(design.main_blocks(), auto))
    for name in design.thresholds:  # ordinal: one Intercept slot per threshold, as brms
        slots.append(Slot("Intercept", name, "", stats={}, auto=None))
    for aux in design.family.aux:
        if aux == "threshold" or aux in design.components:
            continue
        slots.append(Slot(aux, "", "", stats={}, auto=_prior_from_bambi(auto.get((aux, "", "")))))
    return slots


def component_stats(design: ModelDesign, name: str) -> dict[str, float]:
    """Scaling numbers for the priors of auxiliary parameter ``name``'s formula: its linear
    predictor lives on the link scale (``sd_y = 1``), centred at log sd(y) for a gaussian-type
    ``sigma`` and at 0 otherwise."""
    fam = design.family
    y = fam.prior_response(design.y)
    center = 0.0
    if name == "sigma" and fam.identity_gaussian and y.size > 1 and np.std(y) > 0:
        center = float(np.log(np.std(y, ddof=1)))
    return {"mean_y": center, "sd_y": 1.0, "mad_y": 1.0, "n_obs": float(y.size),
            "gaussian_identity": 0.0}


def component_slots(design: ModelDesign, name: str) -> list[Any]:
    """The slots of auxiliary parameter ``name``'s formula, brms style: terms prefixed with
    the parameter (``Intercept: sigma_(Intercept)``, ``b: sigma_Days``, ``sd: sigma_Intercept
    | Subject``; its correlation slot's term is the parameter). ``auto`` (the ``bambi``
    template's source) is Normal(centre, 2.5) for the intercept and Normal(0, 2.5 / sd_x)
    for slopes."""
    from hiermodel.priors import Prior, Slot

    comp = design.components[name]
    center = component_stats(design, name)["mean_y"]
    slots: list[Any] = []
    if comp.has_intercept:
        slots.append(Slot("Intercept", f"{name}_(Intercept)", "", stats={},
                          auto=Prior("Normal", (("mu", center), ("sigma", 2.5)))))
    for j, term in enumerate(comp.x_names):
        stats = _col_stats(comp.X[:, j])
        slots.append(Slot("b", term, "", stats=stats,
                          auto=Prior("Normal", (("mu", 0.0), ("sigma", 2.5 / stats["sd_x"])))))
    blocks = [b for b in design.blocks if b.component == name]
    return slots + _block_slots(blocks, {}, cor_term=name)


__all__ = ["component_slots", "component_stats", "model_stats", "prior_slots"]
