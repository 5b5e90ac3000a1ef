"""Small public reference datasets shipped as CSV files inside the package.

The CSVs live in ``hiermodel/datasets/data/`` and are read through :mod:`importlib.resources`,
so they work from an installed wheel, a zip import or a source checkout alike.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

_DATA_PACKAGE = "hiermodel.datasets"
_DATA_DIR = "data"


def _read_packaged_csv(filename: str, dtype: dict[str, str] | type[str] | None = None
                       ) -> pd.DataFrame:
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


def owls() -> pd.DataFrame:
    """Begging of barn owl nestlings (Roulin & Bersier 2007; glmmTMB's ``Owls``).

    599 visits of a parent to 27 nests.

    Columns
    -------
    Nest : category
        Nest name (27 levels, sorted).
    FoodTreatment : category
        ``Deprived`` or ``Satiated`` (R's alphabetical level order).
    SexParent : category
        ``Female`` or ``Male``.
    ArrivalTime : float64
        Time the parent arrived (hours; 21.7-29.3).
    SiblingNegotiation : int64
        Calls of the nestlings in the 30 s before arrival (a count with many zeros).
    BroodSize : int64
        Nestlings in the nest (the exposure: ``offset(log(BroodSize))``).

    glmmTMB references (ML): ``SiblingNegotiation ~ FoodTreatment + SexParent +
    offset(log(BroodSize)) + (1|Nest)``, nbinom2: (Intercept) 0.6627, FoodTreatmentSatiated
    -0.6732, SexParentMale 0.0490, Nest SD 0.35124, theta 0.8406; zero-inflated Poisson with
    ``ziformula = ~1``: 0.8461, -0.2077, -0.0417, Nest SD 0.35269, zi (Intercept) -1.0526 (logit).
    """
    df = _read_packaged_csv("owls.csv", dtype={"Nest": "str", "FoodTreatment": "str",
                                               "SexParent": "str", "ArrivalTime": "float64",
                                               "SiblingNegotiation": "int64",
                                               "BroodSize": "int64"})
    for column in ("Nest", "FoodTreatment", "SexParent"):
        df[column] = pd.Categorical(df[column], categories=sorted(df[column].unique()))
    return df


def soup() -> pd.DataFrame:
    """A soup discrimination test (Christensen; R package ordinal's ``soup``).

    1,847 ratings by 185 respondents of reference and test soups.

    Columns
    -------
    RESP : category
        Respondent (185 levels).
    PROD : category
        ``Ref`` or ``Test``.
    SURENESS : ordered category
        How sure the respondent was that the sample was the reference, ``1`` < ... < ``6``.
    PRODID, DAY, SOUPTYPE, SOUPFREQ, COLD, EASY, GENDER, AGEGROUP, LOCATION : category
        Product id and respondent/session descriptors.

    ordinal::clmm reference: ``SURENESS ~ PROD + (1|RESP)``, cumulative logit: PRODTest 1.2055,
    RESP SD 0.55816, thresholds 1|2 -1.4768, 2|3 -0.4547, 3|4 -0.1174, 4|5 0.1474,
    5|6 0.8519.
    """
    df = _read_packaged_csv("soup.csv", dtype=str)
    for column in df.columns:
        if column == "SURENESS":
            df[column] = pd.Categorical(df[column], categories=[str(i) for i in range(1, 7)],
                                        ordered=True)
        else:
            levels = sorted(df[column].unique(), key=lambda v: (len(v), v)
                            if column in ("RESP", "PRODID", "DAY", "EASY") else (0, v))
            df[column] = pd.Categorical(df[column], categories=levels)
    return df
