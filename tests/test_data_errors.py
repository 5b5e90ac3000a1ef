"""Bad input never yields a traceback: each user error is a HiermodelError saying how to fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.data import prepare_data
from hiermodel.families import get_family


def _prepare(formula: str, df: pd.DataFrame, family: str = "gaussian", dropna: bool = False):
    terms = hm.translate(formula, df)
    return prepare_data(terms, df, get_family(family), dropna=dropna)


@pytest.fixture()
def df() -> pd.DataFrame:
    return pd.DataFrame({
        "y": [1.0, 2.0, 0.0, 4.0, 5.0, 6.0],
        "x": [0.1, 0.2, 0.3, np.nan, 0.5, 0.6],
        "g": ["a", "a", "b", "b", "c", None],
        "one": ["k"] * 6,
        "cnt": [0, 1, -2, 3, 4, 5],
        "bin": [0, 1, 2, 0, 1, 0],
        "word": ["no", "yes", "yes", "no", "maybe", "no"],
    })


ERRORS = [
    (
        "log(y) ~ 1",
        {},
        hm.DataError,
        "'log(y)' is not finite for 1 of 6 rows (first at row 2: y = 0.0); log needs "
        "positive values: add a constant (e.g. log(x + 0.1)) or filter the rows",
    ),
    (
        "y ~ x + (1|g)",
        {},
        hm.DataError,
        "missing values in columns the model uses: 'x' (1 rows), 'g' (1 rows); remove those rows "
        "or pass dropna=True to drop them (2 of 6 rows would be dropped)",
    ),
    (
        "y ~ 1 + (1|one)",
        {},
        hm.DataError,
        "grouping factor 'one' in '(1 | one)' has only one level ('k'); a group-level effect "
        "needs at least 2 levels — drop the term or check the row filter",
    ),
    (
        "cnt ~ 1",
        {"family": "poisson"},
        hm.FamilyError,
        "family 'poisson' needs non-negative integer counts, but 1 of 6 rows of response 'cnt' "
        "are not (e.g. [-2.0]); use family 'gaussian' (or 'gamma') for continuous responses",
    ),
    (
        "bin ~ 1",
        {"family": "bernoulli"},
        hm.FamilyError,
        "family 'bernoulli' needs a 0/1 (or two-level) response, but 1 of 6 rows of response "
        "'bin' are not (e.g. [2.0]); use 'binomial' with cbind(successes, failures) for counts",
    ),
    (
        "word ~ 1",
        {"family": "bernoulli"},
        hm.FamilyError,
        "family 'bernoulli' needs a response with exactly two levels, but 'word' has 3: "
        "['maybe', 'no', 'yes']",
    ),
    (
        "cbind(cnt, bin) ~ 1",
        {"family": "poisson"},
        hm.FamilyError,
        "cbind(successes, failures) is a binomial response; use family='binomial' (got 'poisson')",
    ),
    (
        "y ~ 1",
        {"family": "Gamma"},
        hm.FamilyError,
        "family 'gamma' needs a strictly positive response, but 1 of 6 rows of response 'y' are "
        "not (e.g. [0.0]); use 'gaussian' or transform the response",
    ),
]


@pytest.mark.parametrize(("formula", "kwargs", "error", "message"), ERRORS)
def test_data_errors_have_full_messages(df, formula, kwargs, error, message) -> None:
    with pytest.raises(error) as info:
        _prepare(formula, df, **kwargs)
    assert str(info.value) == message
    assert isinstance(info.value, hm.HiermodelError)


def test_dropna_drops_and_reports(df: pd.DataFrame) -> None:
    prepared = _prepare("y ~ x + (1|g)", df, dropna=True)
    assert prepared.n == 4
    assert prepared.n_dropped == 2


def test_two_level_response_follows_r(df: pd.DataFrame) -> None:
    d = df[df.word != "maybe"]
    prepared = _prepare("word ~ 1", d, family="binomial")
    assert prepared.response_levels == ("no", "yes")
    assert prepared.frame["word"].tolist() == [0.0, 1.0, 1.0, 0.0, 0.0]
    cat = d.assign(word=pd.Categorical(d.word, categories=["yes", "no"]))
    assert _prepare("word ~ 1", cat, family="binomial").response_levels == ("yes", "no")
    boolean = d.assign(flag=d.word == "yes")
    assert _prepare("flag ~ 1", boolean, family="bernoulli").response_levels == ("False", "True")


@pytest.mark.parametrize(
    ("name", "link", "message"),
    [
        ("gausian", None, "unknown family 'gausian'; did you mean 'gaussian'? Supported: "
         "bernoulli, beta, binomial, cumulative, gamma, gaussian, hurdle_negativebinomial, "
         "hurdle_poisson, lognormal, negativebinomial, poisson, t, "
         "zero_inflated_negativebinomial, zero_inflated_poisson"),
        ("poisson", "logit", "link 'logit' is not available for family 'poisson'; use one of: "
         "log, identity"),
    ],
)
def test_family_errors(name: str, link: str | None, message: str) -> None:
    with pytest.raises(hm.FamilyError) as info:
        get_family(name, link)
    assert str(info.value) == message


@pytest.mark.parametrize(("alias", "canonical"), [("Gamma", "gamma"), ("binomial", "binomial"),
                                                  ("negative_binomial", "negativebinomial"),
                                                  ("student_t", "t"), ("Normal", "gaussian")])
def test_r_family_names_accepted(alias: str, canonical: str) -> None:
    assert get_family(alias).name == canonical
