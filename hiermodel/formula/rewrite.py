"""R's ``update.formula`` for lme4 formulas: rewrite an old formula with a new one holding dots.

``update_formula("Reaction ~ Days + (Days|Subject)", "~ . + Sex")`` gives
``"Reaction ~ Days + (Days|Subject) + Sex"``. As in R:

- ``.`` on the left-hand side of the new formula is the old response, ``.`` on the right-hand
  side the old right-hand side (as a group: ``~ . : x`` is not supported, ``+``/``-`` are);
  a new formula without ``~`` (``". + x"``) is a right-hand side;
- a one-sided new formula (``"~ . + x"``) keeps the old response; a new response replaces
  it (``"log(.) ~ ."`` substitutes the old response into the expression);
- ``- term`` removes every occurrence of ``term`` (written with any spacing), including a
  group-level term ``- (Days|Subject)``; when the term is one part of an interaction
  written with ``*`` (``a*b``) the product is expanded first (``a + b + a:b``), as R's
  ``terms(simplify=TRUE)`` does; ``- 1`` / ``+ 0`` remove the intercept, ``+ 1`` restores it;
- terms already present are not added twice.

Pure text rewriting over the top-level ``+``/``-`` structure (parentheses, brackets and
quotes respected); the result is checked by the translator when the model is built.
"""

from __future__ import annotations

import re

from hiermodel.errors import FormulaError

_DOT = re.compile(r"(?<![\w.])\.(?![\w.])")


def _split_top(text: str, seps: str) -> list[tuple[str, str]]:
    """(sign, piece) at the top level of ``text``, split on the characters of ``seps``."""
    out: list[tuple[str, str]] = []
    depth = 0
    quote = ""
    sign = "+"
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in seps and depth == 0:
            out.append((sign, text[start:i]))
            sign = ch
            start = i + 1
    if depth != 0 or quote:
        raise FormulaError(f"unbalanced parentheses or quotes in formula {text!r}")
    out.append((sign, text[start:]))
    return out


def _norm(term: str) -> str:
    """A term without spaces (``( Days | Subject )`` == ``(Days|Subject)``); ``a:b`` and
    ``b:a`` are the same interaction."""
    t = re.sub(r"\s+", "", term)
    parts = [p for _, p in _split_top(t, ":")]
    if len(parts) > 1 and not t.startswith("("):
        return ":".join(sorted(parts))
    return t


def _expand_star(term: str) -> list[str]:
    """``a*b*c`` -> main effects and every interaction (R's expansion); other terms as is."""
    factors = [p.strip() for _, p in _split_top(term, "*")]
    if len(factors) == 1:
        return [term.strip()]
    out: list[str] = []
    for mask in range(1, 2 ** len(factors)):
        chosen = [f for j, f in enumerate(factors) if mask >> j & 1]
        out.append(":".join(chosen))
    return sorted(out, key=lambda t: (t.count(":"), factors.index(t.split(":")[0])))


def _sides(formula: str) -> tuple[str, str]:
    pieces = _split_top(formula, "~")
    if len(pieces) == 1:
        return "", formula.strip()
    if len(pieces) > 2:
        raise FormulaError(f"formula {formula!r} has more than one '~'")
    return pieces[0][1].strip(), pieces[1][1].strip()


def _rhs_terms(rhs: str, where: str) -> tuple[list[tuple[str, str]], bool | None]:
    """Signed terms of a right-hand side and its intercept (True/False, None: not said)."""
    intercept: bool | None = None
    terms: list[tuple[str, str]] = []
    for sign, piece in _split_top(rhs, "+-"):
        term = piece.strip()
        if not term:
            if sign == "-" or terms or intercept is not None:
                raise FormulaError(f"empty term in {where} {rhs!r}")
            continue  # a leading '-': "- 1 + x"
        if term in ("0", "1"):
            intercept = (term == "1") == (sign == "+")
            continue
        terms.append((sign, term))
    return terms, intercept


def update_rhs(old: str, new: str) -> str:
    """A right-hand side rewritten by ``new`` (``.`` = ``old``); see the module docstring."""
    old_terms, old_icpt = _rhs_terms(old, "the old right-hand side")
    kept: list[str] = [t for s, t in old_terms if s == "+"]
    intercept = True if old_icpt is None else old_icpt
    new_terms, new_icpt = _rhs_terms(new, "the new right-hand side")
    has_dot = any(t == "." for _, t in new_terms)
    out: list[str] = list(kept) if has_dot else []
    if not has_dot:
        intercept = True
    for sign, term in new_terms:
        if term == ".":
            if sign == "-":
                raise FormulaError("'- .' would remove the whole old right-hand side; write "
                                   "the new right-hand side instead")
            continue
        if _DOT.search(term):
            raise FormulaError(f"'.' inside the term {term!r} is not supported; use '.' alone "
                               "as the old right-hand side ('~ . + x')")
        key = _norm(term)
        if sign == "+":
            if all(_norm(t) != key for t in out):
                out.append(term)
            continue
        if any(_norm(t) == key for t in out):
            out = [t for t in out if _norm(t) != key]
            continue
        expanded: list[str] = []
        for t in out:
            parts = _expand_star(t)
            expanded.extend(parts if any(_norm(p) == key for p in parts) else [t])
        if all(_norm(t) != key for t in expanded):
            raise FormulaError(f"cannot remove '{term}': the formula has no such term "
                               f"(terms: {', '.join(out) or 'none'})")
        out = [t for t in expanded if _norm(t) != key]
    if new_icpt is not None:
        intercept = new_icpt
    if not out:
        return "1" if intercept else "0"
    text = " + ".join(out)
    return text if intercept else f"0 + {text}"


def update_formula(old: str, new: str) -> str:
    """``old`` rewritten by ``new`` with R's ``update.formula`` dot semantics.

    >>> update_formula("Reaction ~ Days + (Days|Subject)", ". ~ . - Days")
    'Reaction ~ (Days|Subject)'
    >>> update_formula("y ~ x", "log(.) ~ . + z")
    'log(y) ~ x + z'
    """
    old_lhs, old_rhs = _sides(str(old))
    new_lhs, new_rhs = _sides(str(new))
    if not new_rhs:
        raise FormulaError(f"the new formula {new!r} has no right-hand side; use '.' for the "
                           "old one ('. ~ .')")
    lhs = old_lhs if not new_lhs else _DOT.sub(lambda _: old_lhs, new_lhs)
    if _DOT.search(new_lhs) and not old_lhs:
        raise FormulaError(f"'.' on the left of {new!r} but the old formula {old!r} has no "
                           "response")
    rhs = update_rhs(old_rhs, new_rhs)
    return f"{lhs} ~ {rhs}" if lhs else f"~ {rhs}"


__all__ = ["update_formula", "update_rhs"]
