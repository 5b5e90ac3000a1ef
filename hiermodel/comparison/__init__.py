"""Pooled vs unpooled vs hierarchical: fit the three variants of a hierarchical formula and
compare them (PSIS-LOO, leave-one-group-out, per-group pooling, flags, ICC, plots).

>>> from hiermodel.comparison import compare
>>> cmp = compare("log(maize_yield + 0.1) ~ used_hybrid_seeds + (1 | county)",
...               hm.datasets.maize_yield(), chains=2, draws=500, tune=500,
...               progress=True)  # doctest: +SKIP
>>> print(cmp)  # doctest: +SKIP

``hm.compare(formula, data, ...)`` is :func:`hiermodel.comparison.compare`. See
``docs/compare.md``.
"""

from __future__ import annotations

from hiermodel.comparison.logo import LogoResult, leave_one_group_out
from hiermodel.comparison.loo import compare_loo, psis
from hiermodel.comparison.pooling import pooling_factor, pooling_table
from hiermodel.comparison.result import Comparison
from hiermodel.comparison.run import compare
from hiermodel.comparison.variance import variance_partition
from hiermodel.comparison.variants import derive_variants, resolve_variants

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

