"""Synthetic maize yields of Kenyan smallholder farmers.

A stand-in for the private Apollo Agriculture data of the talk *"Clusterf*ck: a practical guide
to Bayesian hierarchical modeling"* (Hanna van der Vlis): 110,789 farmer-season records in 30
counties with the yield in bags of maize per acre and whether the farmer used hybrid seed.
Everything here is simulated; only the county names are real.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd

from hiermodel.errors import DataError

__all__ = ["DEFAULT_N", "MIN_N", "maize_yield"]

DEFAULT_N = 110_789
"""Rows of the talk's data set, and the default size."""

_MIN_ROWS_PER_COUNTY = 5
MIN_N = 30 * _MIN_ROWS_PER_COUNTY
"""Smallest ``n`` accepted: every county keeps at least five rows."""

# Design table at the default size: county -> (rows, non-hybrid rows). Fixed (not random), so
# every seed has the same sampling design; ``n`` rescales it proportionally.
_DESIGN: dict[str, tuple[int, int]] = {
    "Baringo": (1_850, 260),
    "Bomet": (2_140, 190),
    "Bungoma": (13_212, 1_320),
    "Busia": (7_330, 1_100),
    "Elgeyo-Marakwet": (920, 4),
    "Embu": (2_610, 310),
    "Homa Bay": (5_280, 840),
    "Kakamega": (12_645, 1_450),
    "Kericho": (1_340, 95),
    "Kiambu": (240, 21),
    "Kirinyaga": (610, 6),
    "Kisii": (3_050, 360),
    "Kisumu": (4_420, 690),
    "Kitui": (3_780, 720),
    "Laikipia": (480, 3),
    "Machakos": (3_210, 705),
    "Makueni": (4_060, 690),
    "Meru": (2_290, 230),
    "Migori": (5_640, 880),
    "Nakuru": (2_470, 150),
    "Nandi": (1_960, 120),
    "Narok": (770, 70),
    "Nyamira": (1_150, 105),
    "Nyandarua": (310, 1),
    "Siaya": (7_778, 1_240),
    "Tharaka-Nithi": (1_420, 130),
    "Trans Nzoia": (10_934, 420),
    "Uasin Gishu": (4_530, 9),
    "Vihiga": (2_980, 390),
    "West Pokot": (1_380, 110),
}
COUNTIES: tuple[str, ...] = tuple(sorted(_DESIGN))
"""The 30 county names, alphabetical (the categories of the ``county`` column)."""

SINGLE_NON_HYBRID_COUNTY = "Nyandarua"
"""The county with exactly one non-hybrid record (the talk's "= only 1 observation")."""

SEASONS: tuple[str, ...] = ("2019-LR", "2019-SR", "2020-LR", "2020-SR")
"""Seasons, chronological: long rains (LR, Mar-Jul) and short rains (SR, Oct-Dec)."""
_SEASON_SHARES = np.array([0.17, 0.15, 0.37, 0.31])
SEASON_EFFECTS: dict[str, float] = {
    "2019-LR": 0.10,
    "2019-SR": -0.12,
    "2020-LR": 0.08,
    "2020-SR": -0.06,
}
"""Fixed season effects on log(yield + 0.1) (sum to zero)."""

INTERCEPT_MEAN = float(np.log(10.0))  # 2.3026: about 10 bags/acre without hybrid seed
INTERCEPT_SD = 0.35
HYBRID_EFFECT = 0.44  # talk: hybrid seed gives ~exp(0.44) = 1.55x the yield
HYBRID_SD = 0.15
PINNED_HYBRID_EFFECTS: dict[str, float] = {"Machakos": -0.25, "Tharaka-Nithi": 1.20}
COUNTY_SEASON_SD = 0.20
SIGMA = 0.65
CROP_FAILURE_PROB = 0.005
WHOLE_BAG_PROB = 0.6
_Z_CLIP = 2.5


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DataError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if int(value) < minimum:
        raise DataError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def _standardised(z: np.ndarray) -> np.ndarray:
    return (z - z.mean()) / z.std(ddof=1)


def _allocate_rows(n: int, weights: np.ndarray) -> np.ndarray:
    """Split ``n`` rows proportionally to ``weights`` (largest remainder), >= min rows each."""
    exact = n * weights / weights.sum()
    sizes = np.floor(exact).astype(np.int64)
    remainder = n - int(sizes.sum())
    if remainder:
        order = np.argsort(-(exact - sizes), kind="stable")
        sizes[order[:remainder]] += 1
    short = np.maximum(_MIN_ROWS_PER_COUNTY - sizes, 0)
    deficit = int(short.sum())
    sizes += short
    for _ in range(deficit):  # at most MIN_N iterations; take from the largest county
        sizes[int(np.argmax(sizes))] -= 1
    return sizes


def _non_hybrid_counts(sizes: np.ndarray) -> np.ndarray:
    full_rows = np.array([_DESIGN[c][0] for c in COUNTIES], dtype=np.float64)
    full_nh = np.array([_DESIGN[c][1] for c in COUNTIES], dtype=np.float64)
    counts = np.rint(sizes * full_nh / full_rows).astype(np.int64)
    counts = np.clip(counts, 2, sizes - 1)
    counts[COUNTIES.index(SINGLE_NON_HYBRID_COUNTY)] = 1
    return counts


def _draw_parameters(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """County intercepts, county hybrid effects and county x season deviations.

    Drawn before anything that depends on ``n``, so a seed gives the same parameters at any n.
    """
    k = len(COUNTIES)
    intercepts = INTERCEPT_MEAN + INTERCEPT_SD * _standardised(rng.standard_normal(k))

    pinned = np.array([c in PINNED_HYBRID_EFFECTS for c in COUNTIES])
    z = np.clip(_standardised(rng.standard_normal(int((~pinned).sum()))), -_Z_CLIP, _Z_CLIP)
    # Within-county (fixed-effects) precision weights of the default design: shift the free
    # effects so that the weighted average over all counties is exactly HYBRID_EFFECT, which
    # is what a common-slope model (the talk's varying-intercept model) estimates.
    rows = np.array([_DESIGN[c][0] for c in COUNTIES], dtype=np.float64)
    nh = np.array([_DESIGN[c][1] for c in COUNTIES], dtype=np.float64)
    w = nh * (rows - nh) / rows
    pinned_values = np.array([PINNED_HYBRID_EFFECTS[c] for c in np.array(COUNTIES)[pinned]])
    free_w = w[~pinned]
    centre = (
        HYBRID_EFFECT * w.sum() - (w[pinned] * pinned_values).sum() - HYBRID_SD * (free_w * z).sum()
    ) / free_w.sum()
    hybrid = np.empty(k)
    hybrid[pinned] = pinned_values
    hybrid[~pinned] = centre + HYBRID_SD * z

    county_season = COUNTY_SEASON_SD * rng.standard_normal((k, len(SEASONS)))
    return intercepts, hybrid, county_season


def maize_yield(seed: int = 0, n: int = DEFAULT_N) -> pd.DataFrame:
    """Synthetic maize yields of Kenyan smallholder farmers (stand-in for the talk's data).

    Simulated to reproduce the structure of the private Apollo Agriculture data set of the talk
    "Clusterf*ck: a practical guide to Bayesian hierarchical modeling": 30 counties of very
    different sizes, most farmers on hybrid seed, a hybrid effect of about 0.44 on
    ``log(maize_yield + 0.1)`` (1.55x the yield), Machakos where hybrid does *worse*,
    Tharaka-Nithi with a very large gap, and one county (Nyandarua) with a single non-hybrid
    record.

    Parameters
    ----------
    seed : int, default 0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same data, and the
        same generating parameters at any ``n``.
    n : int, default 110_789
        Number of rows (>= 150). Smaller ``n`` rescales the fixed sampling design
        proportionally: every county stays (>= 5 rows), Nyandarua keeps exactly one
        non-hybrid row, every other county at least two.

    Returns
    -------
    pandas.DataFrame
        ``n`` rows sorted by county (random order within county), columns

        - ``county`` (category, 30 county names, alphabetical),
        - ``maize_yield`` (float64, bags of maize per acre, a multiple of 0.25, >= 0),
        - ``used_hybrid_seeds`` (bool),
        - ``season`` (category: "2019-LR", "2019-SR", "2020-LR", "2020-SR"; LR = long rains,
          SR = short rains).

        ``df.attrs["generating_parameters"]`` holds the parameters used (see below).

    Generating model
    ----------------
    For farmer ``i`` in county ``c``, season ``s``, with ``h`` = used hybrid seed (0/1)::

        log(yield + 0.1) = a[c] + b[c] * h + season[s] + u[c, s] + e,   e ~ Normal(0, 0.65)

    - ``a[c]``: county intercepts (non-hybrid, average season), 30 standard-normal draws
      standardised to mean exactly log(10) = 2.3026 (~10 bags/acre) and SD exactly 0.35.
    - ``b[c]``: county hybrid effects. Machakos is pinned to -0.25 and Tharaka-Nithi to 1.20;
      the other 28 are standardised normal draws (clipped at +-2.5 SD) with SD 0.15, shifted
      so that the within-county precision-weighted average over all 30 counties,
      ``sum w[c] b[c] / sum w[c]`` with ``w = n_hybrid * n_non_hybrid / n_rows`` of the
      default design, is exactly 0.44.
    - ``season[s]``: fixed, 2019-LR +0.10, 2019-SR -0.12, 2020-LR +0.08, 2020-SR -0.06.
    - ``u[c, s]``: county x season deviations ~ Normal(0, 0.20), independent, so regional
      clusters of high yield are *not* consistent from one season or year to the next.
    - Seasons are drawn per row with shares 0.17 / 0.15 / 0.37 / 0.31, independently of
      hybrid use. Hybrid use is fixed by design per county: 12,619 of 110,789 rows (11.4 %)
      are non-hybrid; Machakos 705 of 3,210, Tharaka-Nithi 130 of 1,420, Elgeyo-Marakwet,
      Kirinyaga, Laikipia and Uasin Gishu 3-9 each, Nyandarua 1.
    - Recording: with probability 0.005 a crop failure (yield 0); otherwise
      ``exp(latent) - 0.1`` floored at 0, rounded to whole bags with probability 0.6 (when at
      least 2 bags, as farmers tend to report) and to quarter bags otherwise. Crop failures
      shrink mean differences on the log scale by a factor 0.995 and add to the spread: the
      residual SD of ``log(yield + 0.1)`` is about 0.74. The log-normal model has a long
      right tail (median ~17, a handful of rows above 200 bags/acre), as self-reported yields
      do.
    - County sizes range from 240 (Kiambu) to 13,212 (Bungoma) rows.

    ``attrs["generating_parameters"]`` keys: ``seed``, ``n``, ``model``, ``lme4_formula``,
    ``intercept_mean``, ``intercept_sd``, ``county_intercepts`` ({county: a}),
    ``hybrid_effect`` (0.44, the weighted average), ``hybrid_sd``, ``county_hybrid_effects``
    ({county: b}), ``season_effects``, ``county_season_sd``, ``county_season_effects``
    ({county: {season: u}}), ``sigma``, ``crop_failure_prob``, ``whole_bag_prob``,
    ``county_rows``, ``county_non_hybrid_rows``, ``single_non_hybrid_county``.

    Raises
    ------
    DataError
        If ``seed`` is not a non-negative integer or ``n`` is not an integer >= 150.
    """
    seed = _check_int("seed", seed, 0)
    n = _check_int("n", n, MIN_N)
    rng = np.random.default_rng(seed)
    intercepts, hybrid_effects, county_season = _draw_parameters(rng)

    weights = np.array([_DESIGN[c][0] for c in COUNTIES], dtype=np.float64)
    sizes = _allocate_rows(n, weights)
    non_hybrid = _non_hybrid_counts(sizes)

    county = np.repeat(np.arange(len(COUNTIES)), sizes)
    # Within each county: first the non-hybrid rows, then the hybrid rows; shuffled below.
    starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    position = np.arange(n) - starts
    hybrid = position >= np.repeat(non_hybrid, sizes)
    shuffle = np.lexsort((rng.random(n), county))
    hybrid = hybrid[shuffle]

    season = rng.choice(len(SEASONS), size=n, p=_SEASON_SHARES)
    season_eff = np.array([SEASON_EFFECTS[s] for s in SEASONS])
    eta = (
        intercepts[county]
        + hybrid_effects[county] * hybrid
        + season_eff[season]
        + county_season[county, season]
    )
    latent = eta + SIGMA * rng.standard_normal(n)
    failed = rng.random(n) < CROP_FAILURE_PROB
    whole = rng.random(n) < WHOLE_BAG_PROB

    raw = np.maximum(np.exp(latent) - 0.1, 0.0)
    y = np.where(whole & (raw >= 2.0), np.rint(raw), np.rint(raw * 4.0) / 4.0)
    y[failed] = 0.0

    df = pd.DataFrame(
        {
            "county": pd.Categorical.from_codes(county, categories=list(COUNTIES)),
            "maize_yield": y.astype(np.float64),
            "used_hybrid_seeds": hybrid.astype(bool),
            "season": pd.Categorical.from_codes(season, categories=list(SEASONS)),
        }
    )
    df.attrs["generating_parameters"] = _parameters_dict(
        seed, n, intercepts, hybrid_effects, county_season, sizes, non_hybrid
    )
    return df


def _parameters_dict(
    seed: int,
    n: int,
    intercepts: np.ndarray,
    hybrid_effects: np.ndarray,
    county_season: np.ndarray,
    sizes: np.ndarray,
    non_hybrid: np.ndarray,
) -> dict[str, Any]:
    """Plain-Python (JSON-able, ``==``-comparable) record of the generating parameters."""
    return {
        "seed": seed,
        "n": n,
        "model": (
            "log(maize_yield + 0.1) = county_intercepts[c] + county_hybrid_effects[c] * hybrid"
            " + season_effects[s] + county_season_effects[c][s] + Normal(0, sigma);"
            " crop failure (yield 0) with probability crop_failure_prob"
        ),
        "lme4_formula": (
            "log(maize_yield + 0.1) ~ used_hybrid_seeds + season"
            " + (used_hybrid_seeds || county) + (1 | county:season)"
        ),
        "intercept_mean": INTERCEPT_MEAN,
        "intercept_sd": INTERCEPT_SD,
        "county_intercepts": {c: float(v) for c, v in zip(COUNTIES, intercepts, strict=True)},
        "hybrid_effect": HYBRID_EFFECT,
        "hybrid_sd": HYBRID_SD,
        "county_hybrid_effects": {
            c: float(v) for c, v in zip(COUNTIES, hybrid_effects, strict=True)
        },
        "season_effects": dict(SEASON_EFFECTS),
        "county_season_sd": COUNTY_SEASON_SD,
        "county_season_effects": {
            c: {s: float(county_season[i, j]) for j, s in enumerate(SEASONS)}
            for i, c in enumerate(COUNTIES)
        },
        "sigma": SIGMA,
        "crop_failure_prob": CROP_FAILURE_PROB,
        "whole_bag_prob": WHOLE_BAG_PROB,
        "county_rows": {c: int(v) for c, v in zip(COUNTIES, sizes, strict=True)},
        "county_non_hybrid_rows": {c: int(v) for c, v in zip(COUNTIES, non_hybrid, strict=True)},
        "single_non_hybrid_county": SINGLE_NON_HYBRID_COUNTY,
    }
