"""Numba implementations that PyTensor's numba cache can store, for ops it cannot.

PyTensor compiles the digamma function (``pt.psi``, the gradient of ``gammaln``) to a call of
SciPy's Cython ``psi`` through a function pointer, and numba cannot cache a function that calls
a pointer; so every log-density whose gradient contains digamma (Student-t's ``nu``, the
negative binomial's ``alpha``, gamma's ``alpha``, beta's ``phi`` ...) was recompiled in every
process, and its nutpie callbacks could not be cached (backend/nutpie_cache.py). Here digamma
is plain numba (recurrence up to x >= 10, then the asymptotic series; the reflection formula
below zero), registered for PyTensor's ``Psi`` op with a cache key of its own; a test checks it
against ``scipy.special.psi`` to 1e-14 relative.

Importing this module registers the implementation (``backend.nutpie_cache`` does before it
compiles); it applies to every numba-mode PyTensor function of the process.
"""

from __future__ import annotations

import math
from typing import Any

import numba
from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_and_cache_key
from pytensor.link.numba.dispatch.scalar import scalar_op_cache_key
from pytensor.scalar.math import Psi

VERSION = 1  # part of the cache key: bump when the implementation changes


@numba.njit(cache=True)
def digamma(x: float) -> float:
    """psi(x) = d/dx log Gamma(x), as ``scipy.special.psi``: -inf at 0, NaN at the other
    poles -1, -2, ... and for NaN."""
    x = float(x)
    if x == 0.0:
        return -math.inf
    if math.isnan(x) or (x < 0.0 and x == math.floor(x)):
        return math.nan
    if math.isinf(x):
        return math.inf if x > 0 else math.nan
    result = 0.0
    if x < 0.0:  # psi(x) = psi(1 - x) - pi / tan(pi x)
        result = -math.pi / math.tan(math.pi * x)
        x = 1.0 - x
    while x < 10.0:  # psi(x) = psi(x + 1) - 1 / x
        result -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    series = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (
        1.0 / 240 + f * (-1.0 / 132 + f * (691.0 / 32760 + f * (-1.0 / 12)))))))
    return result + math.log(x) - 0.5 / x + series


@register_funcify_and_cache_key(Psi)
def _numba_funcify_psi(op: Any, node: Any = None, **kwargs: Any) -> tuple[Any, str]:
    @numba_njit
    def psi(x: float) -> float:
        return digamma(x)

    return psi, scalar_op_cache_key(op, hiermodel_digamma=VERSION)


__all__ = ["VERSION", "digamma"]
