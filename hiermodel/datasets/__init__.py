"""Built-in datasets for examples, tests and documentation.

- :func:`sleepstudy` and :func:`radon`: small public reference data (bundled CSVs) with lme4
  reference fits.
- :func:`maize_yield`: a synthetic stand-in for the maize-yield data of the talk
  "Clusterf*ck: a practical guide to Bayesian hierarchical modeling", with its generating
  parameters in ``df.attrs["generating_parameters"]``.

See ``docs/datasets.md``.
"""

from __future__ import annotations

from hiermodel.datasets._bundled import radon, sleepstudy
from hiermodel.datasets.maize import maize_yield

__all__ = ["list_datasets", "maize_yield", "radon", "sleepstudy"]

_DESCRIPTIONS: dict[str, str] = {
    "sleepstudy": "Reaction times over 10 days of sleep deprivation, 18 subjects (lme4; 180 rows)",
    "radon": "Household log radon by floor in 85 Minnesota counties (Gelman & Hill; 919 rows)",
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
