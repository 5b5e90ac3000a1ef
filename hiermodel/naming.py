"""Readable, file-safe names for PyMC variables and dimensions."""

from __future__ import annotations

import re


def safe(name: str) -> str:
    """A name safe for PyMC, NetCDF and ArviZ.

    ``a:b`` -> ``a_b``, ``(Intercept)`` -> ``Intercept``.
    """
    if name == "(Intercept)":
        return "Intercept"
    out = re.sub(r"[^0-9A-Za-z_.]+", "_", name).strip("_")
    return out or "x"


def coord_label(term: str) -> str:
    """Coordinate label for a term in idata: lme4 name, with ``(Intercept)`` as ``Intercept``."""
    return "Intercept" if term == "(Intercept)" else term


# Names the backend gives posterior variables and dimensions (backend/graph.py). A grouping
# factor's levels dimension is named after the factor, and xarray cannot hold a dimension and a
# variable of the same name: a factor called ``b`` silently replaced the population
# coefficients ``b`` in the posterior. Such factors get the levels dimension ``<g>__level``.
POSTERIOR_NAMES = frozenset({
    "chain", "draw", "obs", "coef", "Intercept", "Intercept_c", "b", "threshold", "y",
    # every family's auxiliary parameters (tests/test_naming.py checks the list)
    "sigma", "alpha", "nu", "phi", "zi", "hu",
})
GENERATED_PREFIXES = ("Intercept_", "b_", "coef_", "sd_", "cor_", "r_", "a_", "z_", "lkj_")


def group_dims(group: str) -> tuple[str, str, str]:
    """(levels dim, term dim, correlation-pair dim) for a grouping factor: the levels dim is
    the factor's safe name, or ``<g>__level`` where that name could be a posterior variable's."""
    g = safe(group)
    clash = g in POSTERIOR_NAMES or g.startswith(GENERATED_PREFIXES)
    return (f"{g}__level" if clash else g), f"{g}__term", f"{g}__cor"


__all__ = ["GENERATED_PREFIXES", "POSTERIOR_NAMES", "coord_label", "group_dims", "safe"]
