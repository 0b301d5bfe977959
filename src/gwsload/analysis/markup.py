"""HTML building blocks of the pages: one table style, inline PNGs, the page shell.

Pure: returns strings.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from gwsload.contract import numbers

__all__ = ["figure_png", "page", "table"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1100px;color:#222;line-height:1.4;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;
margin-top:32px}
.meta{color:#555;font-size:.9em}.verdict{padding:12px 16px;border-radius:6px;font-size:1.15em;
font-weight:600;margin:16px 0}
.pass{background:#e3f5e1;border-left:6px solid #2e7d32}.fail{background:#fde4e1;
border-left:6px solid #c62828}
.none{background:#eef0f3;border-left:6px solid #78909c}
.warning{background:#fff6d6;border-left:4px solid #f0b400;padding:6px 10px;margin:6px 0}
.note{background:#f3f5f8;border-left:4px solid #90a4ae;padding:6px 10px;margin:6px 0}
table{border-collapse:collapse;margin:8px 0;font-size:.88em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f3f5f8}td:first-child,th:first-child{text-align:left}
td.text,th.text{text-align:left}.bad{color:#c62828;font-weight:600}.good{color:#2e7d32}
img{max-width:100%;display:block;margin:8px 0}.grid{display:flex;flex-wrap:wrap;gap:8px}
.grid img{max-width:540px}tr.total td{font-weight:600;background:#fafbfc}
table{display:block;overflow-x:auto;max-width:100%}
table.facts th{text-align:left;font-weight:600;width:12em}h3{margin-top:20px}
"""


def figure_png(plot: Axes | Figure, *, alt: str | None = None) -> str:
    """An Axes' figure (or a Figure) as an ``<img>`` with an inline base64 PNG."""
    buffer = io.BytesIO()
    figure = plot if isinstance(plot, Figure) else plot.get_figure(root=True)
    assert isinstance(figure, Figure)  # every Axes made by plots.new_axes has one
    figure.savefig(buffer, format="png", dpi=100)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    if alt is None:
        alt = plot.get_title() if isinstance(plot, Axes) else "plot"
    return f'<img alt="{html.escape(alt or "plot")}" src="data:image/png;base64,{encoded}">'


def _cell(value: object) -> str:
    if isinstance(value, float | np.floating):
        return numbers.significant(float(value), 4)
    if isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_):
        return numbers.count(int(value))
    if isinstance(value, list):
        return "<br>".join(html.escape(str(v)) for v in value)
    return html.escape(str(value))


def table(frame: pd.DataFrame, *, classes: dict[int, str] | None = None) -> str:
    """A plain HTML table of ``frame`` (index not shown). ``classes``: row -> CSS class."""
    rows = list(frame.itertuples(index=False))
    # a header sits like its column's cells: left over text, right over numbers
    text_columns = {
        j for j in range(len(frame.columns)) if rows and isinstance(rows[0][j], str | list)
    }
    head = "".join(
        f'<th class="text">{html.escape(str(c))}</th>'
        if j in text_columns
        else f"<th>{html.escape(str(c))}</th>"
        for j, c in enumerate(frame.columns)
    )
    body = []
    for i, row in enumerate(rows):
        css = f' class="{classes[i]}"' if classes and i in classes else ""
        cells = "".join(
            f'<td class="text">{_cell(v)}</td>'
            if isinstance(v, str | list)
            else f"<td>{_cell(v)}</td>"
            for v in row
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, sections: Iterable[str]) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
