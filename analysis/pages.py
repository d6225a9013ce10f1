"""HTML pieces of the dashboard: the page template, sortable tables, key-value tables, figure blocks.

Every value that reaches the HTML goes through `html.escape` here (`cell`, `kv_table`, `page`);
figures are plotly figure dicts rendered by `plotly.io.to_html` without plotly.js (the page loads one
shared `plotly.min.js` by a relative path). The page template reports JavaScript errors in a visible
`#js-errors` box, so a broken page says so instead of showing empty plots.
"""
from __future__ import annotations

import json
import math
from html import escape

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
nav a { margin-right: 1.5em; } h1 { font-size: 1.5em; word-break: break-all; }
h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 2px 6px; }
th { background: #f3f3f3; position: sticky; top: 0; } table.sortable th { cursor: pointer; }
th[data-order=asc]::after { content: " \\25B2"; } th[data-order=desc]::after { content: " \\25BC"; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } .scroll { overflow-x: auto; max-width: 100%; }
tr.state-diverged, tr.state-failed { background: #fde8e8; } tr.state-running { background: #fdf8e1; }
.bad { color: #b00020; } .na { color: #777; font-style: italic; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }
.js-errors { border: 2px solid #b00020; background: #fde8e8; color: #b00020; padding: .5em; white-space: pre-wrap; }
"""

ERRORS_JS = """
(function () {
  var early = [];  // errors raised before the #js-errors box exists
  function show(msg) {
    var box = document.getElementById("js-errors");
    if (!box) { early.push(msg); return; }
    box.hidden = false;
    var line = document.createElement("div"); line.textContent = msg; box.appendChild(line);
  }
  window.addEventListener("error", function (e) {
    show("JavaScript error: " + e.message + (e.filename ? " (" + e.filename + ":" + e.lineno + ")" : ""));
  });
  window.addEventListener("unhandledrejection", function (e) {
    show("JavaScript error: " + ((e.reason && e.reason.message) || e.reason));
  });
  document.addEventListener("DOMContentLoaded", function () { early.splice(0).forEach(show); });
})();
"""

SORT_JS = """
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
    var asc = th.dataset.order !== "asc";
    table.querySelectorAll("th").forEach(function (h) { delete h.dataset.order; });
    th.dataset.order = asc ? "asc" : "desc";
    function key(row) {
      var c = row.cells[col], v = c.dataset.v !== undefined ? c.dataset.v : c.textContent.trim();
      return v === "" ? [2, ""] : isNaN(Number(v)) ? [1, v.toLowerCase()] : [0, Number(v)];
    }
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x[0] !== y[0]) return x[0] - y[0];  // numbers, then text, then blanks (either order)
      return (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
"""


def page(title: str, body: str, *, root: str = "") -> str:
    """A whole HTML page; `root` is the relative path from the page to the dashboard folder ("" or "../")."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{CSS}</style>
<script>{ERRORS_JS}</script>
<script src="{root}plotly.min.js"></script>
<script>if (!window.Plotly) throw new Error("plotly.min.js did not load from {root}plotly.min.js");</script>
</head><body>
<div id="js-errors" class="js-errors" hidden></div>
<nav><a href="{root}index.html">Index</a><a href="{root}compare.html">Comparison</a></nav>
{body}
<script>{SORT_JS}</script>
</body></html>
"""


def figure(fig: dict | None, div_id: str, *, title: str, why: str) -> str:
    """A figure section: the plotly figure, or "<title>: not available (<why>)"."""
    import plotly.io as pio

    if fig is None:
        return f'<section><p class="na">{escape(title)}: not available ({escape(why)})</p></section>'
    return "<section>" + pio.to_html(fig, full_html=False, include_plotlyjs=False, validate=False,
                                     div_id=div_id, config={"displaylogo": False}) + "</section>"


def fmt(value) -> tuple[str, str]:
    """(display text, sort key) of a table value, both escaped; blank for missing or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "", ""
    if isinstance(value, bool):
        return ("yes" if value else "no"), str(int(value))
    if isinstance(value, float):
        return f"{value:.4g}", repr(value)
    if isinstance(value, int):
        return str(value), str(value)
    text = escape(str(value) if not isinstance(value, (dict, list)) else json.dumps(value, sort_keys=True))
    return text, text


def cell(value, *, link: str | None = None, css: str = "") -> str:
    """One <td>; numbers right-aligned; `link` (already a safe relative URL) wraps the text."""
    text, key = fmt(value)
    num = isinstance(value, (int, float)) and not isinstance(value, bool)
    text = f'<a href="{escape(link)}">{text}</a>' if link else text
    classes = " ".join(c for c in ("num" if num else "", css) if c)
    attr = f' class="{classes}"' if classes else ""
    return f'<td{attr} data-v="{key}">{text}</td>'


def html_table(header: list[str], rows: list[list[str]], *, row_classes: list[str] | None = None,
               sortable: bool = True) -> str:
    """A table of pre-rendered <td> cells; header texts are escaped; click a header to sort."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    classes = row_classes or [""] * len(rows)
    body = "\n".join(f'<tr class="{c}">{"".join(r)}</tr>' if c else f'<tr>{"".join(r)}</tr>'
                     for r, c in zip(rows, classes))
    kind = ' class="sortable"' if sortable else ""
    return f'<div class="scroll"><table{kind}><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>'


def flatten(data: dict, prefix: str = "") -> dict:
    """Nested dicts as dotted keys ({"config": {"lr": 0.1}} -> {"config.lr": 0.1})."""
    out = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        out.update(flatten(value, f"{name}.") if isinstance(value, dict) and value else {name: value})
    return out


def kv_table(data: dict) -> str:
    """A two-column escaped table of a (nested) dict; an empty dict says so."""
    if not data:
        return '<p class="na">not available</p>'
    rows = [[f"<td>{escape(str(k))}</td>", cell(v)] for k, v in flatten(data).items()]
    return html_table(["key", "value"], rows, sortable=False)
