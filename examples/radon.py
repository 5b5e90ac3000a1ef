"""Radon: the classic multilevel example (Gelman & Hill 2007), with a county-level predictor.

    python examples/radon.py          # 4 chains x 1000 draws
    python examples/radon.py --fast   # short chains (what CI runs)

log_uranium is measured per county, so it explains between-county variation: compare the
county SD with and without it.
"""

from __future__ import annotations

import argparse

import hiermodel as hm


def main() -> None:
    parser = argparse.ArgumentParser(description="radon multilevel example")
    parser.add_argument("--fast", action="store_true")
    args = parser.parse_args()
    sampler = (dict(draws=300, tune=300, chains=2, seed=1) if args.fast
               else dict(draws=1000, tune=1000, chains=4, seed=1))
    df = hm.datasets.radon()
    print(f"{len(df)} homes in {df.county.nunique()} counties\n")

    base = hm.fit("log_radon ~ floor + (1|county)", data=df, **sampler)
    print(base.summary(), "\n")
    group = hm.fit("log_radon ~ floor + log_uranium + (floor|county)", data=df, **sampler)
    print(group.summary(), "\n")

    def county_sd(fit: hm.results.Fit) -> float:
        vc = fit.varcorr()
        return float(vc[(vc.grp == "county") & (vc.var1 == "(Intercept)")
                        & (vc.var2 == "")]["mean"].iloc[0])

    print(f"county intercept SD: {county_sd(base):.3f} without log_uranium, "
          f"{county_sd(group):.3f} with it (lme4: 0.315 and 0.122)")
    b = group.fixef().loc["log_uranium"]
    print(f"log_uranium: {b['mean']:.2f} [{b['hdi_low']:.2f}, {b['hdi_high']:.2f}] "
          "(lme4: 0.745)")
    # the smallest counties are pulled most towards the regression line
    ranef = base.ranef("county")
    n = df.groupby("county").size()
    ranef = ranef.assign(n=ranef.level.map(n))
    print("\nsmallest counties, county intercept deviation (shrunk towards 0):")
    print(ranef.nsmallest(5, "n")[["level", "n", "mean", "hdi_low", "hdi_high"]]
          .round(2).to_string(index=False))


if __name__ == "__main__":
    main()
