"""Figures and tables of docs/postfit.md (predictions, comparisons, slopes, conditional
effects, hypothesis, R²) on sleepstudy.

Run from the repository root: ``python docs/img/make_interpret_figures.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

import hiermodel as hm

warnings.simplefilter("ignore")
pd.set_option("display.width", 110)
OUT = Path(__file__).parent
fit = hm.fit("Reaction ~ Days + (Days|Subject)", hm.datasets.sleepstudy(), draws=300,
             tune=300, chains=2, seed=1)

avg = fit.predictions(conditional={"Days": range(10)}, average=True)
print(avg.frame.round(1).head(3).to_string(index=False))
avg.save(OUT / "interpret_predictions.png")
new = fit.predictions(conditional={"Days": [0, 9], "Subject": ["new"]},
                      allow_new_levels=True, seed=1)
print(new.frame.round(1).to_string(index=False))
cmp = fit.comparisons({"Days": [0, 9]}, by="Subject", average=True)
print(cmp.frame.round(1).head(3).to_string(index=False))
cmp.save(OUT / "interpret_comparisons.png")
print(fit.slopes("Days", average=True).frame.round(2).to_string(index=False))
fit.conditional_effects().save(OUT / "conditional_effects.png")
print(fit.hypothesis(["Days > 5", "Days = 0", "sd_Subject__Days > sd_Subject__Intercept / 4",
                      "r_Subject[308,Days] > 0"], seed=1).round(3).to_string())
print(pd.concat([fit.bayes_R2(), fit.bayes_R2(re_form="~0"), fit.loo_R2(seed=1)])
      .round(3).to_string())
