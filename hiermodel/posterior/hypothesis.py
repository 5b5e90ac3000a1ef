"""brms's ``hypothesis()``: posterior tests of expressions of the parameters.

``fit.hypothesis("Days > 5")``, ``"SexMale = 0"``, ``"a - b > 0"`` or a list of them. Each
hypothesis ``lhs REL rhs`` (``REL`` one of ``<``, ``>``, ``=``; ``<=``, ``>=``, ``==`` are
read as those) is evaluated per posterior draw as ``h = lhs - rhs`` and tested against 0:

- ``Estimate`` / ``Est.Error``: mean / sd of ``h``; ``CI.Lower`` / ``CI.Upper``: equal-tailed
  quantiles at ``alpha/2, 1 - alpha/2`` for a point hypothesis and at ``alpha, 1 - alpha``
  for a one-sided one (brms: a 90 % interval for one-sided tests at ``alpha = 0.05``);
- one-sided: ``Post.Prob`` = share of draws satisfying the hypothesis, ``Evid.Ratio`` =
  ``p / (1 - p)`` (infinite when every draw satisfies it); ``Star`` when
  ``Post.Prob > 1 - alpha``;
- point (``=``): ``Evid.Ratio`` is the Savage-Dickey density ratio, the posterior density of
  ``h`` at 0 over its prior density at 0 (the Bayes factor of the point hypothesis against
  the model, Wagenmakers et al. 2010), and ``Post.Prob = ER / (1 + ER)`` (equal prior odds,
  as brms); ``Star`` when 0 is outside the interval. The posterior density is a Gaussian KDE
  of the draws (Scott's rule; brms uses logspline). The prior density is analytic when ``h``
  is an affine function of one population-level coefficient (Normal, Student-t, Cauchy and
  Laplace priors); otherwise a KDE of ``h`` evaluated on ``prior_draws`` joint draws of the
  prior (a forward simulation of the model's PyMC graph). With an improper (flat) prior among
  the parameters, or without the model's graph, ``Evid.Ratio`` and ``Post.Prob`` are NaN and
  the reason is in ``frame.attrs["notes"]`` (and a warning).

Names (see :func:`parameter_names`; quote any other spelling in backticks):
population-level coefficients by their fixef name (``Days``, ``SexMale``, ``Days:SexMale``,
``Intercept`` or ``(Intercept)``) or brms's ``b_Days``; group-level SDs
``sd_<group>__<term>`` (``sd_Subject__Intercept``, ``sd_Subject__Days``); correlations
``cor_<group>__<term1>__<term2>``; group-level deviations ``r_<group>[<level>,<term>]``
(``r_Subject[308,Days]``); the formula of an auxiliary parameter by its fixef names
(``sigma_Days``, ``sigma_(Intercept)``; brms: ``b_sigma_Days``, ``b_sigma_Intercept``);
every other scalar in ``fit.idata.posterior`` by its name (``sigma``, ``Intercept_c``,
``nu``, ...). Expressions use names, numbers, ``+ - * /`` and
parentheses only; they are parsed by a small recursive-descent parser, never evaluated as
Python.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.errors import HypothesisError, PriorError, did_you_mean
from hiermodel.naming import safe

if TYPE_CHECKING:
    from hiermodel.posterior.fitted import Fit

RELATIONS = {"<": "<", ">": ">", "=": "=", "<=": "<", ">=": ">", "==": "="}
COLUMNS = ["Hypothesis", "Estimate", "Est.Error", "CI.Lower", "CI.Upper", "Evid.Ratio",
           "Post.Prob", "Star"]
IMPROPER = ("Flat", "HalfFlat")
PRIOR_DRAWS = 4000

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>`[^`]+`|(?:[A-Za-z_.][A-Za-z0-9_.]*)?\(Intercept\)
             |[A-Za-z_.][A-Za-z0-9_.:]*(?:\[[^\]]*\])?)
  | (?P<op><=|>=|==|[-+*/()<>=])
""", re.VERBOSE)


# -- expressions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Node:
    """A node of a parsed expression: ``num`` (value), ``name`` (text), ``neg`` (args[0]) or
    a binary operator ``+ - * /`` (args[0], args[1])."""

    op: str
    args: tuple[Node, ...] = ()
    value: float = 0.0
    text: str = ""


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) of every token: number, name or op."""
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise HypothesisError(f"hypothesis: unexpected character {text[pos]!r}\n  {text}"
                                  f"\n  {' ' * pos}^")
        if m.lastgroup != "space":
            tokens.append((str(m.lastgroup), m.group(), pos))
        pos = m.end()
    return tokens


class _Parser:
    """Recursive descent over ``tokens``: expr := term (+|- term)*, term := unary (*|/
    unary)*, unary := (+|-) unary | number | name | ( expr )."""

    def __init__(self, text: str, tokens: list[tuple[str, str, int]]) -> None:
        self.text = text
        self.tokens = tokens
        self.i = 0

    def where(self, message: str, pos: int) -> str:
        return f"hypothesis: {message}\n  {self.text}\n  {' ' * pos}^"

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.text))

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        self.i += 1
        return tok

    def expr(self) -> Node:
        node = self.term()
        while self.peek()[1] in ("+", "-"):
            op = self.take()[1]
            node = Node(op, (node, self.term()))
        return node

    def term(self) -> Node:
        node = self.unary()
        while self.peek()[1] in ("*", "/"):
            op = self.take()[1]
            node = Node(op, (node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.peek()[1] in ("+", "-"):
            sign = self.take()[1]
            inner = self.unary()
            return Node("neg", (inner,)) if sign == "-" else inner
        kind, text, pos = self.take()
        if kind == "number":
            return Node("num", value=float(text))
        if kind == "name":
            return Node("name", text=text[1:-1] if text.startswith("`") else text)
        if text == "(":
            node = self.expr()
            if self.take()[1] != ")":
                raise HypothesisError(self.where("missing ')'", self.peek()[2]))
            return node
        what = "end of the hypothesis" if kind == "end" else repr(text)
        raise HypothesisError(self.where(f"expected a name, a number or '(' (got {what})",
                                          pos))


@dataclass(frozen=True)
class Hypothesis:
    """A parsed hypothesis ``lhs rel rhs``, tested as ``lhs - rhs rel 0``."""

    text: str
    lhs: Node
    rhs: Node
    relation: str
    label: str  # brms's display: "(Days)-(5) > 0"

    @property
    def expression(self) -> Node:
        return Node("-", (self.lhs, self.rhs))


def parse_hypothesis(text: str) -> Hypothesis:
    """Parse ``text`` (one relation between two expressions)."""
    if not isinstance(text, str):
        raise HypothesisError(f"a hypothesis must be text such as 'Days > 0' (got "
                              f"{type(text).__name__})")
    tokens = tokenize(text)
    rel_at = [i for i, t in enumerate(tokens) if t[1] in RELATIONS]
    if len(rel_at) != 1:
        what = "no relation" if not rel_at else "more than one relation"
        raise HypothesisError(f"hypothesis: {what} in {text!r}; write one of '<', '>', '=' "
                              "between two expressions, e.g. 'Days > 5' or 'a - b = 0'")
    k = rel_at[0]
    pos = tokens[k][2]
    sides = []
    for part in (tokens[:k], tokens[k + 1:]):
        parser = _Parser(text, part)
        node = parser.expr()
        if parser.i != len(part):
            extra = parser.peek()
            raise HypothesisError(parser.where(f"unexpected {extra[1]!r}", extra[2]))
        sides.append(node)
    relation = RELATIONS[tokens[k][1]]
    left = text[:pos].strip()
    right = text[pos + len(tokens[k][1]):].strip()
    label = f"({left}) {relation} 0" if _is_zero(sides[1]) else f"({left})-({right}) {relation} 0"
    return Hypothesis(text, sides[0], sides[1], relation, label)


def _is_zero(node: Node) -> bool:
    return node.op == "num" and node.value == 0.0


def names_in(node: Node) -> list[str]:
    """The parameter names of an expression, in order of appearance."""
    if node.op == "name":
        return [node.text]
    out: list[str] = []
    for a in node.args:
        out.extend(n for n in names_in(a) if n not in out)
    return out


def evaluate(node: Node, values: Callable[[str], Any]) -> Any:
    """The expression with each name replaced by ``values(name)`` (arrays broadcast)."""
    if node.op == "num":
        return node.value
    if node.op == "name":
        return values(node.text)
    if node.op == "neg":
        return -evaluate(node.args[0], values)
    a, b = (evaluate(x, values) for x in node.args)
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "*":
        return a * b
    with np.errstate(divide="ignore", invalid="ignore"):
        return a / b


# -- parameters -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Parameter:
    """Where a hypothesis name lives: posterior variable, index into its non-draw dims, and
    the prior slots (class, term, group) it depends on."""

    variable: str
    index: tuple[int, ...]
    slots: tuple[tuple[str, str, str], ...]
    coefficient: str = ""  # the term of a population-level coefficient of the main formula


def _scalar(name: str) -> dict[str, Parameter]:
    """Names of a scalar posterior variable: itself, and lme4 / brms spellings of an
    intercept (``(Intercept)``; ``sigma_(Intercept)``, ``sigma_Intercept``,
    ``b_sigma_Intercept`` for ``Intercept_sigma``)."""
    if name in ("Intercept", "Intercept_c"):
        p = Parameter(name, (), (("Intercept", "", ""),))
        return {name: p, "(Intercept)": p} if name == "Intercept" else {name: p}
    if name.startswith("Intercept_"):
        comp = name[len("Intercept_"):]
        p = Parameter(name, (), (("Intercept", f"{comp}_(Intercept)", ""),))
        return {name: p, f"{comp}_(Intercept)": p, f"{comp}_Intercept": p,
                f"b_{comp}_Intercept": p}
    return {name: Parameter(name, (), ((name, "", ""),))}


def parameter_names(fit: Fit) -> dict[str, Parameter]:
    """Every name a hypothesis may use (see the module docstring)."""
    post = fit.idata.posterior
    model = getattr(fit, "model", None)
    groups = {safe(g): g for g in (model.info.group_terms if model is not None else {})}
    out: dict[str, Parameter] = {}
    for var in post.data_vars:
        da = post[var]
        dims = [d for d in da.dims if d not in ("chain", "draw")]
        name = str(var)
        if not dims:
            out.update(_scalar(name))
            continue
        labels = [[str(v) for v in da[d].values] for d in dims]
        if (name == "b" or name.startswith("b_")) and dims[0].startswith("coef"):
            for j, lab in enumerate(labels[0]):  # b: Days; b_sigma: sigma_Days
                p = Parameter(name, (j,), (("b", lab, ""),), coefficient=lab)
                out.setdefault(lab, p)
                out[f"b_{lab}"] = p
        elif len(dims) == 1:
            prefix = name.split("_", 1)
            group = groups.get(prefix[1], "") if len(prefix) == 2 else ""
            for j, lab in enumerate(labels[0]):
                if prefix[0] == "sd" and group:
                    slots: tuple[tuple[str, str, str], ...] = (("sd", lab, group),)
                elif prefix[0] == "cor" and group:
                    slots = (("cor", "", group),)
                else:
                    slots = (("unknown", name, ""),)
                out[f"{name}__{lab}"] = Parameter(name, (j,), slots)
        elif len(dims) == 2 and name.startswith("r_"):
            group = groups.get(name[2:], "")
            terms = labels[1]
            slots = tuple(("sd", t, group) for t in terms) + (
                (("cor", "", group),) if f"cor_{name[2:]}" in post else ())
            for i, level in enumerate(labels[0]):
                for j, t in enumerate(terms):
                    out[f"{name}[{level},{t}]"] = Parameter(name, (i, j), slots)
    return out


def _lookup(names: dict[str, Parameter], name: str) -> Parameter:
    if name in names:
        return names[name]
    compact = name.replace(" ", "")
    if compact in names:
        return names[compact]
    raise HypothesisError(f"hypothesis: '{name}' is not a parameter of this fit"
                          f"{did_you_mean(name, names)}; names: "
                          f"{', '.join(list(names)[:12])}{', ...' if len(names) > 12 else ''}")


def _draws(fit: Fit, p: Parameter) -> np.ndarray:
    d = np.asarray(fit.idata.posterior[p.variable].values)
    d = d.reshape(d.shape[0] * d.shape[1], *d.shape[2:])
    return pick(d, p.index)


def pick(draws: np.ndarray, index: tuple[int, ...]) -> np.ndarray:
    """Element ``index`` of every draw of ``draws`` (draws, *shape), as floats."""
    key: tuple[Any, ...] = (slice(None), *index)
    return np.asarray(draws[key], dtype=float)


def _constant(x: float) -> Callable[[str], float]:
    def value(name: str) -> float:
        return x
    return value


def _posterior_values(fit: Fit, params: dict[str, Parameter]) -> Callable[[str], np.ndarray]:
    def value(name: str) -> np.ndarray:
        return _draws(fit, params[name])
    return value


# -- prior densities ------------------------------------------------------------------------
def _prior(fit: Fit, slot: tuple[str, str, str]) -> Any:
    table = getattr(getattr(fit, "model", None), "prior_table", None)
    if table is None or slot[0] == "unknown":
        return None
    try:
        return table.get(*slot)
    except PriorError:
        return None


def analytic_density(prior: Any, x: float) -> float | None:
    """The prior density at ``x`` for the distributions with a closed form, else None."""
    from scipy import stats

    k = prior.kwargs
    if prior.dist == "Normal":
        return float(stats.norm.pdf(x, k["mu"], k["sigma"]))
    if prior.dist == "StudentT":
        return float(stats.t.pdf(x, k["nu"], k["mu"], k["sigma"]))
    if prior.dist == "Cauchy":
        return float(stats.cauchy.pdf(x, k["alpha"], k["beta"]))
    if prior.dist == "Laplace":
        return float(stats.laplace.pdf(x, k["mu"], k["b"]))
    return None


def kde_density(draws: np.ndarray, x: float = 0.0) -> float:
    """Gaussian KDE (Scott's rule) of ``draws`` at ``x``; NaN for constant or few draws."""
    from scipy.stats import gaussian_kde

    draws = np.asarray(draws, dtype=float)
    draws = draws[np.isfinite(draws)]
    if draws.size < 10 or np.ptp(draws) == 0:
        return float("nan")
    return float(gaussian_kde(draws)(x)[0])


def _affine(expr: Node, name: str) -> tuple[float, float] | None:
    """(slope, intercept) of ``expr`` as a function of ``name`` when it is affine in it."""
    f = [float(evaluate(expr, _constant(x))) for x in (0.0, 1.0, 2.0)]
    slope = f[1] - f[0]
    if not np.all(np.isfinite(f)) or abs((f[2] - f[1]) - slope) > 1e-9 * (1 + abs(slope)):
        return None
    return slope, f[0]


PriorDraws = Callable[[], dict[str, np.ndarray]]


def prior_sampler(fit: Fit, variables: Sequence[str], draws: int, seed: int | None
                  ) -> PriorDraws:
    """Joint prior draws of ``variables`` (each (draws, *shape)), simulated once on first
    call: one forward simulation serves every point hypothesis of a ``hypothesis()`` call."""
    cache: dict[str, np.ndarray] = {}

    def sample() -> dict[str, np.ndarray]:
        if not cache:
            from hiermodel.backend.sampling import joint_prior_draws

            cache.update(joint_prior_draws(fit.model.pymc_model, sorted(set(variables)),
                                           draws, seed))
        return cache
    return sample


def prior_density(fit: Fit, expr: Node, params: dict[str, Parameter],
                  sample: PriorDraws) -> tuple[float, str]:
    """(prior density of ``expr`` at 0, note); NaN with the reason when it is not defined.
    ``sample`` gives joint prior draws of (at least) the variables of ``params``."""
    slots = {s for p in params.values() for s in p.slots}
    priors = {s: _prior(fit, s) for s in slots}
    unknown = [s for s, pr in priors.items() if pr is None]
    if unknown:
        return float("nan"), (f"prior of {', '.join(n for n in params)} not known to hiermodel"
                              "; no Savage-Dickey ratio")
    flat = [f"{s[0]} {s[1]}".strip() for s, pr in priors.items() if pr.dist in IMPROPER]
    if flat:
        return float("nan"), (f"improper (flat) prior on {', '.join(flat)}: the Savage-Dickey "
                              "ratio needs proper priors")
    if len(params) == 1:
        (name, p), = params.items()
        line = _affine(expr, name) if p.coefficient else None
        if line is not None and line[0] != 0:
            slope, icpt = line
            dens = analytic_density(priors[p.slots[0]], -icpt / slope)
            if dens is not None:
                return dens / abs(slope), "analytic prior density"
    pymc_model = getattr(getattr(fit, "model", None), "pymc_model", None)
    if pymc_model is None:
        return float("nan"), "the model's graph is not available to draw from the prior"
    draws = sample()

    def value(n: str) -> np.ndarray:
        p = params[n]
        return pick(draws[p.variable], p.index)

    n_draws = len(next(iter(draws.values())))
    h = np.broadcast_to(np.asarray(evaluate(expr, value), dtype=float), (n_draws,))
    dens = kde_density(h)
    if not dens > 0:
        return float("nan"), (f"the prior density at 0 estimated from {n_draws} prior draws "
                              "is 0 (the point is far in the prior's tail)")
    return dens, f"prior density from {n_draws} prior draws"


# -- the test -------------------------------------------------------------------------------
def hypothesis(fit: Fit, hypotheses: str | Sequence[str], alpha: float = 0.05,
               seed: int | None = None, prior_draws: int = PRIOR_DRAWS) -> pd.DataFrame:
    """brms's ``hypothesis()`` table, one row per hypothesis (see the module docstring)."""
    if not 0 < alpha < 1:
        raise HypothesisError(f"alpha must be in (0, 1) (got {alpha})")
    items = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    if not items:
        raise HypothesisError("no hypothesis given")
    names = parameter_names(fit)
    parsed = []
    for text in items:
        hyp = parse_hypothesis(text)
        params = {n: _lookup(names, n) for n in names_in(hyp.expression)}
        if not params:
            raise HypothesisError(f"hypothesis {text!r} names no parameter")
        parsed.append((hyp, params))
    sample = prior_sampler(fit, [p.variable for hyp, params in parsed if hyp.relation == "="
                                 for p in params.values()], prior_draws, seed)
    rows, notes = [], []
    for hyp, params in parsed:
        expr = hyp.expression
        n_draws = _draws(fit, next(iter(params.values()))).shape[0]
        h = np.broadcast_to(np.asarray(evaluate(expr, _posterior_values(fit, params)),
                                       dtype=float), (n_draws,))
        if hyp.relation == "=":
            lo, hi = np.quantile(h, [alpha / 2, 1 - alpha / 2])
            post = kde_density(h)
            prior, note = prior_density(fit, expr, params, sample)
            ratio = post / prior if np.isfinite(prior) else float("nan")
            if not np.isfinite(prior):
                notes.append(f"{hyp.label}: {note}")
            prob = ratio / (1 + ratio) if np.isfinite(ratio) else float("nan")
            star = "*" if not lo <= 0 <= hi else ""
        else:
            lo, hi = np.quantile(h, [alpha, 1 - alpha])
            prob = float(np.mean(h < 0 if hyp.relation == "<" else h > 0))
            ratio = prob / (1 - prob) if prob < 1 else float("inf")
            star = "*" if prob > 1 - alpha else ""
        rows.append([hyp.label, float(h.mean()), float(h.std(ddof=1)), float(lo), float(hi),
                     ratio, prob, star])
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.attrs["notes"] = notes
    for note in notes:
        warnings.warn(f"hypothesis: {note}", UserWarning, stacklevel=3)
    return frame


__all__ = ["COLUMNS", "IMPROPER", "PRIOR_DRAWS", "RELATIONS", "Hypothesis", "Node",
           "Parameter", "PriorDraws", "analytic_density", "evaluate", "hypothesis", "kde_density",
           "names_in", "parameter_names", "parse_hypothesis", "pick", "prior_density",
           "prior_sampler", "tokenize"]
