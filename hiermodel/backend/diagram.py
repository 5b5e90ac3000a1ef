"""The model graph: hiermodel's own PyMC graph drawn with PyMC's ``model_to_graphviz`` machinery.

:func:`model_graph` returns a ``graphviz.Digraph`` of a built model with the parameter names of
``fit.idata`` (``Intercept``, ``b``, ``sd_<g>``, ``r_<g>``, ``sigma``, ...): the raw
non-centered variables (``z_*``), packed Cholesky factors (``lkj_*``) and other sampled-but-not-
stored variables are left out and their parents joined to their children. Observed nodes are
filled, latent ones open, deterministics boxes; each set of dims is a plate (``county (30)``).

Drawing a picture file (:func:`save_graph`, :func:`graph_svg`) needs Graphviz's ``dot``
program; without it a :class:`~hiermodel.errors.BuildError` names the Debian package.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiermodel.errors import BuildError

if TYPE_CHECKING:
    import graphviz

    from hiermodel.models import Model

FORMATS = ("svg", "png", "pdf")
DOT_MISSING = ("drawing the model graph needs Graphviz's `dot` program, which is not on PATH. "
               "Install it: `sudo apt-get install graphviz` (Debian/Ubuntu package "
               "'graphviz'), `brew install graphviz` or `conda install graphviz`; "
               "model.graph() without a path still returns the graph's source")


def hidden_variables(model: Model) -> set[str]:
    """Variables of the PyMC graph that ``fit.idata`` does not store (see
    :func:`hiermodel.backend.sampling.sample`)."""
    latent = set(model.info.latent)
    return {name for name in model.pymc_model.named_vars
            if name in latent or name.startswith("z_") or "_part" in name}


def _bridge(edges: list[tuple[str, str]], hidden: set[str]) -> list[tuple[str, str]]:
    """(child, parent) edges without ``hidden`` nodes: a hidden node's parents become its
    children's parents."""
    parents: dict[str, set[str]] = {}
    for child, parent in edges:
        parents.setdefault(child, set()).add(parent)

    def visible(names: set[str], seen: frozenset[str]) -> set[str]:
        out: set[str] = set()
        for p in names:
            if p not in hidden:
                out.add(p)
            elif p not in seen:
                out |= visible(parents.get(p, set()), seen | {p})
        return out

    return sorted({(child, p) for child, ps in parents.items() if child not in hidden
                   for p in visible(ps, frozenset())})


def model_graph(model: Model, title: str | None = None) -> graphviz.Digraph:
    """The graph of ``model``'s PyMC model as a ``graphviz.Digraph`` (no ``dot`` needed until
    it is rendered). ``title`` (default: the formula) labels the graph."""
    from pymc.model_graph import ModelGraph, Plate, make_graph

    pm_model = model.pymc_model
    graph = ModelGraph(pm_model)
    hidden = {n.replace(":", "&") for n in hidden_variables(model)}
    plates = []
    for plate in graph.get_plates():
        keep = [v for v in plate.variables if str(v.var.name).replace(":", "&") not in hidden]
        if keep:
            plates.append(Plate(dim_info=plate.dim_info, variables=keep))
    edges = _bridge(graph.edges(), hidden)
    label = title if title is not None else model.formula
    cells = model.info.cells
    if cells is not None:
        label += f"\n({model.prepared.n} observations compressed into {cells.n_cells} cells)"
    attrs = {"label": label, "labelloc": "t", "fontsize": "12"}
    out: graphviz.Digraph = make_graph(pm_model.name or "model", plates=plates, edges=edges,
                                       graph_attr=attrs)
    return out


def require_dot() -> None:
    """Raise :class:`BuildError` (naming the Debian package) when ``dot`` is missing."""
    if shutil.which("dot") is None:
        raise BuildError(DOT_MISSING)


def render(graph: graphviz.Digraph, fmt: str) -> bytes:
    """``graph`` drawn by ``dot`` as ``fmt`` (svg, png or pdf)."""
    import graphviz as gv

    if fmt not in FORMATS:
        raise BuildError(f"cannot draw the model graph as '{fmt}'; formats: "
                         f"{', '.join(FORMATS)} (from the file suffix)")
    require_dot()
    try:
        data: Any = graph.pipe(format=fmt)
    except gv.ExecutableNotFound as exc:
        raise BuildError(DOT_MISSING) from exc
    except gv.CalledProcessError as exc:
        raise BuildError(f"Graphviz's dot failed to draw the model graph: {exc}") from exc
    return bytes(data)


def graph_svg(graph: graphviz.Digraph) -> str:
    """The graph as SVG text (for inline HTML), without the XML prolog and DOCTYPE."""
    text = render(graph, "svg").decode("utf-8")
    start = text.find("<svg")
    return text[start:] if start >= 0 else text


def save_graph(graph: graphviz.Digraph, path: str | Path) -> Path:
    """Write ``graph`` to ``path``; the format comes from the suffix (``.svg``, ``.png``,
    ``.pdf``)."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    data = render(graph, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise BuildError(f"cannot write the model graph to {path}: {exc}") from exc
    return path


__all__ = ["DOT_MISSING", "FORMATS", "graph_svg", "hidden_variables", "model_graph",
           "render", "require_dot", "save_graph"]
