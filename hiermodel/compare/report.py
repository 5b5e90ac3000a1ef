"""``hm.compare``: fit pooled, unpooled and hierarchical variants and report how they differ.

The :class:`Comparison` holds the fits, the tables (``Comparison.tables``), the figures
(``Comparison.figures``), a plain-text report (``str(comparison)``) and
:meth:`Comparison.write` (CSV + JSON tables, ``report.txt``, ``report.md`` and PNG figures).
See ``docs/compare.md``.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.compare.logo import DEFAULT_FOLDS, LogoResult, leave_one_group_out
from hiermodel.compare.loo import K_THRESHOLD, compare_loo, loo, pareto_warning
from hiermodel.compare.pooling import (
    FLAGS,
    MIN_CELL,
    SMALL_N,
    EffectSpec,
    GroupTable,
    group_table,
    is_log_response,
    original_scale,
    pooling_table,
    resolve_effect,
    variance_partition,
)
from hiermodel.compare.variants import group_source_columns, resolve_variants, variant_kind
from hiermodel.errors import CompareError, HiermodelError
from hiermodel.pointwise import DEFAULT_CHUNK

if TYPE_CHECKING:
    import arviz as az
    from matplotlib.figure import Figure

    from hiermodel.formula.terms import ModelTerms
    from hiermodel.results import Fit

Progress = Callable[[str], None]
_QUANTITY_NAMES = {"mean": "group mean", "intercept": "intercept", "effect": "effect"}
_QUANTITY_LONG = {"mean": "group mean (the mean linear predictor over the group's own rows)",
                  "intercept": "intercept (linear predictor at the reference row, effect off)",
                  "effect": "effect"}


def _fmt(x: Any, digits: int = 2) -> str:
    if x is None:
        return ""
    if isinstance(x, bool | np.bool_):
        return "yes" if x else ""
    if isinstance(x, int | np.integer):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(v):
        return ""
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 10 ** -(digits + 1)):
        return f"{v:.3g}"
    return f"{v:.{digits}f}"


def _signed(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}f}" if math.isfinite(x) else "nan"


def _text_table(df: pd.DataFrame, index: bool = True, digits: int = 2) -> str:
    frame = df.reset_index() if index else df
    header = [str(c) for c in frame.columns]
    body = [[_fmt(v, digits) for v in row] for row in frame.itertuples(index=False)]
    widths = [max(len(r[j]) for r in [header, *body]) for j in range(len(header))]
    lines = []
    for r in [header, *body]:
        cells = [r[0].ljust(widths[0])] + [r[j].rjust(widths[j]) for j in range(1, len(r))]
        lines.append("  " + "  ".join(cells))
    return "\n".join(lines)


def _seconds(x: float) -> str:
    return f"{x:.0f} s" if x >= 10 else f"{x:.1f} s"


class Comparison:
    """The result of :func:`compare`.

    - ``fits``: variant name -> :class:`~hiermodel.results.Fit`;
    - ``tables``: ``variants``, ``loo``, ``logo``/``logo_groups`` (unless skipped),
      ``groups`` (wide per-group table with pooling factors and flags), ``pooling`` (long:
      group x quantity), ``estimates`` (long: group x variant x quantity), ``population``,
      ``variance`` (ICC), ``original_scale`` (log response);
    - ``figures``: ``estimates_<quantity>`` (per-group forest plot by variant), ``shrinkage``,
      ``group_means``, ``loo``;
    - ``str(comparison)``: the report; :meth:`write` puts everything in a directory.
    """

    def __init__(self, *, formula: str, formulas: dict[str, str], fits: dict[str, Fit],
                 kinds: dict[str, str], loo: dict[str, az.ELPDData], group: str,
                 effect: EffectSpec, groups: GroupTable, tables: dict[str, pd.DataFrame],
                 logo: LogoResult | None, warnings: list[str], settings: dict[str, Any],
                 labels: np.ndarray, data: pd.DataFrame, log_response: bool) -> None:
        self.formula = formula
        self.formulas = formulas
        self.fits = fits
        self.kinds = kinds
        self.loo = loo
        self.group = group
        self.effect = effect
        self.group_results = groups
        self.tables = tables
        self.logo = logo
        self.warnings = warnings
        self.settings = settings
        self.log_response = log_response
        self._labels = labels
        self._data = data
        self._figures: dict[str, Figure] | None = None

    # -- convenience ----------------------------------------------------------------------------
    @property
    def variants(self) -> list[str]:
        return list(self.formulas)

    @property
    def flagged(self) -> pd.DataFrame:
        """Rows of the per-group table with at least one flag."""
        t = self.tables["groups"]
        return t[t["flags"] != ""]

    def flags(self, flag: str) -> list[str]:
        """Groups carrying ``flag`` (one of small_n, sign_reversal, extreme, wide_interval)."""
        if flag not in FLAGS:
            raise CompareError(f"unknown flag '{flag}'; flags: {', '.join(FLAGS)}")
        t = self.tables["groups"]
        return t.loc[t[flag], "group"].astype(str).tolist()

    @property
    def pointwise(self) -> pd.DataFrame:
        """Per-observation PSIS-LOO elpd and Pareto k of every variant (N rows)."""
        cols: dict[str, np.ndarray] = {"group": self._labels}
        for name, e in self.loo.items():
            cols[f"elpd_loo_{name}"] = np.asarray(e["loo_i"].values)
            cols[f"pareto_k_{name}"] = np.asarray(e["pareto_k"].values)
        return pd.DataFrame(cols)

    @property
    def pooling_quantity(self) -> str:
        """The quantity partial pooling acts on: the effect when the hierarchical model lets it
        vary by group, else the intercept."""
        varies = self.group_results.varies
        if varies.get("effect"):
            return "effect"
        if "mean" in varies:
            return "mean"
        return self.group_results.quantity

    # -- figures --------------------------------------------------------------------------------
    @property
    def figures(self) -> dict[str, Figure]:
        """Matplotlib figures, built on first access: ``estimates_<quantity>``, ``shrinkage``,
        ``group_means``, ``loo``."""
        if self._figures is None:
            self._figures = self._make_figures()
        return self._figures

    def _make_figures(self) -> dict[str, Figure]:
        from hiermodel.compare.plots import (
            plot_group_estimates,
            plot_group_means,
            plot_loo,
            plot_shrinkage,
        )

        figs: dict[str, Figure] = {}
        gr = self.group_results
        pop = self.tables["population"]
        flags = self.tables["groups"].set_index("group")["flags"]
        for q in dict.fromkeys(gr.estimates["quantity"]):
            p = pop[pop.quantity == q]
            population = {r.variant: r.mean for r in p.itertuples()
                          if self.kinds.get(r.variant) != "unpooled"}
            label = self.effect.label if q == "effect" else _QUANTITY_LONG.get(q, q)
            figs[f"estimates_{q}"] = plot_group_estimates(
                gr.estimates, q, population=population, flags=flags,
                xlabel=label, title=f"Per-{self.group} {q} under each variant")
        if {"unpooled", "hierarchical"} <= set(self.formulas):
            shown = self._report_quantities()

            def value(v: str, q: str) -> float:
                return float(pop[(pop.quantity == q) & (pop.variant == v)]["mean"].iloc[0])

            pooled = {q: value("pooled", q) for q in shown if "pooled" in self.formulas}
            population = {q: value("hierarchical", q) for q in shown}
            pooling = self.tables["pooling"]
            figs["shrinkage"] = plot_shrinkage(pooling[pooling["quantity"].isin(shown)],
                                               pooled=pooled, population=population,
                                               group=self.group,
                                               effect_label=self.effect.label)
        hier = self.fits.get("hierarchical") or next(iter(self.fits.values()))
        y = hier.model.design.y
        split = None
        if self.effect.kind in ("binary", "categorical") and self.effect.column is not None:
            split = self._data[self.effect.column]
        figs["group_means"] = plot_group_means(
            self._data, y, self._labels, response=hier.model.terms.response.variable.name,
            group=self.group, split=split, split_name=self.effect.variable)
        figs["loo"] = plot_loo(self.tables["loo"], self.tables.get("logo"))
        return figs

    # -- output ---------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: settings, formulas, LOO/LOGO totals, population effects,
        variance partition, flagged groups, warnings and the summary sentences."""
        def records(df: pd.DataFrame | None, index: bool = True) -> list[dict[str, Any]]:
            if df is None:
                return []
            frame = df.reset_index() if index else df
            return json.loads(frame.to_json(orient="records"))

        return {
            "formula": self.formula,
            "variants": self.formulas,
            "kinds": self.kinds,
            "group": self.group,
            "effect": self.effect.label,
            "settings": self.settings,
            "summary": self.summary_lines(),
            "loo": records(self.tables["loo"]),
            "logo": records(self.tables.get("logo")),
            "logo_method": self.logo.method if self.logo else None,
            "population": records(self.tables["population"], index=False),
            "original_scale": records(self.tables.get("original_scale"), index=False),
            "variance": records(self.tables.get("variance"), index=False),
            "flagged": records(self.flagged[["group", "n", "flags", "reason"]], index=False),
            "warnings": self.warnings,
        }

    def write(self, directory: str | Path, figures: bool = True,
              pointwise: bool = False) -> list[Path]:
        """Write every table as CSV, ``comparison.json``, ``report.txt`` (the text report),
        ``report.md`` (the report with the figures) and (with ``figures``) PNG plots into
        ``directory``; ``pointwise=True`` adds the N-row per-observation LOO table. Returns the
        written paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written: list[Path] = []
        for name, table in self.tables.items():
            path = out / f"{name}.csv"
            index = name in ("loo", "logo")
            table.to_csv(path, index=index)
            written.append(path)
        if pointwise:
            path = out / "pointwise.csv"
            self.pointwise.to_csv(path, index=False)
            written.append(path)
        path = out / "comparison.json"
        path.write_text(json.dumps(self.to_dict(), indent=2, default=str))
        written.append(path)
        text = str(self)
        path = out / "report.txt"
        path.write_text(text + "\n")
        written.append(path)
        pngs: list[str] = []
        if figures:
            for name, fig in self.figures.items():
                path = out / f"{name}.png"
                fig.savefig(path, dpi=110)
                written.append(path)
                pngs.append(path.name)
        path = out / "report.md"
        path.write_text(self._markdown(text, pngs))
        written.append(path)
        return written

    def _markdown(self, text: str, pngs: list[str]) -> str:
        captions = {"shrinkage": "Shrinkage: each group's unpooled estimate (o) and where the "
                                 "hierarchical model puts it (arrow), by group size",
                    "group_means": f"Raw mean response by {self.group}",
                    "loo": "Predictive performance (elpd, higher is better)"}
        lines = [f"# Pooled vs unpooled vs hierarchical: `{self.formula}`", "",
                 "## What partial pooling buys", ""]
        lines += [f"- {s}" for s in self.summary_lines()]
        head, sep, rest = text.partition("\nWhat partial pooling buys:\n")
        if sep:  # the sentences are above: keep the header and the details
            rest = rest[rest.find("\nVariants:") + 1:]
            text = head + "\n" + rest
        lines += ["", "## Report", "", "```text", text, "```", ""]
        if pngs:
            lines += ["## Figures", ""]
            for name in pngs:
                stem = name[:-4]
                cap = captions.get(stem, f"Per-{self.group} {stem.split('_', 1)[-1]} under "
                                         "each variant" if stem.startswith("estimates_")
                                   else stem)
                lines += [f"### {cap}", "", f"![{cap}]({name})", ""]
        return "\n".join(lines)

    # -- the report -----------------------------------------------------------------------------
    def _verdict(self, table: pd.DataFrame, col: str, what: str) -> str:
        best = str(table.index[0])
        parts = []
        for v, r in table.iloc[1:].iterrows():
            diff, dse = float(r["elpd_diff"]), float(r["dse"])
            z = diff / dse if dse > 0 else float("inf")
            clear = "clearly worse" if z > 2 else "not clearly worse"
            parts.append(f"{v} {diff:.1f} ± {dse:.1f} lower ({clear}, {z:.1f} SE)"
                         if math.isfinite(z) else f"{v} {diff:.1f} lower")
        return f"{what}: {best} is best (elpd {float(table.iloc[0][col]):.1f}); " + \
            "; ".join(parts) + "."

    def summary_lines(self) -> list[str]:
        """The report's opening: what partial pooling buys, in sentences."""
        out: list[str] = []
        s = self.settings
        out.append(self._verdict(self.tables["loo"], "elpd_loo",
                                 "New observations of known groups (PSIS-LOO, elpd summed over "
                                 f"{s['n']} observations)"))
        if self.logo is not None:
            out.append(self._verdict(self.tables["logo"], "elpd_logo",
                                     f"New groups ({self.logo.method.split(' (')[0]}, elpd "
                                     f"summed over {len(self.tables['groups'])} held-out "
                                     "groups)"))
        elif s.get("logo_skipped"):
            out.append(f"New groups: not assessed ({s['logo_skipped']}).")
        gt = self.tables["groups"]
        q = self.pooling_quantity
        varies = self.group_results.varies
        if self.effect.variable is not None and not varies.get("effect", False) \
                and "hierarchical" in self.formulas:
            text = (f"The hierarchical model has one common {self.effect.variable} effect "
                    f"for every {self.group} (fully pooled); partial pooling acts on the "
                    f"{self.group} {_QUANTITY_NAMES.get(q, q)}.")
            u = gt.get("effect_unpooled")
            if str(self.tables["loo"].index[0]) == "unpooled" and u is not None \
                    and float(np.nanstd(u)) > 1e-8:
                text += (f" The unpooled variant, whose {self.effect.variable} effect differs "
                         f"by {self.group}, predicts better: the data suggest letting the "
                         f"effect vary too, e.g. (1 + {self.effect.variable} | {self.group}).")
            out.append(text)
        col = f"pooling_{q}"
        if col in gt and varies.get(q, False):
            pf = gt[col].to_numpy(dtype=float)
            n = gt["n"].to_numpy()
            ok = np.isfinite(pf)
            if ok.any():
                order = np.argsort(n, kind="stable")
                shown = ", ".join(f"{gt['group'].iloc[i]} (n={int(n[i])}) {pf[i]:.2f}"
                                  for i in order[:3] if np.isfinite(pf[i]))
                text = (f"Pooling of the {_QUANTITY_NAMES.get(q, q)} (0 = the group keeps its "
                        "own estimate, 1 = it gets the population value): median "
                        f"{float(np.nanmedian(pf)):.2f} "
                        f"over {int(ok.sum())} groups")
                half = len(order) // 2
                small_half, large_half = pf[order[:half]], pf[order[half:]]
                if half and n[order[half - 1]] < n[order[-1]] \
                        and np.isfinite(small_half).any() and np.isfinite(large_half).any():
                    text += (f"; {float(np.nanmedian(small_half)):.2f} in the smaller half of "
                             f"the groups, {float(np.nanmedian(large_half)):.2f} in the larger")
                out.append(text + f"; smallest groups: {shown}.")
        for qq in self._difference_quantities():
            rows = self._largest_differences(qq, 5)
            if rows:
                out.append("Largest hierarchical vs unpooled differences in the "
                           f"{_QUANTITY_NAMES.get(qq, qq)}: "
                           + "; ".join(rows) + ".")
        pop = self.tables["population"]
        if self.effect.variable is not None and "hierarchical" in self.formulas:
            h = pop[(pop.variant == "hierarchical") & (pop.quantity == "effect")].iloc[0]
            text = (f"Hierarchical population effect of {self.effect.label}: "
                    f"{h['median']:.2f} [{h['low']:.2f}, {h['high']:.2f}]")
            o = self.tables.get("original_scale")
            if o is not None and len(o) and "hierarchical" in set(o["variant"]):
                r = o.set_index("variant").loc["hierarchical"]
                text += (f", i.e. {r['ratio']:.2f}x [{r['ratio_low']:.2f}, "
                         f"{r['ratio_high']:.2f}] on the original scale")
            out.append(text + ".")
        v = self.tables.get("variance")
        if v is not None and len(v):
            icc = v[(v.note == "ICC") & (v.component == self.group)]
            if len(icc):
                r = icc.iloc[0]
                out.append(f"'{self.group}' accounts for {100 * r['share']:.0f}% "
                           f"[{100 * r['share_low']:.0f}%, {100 * r['share_high']:.0f}%] of "
                           "the variance (ICC of the hierarchical model).")
        flagged = self.flagged
        if len(flagged):
            parts = [f"{r.group} ({r.flags.replace(',', ', ')})" for r in flagged.itertuples()]
            out.append(f"Flagged groups ({len(flagged)} of {len(gt)}): {'; '.join(parts)}.")
        return out

    def _report_quantities(self) -> list[str]:
        """The quantities the text report shows per group: the effect and the group mean (the
        intercept at the reference row is in the tables and figures)."""
        qs = list(dict.fromkeys(self.group_results.estimates["quantity"]))
        return [q for q in qs if q != "intercept"] or qs

    def _difference_quantities(self) -> list[str]:
        q = self.pooling_quantity
        return [q] + [x for x in self._report_quantities() if x != q]

    def _largest_differences(self, q: str, k: int) -> list[str]:
        gt = self.tables["groups"]
        if f"{q}_unpooled" not in gt or f"{q}_hierarchical" not in gt:
            return []
        diff = (gt[f"{q}_hierarchical"] - gt[f"{q}_unpooled"]).abs()
        out = []
        cells = self.effect.has_cells and {"n_off", "n_on"} <= set(gt.columns)
        for i in diff.sort_values(ascending=False).index[:k]:
            r = gt.loc[i]
            size = f"n={int(r['n'])}"
            if cells:
                size += (f": {int(r['n_off'])} {_show_level(self.effect.off)}, "
                         f"{int(r['n_on'])} {_show_level(self.effect.on)}")
            out.append(f"{r['group']} ({size}) unpooled {_signed(r[f'{q}_unpooled'])} "
                       f"[{_signed(r[f'{q}_unpooled_low'])}, {_signed(r[f'{q}_unpooled_high'])}]"
                       f" -> hierarchical {_signed(r[f'{q}_hierarchical'])}")
        return out

    def __str__(self) -> str:
        s = self.settings
        gt = self.tables["groups"]
        lines = [
            f"Comparison of {len(self.formulas)} variants of  {self.formula}",
            f"  {s['n']} observations, {len(gt)} groups of '{self.group}'; effect: "
            f"{self.effect.label}",
            f"  {s['chains']} chains x {s['draws']} draws ({s['tune']} tune) per fit, backend "
            f"{s['backend']}, priors {s['priors']!s}",
            "",
            "What partial pooling buys:",
        ]
        for sentence in self.summary_lines():
            lines.append("  - " + sentence)
        lines += ["", "Variants:"]
        width = max(len(v) for v in self.formulas)
        for v, f in self.formulas.items():
            lines.append(f"  {v.ljust(width)}  {f}   [{self.kinds.get(v, '')}]")
        loo_t = self.tables["loo"][["elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight",
                                    "n_k_high"]].rename(columns={"n_k_high": f"k>{K_THRESHOLD}"})
        distinct = s.get("loo_distinct_rows") or {}
        note = ""
        if distinct and max(distinct.values()) < s["n"]:
            note = (f"; observations with identical cell and response computed once: "
                    f"{', '.join(f'{k} {v}' for k, v in distinct.items())} distinct")
        lines += ["", f"PSIS-LOO per observation (N = {s['n']}; higher elpd is better; weight ="
                  f" stacking{note}):", _text_table(loo_t)]
        if self.logo is not None:
            lt = self.tables["logo"][["elpd_logo", "se", "elpd_diff", "dse", "elpd_per_obs",
                                      "elpd_pointwise_per_obs"]]
            lines += ["", f"Leave-one-group-out: {self.logo.method}; elpd = sum over groups of "
                      "the joint log predictive density of the held-out group:", _text_table(lt)]
            lines.append(f"  cost: {self.logo.n_refits} refits ({s['logo_draws']} draws + "
                         f"{s['logo_tune']} tune, {s['chains']} chains each) in "
                         f"{_seconds(self.logo.seconds)}")
        pop = self.tables["population"]
        for q in self._report_quantities():
            p = pop[pop.quantity == q][["variant", "median", "low", "high", "basis"]]
            name = f"effect ({self.effect.label})" if q == "effect" else \
                _QUANTITY_LONG.get(q, q)
            lines += ["", f"Population value of the {name}, median and "
                      f"{int(s['prob'] * 100)}% interval:", _text_table(p, index=False)]
        if "original_scale" in self.tables and len(self.tables["original_scale"]):
            o = self.tables["original_scale"][["variant", "ratio", "ratio_low", "ratio_high",
                                               "percent_change"]]
            lines += ["", "On the original scale (log response): multiplicative effect "
                      "exp(effect):", _text_table(o, index=False)]
        if "variance" in self.tables:
            v = self.tables["variance"][["component", "term", "variance", "share", "share_low",
                                         "share_high", "note"]]
            lines += ["", "Variance partition of the hierarchical model (share = ICC):",
                      _text_table(v, index=False)]
        flagged = self.flagged
        varies = self.group_results.varies
        for j, q in enumerate(self._report_quantities()):
            how = "" if varies.get(q, True) else \
                "; one common value in the hierarchical model, so its pooling factor is 1"
            head = (f"Per-group {_QUANTITY_LONG.get(q, q)}; pooling factor 0 = unpooled, "
                    f"1 = fully pooled{how}"
                    + (f"; {len(flagged)} of {len(gt)} groups flagged:" if j == 0 else ":"))
            cols = ["group", "n"] + [c for c in ("n_off", "n_on") if c in gt]
            for v in self.formulas:
                if f"{q}_{v}" in gt:
                    cols.append(f"{q}_{v}")
            if f"pooling_{q}" in gt:
                cols.append(f"pooling_{q}")
            if j == 0:
                cols.append("flags")
            shown = gt[cols].rename(columns={f"{q}_{v}": v for v in self.formulas}
                                    | {f"pooling_{q}": "pooling"})
            lines += ["", head, _text_table(shown, index=False)]
        if len(flagged):
            lines += ["", "Why flagged:"]
            for r in flagged.itertuples():
                lines.append(f"  {r.group}: {r.reason}")
        if self.warnings:
            lines += ["", "Warnings:"] + [f"  - {w}" for w in self.warnings]
        t = s.get("seconds") or {}
        if t:
            lines += ["", "Time: " + ", ".join(f"{k} {_seconds(v)}" for k, v in t.items())]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<hiermodel.Comparison {self.formula!r}: {', '.join(self.formulas)}; "
                f"{len(self.flagged)} flagged groups>")


def _priors_label(priors: Any) -> str:
    """A short description of ``priors=`` for the report."""
    from hiermodel.model import PriorSpec

    if isinstance(priors, PriorSpec):
        template = priors.template
        if isinstance(template, str | Path):
            name = str(template)
        elif isinstance(template, Mapping):
            meta = template.get("template", {})
            name = str(meta.get("name", "inline template")) if isinstance(meta, Mapping) \
                else "inline template"
        else:
            name = str(getattr(template, "name", type(template).__name__))
        n = len(priors.overrides)
        return name + (f" + {n} override{'s' if n != 1 else ''}" if n else "")
    if isinstance(priors, list | tuple):
        return f"default template + {len(priors)} overrides"
    return str(priors)


def _show_level(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    return str(value)


def _fit_diagnostics(name: str, fit: Fit) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    try:
        d = fit.diagnostics()
    except Exception:  # diagnostics are a report nicety, never a reason to fail
        return {}, warnings
    if d.get("divergences"):
        warnings.append(f"{name}: {d['divergences']} divergent transitions; estimates may be "
                        "biased (more tune/draws, or a different parametrization)")
    rhat = d.get("max_rhat", float("nan"))
    if isinstance(rhat, float) and math.isfinite(rhat) and rhat > 1.01:
        warnings.append(f"{name}: max R-hat {rhat:.3f} > 1.01; chains disagree (run longer)")
    return d, warnings


MODEL_OPTIONS = ("center_predictors", "parametrization", "compress")
SAMPLER_OPTIONS = ("cores", "target_accept", "progressbar")


def _check_fit_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    options = dict(options or {})
    unknown = [k for k in options if k not in MODEL_OPTIONS + SAMPLER_OPTIONS]
    if unknown:
        raise CompareError(f"unknown fit_options {unknown}; allowed: "
                           f"{', '.join(MODEL_OPTIONS + SAMPLER_OPTIONS)}")
    return options


def _fit(formula: str, data: pd.DataFrame, *, family: Any, link: str | None, priors: Any,
         draws: int, tune: int, chains: int, seed: int | None, backend: str,
         options: Mapping[str, Any]) -> Fit:
    """What ``hm.fit`` does: build with :func:`hiermodel.model.model`, then sample."""
    from hiermodel.model import model

    built = model(formula, data, family=family, link=link, priors=priors,
                  **{k: v for k, v in options.items() if k in MODEL_OPTIONS})
    return built.fit(draws=draws, tune=tune, chains=chains, seed=seed, backend=backend,
                     **{k: v for k, v in options.items() if k in SAMPLER_OPTIONS})


def _translate(formula: str, data: pd.DataFrame, name: str) -> ModelTerms:
    import hiermodel as hm

    try:
        return hm.translate(formula, data)
    except HiermodelError as exc:
        if name == "hierarchical":
            raise
        raise CompareError(f"variant '{name}': {exc}") from exc


def _used_columns(all_terms: list[ModelTerms]) -> list[str]:
    cols: list[str] = []
    for t in all_terms:
        for var in t.variables.values():
            for c in var.source_columns:
                if c not in cols:
                    cols.append(c)
    return cols


def _progress(progress: bool | Progress | None) -> Progress:
    if progress is None or progress is False:
        return lambda _msg: None
    if progress is True:
        def say(message: str) -> None:
            print(f"hiermodel compare: {message}", file=sys.stdout, flush=True)

        return say
    if not callable(progress):
        raise CompareError(f"progress must be True, False or a function taking a message "
                           f"(got {progress!r})")
    return progress


def compare(
    formula: str,
    data: pd.DataFrame,
    *,
    family: str = "gaussian",
    link: str | None = None,
    priors: Any = "weakly_informative",
    variants: Mapping[str, str] | None = None,
    group: str | None = None,
    effect: str | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    seed: int | None = None,
    backend: str = "auto",
    logo: bool | str = "auto",
    logo_max_groups: int = 12,
    progress: bool | Progress | None = False,
    center_predictors: bool = True,
    logo_folds: int | None = None,
    logo_draws: int | None = None,
    logo_tune: int | None = None,
    prob: float = 0.95,
    small_n: int = SMALL_N,
    min_cell: int = MIN_CELL,
    chunk: int | None = DEFAULT_CHUNK,
    dropna: bool = False,
    keep_logo_fits: bool = False,
    fit_options: Mapping[str, Any] | None = None,
) -> Comparison:
    """Fit pooled, unpooled and hierarchical variants of ``formula`` and compare them.

    Variant rule (``docs/compare.md``): *pooled* drops every group-level term; *hierarchical*
    is ``formula`` as written; *unpooled* turns each varying term into a per-group fixed effect
    with no shared prior — ``(1|g)`` becomes ``0 + g`` (replacing the intercept), ``(1 + x|g)``
    becomes ``0 + g + g:x`` with the population ``x`` dropped; other population terms stay.
    ``variants={"unpooled": "y ~ 0 + g:x", "extra": "..."}`` replaces or adds variants. Every
    variant is fitted with the same priors and sampler settings.

    The report (``str(result)``, ``result.tables``, ``result.figures``, ``result.write(dir)``):

    - PSIS-LOO per observation (chunked, bounded memory; identical observations computed
      once), differences with SEs, stacking weights and Pareto-k warnings;
    - leave-one-group-out CV (``logo``: ``"auto"``/``True`` exact refits when there are at most
      ``logo_max_groups`` groups, else grouped K-fold with ``K = logo_folds`` (default 5);
      ``"exact"``, ``"kfold"``; ``False`` skips). Refits use ``logo_draws``/``logo_tune``
      (default ``min(draws, 500)``/``min(tune, 500)``). New groups: hierarchical draws their
      effects from the fitted group distribution, unpooled from the prior of a group's
      coefficients, pooled simply predicts;
    - per-group table for ``group`` (default: the first grouping factor): estimates of the
      ``effect`` (default: its first varying slope, else the first population term that some
      variant lets vary by group, else none; ``"1"`` for the intercept only) and of the
      intercept under each variant, pooling factor
      ``(unpooled - hierarchical) / (unpooled - pooled)`` and flags ``small_n``,
      ``sign_reversal``, ``extreme``, ``wide_interval`` with the reason;
    - variance partition / ICC of the hierarchical model; for a ``log(...)``/``log_*`` response
      the multiplicative effect ``exp(effect)``.

    ``progress=True`` prints each step ("fitting unpooled (2/3): y ~ 0 + g + x"); a function
    receives the messages instead. ``center_predictors`` is passed to every fit;
    ``fit_options`` passes ``parametrization``, ``center_predictors`` (overriding the
    argument), ``compress``, ``cores``, ``target_accept`` or ``progressbar`` to every fit and
    refit.
    """
    t_start = time.perf_counter()
    if not isinstance(data, pd.DataFrame):
        raise CompareError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not 0 < prob < 1:
        raise CompareError(f"prob must be between 0 and 1 (got {prob})")
    if logo not in (True, False, "auto", "exact", "kfold"):
        raise CompareError(f"logo must be True, False, 'auto', 'exact' or 'kfold' (got {logo!r})")
    if logo_folds is not None and logo_folds < 2:
        raise CompareError(f"logo_folds must be >= 2 (got {logo_folds})")
    say = _progress(progress)
    options = _check_fit_options(fit_options)
    options.setdefault("center_predictors", center_predictors)
    data = data.reset_index(drop=True)
    terms = _translate(formula, data, "hierarchical")
    formulas = resolve_variants(formula, data, variants, terms)
    all_terms = {name: (terms if name == "hierarchical" else _translate(f, data, name))
                 for name, f in formulas.items()}
    if dropna:
        cols = [c for c in _used_columns(list(all_terms.values())) if c in data.columns]
        keep = ~data[cols].isna().any(axis=1)
        if not keep.all():
            data = data.loc[keep].reset_index(drop=True)
    groups_in_formula = list(dict.fromkeys(b.group for b in terms.groups))
    group = group or groups_in_formula[0]
    group_cols = group_source_columns(terms, group)
    spec = resolve_effect(terms, data, group, effect, list(all_terms.values()))

    rng = np.random.default_rng(seed)
    fit_seed = int(rng.integers(2**31 - 1)) if seed is None else int(seed)
    logo_seed = int(rng.integers(2**31 - 1))
    fit_kw = {"family": family, "link": link, "priors": priors, "chains": chains,
              "backend": backend, "options": options}
    from dataclasses import replace

    from hiermodel.model import _prior_spec

    relaxed_priors = replace(_prior_spec(priors), unmatched="ignore")
    fits: dict[str, Fit] = {}
    warnings: list[str] = []
    diagnostics: dict[str, dict[str, Any]] = {}
    fit_seconds: dict[str, float] = {}
    for i, (name, f) in enumerate(formulas.items(), start=1):
        say(f"fitting {name} ({i}/{len(formulas)}): {f}")
        t0 = time.perf_counter()
        kw = dict(fit_kw)
        if name != "hierarchical":
            # overrides are checked against the hierarchical model; the other variants take
            # those that name one of their parameters (no Intercept in "0 + g", ...)
            kw["priors"] = relaxed_priors
        try:
            fits[name] = _fit(f, data, draws=draws, tune=tune, seed=fit_seed, **kw)
        except HiermodelError as exc:
            if name == "hierarchical":
                raise
            raise CompareError(f"fitting variant '{name}' ({f}) failed: {exc}") from exc
        fit_seconds[name] = time.perf_counter() - t0
        say(f"fitted {name} in {_seconds(fit_seconds[name])}")
        diagnostics[name], w = _fit_diagnostics(name, fits[name])
        warnings += w
    t_fits = time.perf_counter()

    hier = fits["hierarchical"]
    y = hier.model.design.y
    for name, fit in fits.items():
        other = fit.model.design.y
        if other.shape != y.shape or not np.allclose(other, y, equal_nan=True):
            raise CompareError(
                f"variant '{name}' ({formulas[name]}) does not model the same response rows as "
                f"'{formula}' ({len(other)} vs {len(y)} rows); LOO and LOGO compare predictions "
                "of the same observations — use the same response (and dropna=True when "
                "variants use different columns with missing values)")
    kinds = {name: variant_kind(fit, group_cols) for name, fit in fits.items()}

    elpds: dict[str, Any] = {}
    distinct: dict[str, int] = {}
    for i, (name, fit) in enumerate(fits.items(), start=1):
        elpds[name] = loo(fit, chunk=chunk)
        distinct[name] = int(elpds[name].attrs.get("distinct_rows", len(y)))
        say(f"PSIS-LOO {name} ({i}/{len(fits)}): {len(y)} observations ({distinct[name]} "
            "distinct)")
        k_warning = pareto_warning(name, elpds[name])
        if k_warning:
            warnings.append(k_warning)
    loo_table = compare_loo(elpds, seed=fit_seed)
    t_loo = time.perf_counter()

    block = next(b for b in hier.model.design.blocks if b.group == group)
    labels = np.asarray(block.levels, dtype=object)[block.index].astype(str)
    levels = list(block.levels)
    say("per-group estimates")
    log_resp = is_log_response(terms)
    gt = group_table(fits, kinds, data, labels, levels, group, group_cols, spec, prob=prob,
                     small_n=small_n, min_cell=min_cell, log_response=log_resp)
    tables: dict[str, pd.DataFrame] = {}

    def n_cells(fit: Fit) -> int | None:
        cells = fit.model.info.cells
        return None if cells is None else cells.n_cells

    tables["variants"] = pd.DataFrame([
        {"variant": n, "formula": formulas[n], "kind": kinds[n],
         "n_coef": len(fits[n].model.design.x_names) + int(fits[n].model.design.has_intercept),
         "compressed_cells": n_cells(fits[n]),
         "seconds": fit_seconds[n], "sampler_seconds": fits[n].sampler.get("seconds"),
         **{k: diagnostics[n].get(k) for k in ("max_rhat", "min_ess_bulk", "divergences")}}
        for n in formulas])
    tables["loo"] = loo_table
    tables["groups"] = gt.table
    tables["pooling"] = pooling_table(gt, list(formulas))
    tables["estimates"] = gt.estimates
    tables["population"] = gt.population
    if hier.model.info.group_terms:
        tables["variance"] = variance_partition(hier, prob)
    if log_resp and spec.variable is not None:
        tables["original_scale"] = original_scale(gt.draws, prob)
    t_groups = time.perf_counter()

    logo_result = None
    l_draws = logo_draws if logo_draws is not None else min(draws, 500)
    l_tune = logo_tune if logo_tune is not None else min(tune, 500)
    logo_skipped = ""
    mixed = [n for n, k in kinds.items() if k == "mixed"]
    if logo is False:
        logo_skipped = "logo=False"
    elif len(levels) < 3:
        logo_skipped = f"'{group}' has only {len(levels)} groups; leave-one-group-out needs 3"
    elif mixed:
        logo_skipped = (f"variant(s) {', '.join(mixed)} use '{group}' both as a population "
                        "factor and as a grouping factor, so how to predict a new group is "
                        "ambiguous")
    if logo_skipped and logo is not False:
        warnings.append(f"leave-one-group-out skipped: {logo_skipped}")
    if not logo_skipped:
        mode = "auto" if logo is True else str(logo)
        exact = mode == "exact" or (mode == "auto" and len(levels) <= logo_max_groups)
        n_folds = len(levels) if exact else min(logo_folds or DEFAULT_FOLDS, len(levels))
        say(f"leave-one-group-out: {'exact' if exact else f'grouped {n_folds}-fold CV'} over "
            f"{len(levels)} groups of '{group}': {n_folds * len(formulas)} refits "
            f"({l_draws} draws + {l_tune} tune, {chains} chains each)")

        def refit(name: str, f: str, train: pd.DataFrame, fold: int) -> Fit:
            # a held-out fold may remove the level an override names: relaxed matching
            return _fit(f, train, draws=l_draws, tune=l_tune, seed=logo_seed + fold,
                        **{**fit_kw, "priors": relaxed_priors})

        trials = hier.model.design.trials
        logo_result = leave_one_group_out(
            formulas, data, labels, group_cols, y, trials, refit,
            max_groups=logo_max_groups, mode=mode, seed=logo_seed, chunk=chunk,
            progress=say, keep_fits=keep_logo_fits, folds=logo_folds)
        tables["logo"] = logo_result.summary
        tables["logo_groups"] = logo_result.groups
    t_logo = time.perf_counter()
    flagged = gt.table[gt.table["flags"] != ""]
    hit = flagged.loc[flagged["small_n"], "group"].astype(str).tolist()
    if hit:
        warnings.append(f"{len(hit)} group(s) with few rows ({', '.join(hit[:8])}"
                        f"{', ...' if len(hit) > 8 else ''}): their unpooled estimates are "
                        "noise-dominated; the hierarchical estimate borrows strength")
    seconds = {"fits": t_fits - t_start, "PSIS-LOO": t_loo - t_fits,
               "per-group": t_groups - t_loo}
    if logo_result is not None:
        seconds["leave-one-group-out"] = t_logo - t_groups
    seconds["total"] = time.perf_counter() - t_start
    settings = {"draws": draws, "tune": tune, "chains": chains, "seed": seed,
                "backend": backend, "family": family, "link": link, "priors": _priors_label(priors),
                "center_predictors": options["center_predictors"],
                "prob": prob, "n": len(y), "group": group, "effect": spec.label,
                "logo": str(logo), "logo_max_groups": logo_max_groups,
                "logo_folds": (len(logo_result.folds) if logo_result is not None
                               and not logo_result.exact else None),
                "logo_method": logo_result.method if logo_result is not None else None,
                "logo_skipped": logo_skipped or None,
                "logo_draws": l_draws, "logo_tune": l_tune,
                "small_n": small_n, "min_cell": min_cell,
                "extreme_scale": gt.scale, "extreme_scale_source": gt.scale_source,
                "loo_distinct_rows": distinct, "seconds": seconds}
    say(f"done in {_seconds(seconds['total'])}")
    return Comparison(formula=formula, formulas=formulas, fits=fits, kinds=kinds, loo=elpds,
                      group=group, effect=spec, groups=gt, tables=tables, logo=logo_result,
                      warnings=warnings, settings=settings, labels=labels, data=data,
                      log_response=log_resp)


__all__ = ["Comparison", "compare"]
