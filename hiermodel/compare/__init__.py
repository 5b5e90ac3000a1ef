"""Pooled vs unpooled vs hierarchical: fit the three variants of a hierarchical formula and
compare them (PSIS-LOO, leave-one-group-out, per-group pooling, flags, ICC, plots).

>>> import hiermodel as hm
>>> cmp = hm.compare("log(maize_yield + 0.1) ~ used_hybrid_seeds"
...                  " + (1 + used_hybrid_seeds | county)",
...                  hm.datasets.maize_yield(n=20_000))  # doctest: +SKIP
>>> print(cmp)  # doctest: +SKIP

See ``docs/compare.md``.
"""

from __future__ import annotations

from hiermodel.compare.logo import LogoResult, leave_one_group_out
from hiermodel.compare.loo import compare_loo
from hiermodel.compare.pooling import pooling_factor, variance_partition
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
    "resolve_variants",
    "variance_partition",
]
