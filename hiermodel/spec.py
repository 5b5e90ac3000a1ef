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
"""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import logging
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hiermodel.errors import (
    BuildError,
    DataError,
    FamilyError,
    FitError,
    FormulaError,
    HiermodelError,
    PriorError,
    SpecError,
    did_you_mean,
)
from hiermodel.model import PriorSpec

if TYPE_CHECKING:
    import pandas as pd

    from hiermodel.model import Model

log = logging.getLogger("hiermodel.spec")

#: Keys of every section (``[data.derive]``, ``[data.types]``, ``[compare.variants]`` and
#: ``[data.dataset_args]`` are free-form tables of their own).
SECTION_KEYS: dict[str, tuple[str, ...]] = {
    "data": ("path", "dataset", "dataset_args", "filter", "derive", "types"),
    "model": ("formula", "family", "link", "dropna", "center_predictors", "parametrization",
              "compress"),
    "priors": ("template", "template_table", "override"),
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

_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


# -- the parsed spec ----------------------------------------------------------------------------

class SpecPriors(PriorSpec):
    """A :class:`~hiermodel.model.PriorSpec` that prints briefly: ``template 'x' + 2
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
    target_accept: float = 0.9
    cores: int | None = None


@dataclass(frozen=True)
class CompareSpec:
    """``[compare]``: options of :func:`hiermodel.compare.compare`."""

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
        return _canonical_json(self.to_dict())

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
            with self._located("[priors]"):
                template = load_template_from_dict(
                    f"{self.name} (inline)", json.loads(p.template_table), source=self.label,
                    key_prefix="priors.template_table.", base_dir=self.directory)
        elif p.template_path is not None:
            template = p.template_path
        else:
            template = p.template
        overrides = []
        for i, o in enumerate(p.overrides, start=1):
            with self._located(f"[[priors.override]] #{i}"):
                overrides.append(set_prior(o.prior, o.cls, o.term, o.group))
        return SpecPriors(template=template, overrides=tuple(overrides))

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`hm.model` (everything but formula and data)."""
        m = self.model
        return {"family": m.family, "link": m.link, "priors": self.prior_spec(),
                "dropna": m.dropna, "center_predictors": m.center_predictors,
                "parametrization": m.parametrization_arg(), "compress": m.compress}

    def sampler_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Model.fit` (draws, tune, chains, seed, ...)."""
        s = self.sampler
        return {"draws": s.draws, "tune": s.tune, "chains": s.chains, "seed": s.seed,
                "backend": s.backend, "target_accept": s.target_accept, "cores": s.cores}

    def load_data(self) -> pd.DataFrame:
        """The data as the model sees it.

        Steps, in order: read ``path`` (CSV/Parquet) or call the built-in ``dataset``; convert
        the columns named in ``[data.types]``; keep the rows matching ``filter`` (a pandas
        query); add the ``[data.derive]`` columns (R expressions, in file order; a type given
        for a derived column is applied after it is made). The index is reset.
        """
        df = self._read()
        d = self.data
        derived = {name for name, _ in d.derive}
        raw_types = [(c, t) for c, t in d.types if c not in derived]
        for column, kind in raw_types:
            df[column] = self._convert(df, column, kind)
        if d.filter is not None:
            df = self._filter(df, d.filter)
        if d.derive:
            from hiermodel.formula import evaluate_text

            df = df.copy()
            for name, expr in d.derive:
                try:
                    values = evaluate_text(expr, df)
                except HiermodelError as exc:
                    raise SpecError(f"{self.label}: [data.derive] {name} = '{expr}': "
                                    f"{exc}") from exc
                df[name] = values.to_numpy()
        for column, kind in d.types:
            if column in derived:
                df[column] = self._convert(df, column, kind)
        return df.reset_index(drop=True)

    def build(self, data: pd.DataFrame | None = None) -> Model:
        """Translate, check and build the model (no sampling); errors name this spec file."""
        from hiermodel.model import model

        frame = self.load_data() if data is None else data
        kwargs = self.model_kwargs()
        with self._located("[model]"):
            return model(self.model.formula, frame, **kwargs)

    def check(self) -> tuple[pd.DataFrame, Model]:
        """Everything :func:`~hiermodel.runs.run_spec` does before sampling: load the data,
        build the model, translate the ``[compare]`` variants against the data."""
        frame = self.load_data()
        built = self.build(frame)
        if self.compare.variants:
            from hiermodel.formula import translate

            for name, formula in self.compare.variants:
                with self._located(f"[compare.variants] {name}"):
                    translate(formula, columns=list(frame.columns))
        return frame, built

    # -- helpers --------------------------------------------------------------------------------
    @contextmanager
    def _located(self, where: str) -> Iterator[None]:
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
                where = "[[priors.override]]" if "prior override" in text else "[priors]"
            if text.startswith(f"{self.label}:"):  # already located by the template loader
                raise SpecError(text) from exc
            raise SpecError(f"{self.label}: {where}: {text}") from exc
        except (DataError, BuildError) as exc:
            raise SpecError(f"{self.label}: {where}: {exc}") from exc

    def _read(self) -> pd.DataFrame:
        import pandas as pd

        d = self.data
        if d.dataset is not None:
            from hiermodel import datasets

            fn = getattr(datasets, d.dataset)
            try:
                df = fn(**dict(d.dataset_args))
            except HiermodelError as exc:
                raise SpecError(f"{self.label}: [data] dataset_args: {exc}") from exc
            return pd.DataFrame(df)
        assert d.path is not None
        path = d.path
        if not path.is_file():
            raise SpecError(f"{self.label}: [data] path '{d.path_text}' not found "
                            f"(looked in {path.parent})")
        name = path.name.lower()
        try:
            if name.endswith((".parquet", ".pq")):
                try:
                    return pd.read_parquet(path)
                except ImportError as exc:
                    raise SpecError(
                        f"{self.label}: [data] path '{d.path_text}': reading Parquet needs "
                        "pyarrow; install it (pip install 'hiermodel[parquet]') or use a CSV "
                        "file") from exc
            sep = "\t" if name.endswith(".tsv") else ","
            return pd.read_csv(path, sep=sep)
        except SpecError:
            raise
        except Exception as exc:  # pandas raises many types for unreadable files
            raise SpecError(f"{self.label}: [data] path '{d.path_text}': cannot read the file: "
                            f"{type(exc).__name__}: {exc}") from exc

    def _filter(self, df: pd.DataFrame, query: str) -> pd.DataFrame:
        try:
            out = df.query(query)
        except Exception as exc:  # SyntaxError, NameError (undefined column), TypeError, ...
            hint = ""
            name = getattr(exc, "args", [""])[0]
            m = re.search(r"name '([^']+)' is not defined", str(name))
            if m:
                hint = did_you_mean(m.group(1), [str(c) for c in df.columns])
            raise SpecError(f"{self.label}: [data] filter '{query}' failed: "
                            f"{type(exc).__name__}: {exc}{hint}") from exc
        if len(out) == 0:
            raise SpecError(f"{self.label}: [data] filter '{query}' keeps none of the "
                            f"{len(df)} rows")
        log.debug("%s: filter %r kept %d of %d rows", self.label, query, len(out), len(df))
        return out

    def _convert(self, df: pd.DataFrame, column: str, kind: str) -> pd.Series:
        import numpy as np
        import pandas as pd

        where = f"{self.label}: [data.types] {column} = '{kind}'"
        if column not in df.columns:
            cols = [str(c) for c in df.columns]
            raise SpecError(f"{where}: no column '{column}' in the data"
                            f"{did_you_mean(column, cols)}; columns: {', '.join(cols)}")
        s = df[column]
        if kind == "categorical":
            return s.astype("category")
        if kind == "numeric":
            converted = pd.to_numeric(s, errors="coerce")
            bad = s[converted.isna() & s.notna()]
            if len(bad):
                raise SpecError(f"{where}: {len(bad)} value(s) are not numbers, e.g. "
                                f"{bad.iloc[0]!r} (row {bad.index[0]})")
            return converted
        # bool
        if s.dtype == bool:
            return s

        def to_bool(v: Any) -> Any:
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return pd.NA
            if isinstance(v, bool | np.bool_):
                return bool(v)
            key = str(v).strip().lower()
            if isinstance(v, int | float | np.integer | np.floating):
                key = "1" if v == 1 else "0" if v == 0 else key
            if key in _TRUE:
                return True
            if key in _FALSE:
                return False
            raise KeyError(v)

        try:
            values = [to_bool(v) for v in s.tolist()]
        except KeyError as exc:
            raise SpecError(f"{where}: value {exc.args[0]!r} is not a truth value (use "
                            "true/false, yes/no, 1/0)") from None
        if any(v is pd.NA for v in values):
            return pd.Series(values, index=s.index, dtype="boolean")
        return pd.Series(values, index=s.index, dtype=bool)


# -- loading and validation ---------------------------------------------------------------------

def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; raises :class:`SpecError` listing every problem.

    Checks the schema (sections, keys, types, ranges), that data and template files exist,
    the dataset name and its arguments, family and link, the formula's syntax, the prior
    template and overrides, the backend and the ``[compare]`` variants. Problems that need
    the data (columns, prior slots) are found by :meth:`Spec.check`.
    """
    label = str(path)
    file = Path(path).expanduser()
    if not file.is_file():
        where = file.parent.resolve() if str(file.parent) else Path.cwd()
        hint = "" if file.suffix == ".toml" else " (spec files end in .toml)"
        raise SpecError(f"spec file '{label}' not found (looked in {where}){hint}")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{label}: cannot read the spec file: {exc}") from None
    return parse_spec(text, file=file, label=label)


def parse_spec(text: str, file: str | Path = "spec.toml", label: str | None = None,
               base_dir: str | Path | None = None) -> Spec:
    """Validate TOML ``text`` as a spec; ``file`` names it, relative paths resolve against
    ``base_dir`` (default: ``file``'s directory)."""
    file = Path(file).expanduser().resolve()
    label = str(file) if label is None else label
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{label}: invalid TOML: {exc}") from None
    base = Path(base_dir).resolve() if base_dir is not None else file.parent
    return _Parser(label, file, base, text).parse(raw)


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def _show(value: Any) -> str:
    """A TOML-looking rendering of a value for messages: 'text', true, 3, [..], {table}."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Parser:
    """Collects every problem of one file, then raises one :class:`SpecError`."""

    def __init__(self, label: str, file: Path, base: Path, text: str) -> None:
        self.label = label
        self.file = file
        self.base = base
        self.text = text
        self.errors: list[str] = []

    # -- reporting ------------------------------------------------------------------------------
    def fail(self, where: str, message: str) -> None:
        self.errors.append(f"{self.label}: {where} {message}" if where
                           else f"{self.label}: {message}")

    def unknown_keys(self, where: str, table: Mapping[str, Any], allowed: tuple[str, ...]
                     ) -> None:
        for key in table:
            if key not in allowed:
                hint = did_you_mean(key, allowed)
                self.fail(where, f"unknown key '{key}'"
                          + (hint or f"; valid keys: {', '.join(allowed)}"))

    def table(self, where: str, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, f"must be a table, got {_show(value)}")
            return {}
        return value

    # -- typed getters (each returns the default after reporting a problem) -------------------
    def string(self, where: str, t: Mapping[str, Any], key: str, default: str | None = None,
               required: bool = False, example: str = "") -> str | None:
        if key not in t:
            if required:
                self.fail(where, f"{key} is required" + (f", e.g. {example}" if example else ""))
            return default
        value = t[key]
        if not isinstance(value, str):
            self.fail(where, f"{key} must be a string, got {_show(value)}")
            return default
        if not value.strip():
            self.fail(where, f"{key} must not be empty")
            return default
        return value.strip()

    def boolean(self, where: str, t: Mapping[str, Any], key: str, default: bool) -> bool:
        if key not in t:
            return default
        value = t[key]
        if not isinstance(value, bool):
            self.fail(where, f"{key} must be true or false, got {_show(value)}")
            return default
        return value

    def integer(self, where: str, t: Mapping[str, Any], key: str, default: int | None,
                minimum: int) -> int | None:
        if key not in t:
            return default
        value = t[key]
        if not _is_int(value) or value < minimum:
            kind = {0: "a non-negative integer", 1: "a positive integer"}.get(
                minimum, f"an integer >= {minimum}")
            self.fail(where, f"{key} must be {kind}, got {_show(value)}")
            return default
        return int(value)

    # -- sections -------------------------------------------------------------------------------
    def parse(self, raw: dict[str, Any]) -> Spec:
        known = tuple(SECTION_KEYS)
        for key, value in raw.items():
            if key in SECTION_KEYS or key in TOP_LEVEL_KEYS:
                continue
            if isinstance(value, dict):
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                self.fail("", f"unknown section [{key}]"
                          + (f"; did you mean [{close[0]}]?" if close
                             else f"; sections: {', '.join(f'[{s}]' for s in known)}"))
            else:
                home = [s for s, keys in SECTION_KEYS.items() if key in keys]
                fix = (f"; did you mean [{home[0]}] {key}? Put it under the [{home[0]}] header"
                       if home else did_you_mean(key, TOP_LEVEL_KEYS)
                       or f"; keys go in a section: {', '.join(f'[{s}]' for s in known)}")
                self.fail("", f"unknown top-level key '{key}'{fix}")
        description = raw.get("description", "")
        if not isinstance(description, str):
            self.fail("", f"description must be a string, got {_show(description)}")
            description = ""

        data = self.data(self.table("[data]", raw.get("data")), "data" in raw)
        model = self.model(self.table("[model]", raw.get("model")), "model" in raw)
        priors = self.priors(self.table("[priors]", raw.get("priors")))
        sampler = self.sampler(self.table("[sampler]", raw.get("sampler")))
        compare = self.compare(self.table("[compare]", raw.get("compare")),
                               model.formula if model else "")
        output = self.output(self.table("[output]", raw.get("output")))
        if self.errors:
            raise SpecError("\n".join(self.errors))
        assert data is not None and model is not None
        spec = Spec(file=self.file, label=self.label, data=data, model=model, priors=priors,
                    sampler=sampler, compare=compare, output=output, description=description,
                    text=self.text, base_dir=self.base)
        # Template tables and override texts are checked by building the PriorSpec once.
        spec.prior_spec()
        return spec

    def data(self, t: dict[str, Any], present: bool) -> DataSpec | None:
        w = "[data]"
        if not present:
            self.fail("", "missing section [data]; add [data] with path = \"file.csv\" (CSV or "
                          "Parquet, relative to the spec file) or dataset = \"<name>\"")
            return None
        self.unknown_keys(w, t, SECTION_KEYS["data"])
        path_text = self.string(w, t, "path")
        dataset = self.string(w, t, "dataset")
        out_path: Path | None = None
        args: dict[str, Any] = {}
        if path_text is not None and dataset is not None:
            self.fail(w, "give either path or dataset, not both")
        elif path_text is None and dataset is None:
            if "path" not in t and "dataset" not in t:
                self.fail(w, "needs path = \"file.csv\" (CSV or Parquet, relative to the spec "
                             "file) or dataset = \"<name>\" (built-in: "
                             f"{', '.join(_dataset_names())})")
        elif path_text is not None:
            out_path = (self.base / Path(path_text).expanduser()).resolve()
            lower = path_text.lower()
            if not lower.endswith(DATA_SUFFIXES):
                self.fail(w, f"path '{path_text}' must be a CSV (.csv, .csv.gz, .tsv) or "
                             "Parquet (.parquet, .pq) file")
            elif not out_path.is_file():
                self.fail(w, f"path '{path_text}' not found (looked in {out_path.parent})")
        if "dataset_args" in t and dataset is None:
            self.fail(w, "dataset_args is only used with dataset = \"<name>\"")
        if dataset is not None:
            names = _dataset_names()
            if dataset not in names:
                self.fail(w, f"unknown dataset '{dataset}'"
                          + (did_you_mean(dataset, names) or f"; built-in: {', '.join(names)}"))
            else:
                args = self.table("[data] dataset_args", t.get("dataset_args"))
                params = _dataset_params(dataset)
                for key in args:
                    if key not in params:
                        valid = ", ".join(params) if params else "none"
                        self.fail("[data] dataset_args",
                                  f"unknown argument '{key}' of dataset '{dataset}'"
                                  + (did_you_mean(key, params) or f"; arguments: {valid}"))
        query = self.string(w, t, "filter")
        derive = self.table("[data.derive]", t.get("derive"))
        derived: list[tuple[str, str]] = []
        for name, expr in derive.items():
            if not isinstance(expr, str) or not expr.strip():
                self.fail("[data.derive]", f"{name} must be an R expression as a string, e.g. "
                          f"{name} = \"log(x + 0.1)\", got {_show(expr)}")
                continue
            try:
                from hiermodel.formula import parse_expression

                parse_expression(expr)
            except FormulaError as exc:
                self.fail("[data.derive]", f"{name} = '{expr}': {exc}")
                continue
            derived.append((str(name), expr.strip()))
        types = self.table("[data.types]", t.get("types"))
        typed: list[tuple[str, str]] = []
        for column, kind in types.items():
            if kind not in COLUMN_TYPES:
                hint = did_you_mean(kind, COLUMN_TYPES) if isinstance(kind, str) else ""
                self.fail("[data.types]", f"{column} must be one of "
                          f"{', '.join(repr(k) for k in COLUMN_TYPES)}, got {_show(kind)}{hint}")
                continue
            typed.append((str(column), kind))
        return DataSpec(path=out_path, path_text=path_text, dataset=dataset,
                        dataset_args=tuple(sorted(args.items())), filter=query,
                        derive=tuple(derived), types=tuple(typed))

    def model(self, t: dict[str, Any], present: bool) -> ModelSpec | None:
        w = "[model]"
        if not present:
            self.fail("", "missing section [model]; add [model] with "
                          "formula = \"y ~ x + (1 | group)\"")
            return None
        self.unknown_keys(w, t, SECTION_KEYS["model"])
        formula = self.string(w, t, "formula", required=True,
                              example="formula = \"y ~ x + (1 | group)\"")
        if formula is not None:
            self.check_formula(f"{w} formula:", formula)
        family = self.string(w, t, "family", "gaussian") or "gaussian"
        link = self.string(w, t, "link")
        try:
            from hiermodel.families import get_family

            get_family(family, link)
        except FamilyError as exc:
            self.fail(w, f"family/link: {exc}")
        dropna = self.boolean(w, t, "dropna", False)
        center = self.boolean(w, t, "center_predictors", True)
        param: str | tuple[tuple[str, str], ...] = "auto"
        if "parametrization" in t:
            value = t["parametrization"]
            if isinstance(value, str) and value in PARAMETRIZATIONS:
                param = value
            elif isinstance(value, dict):
                pairs = []
                for group, choice in value.items():
                    if choice not in PARAMETRIZATIONS:
                        self.fail(w, f"parametrization.{group} must be one of "
                                  f"{', '.join(repr(p) for p in PARAMETRIZATIONS)}, got "
                                  f"{_show(choice)}")
                    else:
                        pairs.append((str(group), str(choice)))
                param = tuple(pairs)
            else:
                hint = did_you_mean(value, PARAMETRIZATIONS) if isinstance(value, str) else ""
                self.fail(w, "parametrization must be 'auto', 'centered', 'noncentered' or a "
                          f"table group -> choice, got {_show(value)}{hint}")
        compress: bool | str = "auto"
        if "compress" in t:
            value = t["compress"]
            if isinstance(value, bool) or value == "auto":
                compress = value
            else:
                self.fail(w, f"compress must be true, false or 'auto', got {_show(value)}")
        if formula is None:
            return None
        return ModelSpec(formula=formula, family=family, link=link, dropna=dropna,
                         center_predictors=center, parametrization=param, compress=compress)

    def check_formula(self, where: str, formula: str) -> None:
        try:
            from hiermodel.formula import translate

            translate(formula)
        except (FormulaError, DataError) as exc:
            self.fail(where, str(exc))

    def priors(self, t: dict[str, Any]) -> PriorsSpec:
        w = "[priors]"
        self.unknown_keys(w, t, SECTION_KEYS["priors"])
        template = t.get("template")
        table = t.get("template_table")
        if isinstance(template, dict):  # [priors.template] as an inline table (docs/priors.md)
            if table is not None:
                self.fail(w, "give the inline template as [priors.template_table] or "
                             "[priors.template], not both")
            table, template = template, None
        out = PriorsSpec()
        if table is not None:
            if template is not None:
                self.fail(w, "give either template = \"<name or file>\" or "
                             "[priors.template_table], not both")
            elif not isinstance(table, dict):
                self.fail(w, f"template_table must be a table, got {_show(table)}")
            else:
                out = PriorsSpec(template=f"{self.file.stem} (inline)",
                                 template_table=_canonical_json(table))
        elif template is not None:
            if not isinstance(template, str) or not template.strip():
                self.fail(w, "template must be a template name (e.g. 'weakly_informative') or "
                          f"a .toml file relative to the spec, got {_show(template)}")
            else:
                out = self.template(template.strip())
        overrides = t.get("override", [])
        if isinstance(overrides, dict):
            overrides = [overrides]
        if not isinstance(overrides, list):
            self.fail(w, "override must be an array of tables ([[priors.override]] entries), "
                      f"got {_show(overrides)}")
            overrides = []
        parsed: list[OverrideSpec] = []
        for i, entry in enumerate(overrides, start=1):
            where = f"[[priors.override]] #{i}"
            if not isinstance(entry, dict):
                self.fail(where, f"must be a table with prior, class, term, group; got "
                          f"{_show(entry)}")
                continue
            self.unknown_keys(where, entry, OVERRIDE_KEYS)
            prior = self.string(where, entry, "prior", required=True,
                                example="prior = \"normal(0, 1)\"")
            cls = self.string(where, entry, "class", "b") or "b"
            term = self.string(where, entry, "term", "") or ""
            group = self.string(where, entry, "group", "") or ""
            if prior is None:
                continue
            try:
                from hiermodel.priors import set_prior

                set_prior(prior, cls, term, group)
            except PriorError as exc:
                self.fail(f"{where}:", str(exc))
                continue
            parsed.append(OverrideSpec(prior=prior, cls=cls, term=term, group=group))
        return PriorsSpec(template=out.template, template_path=out.template_path,
                          template_sha256=out.template_sha256,
                          template_table=out.template_table, overrides=tuple(parsed))

    def template(self, text: str) -> PriorsSpec:
        w = "[priors]"
        from hiermodel.priors import builtin_names, load_template

        is_path = text.endswith(".toml") or "/" in text or "\\" in text
        if not is_path:
            names = builtin_names()
            if text not in names:
                self.fail(w, f"unknown template '{text}'"
                          + (did_you_mean(text, names)
                             or f"; shipped templates: {', '.join(names)}, or a .toml file "
                             "relative to the spec"))
            return PriorsSpec(template=text)
        path = (self.base / Path(text).expanduser()).resolve()
        if not path.is_file():
            self.fail(w, f"template file '{text}' not found (looked in {path.parent})")
            return PriorsSpec(template=text)
        try:
            load_template(path)
        except PriorError as exc:
            self.fail(w, f"template '{text}': {exc}")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return PriorsSpec(template=text, template_path=path, template_sha256=digest)

    def sampler(self, t: dict[str, Any]) -> SamplerSpec:
        w = "[sampler]"
        self.unknown_keys(w, t, SECTION_KEYS["sampler"])
        d = SamplerSpec()
        draws = self.integer(w, t, "draws", d.draws, 1)
        tune = self.integer(w, t, "tune", d.tune, 0)
        chains = self.integer(w, t, "chains", d.chains, 1)
        seed = self.integer(w, t, "seed", None, 0)
        cores = self.integer(w, t, "cores", None, 1)
        backend = self.string(w, t, "backend", d.backend) or d.backend
        from hiermodel.fit import BACKENDS, _check_backend

        if backend not in BACKENDS:
            self.fail(w, f"unknown backend '{backend}'"
                      + (did_you_mean(backend, BACKENDS)
                         or f"; choose one of: {', '.join(BACKENDS)}"))
        else:
            try:
                _check_backend(backend)
            except FitError as exc:
                self.fail(w, f"backend: {exc}")
        target_accept = d.target_accept
        if "target_accept" in t:
            value = t["target_accept"]
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not 0 < value < 1):
                self.fail(w, f"target_accept must be a number between 0 and 1 (exclusive), got "
                          f"{_show(value)}")
            else:
                target_accept = float(value)
        return SamplerSpec(draws=draws or d.draws, tune=d.tune if tune is None else tune,
                           chains=chains or d.chains, seed=seed, backend=backend,
                           target_accept=target_accept, cores=cores)

    def compare(self, t: dict[str, Any], formula: str | None) -> CompareSpec:
        w = "[compare]"
        self.unknown_keys(w, t, SECTION_KEYS["compare"])
        variants = self.table("[compare.variants]", t.get("variants"))
        pairs: list[tuple[str, str]] = []
        for name, text in variants.items():
            where = "[compare.variants]"
            if not _VARIANT_NAME.match(name):
                self.fail(where, f"variant name '{name}' must be letters, digits, '_', '.' or "
                                 "'-' (it names output files)")
                continue
            if not isinstance(text, str) or "~" not in text:
                self.fail(where, f"{name} must be a formula string with '~', e.g. "
                          f"{name} = \"y ~ 0 + group\", got {_show(text)}")
                continue
            if name == "hierarchical" and formula and text.strip() != formula.strip():
                self.fail(where, "hierarchical is the [model] formula; change [model] formula "
                                 "instead, or give this variant another name")
                continue
            self.check_formula(f"{where} {name}:", text)
            pairs.append((name, text.strip()))
        d = CompareSpec()
        group = self.string(w, t, "group")
        effect = self.string(w, t, "effect")
        logo: bool | str = d.logo
        if "logo" in t:
            value = t["logo"]
            if isinstance(value, bool) or value in LOGO_CHOICES:
                logo = value
            else:
                self.fail(w, "logo must be true, false, 'auto', 'exact' or 'kfold', got "
                          f"{_show(value)}")
        max_groups = self.integer(w, t, "logo_max_groups", d.logo_max_groups, 2)
        logo_folds = self.integer(w, t, "logo_folds", None, 2)
        logo_draws = self.integer(w, t, "logo_draws", None, 1)
        logo_tune = self.integer(w, t, "logo_tune", None, 0)
        return CompareSpec(variants=tuple(pairs), group=group, effect=effect, logo=logo,
                           logo_max_groups=max_groups or d.logo_max_groups,
                           logo_folds=logo_folds, logo_draws=logo_draws, logo_tune=logo_tune)

    def output(self, t: dict[str, Any]) -> OutputSpec | None:
        w = "[output]"
        self.unknown_keys(w, t, SECTION_KEYS["output"])
        text = self.string(w, t, "dir")
        if text is None:
            return None
        return OutputSpec(dir=(self.base / Path(text).expanduser()).resolve(), dir_text=text)


def _dataset_names() -> list[str]:
    from hiermodel.datasets import list_datasets

    return sorted(list_datasets())


def _dataset_params(name: str) -> list[str]:
    from hiermodel import datasets

    fn: Callable[..., Any] = getattr(datasets, name)
    return [p for p in inspect.signature(fn).parameters]


__all__ = [
    "COLUMN_TYPES",
    "SECTION_KEYS",
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
