"""Parsing and validation of spec files: TOML text in, a frozen :class:`Spec` out.

:func:`load_spec` reads a file, :func:`parse_spec` validates TOML text. The ``_Parser`` checks
every section against the schema in :mod:`hiermodel.spec.schema` (keys, types, ranges, files,
dataset names and arguments, family and link, formula syntax, prior template and overrides,
backend, ``[compare]`` variants), collects every problem of a file and raises one
:class:`SpecError`, one problem per line.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hiermodel.errors import (
    DataError,
    FamilyError,
    FitError,
    FormulaError,
    PriorError,
    SpecError,
    did_you_mean,
)
from hiermodel.spec.checks import FileChecker, show_value
from hiermodel.spec.schema import (
    COLUMN_TYPES,
    DATA_SUFFIXES,
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
    canonical_dumps,
)
from hiermodel.spec.sources import DUCKDB_MISSING, dataset_names, dataset_params

_VARIANT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def load_spec(path: str | Path) -> Spec:
    """Read and validate a spec file; raises :class:`SpecError` listing every problem.

    Checks the schema (sections, keys, types, ranges), that data and template files exist,
    the dataset name and its arguments, family and link, the formula's syntax, the prior
    template and overrides, the backend and the ``[compare]`` variants. Problems that need
    the data (columns, prior slots) are found by :meth:`Spec.check`.
    """
    label = str(path)
    try:
        file = Path(path).expanduser()
        found = file.is_file()
    except (ValueError, OSError, RuntimeError) as exc:  # NUL byte, name too long, bad ~user
        raise SpecError(f"spec file {label!r} is not a usable path: {exc}") from None
    if not found:
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


def _has_addition_term(formula: str) -> bool:
    """Does the formula's left side have a ``| weights(...)`` part (False if it does not
    parse: that error is reported on its own)?"""
    from hiermodel.formula import parse
    from hiermodel.formula.ast import BinOp

    try:
        lhs = parse(formula).lhs
    except FormulaError:
        return False
    return isinstance(lhs, BinOp) and lhs.op == "|"


class _Parser(FileChecker):
    """Checks every section of one spec file, then raises one :class:`SpecError`."""

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
            self.fail("", f"description must be a string, got {show_value(description)}")
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
        sql = self.string(w, t, "sql")
        out_path: Path | None = None
        args: dict[str, Any] = {}
        given = [k for k, v in (("path", path_text), ("dataset", dataset), ("sql", sql))
                 if v is not None]
        database_text, database = self.database(w, t, sql)
        if given == ["path", "dataset"]:
            self.fail(w, "give either path or dataset, not both")
        elif len(given) > 1:
            self.fail(w, f"give one of path, dataset or sql, not {' and '.join(given)}")
        elif not given:
            if not {"path", "dataset", "sql"} & set(t):
                self.fail(w, "needs path = \"file.csv\" (CSV or Parquet, relative to the spec "
                             "file) or dataset = \"<name>\" (built-in: "
                             f"{', '.join(dataset_names())})")
        elif path_text is not None:
            out_path = self.path(w, "path", path_text)
            if out_path is not None and not path_text.lower().endswith(DATA_SUFFIXES):
                self.fail(w, f"path '{path_text}' must be a CSV (.csv, .csv.gz, .tsv) or "
                             "Parquet (.parquet, .pq) file")
            elif out_path is not None and not out_path.is_file():
                self.fail(w, f"path '{path_text}' not found (looked in {out_path.parent})")
        if "dataset_args" in t and dataset is None:
            self.fail(w, "dataset_args is only used with dataset = \"<name>\"")
        if dataset is not None:
            names = dataset_names()
            if dataset not in names:
                self.fail(w, f"unknown dataset '{dataset}'"
                          + (did_you_mean(dataset, names) or f"; built-in: {', '.join(names)}"))
            else:
                args = self.table("[data] dataset_args", t.get("dataset_args"))
                params = dataset_params(dataset)
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
                          f"{name} = \"log(x + 0.1)\", got {show_value(expr)}")
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
                          f"{', '.join(repr(k) for k in COLUMN_TYPES)}, got "
                          f"{show_value(kind)}{hint}")
                continue
            typed.append((str(column), kind))
        return DataSpec(path=out_path, path_text=path_text, dataset=dataset,
                        dataset_args=tuple(sorted(args.items())), sql=sql, database=database,
                        database_text=database_text, filter=query,
                        derive=tuple(derived), types=tuple(typed))

    def database(self, w: str, t: Mapping[str, Any], sql: str | None
                 ) -> tuple[str | None, Path | None]:
        """``[data] database``: a DuckDB database file for the ``sql`` query; and whether the
        optional DuckDB dependency is there when ``sql`` is given."""
        text = self.string(w, t, "database")
        if sql is not None and importlib.util.find_spec("duckdb") is None:
            self.fail(w, f"sql needs DuckDB, which is not installed: {DUCKDB_MISSING}")
        if text is None:
            return None, None
        if sql is None:
            self.fail(w, f"database {show_value(text)} is read by a query: add "
                         "sql = \"select ... from <table>\"")
            return text, None
        path = self.path(w, "database", text)
        if path is not None and not path.is_file():
            self.fail(w, f"database '{text}' not found (looked in {path.parent})")
        return text, path

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
                                  f"{show_value(choice)}")
                    else:
                        pairs.append((str(group), str(choice)))
                param = tuple(pairs)
            else:
                hint = did_you_mean(value, PARAMETRIZATIONS) if isinstance(value, str) else ""
                self.fail(w, "parametrization must be 'auto', 'centered', 'noncentered' or a "
                          f"table group -> choice, got {show_value(value)}{hint}")
        compress: bool | str = "auto"
        if "compress" in t:
            value = t["compress"]
            if isinstance(value, bool) or value == "auto":
                compress = value
            else:
                self.fail(w, f"compress must be true, false or 'auto', got {show_value(value)}")
        aux = self.aux_formulas(f"{w[:-1]}.aux]", t.get("aux"), family, link, formula)
        weights = self.string(w, t, "weights")
        if formula is None:
            return None
        if weights is not None and _has_addition_term(formula):
            self.fail(w, f"weights = {show_value(weights)}, but the formula already has weights on "
                      f"its left side ('{formula.split('~')[0].strip()}'); keep one of them")
        return ModelSpec(formula=formula, family=family, link=link, dropna=dropna,
                         center_predictors=center, parametrization=param, compress=compress,
                         weights=weights, aux=aux)

    def aux_formulas(self, w: str, value: Any, family: str, link: str | None,
                     formula: str | None) -> tuple[tuple[str, str], ...]:
        """``[model.aux]``: auxiliary parameter -> one-sided formula (``sigma = "~ x"``)."""
        if value is None:
            return ()
        t = self.table(w, value)
        out: list[tuple[str, str]] = []
        for name, text in t.items():
            if not isinstance(text, str):
                self.fail(w, f"{name}: must be a one-sided formula string such as "
                             f"\"~ x\", got {show_value(text)}")
                continue
            try:
                from hiermodel.families import get_family
                from hiermodel.formula.distributional import split_formulas

                fam = get_family(family, link)
                split_formulas(formula or "y ~ 1", {str(name): text}, fam.aux, fam.name)
                self.check_formula(f"{w} {name}:", f"y ~ {text.split('~', 1)[1]}")
            except (FormulaError, FamilyError) as exc:
                self.fail(w, f"{name}: {exc}")
                continue
            out.append((str(name), text))
        return tuple(out)

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
                self.fail(w, f"template_table must be a table, got {show_value(table)}")
            else:
                out = PriorsSpec(template=f"{self.file.stem} (inline)",
                                 template_table=canonical_dumps(table))
        elif template is not None:
            if not isinstance(template, str) or not template.strip():
                self.fail(w, "template must be a template name (e.g. 'weakly_informative') or "
                          f"a .toml file relative to the spec, got {show_value(template)}")
            else:
                out = self.template(template.strip())
        overrides = t.get("override", [])
        if isinstance(overrides, dict):
            overrides = [overrides]
        if not isinstance(overrides, list):
            self.fail(w, "override must be an array of tables ([[priors.override]] entries), "
                      f"got {show_value(overrides)}")
            overrides = []
        parsed: list[OverrideSpec] = []
        for i, entry in enumerate(overrides, start=1):
            where = f"[[priors.override]] #{i}"
            if not isinstance(entry, dict):
                self.fail(where, f"must be a table with prior, class, term, group; got "
                          f"{show_value(entry)}")
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
        parsed += self.prior_settings(self.table("[priors.set]", t.get("set")), parsed)
        return PriorsSpec(template=out.template, template_path=out.template_path,
                          template_sha256=out.template_sha256,
                          template_table=out.template_table, overrides=tuple(parsed))

    def prior_settings(self, t: Mapping[str, Any], overrides: list[OverrideSpec]
                       ) -> list[OverrideSpec]:
        """``[priors.set]``: parameter name (``Intercept``, ``b_x``, ``sd_g``, ``sd_g__x``,
        ``cor_g``, ``sigma``, a class) -> prior text, as overrides."""
        from hiermodel.priors import parameter_slot, set_prior

        given: dict[tuple[str, str, str], str] = {}
        for i, o in enumerate(overrides, start=1):  # already checked: set_prior succeeds
            c = set_prior(o.prior, o.cls, o.term, o.group)
            given[(c.cls, c.term, c.group)] = f"[[priors.override]] #{i}"
        out: list[OverrideSpec] = []
        for key, prior in t.items():
            where = f"[priors.set] {key}"
            if not isinstance(prior, str) or not prior.strip():
                self.fail(where, f"must be a prior as a string, e.g. {key} = \"normal(0, 1)\", "
                          f"got {show_value(prior)}")
                continue
            try:
                cls, term, group = parameter_slot(key)
                override = set_prior(prior, cls, term, group)
            except PriorError as exc:
                self.fail(f"{where}:", str(exc))
                continue
            slot = (override.cls, override.term, override.group)
            if slot in given:
                self.fail(where, f"sets the prior {override.describe()} that {given[slot]} "
                          "sets too; keep one of them")
                continue
            given[slot] = where
            out.append(OverrideSpec(prior=prior.strip(), cls=override.cls, term=override.term,
                                    group=override.group, origin=where))
        return out

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
        path = self.path(w, "template", text)
        if path is None:
            return PriorsSpec(template=text)
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
        from hiermodel.backend.sampling import BACKENDS, check_backend

        if backend not in BACKENDS:
            self.fail(w, f"unknown backend '{backend}'"
                      + (did_you_mean(backend, BACKENDS)
                         or f"; choose one of: {', '.join(BACKENDS)}"))
        else:
            try:
                check_backend(backend)
            except FitError as exc:
                self.fail(w, f"backend: {exc}")
        target_accept = d.target_accept
        if "target_accept" in t:
            value = t["target_accept"]
            if value == "auto":
                target_accept = "auto"
            elif (isinstance(value, bool) or not isinstance(value, int | float)
                    or not 0 < value < 1):
                self.fail(w, f"target_accept must be \"auto\" or a number between 0 and 1 "
                          f"(exclusive), got {show_value(value)}")
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
                          f"{name} = \"y ~ 0 + group\", got {show_value(text)}")
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
                          f"{show_value(value)}")
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
        path = None if text is None else self.path(w, "dir", text)
        if text is None or path is None:
            return None
        return OutputSpec(dir=path, dir_text=text)


__all__ = ["load_spec", "parse_spec"]
