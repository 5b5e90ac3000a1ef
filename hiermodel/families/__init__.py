"""Response families: one class per family (see :class:`~hiermodel.families.base.Family`)
and the registry of their R, brms and Bambi spellings.

Pure NumPy/SciPy: the PyMC likelihood of each family lives in
``hiermodel.backend.likelihoods``, looked up by the family's canonical name.
"""

from __future__ import annotations

import numpy as np

from hiermodel.errors import FamilyError, did_you_mean
from hiermodel.families.base import Family
from hiermodel.families.cells import Cells, cell_keys, multiplicity_cells, weighted_loglik
from hiermodel.families.continuous import Beta, Gamma, Gaussian, Lognormal, StudentT
from hiermodel.families.counts import (
    HurdleNegativeBinomial,
    HurdlePoisson,
    ZeroInflatedNegativeBinomial,
    ZeroInflatedPoisson,
)
from hiermodel.families.discrete import Bernoulli, Binomial, NegativeBinomial, Poisson
from hiermodel.families.ordinal import Cumulative, threshold_names

FAMILIES: dict[str, type[Family]] = {
    cls.name: cls
    for cls in (Gaussian, StudentT, Lognormal, Bernoulli, Binomial, Poisson, NegativeBinomial,
                ZeroInflatedPoisson, ZeroInflatedNegativeBinomial, HurdlePoisson,
                HurdleNegativeBinomial, Gamma, Beta, Cumulative)
}

# Every accepted spelling (lower-cased) -> canonical name.
ALIASES: dict[str, str] = {
    alias: cls.name for cls in FAMILIES.values() for alias in (cls.name, *cls.aliases)
}


def get_family(name: str | Family, link: str | None = None) -> Family:
    """Resolve a family name (R, brms or Bambi spelling, e.g. ``"Gamma"``) and link."""
    if isinstance(name, Family):
        if link is None or link == name.link:
            return name
        name = name.name
    key = str(name).strip().lower().replace("-", "_")
    if key.endswith("()"):
        key = key[:-2]
    canonical = ALIASES.get(key)
    if canonical is None:
        hint = did_you_mean(key, ALIASES)
        listing = ", ".join(sorted(FAMILIES))
        raise FamilyError(
            f"unknown family '{name}'{hint} Supported: {listing}"
            if hint
            else f"unknown family '{name}'; supported: {listing}"
        )
    cls = FAMILIES[canonical]
    chosen = cls.links[0] if link is None else str(link).strip().lower()
    if chosen not in cls.links:
        raise FamilyError(
            f"link '{link}' is not available for family '{canonical}'; use one of: "
            f"{', '.join(cls.links)}"
        )
    return cls(link=chosen)


def check_response(
    family: Family, y: np.ndarray, label: str, trials: np.ndarray | None = None
) -> None:
    """Raise :class:`FamilyError` when ``y`` cannot come from ``family``.

    ``label`` names the response in messages (its formula text).
    """
    family.check_response(np.asarray(y, dtype=float), label, trials)


__all__ = ["ALIASES", "FAMILIES", "Cells", "Family", "cell_keys", "check_response",
           "get_family", "multiplicity_cells", "threshold_names", "weighted_loglik"]
