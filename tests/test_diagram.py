"""The model graph (``model.graph()``): the talk's three maize models drawn to SVG, nodes and
plates read back from the SVG; the missing-``dot`` error; ``hiermodel translate --graph``."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest

import hiermodel as hm
from hiermodel import cli
from hiermodel.comparison.variants import resolve_variants
from hiermodel.errors import BuildError

pytestmark = pytest.mark.builds

REPO = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (Debian: graphviz)")


def _svg_parts(path: Path) -> tuple[set[str], set[str], dict[str, str]]:
    """Node names, plate labels and each node's shape element (ellipse / polygon) in an SVG
    written by dot."""
    root = ET.parse(path).getroot()
    nodes, plates, shapes = set(), set(), {}
    for g in root.iter(f"{SVG}g"):
        title = g.find(f"{SVG}title")
        if title is None or title.text is None:
            continue
        if g.get("class") == "node":
            nodes.add(title.text)
            first = next(c for c in g if c.tag != f"{SVG}title")
            shapes[title.text] = f"{first.tag.removeprefix(SVG)} fill={first.get('fill')}"
        elif g.get("class") == "cluster":
            plates.add(title.text.removeprefix("cluster"))
    return nodes, plates, shapes


@pytest.fixture(scope="module")
def talk_models() -> dict[str, hm.Model]:
    """The talk's pooled / unpooled / hierarchical models, as `hiermodel compare
    specs/maize_yield.toml` builds them, on 3,000 rows of the same synthetic data."""
    spec = hm.load_spec(REPO / "specs" / "maize_yield.toml")
    data = hm.datasets.maize_yield(seed=0, n=3000)
    formulas = resolve_variants(spec.model.formula, data, dict(spec.compare.variants))
    priors = spec.prior_spec()
    return {name: hm.model(f, data, center_predictors=spec.model.center_predictors,
                           priors=priors if name == "hierarchical"
                           else replace(priors, unmatched="ignore"))
            for name, f in formulas.items()}


@needs_dot
def test_talk_models_drawn_to_svg(talk_models: dict[str, hm.Model], tmp_path: Path) -> None:
    expected = {
        "pooled": ({"b", "sigma", "y"}, {"coef (2)"}),
        "unpooled": ({"b", "sigma", "y"}, {"coef (60)"}),
        "hierarchical": ({"Intercept", "b", "sd_county", "r_county", "sigma", "y"},
                         {"coef (1)", "county__term (1)", "county (30) x county__term (1)"}),
    }
    for name, m in talk_models.items():
        path = tmp_path / f"{name}.svg"
        graph = m.graph(path=path)
        assert graph.source.startswith("digraph")
        nodes, plates, shapes = _svg_parts(path)
        want_nodes, want_plates = expected[name]
        # parameter names as in fit.idata: no raw z_county; the compressed likelihood's
        # within-cell term is the Potential y_within
        assert nodes - {"y_within"} == want_nodes, name
        assert want_plates <= plates, (name, plates)
        assert shapes["y"] == "ellipse fill=lightgrey", shapes  # observed: filled
        assert shapes["sigma"] == "ellipse fill=none", shapes  # latent: open
    hier = talk_models["hierarchical"].graph().source
    assert "sd_county -> r_county" in hier and "r_county -> y" in hier


def test_graph_bridges_hidden_variables(sleepstudy) -> None:
    """A correlated block's lkj_ factor and z_ draws are not in fit.idata: their children
    keep the visible parents and no edge names them."""
    m = hm.model("Reaction ~ Days + (Days | Subject)", sleepstudy)
    source = m.graph().source
    assert "lkj_Subject" not in source and "z_Subject" not in source
    for edge in ("Intercept_c -> Intercept", "r_Subject -> y", "b -> y"):
        assert edge in source, edge


def test_missing_dot_names_the_package(sleepstudy, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: Path) -> None:
    m = hm.model("Reaction ~ Days + (1 | Subject)", sleepstudy)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    graph = m.graph()  # the graph itself needs no dot
    assert "r_Subject" in graph.source
    with pytest.raises(BuildError, match=r"apt-get install graphviz.*package 'graphviz'"):
        m.graph(path=tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()


def test_unknown_graph_format(sleepstudy, tmp_path: Path) -> None:
    m = hm.model("Reaction ~ Days", sleepstudy)
    with pytest.raises(BuildError, match="formats: svg, png, pdf"):
        m.graph(path=tmp_path / "g.gif")


@needs_dot
def test_translate_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sleep.svg"
    code = cli.main(["translate", "Reaction ~ Days + (Days | Subject)", "--graph", str(out),
                     "--data", "sleepstudy"])
    assert code == 0, capsys.readouterr().err
    stdout = capsys.readouterr().out
    assert f"model graph: {out}" in stdout
    nodes, plates, _ = _svg_parts(out)
    assert {"Intercept", "b", "sd_Subject", "cor_Subject", "r_Subject", "sigma", "y"} <= nodes
    assert "Subject (18) x Subject__term (2)" in plates
