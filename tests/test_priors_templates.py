"""Shipped prior templates (TOML data files) and loading/validation of user templates."""

from __future__ import annotations

import pickle
import tomllib
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from hiermodel.errors import PriorError
from hiermodel.priors import (
    Prior,
    Slot,
    Template,
    builtin_names,
    list_templates,
    load_template,
    load_template_from_dict,
    resolve_priors,
    show,
)

# sleepstudy-like numbers: Reaction ~ Days + (Days | Subject)
STATS = {"mean_y": 298.5, "sd_y": 56.2, "mad_y": 50.0, "n_obs": 180.0, "gaussian_identity": 1.0}
BAMBI_NORMAL = Prior("Normal", (("mu", 298.5), ("sigma", 140.5)))


def sleep_slots() -> list[Slot]:
    return [
        Slot("Intercept", auto=BAMBI_NORMAL),
        Slot("b", "Days", stats={"sd_x": 2.87, "mean_x": 4.5},
             auto=Prior("Normal", (("mu", 0), ("sigma", 48.9)))),
        Slot("sd", "Intercept", "Subject", stats={"sd_x": 1.0, "mean_x": 1.0, "n_levels": 18},
             auto=Prior("HalfNormal", (("sigma", 140.5),))),
        Slot("sd", "Days", "Subject", stats={"sd_x": 2.87, "mean_x": 4.5, "n_levels": 18},
             auto=Prior("HalfNormal", (("sigma", 48.9),))),
        Slot("cor", "", "Subject", stats={"dim": 2}, auto=Prior("LKJ", (("eta", 1),))),
        Slot("sigma", auto=Prior("HalfStudentT", (("nu", 4), ("sigma", 56.2)))),
    ]


def all_aux_slots() -> list[Slot]:
    auto = Prior("HalfCauchy", (("beta", 1),))
    return [*sleep_slots(), Slot("nu", auto=Prior("Gamma", (("alpha", 2), ("beta", 0.1)))),
            Slot("alpha", auto=auto), Slot("phi", auto=auto)]


SHIPPED = ["bambi", "maize_talk", "regularizing", "weakly_informative", "wide"]


def test_shipped_templates_are_package_data() -> None:
    assert builtin_names() == SHIPPED
    folder = resources.files("hiermodel.priors").joinpath("templates")
    for name in SHIPPED:
        data = tomllib.loads(folder.joinpath(f"{name}.toml").read_text(encoding="utf-8"))
        assert data["template"]["name"] == name
        assert data["template"]["description"]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_template_resolves(name: str) -> None:
    table = resolve_priors(all_aux_slots(), STATS, name)
    assert len(table) == 9
    assert table.template == name
    assert {r.source for r in table} <= {f"template:{name}", "auto"}
    assert table.get("cor", "", "Subject").dist == "LKJ"
    # a non-identity-link model (sd_y = 1, mean_y = 0 on the link scale) resolves too
    link = {"mean_y": 0.0, "sd_y": 1.0, "mad_y": 1.0, "n_obs": 50.0, "gaussian_identity": 0.0}
    resolve_priors(all_aux_slots(), link, name)


def test_weakly_informative_exact_numbers() -> None:
    table = resolve_priors(sleep_slots(), STATS)  # the default template
    assert table.template == "weakly_informative"
    assert table.get("Intercept") == Prior("Normal", (("mu", 298.5), ("sigma", 2.5 * 56.2)))
    assert table.get("b", "Days") == Prior("Normal", (("mu", 0.0), ("sigma", 2.5 * 56.2 / 2.87)))
    assert table.get("sd", "Intercept", "Subject") == Prior("Exponential",
                                                            (("lam", 1 / (56.2 / 1.0)),))
    assert table.get("sd", "Days", "Subject") == Prior("Exponential",
                                                       (("lam", 1 / (56.2 / 2.87)),))
    assert table.get("cor", "", "Subject") == Prior("LKJ", (("eta", 2.0),))
    assert table.get("sigma") == Prior("Exponential", (("lam", 1 / 56.2),))
    w = "template:weakly_informative"
    assert str(table) == "\n".join([
        "class      term       group    prior                          source",
        f"Intercept                      Normal(mu=298.5, sigma=140.5)  {w}",
        f"b          Days                Normal(mu=0, sigma=48.95)      {w}",
        f"sd         Intercept  Subject  Exponential(lam=0.01779)       {w}",
        f"sd         Days       Subject  Exponential(lam=0.05107)       {w}",
        f"cor                   Subject  LKJ(eta=2)                     {w}",
        f"sigma                          Exponential(lam=0.01779)       {w}",
    ])


def test_weakly_informative_aux_and_link_scale() -> None:
    link = {"mean_y": 0.0, "sd_y": 1.0, "mad_y": 1.0, "n_obs": 50.0, "gaussian_identity": 0.0}
    table = resolve_priors(all_aux_slots(), link)
    assert str(table.get("Intercept")) == "Normal(mu=0, sigma=2.5)"
    assert table.get("b", "Days") == Prior("Normal", (("mu", 0.0), ("sigma", 2.5 / 2.87)))
    assert str(table.get("sd", "Intercept", "Subject")) == "Exponential(lam=1)"
    assert str(table.get("nu")) == "Gamma(alpha=2, beta=0.1)"
    assert str(table.get("alpha")) == "HalfCauchy(beta=1)"
    assert str(table.get("phi")) == "HalfCauchy(beta=10)"


def test_maize_talk_gives_the_talks_numbers_exactly() -> None:
    table = resolve_priors(sleep_slots(), STATS, "maize_talk")
    normal = Prior("Normal", (("mu", 2.3), ("sigma", 1.1)))
    assert table.get("Intercept") == normal
    assert table.get("b", "Days") == normal
    assert str(normal) == "Normal(mu=2.3, sigma=1.1)"
    half_cauchy = Prior("HalfCauchy", (("beta", 1.0),))
    assert table.get("sd", "Intercept", "Subject") == half_cauchy
    assert table.get("sd", "Days", "Subject") == half_cauchy
    assert table.get("sigma") == half_cauchy
    assert table.get("cor", "", "Subject") == Prior("LKJ", (("eta", 2.0),))
    assert {r.source for r in table} == {"template:maize_talk"}
    assert load_template("maize_talk").var_values({}) == {"typical": 10.0, "spread": 3.0}


def test_bambi_template_uses_auto_priors() -> None:
    slots = sleep_slots()
    table = resolve_priors(slots, STATS, "bambi")
    for slot, row in zip(slots, table, strict=True):
        if slot.cls == "cor":
            assert (row.prior, row.source) == (Prior("LKJ", (("eta", 1.0),)), "template:bambi")
        else:
            assert (row.prior, row.source) == (slot.auto, "auto")


def test_wide_and_regularizing_numbers() -> None:
    wide = resolve_priors(sleep_slots(), STATS, "wide")
    assert wide.get("b", "Days").kwargs["sigma"] == 1000 * 56.2 / 2.87
    assert wide.get("Intercept").kwargs["sigma"] == 1000 * 56.2
    assert wide.get("sd", "Days", "Subject") == Prior("HalfNormal", (("sigma", 100 * 56.2 / 2.87),))
    assert wide.get("cor", "", "Subject").kwargs == {"eta": 1.0}
    reg = resolve_priors(sleep_slots(), STATS, "regularizing")
    assert reg.get("b", "Days").kwargs == {"mu": 0.0, "sigma": 56.2 / 2.87}
    assert reg.get("sd", "Days", "Subject") == Prior("HalfNormal", (("sigma", 56.2 / 2.87),))
    assert reg.get("cor", "", "Subject").kwargs == {"eta": 2.0}


def test_list_and_show() -> None:
    frame = list_templates()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["name", "description", "default"]
    assert list(frame["name"]) == SHIPPED
    assert frame.set_index("name").loc["weakly_informative", "default"]
    text = show("weakly_informative")
    assert "  b         ~ Normal(mu = 0, sigma = 2.5 * sd_y / sd_x)" in text
    assert "  sd        ~ Exponential(lam = 1 / (sd_y / sd_x))" in text
    maize = show("maize_talk")
    assert "  typical = 10" in maize
    assert ("  Intercept ~ Normal(mu = round(log(typical), 1), sigma = round(log(spread), 1))"
            in maize)
    assert "bags per acre" in show("maize_talk", raw=True)


def test_unknown_template() -> None:
    with pytest.raises(PriorError) as err:
        load_template("weakly_informatve")
    assert str(err.value) == (
        "unknown prior template 'weakly_informatve'; did you mean 'weakly_informative'? "
        "available: bambi, maize_talk, regularizing, weakly_informative, wide "
        "(or a path to a .toml template file)"
    )
    with pytest.raises(PriorError) as err:
        resolve_priors(sleep_slots(), STATS, "flat")
    assert str(err.value) == (
        "unknown prior template 'flat'; available: bambi, maize_talk, regularizing, "
        "weakly_informative, wide (or a path to a .toml template file)"
    )
    with pytest.raises(PriorError, match=r"prior template file 'nope/missing\.toml' not found"):
        load_template("nope/missing.toml")


def test_user_template_file(tmp_path: Path) -> None:
    path = tmp_path / "my_crop.toml"
    path.write_text(
        '[template]\ndescription = "cassava"\n'
        "[vars]\ntypical = 25\nspread = 2\nlog_typical = \"log(typical)\"\n"
        '[priors.Intercept]\ndist = "Normal"\nmu = "log_typical"\nsigma = "log(spread)"\n'
        "[priors]\n"
        'b = "normal(0, 2 * sd_y / sd_x)"\n'
        'sd = "half_normal(sd_y / sd_x)"\n'
        'sigma = { dist = "Exponential", lam = "1 / sd_y" }\n'
    )
    t = load_template(path)
    assert isinstance(t, Template)
    assert (t.name, t.description) == ("my_crop", "cassava")
    assert load_template(str(path)) == t
    assert pickle.loads(pickle.dumps(t)) == t
    table = resolve_priors(sleep_slots(), STATS, path)
    import math

    assert table.get("Intercept").kwargs == {"mu": math.log(25), "sigma": math.log(2)}
    assert table.get("b", "Days").kwargs == {"mu": 0.0, "sigma": 2 * 56.2 / 2.87}
    assert table.get("sd", "Days", "Subject") == Prior("HalfNormal", (("sigma", 56.2 / 2.87),))
    assert table.get("sigma") == Prior("Exponential", (("lam", 1 / 56.2),))
    # cor is not covered by the template: Bambi's automatic prior (from the slot)
    cor = next(r for r in table if r.cls == "cor")
    assert (cor.prior, cor.source) == (Prior("LKJ", (("eta", 1.0),)), "auto")
    assert {r.source for r in table} == {"template:my_crop", "auto"}


def test_extends(tmp_path: Path) -> None:
    (tmp_path / "cassava.toml").write_text(
        '[template]\nextends = "maize_talk"\n[vars]\ntypical = 25\n'
    )
    t = load_template(tmp_path / "cassava.toml")
    assert t.extends == "maize_talk"
    table = resolve_priors(sleep_slots(), STATS, t)
    assert table.get("Intercept") == Prior("Normal", (("mu", 3.2), ("sigma", 1.1)))
    assert table.get("sigma") == Prior("HalfCauchy", (("beta", 1.0),))
    # relative file extends, with a rule replaced
    (tmp_path / "child.toml").write_text(
        '[template]\nname = "child"\nextends = "cassava.toml"\n[priors]\nsigma = "exponential(1)"\n'
    )
    child = resolve_priors(sleep_slots(), STATS, tmp_path / "child.toml")
    assert child.get("sigma") == Prior("Exponential", (("lam", 1.0),))
    assert child.get("Intercept").kwargs["mu"] == 3.2
    assert child.template == "child"


def test_extends_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[template]\nextends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('[template]\nextends = "a.toml"\n')
    with pytest.raises(PriorError, match="extends itself"):
        load_template(tmp_path / "a.toml")


def test_load_template_from_dict() -> None:
    spec = {"vars": {"typical": 10}, "priors": {
        "Intercept": {"dist": "Normal", "mu": "log(typical)", "sigma": 1},
        "sd": "half_cauchy(1)"}}
    t = load_template_from_dict("custom", spec, source="model.toml", key_prefix="priors.template.")
    assert t.name == "custom"
    table = resolve_priors(sleep_slots(), STATS, t)
    assert table.get("sd", "Days", "Subject") == Prior("HalfCauchy", (("beta", 1.0),))
    assert table.template == "custom"
    with pytest.raises(PriorError) as err:
        load_template_from_dict("custom", {"priors": {"b": {"dist": "Normal", "mu": 0,
                                                            "sigma": "2 * sd_q"}}},
                                source="model.toml", key_prefix="priors.template.")
    assert str(err.value) == (
        "model.toml: [priors.template.priors.b] sigma: unknown name 'sd_q' in '2 * sd_q'; "
        "did you mean 'sd_y' or 'sd_x'? valid names: gaussian_identity, mad_y, mean_x, mean_y, "
        "n_obs, sd_x, sd_y"
    )
    with pytest.raises(PriorError) as err:
        load_template_from_dict("custom", {"prior": {}}, source="model.toml",
                                key_prefix="priors.template.")
    assert str(err.value) == ("model.toml: [priors.template] unknown key 'prior'; did you mean "
                              "'priors'? allowed: template, vars, priors")


_DISTS = ("Normal, StudentT, Cauchy, Laplace, Flat, HalfNormal, HalfCauchy, HalfStudentT, "
          "Exponential, Gamma, InverseGamma, LogNormal, HalfFlat, Beta, Uniform, LKJ")
_POS = ("another positive distribution: HalfNormal, HalfCauchy, HalfStudentT, Exponential, "
        "Gamma, InverseGamma, LogNormal, HalfFlat, Uniform with lower >= 0")

MALFORMED = [
    ("[priors.b\ndist = 1",
     "bad.toml: invalid TOML: Expected ']' at the end of a table declaration (at line 1, "
     "column 10)"),
    ('[prior.b]\ndist = "Normal"',
     "bad.toml: unknown key 'prior'; did you mean 'priors'? allowed: template, vars, priors"),
    ('[template]\nnmae = "x"\n[priors]',
     "bad.toml: [template] unknown key 'nmae'; did you mean 'name'? allowed: name, description, "
     "extends"),
    ('[template]\nname = "x"',
     "bad.toml: missing [priors] table (one entry per class: Intercept, b, sd, cor, sigma, nu, "
     "alpha, phi, zi, hu)"),
    ('[priors.bb]\ndist = "Normal"\nmu = 0\nsigma = 1',
     "bad.toml: [priors] unknown class 'bb'; did you mean 'b'? valid: Intercept, b, sd, cor, "
     "sigma, nu, alpha, phi, zi, hu"),
    ("[priors.b]\nmu = 0\nsigma = 1",
     "bad.toml: [priors.b] missing 'dist' (e.g. dist = \"Normal\"), or write from = \"bambi\" "
     "to use Bambi's automatic prior"),
    ('[priors.b]\ndist = "Normall"\nmu = 0\nsigma = 1',
     "bad.toml: [priors.b] dist: unknown distribution 'Normall'; did you mean 'Normal' or "
     f"'LogNormal' or 'HalfNormal'? valid: {_DISTS} (lower-case brms/Stan spellings such as "
     "normal, student_t, half_cauchy, exponential, lkj also work)"),
    ('[priors.b]\ndist = "Normal"\nmu = 0\nsd = 1',
     "bad.toml: [priors.b] unknown parameter 'sd' for Normal; valid: mu, sigma"),
    ('[priors.b]\ndist = "Normal"\nmu = 0\nsigmaa = 1',
     "bad.toml: [priors.b] unknown parameter 'sigmaa' for Normal; did you mean 'sigma'? valid: "
     "mu, sigma"),
    ('[priors.b]\ndist = "Normal"\nmu = 0',
     "bad.toml: [priors.b] Normal needs parameters (mu, sigma); missing 'sigma'"),
    ('[priors.b]\ndist = "Normal"\nmu = 0\nsigma = "2.5 * sd_y / sd_z"',
     "bad.toml: [priors.b] sigma: unknown name 'sd_z' in '2.5 * sd_y / sd_z'; did you mean "
     "'sd_y' or 'sd_x'? valid names: gaussian_identity, mad_y, mean_x, mean_y, n_obs, sd_x, sd_y"),
    ('[priors.sigma]\ndist = "Exponential"\nlam = "1 / sd_x"',
     "bad.toml: [priors.sigma] lam: unknown name 'sd_x' in '1 / sd_x'; did you mean 'sd_y'? "
     "valid names: gaussian_identity, mad_y, mean_y, n_obs, sd_y"),
    ('[priors.b]\ndist = "Normal"\nmu = 0\nsigma = "sd_y.__class__"',
     "bad.toml: [priors.b] sigma: 'sd_y.__class__': attribute access ('.') is not allowed; "
     "expressions may use numbers, names, + - * / ** ( ) and the functions log(), log10(), "
     "exp(), sqrt(), abs(), round(), min(), max()"),
    ('[priors.b]\ndist = "Normal"\nmu = 0\nsigma = "exec(1)"',
     "bad.toml: [priors.b] sigma: 'exec(1)': function 'exec' is not allowed; allowed functions: "
     "log, log10, exp, sqrt, abs, round, min, max"),
    ('[priors.b]\ndist = "Normal"\nmu = true\nsigma = 1',
     "bad.toml: [priors.b] mu: expected a number or an expression, got True"),
    ('[priors.b]\ndist = "Normal"\nmu = 0\nsigma = -1',
     "bad.toml: [priors.b]: Normal sigma must be > 0, got -1"),
    ('[priors.sd]\ndist = "Normal"\nmu = 0\nsigma = "sd_y"',
     "bad.toml: [priors.sd]: Normal(mu=0, sigma=sd_y) cannot be used for class 'sd' (a "
     "group-level standard deviation, which must be positive); use HalfNormal(sigma=sd_y) "
     f"instead, or {_POS}"),
    ('[priors.cor]\ndist = "HalfNormal"\nsigma = 1',
     "bad.toml: [priors.cor]: HalfNormal(sigma=1) cannot be used for class 'cor' (the "
     "correlation matrix of a group-level block); use LKJ(eta=2) instead (LKJ is the only "
     "prior for correlations)"),
    ('[priors]\nsd = "normal(0, sd_y)"',
     "bad.toml: [priors] sd: Normal(mu=0, sigma=sd_y) cannot be used for class 'sd' (a "
     "group-level standard deviation, which must be positive); use HalfNormal(sigma=sd_y) "
     f"instead, or {_POS}"),
    ('[priors]\nb = "normal(0, 2.5 * sd_q)"',
     "bad.toml: [priors] b: unknown name 'sd_q' in '2.5 * sd_q'; did you mean 'sd_y' or "
     "'sd_x'? valid names: gaussian_identity, mad_y, mean_x, mean_y, n_obs, sd_x, sd_y"),
    ("[priors]\nb = 3",
     "bad.toml: [priors.b] must be a table (dist = ..., parameters) or a prior string like "
     "\"Normal(0, 2.5 * sd_y)\", got 3"),
    ('[priors.b]\nfrom = "brms"',
     "bad.toml: [priors.b] from: only \"bambi\" is supported (Bambi's automatic prior), "
     "got 'brms'"),
    ('[priors.b]\nfrom = "bambi"\ndist = "Normal"',
     "bad.toml: [priors.b] from = \"bambi\" cannot be combined with 'dist'"),
    ("[vars]\nsd_y = 1\n[priors]",
     "bad.toml: [vars] sd_y: 'sd_y' is a built-in name; choose another variable name"),
    ('[vars]\na = "b"\nb = "a"\n[priors]', "bad.toml: [vars] a: circular definition a -> b -> a"),
    ('[vars]\na = "sd_x"\n[priors]',
     "bad.toml: [vars] a: unknown name 'sd_x' in 'sd_x'; did you mean 'sd_y'? valid names: a, "
     "gaussian_identity, mad_y, mean_y, n_obs, sd_y"),
    ('[template]\nextends = "wekly"',
     "bad.toml: [template] extends: unknown prior template 'wekly'; available: bambi, "
     "maize_talk, regularizing, weakly_informative, wide (or a path to a .toml template file)"),
]


@pytest.mark.parametrize(("text", "message"), MALFORMED)
def test_malformed_template_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                  message: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.toml").write_text(text)
    with pytest.raises(PriorError) as err:
        load_template("bad.toml")
    assert str(err.value) == message


def test_resolve_time_errors_name_the_slot(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text('[priors.b]\ndist = "Normal"\nmu = 0\nsigma = "sd_y / (sd_x - 2.87)"\n'
                    '[priors.sigma]\ndist = "Uniform"\nlower = "-sd_y"\nupper = "sd_y"\n')
    slots = sleep_slots()
    with pytest.raises(PriorError) as err:
        resolve_priors(slots, STATS, path)
    assert str(err.value) == (
        f"{path}: [priors.b] sigma for b: Days: 'sd_y / (sd_x - 2.87)' could not be evaluated "
        "(with sd_x=2.87, sd_y=56.2): float division by zero"
    )
    no_b = [s for s in slots if s.cls != "b"]
    with pytest.raises(PriorError) as err:
        resolve_priors(no_b, STATS, path)
    assert str(err.value).startswith(
        "prior for sigma (template:t): Uniform(lower=-56.2, upper=56.2) cannot be used for "
        "class 'sigma' (the residual standard deviation, which must be positive); use "
        "Uniform(lower=0, upper=56.2) instead"
    )
    # a model statistic the build stage did not pass
    with pytest.raises(PriorError) as err:
        resolve_priors(slots, {"mean_y": 1.0}, "weakly_informative")
    assert str(err.value).startswith(
        "weakly_informative.toml: [priors.Intercept] sigma for Intercept: unknown name 'sd_y' "
        "in '2.5 * sd_y'"
    )
