"""Spec files: schema validation with located messages, data preparation, canonical hashing.

Pure Python apart from the ``check()`` tests, which build (never sample) a model.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.errors import FamilyError, FormulaError, PriorError, SpecError
from hiermodel.spec import SamplerSpec, Spec, load_spec, parse_spec

REPO = Path(__file__).resolve().parents[1]

MINIMAL = """\
[data]
dataset = "sleepstudy"

[model]
formula = "Reaction ~ Days + (1 | Subject)"
"""


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def spec_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    """The message of the SpecError that loading ``text`` as ./x.toml raises."""
    write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec("x.toml")
    return str(info.value)


def _formula_error(formula: str) -> str:
    with pytest.raises(FormulaError) as info:
        hm.translate(formula)
    return str(info.value)


def _family_error(family: str) -> str:
    with pytest.raises(FamilyError) as info:
        hm.get_family(family)
    return str(info.value)


def _prior_error(prior: str, cls: str) -> str:
    with pytest.raises(PriorError) as info:
        hm.set_prior(prior, cls)
    return str(info.value)


# (id, TOML text, full expected message; "{dir}" is the spec's directory)
CASES: list[tuple[str, str, str]] = [
    ("sampler-unknown-key", MINIMAL + "[sampler]\ndraw = 10\n",
     "x.toml: [sampler] unknown key 'draw'; did you mean 'draws'?"),
    ("sampler-unknown-key-no-match", MINIMAL + "[sampler]\nwarmup = 10\n",
     "x.toml: [sampler] unknown key 'warmup'; valid keys: draws, tune, chains, seed, backend, "
     "target_accept, cores"),
    ("draws-not-int", MINIMAL + "[sampler]\ndraws = \"many\"\n",
     "x.toml: [sampler] draws must be a positive integer, got 'many'"),
    ("draws-zero", MINIMAL + "[sampler]\ndraws = 0\n",
     "x.toml: [sampler] draws must be a positive integer, got 0"),
    ("draws-float", MINIMAL + "[sampler]\ndraws = 10.5\n",
     "x.toml: [sampler] draws must be a positive integer, got 10.5"),
    ("tune-negative", MINIMAL + "[sampler]\ntune = -1\n",
     "x.toml: [sampler] tune must be a non-negative integer, got -1"),
    ("chains-bool", MINIMAL + "[sampler]\nchains = true\n",
     "x.toml: [sampler] chains must be a positive integer, got true"),
    ("seed-negative", MINIMAL + "[sampler]\nseed = -5\n",
     "x.toml: [sampler] seed must be a non-negative integer, got -5"),
    ("target-accept-range", MINIMAL + "[sampler]\ntarget_accept = 1.5\n",
     "x.toml: [sampler] target_accept must be \"auto\" or a number between 0 and 1 (exclusive), "
     "got 1.5"),
    ("backend-unknown", MINIMAL + "[sampler]\nbackend = \"pymcc\"\n",
     "x.toml: [sampler] unknown backend 'pymcc'; did you mean 'pymc'?"),
    ("backend-unknown-no-match", MINIMAL + "[sampler]\nbackend = \"stan\"\n",
     "x.toml: [sampler] unknown backend 'stan'; choose one of: auto, pymc, nutpie, numpyro, "
     "blackjax"),
    ("section-typo", MINIMAL + "[sampelr]\ndraws = 10\n",
     "x.toml: unknown section [sampelr]; did you mean [sampler]?"),
    ("section-unknown", MINIMAL + "[plots]\nwidth = 3\n",
     "x.toml: unknown section [plots]; sections: [data], [model], [priors], [sampler], "
     "[compare], [output]"),
    ("top-level-key", "formula = \"y ~ x\"\n" + MINIMAL,
     "x.toml: unknown top-level key 'formula'; did you mean [model] formula? Put it under the "
     "[model] header"),
    ("section-not-table", "sampler = 3\n" + MINIMAL,
     "x.toml: [sampler] must be a table, got 3"),
    ("data-missing", "[model]\nformula = \"y ~ x\"\n",
     "x.toml: missing section [data]; add [data] with path = \"file.csv\" (CSV or Parquet, "
     "relative to the spec file) or dataset = \"<name>\""),
    ("model-missing", "[data]\ndataset = \"sleepstudy\"\n",
     "x.toml: missing section [model]; add [model] with formula = \"y ~ x + (1 | group)\""),
    ("formula-missing", "[data]\ndataset = \"sleepstudy\"\n[model]\nfamily = \"gaussian\"\n",
     "x.toml: [model] formula is required, e.g. formula = \"y ~ x + (1 | group)\""),
    ("formula-not-string", "[data]\ndataset = \"sleepstudy\"\n[model]\nformula = 3\n",
     "x.toml: [model] formula must be a string, got 3"),
    ("data-path-missing",
     "[data]\npath = \"foo.csv\"\n[model]\nformula = \"y ~ x\"\n",
     "x.toml: [data] path 'foo.csv' not found (looked in {dir})"),
    ("data-path-suffix",
     "[data]\npath = \"foo.xlsx\"\n[model]\nformula = \"y ~ x\"\n",
     "x.toml: [data] path 'foo.xlsx' must be a CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet, "
     ".pq) file"),
    ("data-both",
     "[data]\npath = \"foo.csv\"\ndataset = \"radon\"\n[model]\nformula = \"y ~ x\"\n",
     "x.toml: [data] give either path or dataset, not both"),
    ("data-neither", "[data]\nfilter = \"x > 1\"\n[model]\nformula = \"y ~ x\"\n",
     "x.toml: [data] needs path = \"file.csv\" (CSV or Parquet, relative to the spec file) or "
     "dataset = \"<name>\" (built-in: maize_yield, owls, radon, sleepstudy, soup)"),
    ("dataset-typo", "[data]\ndataset = \"sleepstuddy\"\n[model]\nformula = \"y ~ x\"\n",
     "x.toml: [data] unknown dataset 'sleepstuddy'; did you mean 'sleepstudy'?"),
    ("dataset-args-unknown",
     "[data]\ndataset = \"maize_yield\"\ndataset_args = { nn = 500 }\n"
     "[model]\nformula = \"y ~ x\"\n",
     "x.toml: [data] dataset_args unknown argument 'nn' of dataset 'maize_yield'; did you mean "
     "'n'?"),
    ("dataset-args-without-dataset",
     "[data]\npath = \"foo.csv\"\ndataset_args = { n = 5 }\n[model]\nformula = \"y ~ x\"\n",
     "x.toml: [data] path 'foo.csv' not found (looked in {dir})\n"
     "x.toml: [data] dataset_args is only used with dataset = \"<name>\""),
    ("types-unknown", MINIMAL + "[data.types]\nSubject = \"factor\"\n",
     "x.toml: [data.types] Subject must be one of 'categorical', 'numeric', 'bool', got "
     "'factor'"),
    ("types-typo", MINIMAL + "[data.types]\nSubject = \"categoricl\"\n",
     "x.toml: [data.types] Subject must be one of 'categorical', 'numeric', 'bool', got "
     "'categoricl'; did you mean 'categorical'?"),
    ("derive-not-string", MINIMAL + "[data.derive]\nlog_r = 3\n",
     "x.toml: [data.derive] log_r must be an R expression as a string, e.g. log_r = "
     "\"log(x + 0.1)\", got 3"),
    ("model-unknown-key", MINIMAL + "famly = \"poisson\"\n",
     "x.toml: [model] unknown key 'famly'; did you mean 'family'?"),
    ("dropna-not-bool", MINIMAL + "dropna = \"yes\"\n",
     "x.toml: [model] dropna must be true or false, got 'yes'"),
    ("parametrization-typo", MINIMAL + "parametrization = \"centred\"\n",
     "x.toml: [model] parametrization must be 'auto', 'centered', 'noncentered' or a table "
     "group -> choice, got 'centred'; did you mean 'centered' or "
     "'noncentered'?"),
    ("parametrization-table", MINIMAL + "parametrization = { Subject = \"both\" }\n",
     "x.toml: [model] parametrization.Subject must be one of 'auto', 'centered', "
     "'noncentered', got 'both'"),
    ("compress-invalid", MINIMAL + "compress = \"always\"\n",
     "x.toml: [model] compress must be true, false or 'auto', got 'always'"),
    ("template-typo", MINIMAL + "[priors]\ntemplate = \"maize_tlk\"\n",
     "x.toml: [priors] unknown template 'maize_tlk'; did you mean 'maize_talk'?"),
    ("template-unknown", MINIMAL + "[priors]\ntemplate = \"zzz\"\n",
     "x.toml: [priors] unknown template 'zzz'; shipped templates: bambi, maize_talk, "
     "regularizing, weakly_informative, wide, or a .toml file relative to the spec"),
    ("template-file-missing", MINIMAL + "[priors]\ntemplate = \"my_priors.toml\"\n",
     "x.toml: [priors] template file 'my_priors.toml' not found (looked in {dir})"),
    ("template-not-string", MINIMAL + "[priors]\ntemplate = 3\n",
     "x.toml: [priors] template must be a template name (e.g. 'weakly_informative') or a .toml "
     "file relative to the spec, got 3"),
    ("override-unknown-key",
     MINIMAL + "[[priors.override]]\nprior = \"normal(0, 5)\"\nclas = \"b\"\n",
     "x.toml: [[priors.override]] #1 unknown key 'clas'; did you mean 'class'?"),
    ("override-missing-prior", MINIMAL + "[[priors.override]]\nclass = \"b\"\n",
     "x.toml: [[priors.override]] #1 prior is required, e.g. prior = \"normal(0, 1)\""),
    ("compare-variant-no-tilde", MINIMAL + "[compare]\nvariants.pooled = \"Reaction\"\n",
     "x.toml: [compare.variants] pooled must be a formula string with '~', e.g. pooled = "
     "\"y ~ 0 + group\", got 'Reaction'"),
    ("compare-variant-name", MINIMAL + "[compare.variants]\n\"my variant\" = \"y ~ x\"\n",
     "x.toml: [compare.variants] variant name 'my variant' must be letters, digits, '_', '.' or "
     "'-' (it names output files)"),
    ("compare-hierarchical", MINIMAL + "[compare.variants]\nhierarchical = \"Reaction ~ 1\"\n",
     "x.toml: [compare.variants] hierarchical is the [model] formula; change [model] formula "
     "instead, or give this variant another name"),
    ("compare-logo", MINIMAL + "[compare]\nlogo = \"sometimes\"\n",
     "x.toml: [compare] logo must be true, false, 'auto', 'exact' or 'kfold', got 'sometimes'"),
    ("compare-logo-max-groups", MINIMAL + "[compare]\nlogo_max_groups = 1\n",
     "x.toml: [compare] logo_max_groups must be an integer >= 2, got 1"),
    ("compare-logo-folds", MINIMAL + "[compare]\nlogo_folds = 1\n",
     "x.toml: [compare] logo_folds must be an integer >= 2, got 1"),
    ("output-unknown-key", MINIMAL + "[output]\ndirr = \"runs\"\n",
     "x.toml: [output] unknown key 'dirr'; did you mean 'dir'?"),
    ("description-not-string", "description = 1\n" + MINIMAL,
     "x.toml: description must be a string, got 1"),
    ("several-problems", MINIMAL + "[sampler]\ndraws = \"many\"\ntune = -1\n",
     "x.toml: [sampler] draws must be a positive integer, got 'many'\n"
     "x.toml: [sampler] tune must be a non-negative integer, got -1"),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_spec_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                               expected: str) -> None:
    assert spec_error(tmp_path, monkeypatch, text) == expected.format(dir=tmp_path.resolve())


@pytest.mark.parametrize("formula", ["Reaction ~ Days + (1 | Subject", "Reaction ~ Days +",
                                     "Reaction ~ Days + (1 || )"])
def test_formula_errors_map_to_model_formula(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             formula: str) -> None:
    text = f'[data]\ndataset = "sleepstudy"\n[model]\nformula = "{formula}"\n'
    message = spec_error(tmp_path, monkeypatch, text)
    assert message == f"x.toml: [model] formula: {_formula_error(formula)}"
    assert "^" in message  # the caret under the offending token survives


def test_compare_variant_formula_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = spec_error(tmp_path, monkeypatch,
                         MINIMAL + '[compare.variants]\npooled = "Reaction ~ (Days"\n')
    assert message == f"x.toml: [compare.variants] pooled: {_formula_error('Reaction ~ (Days')}"


def test_derive_syntax_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = spec_error(tmp_path, monkeypatch, MINIMAL + '[data.derive]\nlr = "log(("\n')
    from hiermodel.formula import parse_expression

    with pytest.raises(FormulaError) as info:
        parse_expression("log((")
    assert message == f"x.toml: [data.derive] lr = 'log((': {info.value}"


def test_family_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = spec_error(tmp_path, monkeypatch, MINIMAL + 'family = "gausian"\n')
    assert message == f"x.toml: [model] family/link: {_family_error('gausian')}"


def test_override_prior_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = spec_error(tmp_path, monkeypatch,
                         MINIMAL + '[[priors.override]]\nprior = "normal(0, 1)"\nclass = "sd"\n')
    assert message == f"x.toml: [[priors.override]] #1: {_prior_error('normal(0, 1)', 'sd')}"


def test_invalid_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    message = spec_error(tmp_path, monkeypatch, "[data\n")
    assert message.startswith("x.toml: invalid TOML: ")


def test_missing_spec_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec("nope.toml")
    assert str(info.value) == f"spec file 'nope.toml' not found (looked in {tmp_path.resolve()})"


def test_inline_template_error_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    message = spec_error(tmp_path, monkeypatch, MINIMAL + textwrap.dedent("""\
        [priors.template_table.priors.b]
        dist = "Normal"
        mu = 0
        sd = 1
        """))
    assert message.startswith("x.toml: [priors.template_table.priors.b]")
    assert "unknown parameter 'sd'" in message


# -- valid specs ----------------------------------------------------------------------------------

def test_defaults_and_frozen(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, MINIMAL))
    assert spec.model.family == "gaussian" and spec.model.link is None
    assert spec.model.center_predictors is True and spec.model.compress == "auto"
    assert spec.sampler == SamplerSpec()
    assert spec.sampler.draws == 1000 and spec.sampler.seed is None
    assert spec.priors.template == "weakly_informative" and spec.priors.overrides == ()
    assert spec.output_dir == tmp_path.resolve() / "runs" / "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model = spec.model  # type: ignore[misc]
    assert hash(spec.sampler) == hash(dataclasses.replace(spec.sampler))


def test_compare_section_values(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, MINIMAL + "[compare]\nlogo = \"kfold\"\nlogo_folds = 3\n"
                           "logo_max_groups = 4\nlogo_draws = 200\n"))
    c = spec.compare
    assert (c.logo, c.logo_folds, c.logo_max_groups, c.logo_draws, c.logo_tune) == \
        ("kfold", 3, 4, 200, None)
    assert load_spec(write(tmp_path, MINIMAL, "d.toml")).compare.logo_folds is None


def test_hash_is_canonical(tmp_path: Path) -> None:
    base = load_spec(write(tmp_path, MINIMAL, "a.toml"))
    explicit = load_spec(write(tmp_path, MINIMAL.replace("[model]", "# a comment\n[model]")
                               + 'family = "gaussian"\n[sampler]\ndraws = 1000\ntune = 1000\n'
                               "[output]\ndir = \"elsewhere\"\n"
                               "[compare]\nlogo = false\n", "b.toml"))
    assert base.hash() == explicit.hash()  # defaults, comments, [output], [compare] don't count
    changed = load_spec(write(tmp_path, MINIMAL + "[sampler]\ndraws = 999\n", "c.toml"))
    assert changed.hash() != base.hash()
    assert len(base.hash()) == 64
    assert base.canonical_json().startswith('{"data":')


def test_overrides_and_template_file(tmp_path: Path) -> None:
    (tmp_path / "priors").mkdir()
    (tmp_path / "priors" / "mine.toml").write_text(
        '[template]\nname = "mine"\nextends = "wide"\n', encoding="utf-8")
    spec = load_spec(write(tmp_path, MINIMAL + textwrap.dedent("""\
        [priors]
        template = "priors/mine.toml"

        [[priors.override]]
        prior = "normal(0, 5)"
        class = "b"
        term = "Days"

        [[priors.override]]
        prior = "exponential(0.1)"
        class = "sigma"
        """)))
    assert spec.priors.template_path == (tmp_path / "priors" / "mine.toml").resolve()
    ps = spec.prior_spec()
    assert ps.template == spec.priors.template_path
    assert [o.cls for o in ps.overrides] == ["b", "sigma"]
    assert ps.overrides[0] == hm.set_prior("normal(0, 5)", "b", "Days")
    before = spec.hash()
    (tmp_path / "priors" / "mine.toml").write_text(
        '[template]\nname = "mine"\nextends = "bambi"\n', encoding="utf-8")
    assert load_spec(tmp_path / "x.toml").hash() != before  # template content is hashed


def test_inline_template_both_spellings(tmp_path: Path) -> None:
    table = '[priors.{key}.priors.b]\ndist = "Normal"\nmu = 0\nsigma = 3\n'
    a = load_spec(write(tmp_path, MINIMAL + table.format(key="template_table"), "a.toml"))
    b = load_spec(write(tmp_path, MINIMAL + table.format(key="template"), "b.toml"))
    assert a.priors.template_table == b.priors.template_table is not None
    assert a.hash() == b.hash()
    assert a.prior_spec().template.name == "a (inline)"


CSV = """\
y,x,g,flag,txt
1.5,0.1,a,yes,3
2.5,0.4,a,no,4
0.5,1.2,b,TRUE,5
3.0,2.0,b,false,6
2.0,-1.0,c,1,x
"""


def test_load_data_csv_types_filter_derive(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "d.csv").write_text(CSV, encoding="utf-8")
    spec = load_spec(write(tmp_path, textwrap.dedent("""\
        [data]
        path = "data/d.csv"
        filter = "x > 0"

        [data.derive]
        log_y = "log(y + 0.1)"
        y2 = "y * 2"

        [data.types]
        g = "categorical"
        flag = "bool"
        y2 = "categorical"

        [model]
        formula = "log_y ~ x + (1 | g)"
        """)))
    df = spec.load_data()
    assert list(df.index) == [0, 1, 2, 3]
    assert df["g"].dtype == "category"
    assert df["flag"].tolist() == [True, False, True, False] and df["flag"].dtype == bool
    assert df["log_y"].round(6).tolist() == pd.Series([1.6, 2.6, 0.6, 3.1]).apply(
        lambda v: round(float(__import__("math").log(v)), 6)).tolist()
    assert df["y2"].dtype == "category"


@pytest.mark.parametrize(("section", "expected"), [
    ('[data.types]\ntxt = "numeric"\n',
     "x.toml: [data.types] txt = 'numeric': 1 value(s) are not numbers, e.g. 'x' (row 4)"),
    ('[data.types]\ng = "bool"\n',
     "x.toml: [data.types] g = 'bool': value 'a' is not a truth value (use true/false, yes/no, "
     "1/0)"),
    ('[data.types]\nzz = "bool"\n',
     "x.toml: [data.types] zz = 'bool': no column 'zz' in the data; columns: y, x, g, flag, txt"),
    ('filter = "x > 100"\n', "x.toml: [data] filter 'x > 100' keeps none of the 5 rows"),
])
def test_load_data_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str,
                          expected: str) -> None:
    (tmp_path / "d.csv").write_text(CSV, encoding="utf-8")
    write(tmp_path, '[data]\npath = "d.csv"\n' + section + '[model]\nformula = "y ~ x + (1 | g)"\n')
    monkeypatch.chdir(tmp_path)
    spec = load_spec("x.toml")
    with pytest.raises(SpecError) as info:
        spec.load_data()
    assert str(info.value) == expected


def test_filter_unknown_column_names_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d.csv").write_text(CSV, encoding="utf-8")
    write(tmp_path, '[data]\npath = "d.csv"\nfilter = "xx > 0"\n[model]\nformula = "y ~ x"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec("x.toml").load_data()
    message = str(info.value)
    assert message.startswith("x.toml: [data] filter 'xx > 0' failed: ")
    assert "xx" in message


def test_derive_error_is_located(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "d.csv").write_text(CSV, encoding="utf-8")
    write(tmp_path, '[data]\npath = "d.csv"\n[data.derive]\nlz = "log(z)"\n'
                    '[model]\nformula = "y ~ x"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec("x.toml").load_data()
    assert str(info.value).startswith("x.toml: [data.derive] lz = 'log(z)': ")


def test_parquet(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "b", "b"]})
    df.to_parquet(tmp_path / "d.parquet")
    spec = load_spec(write(tmp_path, '[data]\npath = "d.parquet"\n[model]\nformula = "y ~ 1"\n'))
    pd.testing.assert_frame_equal(spec.load_data(), df)


def test_dataset_args(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, textwrap.dedent("""\
        [data]
        dataset = "maize_yield"
        dataset_args = { n = 300, seed = 2 }
        [model]
        formula = "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)"
        """)))
    df = spec.load_data()
    assert len(df) == 300
    pd.testing.assert_frame_equal(df, hm.datasets.maize_yield(seed=2, n=300))


def test_dataset_args_value_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, '[data]\ndataset = "maize_yield"\ndataset_args = { n = 3 }\n'
                    '[model]\nformula = "maize_yield ~ 1"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as info:
        load_spec("x.toml").load_data()
    assert str(info.value).startswith("x.toml: [data] dataset_args: ")


def test_parse_spec_base_dir(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text(CSV, encoding="utf-8")
    text = '[data]\npath = "d.csv"\n[model]\nformula = "y ~ x"\n'
    spec = parse_spec(text, file="/nowhere/copy.toml", label="copy.toml", base_dir=tmp_path)
    assert isinstance(spec, Spec) and spec.data.path == (tmp_path / "d.csv").resolve()
    assert spec.output_dir == tmp_path.resolve() / "runs" / "copy"


# -- check(): needs the data and builds (never samples) the model ---------------------------------

@pytest.mark.parametrize(("extra", "start"), [
    ('[[priors.override]]\nprior = "normal(0, 1)"\nclass = "b"\nterm = "Dayz"\n',
     "x.toml: [[priors.override]]: prior override (class='b', term='Dayz') matches no "
     "parameter; did you mean term 'Days'?"),
])
def test_check_prior_override_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       extra: str, start: str) -> None:
    write(tmp_path, MINIMAL + extra)
    monkeypatch.chdir(tmp_path)
    spec = load_spec("x.toml")
    with pytest.raises(SpecError) as info:
        spec.check()
    assert str(info.value).startswith(start)


def test_check_unknown_column(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, MINIMAL.replace("Days +", "Dayz +"))
    monkeypatch.chdir(tmp_path)
    spec = load_spec("x.toml")
    with pytest.raises(SpecError) as info:
        spec.check()
    message = str(info.value)
    assert message.startswith("x.toml: [model] formula: ")
    assert "Dayz" in message and "Days" in message


@pytest.mark.parametrize("name", ["sleepstudy", "radon", "maize_yield"])
def test_shipped_specs_load(name: str) -> None:
    spec = load_spec(REPO / "specs" / f"{name}.toml")
    assert spec.name == name
    assert spec.sampler.seed == 1


def test_shipped_spec_checks() -> None:
    for name in ("sleepstudy", "radon"):
        frame, built = load_spec(REPO / "specs" / f"{name}.toml").check()
        assert built.prepared.n == len(frame)


def test_maize_spec_is_the_talks() -> None:
    spec = load_spec(REPO / "specs" / "maize_yield.toml")
    assert spec.model.formula == "log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)"
    assert spec.model.center_predictors is False
    assert (spec.sampler.chains, spec.sampler.draws, spec.sampler.tune) == (4, 1000, 1000)
    variants = dict(spec.compare.variants)
    assert variants["pooled"].endswith("~ 0 + factor(used_hybrid_seeds)")
    assert variants["unpooled"].endswith("~ 0 + county:factor(used_hybrid_seeds)")
    small = dataclasses.replace(spec, data=dataclasses.replace(
        spec.data, dataset_args=(("n", 600), ("seed", 0))))
    _, built = small.check()
    table = {(r.cls, r.term, r.group): str(r.prior) for r in built.prior_table}
    slopes = [k for k in table if k[0] == "b"]
    assert len(slopes) == 1 and slopes[0][1].startswith("used_hybrid_seeds")
    assert table.pop(slopes[0]) == "Normal(mu=2, sigma=1)"  # the talk's b ~ Normal(2, 1)
    assert table == {
        ("Intercept", "", ""): "Normal(mu=2, sigma=1)",
        ("sd", "Intercept", "county"): "HalfCauchy(beta=1)",
        ("sigma", "", ""): "HalfCauchy(beta=1)",
    }


def test_model_aux_formulas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = load_spec(write(tmp_path, MINIMAL + '\n[model.aux]\nsigma = "~ Days"\n'))
    assert spec.model.aux == (("sigma", "~ Days"),)
    assert spec.to_dict()["model"]["aux"] == {"sigma": "~ Days"}
    assert "aux" not in load_spec(write(tmp_path, MINIMAL, "y.toml")).to_dict()["model"]
    built = spec.build()
    assert list(built.design.components) == ["sigma"]
    assert [r.term for r in built.prior_table.rows if r.term.startswith("sigma_")] == [
        "sigma_(Intercept)", "sigma_Days"]
    message = spec_error(tmp_path, monkeypatch, MINIMAL + '\n[model.aux]\nzi = "~ Days"\n')
    assert message.startswith("x.toml: [model.aux] zi: family 'gaussian' has no auxiliary "
                              "parameter 'zi'"), message
    message = spec_error(tmp_path, monkeypatch, MINIMAL + '\n[model.aux]\nsigma = 3\n')
    assert message == ('x.toml: [model.aux] sigma: must be a one-sided formula string such '
                       'as "~ x", got 3'), message
