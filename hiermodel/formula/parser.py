"""Recursive-descent parser: formula text -> :class:`~hiermodel.formula.ast.Formula`.

Operator precedence follows R (``?Syntax``), lowest first: ``~``; ``|`` ``||``; binary ``+ -``;
``* /``; ``%in%``; ``:``; unary ``- +``; ``^`` (right-associative). So ``(1 + x | g)`` is
``(1 + x) | g`` and ``a + b:c`` is ``a + (b:c)``, exactly as lme4 reads them.
"""

from __future__ import annotations

from hiermodel.errors import FormulaError
from hiermodel.formula.ast import (
    BinOp,
    Call,
    Dot,
    Expr,
    Formula,
    Name,
    Named,
    Number,
    Paren,
    Unary,
)
from hiermodel.formula.lexer import Token, tokenize

_LEVELS: tuple[tuple[str, ...], ...] = (("|", "||"), ("+", "-"), ("*", "/"), ("%in%",), (":",))


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def error(self, message: str, tok: Token | None = None) -> FormulaError:
        tok = tok or self.tok
        return FormulaError(message, self.text, tok.start, max(1, tok.end - tok.start))

    def advance(self) -> Token:
        tok = self.tok
        self.pos += 1
        return tok

    def at(self, *ops: str) -> bool:
        return self.tok.kind == "OP" and self.tok.text in ops

    def formula(self) -> Formula:
        if self.tok.kind == "END":
            raise FormulaError(
                "formula is empty; write it as 'response ~ predictors', e.g. 'y ~ x + (1|g)'"
            )
        lhs: Expr | None = None
        if not self.at("~"):
            lhs = self.binary(0)
        if not self.at("~"):
            if self.tok.kind == "END":
                raise FormulaError(
                    "formula has no '~'; write it as 'response ~ predictors', e.g. "
                    f"'{self.text.strip()} ~ 1'",
                    self.text, len(self.text.rstrip()) if self.text.strip() else 0,
                )
            raise self.unexpected()
        tilde = self.advance()
        if self.tok.kind == "END":
            raise self.error("nothing after '~'; write the predictors, or 1 for intercept only",
                             tilde)
        rhs = self.binary(0)
        if self.at("~"):
            raise self.error("a formula has only one '~'")
        if self.tok.kind != "END":
            raise self.unexpected()
        return Formula(lhs, rhs, self.text)

    def unexpected(self) -> FormulaError:
        tok = self.tok
        if tok.kind == "END":
            return self.error("formula ends unexpectedly")
        if tok.text == ")":
            return self.error("unmatched ')'")
        if tok.text == "=":
            return self.error("'=' only names a function argument, e.g. poly(x, degree = 2); a "
                              "formula has one '~'")
        if tok.kind in ("NAME", "NUMBER", "DOT") or tok.text == "(":
            return self.error(
                f"unexpected '{tok.text}'; join terms with '+' (or ':' for an interaction)"
            )
        return self.error(f"unexpected '{tok.text}'")

    def binary(self, level: int) -> Expr:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.at(*_LEVELS[level]):
            op = self.advance()
            if self.tok.kind == "END" or self.at(")", ",", "~", "|", "||"):
                raise self.error(f"expected an expression after '{op.text}'", op)
            right = self.binary(level + 1)
            left = BinOp(op.text, left, right, (_start(left), _end(right)))
        return left

    def unary(self) -> Expr:
        if self.at("-", "+"):
            op = self.advance()
            operand = self.unary()
            return Unary(op.text, operand, (op.start, _end(operand)))
        return self.power()

    def power(self) -> Expr:
        base = self.primary()
        if self.at("^"):
            op = self.advance()
            if self.tok.kind == "END" or self.at(")", ","):
                raise self.error("expected an exponent after '^'", op)
            exponent = self.unary()  # right-associative; -x allowed after ^ as in R
            return BinOp("^", base, exponent, (_start(base), _end(exponent)))
        return base

    def primary(self) -> Expr:
        tok = self.tok
        if tok.kind == "NUMBER":
            self.advance()
            return Number(float(tok.text), tok.text, (tok.start, tok.end))
        if tok.kind == "DOT":
            self.advance()
            return Dot((tok.start, tok.end))
        if tok.kind == "NAME":
            self.advance()
            if self.at("("):
                return self.call(tok)
            return Name(tok.text, (tok.start, tok.end))
        if self.at("("):
            open_tok = self.advance()
            if self.at(")"):
                raise self.error("empty parentheses", open_tok)
            inner = self.binary(0)
            if not self.at(")"):
                if self.tok.kind == "END":
                    raise self.error("'(' is never closed; add ')'", open_tok)
                raise self.unexpected()
            close = self.advance()
            return Paren(inner, (open_tok.start, close.end))
        if tok.kind == "END":
            raise self.error("formula ends unexpectedly")
        if tok.text == ")":
            raise self.error("unmatched ')'")
        if tok.text == "~":
            raise self.error("a formula has only one '~'")
        raise self.error(f"expected a term, found '{tok.text}'")

    def call(self, name: Token) -> Call:
        open_tok = self.advance()
        args: list[Expr] = []
        if not self.at(")"):
            while True:
                if self.tok.kind == "END":
                    raise self.error("'(' is never closed; add ')'", open_tok)
                args.append(self.argument())
                if self.at(","):
                    self.advance()
                    continue
                break
        if not self.at(")"):
            if self.tok.kind == "END":
                raise self.error("'(' is never closed; add ')'", open_tok)
            raise self.unexpected()
        close = self.advance()
        return Call(name.text, tuple(args), (name.start, close.end))


    def argument(self) -> Expr:
        """One call argument: an expression, or ``name = expression``."""
        nxt = self.tokens[self.pos + 1] if self.pos + 1 < len(self.tokens) else None
        if self.tok.kind == "NAME" and nxt is not None and nxt.kind == "OP" and nxt.text == "=":
            name = self.advance()
            eq = self.advance()
            if self.tok.kind == "END" or self.at(")", ","):
                raise self.error(f"expected a value after '{name.text} ='", eq)
            value = self.binary(0)
            return Named(name.text, value, (name.start, _end(value)))
        return self.binary(0)


def _start(expr: Expr) -> int:
    return expr.span[0]


def _end(expr: Expr) -> int:
    return expr.span[1]


def parse(text: str) -> Formula:
    """Parse formula text; syntax errors are :class:`FormulaError` with a caret."""
    if not isinstance(text, str):
        raise FormulaError(f"formula must be a string, got {type(text).__name__}")
    return _Parser(text).formula()


def parse_expression(text: str) -> Expr:
    """Parse a single R expression (``log(maize_yield + 0.1)``), e.g. a derived column."""
    p = _Parser(text)
    if p.tok.kind == "END":
        raise FormulaError("expression is empty")
    expr = p.binary(0)
    if p.tok.kind != "END":
        raise p.unexpected()
    return expr
