"""The rendering half of the reports: Jinja2 templates (package data in ``templates/``),
DataFrames as HTML tables with one number format per column, figures as embedded images, and
the atomic write of the one-file page.

Nothing here knows what a fit or a comparison is: :mod:`hiermodel.report.fit_data` and
:mod:`hiermodel.report.compare_data` gather the content, this module turns it into HTML.
"""

from __future__ import annotations

import base64
import io
import os
import uuid
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup, escape
from matplotlib.figure import Figure

from hiermodel.errors import RunError
from hiermodel.numbers import format_column

DPI = 100


def table(df: pd.DataFrame | None, index: bool = False, table_id: str | None = None,
          max_rows: int = 500) -> Markup:
    """``df`` as an HTML table (numbers right-aligned, each column in one style of
    :mod:`hiermodel.numbers`); ``max_rows``
    rows at most, with a note on the rest (the CSV next to the report has them all)."""
    if df is None or df.empty:
        return Markup('<p class="note">(empty)</p>')
    frame = df.reset_index() if index else df
    shown = frame.iloc[:max_rows]
    columns = [str(c) for c in shown.columns]
    numeric = [pd.api.types.is_numeric_dtype(shown[c]) and not
               pd.api.types.is_bool_dtype(shown[c]) for c in shown.columns]
    cells = [format_column(shown[c].tolist()) for c in shown.columns]
    attr = f' id="{escape(table_id)}"' if table_id else ""
    out = [f"<table{attr}><thead><tr>"]
    out += [f"<th>{escape(c)}</th>" for c in columns]
    out.append("</tr></thead><tbody>")
    for i in range(len(shown)):
        out.append("<tr>" + "".join(
            f'<td class="num">{escape(col[i])}</td>' if num else f"<td>{escape(col[i])}</td>"
            for col, num in zip(cells, numeric, strict=True)) + "</tr>")
    out.append("</tbody></table>")
    if len(frame) > max_rows:
        out.append(f'<p class="note">first {max_rows} of {len(frame)} rows</p>')
    return Markup("".join(out))


def png_uri(data: bytes) -> str:
    """A ``data:`` URI of PNG bytes (the page needs no other file)."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def svg_uri(text: str) -> str:
    """A ``data:`` URI of SVG text (shown with ``<img>``, so graph ids never collide)."""
    return "data:image/svg+xml;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


def figure_png(fig: Figure, dpi: int = DPI) -> bytes:
    """``fig`` as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def image(item: Figure | bytes | None, alt: str = "") -> Markup:
    """An ``<img>`` for a Matplotlib figure or PNG bytes."""
    if item is None:
        return Markup("")
    data = figure_png(item) if isinstance(item, Figure) else item
    return Markup(f'<img src="{png_uri(data)}" alt="{escape(alt)}">')


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates, with the ``table`` and ``image``
    filters."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("hiermodel.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["table"] = table
    env.filters["image"] = image
    env.filters["svg_uri"] = svg_uri
    return env


def render(template: str, **context: Any) -> str:
    """Render ``template`` (a file in ``templates/``) with ``context``."""
    return environment().get_template(template).render(**context)


def write_html(text: str, path: str | Path) -> Path:
    """Write ``text`` to ``path`` atomically (a reader never sees half a page)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write the report {path}: {exc}") from exc
    return path


__all__ = ["DPI", "environment", "figure_png", "image", "png_uri", "render", "svg_uri", "table",
           "write_html"]
