"""How hiermodel prints numbers: one style per table column, significant digits, never fixed and
scientific notation mixed in one column. Plain Python (NumPy scalars understood); the text and
Markdown reports and the HTML report format their tables through here.

The rule is R's ``format()``: a column is printed with enough decimals that every value shows
``digits`` significant digits, in fixed notation unless that is wider than scientific notation
for the whole column (then every value is scientific). Integers stay integers; missing values
(None, NaN) print as ``""``; booleans as ``"yes"`` / ``""``; text as it is. So the pooling
factors ``0.0, 0.000472, 8.67e-05, 0.95`` print as ``0.00e+00, 4.72e-04, 8.67e-05, 9.50e-01``
and ``0.012, 0.5, 0.95`` as ``0.0120, 0.5000, 0.9500``.

- :func:`column_style` / :class:`NumberStyle`: the style of a column, to format values later;
- :func:`format_column`, :func:`format_number`: values to strings;
- :func:`format_cells`: a DataFrame to rows of strings, column by column;
- :func:`text_table`, :func:`markdown_table`: aligned plain text and GitHub Markdown;
- :func:`format_seconds`: durations ("0.4 s", "12 s", "2 min 05 s").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

DIGITS = 3
MISSING = ""


def _is_bool(x: Any) -> bool:
    return isinstance(x, bool | np.bool_)


def _is_int(x: Any) -> bool:
    if _is_bool(x):
        return False
    return isinstance(x, int) or getattr(getattr(x, "dtype", None), "kind", "") in ("i", "u")


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or x is pd.NaT


def _as_float(x: Any) -> float | None:
    """``x`` as a float when it is a number (not bool, not text), else None."""
    if _missing(x) or _is_bool(x) or isinstance(x, str | bytes):
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _decimals(v: float, digits: int) -> int:
    """Decimals that show ``digits`` significant digits of ``v`` in fixed notation."""
    if v == 0:
        return 0
    rounded = float(f"{abs(v):.{digits - 1}e}")  # 9.996 -> 1.00e+01: one digit fewer
    return max(0, digits - 1 - math.floor(math.log10(rounded)))


@dataclass(frozen=True)
class NumberStyle:
    """How one column prints: ``kind`` ``"integer"``, ``"fixed"`` (with ``decimals``) or
    ``"scientific"`` (``digits`` significant digits)."""

    kind: Literal["integer", "fixed", "scientific"]
    decimals: int = 0
    digits: int = DIGITS

    def format(self, x: Any) -> str:
        """One value in this style (missing and non-finite values as ``""`` / ``inf``)."""
        v = _as_float(x)
        if v is None:
            if _is_bool(x):
                return "yes" if x else MISSING
            return MISSING if _missing(x) else str(x)
        if math.isnan(v):
            return MISSING
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if self.kind == "integer":
            return str(round(v))
        if self.kind == "fixed":
            text = f"{v:.{self.decimals}f}"
            return text[1:] if text.startswith("-") and float(text) == 0 else text
        return f"{v:.{self.digits - 1}e}"


def column_style(values: Iterable[Any], digits: int = DIGITS) -> NumberStyle:
    """The one style for a column of ``values`` (see the module docstring)."""
    if digits < 1:
        raise ValueError(f"digits must be >= 1 (got {digits})")
    numbers: list[float] = []
    all_int = True
    for x in values:
        v = _as_float(x)
        if v is None or not math.isfinite(v):
            continue
        numbers.append(v)
        all_int = all_int and _is_int(x)
    if all_int:
        return NumberStyle("integer", digits=digits)
    decimals = max(_decimals(v, digits) for v in numbers)
    fixed = NumberStyle("fixed", decimals=decimals, digits=digits)
    scientific = NumberStyle("scientific", digits=digits)
    fixed_width = max(len(fixed.format(v)) for v in numbers)
    scientific_width = max(len(scientific.format(v)) for v in numbers)
    return fixed if fixed_width <= scientific_width else scientific


def format_column(values: Iterable[Any], digits: int = DIGITS) -> list[str]:
    """Every value of a column as a string, in the column's one style."""
    values = list(values)
    style = column_style(values, digits)
    return [style.format(x) for x in values]


def format_number(x: Any, digits: int = DIGITS) -> str:
    """One number on its own (a column of one value)."""
    return format_column([x], digits)[0]


def format_cells(df: pd.DataFrame, index: bool = False,
                 digits: int = DIGITS) -> tuple[list[str], list[list[str]]]:
    """(header, rows of strings) of ``df``, each column formatted in its own style; with
    ``index`` the index comes first as a column."""
    frame = df.reset_index() if index else df
    header = [str(c) for c in frame.columns]
    columns = [format_column(frame.iloc[:, j].tolist(), digits)
               for j in range(frame.shape[1])]
    rows = [[col[i] for col in columns] for i in range(len(frame))]
    return header, rows


def text_table(df: pd.DataFrame, index: bool = False, digits: int = DIGITS,
               indent: str = "  ") -> str:
    """An aligned plain-text table: the first column left-aligned, the others right-aligned."""
    header, rows = format_cells(df, index=index, digits=digits)
    return "\n".join(indent + line for line in _aligned([header, *rows]))


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    if not rows or not rows[0]:
        return []
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return ["  ".join([r[0].ljust(widths[0])] + [r[j].rjust(widths[j])
                                                  for j in range(1, len(r))]).rstrip()
            for r in rows]


def markdown_table(df: pd.DataFrame, index: bool = False, digits: int = DIGITS) -> str:
    """A GitHub Markdown table (numeric columns right-aligned)."""
    header, rows = format_cells(df, index=index, digits=digits)
    frame = df.reset_index() if index else df
    numeric = [pd.api.types.is_numeric_dtype(frame.iloc[:, j].dtype)
               and not pd.api.types.is_bool_dtype(frame.iloc[:, j].dtype)
               for j in range(frame.shape[1])]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rule = "|" + "|".join("---:" if n else "---" for n in numeric) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def format_seconds(x: float) -> str:
    """A duration: ``0.4 s`` below 10 s, ``12 s`` below a minute, then ``2 min 05 s``."""
    if not math.isfinite(x):
        return MISSING
    if x < 10:
        return f"{x:.1f} s"
    if x < 60:
        return f"{x:.0f} s"
    minutes, rest = divmod(round(x), 60)
    return f"{minutes} min {rest:02d} s"


__all__ = ["DIGITS", "MISSING", "NumberStyle", "column_style", "format_cells", "format_column",
           "format_number", "format_seconds", "markdown_table", "text_table"]
