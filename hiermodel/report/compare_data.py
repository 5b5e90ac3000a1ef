"""The content of a comparison's report, gathered from a live
:class:`~hiermodel.comparison.Comparison` or from a stored comparison directory (the files
:meth:`Comparison.write` leaves: ``comparison.json``, the table CSVs, the PNG figures,
``graph_<variant>.svg``, ``priors_<variant>.csv``, ``report.txt``). Both paths fill the same
:class:`CompareReport`; rendering is :mod:`hiermodel.report.html`'s job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.figure import Figure

from hiermodel.errors import HiermodelError, RunError
from hiermodel.runs.store import read_json

if TYPE_CHECKING:
    from hiermodel.comparison import Comparison

log = logging.getLogger("hiermodel.report")

INDEXED = ("loo", "logo")  # tables written with their variant index
GROUP_PREFIXES = ("effect_", "mean_", "intercept_", "pooling_")
FIGURE_ORDER = ("shrinkage", "estimates_", "group_means", "loo")


@dataclass
class VariantGraph:
    """One variant's model graph (SVG text, or why there is none)."""

    variant: str
    formula: str
    kind: str
    svg: str | None
    note: str = ""


@dataclass
class CompareReport:
    """Everything the comparison report shows (see the module docstring)."""

    title: str
    formula: str
    group: str
    facts: list[tuple[str, str]]
    verdict: list[str]
    variants: pd.DataFrame
    loo: pd.DataFrame
    logo: pd.DataFrame | None
    logo_method: str | None
    population: pd.DataFrame | None
    original_scale: pd.DataFrame | None
    variance: pd.DataFrame | None
    groups: pd.DataFrame
    flagged: pd.DataFrame
    figures: list[tuple[str, str, Figure | bytes]]
    graphs: list[VariantGraph]
    priors: dict[str, pd.DataFrame]
    warnings: list[str]
    text: str
    notes: dict[str, str] = field(default_factory=dict)


def caption(name: str, group: str) -> str:
    """The caption of figure ``name`` (as :meth:`Comparison.figures` names them)."""
    if name.startswith("estimates_"):
        return (f"Per-{group} {name.removeprefix('estimates_')} under each variant, with "
                "intervals (the three models side by side)")
    return {"shrinkage": "Shrinkage: each group's unpooled estimate (o) and where the "
                         "hierarchical model puts it (arrow), by group size",
            "group_means": f"Raw mean response by {group}",
            "loo": "Predictive performance (elpd, higher is better)"}.get(name, name)


def _figure_rank(name: str) -> int:
    return next(i for i, p in enumerate((*FIGURE_ORDER, "")) if name.startswith(p))


def group_table(groups: pd.DataFrame) -> pd.DataFrame:
    """The per-group table as the report shows it: group, sizes, each variant's estimates
    (their intervals are in the figures and ``groups.csv``), the pooling factors and the
    flags."""
    cols = ["group", "n"] + [c for c in ("n_off", "n_on") if c in groups]
    cols += [c for c in groups.columns if str(c).startswith(GROUP_PREFIXES)
             and not str(c).endswith(("_low", "_high"))]
    cols += [c for c in ("flags",) if c in groups]
    return groups[cols]


def _optional(tables: dict[str, pd.DataFrame], name: str) -> pd.DataFrame | None:
    t = tables.get(name)
    return t if t is not None and len(t) else None


def _build(info: dict[str, Any], tables: dict[str, pd.DataFrame],
           figures: dict[str, Figure | bytes], graphs: list[VariantGraph],
           priors: dict[str, pd.DataFrame], text: str, notes: dict[str, str]) -> CompareReport:
    s = info.get("settings", {})
    group = str(info["group"])
    groups = tables["groups"]
    facts = [("Formula", str(info["formula"])),
             ("Data", f"{s.get('n')} observations, {len(groups)} groups of '{group}'"),
             ("Effect", str(info.get("effect"))),
             ("Sampler", f"{s.get('chains')} chains × {s.get('draws')} draws "
                         f"({s.get('tune')} tune) per fit, backend {s.get('backend')}"),
             ("Priors", str(s.get("priors")))]
    flagged = groups[groups["flags"].fillna("").astype(str) != ""] if "flags" in groups \
        else groups.iloc[:0]
    flag_cols = [c for c in ("group", "n", "flags", "reason") if c in flagged]
    shown = sorted(figures, key=lambda n: (_figure_rank(n), n))
    return CompareReport(
        title=f"Pooled vs unpooled vs hierarchical: {info['formula']}",
        formula=str(info["formula"]), group=group, facts=facts,
        verdict=[str(x) for x in info.get("summary", [])],
        variants=tables["variants"], loo=tables["loo"], logo=_optional(tables, "logo"),
        logo_method=info.get("logo_method"),
        population=_optional(tables, "population"),
        original_scale=_optional(tables, "original_scale"),
        variance=_optional(tables, "variance"),
        groups=group_table(groups), flagged=flagged[flag_cols],
        figures=[(n, caption(n, group), figures[n]) for n in shown],
        graphs=graphs, priors=priors, warnings=[str(w) for w in info.get("warnings", [])],
        text=text, notes=notes)


def comparison_report(cmp: Comparison, pngs: dict[str, bytes] | None = None) -> CompareReport:
    """The content of the report of a live comparison (its fits give graphs and priors);
    ``pngs``: its figures already rendered (name -> PNG bytes), else they are rendered."""
    from hiermodel.backend.diagram import graph_svg

    graphs = []
    for name, fit in cmp.fits.items():
        formula = cmp.formulas[name]
        try:
            graphs.append(VariantGraph(name, formula, cmp.kinds.get(name, ""),
                                       graph_svg(fit.graph(title=f"{name}: {formula}"))))
        except HiermodelError as exc:
            graphs.append(VariantGraph(name, formula, cmp.kinds.get(name, ""), None,
                                       f"model graph not drawn: {exc}"))
    priors = {name: fit.prior_summary().to_frame() for name, fit in cmp.fits.items()}
    figures: dict[str, Figure | bytes] = dict(pngs) if pngs is not None else dict(cmp.figures)
    return _build(cmp.to_dict(), cmp.tables, figures, graphs, priors, str(cmp), {})


def _read_csv(path: Path, indexed: bool) -> pd.DataFrame:
    try:
        return pd.read_csv(path, index_col=0 if indexed else None,
                           keep_default_na=True, na_values=[""])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RunError(f"cannot read {path}: {exc}") from exc


def stored_comparison_report(directory: str | Path) -> CompareReport:
    """The content of the report of the comparison stored in ``directory``."""
    directory = Path(directory)
    path = directory / "comparison.json"
    if not path.is_file():
        raise RunError(f"comparison {directory} has no comparison.json; run "
                       "`hiermodel compare SPEC` again")
    info = dict(read_json(path))
    tables = {p.stem: _read_csv(p, p.stem in INDEXED) for p in sorted(directory.glob("*.csv"))
              if not p.stem.startswith("priors_") and p.stem != "pointwise"}
    missing = [t for t in ("variants", "loo", "groups") if t not in tables]
    if missing:
        raise RunError(f"comparison {directory} is incomplete: missing "
                       f"{', '.join(m + '.csv' for m in missing)}; run `hiermodel compare "
                       "SPEC` again")
    figures: dict[str, Figure | bytes] = {p.stem: p.read_bytes()
                                          for p in sorted(directory.glob("*.png"))}
    kinds = dict(info.get("kinds", {}))
    graphs = []
    for name, formula in dict(info.get("variants", {})).items():
        svg = directory / f"graph_{name}.svg"
        graphs.append(VariantGraph(name, formula, kinds.get(name, ""),
                                   svg.read_text(encoding="utf-8") if svg.is_file() else None,
                                   "" if svg.is_file() else
                                   f"model graph not stored ({svg.name} missing)"))
    priors = {p.stem.removeprefix("priors_"): _read_csv(p, False)
              for p in sorted(directory.glob("priors_*.csv"))}
    report = directory / "report.txt"
    text = report.read_text(encoding="utf-8").rstrip("\n") if report.is_file() else ""
    return _build(info, tables, figures, graphs, priors, text, {})


__all__ = ["CompareReport", "VariantGraph", "caption", "comparison_report", "group_table",
           "stored_comparison_report"]
