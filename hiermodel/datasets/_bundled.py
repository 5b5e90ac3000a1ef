"""Small public reference datasets shipped as CSV files inside the package.

The CSVs live in ``hiermodel/datasets/data/`` and are read through :mod:`importlib.resources`,
so they work from an installed wheel, a zip import or a source checkout alike.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

_DATA_PACKAGE = "hiermodel.datasets"
_DATA_DIR = "data"


def _read_packaged_csv(filename: str, dtype: dict[str, str] | None = None) -> pd.DataFrame:
    """Read ``data/<filename>`` from the installed package."""
    resource = resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR).joinpath(filename)
    with resource.open("rb") as fh:
        return pd.read_csv(fh, dtype=dtype)


def sleepstudy() -> pd.DataFrame:
    """Reaction times in a sleep-deprivation study (lme4's ``sleepstudy``; Belenky et al. 2003).

    180 rows, 18 subjects observed on 10 days (day 0 = baseline).

    Columns
    -------
    Reaction : float64
        Average reaction time (ms).
    Days : int64
        Days of sleep deprivation, 0-9.
    Subject : category
        Subject id as a string ('308', '309', ..., '372'); categories in the file's order of
        first appearance, which is also sorted order.

    lme4 reference (REML): ``Reaction ~ Days + (Days|Subject)`` gives fixed effects 251.4051 and
    10.4673, Subject SDs 24.7407 (intercept) and 5.9221 (Days), correlation 0.066, residual
    SD 25.5918.
    """
    df = _read_packaged_csv(
        "sleepstudy.csv", dtype={"Reaction": "float64", "Days": "int64", "Subject": "str"}
    )
    subjects = df["Subject"].astype(str)
    df["Subject"] = pd.Categorical(subjects, categories=pd.unique(subjects))
    return df


def radon() -> pd.DataFrame:
    """Household radon measurements in Minnesota (Gelman & Hill 2007; rstanarm's ``radon``).

    919 homes in 85 counties.

    Columns
    -------
    floor : int64
        0 = measured in the basement, 1 = first floor.
    county : category
        County name (upper case); categories sorted alphabetically.
    log_radon : float64
        Log radon level.
    log_uranium : float64
        County-level log soil uranium (constant within county).

    lme4 reference (REML): ``log_radon ~ floor + (1|county)`` gives intercept 1.4924,
    floor -0.6629, county SD 0.31541, residual SD 0.72578.
    """
    df = _read_packaged_csv(
        "radon.csv",
        dtype={"floor": "int64", "county": "str", "log_radon": "float64", "log_uranium": "float64"},
    )
    counties = df["county"].astype(str)
    df["county"] = pd.Categorical(counties, categories=sorted(pd.unique(counties)))
    return df
