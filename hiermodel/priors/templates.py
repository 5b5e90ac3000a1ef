"""Prior templates: TOML data files that say, per parameter class, which prior to use.

A template file looks like this (the full schema is in ``docs/priors.md``)::

    [template]
    name = "weakly_informative"
    description = "Data-scaled weakly informative priors"
    # extends = "other_template"      # optional: start from another template

    [vars]                            # optional named numbers or expressions
    scale = 2.5

    [priors.b]                        # one table per class ...
    dist = "Normal"
    mu = 0
    sigma = "scale * sd_y / sd_x"     # number or arithmetic expression

    [priors]                          # ... or a one-line prior string per class
    sigma = "Exponential(1 / sd_y)"
    alpha = { from = "bambi" }        # use Bambi's automatic prior for this class

Shipped templates live in ``hiermodel/priors/templates/*.toml`` and are found through
:mod:`importlib.resources`; users can pass a path to their own file or a table from a spec file.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from hiermodel.errors import PriorError, did_you_mean
from hiermodel.priors.dist import (
    CLASSES,
    DistSpec,
    Prior,
    dist_spec,
    dist_support_ok,
    make_prior,
    parse_prior_call,
    support_error,
)
from hiermodel.priors.expr import FUNCTIONS, Expr

DEFAULT_TEMPLATE = "weakly_informative"

#: Response-level numbers the build stage passes as ``model_stats``.
MODEL_STATS: tuple[str, ...] = ("mean_y", "sd_y", "mad_y", "n_obs", "gaussian_identity")

#: Per-slot numbers (``Slot.stats``) a template may use, by class.
SLOT_STATS: dict[str, tuple[str, ...]] = {
    "Intercept": (),
    "b": ("sd_x", "mean_x"),
    "sd": ("sd_x", "mean_x", "n_levels"),
    "cor": ("dim",),
    "sigma": (),
    "nu": (),
    "alpha": (),
    "phi": (),
    "zi": (),
    "hu": (),
}

_RESERVED = set(MODEL_STATS) | {n for names in SLOT_STATS.values() for n in names} | set(FUNCTIONS)
_TOP_KEYS = ("template", "vars", "priors")
_HEADER_KEYS = ("name", "description", "extends")


@dataclass(frozen=True)
class ClassRule:
    """What a template says for one parameter class."""

    cls: str
    dist: str | None  # canonical PyMC name; None when ``from_bambi``
    params: tuple[tuple[str, Expr], ...] = ()
    from_bambi: bool = False
    where: str = ""  # "weakly_informative.toml: [priors.b]", for messages
    inline: bool = False  # written as a one-line prior string

    def param_where(self, param: str) -> str:
        return f"{self.where} ({param})" if self.inline else f"{self.where} {param}"

    def describe(self) -> str:
        """``Normal(mu = mean_y, sigma = 2.5 * sd_y)`` or ``Bambi's automatic prior``."""
        if self.from_bambi:
            return "Bambi's automatic prior (from = \"bambi\")"
        inner = ", ".join(f"{p} = {e.text}" for p, e in self.params)
        return f"{self.dist}({inner})"


@dataclass(frozen=True)
class Template:
    """A loaded, validated prior template (immutable)."""

    name: str
    description: str = ""
    vars: tuple[tuple[str, Expr, str], ...] = ()  # (name, expression, where) in evaluation order
    rules: tuple[ClassRule, ...] = ()
    source: str = ""  # file path, "built-in" file name, or the spec file the table came from
    text: str = ""  # the TOML text (files only)
    extends: str | None = None

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(r.cls for r in self.rules)

    def rule(self, cls: str) -> ClassRule | None:
        for r in self.rules:
            if r.cls == cls:
                return r
        return None

    def var_values(self, model_stats: Mapping[str, float]) -> dict[str, float]:
        """The template's ``[vars]`` evaluated over ``model_stats`` (and each other)."""
        env: dict[str, float] = {k: float(v) for k, v in model_stats.items()}
        out: dict[str, float] = {}
        for name, expr, where in self.vars:
            env[name] = out[name] = expr.evaluate(env, where)
        return out

    def instantiate(self, cls: str, slot_stats: Mapping[str, float],
                    model_stats: Mapping[str, float], var_values: Mapping[str, float] | None = None,
                    slot_label: str = "") -> Prior | None:
        """The numeric prior for one slot of class ``cls``; None if the template defers to
        Bambi (``from = "bambi"``) or does not mention the class."""
        rule = self.rule(cls)
        if rule is None or rule.from_bambi or rule.dist is None:
            return None
        if var_values is None:
            var_values = self.var_values(model_stats)
        env = {**{k: float(v) for k, v in slot_stats.items()},
               **{k: float(v) for k, v in model_stats.items()}, **var_values}
        suffix = f" for {slot_label}" if slot_label else ""
        values = {p: e.evaluate(env, rule.param_where(p) + suffix) for p, e in rule.params}
        return make_prior(rule.dist, values, rule.where + suffix)

    def show(self) -> str:
        """Readable text: description, vars and the formula of every class."""
        lines = [f"{self.name}: {self.description}" if self.description else self.name]
        if self.source:
            lines.append(f"  source: {self.source}")
        if self.extends:
            lines.append(f"  extends: {self.extends}")
        if self.vars:
            lines += ["", "vars:"]
            lines += [f"  {n} = {e.text}" for n, e, _ in self.vars]
        lines += ["", "priors:"]
        width = max(len(c) for c in CLASSES)
        for cls in CLASSES:
            rule = self.rule(cls)
            text = rule.describe() if rule else "not set: Bambi's automatic prior"
            lines.append(f"  {cls:<{width}} ~ {text}")
        lines += [
            "",
            "names: mean_y, sd_y, mad_y, n_obs, gaussian_identity (response; sd_y = 1 and "
            "mean_y = 0 for non-identity links);",
            "       sd_x, mean_x (b and sd: the column's SD and mean, 1 for intercepts); "
            "n_levels (sd); dim (cor)",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.show()


# --- loading ------------------------------------------------------------------------------------


def _templates_dir() -> Any:
    return resources.files("hiermodel.priors").joinpath("templates")


def builtin_names() -> list[str]:
    """Names of the shipped templates, sorted."""
    return sorted(
        p.name[: -len(".toml")] for p in _templates_dir().iterdir() if p.name.endswith(".toml")
    )


def _unknown_template(name: str) -> PriorError:
    names = builtin_names()
    hint = did_you_mean(name, names) or ";"
    return PriorError(
        f"unknown prior template '{name}'{hint} available: {', '.join(names)} "
        f"(or a path to a .toml template file)"
    )


@cache
def _load_builtin(name: str) -> Template:
    return _read_builtin(name, ())


def _read_builtin(name: str, stack: tuple[str, ...]) -> Template:
    if name not in builtin_names():
        raise _unknown_template(name)
    text = _templates_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
    return _from_text(text, file=f"{name}.toml", default_name=name, base_dir=None,
                      source=f"built-in (hiermodel/priors/templates/{name}.toml)",
                      stack=(*stack, name))


def _looks_like_path(text: str) -> bool:
    return text.endswith(".toml") or "/" in text or os.sep in text


def load_template(name_or_path: str | Path | Template) -> Template:
    """A shipped template by name (``"weakly_informative"``), or a user's TOML file by path."""
    return _load(name_or_path, base_dir=None, stack=())


def _load(name_or_path: str | Path | Template, base_dir: Path | None,
          stack: tuple[str, ...]) -> Template:
    if isinstance(name_or_path, Template):
        return name_or_path
    if isinstance(name_or_path, Path) or (
        isinstance(name_or_path, str) and _looks_like_path(name_or_path)
    ):
        path = Path(name_or_path)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        return _load_file(path, stack)
    if not isinstance(name_or_path, str):
        raise PriorError(
            f"a prior template must be a name, a path or a Template, got "
            f"{type(name_or_path).__name__} {name_or_path!r}"
        )
    name = name_or_path.strip()
    if name in stack:
        raise PriorError(f"prior template '{name}' extends itself: {' -> '.join((*stack, name))}")
    return _read_builtin(name, stack) if stack else _load_builtin(name)


def _load_file(path: Path, stack: tuple[str, ...]) -> Template:
    label = str(path)
    key = str(path.resolve())
    if key in stack:
        raise PriorError(f"prior template '{label}' extends itself: "
                         f"{' -> '.join((*stack, key))}")
    if not path.is_file():
        raise PriorError(f"prior template file '{label}' not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PriorError(f"cannot read prior template file '{label}': {exc}") from None
    return _from_text(text, file=label, default_name=path.stem, base_dir=path.parent,
                      source=label, stack=(*stack, key))


def load_template_from_dict(name: str, mapping: Mapping[str, Any], source: str = "<dict>",
                            key_prefix: str = "", base_dir: str | Path | None = None) -> Template:
    """A template from an already-parsed TOML table (e.g. ``[priors.template]`` in a spec file).

    ``mapping`` has the template-file schema (``[template]`` header optional). Messages locate
    problems as ``{source}: [{key_prefix}priors.b] sigma``, so a spec loader passes e.g.
    ``source="model.toml", key_prefix="priors.template."``. A relative ``extends`` path is
    resolved against ``base_dir`` (default: the directory of ``source`` if it is a file).
    """
    if base_dir is None:
        src = Path(source)
        base_dir = src.parent if src.suffix == ".toml" else Path.cwd()
    return _from_mapping(mapping, file=source, prefix=key_prefix, default_name=name,
                         base_dir=Path(base_dir), source=source, text="", stack=())


def _from_text(text: str, file: str, default_name: str, base_dir: Path | None, source: str,
               stack: tuple[str, ...]) -> Template:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriorError(f"{file}: invalid TOML: {exc}") from None
    return _from_mapping(data, file=file, prefix="", default_name=default_name,
                         base_dir=base_dir, source=source, text=text, stack=stack)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _from_mapping(data: Mapping[str, Any], file: str, prefix: str, default_name: str,
                  base_dir: Path | None, source: str, text: str,
                  stack: tuple[str, ...]) -> Template:
    def kp(path: str) -> str:
        return f"{file}: [{prefix}{path}]"

    if not isinstance(data, Mapping):
        raise PriorError(f"{file}: a prior template must be a table, got {type(data).__name__}")
    top = f"{file}: [{prefix.rstrip('.')}]" if prefix else f"{file}:"
    for key in data:
        if key not in _TOP_KEYS:
            hint = did_you_mean(str(key), _TOP_KEYS) or ";"
            raise PriorError(f"{top} unknown key '{key}'{hint} allowed: {', '.join(_TOP_KEYS)}")

    header = data.get("template", {})
    if not isinstance(header, Mapping):
        raise PriorError(f"{kp('template')} must be a table")
    for key, value in header.items():
        if key not in _HEADER_KEYS:
            hint = did_you_mean(str(key), _HEADER_KEYS) or ";"
            raise PriorError(
                f"{kp('template')} unknown key '{key}'{hint} allowed: {', '.join(_HEADER_KEYS)}"
            )
        if not isinstance(value, str):
            raise PriorError(f"{kp('template')} {key} must be a string, got {value!r}")
    name = str(header.get("name", default_name)).strip() or default_name
    description = str(header.get("description", "")).strip()
    extends = header.get("extends")

    base: Template | None = None
    if extends is not None:
        try:
            base = _load(extends, base_dir=base_dir, stack=stack or (source,))
        except PriorError as exc:
            raise PriorError(f"{kp('template')} extends: {exc}") from None

    # [vars]
    raw_vars = data.get("vars", {})
    if not isinstance(raw_vars, Mapping):
        raise PriorError(f"{kp('vars')} must be a table of numbers or expressions")
    own_vars: dict[str, tuple[Expr, str]] = {}
    for vname, value in raw_vars.items():
        where = f"{kp('vars')} {vname}"
        if not str(vname).isidentifier():
            raise PriorError(f"{where}: a variable name must be an identifier (letters, digits, _)")
        if vname in _RESERVED:
            raise PriorError(f"{where}: '{vname}' is a built-in name; choose another variable name")
        own_vars[vname] = (Expr.compile(value, where), where)
    var_list = _merge_vars(base.vars if base else (), own_vars)
    var_names = {n for n, _, _ in var_list}
    for _, expr, where in var_list:
        expr.check_names(set(MODEL_STATS) | var_names, where)

    # [priors]
    raw_priors = data.get("priors")
    if raw_priors is None:
        if base is None:
            raise PriorError(f"{top} missing [{prefix}priors] table (one entry per class: "
                             f"{', '.join(CLASSES)})")
        raw_priors = {}
    if not isinstance(raw_priors, Mapping):
        raise PriorError(f"{kp('priors')} must be a table with one entry per class")
    rules: dict[str, ClassRule] = {r.cls: r for r in base.rules} if base else {}
    for cls, entry in raw_priors.items():
        if cls not in CLASSES:
            hint = did_you_mean(str(cls), CLASSES) or ";"
            raise PriorError(
                f"{kp('priors')} unknown class '{cls}'{hint} valid: {', '.join(CLASSES)}"
            )
        rules[cls] = _rule(cls, entry, kp, var_names)
    ordered = tuple(rules[c] for c in CLASSES if c in rules)
    return Template(name=name, description=description, vars=var_list, rules=ordered,
                    source=source, text=text,
                    extends=(base.name if base else None))


def _merge_vars(base: tuple[tuple[str, Expr, str], ...],
                own: Mapping[str, tuple[Expr, str]]) -> tuple[tuple[str, Expr, str], ...]:
    """Base vars then own vars (own replace same-named ones), sorted so each is evaluated
    after the vars it uses; a circular definition is an error."""
    merged: dict[str, tuple[Expr, str]] = {n: (e, w) for n, e, w in base}
    merged.update(own)
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = visiting, 2 = done

    def visit(name: str, path: tuple[str, ...]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join((*path[path.index(name):], name))
            raise PriorError(f"{merged[name][1]}: circular definition {cycle}")
        state[name] = 1
        for dep in sorted(merged[name][0].names):
            if dep in merged:
                visit(dep, (*path, name))
        state[name] = 2
        order.append(name)

    for name in merged:
        visit(name, ())
    return tuple((n, merged[n][0], merged[n][1]) for n in order)


def _rule(cls: str, entry: Any, kp: Any, var_names: set[str]) -> ClassRule:
    allowed = set(MODEL_STATS) | set(SLOT_STATS[cls]) | var_names
    if isinstance(entry, str):
        where = f"{kp('priors')} {cls}"
        spec, parsed = parse_prior_call(entry, where)
        for _, expr in parsed:
            expr.check_names(allowed, where)
        rule = ClassRule(cls, spec.name, parsed, where=where, inline=True)
        _check_rule(rule, spec)
        return rule
    where = kp(f"priors.{cls}")
    if not isinstance(entry, Mapping):
        raise PriorError(f"{where} must be a table (dist = ..., parameters) or a prior string "
                         f"like \"Normal(0, 2.5 * sd_y)\", got {entry!r}")
    if "from" in entry:
        if entry["from"] != "bambi":
            raise PriorError(f"{where} from: only \"bambi\" is supported (Bambi's automatic "
                             f"prior), got {entry['from']!r}")
        extra = [k for k in entry if k != "from"]
        if extra:
            raise PriorError(f"{where} from = \"bambi\" cannot be combined with '{extra[0]}'")
        return ClassRule(cls, None, (), from_bambi=True, where=where)
    if "dist" not in entry:
        raise PriorError(f"{where} missing 'dist' (e.g. dist = \"Normal\"), or write "
                         f"from = \"bambi\" to use Bambi's automatic prior")
    dist = entry["dist"]
    if not isinstance(dist, str):
        raise PriorError(f"{where} dist must be a string like \"Normal\", got {dist!r}")
    spec = dist_spec(dist, f"{where} dist")
    params: dict[str, Expr] = {}
    for key, value in entry.items():
        if key == "dist":
            continue
        if key not in spec.params:
            hint = did_you_mean(str(key), spec.params) or ";"
            raise PriorError(f"{where} unknown parameter '{key}' for {spec.name}{hint} valid: "
                             f"{', '.join(spec.params) or 'none'}")
        pw = f"{where} {key}"
        expr = Expr.compile(value, pw)
        expr.check_names(allowed, pw)
        params[key] = expr
    missing = [p for p in spec.params if p not in params]
    if missing:
        raise PriorError(f"{where} {spec.name} needs parameters ({', '.join(spec.params)}); "
                         f"missing {', '.join(repr(m) for m in missing)}")
    rule = ClassRule(cls, spec.name, tuple((p, params[p]) for p in spec.params), where=where)
    _check_rule(rule, spec)
    return rule


def _check_rule(rule: ClassRule, spec: DistSpec) -> None:
    """Support must fit the class; constant parameters must be valid now, not at fit time."""
    if not dist_support_ok(spec.name, rule.cls):
        raise support_error(spec.name, {p: e.text for p, e in rule.params}, rule.cls,
                            rule.where)
    if all(not e.names for _, e in rule.params):
        values = {p: e.evaluate({}, rule.param_where(p)) for p, e in rule.params}
        make_prior(spec, values, rule.where)


# --- listing -------------------------------------------------------------------------------------


def list_templates() -> pd.DataFrame:
    """The shipped templates: one row per template with its name and description."""
    rows = []
    for name in builtin_names():
        t = _load_builtin(name)
        rows.append({"name": name, "description": t.description,
                     "default": name == DEFAULT_TEMPLATE})
    return pd.DataFrame(rows, columns=["name", "description", "default"])


def show(name: str | Path | Template, raw: bool = False) -> str:
    """A template's formulas, readable (``raw=True``: the TOML file text with its comments)."""
    template = load_template(name)
    if raw:
        return template.text or template.show()
    return template.show()


__all__ = [
    "DEFAULT_TEMPLATE",
    "MODEL_STATS",
    "SLOT_STATS",
    "ClassRule",
    "Template",
    "builtin_names",
    "list_templates",
    "load_template",
    "load_template_from_dict",
    "show",
]
