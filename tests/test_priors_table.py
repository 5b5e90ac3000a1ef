"""Slots, overrides (precedence, matching, validation) and the PriorTable."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

from hiermodel.errors import InternalError, PriorError
from hiermodel.priors import (
    Prior,
    PriorOverride,
    PriorTable,
    Slot,
    parse_prior,
    resolve_priors,
    set_prior,
)

STATS = {"mean_y": 298.5, "sd_y": 56.2, "mad_y": 50.0, "n_obs": 180.0, "gaussian_identity": 1.0}


def slots() -> list[Slot]:
    """Reaction ~ Days + Sex + (Days | Subject) + (1 | Night)."""
    auto = Prior("Normal", (("mu", 0), ("sigma", 10)))
    return [
        Slot("Intercept", auto=auto),
        Slot("b", "Days", stats={"sd_x": 2.87, "mean_x": 4.5}, auto=auto),
        Slot("b", "SexMale", stats={"sd_x": 0.5, "mean_x": 0.5}, auto=auto),
        Slot("sd", "(Intercept)", "Subject", stats={"sd_x": 1.0, "n_levels": 18}),
        Slot("sd", "Days", "Subject", stats={"sd_x": 2.87, "n_levels": 18}),
        Slot("sd", "Intercept", "Night", stats={"sd_x": 1.0, "n_levels": 10}),
        Slot("cor", "", "Subject", stats={"dim": 2}),
        Slot("sigma"),
    ]


AVAILABLE = ("available slots: Intercept; b: Days, SexMale; sd: Intercept|Subject, "
             "Days|Subject, Intercept|Night; cor: Subject; sigma")


def test_slot_basics() -> None:
    s = Slot("sd", "(Intercept)", "Subject", stats={"sd_x": 1})
    assert s.term == "Intercept"
    assert s.key == ("sd", "Intercept", "Subject")
    assert s.label == "sd: Intercept|Subject"
    assert s == Slot("sd", "Intercept", "Subject", stats={"sd_x": 99},
                     auto=Prior("HalfNormal", (("sigma", 1),)))
    assert hash(s) == hash(Slot("sd", "Intercept", "Subject"))
    assert Slot("b", "Days").label == "b: Days"
    assert Slot("cor", "", "Subject").label == "cor: Subject"
    assert Slot("sigma").label == "sigma"
    assert s.stats == {"sd_x": 1.0}
    assert pickle.loads(pickle.dumps(s)) == s


def test_set_prior() -> None:
    o = set_prior("normal(0, 5)", "b", "Days")
    assert o == PriorOverride(Prior("Normal", (("mu", 0.0), ("sigma", 5.0))), "b", "Days", "")
    assert str(o) == "(class='b', term='Days') ~ Normal(mu=0, sigma=5)"
    assert set_prior(parse_prior("lkj(2)"), "cor").prior == Prior("LKJ", (("eta", 2.0),))
    assert set_prior("normal(0, 1)").cls == "b"  # brms default class
    assert set_prior("gamma(0.01, 0.01)", "shape").cls == "alpha"  # brms names
    assert set_prior("gamma(0.01, 0.01)", "kappa").cls == "phi"
    assert set_prior("exponential(1)", "sd", "(Intercept)", "Subject").term == "Intercept"
    assert set_prior("normal(0, 1)", "intercept").cls == "Intercept"
    with pytest.raises(PriorError) as err:
        set_prior("normal(0, 1)", "bb")
    assert str(err.value) == (
        "prior override: unknown parameter class 'bb'; did you mean 'b'? valid: Intercept, b, "
        "sd, cor, sigma, nu, alpha, phi, zi, hu (brms name shape and kappa also work)"
    )


def test_override_precedence() -> None:
    overrides = [
        set_prior("half_normal(10)", "sd", "Days", "Subject"),  # class+term+group
        set_prior("half_normal(1)", "sd"),  # class
        set_prior("half_normal(2)", "sd", group="Subject"),  # class+group
        set_prior("half_normal(3)", "sd", "Days"),  # class+term
        set_prior("half_normal(4)", "sd", "Intercept"),  # class+term
        set_prior("normal(0, 5)", "b"),
        set_prior("normal(0, 6)", "b"),  # same key: the later wins
    ]
    table = resolve_priors(slots(), STATS, overrides=overrides)
    assert str(table.get("sd", "Days", "Subject")) == "HalfNormal(sigma=10)"
    assert str(table.get("sd", "Intercept", "Subject")) == "HalfNormal(sigma=4)"  # term > group
    assert str(table.get("sd", "Intercept", "Night")) == "HalfNormal(sigma=4)"
    assert str(table.get("b", "Days")) == "Normal(mu=0, sigma=6)"
    assert str(table.get("b", "SexMale")) == "Normal(mu=0, sigma=6)"
    rows = {r.label: r.source for r in table}
    assert rows["sd: Days|Subject"] == "override"
    assert rows["Intercept"] == "template:weakly_informative"
    assert rows["sigma"] == "template:weakly_informative"
    # order of the list does not matter for different specificity
    t2 = resolve_priors(slots(), STATS, overrides=overrides[::-1][1:])
    assert str(t2.get("sd", "Days", "Subject")) == "HalfNormal(sigma=10)"
    assert str(t2.get("b", "Days")) == "Normal(mu=0, sigma=5)"
    # class+group beats class
    t3 = resolve_priors(slots(), STATS, overrides=[set_prior("half_normal(2)", "sd", "", "Night"),
                                                   set_prior("half_normal(1)", "sd")])
    assert str(t3.get("sd", "Intercept", "Night")) == "HalfNormal(sigma=2)"
    assert str(t3.get("sd", "Days", "Subject")) == "HalfNormal(sigma=1)"


UNMATCHED = [
    (set_prior("normal(0, 1)", "b", "Dayz"),
     "prior override (class='b', term='Dayz') matches no parameter; did you mean term 'Days'? "
     + AVAILABLE),
    (set_prior("normal(0, 1)", "b", "Weight"),
     "prior override (class='b', term='Weight') matches no parameter; class 'b' has no term "
     "'Weight'; " + AVAILABLE),
    (set_prior("normal(0, 1)", "b", "", "Subject"),
     "prior override (class='b', group='Subject') matches no parameter; class 'b' takes no "
     "group; " + AVAILABLE),
    (set_prior("half_normal(1)", "sd", group="Subjct"),
     "prior override (class='sd', group='Subjct') matches no parameter; did you mean group "
     "'Subject'? " + AVAILABLE),
    (set_prior("half_normal(1)", "sd", "Days", "Night"),
     "prior override (class='sd', term='Days', group='Night') matches no parameter; term 'Days' "
     "of class 'sd' varies only by group 'Subject'; " + AVAILABLE),
    (set_prior("half_normal(1)", "sigma", "Days"),
     "prior override (class='sigma', term='Days') matches no parameter; class 'sigma' takes no "
     "term; " + AVAILABLE),
    (set_prior("gamma(2, 0.1)", "nu"),
     "prior override (class='nu') matches no parameter; this model has no parameter of class "
     "'nu' (classes: Intercept, b, sd, cor, sigma); " + AVAILABLE),
]


@pytest.mark.parametrize(("override", "message"), UNMATCHED)
def test_unmatched_override_message(override: PriorOverride, message: str) -> None:
    with pytest.raises(PriorError) as err:
        resolve_priors(slots(), STATS, overrides=[set_prior("normal(0, 2)", "b"), override])
    assert str(err.value) == message


def test_unmatched_override_brief_example() -> None:
    three = [Slot("b", "Days", stats={"sd_x": 2.87}), Slot("sd", "Intercept", "Subject"),
             Slot("sd", "Days", "Subject", stats={"sd_x": 2.87}), Slot("sigma")]
    with pytest.raises(PriorError) as err:
        resolve_priors(three, STATS, overrides=[set_prior("normal(0, 1)", "b", "Dayz")])
    assert str(err.value) == (
        "prior override (class='b', term='Dayz') matches no parameter; did you mean term 'Days'? "
        "available slots: b: Days; sd: Intercept|Subject, Days|Subject; sigma"
    )


OVERRIDE_SUPPORT = [
    (("normal(0, 5)", "sd", "Days", "Subject"),
     "prior override (class='sd', term='Days', group='Subject'): Normal(mu=0, sigma=5) cannot be "
     "used for class 'sd' (a group-level standard deviation, which must be positive); use "
     "HalfNormal(sigma=5) instead"),
    (("half_cauchy(1)", "b", "Days", ""),
     "prior override (class='b', term='Days'): HalfCauchy(beta=1) cannot be used for class 'b' "
     "(a population-level coefficient, which can be any real number); use Cauchy(alpha=0, "
     "beta=1) instead"),
    (("normal(0, 1)", "cor", "", "Subject"),
     "prior override (class='cor', group='Subject'): Normal(mu=0, sigma=1) cannot be used for "
     "class 'cor' (the correlation matrix of a group-level block); use LKJ(eta=2) instead (LKJ "
     "is the only prior for correlations)"),
    (("lkj(2)", "sigma", "", ""),
     "prior override (class='sigma'): LKJ(eta=2) cannot be used for class 'sigma' (the residual "
     "standard deviation, which must be positive); use another positive distribution"),
]


@pytest.mark.parametrize(("args", "message"), OVERRIDE_SUPPORT)
def test_override_support_validation(args: tuple[str, str, str, str], message: str) -> None:
    with pytest.raises(PriorError) as err:
        set_prior(*args)
    assert str(err.value).startswith(message)


def test_auto_fallback_and_missing_auto() -> None:
    # a template that covers only b: every other slot takes Slot.auto
    from hiermodel.priors import load_template_from_dict

    t = load_template_from_dict("only_b", {"priors": {"b": "normal(0, 1)"}})
    s = [Slot("Intercept", auto=Prior("Normal", (("mu", 1), ("sigma", 2)))),
         Slot("b", "x", stats={"sd_x": 1.0}),
         Slot("sigma", auto=Prior("HalfNormal", (("sigma", 3),)))]
    table = resolve_priors(s, STATS, t)
    assert [(r.label, str(r.prior), r.source) for r in table] == [
        ("Intercept", "Normal(mu=1, sigma=2)", "auto"),
        ("b: x", "Normal(mu=0, sigma=1)", "template:only_b"),
        ("sigma", "HalfNormal(sigma=3)", "auto"),
    ]
    with pytest.raises(PriorError) as err:
        resolve_priors([*s, Slot("nu")], STATS, t)
    assert str(err.value) == (
        "no prior for nu: template 'only_b' has no rule for class 'nu' and Bambi has no automatic "
        "prior for it; add [priors.nu] to the template or an override such as "
        "set_prior(..., class_='nu')"
    )
    with pytest.raises(PriorError) as err:
        resolve_priors([Slot("sigma")], STATS, "bambi")
    assert str(err.value) == (
        "no prior for sigma: template 'bambi' takes it from Bambi (from = \"bambi\") and Bambi has "
        "no automatic prior for it; add [priors.sigma] to the template or an override such as "
        "set_prior(..., class_='sigma')"
    )
    # an override fills the gap
    fixed = resolve_priors([Slot("sigma")], STATS, "bambi",
                           [set_prior("exponential(1)", "sigma")])
    assert fixed.get("sigma") == Prior("Exponential", (("lam", 1.0),))


def test_prior_table_api() -> None:
    table = resolve_priors(slots(), STATS, overrides=[set_prior("normal(0, 5)", "b", "SexMale")])
    assert isinstance(table, PriorTable)
    assert len(table) == 8
    assert [r.label for r in table] == [
        "Intercept", "b: Days", "b: SexMale", "sd: Intercept|Subject", "sd: Days|Subject",
        "sd: Intercept|Night", "cor: Subject", "sigma"]
    frame = table.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["class", "term", "group", "prior", "source"]
    assert frame.iloc[2].tolist() == ["b", "SexMale", "", "Normal(mu=0, sigma=5)", "override"]
    records = table.to_records()
    assert json.loads(json.dumps(records)) == records
    assert records[1] == {"class": "b", "term": "Days", "group": "",
                          "prior": "Normal(mu=0, sigma=48.95)", "dist": "Normal",
                          "params": {"mu": 0.0, "sigma": 2.5 * 56.2 / 2.87},
                          "source": "template:weakly_informative"}
    assert PriorTable.from_records(records, table.template) == table
    assert pickle.loads(pickle.dumps(table)) == table
    assert table.get("sd", "(Intercept)", "Subject") == table.get("sd", "Intercept", "Subject")
    with pytest.raises(PriorError) as err:
        table.get("b", "Dayz")
    assert str(err.value) == (
        "no prior slot 'b: Dayz'; did you mean 'b: Days'? slots: Intercept; b: Days, SexMale; "
        "sd: Intercept|Subject, Days|Subject, Intercept|Night; cor: Subject; sigma"
    )
    with pytest.raises(AttributeError):
        table.rows = ()  # type: ignore[misc]
    assert str(table).splitlines()[0].split() == ["class", "term", "group", "prior", "source"]


def test_duplicate_slots_and_bad_overrides() -> None:
    with pytest.raises(InternalError, match="duplicate prior slot b: x"):
        resolve_priors([Slot("b", "x", stats={"sd_x": 1}), Slot("b", "x")], STATS)
    with pytest.raises(PriorError, match="overrides must be made with set_prior"):
        resolve_priors(slots(), STATS, overrides=["normal(0, 1)"])  # type: ignore[list-item]
    with pytest.raises(PriorError, match="unknown parameter class 'beta'"):
        Slot("beta")
