"""Hostile input, property-based (hypothesis): every outcome is success or a HiermodelError.

Random formulas (column names, operators, functions, bars, garbage), random spec files (wrong
types, missing sections, unicode, huge numbers, path tricks) and random data frames (NaN, inf,
empty, one row, one level, constant and mixed-type columns, datetimes, duplicate names) go
through the cheap stages: ``hm.translate``, ``hm.default_priors`` / ``hm.model`` (design and
graph, no sampling), ``load_spec`` and ``hiermodel check``. Any other exception -- and in
particular an :class:`InternalError` -- is a bug.

Case counts: the unmarked tests run a few hundred cases in total (``DEFAULT``), their
``slow``-marked copies thousands (``SLOW``). Every test is derandomized (no example database),
so every run tries the same cases and gives the same verdict.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import hiermodel as hm
from hiermodel.errors import HiermodelError, InternalError

# -- budgets -----------------------------------------------------------------------------------
# default tier (per test) and slow tier; totals are reported in docs/calibration.md
DEFAULT = {"translate": 300, "model": 60, "frame": 60, "spec": 150, "check": 25}
SLOW = {"translate": 3000, "model": 600, "frame": 600, "spec": 1500, "check": 200}


def _settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``: its result, or the HiermodelError it raised; anything else fails the test."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings are allowed; exceptions are the subject
            result = fn(*args, **kwargs)
    except InternalError as exc:  # a bug by definition
        raise AssertionError(f"InternalError from {fn.__name__}{args!r}: {exc}") from exc
    except HiermodelError as exc:
        assert str(exc).strip(), "a HiermodelError must carry a message"
        event(f"{fn.__name__}: {type(exc).__name__}")
        return exc
    event(f"{fn.__name__}: ok")
    return result


# -- formulas ----------------------------------------------------------------------------------
COLUMNS = ["y", "x", "z", "g", "h", "s", "f", "w", "t", "count"]
FUNCTIONS = ["log", "exp", "sqrt", "poly", "ns", "bs", "offset", "scale", "I", "factor",
             "cbind", "weights", "trials", "abs", "log1p", "center", "C", "mo", "gr", "foo"]
GARBAGE = ["@", "#", "$", "!", "&", "?", "{", "}", "[", "]", "'", '"', "`", "\\", ";", "é",
           "∑", "\x00", "\n", "%", "%in%", ".", "..", "=", ",", "0", "1", "-1", "2.5", "1e400",
           "NaN", "Inf", "TRUE", "``", "`x y`"]

name = st.sampled_from(COLUMNS)
number = st.sampled_from(["0", "1", "2", "3", "0.5", "-1", "10", "1e9", "1e400", ".5"])


@st.composite
def term(draw: Any, depth: int = 0) -> str:
    choice = draw(st.integers(0, 9 if depth < 3 else 2))
    if choice <= 2:
        return draw(name)
    if choice == 3:
        return draw(number)
    if choice == 4:
        fn = draw(st.sampled_from(FUNCTIONS))
        args = draw(st.lists(st.one_of(term(depth + 1), number), min_size=0, max_size=3))
        return f"{fn}({', '.join(args)})"
    if choice == 5:
        op = draw(st.sampled_from(["+", "-", "*", "/", ":", "^", "%in%"]))
        return f"{draw(term(depth + 1))} {op} {draw(term(depth + 1))}"
    if choice == 6:
        return f"({draw(term(depth + 1))})"
    if choice == 7:
        bar = draw(st.sampled_from(["|", "||"]))
        return f"({draw(term(depth + 1))} {bar} {draw(term(depth + 1))})"
    if choice == 8:
        return draw(st.sampled_from(GARBAGE))
    return draw(st.text(max_size=4))


@st.composite
def sane_term(draw: Any, depth: int = 0) -> str:
    """Terms that mostly make sense, so that many cases get past parsing into the design."""
    choice = draw(st.integers(0, 9 if depth < 2 else 1))
    x = draw(st.sampled_from(["x", "z", "w", "t", "h", "g"]))
    if choice <= 1:
        return x
    if choice == 2:
        fn = draw(st.sampled_from(["log", "exp", "sqrt", "scale", "abs", "log1p", "factor"]))
        return f"{fn}({x})"
    if choice == 3:
        return f"poly({x}, {draw(st.sampled_from(['1', '2', '3', '5']))})"
    if choice == 4:
        return f"{draw(st.sampled_from(['ns', 'bs']))}({x}, df = {draw(st.integers(1, 6))})"
    if choice == 5:
        return f"I({x} {draw(st.sampled_from(['^', '*', '/', '-']))} {draw(number)})"
    if choice == 6:
        return f"offset({draw(st.sampled_from(['log(t)', 'x', 'w']))})"
    if choice == 7:
        op = draw(st.sampled_from(["*", ":", "/", "%in%"]))
        return f"{draw(sane_term(depth + 1))} {op} {draw(sane_term(depth + 1))}"
    lhs = draw(st.sampled_from(["1", "0", "x", "z", "1 + x", "0 + h", "x + z", "poly(x, 2)"]))
    rhs = draw(st.sampled_from(["g", "h", "g:h", "g/h", "h/g", "g + h", "x"]))
    return f"({lhs} {draw(st.sampled_from(['|', '||']))} {rhs})"


@st.composite
def formula(draw: Any) -> str:
    if draw(st.booleans()):
        lhs = draw(st.sampled_from(["y", "cbind(s, f)", "y | weights(w)", "s | trials(t)",
                                    "count", "log(y + 5)", "count | weights(w)"]))
        rhs = draw(st.lists(sane_term(), min_size=1, max_size=4))
        intercept = draw(st.sampled_from(["", "1 + ", "0 + ", "-1 + "]))
        return f"{lhs} ~ {intercept}{' + '.join(rhs)}"
    lhs = draw(st.one_of(name, term(2), st.just(""), st.sampled_from(
        ["cbind(s, f)", "y | weights(w)", "s | trials(t)", "count", "log(y)"])))
    rhs = draw(st.lists(term(), min_size=0, max_size=4))
    sep = draw(st.sampled_from(["~", "~", "~", "", "~~", "="]))
    text = f"{lhs} {sep} {' + '.join(rhs)}"
    if draw(st.booleans()):  # splice garbage somewhere
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(GARBAGE)) + text[i:]
    return text


def frame(n: int = 24, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    trials = rng.integers(3, 9, n)
    s = rng.binomial(trials, 0.4)
    return pd.DataFrame({
        "y": rng.normal(size=n), "x": rng.normal(size=n), "z": rng.normal(size=n),
        "g": np.tile(["a", "b", "c", "d"], n // 4), "h": np.tile(["u", "v"], n // 2),
        "s": s, "f": trials - s, "w": rng.uniform(0.5, 2, n), "t": trials,
        "count": rng.poisson(2.0, n),
    })


FRAME = frame()
FAMILIES = ["gaussian", "binomial", "poisson", "negativebinomial", "bernoulli", "Gamma",
            "student_t", "beta", "cumulative", "zero_inflated_poisson", "nonsense"]


def _check_translate(text: str) -> None:
    outcome(hm.translate, text)
    outcome(hm.translate, text, FRAME)


def _check_model(text: str, family: str) -> None:
    result = outcome(hm.default_priors, text, FRAME, family=family)
    if not isinstance(result, HiermodelError):
        outcome(hm.model, text, FRAME, family=family)


@_settings(DEFAULT["translate"])
@given(formula())
def test_random_formulas_translate(text: str) -> None:
    _check_translate(text)


@_settings(DEFAULT["model"])
@given(formula(), st.sampled_from(["gaussian"] * 5 + FAMILIES))
def test_random_formulas_build(text: str, family: str) -> None:
    _check_model(text, family)


# -- data frames -------------------------------------------------------------------------------
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, 1e308, -1e308, 1e-320]


@st.composite
def hostile_frame(draw: Any) -> pd.DataFrame:
    n = draw(st.sampled_from([0, 1, 2, 3, 8, 24]))
    base = frame(max(n, 4), seed=draw(st.integers(0, 3))).iloc[:n].reset_index(drop=True)
    for col in draw(st.lists(st.sampled_from(COLUMNS), max_size=3, unique=True)):
        kind = draw(st.integers(0, 9))
        if kind == 0 and n:  # special values in some rows
            rows = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))
            base[col] = pd.to_numeric(base[col], errors="coerce").astype(float)
            base.loc[rows, col] = draw(st.sampled_from(SPECIALS))
        elif kind == 1:  # constant
            base[col] = draw(st.sampled_from([0, 1, "a", np.nan, True]))
        elif kind == 2:  # mixed types
            base[col] = pd.Series([draw(st.sampled_from([1, "a", None, 2.5, True]))
                                   for _ in range(n)], dtype=object)
        elif kind == 3:  # datetimes
            base[col] = pd.date_range("2020-01-01", periods=n, freq="D")
        elif kind == 4:  # one level / strings in numeric columns
            base[col] = "only"
        elif kind == 5:  # booleans
            base[col] = np.arange(n) % 2 == 0
        elif kind == 6:  # categorical with unused levels
            base[col] = pd.Categorical(["a"] * n, categories=["a", "b", "zz"])
        elif kind == 7:  # drop the column
            base = base.drop(columns=col)
        elif kind == 8:  # unicode / huge integers
            base[col] = draw(st.sampled_from([["é∑"] * n, [2**70] * n, [-(2**63)] * n]))
        else:  # negative / fractional counts
            base[col] = -np.arange(n) - 0.5
    if draw(st.booleans()) and len(base.columns) > 1:  # duplicate column names
        dup = draw(st.sampled_from(list(base.columns)))
        base = pd.concat([base, base[[dup]]], axis=1)
    return base


FRAME_FORMULAS = ["y ~ x + (1|g)", "y ~ x * h + (x||g)", "cbind(s, f) ~ x + (1|g)",
                  "count ~ log(t) + (1|g/h)", "y | weights(w) ~ poly(x, 2) + (1|h)",
                  "count ~ x + offset(log(t)) + (1|g)", "y ~ scale(z) + I(x^2) + (1|g:h)",
                  "y ~ .", "s | trials(t) ~ x + (x|g)"]


@_settings(DEFAULT["frame"])
@given(hostile_frame(), st.sampled_from(FRAME_FORMULAS), st.sampled_from(FAMILIES[:5]))
def test_random_frames(data: pd.DataFrame, text: str, family: str) -> None:
    fam = "binomial" if ("cbind" in text or "trials" in text) else family
    if fam == "binomial" and "cbind" not in text and "trials" not in text:
        fam = "gaussian"
    result = outcome(hm.default_priors, text, data, family=fam)
    if not isinstance(result, HiermodelError):
        outcome(hm.model, text, data, family=fam)


# -- spec files --------------------------------------------------------------------------------
def _toml_value(draw: Any) -> str:
    return draw(st.sampled_from([
        '"y ~ x + (1|g)"', '""', "1", "-1", "0", "1e400", "nan", "inf", "true", "[]", "[1, 2]",
        "{}", "{ a = 1 }", '"é∑\\u0000"', '"../../etc/passwd"', '"/etc/passwd"',
        '"~/nope.csv"', '"data.csv"', '"link.csv"', '"gaussian"', '"nutpie"', '"pymc"',
        "99999999999999999999", "9223372036854775807", "1.5", '"auto"', '"template.toml"',
        '"../outside"', '"/tmp"', '"out"', '"weakly_informative"', '"sleepstudy"', "0.95",
        '"normal(0, 1)"', '"y ~ x + "', "2000-01-01", '"\\n"', f'"{"a" * 300}.csv"',
        '"passwd.csv"', '"loop.csv"', '"~nosuchuser/x.csv"',
    ]))


SECTIONS = {
    "data": ["path", "dataset", "filter", "dataset_args", "derive", "types", "bogus"],
    "model": ["formula", "family", "link", "dropna", "center_predictors", "parametrization",
              "compress", "weights", "aux", "bogus"],
    "priors": ["template", "template_table", "override", "bogus"],
    "sampler": ["draws", "tune", "chains", "seed", "cores", "backend", "target_accept"],
    "compare": ["variants", "group", "effect", "logo", "logo_max_groups", "logo_folds"],
    "output": ["dir"],
    "bogus_section": ["x"],
}


PLAUSIBLE = {  # section -> key -> values that are mostly valid (so specs load and get checked)
    "model": {"family": ['"gaussian"', '"student_t"', '"Gaussian"'], "dropna": ["true", "false"],
              "compress": ["true", "false", '"auto"'], "weights": ['"w"', '"x"'],
              "parametrization": ['"centered"', '{ g = "noncentered" }', '"auto"'],
              "link": ['"identity"', '"log"'], "center_predictors": ["false"]},
    "priors": {"template": ['"wide"', '"template.toml"', '"../template.toml"'],
               "override": ['[{ prior = "normal(0, 1)", class = "b" }]',
                            '[{ prior = "exponential(1)", class = "sd", group = "g" }]']},
    "sampler": {"draws": ["10", "1", "99999999999"], "chains": ["1", "4"], "seed": ["0", "7"],
                "backend": ['"pymc"', '"auto"'], "target_accept": ["0.95", "0.5"],
                "tune": ["0", "5"]},
    "output": {"dir": ['"out"', '"../outside"', '"a/b/c"', '"."']},
    "data": {"filter": ['"x > 0"', '"g == \'a\'"', '"x > "'],
             "derive": ['{ lx = "log(t)" }', '{ bad = "log(" }'],
             "types": ['{ g = "category" }', '{ x = "nonsense" }']},
}


@st.composite
def spec_text(draw: Any) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(f"description = {_toml_value(draw)}")
    good = draw(st.booleans())
    if good:  # a valid core plus mostly plausible keys: exercises Spec.check and the builder
        lines += ['[data]', 'path = "data.csv"']
        for key in draw(st.lists(st.sampled_from(list(PLAUSIBLE["data"])), max_size=1)):
            lines.append(f"{key} = {draw(st.sampled_from(PLAUSIBLE['data'][key]))}")
        lines += ['[model]', 'formula = ' + draw(st.sampled_from(
            ['"y ~ x + (1|g)"', '"y ~ x + (x||g) + (1|h)"', '"y ~ poly(x, 2) + (1|g:h)"',
             '"count ~ x + (1|g)"', '"y ~ nothere + (1|g)"']))]
        for section, keys in PLAUSIBLE.items():
            if section == "data":
                continue
            if section != "model":
                if not draw(st.booleans()):
                    continue
                lines.append(f"[{section}]")
            for key in draw(st.lists(st.sampled_from(list(keys)), max_size=2, unique=True)):
                lines.append(f"{key} = {draw(st.sampled_from(keys[key]))}")
        return "\n".join(lines) + "\n"
    for section, keys in SECTIONS.items():
        if not draw(st.integers(0, 3)):
            continue  # missing section
        lines.append(f"[{section}]")
        for key in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
            lines.append(f"{key} = {_toml_value(draw)}")
    text = "\n".join(lines) + "\n"
    if draw(st.integers(0, 9)) == 0:  # byte-level garbage
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.text(max_size=5)) + text[i:]
    return text


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a data file, a template, a symlink to the data and one to /etc/passwd."""
    root = tmp_path_factory.mktemp("fuzzspec")
    FRAME.to_csv(root / "data.csv", index=False)
    (root / "template.toml").write_text('[template]\nname = "t"\n[priors.b]\ndist = "Normal"\n'
                                        'mu = 0\nsigma = 1\n')
    (root / "link.csv").symlink_to(root / "data.csv")
    (root / "passwd.csv").symlink_to("/etc/passwd")
    (root / "loop.csv").symlink_to(root / "loop.csv")
    return root


def _load(root: Path, text: str) -> Any:
    from hiermodel.spec import load_spec

    file = root / "spec.toml"
    file.write_text(text, encoding="utf-8", errors="surrogatepass")
    return outcome(load_spec, file)


@_settings(DEFAULT["spec"])
@given(spec_text())
def test_random_spec_files(spec_dir: Path, text: str) -> None:
    spec = _load(spec_dir, text)
    if not isinstance(spec, HiermodelError):
        outcome(spec.check)
        # every path the spec names resolves against its folder (or is absolute/~ as given)
        if spec.data.path is not None and not Path(spec.data.path_text).is_absolute() \
                and not spec.data.path_text.startswith("~"):
            assert spec.data.path == (spec_dir / spec.data.path_text).resolve()
        if spec.output is not None and not Path(spec.output.dir_text).is_absolute() \
                and not spec.output.dir_text.startswith("~"):
            assert spec.output.dir == (spec_dir / spec.output.dir_text).resolve()


@_settings(DEFAULT["check"])
@given(text=spec_text())
def test_random_specs_through_cli_check(spec_dir: Path, text: str, capsys: Any) -> None:
    from hiermodel.cli import main

    file = spec_dir / "spec_cli.toml"
    file.write_text(text, encoding="utf-8", errors="surrogatepass")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        code = main(["check", str(file)])
    err = capsys.readouterr().err
    event(f"check: exit {code}")
    assert code in (0, 1), f"exit {code} (internal error?) for\n{text}\n{err}"
    assert "Traceback" not in err


# -- the slow tier: the same properties, ten times the cases -----------------------------------
@pytest.mark.slow
@_settings(SLOW["translate"])
@given(formula())
def test_random_formulas_translate_many(text: str) -> None:
    _check_translate(text)


@pytest.mark.slow
@_settings(SLOW["model"])
@given(formula(), st.sampled_from(["gaussian"] * 5 + FAMILIES))
def test_random_formulas_build_many(text: str, family: str) -> None:
    _check_model(text, family)


@pytest.mark.slow
@_settings(SLOW["frame"])
@given(hostile_frame(), st.sampled_from(FRAME_FORMULAS), st.sampled_from(FAMILIES[:5]))
def test_random_frames_many(data: pd.DataFrame, text: str, family: str) -> None:
    test_random_frames.hypothesis.inner_test(data, text, family)  # type: ignore[attr-defined]


@pytest.mark.slow
@_settings(SLOW["spec"])
@given(spec_text())
def test_random_spec_files_many(spec_dir: Path, text: str) -> None:
    test_random_spec_files.hypothesis.inner_test(spec_dir, text)  # type: ignore[attr-defined]



# -- regressions: the bugs these properties found (each was an uncaught exception) -------------
def test_duplicate_column_names_used_by_the_model_are_a_data_error() -> None:
    data = pd.concat([FRAME, FRAME[["y"]]], axis=1)
    with pytest.raises(hm.DataError, match="more than one column named 'y'"):
        hm.default_priors("y ~ x + (1|g)", data)


@pytest.mark.parametrize("value", ["only", pd.Timestamp("2020-01-01"), True])
def test_cbind_of_non_numeric_columns_is_a_data_error(value: Any) -> None:
    data = FRAME.assign(s=value)
    with pytest.raises(hm.DataError, match=r"cbind\(\): 's' must be numeric"):
        hm.default_priors("cbind(s, f) ~ x + (1|g)", data, family="binomial")


@pytest.mark.parametrize("bad", ["é\\u0000.csv", "a" * 300 + ".csv"])
def test_unusable_data_paths_in_a_spec_are_spec_errors(tmp_path: Path, bad: str) -> None:
    from hiermodel.spec import load_spec

    file = tmp_path / "s.toml"
    file.write_text(f'[data]\npath = "{bad}"\n[model]\nformula = "y ~ x"\n')
    with pytest.raises(hm.SpecError, match="not a usable path"):
        load_spec(file)
