"""brms addition terms on the response side: ``y | weights(w) ~ x + (1|g)``.

Only ``weights()`` is supported: each row's log-likelihood is multiplied by its weight
(brms semantics). ``with_weights`` writes the ``weights=`` keyword of :func:`hm.fit` /
:func:`hm.model` (and ``[model] weights`` of a spec file) into the formula, so both spellings
take one path through the pipeline.
"""

from __future__ import annotations

from hiermodel.errors import did_you_mean
from hiermodel.formula.ast import BinOp, Call, Expr, Name, Paren, deparse, node_error
from hiermodel.formula.parser import parse

ADDITION_TERMS = ("weights",)
# brms addition terms hiermodel knows of but does not implement, with what to write instead
_OTHER_BRMS = {
    "trials": "write a binomial response as cbind(successes, failures)",
    "se": "known measurement SEs are not supported",
    "cens": "censored responses are not supported",
    "trunc": "truncated responses are not supported",
    "mi": "missing-value imputation is not supported; drop the rows (dropna=True)",
    "subset": "filter the data instead",
    "rate": "write offset(log(exposure)) on the right of '~'",
    "thres": "the thresholds of an ordinal response are estimated, one per category boundary",
    "cat": "the number of categories is read off the response",
    "dec": "decision variables are not supported",
}
_EXAMPLE = "e.g. 'y | weights(w) ~ x + (1|g)'"


def weights_argument(expr: Expr, text: str) -> Expr:
    """The expression inside ``weights(...)`` of a response-side addition term ``expr``
    (what follows ``|`` on the left of ``~``); anything else is a :class:`FormulaError`."""
    while isinstance(expr, Paren):
        expr = expr.expr
    if isinstance(expr, BinOp) and expr.op == "|":
        raise node_error("the left of '~' takes one addition term: write 'y | weights(w) ~ ...'",
                     text, expr)
    if not isinstance(expr, Call):
        raise node_error(
            f"after '|' on the left of '~' hiermodel expects weights(...), got "
            f"'{deparse(expr)}'; write weights({deparse(expr)}) for observation weights "
            f"({_EXAMPLE})", text, expr)
    if expr.func in _OTHER_BRMS:
        raise node_error(f"the brms addition term {expr.func}() is not supported "
                     f"({_OTHER_BRMS[expr.func]}); hiermodel supports weights() only", text, expr)
    if expr.func not in ADDITION_TERMS:
        hint = did_you_mean(expr.func, ADDITION_TERMS) or "; the supported one is weights()"
        raise node_error(f"unknown addition term '{expr.func}()' after '|' on the left of "
                     f"'~'{hint} ({_EXAMPLE})", text, expr)
    if len(expr.args) != 1:
        raise node_error(f"weights() takes 1 argument (a column of weights), got {len(expr.args)}",
                     text, expr)
    return expr.args[0]


def with_weights(formula: str, column: str) -> str:
    """``formula`` with ``| weights(column)`` on its response side (the ``weights=`` keyword).

    A formula that already has ``weights()`` is a :class:`FormulaError`: weights are given
    once."""
    parsed = parse(formula)
    lhs = parsed.lhs
    if lhs is None:
        return formula  # translate() reports the missing response
    if isinstance(lhs, BinOp) and lhs.op == "|":
        raise node_error(
            f"weights are given twice: in the formula ({deparse(lhs.right)}) and as "
            f"weights='{column}'; keep one of them", formula, lhs.right)
    end = lhs.span[1]
    return f"{formula[:end]} | weights({deparse(Name(column, (0, 0)))}){formula[end:]}"


__all__ = ["ADDITION_TERMS", "weights_argument", "with_weights"]
