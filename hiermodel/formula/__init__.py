"""Formula stage: lme4 formula text -> syntax tree -> model terms (what the formula means).

``parse`` gives the syntax tree (:mod:`~hiermodel.formula.ast`), ``translate`` its meaning
(:class:`~hiermodel.formula.terms.ModelTerms`), ``evaluate_variable`` materialises a variable
such as ``log(maize_yield + 0.1)`` on data.
"""

from hiermodel.formula.addition import with_weights
from hiermodel.formula.ast import Formula, deparse
from hiermodel.formula.evaluate import (
    SUPPORTED_FUNCTIONS,
    evaluate_columns,
    evaluate_expression,
    evaluate_text,
    evaluate_variable,
)
from hiermodel.formula.parser import parse, parse_expression
from hiermodel.formula.terms import GroupBlock, ModelTerms, Response, Term, Variable
from hiermodel.formula.translate import translate

__all__ = [
    "SUPPORTED_FUNCTIONS",
    "Formula",
    "GroupBlock",
    "ModelTerms",
    "Response",
    "Term",
    "Variable",
    "deparse",
    "evaluate_columns",
    "evaluate_expression",
    "evaluate_text",
    "evaluate_variable",
    "parse",
    "parse_expression",
    "translate",
    "with_weights",
]
