"""Build stage: Bambi design matrices -> PyMC graph. The only stage that touches PyMC."""

from hiermodel.build.design import BlockDesign, ModelDesign, build_design, evaluate_recipes
from hiermodel.build.graph import BuildInfo, BuildOptions, build_graph, choose_parametrization
from hiermodel.build.slots import model_stats, prior_slots

__all__ = [
    "BlockDesign",
    "BuildInfo",
    "BuildOptions",
    "ModelDesign",
    "build_design",
    "build_graph",
    "choose_parametrization",
    "evaluate_recipes",
    "model_stats",
    "prior_slots",
]
