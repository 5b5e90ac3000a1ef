"""sleepstudy side by side with lme4's published output.

    python examples/sleepstudy.py          # 4 chains x 1000 draws
    python examples/sleepstudy.py --fast   # short chains (what CI runs)

lme4 1.1-31, REML (shared/data/README.md):

    lmer(Reaction ~ Days + (Days | Subject), sleepstudy)
    Random effects:
     Groups   Name        Std.Dev. Corr
     Subject  (Intercept) 24.741
              Days         5.922   0.07
     Residual             25.592
    Fixed effects:
                Estimate
    (Intercept)  251.405
    Days          10.467
"""

from __future__ import annotations

import argparse

import pandas as pd

import hiermodel as hm

LME4 = {
    "(Intercept)": 251.4051, "Days": 10.4673,
    "sd (Intercept)": 24.7407, "sd Days": 5.9221, "corr": 0.066, "Residual": 25.5918,
}


def main() -> None:
    parser = argparse.ArgumentParser(description="sleepstudy vs lme4")
    parser.add_argument("--fast", action="store_true")
    args = parser.parse_args()
    sampler = (dict(draws=300, tune=300, chains=2, seed=1) if args.fast
               else dict(draws=1000, tune=1000, chains=4, seed=1))
    df = hm.datasets.sleepstudy()
    print(hm.translate("Reaction ~ Days + (Days|Subject)"), "\n")
    fit = hm.fit("Reaction ~ Days + (Days|Subject)", data=df, **sampler)
    print(fit.summary(), "\n")

    fe = fit.fixef()
    vc = fit.varcorr()
    ours = {
        "(Intercept)": fe.loc["(Intercept)"], "Days": fe.loc["Days"],
        "sd (Intercept)": vc[(vc.var1 == "(Intercept)") & (vc.var2 == "")].iloc[0],
        "sd Days": vc[(vc.var1 == "Days") & (vc.var2 == "")].iloc[0],
        "corr": vc[vc.var2 == "Days"].iloc[0],
        "Residual": vc[vc.grp == "Residual"].iloc[0],
    }
    table = pd.DataFrame({
        "lme4 (REML)": LME4,
        "hiermodel mean": {k: v["mean"] for k, v in ours.items()},
        "95% low": {k: v["hdi_low"] for k, v in ours.items()},
        "95% high": {k: v["hdi_high"] for k, v in ours.items()},
    })
    print("Side by side:")
    print(table.round(3).to_string())
    print("\nPer-subject coefficients (lme4's coef(m)$Subject), first five subjects:")
    coef = fit.coef("Subject").pivot(index="level", columns="term", values="mean")
    print(coef.head().round(2).to_string())


if __name__ == "__main__":
    main()
