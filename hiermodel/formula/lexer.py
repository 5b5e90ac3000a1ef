"""Tokenizer for R formulas."""

from __future__ import annotations

from dataclasses import dataclass

from hiermodel.errors import FormulaError

# Longest first, so '||' wins over '|'.
OPERATORS = ("%in%", "||", "~", "+", "-", "*", "/", ":", "^", "|", "(", ")", ",", "=")


@dataclass(frozen=True)
class Token:
    kind: str  # NAME, NUMBER, OP, DOT, END
    text: str  # the token's value (a name without backquotes)
    start: int
    end: int


def _is_name_start(ch: str) -> bool:
    return ch.isalpha() or ch == "_" or ch == "."


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; a character R would not accept is a :class:`FormulaError`."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise FormulaError("unterminated backquoted name; close it with `", text, i)
            if end == i + 1:
                raise FormulaError("empty backquoted name", text, i, 2)
            tokens.append(Token("NAME", text[i + 1 : end], i, end + 1))
            i = end + 1
            continue
        if ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit()):
            j = i
            while j < n and (text[j].isdigit() or text[j] == "."):
                j += 1
            if j < n and text[j] in "eE":
                k = j + 1
                if k < n and text[k] in "+-":
                    k += 1
                if k < n and text[k].isdigit():
                    j = k
                    while j < n and text[j].isdigit():
                        j += 1
            literal = text[i:j]
            try:
                float(literal)
            except ValueError:
                raise FormulaError(f"malformed number '{literal}'", text, i, j - i) from None
            tokens.append(Token("NUMBER", literal, i, j))
            i = j
            continue
        if _is_name_start(ch):
            j = i
            while j < n and (text[j].isalnum() or text[j] in "._"):
                j += 1
            word = text[i:j]
            tokens.append(Token("DOT" if word == "." else "NAME", word, i, j))
            i = j
            continue
        if text.startswith("==", i):
            raise FormulaError("'==' is not supported in formulas; compute the comparison as "
                               "a column first", text, i, 2)
        for op in OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("OP", op, i, i + len(op)))
                i += len(op)
                break
        else:
            if ch == "%":
                end = text.find("%", i + 1)
                op = text[i : end + 1] if end > 0 else "%"
                raise FormulaError(
                    f"operator '{op}' is not supported in formulas; use ':' or %in% for nesting",
                    text, i, len(op),
                )
            hint = ""
            if ch in "\"'":
                hint = "; quote column names with backquotes: `my column`"
            raise FormulaError(f"unexpected character '{ch}'{hint}", text, i)
    tokens.append(Token("END", "", n, n))
    return tokens
