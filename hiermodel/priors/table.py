"""Prior slots, user overrides, and their resolution into an immutable :class:`PriorTable`.

Vocabulary (brms): a *slot* is one parameter that needs a prior, keyed by (class, term, group):
``("Intercept", "", "")``, ``("b", "Days", "")``, ``("sd", "Days", "Subject")``,
``("cor", "", "Subject")``, ``("sigma", "", "")``. Resolution takes, per slot, the most specific
matching override, else the template's rule for the class, else Bambi's automatic prior.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hiermodel.errors import InternalError, PriorError
from hiermodel.priors.dist import (
    CLASS_SUPPORT,
    CLASSES,
    Prior,
    canonical_class,
    check_support,
    parse_prior,
)
from hiermodel.priors.templates import DEFAULT_TEMPLATE, Template, load_template


def _norm_term(term: str) -> str:
    term = str(term).strip()
    return "Intercept" if term == "(Intercept)" else term


@dataclass(frozen=True)
class Slot:
    """One parameter that needs a prior.

    ``stats`` holds per-slot scaling numbers templates may use (``sd_x``, ``mean_x`` for ``b``
    and ``sd`` slots, ``n_levels`` for ``sd``, ``dim`` for ``cor``); ``auto`` is Bambi's
    automatic prior for the slot. Neither takes part in equality or hashing.
    """

    cls: str
    term: str = ""
    group: str = ""
    stats: Mapping[str, float] = field(default_factory=dict, compare=False, hash=False)
    auto: Prior | None = field(default=None, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.cls not in CLASS_SUPPORT:
            canonical_class(self.cls, "prior slot")  # raises with the list of classes
        object.__setattr__(self, "term", _norm_term(self.term))
        object.__setattr__(self, "stats", {k: float(v) for k, v in self.stats.items()})

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.cls, self.term, self.group)

    @property
    def label(self) -> str:
        """``Intercept``, ``b: Days``, ``sd: Days|Subject``, ``cor: Subject``, ``sigma``."""
        return slot_label(self.cls, self.term, self.group)


def slot_label(cls: str, term: str = "", group: str = "") -> str:
    if term and group:
        return f"{cls}: {term}|{group}"
    if term or group:
        return f"{cls}: {term or group}"
    return cls


@dataclass(frozen=True)
class PriorOverride:
    """A user's prior for every slot of ``cls`` matching ``term`` and ``group``
    (``""`` matches all terms / all groups)."""

    prior: Prior
    cls: str
    term: str = ""
    group: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "cls", canonical_class(self.cls, "prior override"))
        object.__setattr__(self, "term", _norm_term(self.term))
        object.__setattr__(self, "group", str(self.group).strip())
        if not isinstance(self.prior, Prior):
            object.__setattr__(self, "prior", parse_prior(self.prior))
        check_support(self.prior, self.cls, f"prior override {self.describe()}")

    def describe(self) -> str:
        """``(class='b', term='Days')``: only the fields that were given."""
        parts = [f"class='{self.cls}'"]
        if self.term:
            parts.append(f"term='{self.term}'")
        if self.group:
            parts.append(f"group='{self.group}'")
        return f"({', '.join(parts)})"

    @property
    def specificity(self) -> int:
        """3 class+term+group, 2 class+term, 1 class+group, 0 class."""
        return (2 if self.term else 0) + (1 if self.group else 0)

    def matches(self, slot: Slot) -> bool:
        return (
            self.cls == slot.cls
            and (not self.term or self.term == slot.term)
            and (not self.group or self.group == slot.group)
        )

    def __str__(self) -> str:
        return f"{self.describe()} ~ {self.prior}"


def set_prior(
    prior: str | Prior, class_: str = "b", term: str = "", group: str = ""
) -> PriorOverride:
    """An override for the slots of ``class_`` (like brms ``set_prior(prior, class, coef, group)``).

    >>> set_prior("normal(0, 5)", "b", "Days")
    PriorOverride(prior=Prior(dist='Normal', params=(('mu', 0.0), ('sigma', 5.0))), cls='b', \
term='Days', group='')

    ``term=""`` means every term of the class, ``group=""`` every grouping factor. brms's class
    names ``shape`` (-> ``alpha``) and ``kappa`` (-> ``phi``) are accepted.
    """
    return PriorOverride(parse_prior(prior), class_, term, group)


PARAMETER_FORMS = ("Intercept", "b", "b_<term>", "sd", "sd_<group>", "sd_<group>__<term>",
                   "cor", "cor_<group>", "sigma", "nu", "alpha", "phi", "zi", "hu")


def parameter_slot(name: str) -> tuple[str, str, str]:
    """The (class, term, group) a parameter name stands for, in the names of ``fit.idata``
    (brms's): ``Intercept``, ``b_Days``, ``sd_Subject``, ``sd_Subject__Days``, ``cor_Subject``,
    ``sigma``; a class name alone (``b``, ``sd``) means every parameter of the class.

    >>> parameter_slot("sd_county__Intercept")
    ('sd', 'Intercept', 'county')
    """
    text = str(name).strip()
    head, sep, rest = text.partition("_")
    forms = ", ".join(PARAMETER_FORMS)
    if not sep:
        try:
            return canonical_class(text), "", ""
        except PriorError:
            raise PriorError(f"unknown parameter '{text}'; write a class or a parameter name: "
                             f"{forms}") from None
    cls = {"b": "b", "sd": "sd", "cor": "cor"}.get(head)
    if cls is None or not rest:
        raise PriorError(f"unknown parameter '{text}'; write a class or a parameter name: "
                         f"{forms}")
    if cls == "b":
        return "b", _norm_term(rest), ""
    group, sep, term = rest.partition("__")
    if cls == "cor" and sep:
        raise PriorError(f"'{text}': a correlation prior is for a whole block; write "
                         f"cor_{group}")
    if not group or (sep and not term):
        raise PriorError(f"unknown parameter '{text}'; write {cls}_<group> or "
                         f"{cls}_<group>__<term>")
    return cls, _norm_term(term), group


def set_priors(entries: Mapping[str, str | Prior]) -> list[PriorOverride]:
    """Overrides from parameter names (:func:`parameter_slot`) to priors, e.g.
    ``set_priors({"Intercept": "normal(2, 1)", "sd_county": "halfcauchy(1)"})``."""
    return [set_prior(prior, *parameter_slot(key)) for key, prior in entries.items()]


@dataclass(frozen=True)
class PriorRow:
    """One resolved slot: its prior and where that prior came from."""

    cls: str
    term: str
    group: str
    prior: Prior
    source: str  # "template:NAME", "override" or "auto"

    @property
    def label(self) -> str:
        return slot_label(self.cls, self.term, self.group)

    def to_record(self) -> dict[str, Any]:
        return {"class": self.cls, "term": self.term, "group": self.group,
                "prior": str(self.prior), "dist": self.prior.dist,
                "params": dict(self.prior.params), "source": self.source}


_COLUMNS = ("class", "term", "group", "prior", "source")


@dataclass(frozen=True)
class PriorTable:
    """The prior of every parameter, like brms's ``prior_summary`` (immutable)."""

    rows: tuple[PriorRow, ...]
    template: str = ""

    def __iter__(self) -> Iterator[PriorRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, cls: str, term: str = "", group: str = "") -> Prior:
        """The prior of slot (cls, term, group)."""
        key = (cls, _norm_term(term), group)
        for row in self.rows:
            if (row.cls, row.term, row.group) == key:
                return row.prior
        labels = [r.label for r in self.rows]
        close = difflib.get_close_matches(slot_label(*key), labels, n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else ";"
        raise PriorError(f"no prior slot '{slot_label(*key)}'{hint} slots: "
                         f"{available_slots(self.rows)}")

    def to_frame(self) -> pd.DataFrame:
        """A DataFrame with columns class, term, group, prior (text), source."""
        return pd.DataFrame(
            [[r.cls, r.term, r.group, str(r.prior), r.source] for r in self.rows],
            columns=list(_COLUMNS),
        )

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-able rows: class, term, group, prior (text), dist, params (exact), source."""
        return [r.to_record() for r in self.rows]

    @classmethod
    def from_records(cls, records: Sequence[Mapping[str, Any]], template: str = "") -> PriorTable:
        """Inverse of :meth:`to_records` (e.g. reading a saved run)."""
        rows = tuple(
            PriorRow(str(r["class"]), str(r["term"]), str(r["group"]),
                     Prior(str(r["dist"]), tuple(dict(r["params"]).items())), str(r["source"]))
            for r in records
        )
        return cls(rows, template)

    def __str__(self) -> str:
        cells = [list(_COLUMNS)] + [
            [r.cls, r.term, r.group, str(r.prior), r.source] for r in self.rows
        ]
        widths = [max(len(row[i]) for row in cells) for i in range(len(_COLUMNS))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                 for row in cells]
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # pragma: no cover - notebooks
        return str(self.to_frame().to_html(index=False))


def available_slots(slots: Sequence[Slot] | Sequence[PriorRow]) -> str:
    """``Intercept; b: Days; sd: Intercept|Subject, Days|Subject; cor: Subject; sigma``."""
    by_class: dict[str, list[str]] = {}
    for s in slots:
        item = f"{s.term}|{s.group}" if s.term and s.group else (s.term or s.group)
        by_class.setdefault(s.cls, [])
        if item:
            by_class[s.cls].append(item)
    order = sorted(by_class, key=lambda c: CLASSES.index(c) if c in CLASSES else len(CLASSES))
    parts = [f"{c}: {', '.join(by_class[c])}" if by_class[c] else c for c in order]
    return "; ".join(parts) or "(none)"


def _no_match_hint(o: PriorOverride, slots: Sequence[Slot]) -> str:
    same = [s for s in slots if s.cls == o.cls]
    if not same:
        present = [c for c in CLASSES if any(s.cls == c for s in slots)]
        return f"; this model has no parameter of class '{o.cls}' (classes: {', '.join(present)})"
    terms = sorted({s.term for s in same if s.term})
    groups = sorted({s.group for s in same if s.group})

    def close(value: str, choices: list[str], what: str) -> str:
        m = difflib.get_close_matches(value, choices, n=3, cutoff=0.6)
        if m:
            return f"; did you mean {what} " + " or ".join(f"'{x}'" for x in m) + "?"
        return ""

    if o.term and o.term not in terms:
        if not terms:
            return f"; class '{o.cls}' takes no term"
        return close(o.term, terms, "term") or f"; class '{o.cls}' has no term '{o.term}'"
    if o.group and o.group not in groups:
        if not groups:
            return f"; class '{o.cls}' takes no group"
        return close(o.group, groups, "group") or f"; class '{o.cls}' has no group '{o.group}'"
    with_term = sorted({s.group for s in same if s.term == o.term})
    return (f"; term '{o.term}' of class '{o.cls}' varies only by group "
            + ", ".join(f"'{g}'" for g in with_term))


def check_overrides(slots: Sequence[Slot], overrides: Sequence[PriorOverride]) -> None:
    """Raise :class:`PriorError` for the first override that matches no slot."""
    for o in overrides:
        if not any(o.matches(s) for s in slots):
            hint = _no_match_hint(o, slots)
            sep = " " if hint.endswith("?") else "; "
            raise PriorError(
                f"prior override {o.describe()} matches no parameter{hint}{sep}"
                f"available slots: {available_slots(slots)}"
            )


def resolve_priors(
    slots: Sequence[Slot],
    model_stats: Mapping[str, float],
    template: str | Path | Template = DEFAULT_TEMPLATE,
    overrides: Sequence[PriorOverride] = (),
) -> PriorTable:
    """The prior of every slot: most specific override > template rule > Bambi's ``auto``.

    Among overrides, class+term+group beats class+term beats class+group beats class; of two
    overrides with the same class, term and group the later wins. Raises :class:`PriorError`
    for an override that matches no slot, a prior whose support does not fit its class, and a
    slot no source covers.
    """
    tmpl = load_template(DEFAULT_TEMPLATE if template is None else template)
    overrides = tuple(overrides)
    for o in overrides:
        if not isinstance(o, PriorOverride):
            raise PriorError(f"priors overrides must be made with set_prior(...), got {o!r}")
    seen: set[tuple[str, str, str]] = set()
    for s in slots:
        if s.key in seen:
            raise InternalError(f"duplicate prior slot {s.label}")
        seen.add(s.key)
    check_overrides(slots, overrides)

    var_values = tmpl.var_values(model_stats)
    source_t = f"template:{tmpl.name}"
    rows: list[PriorRow] = []
    for slot in slots:
        best: PriorOverride | None = None
        for o in overrides:
            if o.matches(slot) and (best is None or o.specificity >= best.specificity):
                best = o
        if best is not None:
            prior, source = best.prior, "override"
        else:
            rule = tmpl.rule(slot.cls)
            got = tmpl.instantiate(slot.cls, slot.stats, model_stats, var_values, slot.label)
            if got is not None:
                prior, source = got, source_t
            elif slot.auto is not None:
                prior, source = slot.auto, "auto"
            else:
                why = ("takes it from Bambi (from = \"bambi\")" if rule is not None
                       else f"has no rule for class '{slot.cls}'")
                raise PriorError(
                    f"no prior for {slot.label}: template '{tmpl.name}' {why} and Bambi has no "
                    f"automatic prior for it; add [priors.{slot.cls}] to the template or an "
                    f"override such as set_prior(..., class_='{slot.cls}')"
                )
        check_support(prior, slot.cls, f"prior for {slot.label} ({source})")
        rows.append(PriorRow(slot.cls, slot.term, slot.group, prior, source))
    return PriorTable(tuple(rows), tmpl.name)


@dataclass(frozen=True)
class PriorSpec:
    """A template plus per-slot overrides (what ``priors=`` accepts in its full form)."""

    template: Any = "weakly_informative"
    overrides: tuple[Any, ...] = ()
    # "error": an override that matches no parameter is a PriorError (brms validate_prior).
    # "ignore": drop it silently - for variants of one model (hm.compare), where overrides
    # written for the hierarchical model need not exist in the pooled/unpooled ones.
    unmatched: str = "error"


def as_prior_spec(priors: Any) -> PriorSpec:
    """What ``priors=`` accepts (template name or file, :class:`PriorSpec`, one override or a
    list of them, None) as a :class:`PriorSpec`."""
    if priors is None:
        return PriorSpec()
    if isinstance(priors, PriorSpec):
        return priors
    if isinstance(priors, PriorOverride):
        return PriorSpec(overrides=(priors,))
    if isinstance(priors, list | tuple) and all(isinstance(p, PriorOverride) for p in priors):
        return PriorSpec(overrides=tuple(priors))
    return PriorSpec(template=priors)



__all__ = [
    "PARAMETER_FORMS",
    "PriorOverride",
    "PriorRow",
    "PriorSpec",
    "PriorTable",
    "Slot",
    "as_prior_spec",
    "available_slots",
    "check_overrides",
    "parameter_slot",
    "resolve_priors",
    "set_prior",
    "set_priors",
    "slot_label",
]
