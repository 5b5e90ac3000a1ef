"""Every shipped template builds and samples on sleepstudy and radon; ``wide`` approaches lme4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm

pytestmark = [pytest.mark.fit, pytest.mark.slow]

SMALL = {"draws": 250, "tune": 400, "chains": 2, "seed": 5}
TEMPLATES = sorted(hm.priors.list_templates()["name"])


def test_shipped_templates_are_listed() -> None:
    assert {"weakly_informative", "bambi", "wide", "regularizing", "maize_talk"} <= set(TEMPLATES)


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize(
    ("dataset", "formula"),
    [("sleepstudy", "Reaction ~ Days + (Days|Subject)"),
     ("radon", "log_radon ~ floor + (1|county)")],
)
def test_template_samples(template: str, dataset: str, formula: str,
                          request: pytest.FixtureRequest) -> None:
    data: pd.DataFrame = request.getfixturevalue(dataset)
    fit = hm.fit(formula, data=data, priors=template, **SMALL)
    fe = fit.fixef()
    assert np.isfinite(fe["mean"]).all() and (fe["sd"] > 0).all()
    sources = set(fit.prior_summary().to_frame()["source"])
    if template == "bambi":  # Bambi's own automatic priors are reported as source "auto"
        assert sources <= {"template:bambi", "auto"}
    else:
        assert f"template:{template}" in sources
    if template != "maize_talk":  # data-scaled templates: the slope's sign is never in doubt
        slope = fe.iloc[1]
        assert slope["hdi_low"] * slope["hdi_high"] > 0


def test_wide_template_lands_within_10_percent_of_lme4(sleepstudy: pd.DataFrame) -> None:
    fit = hm.fit("Reaction ~ Days + (Days|Subject)", data=sleepstudy, priors="wide",
                 draws=1000, tune=1000, chains=2, seed=3)
    fe = fit.fixef()["mean"]
    assert abs(fe["(Intercept)"] / 251.4051 - 1) < 0.10
    assert abs(fe["Days"] / 10.4673 - 1) < 0.10
