"""R's update.formula dot semantics (pure text rewriting, no model)."""

from __future__ import annotations

import pytest

from hiermodel.errors import FormulaError
from hiermodel.formula.rewrite import update_formula


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("Reaction ~ Days + (Days|Subject)", "~ . + Sex", "Reaction ~ Days + (Days|Subject) + Sex"),
    ("Reaction ~ Days + (Days|Subject)", ". ~ . - Days", "Reaction ~ (Days|Subject)"),
    ("Reaction ~ Days + (Days|Subject)", "~ . - ( Days | Subject ) + (1|Subject)",
     "Reaction ~ Days + (1|Subject)"),
    ("y ~ a*b", "~ . - a:b", "y ~ a + b"),
    ("y ~ a*b", "~ . - b:a", "y ~ a + b"),
    ("y ~ x", "log(.) ~ . + z - 1", "log(y) ~ 0 + x + z"),
    ("y ~ 0 + x", "~ . + 1", "y ~ x"),
    ("y ~ x + z", "~ x", "y ~ x"),
    ("y ~ x + z", ". + w", "y ~ x + z + w"),
    ("y ~ x + z", "~ . + x", "y ~ x + z"),
    ("y ~ x", "z ~ .", "z ~ x"),
])
def test_update_formula_follows_r(old: str, new: str, expected: str) -> None:
    assert update_formula(old, new) == expected


def test_removing_a_missing_term_says_which_terms_exist() -> None:
    with pytest.raises(FormulaError, match=r"cannot remove 'w'.*x, z"):
        update_formula("y ~ x + z", "~ . - w")
