"""The :class:`Prior` value type, the distributions it may name, and parsing of prior strings.

A :class:`Prior` is fully numeric and uses PyMC's names (``Normal(mu=2.3, sigma=1.1)``); the
build stage turns it into a PyMC random variable. Prior strings are accepted in PyMC spelling
(``Normal(mu=0, sigma=5)``, ``HalfCauchy(beta=1)``) and in brms/Stan spelling with positional
arguments (``normal(0, 5)``, ``student_t(3, 0, 2.5)``, ``half_cauchy(1)``, ``lkj(2)``).

This module also knows which parameter *classes* exist (``Intercept``, ``b``, ``sd``, ``cor``,
``sigma``, ``nu``, ``alpha``, ``phi``) and which distributions each class may use.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hiermodel.errors import PriorError, did_you_mean
from hiermodel.priors.expr import Expr


@dataclass(frozen=True)
class DistSpec:
    """What hiermodel knows about one distribution (PyMC name, parameters, support)."""

    name: str
    params: tuple[str, ...]  # PyMC names, canonical = positional order (also brms/Stan order)
    positive: frozenset[str]  # parameters that must be > 0
    support: str  # "real", "positive", "unit" (Beta), "interval" (Uniform) or "corr" (LKJ)
    aliases: tuple[str, ...] = ()  # extra spellings (matched case- and underscore-insensitively)

    def signature(self) -> str:
        return f"{self.name}({', '.join(self.params)})"


_SPECS = (
    DistSpec("Normal", ("mu", "sigma"), frozenset({"sigma"}), "real"),
    DistSpec("StudentT", ("nu", "mu", "sigma"), frozenset({"nu", "sigma"}), "real", ("student",)),
    DistSpec("Cauchy", ("alpha", "beta"), frozenset({"beta"}), "real"),
    DistSpec("Laplace", ("mu", "b"), frozenset({"b"}), "real", ("double_exponential",)),
    DistSpec("Flat", (), frozenset(), "real"),
    DistSpec("HalfNormal", ("sigma",), frozenset({"sigma"}), "positive"),
    DistSpec("HalfCauchy", ("beta",), frozenset({"beta"}), "positive"),
    DistSpec("HalfStudentT", ("nu", "sigma"), frozenset({"nu", "sigma"}), "positive",
             ("half_student",)),
    DistSpec("Exponential", ("lam",), frozenset({"lam"}), "positive"),
    DistSpec("Gamma", ("alpha", "beta"), frozenset({"alpha", "beta"}), "positive"),
    DistSpec("InverseGamma", ("alpha", "beta"), frozenset({"alpha", "beta"}), "positive",
             ("inv_gamma",)),
    DistSpec("LogNormal", ("mu", "sigma"), frozenset({"sigma"}), "positive"),
    DistSpec("HalfFlat", (), frozenset(), "positive"),
    DistSpec("Beta", ("alpha", "beta"), frozenset({"alpha", "beta"}), "unit"),
    DistSpec("Uniform", ("lower", "upper"), frozenset(), "interval"),
    DistSpec("LKJ", ("eta",), frozenset({"eta"}), "corr", ("lkj_corr", "lkj_corr_cholesky")),
)

DISTRIBUTIONS: dict[str, DistSpec] = {s.name: s for s in _SPECS}


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "").replace("-", "")


_LOOKUP: dict[str, str] = {}
for _spec in _SPECS:
    for _alias in (_spec.name, *_spec.aliases):
        _LOOKUP[_key(_alias)] = _spec.name

_SPELLINGS = ("lower-case brms/Stan spellings such as normal, student_t, half_cauchy, "
              "exponential, lkj also work")


def dist_spec(name: str, where: str = "") -> DistSpec:
    """The :class:`DistSpec` for any accepted spelling of a distribution name."""
    canonical = _LOOKUP.get(_key(name))
    if canonical is None:
        hints = []
        for match in _close(_key(name), _LOOKUP):
            if _LOOKUP[match] not in hints:
                hints.append(_LOOKUP[match])
        hint = f"; did you mean {' or '.join(repr(h) for h in hints)}?" if hints else ";"
        raise PriorError(
            f"{_pre(where)}unknown distribution '{name}'{hint} valid: "
            f"{', '.join(DISTRIBUTIONS)} ({_SPELLINGS})"
        )
    return DISTRIBUTIONS[canonical]


def _close(name: str, choices: Iterable[str]) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)


def _pre(where: str) -> str:
    return f"{where}: " if where else ""


def fmt_number(value: float, digits: int = 4) -> str:
    """A number for display: ``2.3``, ``1``, ``48.95``, ``0.01779``, ``19582``."""
    if not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.{digits}g}"
    if "e" in text and 1e-4 <= abs(value) < 1e15:
        decimals = max(digits - math.floor(math.log10(abs(value))) - 1, 0)
        text = f"{value:.{decimals}f}"
    return text


@dataclass(frozen=True)
class Prior:
    """A fully numeric prior distribution with PyMC names.

    >>> str(Prior("Normal", (("mu", 2.3), ("sigma", 1.1))))
    'Normal(mu=2.3, sigma=1.1)'

    Parameters are stored in the distribution's canonical order (the order of
    :attr:`DistSpec.params`) so equal priors compare equal however they were written.
    """

    dist: str
    params: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        params = tuple((str(k), float(v)) for k, v in self.params)
        spec = DISTRIBUTIONS.get(self.dist)
        if spec is not None and {k for k, _ in params} <= set(spec.params):
            order = {p: i for i, p in enumerate(spec.params)}
            params = tuple(sorted(params, key=lambda kv: order[kv[0]]))
        object.__setattr__(self, "params", params)

    @property
    def kwargs(self) -> dict[str, float]:
        """The parameters as keyword arguments for the PyMC distribution."""
        return dict(self.params)

    @property
    def support(self) -> str | None:
        """``"real"``, ``"positive"``, ``"interval"``, ``"corr"``, or None if unknown."""
        spec = DISTRIBUTIONS.get(self.dist)
        return spec.support if spec else None

    def format(self, digits: int = 4) -> str:
        """Text with ``digits`` significant digits per parameter."""
        inner = ", ".join(f"{k}={fmt_number(v, digits)}" for k, v in self.params)
        return f"{self.dist}({inner})"

    def __str__(self) -> str:
        return self.format()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form: ``{"dist": "Normal", "params": {"mu": 0.0, "sigma": 1.0}}``."""
        return {"dist": self.dist, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prior:
        return cls(str(data["dist"]), tuple(dict(data.get("params", {})).items()))


def make_prior(dist: str | DistSpec, values: Mapping[str, float], where: str = "") -> Prior:
    """A validated :class:`Prior`: known distribution, exactly its parameters, valid values."""
    spec = dist if isinstance(dist, DistSpec) else dist_spec(dist, where)
    unknown = [k for k in values if k not in spec.params]
    if unknown:
        raise PriorError(f"{_pre(where)}{_bad_param(unknown[0], spec)}")
    missing = [p for p in spec.params if p not in values]
    if missing:
        raise PriorError(f"{_pre(where)}{_missing(missing, spec)}")
    out: list[tuple[str, float]] = []
    for p in spec.params:
        v = float(values[p])
        if not math.isfinite(v):
            raise PriorError(f"{_pre(where)}{spec.name} {p} must be a finite number, got {v}")
        if p in spec.positive and v <= 0:
            raise PriorError(
                f"{_pre(where)}{spec.name} {p} must be > 0, got {fmt_number(v, 6)}"
            )
        out.append((p, v))
    if spec.name == "Uniform" and not values["lower"] < values["upper"]:
        raise PriorError(
            f"{_pre(where)}Uniform needs lower < upper, got lower={fmt_number(values['lower'], 6)}"
            f", upper={fmt_number(values['upper'], 6)}"
        )
    return Prior(spec.name, tuple(out))


def _bad_param(name: str, spec: DistSpec) -> str:
    hint = did_you_mean(name, spec.params) or ";"
    valid = ", ".join(spec.params) or "none"
    return f"unknown parameter '{name}' for {spec.name}{hint} valid: {valid}"


def _missing(missing: list[str], spec: DistSpec) -> str:
    names = ", ".join(f"'{m}'" for m in missing)
    return f"{spec.name} needs parameters ({', '.join(spec.params)}); missing {names}"


def parse_prior_call(text: str, where: str = "") -> tuple[DistSpec, tuple[tuple[str, Expr], ...]]:
    """Parse ``"normal(0, 2.5 * sd_y)"`` into the distribution and one expression per parameter.

    Positional arguments follow the canonical order (which is also brms/Stan's order); keyword
    arguments use PyMC names. Expressions are whitelist-checked but not evaluated.
    """
    if not isinstance(text, str):
        raise PriorError(f"{_pre(where)}a prior must be a string like 'Normal(0, 1)', "
                         f"got {type(text).__name__} {text!r}")
    src = text.strip()
    label = f"{_pre(where)}prior '{src}'"
    example = "write it like Normal(0, 1), normal(mu=0, sigma=1) or student_t(3, 0, 2.5)"
    if not src:
        raise PriorError(f"{_pre(where)}empty prior; {example}")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as exc:
        raise PriorError(f"{label}: cannot parse ({exc.msg}); {example}") from None
    body = tree.body
    if isinstance(body, ast.Name):  # "flat", "HalfFlat"
        spec = dist_spec(body.id, label)
        if spec.params:
            raise PriorError(f"{label}: {_missing(list(spec.params), spec)}")
        return spec, ()
    if not isinstance(body, ast.Call) or not isinstance(body.func, ast.Name):
        raise PriorError(f"{label}: not a distribution call; {example}")
    spec = dist_spec(body.func.id, label)
    if len(body.args) > len(spec.params):
        n = len(spec.params)
        raise PriorError(
            f"{label}: {spec.name} takes {n} parameter{'s' if n != 1 else ''} "
            f"({', '.join(spec.params)}), got {len(body.args)}"
        )
    exprs: dict[str, Expr] = {}
    for name, node in zip(spec.params, body.args, strict=False):
        if isinstance(node, ast.Starred):
            raise PriorError(f"{label}: '*' unpacking is not allowed")
        exprs[name] = Expr.from_node(node, src, label)
    for kw in body.keywords:
        if kw.arg is None:
            raise PriorError(f"{label}: '**' unpacking is not allowed")
        if kw.arg not in spec.params:
            raise PriorError(f"{label}: {_bad_param(kw.arg, spec)}")
        if kw.arg in exprs:
            raise PriorError(f"{label}: parameter '{kw.arg}' is given twice")
        exprs[kw.arg] = Expr.from_node(kw.value, src, label)
    missing = [p for p in spec.params if p not in exprs]
    if missing:
        raise PriorError(f"{label}: {_missing(missing, spec)}")
    return spec, tuple((p, exprs[p]) for p in spec.params)


def parse_prior(text: str | Prior) -> Prior:
    """Parse a prior string in PyMC or brms/Stan spelling into a numeric :class:`Prior`.

    >>> parse_prior("student_t(3, 0, 2.5)")
    Prior(dist='StudentT', params=(('nu', 3.0), ('mu', 0.0), ('sigma', 2.5)))
    >>> str(parse_prior("half_cauchy(1)"))
    'HalfCauchy(beta=1)'

    Arguments may be arithmetic on numbers (``Exponential(1 / 56.2)``), but not names:
    data-scaled priors belong in a template.
    """
    if isinstance(text, Prior):
        return text
    spec, exprs = parse_prior_call(text)
    label = f"prior '{text.strip()}'"
    values: dict[str, float] = {}
    for p, expr in exprs:
        if expr.names:
            raise PriorError(
                f"{label}: parameters must be numbers, got '{expr.text}' for {p}; data-scaled "
                f"expressions such as '2.5 * sd_y' belong in a prior template"
            )
        values[p] = expr.evaluate({}, label)
    return make_prior(spec, values, label)


# --- parameter classes ------------------------------------------------------------------------

CLASSES: tuple[str, ...] = ("Intercept", "b", "sd", "cor", "sigma", "nu", "alpha", "phi",
                            "zi", "hu")

CLASS_ALIASES: dict[str, str] = {"shape": "alpha", "kappa": "phi", "L": "cor"}

CLASS_DESCRIPTIONS: dict[str, str] = {
    "Intercept": "the intercept",
    "b": "a population-level coefficient",
    "sd": "a group-level standard deviation",
    "cor": "the correlation matrix of a group-level block",
    "sigma": "the residual standard deviation",
    "nu": "the Student-t degrees of freedom",
    "alpha": "the negative-binomial/gamma shape",
    "phi": "the beta precision",
    "zi": "the zero-inflation probability",
    "hu": "the hurdle (zero) probability",
}

CLASS_SUPPORT: dict[str, str] = {
    "Intercept": "real", "b": "real", "cor": "corr",
    "sd": "positive", "sigma": "positive", "nu": "positive", "alpha": "positive",
    "phi": "positive", "zi": "unit", "hu": "unit",
}

_REAL = [s.name for s in _SPECS if s.support == "real"]
_POSITIVE = [s.name for s in _SPECS if s.support == "positive"]


def canonical_class(cls: str, where: str = "") -> str:
    """``cls`` itself if it is a class, brms's name for it (``shape`` -> ``alpha``), or raise."""
    if cls in CLASS_SUPPORT:
        return cls
    if cls in CLASS_ALIASES:
        return CLASS_ALIASES[cls]
    for c in CLASSES:
        if c.lower() == str(cls).lower():
            return c
    hint = did_you_mean(str(cls), CLASSES) or ";"
    raise PriorError(
        f"{_pre(where)}unknown parameter class '{cls}'{hint} valid: {', '.join(CLASSES)} "
        f"(brms name shape and kappa also work)"
    )


def support_ok(prior: Prior, cls: str) -> bool:
    """Whether ``prior``'s support fits class ``cls`` (unknown distributions pass)."""
    need = CLASS_SUPPORT[cls]
    have = prior.support
    if have is None:
        return True
    if have == "interval":
        lower, upper = prior.kwargs.get("lower", -1.0), prior.kwargs.get("upper", 2.0)
        return (need == "real" or (need == "positive" and lower >= 0)
                or (need == "unit" and lower >= 0 and upper <= 1))
    return have == need


def dist_support_ok(dist: str, cls: str) -> bool:
    """Like :func:`support_ok` when only the distribution is known (Uniform passes)."""
    spec = DISTRIBUTIONS[dist]
    need = CLASS_SUPPORT[cls]
    if spec.support == "interval":
        return need in ("real", "positive", "unit")
    return spec.support == need


def _suggest(dist: str, params: Mapping[str, str], cls: str) -> str | None:
    """A replacement with the right support, parameters as text, or None."""
    need = CLASS_SUPPORT[cls]
    p = params
    if need == "corr":
        return "LKJ(eta=2)"
    if need == "unit":
        return "Beta(alpha=1, beta=1)"
    if need == "positive":
        halves: dict[str, tuple[str, tuple[str, ...]]] = {
            "Normal": ("HalfNormal", ("sigma",)),
            "Cauchy": ("HalfCauchy", ("beta",)),
            "StudentT": ("HalfStudentT", ("nu", "sigma")),
            "Flat": ("HalfFlat", ()),
        }
        if dist in halves:
            new, keep = halves[dist]
            args = ", ".join(f"{k}={p.get(k, '1')}" for k in keep)
            return f"{new}({args})"
        if dist == "Uniform":
            return f"Uniform(lower=0, upper={p.get('upper', '1')})"
        return None
    wholes: dict[str, str] = {
        "HalfNormal": "Normal(mu=0, sigma={sigma})",
        "HalfCauchy": "Cauchy(alpha=0, beta={beta})",
        "HalfStudentT": "StudentT(nu={nu}, mu=0, sigma={sigma})",
        "HalfFlat": "Flat()",
    }
    if dist in wholes:
        return wholes[dist].format(**{k: p.get(k, "1") for k in ("sigma", "beta", "nu")})
    return None


def support_error(dist: str, params: Mapping[str, str], cls: str, where: str) -> PriorError:
    """The error for a distribution whose support does not fit class ``cls``."""
    inner = ", ".join(f"{k}={v}" for k, v in params.items())
    shown = f"{dist}({inner})"
    need = CLASS_SUPPORT[cls]
    desc = CLASS_DESCRIPTIONS[cls]
    suggestion = _suggest(dist, params, cls)
    if need == "corr":
        return PriorError(
            f"{_pre(where)}{shown} cannot be used for class 'cor' ({desc}); use {suggestion} "
            f"instead (LKJ is the only prior for correlations)"
        )
    if need == "positive":
        why = "which must be positive"
        others = ("another positive distribution: " + ", ".join(_POSITIVE)
                  + ", Uniform with lower >= 0")
    elif need == "unit":
        why = "a probability between 0 and 1"
        others = "Uniform(lower=0, upper=1)"
    else:
        why = "which can be any real number"
        others = "another real-line distribution: " + ", ".join(_REAL) + " (or a bounded Uniform)"
    use = f"use {suggestion} instead, or {others}" if suggestion else f"use {others}"
    return PriorError(f"{_pre(where)}{shown} cannot be used for class '{cls}' ({desc}, {why}); "
                      f"{use}")


def check_support(prior: Prior, cls: str, where: str = "") -> None:
    """Raise :class:`PriorError` when ``prior`` cannot be the prior of class ``cls``."""
    if not support_ok(prior, cls):
        params = {k: fmt_number(v) for k, v in prior.params}
        raise support_error(prior.dist, params, cls, where)


__all__ = [
    "CLASSES",
    "CLASS_ALIASES",
    "CLASS_DESCRIPTIONS",
    "CLASS_SUPPORT",
    "DISTRIBUTIONS",
    "DistSpec",
    "Prior",
    "canonical_class",
    "check_support",
    "dist_spec",
    "dist_support_ok",
    "fmt_number",
    "make_prior",
    "parse_prior",
    "parse_prior_call",
    "support_error",
    "support_ok",
]
