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


def group_dims(group: str) -> tuple[str, str, str]:
    """(levels dim, term dim, correlation-pair dim) for a grouping factor."""
    g = safe(group)
    return g, f"{g}__term", f"{g}__cor"


__all__ = ["coord_label", "group_dims", "safe"]
