"""Built-in datasets for examples, tests and documentation.

- :func:`sleepstudy` and :func:`radon`: small public reference data (bundled CSVs) with lme4
  reference fits; :func:`owls` (counts) and :func:`soup` (ordinal ratings) with glmmTMB and
  ordinal::clmm reference fits.
- :func:`maize_yield`: a synthetic stand-in for the maize-yield data of the talk
  "Clusterf*ck: a practical guide to Bayesian hierarchical modeling", with its generating
  parameters in ``df.attrs["generating_parameters"]``.

See ``docs/datasets.md``.
"""

from __future__ import annotations

from hiermodel.datasets._bundled import owls, radon, sleepstudy, soup
from hiermodel.datasets.maize import maize_yield

__all__ = ["list_datasets", "maize_yield", "owls", "radon", "sleepstudy", "soup"]

_DESCRIPTIONS: dict[str, str] = {
    "sleepstudy": "Reaction times over 10 days of sleep deprivation, 18 subjects (lme4; 180 rows)",
    "radon": "Household log radon by floor in 85 Minnesota counties (Gelman & Hill; 919 rows)",
    "owls": "Begging calls of barn owl nestlings by food treatment and parent, 27 nests "
            "(glmmTMB; 599 rows)",
    "soup": "Ordinal sureness ratings (1-6) of reference vs test soup, 185 respondents "
            "(ordinal; 1,847 rows)",
    "maize_yield": (
        "Synthetic maize yields (bags/acre) of Kenyan farmers by county, hybrid seed and season"
        " (110,789 rows; known generating parameters)"
    ),
}


def list_datasets() -> dict[str, str]:
    """Names of the built-in datasets with a one-line description each.

    Each name is a function of this module: ``hm.datasets.<name>()`` returns the data frame.
    """
    return dict(_DESCRIPTIONS)
