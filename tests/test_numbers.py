"""hiermodel.numbers: one style per column, significant digits, never fixed and scientific mixed."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from hiermodel.numbers import (
    NumberStyle,
    column_style,
    format_column,
    format_number,
    format_seconds,
    markdown_table,
    text_table,
)

SCIENTIFIC = re.compile(r"^-?\d\.\d+e[+-]\d\d$")
FIXED = re.compile(r"^-?\d+(\.\d+)?$")


def _one_style(cells: list[str]) -> bool:
    shown = [c for c in cells if c]
    return all(SCIENTIFIC.match(c) for c in shown) or all(FIXED.match(c) for c in shown)


def test_the_pooling_factors_of_issue_18_print_in_one_style() -> None:
    cells = format_column([0.0, 0.000472, 8.67e-05, 0.95])
    assert cells == ["0.00e+00", "4.72e-04", "8.67e-05", "9.50e-01"]


def test_fixed_when_it_is_not_wider_than_scientific() -> None:
    assert format_column([0.012, 0.5, 0.95]) == ["0.0120", "0.5000", "0.9500"]
    assert format_column([-1234.5, 2.25, 10.0]) == ["-1234.50", "2.25", "10.00"]
    assert format_column([-123456.7, -123500.1]) == ["-123457", "-123500"]


def test_every_value_keeps_its_significant_digits() -> None:
    values = [3.14159, 0.0271828, 161.8]
    cells = format_column(values)
    for v, c in zip(values, cells, strict=True):
        assert float(f"{v:.2e}") == pytest.approx(float(c), rel=0, abs=abs(v) * 5e-3), (v, c)


@pytest.mark.parametrize("seed", range(20))
def test_random_mixed_magnitudes_give_one_style_per_column(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.choice([-1, 1], 8) * 10.0 ** rng.uniform(-8, 8, 8)
    cells = format_column(values.tolist())
    assert _one_style(cells), cells
    for v, c in zip(values, cells, strict=True):  # at least 3 significant digits survive
        assert float(c) == pytest.approx(v, rel=5e-3), (v, c)


def test_rounding_up_to_the_next_power_of_ten_keeps_the_digits() -> None:
    assert format_column([9.996, 1.5]) == ["10.00", "1.50"]
    assert format_number(9.996) == "10.0"


def test_integers_missing_values_booleans_and_text() -> None:
    assert format_column([1, 25, np.int64(300)]) == ["1", "25", "300"]
    assert format_column([1.5, None, float("nan"), math.inf, -math.inf]) == \
        ["1.50", "", "", "inf", "-inf"]
    assert format_column([True, False, np.bool_(True)]) == ["yes", "", "yes"]
    assert format_column(["10", "a", pd.NA]) == ["10", "a", ""]
    assert format_number(-0.0001, digits=1) == "-1e-04"  # narrower than -0.0001
    assert format_column([-0.004, 2.0], digits=1) == ["-0.004", "2.000"]


def test_negative_zero_is_printed_without_sign() -> None:
    assert NumberStyle("fixed", decimals=2).format(-0.001) == "0.00"


def test_column_style_is_reusable() -> None:
    style = column_style([0.5, 0.25])
    assert style == NumberStyle("fixed", decimals=3, digits=3)
    assert style.format(0.1) == "0.100"
    with pytest.raises(ValueError, match="digits"):
        column_style([1.0], digits=0)


def test_tables_format_each_column_on_its_own() -> None:
    df = pd.DataFrame({"group": ["a", "bb"], "n": [3, 40], "pooling": [8.67e-05, 0.95],
                       "estimate": [0.5, 12.25], "flag": [True, False]})
    text = text_table(df)
    lines = text.splitlines()
    assert lines[0].split() == ["group", "n", "pooling", "estimate", "flag"]
    assert lines[1].split() == ["a", "3", "8.67e-05", "0.500", "yes"]
    assert lines[2].split() == ["bb", "40", "9.50e-01", "12.250"]
    assert len({len(line) for line in lines[:2]}) == 1  # aligned
    md = markdown_table(df).splitlines()
    assert md[0] == "| group | n | pooling | estimate | flag |"
    assert md[1] == "|---|---:|---:|---:|---|"
    assert md[2] == "| a | 3 | 8.67e-05 | 0.500 | yes |"
    indexed = text_table(df.set_index("group"), index=True).splitlines()
    assert indexed[0].split()[0] == "group"


def test_format_seconds() -> None:
    assert format_seconds(0.42) == "0.4 s"
    assert format_seconds(12.4) == "12 s"
    assert format_seconds(125.0) == "2 min 05 s"
    assert format_seconds(float("nan")) == ""
