"""Rendering a :class:`~hiermodel.comparison.result.Comparison` as text: the plain-text report
(``str(comparison)``), its opening sentences (``Comparison.summary_lines``), the summary tables
and ``report.md``."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hiermodel.comparison.loo import K_THRESHOLD
from hiermodel.numbers import format_seconds, markdown_table, text_table

if TYPE_CHECKING:
    from hiermodel.comparison.result import Comparison

TERMINAL_WIDTH = 100
MAX_FLAGGED = 10
_QUANTITY_NAMES = {"mean": "group mean", "intercept": "intercept", "effect": "effect"}
QUANTITY_LONG = {"mean": "group mean (the mean linear predictor over the group's own rows)",
                 "intercept": "intercept (linear predictor at the reference row, effect off)",
                 "effect": "effect"}


def _signed(x: float, digits: int = 2) -> str:
    return f"{x:+.{digits}f}" if math.isfinite(x) else "nan"


def render_markdown(cmp: Comparison, text: str, pngs: list[str]) -> str:
    """``report.md``: the summary sentences, the text report ``text`` and the figures
    ``pngs`` (file names)."""
    captions = {"shrinkage": "Shrinkage: each group's unpooled estimate (o) and where the "
                             "hierarchical model puts it (arrow), by group size",
                "group_means": f"Raw mean response by {cmp.group}",
                "loo": "Predictive performance (elpd, higher is better)"}
    lines = [f"# Pooled vs unpooled vs hierarchical: `{cmp.formula}`", "",
             "## What partial pooling buys", ""]
    lines += [f"- {s}" for s in summary_lines(cmp)]
    head, sep, rest = text.partition("\nWhat partial pooling buys:\n")
    if sep:  # the sentences are above: keep the header and the details
        rest = rest[rest.find("\nVariants:") + 1:]
        text = head + "\n" + rest
    lines += ["", "## Predictive performance", "",
              "PSIS-LOO (new observations of known groups; higher elpd is better):", "",
              markdown_table(cmp.tables["loo"][["elpd_loo", "se", "elpd_diff", "dse",
                                                "weight"]], index=True), ""]
    if cmp.logo is not None:
        lines += [f"Leave-one-group-out (new groups; {cmp.logo.method.split(' (')[0]}):", "",
                  markdown_table(cmp.tables["logo"][["elpd_logo", "se", "elpd_diff", "dse"]],
                                 index=True), ""]
    lines += ["## Report", "", "```text", text, "```", ""]
    if pngs:
        lines += ["## Figures", ""]
        for name in pngs:
            stem = name[:-4]
            cap = captions.get(stem, f"Per-{cmp.group} {stem.split('_', 1)[-1]} under "
                                     "each variant" if stem.startswith("estimates_")
                               else stem)
            lines += [f"### {cap}", "", f"![{cap}]({name})", ""]
    return "\n".join(lines)


def _verdict(table: pd.DataFrame, col: str, what: str) -> str:
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


def verdict_lines(cmp: Comparison) -> list[str]:
    """The verdict: which variant predicts new observations of known groups best (PSIS-LOO)
    and which predicts new groups best (leave-one-group-out), with the differences."""
    s = cmp.settings
    out = [_verdict(cmp.tables["loo"], "elpd_loo",
                    "New observations of known groups (PSIS-LOO, elpd summed over "
                    f"{s['n']} observations)")]
    if cmp.logo is not None:
        out.append(_verdict(cmp.tables["logo"], "elpd_logo",
                            f"New groups ({cmp.logo.method.split(' (')[0]}, elpd "
                            f"summed over {len(cmp.tables['groups'])} held-out "
                            "groups)"))
    elif s.get("logo_skipped"):
        out.append(f"New groups: not assessed ({s['logo_skipped']}).")
    return out


def _effect_sentence(cmp: Comparison) -> str | None:
    pop = cmp.tables["population"]
    if cmp.effect.variable is None or "hierarchical" not in cmp.formulas:
        return None
    h = pop[(pop.variant == "hierarchical") & (pop.quantity == "effect")].iloc[0]
    text = (f"Hierarchical population effect of {cmp.effect.label}: "
            f"{h['median']:.2f} [{h['low']:.2f}, {h['high']:.2f}]")
    o = cmp.tables.get("original_scale")
    if o is not None and len(o) and "hierarchical" in set(o["variant"]):
        r = o.set_index("variant").loc["hierarchical"]
        text += (f", i.e. {r['ratio']:.2f}x [{r['ratio_low']:.2f}, "
                 f"{r['ratio_high']:.2f}] on the original scale")
    return text + "."


def _icc_sentence(cmp: Comparison) -> str | None:
    v = cmp.tables.get("variance")
    if v is None or not len(v):
        return None
    icc = v[(v.note == "ICC") & (v.component == cmp.group)]
    if not len(icc):
        return None
    r = icc.iloc[0]
    return (f"'{cmp.group}' accounts for {100 * r['share']:.0f}% "
            f"[{100 * r['share_low']:.0f}%, {100 * r['share_high']:.0f}%] of "
            "the variance (ICC of the hierarchical model).")


def summary_lines(cmp: Comparison) -> list[str]:
    """The report's opening: what partial pooling buys, in sentences."""
    out = verdict_lines(cmp)
    gt = cmp.tables["groups"]
    q = cmp.pooling_quantity
    varies = cmp.group_results.varies
    if cmp.effect.variable is not None and not varies.get("effect", False) \
            and "hierarchical" in cmp.formulas:
        text = (f"The hierarchical model has one common {cmp.effect.variable} effect "
                f"for every {cmp.group} (fully pooled); partial pooling acts on the "
                f"{cmp.group} {_QUANTITY_NAMES.get(q, q)}.")
        u = gt.get("effect_unpooled")
        if str(cmp.tables["loo"].index[0]) == "unpooled" and u is not None \
                and float(np.nanstd(u)) > 1e-8:
            text += (f" The unpooled variant, whose {cmp.effect.variable} effect differs "
                     f"by {cmp.group}, predicts better: the data suggest letting the "
                     f"effect vary too, e.g. (1 + {cmp.effect.variable} | {cmp.group}).")
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
    for qq in _difference_quantities(cmp):
        rows = _largest_differences(cmp, qq, 5)
        if rows:
            out.append("Largest hierarchical vs unpooled differences in the "
                       f"{_QUANTITY_NAMES.get(qq, qq)}: "
                       + "; ".join(rows) + ".")
    out += [x for x in (_effect_sentence(cmp), _icc_sentence(cmp)) if x is not None]
    flagged = cmp.flagged
    if len(flagged):
        parts = [f"{r.group} ({r.flags.replace(',', ', ')})" for r in flagged.itertuples()]
        out.append(f"Flagged groups ({len(flagged)} of {len(gt)}): {'; '.join(parts)}.")
    return out


def report_quantities(cmp: Comparison) -> list[str]:
    """The quantities the text report shows per group: the effect and the group mean (the
    intercept at the reference row is in the tables and figures)."""
    qs = list(dict.fromkeys(cmp.group_results.estimates["quantity"]))
    return [q for q in qs if q != "intercept"] or qs


def _difference_quantities(cmp: Comparison) -> list[str]:
    q = cmp.pooling_quantity
    return [q] + [x for x in report_quantities(cmp) if x != q]


def _largest_differences(cmp: Comparison, q: str, k: int) -> list[str]:
    gt = cmp.tables["groups"]
    if f"{q}_unpooled" not in gt or f"{q}_hierarchical" not in gt:
        return []
    diff = (gt[f"{q}_hierarchical"] - gt[f"{q}_unpooled"]).abs()
    out = []
    cells = cmp.effect.has_cells and {"n_off", "n_on"} <= set(gt.columns)
    for i in diff.sort_values(ascending=False).index[:k]:
        r = gt.loc[i]
        size = f"n={int(r['n'])}"
        if cells:
            size += (f": {int(r['n_off'])} {_show_level(cmp.effect.off)}, "
                     f"{int(r['n_on'])} {_show_level(cmp.effect.on)}")
        out.append(f"{r['group']} ({size}) unpooled {_signed(r[f'{q}_unpooled'])} "
                   f"[{_signed(r[f'{q}_unpooled_low'])}, {_signed(r[f'{q}_unpooled_high'])}]"
                   f" -> hierarchical {_signed(r[f'{q}_hierarchical'])}")
    return out


def _header(cmp: Comparison) -> list[str]:
    s = cmp.settings
    return [
        f"Comparison of {len(cmp.formulas)} variants of  {cmp.formula}",
        f"  {s['n']} observations, {len(cmp.tables['groups'])} groups of '{cmp.group}'; "
        f"effect: {cmp.effect.label}",
        f"  {s['chains']} chains x {s['draws']} draws ({s['tune']} tune) per fit, backend "
        f"{s['backend']}, priors {s['priors']!s}",
    ]


def _bullet(sentence: str, width: int) -> str:
    return textwrap.fill(sentence, width=width, initial_indent="  - ",
                         subsequent_indent="    ", break_on_hyphens=False)


def render_terminal(cmp: Comparison, directory: str | Path | None = None,
                    width: int = TERMINAL_WIDTH, max_flagged: int = MAX_FLAGGED) -> str:
    """The one-screen summary ``hiermodel compare`` prints: the verdict, the LOO and LOGO
    tables, the effect on the original scale and the flagged groups (at most
    ``max_flagged``), then where the full report (``report.txt``) and tables are."""
    lines = [*_header(cmp), "", "Verdict:"]
    lines += [_bullet(x, width) for x in verdict_lines(cmp)]
    lines += [_bullet(x, width) for x in (_effect_sentence(cmp), _icc_sentence(cmp))
              if x is not None]
    loo_t = cmp.tables["loo"][["elpd_loo", "se", "elpd_diff", "dse", "weight", "n_k_high"]]
    lines += ["", "PSIS-LOO (higher elpd is better):",
              text_table(loo_t.rename(columns={"n_k_high": f"k>{K_THRESHOLD}"}), index=True)]
    if cmp.logo is not None:
        lt = cmp.tables["logo"][["elpd_logo", "se", "elpd_diff", "dse"]]
        lines += ["", f"Leave-one-group-out ({cmp.logo.method.split(' (')[0]}):",
                  text_table(lt, index=True)]
    o = cmp.tables.get("original_scale")
    if o is not None and len(o):
        lines += ["", "Effect on the original scale, exp(effect):",
                  text_table(o[["variant", "ratio", "ratio_low", "ratio_high",
                                "percent_change"]])]
    flagged = cmp.flagged
    gt = cmp.tables["groups"]
    if len(flagged):
        shown = flagged[["group", "n", "flags"]].head(max_flagged)
        lines += ["", f"Flagged groups ({len(flagged)} of {len(gt)}):", text_table(shown)]
        if len(flagged) > max_flagged:
            lines.append(f"  ... and {len(flagged) - max_flagged} more (groups.csv)")
    else:
        lines += ["", f"Flagged groups: none of {len(gt)}."]
    if cmp.warnings:
        lines += ["", f"{len(cmp.warnings)} warning(s): see the report."]
    if directory is not None:
        lines += ["", f"Full report: {Path(directory) / 'report.txt'} (tables, figures and "
                  f"report.md in {directory})"]
    return "\n".join(lines)


def render_text(cmp: Comparison) -> str:
    """The plain-text report (``str(comparison)``)."""
    s = cmp.settings
    gt = cmp.tables["groups"]
    lines = [*_header(cmp), "", "What partial pooling buys:"]
    for sentence in summary_lines(cmp):
        lines.append("  - " + sentence)
    lines += ["", "Variants:"]
    width = max(len(v) for v in cmp.formulas)
    for v, f in cmp.formulas.items():
        lines.append(f"  {v.ljust(width)}  {f}   [{cmp.kinds.get(v, '')}]")
    loo_t = cmp.tables["loo"][["elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight",
                               "n_k_high"]].rename(columns={"n_k_high": f"k>{K_THRESHOLD}"})
    distinct = s.get("loo_distinct_rows") or {}
    note = ""
    if distinct and max(distinct.values()) < s["n"]:
        note = (f"; observations with identical cell and response computed once: "
                f"{', '.join(f'{k} {v}' for k, v in distinct.items())} distinct")
    lines += ["", f"PSIS-LOO per observation (N = {s['n']}; higher elpd is better; weight ="
              f" stacking{note}):", text_table(loo_t, index=True)]
    if cmp.logo is not None:
        lt = cmp.tables["logo"][["elpd_logo", "se", "elpd_diff", "dse", "elpd_per_obs",
                                 "elpd_pointwise_per_obs"]]
        lines += ["", f"Leave-one-group-out: {cmp.logo.method}; elpd = sum over groups of "
                  "the joint log predictive density of the held-out group:",
                  text_table(lt, index=True)]
        lines.append(f"  cost: {cmp.logo.n_refits} refits ({s['logo_draws']} draws + "
                     f"{s['logo_tune']} tune, {s['chains']} chains each) in "
                     f"{format_seconds(cmp.logo.seconds)}")
    pop = cmp.tables["population"]
    for q in report_quantities(cmp):
        p = pop[pop.quantity == q][["variant", "median", "low", "high", "basis"]]
        name = f"effect ({cmp.effect.label})" if q == "effect" else \
            QUANTITY_LONG.get(q, q)
        lines += ["", f"Population value of the {name}, median and "
                  f"{int(s['prob'] * 100)}% interval:", text_table(p)]
    if "original_scale" in cmp.tables and len(cmp.tables["original_scale"]):
        o = cmp.tables["original_scale"][["variant", "ratio", "ratio_low", "ratio_high",
                                          "percent_change"]]
        lines += ["", "On the original scale (log response): multiplicative effect "
                  "exp(effect):", text_table(o)]
    if "variance" in cmp.tables:
        v = cmp.tables["variance"][["component", "term", "variance", "share", "share_low",
                                    "share_high", "note"]]
        lines += ["", "Variance partition of the hierarchical model (share = ICC):",
                  text_table(v)]
    flagged = cmp.flagged
    varies = cmp.group_results.varies
    for j, q in enumerate(report_quantities(cmp)):
        how = "" if varies.get(q, True) else \
            "; one common value in the hierarchical model, so its pooling factor is 1"
        head = (f"Per-group {QUANTITY_LONG.get(q, q)}; pooling factor 0 = unpooled, "
                f"1 = fully pooled{how}"
                + (f"; {len(flagged)} of {len(gt)} groups flagged:" if j == 0 else ":"))
        cols = ["group", "n"] + [c for c in ("n_off", "n_on") if c in gt]
        for v in cmp.formulas:
            if f"{q}_{v}" in gt:
                cols.append(f"{q}_{v}")
        if f"pooling_{q}" in gt:
            cols.append(f"pooling_{q}")
        if j == 0:
            cols.append("flags")
        shown = gt[cols].rename(columns={f"{q}_{v}": v for v in cmp.formulas}
                                | {f"pooling_{q}": "pooling"})
        lines += ["", head, text_table(shown)]
    if len(flagged):
        lines += ["", "Why flagged:"]
        for r in flagged.itertuples():
            lines.append(f"  {r.group}: {r.reason}")
    if cmp.warnings:
        lines += ["", "Warnings:"] + [f"  - {w}" for w in cmp.warnings]
    t = s.get("seconds") or {}
    if t:
        lines += ["", "Time: " + ", ".join(f"{k} {format_seconds(v)}" for k, v in t.items())]
    return "\n".join(lines)


def priors_label(priors: Any) -> str:
    """A short description of ``priors=`` for the report."""
    from hiermodel.priors import PriorSpec

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


__all__ = [
    "MAX_FLAGGED",
    "QUANTITY_LONG",
    "TERMINAL_WIDTH",
    "priors_label",
    "render_markdown",
    "render_terminal",
    "render_text",
    "report_quantities",
    "summary_lines",
    "verdict_lines",
]
