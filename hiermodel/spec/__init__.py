"""Spec files: a model, its data, priors and sampler settings in one TOML file.

A spec file is what goes under version control next to the data::

    [data]
    dataset = "sleepstudy"            # or: path = "data/sleep.csv" (CSV or Parquet)

    [model]
    formula = "Reaction ~ Days + (Days | Subject)"

    [sampler]
    chains = 2
    seed = 1

:func:`load_spec` parses and validates the whole file *before* anything is fitted and returns a
frozen :class:`Spec`. Every problem is reported with the file, the key path and a fix, e.g.
``specs/x.toml: [sampler] unknown key 'draw'; did you mean 'draws'?``; all problems of a file
are reported at once, one per line. The full schema is in ``specs/README.md``.

:meth:`Spec.load_data` prepares the data (read, ``[data.types]``, ``filter``,
``[data.derive]``), :meth:`Spec.build` builds the model without sampling, and
:func:`hiermodel.runs.run_spec` fits it into a run directory.

The package re-exports its modules' public names:

- :mod:`hiermodel.spec.schema`: the constants and frozen dataclasses (:class:`Spec` and one
  class per section);
- :mod:`hiermodel.spec.parse`: TOML parsing and validation (:func:`load_spec`,
  :func:`parse_spec`);
- :mod:`hiermodel.spec.sources`: reading the data a spec names (CSV, Parquet, built-in
  datasets).
"""

from hiermodel.spec.parse import load_spec, parse_spec
from hiermodel.spec.schema import (
    COLUMN_TYPES,
    DATA_SUFFIXES,
    DEFAULT_TEMPLATE,
    LOGO_CHOICES,
    OVERRIDE_KEYS,
    PARAMETRIZATIONS,
    SECTION_KEYS,
    TOP_LEVEL_KEYS,
    CompareSpec,
    DataSpec,
    ModelSpec,
    OutputSpec,
    OverrideSpec,
    PriorsSpec,
    SamplerSpec,
    Spec,
    SpecPriors,
)

__all__ = [
    "COLUMN_TYPES",
    "DATA_SUFFIXES",
    "DEFAULT_TEMPLATE",
    "LOGO_CHOICES",
    "OVERRIDE_KEYS",
    "PARAMETRIZATIONS",
    "SECTION_KEYS",
    "TOP_LEVEL_KEYS",
    "CompareSpec",
    "DataSpec",
    "ModelSpec",
    "OutputSpec",
    "OverrideSpec",
    "PriorsSpec",
    "SamplerSpec",
    "Spec",
    "SpecPriors",
    "load_spec",
    "parse_spec",
]
