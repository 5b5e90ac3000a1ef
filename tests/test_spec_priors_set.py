"""``[priors.set]``: priors by parameter name in spec files, next to ``[[priors.override]]``.

Pure Python apart from the ``check()`` tests, which build (never sample) the model.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hiermodel.errors import PriorError, SpecError
from hiermodel.priors import parameter_slot, set_priors
from hiermodel.spec import Spec, load_spec

BASE = """\
[data]
dataset = "sleepstudy"

[model]
formula = "Reaction ~ Days + (1 | Subject)"

[priors]
template = "maize_talk"
"""

SET = BASE + """
[priors.set]
Intercept = "normal(250, 50)"
"sd_Subject" = "halfcauchy(30)"
b_Days = "normal(10, 5)"
"""

OVERRIDES = BASE + """
[[priors.override]]
prior = "normal(250, 50)"
class = "Intercept"

[[priors.override]]
prior = "halfcauchy(30)"
class = "sd"
group = "Subject"

[[priors.override]]
prior = "normal(10, 5)"
class = "b"
term = "Days"
"""


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, name: str = "x.toml"
          ) -> Spec:
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return load_spec(name)


def _error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    with pytest.raises(SpecError) as info:
        _load(tmp_path, monkeypatch, text)
    return str(info.value)


@pytest.mark.parametrize(("name", "slot"), [
    ("Intercept", ("Intercept", "", "")),
    ("intercept", ("Intercept", "", "")),
    ("b", ("b", "", "")),
    ("b_Days", ("b", "Days", "")),
    ("b_used_hybrid_seedsTRUE", ("b", "used_hybrid_seedsTRUE", "")),
    ("sd", ("sd", "", "")),
    ("sd_county", ("sd", "", "county")),
    ("sd_county_id__Days", ("sd", "Days", "county_id")),
    ("sd_Subject__Intercept", ("sd", "Intercept", "Subject")),
    ("cor_Subject", ("cor", "", "Subject")),
    ("sigma", ("sigma", "", "")),
    ("shape", ("alpha", "", "")),
])
def test_parameter_names_map_to_prior_table_keys(name: str, slot: tuple[str, str, str]) -> None:
    assert parameter_slot(name) == slot


@pytest.mark.parametrize(("name", "message"), [
    ("sdd_county", "unknown parameter 'sdd_county'; write a class or a parameter name: "
                   "Intercept, b, b_<term>, sd, sd_<group>"),
    ("slope", "unknown parameter 'slope'; write a class or a parameter name: "),
    ("sd_", "unknown parameter 'sd_'; write a class or a parameter name: "),
    ("sd___Days", "unknown parameter 'sd___Days'; write sd_<group> or sd_<group>__<term>"),
    ("cor_Subject__Days", "'cor_Subject__Days': a correlation prior is for a whole block; "
                          "write cor_Subject"),
])
def test_bad_parameter_names(name: str, message: str) -> None:
    with pytest.raises(PriorError) as info:
        parameter_slot(name)
    assert str(info.value).startswith(message)


def test_set_priors_makes_overrides() -> None:
    got = set_priors({"Intercept": "normal(2, 1)", "sd_county": "halfcauchy(1)"})
    assert [(o.cls, o.term, o.group, str(o.prior)) for o in got] == [
        ("Intercept", "", "", str(got[0].prior)), ("sd", "", "county", str(got[1].prior))]
    assert got[0].prior.dist == "Normal" and dict(got[0].prior.params) == {"mu": 2, "sigma": 1}
    assert got[1].prior.dist == "HalfCauchy"


def test_set_entries_are_overrides_with_their_origin(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _load(tmp_path, monkeypatch, SET)
    got = [(o.prior, o.cls, o.term, o.group, o.origin)
           for o in spec.priors.overrides]
    assert got == [
        ("normal(250, 50)", "Intercept", "", "", "[priors.set] Intercept"),
        ("halfcauchy(30)", "sd", "", "Subject", "[priors.set] sd_Subject"),
        ("normal(10, 5)", "b", "Days", "", "[priors.set] b_Days"),
    ]
    # the same priors written as [[priors.override]] entries are the same model
    same = _load(tmp_path, monkeypatch, OVERRIDES, "y.toml")
    assert spec.hash() == same.hash()


def test_set_errors_are_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _error(tmp_path, monkeypatch, BASE + "[priors.set]\nIntercept = 3\n") == \
        ("x.toml: [priors.set] Intercept must be a prior as a string, e.g. Intercept = "
         "\"normal(0, 1)\", got 3")
    assert _error(tmp_path, monkeypatch,
                  BASE + "[priors.set]\nsdd_Subject = \"halfcauchy(1)\"\n").startswith(
        "x.toml: [priors.set] sdd_Subject: unknown parameter 'sdd_Subject'; ")
    bad_prior = _error(tmp_path, monkeypatch, BASE + "[priors.set]\nIntercept = \"normal(2\"\n")
    assert bad_prior.startswith("x.toml: [priors.set] Intercept: ")
    wrong_support = _error(tmp_path, monkeypatch,
                           BASE + "[priors.set]\nsd_Subject = \"normal(0, 1)\"\n")
    assert wrong_support.startswith("x.toml: [priors.set] sd_Subject: ")
    twice = _error(tmp_path, monkeypatch, OVERRIDES + "\n[priors.set]\nb_Days = \"normal(0, 1)\"\n")
    assert twice == ("x.toml: [priors.set] b_Days sets the prior (class='b', term='Days') that "
                     "[[priors.override]] #3 sets too; keep one of them")


def test_set_priors_end_up_in_the_prior_table(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _, built = _load(tmp_path, monkeypatch, SET).check()
    table = built.prior_table.to_frame().set_index(["class", "term", "group"])
    assert table.loc[("Intercept", "", ""), "source"] == "override"
    assert table.loc[("Intercept", "", ""), "prior"].startswith("Normal(mu=250")
    assert table.loc[("sd", "Intercept", "Subject"), "source"] == "override"
    assert table.loc[("sd", "Intercept", "Subject"), "prior"].startswith("HalfCauchy(beta=30")
    assert table.loc[("b", "Days", ""), "prior"].startswith("Normal(mu=10")
    assert table.loc[("sigma", "", ""), "source"] == "template:maize_talk"


def test_a_set_entry_matching_no_parameter_is_located(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _load(tmp_path, monkeypatch, BASE + "[priors.set]\nb_Dayz = \"normal(0, 1)\"\n")
    with pytest.raises(SpecError) as info:
        spec.check()
    assert str(info.value).startswith(
        "x.toml: [priors.set] b_Dayz: prior override (class='b', term='Dayz') matches no "
        "parameter; did you mean term 'Days'?")
