"""Pooled vs unpooled vs hierarchical: fit the three variants of a hierarchical formula and
compare them (PSIS-LOO, leave-one-group-out, per-group pooling, flags, ICC, plots).

>>> from hiermodel.compare import compare
>>> cmp = compare("log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)",
...               hm.datasets.maize_yield(), chains=2, draws=500, tune=500,
...               progress=True)  # doctest: +SKIP
>>> print(cmp)  # doctest: +SKIP

The module itself is callable, so ``hiermodel.compare(formula, data, ...)`` is the same as
``hiermodel.compare.compare(formula, data, ...)``. See ``docs/compare.md``.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from hiermodel.compare.logo import LogoResult, leave_one_group_out
from hiermodel.compare.loo import compare_loo, psis
from hiermodel.compare.pooling import pooling_factor, pooling_table, variance_partition
from hiermodel.compare.report import Comparison, compare
from hiermodel.compare.variants import derive_variants, resolve_variants

__all__ = [
    "Comparison",
    "LogoResult",
    "compare",
    "compare_loo",
    "derive_variants",
    "leave_one_group_out",
    "pooling_factor",
    "pooling_table",
    "psis",
    "resolve_variants",
    "variance_partition",
]


class _CallableModule(types.ModuleType):
    """``hiermodel.compare(...)`` calls :func:`hiermodel.compare.compare`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Comparison:
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
