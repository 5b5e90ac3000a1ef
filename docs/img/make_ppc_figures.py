"""Figures of docs/postfit.md (posterior predictive checks on sleepstudy).

Run from the repository root: ``python docs/img/make_ppc_figures.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import hiermodel as hm

warnings.simplefilter("ignore")
OUT = Path(__file__).parent
fit = hm.fit("Reaction ~ Days + (Days|Subject)", hm.datasets.sleepstudy(), draws=300,
             tune=300, chains=2, seed=1)
fit.pp_check("density", ndraws=50, seed=1).save(OUT / "ppc_density.png")
fit.pp_check("stat", stat="sd", group="Subject", seed=1).save(OUT / "ppc_stat_grouped.png")
fit.pp_check("loo_pit", seed=1).save(OUT / "ppc_loo_pit.png")
print(hm.loo_compare(fit, fit.update("~ . - (Days|Subject) + (1|Subject)")).round(2)
      .to_string())
