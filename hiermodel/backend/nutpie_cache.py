"""nutpie's numba compile, cached on disk across processes, keyed by the model's graph.

``nutpie.compile_pymc_model`` spends almost all of a small fit's time compiling: PyTensor's
graph rewrites for the log-density, its gradient and the trace expansion (~6 s here), then
numba's LLVM build of nutpie's two C callbacks around them (~7 s). PyTensor caches its own
numba functions on disk, but the callbacks are closures over the model's sizes and are rebuilt
in every process, and the rewrites run again before PyTensor can even look its cache up
(benchmarks/compile_split.py, docs/performance.md).

:func:`compile_nutpie` builds the same two callbacks from generated source registered with
PyTensor's numba cache locator under a key computed from the *unrewritten* graph (every
operation with its properties, every constant's bytes, the initial values, the shared inputs'
types, and the nutpie / PyTensor / numba / PyMC versions). The first compile of a model is
nutpie's own (plus saving); afterwards a process with the same model loads both callbacks from
the cache without rewriting or compiling anything, so the compile drops from seconds to a
fraction of one. Shared data (``pm.Data``, e.g. the fold masks of ``backend.folds``) stay
runtime inputs, so one cached model serves every value of them (``CompiledModel.with_data``).

The starting points are nutpie's default too: the model's support point (stored with the
entry) plus U(-1, 1) jitter on the unconstrained scale, drawn from the chain's seed. Whether
the callbacks came from the cache or were just compiled, a seed gives the same draws (a test
checks them bit for bit).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from math import prod
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("hiermodel")

FORMAT = 2  # bump when the entry's contents or the callbacks' source change

_LOGP_SRC = """
def hiermodel_logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_dim},))
        logp = numba.carray(logp_, ())
        logp_val, grad = extract(x, user_data_)
        logp[()] = logp_val
        out[...] = grad
        if not np.all(np.isfinite(out)):
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_SRC = """
def hiermodel_expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
        x = numba.carray(x_, ({n_dim},))
        out = numba.carray(out_, ({n_expanded},))
        (values,) = extract(x, user_data_)
        out[...] = values
    except Exception:
        return -2
    return 0
"""


def graph_key(pm_model: Any, outputs: list[Any] | None = None) -> str:
    """sha256 of everything nutpie's compiled callbacks depend on: the unrewritten log-density
    and trace graphs (operations, properties, types, constants' bytes, input names), the
    initial values, and the library versions. Shared inputs count by name and type only."""
    import numba
    import nutpie
    import pymc
    import pytensor
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import graph_inputs, io_toposort

    from hiermodel.backend import numba_ops

    outputs = outputs if outputs is not None else _outputs(pm_model)
    digest = hashlib.sha256()
    digest.update(repr((FORMAT, numba_ops.VERSION, nutpie.__version__, pytensor.__version__,
                        numba.__version__, pymc.__version__, pm_model.check_bounds, _LOGP_SRC,
                        _EXPAND_SRC)).encode())
    ids: dict[Any, int] = {}

    def ident(var: Any) -> int:
        if var not in ids:
            ids[var] = len(ids)
            if isinstance(var, Constant):
                data = np.asarray(var.data)
                if data.dtype.hasobject:
                    digest.update(f"O{var.type}{var.data!r}".encode())
                else:
                    digest.update(f"C{data.dtype}{data.shape}".encode())
                    digest.update(np.ascontiguousarray(data).tobytes())
            elif var.owner is None:
                digest.update(f"I{var.name}:{var.type}".encode())
        return ids[var]

    for node in io_toposort(list(graph_inputs(outputs)), outputs):
        op = node.op
        inputs = [ident(v) for v in node.inputs]
        props = [(p, _prop_text(getattr(op, p))) for p in getattr(op, "__props__", ())]
        digest.update(f"N{type(op).__module__}.{type(op).__qualname__}|{op}|{props}|"
                      f"{inputs}".encode())
        for out in node.outputs:
            ident(out)
            digest.update(str(out.type).encode())
    digest.update(repr([ident(v) for v in outputs]).encode())
    for rv in pm_model.free_RVs:
        start = pm_model.rvs_to_initial_values.get(rv)
        digest.update(f"S{rv.name}:{start!r}".encode() if not isinstance(start, np.ndarray)
                      else f"S{rv.name}".encode() + np.ascontiguousarray(start).tobytes())
    return digest.hexdigest()


def _prop_text(value: Any) -> str:
    """An op property as key text: arrays in full (``str`` would elide their middle)."""
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{value.shape}{np.ascontiguousarray(value).tobytes().hex()}"
    return str(value)


def cache_dir() -> Path:
    """Where the entries live: PyTensor's numba cache folder (``PYTENSOR_FLAGS``'s
    ``base_compiledir``), next to the callbacks numba stores there."""
    from pytensor.link.numba.cache import NUMBA_CACHE_PATH

    return Path(NUMBA_CACHE_PATH)


def compile_nutpie(pm_model: Any) -> Any:
    """``nutpie.compile_pymc_model(pm_model)`` (numba backend, default initialisation), with
    the compiled callbacks cached on disk by :func:`graph_key`.

    ``HIERMODEL_NUTPIE_CACHE=0`` in the environment (or PyTensor's ``numba__cache`` off) skips
    the cache and calls nutpie's own compile (benchmarks/loop.py measures both)."""
    import nutpie
    from pytensor import config

    from hiermodel.backend import numba_ops  # noqa: F401 — registers cacheable numba ops

    if not config.numba__cache or os.environ.get("HIERMODEL_NUTPIE_CACHE") == "0":
        return nutpie.compile_pymc_model(pm_model)
    outputs = _outputs(pm_model)
    key = graph_key(pm_model, outputs)
    entry_path = cache_dir() / f"hiermodel_nutpie_{key}.json"
    entry = _read_entry(entry_path)
    if entry is not None:
        try:
            compiled = _assemble(pm_model, outputs, key, entry, functions=None)
            log.debug("nutpie compile cache: loaded %s", key[:12])
            return compiled
        except Exception as exc:  # a stale or partial entry (numba's files gone): recompile
            log.info("nutpie compile cache: entry %s not loaded (%s); compiling", key[:12], exc)
    log.debug("nutpie compile cache: compiling %s", key[:12])
    return _compile_and_store(pm_model, outputs, key, entry_path)


def _outputs(pm_model: Any) -> list[Any]:
    """The graphs the callbacks compute: the log-density and the stored variables."""
    return [pm_model.logp(), *pm_model.unobserved_value_vars]


def _read_entry(path: Path) -> dict[str, Any] | None:
    try:
        entry = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None


def _compile_and_store(pm_model: Any, outputs: list[Any], key: str, path: Path) -> Any:
    from nutpie.compile_pymc import _make_functions

    n_dim, n_expanded, logp_pt, expand_pt, _, shape_info = _make_functions(
        pm_model, mode="NUMBA", compute_grad=True, join_expanded=True,
        pymc_initial_point_fn=lambda seed: {}, var_names=None)  # starts: _Jittered
    names, _, shapes = shape_info
    shared: dict[str, Any] = {}
    for var in [*logp_pt.get_shared(), *expand_pt.get_shared()]:
        if shared.setdefault(var.name, var) is not var:
            raise ValueError(f"shared variables must have unique names: {var.name}")
    entry = {
        "format": FORMAT, "n_dim": int(n_dim), "n_expanded": int(n_expanded),
        "names": list(names), "shapes": [[int(s) for s in shape] for shape in shapes],
        "shared": [[name, var.ndim] for name, var in shared.items()],
        "logp_shared": [v.name for v in logp_pt.get_shared()],
        "expand_shared": [v.name for v in expand_pt.get_shared()],
        "start": _support_point(pm_model),
    }
    compiled = _assemble(pm_model, outputs, key, entry,
                         functions=(logp_pt.vm.jit_fn, expand_pt.vm.jit_fn))
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(entry))
    os.replace(tmp, path)  # written last: an entry exists only once its callbacks are saved
    return compiled


def _support_point(pm_model: Any) -> list[float]:
    """The flat unconstrained starting point without jitter (jitter is added per chain), in
    the free variables' order: PyMC's support point, as nutpie's default starts from."""
    point = pm_model.initial_point()
    return [float(v) for rv in pm_model.free_RVs
            for v in np.ravel(point[pm_model.rvs_to_values[rv].name])]


def _assemble(pm_model: Any, outputs: list[Any], key: str, entry: dict[str, Any],
              functions: tuple[Any, Any] | None) -> Any:
    """The ``CompiledPyMCModel`` nutpie samples. With ``functions`` (PyTensor's compiled
    log-density and expansion) the callbacks are compiled and saved; without, they must load
    from the cache (numba raises otherwise, since there is nothing to compile)."""
    import numba
    from nutpie.compile_pymc import (
        CompiledPyMCModel,
        _prepare_dims_and_coords,
        make_extraction_fn,
        make_user_data,
    )
    from pytensor.link.numba.cache import compile_numba_function_src

    values = _shared_values(outputs, [name for name, _ in entry["shared"]])
    for (name, ndim), value in zip(entry["shared"], values.values(), strict=True):
        if value.ndim != ndim:
            raise ValueError(f"shared variable {name} has rank {value.ndim}, not {ndim}")
    user_data = make_user_data(values, values)  # the layout needs ranks: the arrays' own
    n_dim, n_expanded = entry["n_dim"], entry["n_expanded"]
    types = numba.types
    signatures = (
        types.int64(types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                    types.CPointer(types.double), types.voidptr),
        types.int64(types.uint64, types.uint64, types.CPointer(types.double),
                    types.CPointer(types.double), types.voidptr),
    )
    callbacks = []
    for i, (src, name, shared_names) in enumerate((
            (_LOGP_SRC, "hiermodel_logp", entry["logp_shared"]),
            (_EXPAND_SRC, "hiermodel_expand", entry["expand_shared"]))):
        extract = None
        if functions is not None:
            extract = make_extraction_fn(functions[i], values, shared_names, user_data.dtype)
        py_func = compile_numba_function_src(
            src.format(n_dim=n_dim, n_expanded=n_expanded), name,
            {"__name__": __name__, "numba": numba, "np": np, "extract": extract},
            cache_key=f"{name}_{key}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", numba.NumbaWarning)
            callback = numba.cfunc(signatures[i], cache=True)(py_func)
        if functions is None and callback.cache_hits == 0:
            raise RuntimeError("callback not in the cache")
        callbacks.append(callback)
    names, shapes = entry["names"], [tuple(s) for s in entry["shapes"]]
    slices, start = [], 0
    for shape in shapes:
        slices.append(slice(start, start + prod(shape)))
        start += prod(shape)
    shape_info = (names, slices, shapes)
    dims, coords = _prepare_dims_and_coords(pm_model, shape_info)
    return CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={n: s for n, s in zip(names, shapes, strict=True)},
        compiled_logp_func=callbacks[0], compiled_expand_func=callbacks[1],
        initial_point_func=_Jittered(np.asarray(entry["start"], dtype="float64")),
        shared_data=values, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=None, expand_func=None)


class _Jittered:
    """nutpie's default start: the support point plus U(-1, 1) jitter, seeded per chain."""

    def __init__(self, start: np.ndarray) -> None:
        self.start = start

    def __call__(self, seed: Any = None) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return self.start + rng.uniform(-1.0, 1.0, size=self.start.shape)


def _shared_values(outputs: list[Any], names: list[str]) -> dict[str, np.ndarray]:
    """Current values of the graph's shared inputs, read-only C arrays as nutpie keeps them."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs

    found = {v.name: v for v in graph_inputs(outputs) if isinstance(v, SharedVariable)}
    values = {}
    for name in names:
        value = np.array(found[name].get_value(), order="C", copy=True)
        value.flags.writeable = False
        values[name] = value
    return values


__all__ = ["FORMAT", "cache_dir", "compile_nutpie", "graph_key"]
