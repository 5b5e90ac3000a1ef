"""nutpie's compile cached across processes (backend/nutpie_cache.py).

Builds tier: the cache key is the same for the same model in another process and changes with
anything the compiled callbacks compute from (data, priors, formula, starting values), but not
with the values of shared data; the callbacks' log-density and gradient equal PyMC's. Fit tier:
a model loaded from the cache samples exactly the draws of its fresh compile (same seed), with
shared data swapped (``with_data``) as well; an entry whose numba files are gone compiles again.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import hiermodel as hm
from hiermodel.models import model
from tests.helpers import fold_graph

pytest.importorskip("nutpie")


def _data(n: int = 60, groups: int = 6, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.normal(size=n)
    y = 1 + 0.5 * x + rng.normal(size=groups)[g] + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{i}" for i in g]})


def _forget(graph) -> str:
    """Remove the cache entry and numba files of ``graph``; return its key."""
    from hiermodel.backend.nutpie_cache import cache_dir, graph_key

    key = graph_key(graph)
    for path in cache_dir().glob(f"*{key}*"):
        path.unlink()
    return key


KEY_SCRIPT = """
import sys, numpy as np, pandas as pd
import hiermodel as hm
from hiermodel.models import model
from hiermodel.backend.nutpie_cache import graph_key
rng = np.random.default_rng(0)
g = rng.integers(0, 6, 60)
df = pd.DataFrame({"y": rng.normal(size=60), "x": rng.normal(size=60),
                   "g": [f"g{i}" for i in g]})
print(graph_key(model("y ~ x + (x|g)", df).pymc_model))
"""


@pytest.mark.builds
def test_key_is_the_same_in_another_process_and_follows_what_the_callbacks_compute():
    from hiermodel.backend.nutpie_cache import graph_key

    keys = {subprocess.run([sys.executable, "-c", KEY_SCRIPT], capture_output=True, text=True,
                           check=True).stdout.strip() for _ in range(2)}
    assert len(keys) == 1 and len(next(iter(keys))) == 64
    rng = np.random.default_rng(0)
    g = rng.integers(0, 6, 60)
    df = pd.DataFrame({"y": rng.normal(size=60), "x": rng.normal(size=60),
                       "g": [f"g{i}" for i in g]})
    base = graph_key(model("y ~ x + (x|g)", df).pymc_model)
    assert keys == {base}  # this process (other graphs built before) agrees too
    changed = df.assign(y=df["y"].where(df.index != 7, df["y"] + 1e-9))
    variants = [model("y ~ x + (x|g)", changed),  # one data value
                model("y ~ x + (1|g)", df),  # formula
                model("y ~ x + (x|g)", df, priors=[hm.set_prior("normal(0, 3)", "b")]),
                model("y ~ x + (x|g)", df, family="student_t")]
    assert len({base, *(graph_key(v.pymc_model) for v in variants)}) == 1 + len(variants)


@pytest.mark.builds
def test_key_ignores_shared_data_values_and_callbacks_match_pymc():
    from hiermodel.backend.nutpie_cache import compile_nutpie, graph_key

    df = _data()
    graph = fold_graph(model("y ~ x + (1|g)", df), df["g"])
    key = graph_key(graph)
    keep = graph["fold_keep"]
    keep.set_value(np.r_[0.0, np.ones(keep.get_value().size - 1)])
    assert graph_key(graph) == key  # a fold's mask is runtime data, not part of the compile
    compiled = compile_nutpie(graph)
    logp_fn, dlogp_fn = graph.compile_logp(), graph.compile_dlogp()
    rng = np.random.default_rng(1)
    point = {k: v + 0.3 * rng.normal(size=np.shape(v))
             for k, v in graph.initial_point().items()}
    names, slices, _ = compiled.shape_info
    x = np.zeros(compiled.n_dim)
    for name, sl in zip(names, slices, strict=False):
        if name in point:
            x[sl] = np.ravel(point[name])
    grad, logp = np.zeros(compiled.n_dim), np.zeros(())
    ptr = ctypes.POINTER(ctypes.c_double)
    status = compiled.compiled_logp_func.ctypes(
        compiled.n_dim, x.ctypes.data_as(ptr), grad.ctypes.data_as(ptr),
        logp.ctypes.data_as(ptr), ctypes.c_void_p(compiled.user_data.ctypes.data))
    assert status == 0
    # the callback reads the mask it was given: the first group's rows switched off
    assert float(logp) == pytest.approx(float(logp_fn(point)), rel=1e-10, abs=1e-8)
    np.testing.assert_allclose(grad, dlogp_fn(point), rtol=1e-9, atol=1e-8)


@pytest.mark.builds
def test_digamma_is_scipys_and_cacheable():
    """hiermodel's numba digamma (backend/numba_ops.py) replaces PyTensor's call of SciPy's
    Cython psi through a pointer, which numba cannot cache."""
    import pytensor
    import pytensor.tensor as pt
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    from scipy.special import psi

    from hiermodel.backend.numba_ops import digamma

    positive = np.concatenate([np.geomspace(1e-8, 1e6, 2000), [0.5, 1, 1.4616, 9.999, 10]])
    np.testing.assert_allclose([digamma(v) for v in positive], psi(positive), rtol=1e-13,
                               atol=1e-14)
    negative = -np.geomspace(1e-6, 50, 500) + 1e-3  # reflection, away from the poles
    np.testing.assert_allclose([digamma(v) for v in negative], psi(negative), rtol=1e-11)
    special = [0.0, -1.0, -2.0, np.inf, -np.inf, np.nan]
    np.testing.assert_array_equal([digamma(v) for v in special], psi(special))
    x = pt.dvector("x")
    fn = pytensor.function([x], pt.psi(x), mode="NUMBA")
    np.testing.assert_allclose(fn(positive), psi(positive), rtol=1e-13, atol=1e-14)
    assert CACHED_SRC_FUNCTIONS.get(fn.vm.jit_fn.py_func) is not None


@pytest.mark.fit
def test_cached_compile_samples_the_fresh_compiles_draws_and_recovers_lost_files():
    from hiermodel.backend.nutpie_cache import cache_dir, compile_nutpie
    from hiermodel.backend.sampling import run_nutpie

    df = _data(seed=3)
    graph = fold_graph(model("y ~ x + (1|g)", df), df["g"])
    key = _forget(graph)

    def draws(compiled, keep):
        idata = run_nutpie(compiled.with_data(fold_keep=keep), 150, 150, 2, 1, 11, 0.9, False)
        return idata.posterior

    keep = np.ones(graph["fold_keep"].get_value().size)
    keep[2] = 0.0
    fresh = compile_nutpie(graph)
    assert fresh.compiled_logp_func.cache_hits == 0
    assert (cache_dir() / f"hiermodel_nutpie_{key}.json").exists()
    loaded = compile_nutpie(graph)
    assert loaded.compiled_logp_func.cache_hits == 1
    assert loaded.compiled_expand_func.cache_hits == 1
    a, b = draws(fresh, keep), draws(loaded, keep)
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values)
    # a different mask through the same cached callbacks gives a different posterior
    assert not np.array_equal(draws(loaded, np.ones_like(keep))["b"].values, a["b"].values)
    for path in cache_dir().glob(f"*{key}*.nb*"):  # numba's files gone, the entry left
        path.unlink()
    again = compile_nutpie(graph)
    assert again.compiled_logp_func.cache_hits == 0
    c = draws(again, keep)
    np.testing.assert_array_equal(c["b"].values, a["b"].values)
    assert compile_nutpie(graph).compiled_logp_func.cache_hits == 1
