"""The schema of a spec file: section and key constants and the frozen dataclasses.

:class:`Spec` is what :func:`hiermodel.spec.load_spec` returns: one frozen dataclass per
section (:class:`DataSpec`, :class:`ModelSpec`, :class:`PriorsSpec` with its
:class:`OverrideSpec` entries, :class:`SamplerSpec`, :class:`CompareSpec`, :class:`OutputSpec`),
its canonical form and hash, and what the API needs from it (``priors=``, ``hm.model`` and
``Model.fit`` keyword arguments, the model itself). Parsing and validation live in
:mod:`hiermodel.spec.parse`, reading the data in :mod:`hiermodel.spec.sources`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiermodel.errors import (
    BuildError,
    DataError,
    FamilyError,
    FormulaError,
    PriorError,
    SpecError,
)
from hiermodel.priors import PriorSpec

if TYPE_CHECKING:
    import pandas as pd

    from hiermodel.models import Model

#: Keys of every section (``[data.derive]``, ``[data.types]``, ``[compare.variants]`` and
#: ``[data.dataset_args]`` are free-form tables of their own).
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "data": ("path", "dataset", "dataset_args", "sql", "database", "filter", "derive",
             "types"),
    "model": ("formula", "family", "link", "dropna", "center_predictors", "parametrization",
              "compress", "weights", "aux"),
    "priors": ("template", "template_table", "override", "set"),
    "sampler": ("draws", "tune", "chains", "seed", "backend", "target_accept", "cores"),
    "compare": ("variants", "group", "effect", "logo", "logo_max_groups", "logo_folds",
                "logo_draws", "logo_tune"),
    "output": ("dir",),
}
TOP_LEVEL_KEYS: tuple[str, ...] = ("description",)
OVERRIDE_KEYS: tuple[str, ...] = ("prior", "class", "term", "group")
COLUMN_TYPES: tuple[str, ...] = ("categorical", "numeric", "bool")
PARAMETRIZATIONS: tuple[str, ...] = ("auto", "centered", "noncentered")
LOGO_CHOICES: tuple[str, ...] = ("auto", "exact", "kfold")
DATA_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")
DEFAULT_TEMPLATE = "weakly_informative"


# -- the parsed spec ----------------------------------------------------------------------------

class SpecPriors(PriorSpec):
    """A :class:`~hiermodel.priors.PriorSpec` that prints briefly: ``template 'x' + 2
    override(s)`` (reports show ``str(priors)``)."""

    def __str__(self) -> str:
        t = self.template
        name = getattr(t, "name", None) or (t.name if isinstance(t, Path) else str(t))
        n = len(self.overrides)
        return f"template '{name}'" + (f" + {n} override(s)" if n else "")


@dataclass(frozen=True)
class DataSpec:
    """``[data]``: where the data comes from and how it is prepared."""

    path: Path | None = None  # absolute path of a CSV/Parquet file
    path_text: str | None = None  # the path as written in the spec
    dataset: str | None = None  # a built-in dataset (``hm.datasets.<name>()``)
    dataset_args: tuple[tuple[str, Any], ...] = ()
    sql: str | None = None  # a DuckDB query; relative file names resolve against the spec dir
    database: Path | None = None  # absolute path of a DuckDB database file the query reads
    database_text: str | None = None  # that path as written in the spec
    filter: str | None = None  # pandas query string
    derive: tuple[tuple[str, str], ...] = ()  # new column -> R expression, in order
    types: tuple[tuple[str, str], ...] = ()  # column -> categorical | numeric | bool


@dataclass(frozen=True)
class ModelSpec:
    """``[model]``: the formula and how the model is built (arguments of :func:`hm.model`)."""

    formula: str
    family: str = "gaussian"
    link: str | None = None
    dropna: bool = False
    center_predictors: bool = True
    parametrization: str | tuple[tuple[str, str], ...] = "auto"
    compress: bool | str = "auto"
    weights: str | None = None  # column of observation weights (as y | weights(w) ~ ...)
    aux: tuple[tuple[str, str], ...] = ()  # [model.aux]: parameter -> one-sided formula

    def parametrization_arg(self) -> str | dict[str, str]:
        """``parametrization`` as :func:`hm.model` takes it (a str or a group -> choice dict)."""
        p = self.parametrization
        return p if isinstance(p, str) else dict(p)


@dataclass(frozen=True)
class OverrideSpec:
    """One ``[[priors.override]]`` entry (arguments of :func:`hm.set_prior`)."""

    prior: str
    cls: str = "b"
    term: str = ""
    group: str = ""
    # where the spec file gives it ("[[priors.override]] #2", "[priors.set] sd_county"); not
    # part of the spec hash: the same prior written either way fits the same model
    origin: str = field(default="", compare=False)


@dataclass(frozen=True)
class PriorsSpec:
    """``[priors]``: a template (shipped name, file, or inline table) plus overrides."""

    template: str = DEFAULT_TEMPLATE  # shipped name, or the path as written
    template_path: Path | None = None  # absolute path when ``template`` is a file
    template_sha256: str | None = None  # content hash of that file (part of the spec hash)
    template_table: str | None = None  # inline template as canonical JSON
    overrides: tuple[OverrideSpec, ...] = ()


@dataclass(frozen=True)
class SamplerSpec:
    """``[sampler]``: arguments of :meth:`Model.fit`."""

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int | None = None
    backend: str = "auto"
    target_accept: float | str = "auto"
    cores: int | None = None


@dataclass(frozen=True)
class CompareSpec:
    """``[compare]``: options of :func:`hiermodel.comparison.compare`."""

    variants: tuple[tuple[str, str], ...] = ()
    group: str | None = None
    effect: str | None = None
    logo: bool | str = "auto"
    logo_max_groups: int = 12
    logo_folds: int | None = None
    logo_draws: int | None = None
    logo_tune: int | None = None


@dataclass(frozen=True)
class OutputSpec:
    """``[output]``: where runs go (absolute; default ``<spec dir>/runs/<spec stem>``)."""

    dir: Path
    dir_text: str | None = None  # as written (None: the default)


@dataclass(frozen=True)
class Spec:
    """A validated spec file (see :func:`load_spec` and ``specs/README.md``)."""

    file: Path  # absolute path of the spec file
    label: str  # the path as given, used in messages
    data: DataSpec
    model: ModelSpec
    priors: PriorsSpec = field(default_factory=PriorsSpec)
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    compare: CompareSpec = field(default_factory=CompareSpec)
    output: OutputSpec | None = None
    description: str = ""
    text: str = field(default="", compare=False, repr=False)  # the TOML source
    base_dir: Path | None = None  # relative paths resolve here (default: the file's directory)

    @property
    def name(self) -> str:
        """The spec file's stem (``specs/radon.toml`` -> ``radon``)."""
        return self.file.stem

    @property
    def directory(self) -> Path:
        """The directory relative paths in the spec are resolved against."""
        return self.base_dir if self.base_dir is not None else self.file.parent

    @property
    def output_dir(self) -> Path:
        """``[output] dir`` (absolute), default ``<spec dir>/runs/<spec stem>``."""
        if self.output is not None:
            return self.output.dir
        return self.directory / "runs" / self.name

    # -- canonical form -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Everything that determines the fit, JSON-able, with defaults filled in.

        Paths appear as written (so moving a project does not change the hash; the data's
        content is hashed separately), a template file by its content hash. ``[compare]``,
        ``[output]`` and ``description`` are not included: they do not change the fit.
        """
        d, m, p, s = self.data, self.model, self.priors, self.sampler
        return {
            "data": {
                "path": d.path_text,
                "dataset": d.dataset,
                "dataset_args": dict(d.dataset_args),
                # only when set, so that the hash of every other spec stays as it was
                **({"sql": d.sql} if d.sql is not None else {}),
                **({"database": d.database_text} if d.database_text is not None else {}),
                "filter": d.filter,
                "derive": [list(kv) for kv in d.derive],
                "types": dict(d.types),
            },
            "model": {
                "formula": m.formula,
                "family": m.family,
                "link": m.link,
                "dropna": m.dropna,
                "center_predictors": m.center_predictors,
                "parametrization": m.parametrization_arg(),
                "compress": m.compress,
                # only when set, so that the hash of every other spec stays as it was
                **({"weights": m.weights} if m.weights is not None else {}),
                **({"aux": dict(m.aux)} if m.aux else {}),
            },
            "priors": {
                "template": p.template if p.template_table is None else None,
                "template_sha256": p.template_sha256,
                "template_table": (json.loads(p.template_table)
                                   if p.template_table is not None else None),
                "overrides": [{"prior": o.prior, "class": o.cls, "term": o.term,
                               "group": o.group} for o in p.overrides],
            },
            "sampler": {
                "draws": s.draws, "tune": s.tune, "chains": s.chains, "seed": s.seed,
                "backend": s.backend, "target_accept": s.target_accept, "cores": s.cores,
            },
        }

    def canonical_json(self) -> str:
        """:meth:`to_dict` as canonical JSON (sorted keys, no whitespace)."""
        return canonical_dumps(self.to_dict())

    def hash(self) -> str:
        """sha256 of :meth:`canonical_json`: equal for specs that fit the same model."""
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    # -- what the API needs ---------------------------------------------------------------------
    def prior_spec(self) -> SpecPriors:
        """The ``priors=`` argument for :func:`hm.model` / :func:`hm.fit`."""
        from hiermodel.priors import load_template_from_dict, set_prior

        p = self.priors
        template: Any
        if p.template_table is not None:
            with self.located("[priors]"):
                template = load_template_from_dict(
                    f"{self.name} (inline)", json.loads(p.template_table), source=self.label,
                    key_prefix="priors.template_table.", base_dir=self.directory)
        elif p.template_path is not None:
            template = p.template_path
        else:
            template = p.template
        overrides = []
        for i, o in enumerate(p.overrides, start=1):
            with self.located(o.origin or f"[[priors.override]] #{i}"):
                overrides.append(set_prior(o.prior, o.cls, o.term, o.group))
        return SpecPriors(template=template, overrides=tuple(overrides))

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`hm.model` (everything but formula and data)."""
        m = self.model
        return {"family": m.family, "link": m.link, "priors": self.prior_spec(),
                "dropna": m.dropna, "center_predictors": m.center_predictors,
                "parametrization": m.parametrization_arg(), "compress": m.compress,
                "weights": m.weights, **dict(m.aux)}

    def weighted_formula(self) -> str:
        """The formula with ``[model] weights`` written into it (``y | weights(w) ~ ...``),
        for callers that take a formula only (compare)."""
        from hiermodel.formula import with_weights

        m = self.model
        return m.formula if m.weights is None else with_weights(m.formula, m.weights)

    def sampler_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Model.fit` (draws, tune, chains, seed, ...)."""
        s = self.sampler
        return {"draws": s.draws, "tune": s.tune, "chains": s.chains, "seed": s.seed,
                "backend": s.backend, "target_accept": s.target_accept, "cores": s.cores}

    def load_data(self) -> pd.DataFrame:
        """The data as the model sees it.

        Steps, in order: read ``path`` (CSV/Parquet), run the DuckDB ``sql`` query (over files
        or the ``database``) or call the built-in ``dataset``; convert
        the columns named in ``[data.types]``; keep the rows matching ``filter`` (a pandas
        query); add the ``[data.derive]`` columns (R expressions, in file order; a type given
        for a derived column is applied after it is made). The index is reset.
        """
        from hiermodel.spec.sources import load_data

        return load_data(self)

    def build(self, data: pd.DataFrame | None = None) -> Model:
        """Translate, check and build the model (no sampling); errors name this spec file."""
        from hiermodel.models import model

        frame = self.load_data() if data is None else data
        kwargs = self.model_kwargs()
        with self.located("[model]"):
            return model(self.model.formula, frame, **kwargs)

    def check(self) -> tuple[pd.DataFrame, Model]:
        """Everything :func:`~hiermodel.runs.run_spec` does before sampling: load the data,
        build the model, translate the ``[compare]`` variants against the data."""
        frame = self.load_data()
        built = self.build(frame)
        if self.compare.variants:
            from hiermodel.formula import translate

            for name, formula in self.compare.variants:
                with self.located(f"[compare.variants] {name}"):
                    translate(formula, columns=list(frame.columns))
        return frame, built

    # -- helpers --------------------------------------------------------------------------------
    @contextmanager
    def located(self, where: str) -> Iterator[None]:
        """Re-raise errors of the pipeline as :class:`SpecError` naming this file and key."""
        try:
            yield
        except SpecError:
            raise
        except FormulaError as exc:
            key = f"{where} formula" if where == "[model]" else where
            raise SpecError(f"{self.label}: {key}: {exc}") from exc
        except FamilyError as exc:
            key = f"{where} family/link" if where == "[model]" else where
            raise SpecError(f"{self.label}: {key}: {exc}") from exc
        except PriorError as exc:
            text = str(exc)
            if where == "[model]":
                where = self._override_origin(text)
            if text.startswith(f"{self.label}:"):  # already located by the template loader
                raise SpecError(text) from exc
            raise SpecError(f"{self.label}: {where}: {text}") from exc
        except (DataError, BuildError) as exc:
            if where == "[model]" and self.model.weights is not None \
                    and str(exc).startswith("weights"):
                where = "[model] weights"  # the weights column is missing or has bad values
            raise SpecError(f"{self.label}: {where}: {exc}") from exc


    def _override_origin(self, message: str) -> str:
        """Where the override a prior error is about is given in the file: the first override
        whose description (``(class='sd', group='county')``) the message names."""
        from hiermodel.priors import set_prior

        if "prior override" not in message:
            return "[priors]"
        for o in self.priors.overrides:
            described = set_prior(o.prior, o.cls, o.term, o.group).describe()
            if f"prior override {described}" in message and o.origin:
                return o.origin
        return "[[priors.override]]"


def canonical_dumps(value: Any) -> str:
    """``value`` as canonical JSON (sorted keys, no whitespace, non-JSON values as ``str``):
    the form :meth:`Spec.canonical_json` hashes and inline templates are stored in."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


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
    "canonical_dumps",
]
