"""The talk, end to end: maize yields, hybrid seeds and 30 Kenyan counties.

Retells "A practical guide to Bayesian hierarchical modeling" (shared/seed) with hiermodel:
the data transform, the pooled, unpooled and varying-intercept models with the talk's priors
(one line each), the hybrid effect on the original scale, the comparison of the three, and the
talk's "what else can we do?" list.

    python examples/maize_yield.py            # full data (110,789 rows), a few minutes
    python examples/maize_yield.py --fast     # 20,000 rows, short chains, 2 CV folds (CI)

The data is the built-in synthetic stand-in (the talk's data is private); see docs/datasets.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import hiermodel as hm

Y = "log(maize_yield + 0.1)"  # the talk: log of bags per acre, +0.1 for zero harvests


def county_gap(fit: hm.results.Fit, county: str) -> np.ndarray:
    """Posterior draws of hybrid minus non-hybrid log yield in one county (unpooled model)."""
    b = fit.idata.posterior["b"]
    hyb = b.sel(coef=f"county{county}:used_hybrid_seedsTRUE")
    non = b.sel(coef=f"county{county}:used_hybrid_seedsFALSE")
    return np.asarray(hyb - non).ravel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="small data and short chains")
    parser.add_argument("--out", default="runs/example_maize", help="where to write plots")
    args = parser.parse_args()
    n = 20_000 if args.fast else 110_789  # compression: sampling cost does not grow with n
    sampler = (dict(draws=200, tune=300, chains=2, seed=1) if args.fast
               else dict(draws=1000, tune=1000, chains=2, seed=1))

    df = hm.datasets.maize_yield(n=n, seed=0)
    print(f"{len(df):,} farmer records, {df.county.nunique()} counties, "
          f"{df.used_hybrid_seeds.mean():.0%} used hybrid seed")
    counts = df[~df.used_hybrid_seeds].groupby("county", observed=True).size()
    print(f"fewest non-hybrid records: {counts.idxmin()} ({counts.min()})\n")

    # The talk's priors: Normal(2.3, 1.1) = log(10 bags/acre) within a factor of 3;
    # HalfCauchy(1) for SDs. Its varying-intercept model used Normal(2, 1) for the intercept
    # mean and the slope.
    talk = "maize_talk"
    hier_priors = hm.PriorSpec(talk, [hm.set_prior("normal(2, 1)", "Intercept"),
                                      hm.set_prior("normal(2, 1)", "b")])

    # -- 1. pooled: one yield per seed type, counties ignored ---------------------------------
    pooled = hm.fit(f"{Y} ~ 0 + used_hybrid_seeds", df, priors=talk,
                    center_predictors=False, **sampler)
    fe = pooled.fixef()["mean"]
    print("POOLED  log yield: non-hybrid "
          f"{fe['used_hybrid_seedsFALSE']:.2f}, hybrid {fe['used_hybrid_seedsTRUE']:.2f}")

    # -- 2. unpooled: a separate yield per county and seed type -------------------------------
    unpooled = hm.fit(f"{Y} ~ 0 + county:used_hybrid_seeds", df, priors=talk,
                      center_predictors=False, **sampler)
    print("\nUNPOOLED  hybrid minus non-hybrid log yield, by county (mean [95% interval]):")
    rows = []
    for county in sorted(df.county.unique()):
        gap = county_gap(unpooled, county)
        rows.append((county, gap.mean(), *np.quantile(gap, [0.025, 0.975]), np.mean(gap < 0)))
    rows.sort(key=lambda r: r[1])
    for county, mean, lo, hi, _ in rows[:3] + rows[-3:]:
        print(f"  {county:<16} {mean:+.2f}  [{lo:+.2f}, {hi:+.2f}]")
    widest = max(rows, key=lambda r: r[3] - r[2])
    # the talk's findings, stated only where the data are clear (95% interval excludes 0)
    most_below = max(rows, key=lambda r: r[4])
    clear = [r for r in rows if r[2] > 0]
    print(f"  - hybrid below non-hybrid most credibly in {most_below[0]} "
          f"(posterior probability {most_below[4]:.2f})")
    if clear:
        top = max(clear, key=lambda r: r[1])
        print(f"  - the largest gap is {top[0]} ({top[1]:+.2f}) among counties whose interval "
              "excludes 0")
    print(f"  - widest interval: {widest[0]} ({widest[3] - widest[2]:.1f} wide): few non-hybrid "
          "records mean a lot of uncertainty")

    # -- 3. hierarchical: varying intercept by county, one hybrid effect ----------------------
    hier = hm.fit(f"{Y} ~ used_hybrid_seeds + (1|county)", df, priors=hier_priors,
                  center_predictors=False, **sampler)
    print("\nHIERARCHICAL")
    print(hier.summary())
    b = hier.fixef().loc["used_hybrid_seedsTRUE"]
    print(f"\nFarmers with hybrid seeds have about {np.exp(b['mean']):.2f}x "
          f"(exp({b['mean']:.2f}); 95% interval {np.exp(b['hdi_low']):.2f}-"
          f"{np.exp(b['hdi_high']):.2f}) the yield of those without, after accounting for "
          "county. This is a relative effect.")

    # -- 4. what partial pooling buys ---------------------------------------------------------
    comparison = hm.compare(
        f"{Y} ~ used_hybrid_seeds + (1|county)", df, priors=hier_priors,
        variants={"pooled": f"{Y} ~ 0 + used_hybrid_seeds",
                  "unpooled": f"{Y} ~ 0 + county:used_hybrid_seeds"},
        center_predictors=False, **sampler,
        logo_folds=2 if args.fast else None,  # --fast: 2 folds of held-out counties, 6 refits
    )
    print()
    print(comparison)
    out = Path(args.out)
    comparison.write(out)
    print(f"\ntables and plots written to {out}/")

    # -- 5. what else can we do? --------------------------------------------------------------
    print("\nWHAT ELSE (the talk's list), each one line:")
    slopes = hm.fit(f"{Y} ~ used_hybrid_seeds + (used_hybrid_seeds|county)", df,
                    priors=hier_priors, **sampler)
    vc = slopes.varcorr()
    cor = vc[vc.var2 != ""].iloc[0]
    print(f"  varying slopes + correlation: corr(intercept, hybrid) = {cor['mean']:+.2f} "
          f"[{cor['hdi_low']:+.2f}, {cor['hdi_high']:+.2f}]")
    season = hm.fit(f"{Y} ~ used_hybrid_seeds + (1|county) + (1|county:season)", df,
                    priors=hier_priors, **sampler)
    vc = season.varcorr()
    sd = vc[(vc.grp == "county:season") & (vc.var2 == "")].iloc[0]
    print(f"  a season layer: SD of county x season effects = {sd['mean']:.2f} "
          f"[{sd['hdi_low']:.2f}, {sd['hdi_high']:.2f}] - county clusters shift by season")


if __name__ == "__main__":
    main()
