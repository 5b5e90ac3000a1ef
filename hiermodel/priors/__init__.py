"""Priors: templates (TOML data files) + overrides -> an immutable :class:`PriorTable`.

Pure Python (no PyMC): the build stage turns each :class:`Prior` into a PyMC distribution.

>>> import hiermodel as hm
>>> hm.priors.list_templates()                      # doctest: +SKIP
>>> print(hm.priors.show("maize_talk"))             # doctest: +SKIP
>>> hm.set_prior("normal(0, 5)", "b", "Days")       # doctest: +SKIP

See ``docs/priors.md`` for the template schema and every shipped template's formulas.
"""

from hiermodel.priors.dist import (
    CLASSES,
    DISTRIBUTIONS,
    Prior,
    check_support,
    parse_prior,
)
from hiermodel.priors.expr import Expr, evaluate
from hiermodel.priors.table import (
    PARAMETER_FORMS,
    PriorOverride,
    PriorRow,
    PriorSpec,
    PriorTable,
    Slot,
    as_prior_spec,
    available_slots,
    check_overrides,
    parameter_slot,
    resolve_priors,
    set_prior,
    set_priors,
)
from hiermodel.priors.templates import (
    DEFAULT_TEMPLATE,
    MODEL_STATS,
    SLOT_STATS,
    Template,
    builtin_names,
    list_templates,
    load_template,
    load_template_from_dict,
    show,
)

__all__ = [
    "CLASSES",
    "DEFAULT_TEMPLATE",
    "DISTRIBUTIONS",
    "MODEL_STATS",
    "PARAMETER_FORMS",
    "SLOT_STATS",
    "Expr",
    "Prior",
    "PriorOverride",
    "PriorRow",
    "PriorSpec",
    "PriorTable",
    "Slot",
    "Template",
    "as_prior_spec",
    "available_slots",
    "builtin_names",
    "check_overrides",
    "check_support",
    "evaluate",
    "list_templates",
    "load_template",
    "load_template_from_dict",
    "parameter_slot",
    "parse_prior",
    "resolve_priors",
    "set_prior",
    "set_priors",
    "show",
]
