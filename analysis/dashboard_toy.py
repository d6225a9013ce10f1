"""The simple model's page (Fig. 8): landscapes with walker paths, MSD curves, gradient histograms, phase diagrams.

    python -m analysis.dashboard_toy --out runs/toy   # -> runs/toy/dashboard/toy.html

Reads the tables of :mod:`analysis.toy_tables` and writes ``<out>/dashboard/toy.html`` next to a copy of
the installed plotly's ``plotly.min.js``, loaded by a relative path (no CDN: works offline). Figures are
plotly figure dicts rendered without plotly.js; every string from the data that reaches the HTML is
escaped with ``html.escape`` (inside figures plotly's JSON escapes ``<``). A missing table makes its
section say "not available" instead of failing.
"""
from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from html import escape
from pathlib import Path

import numpy as np
import polars as pl

from analysis.toy_tables import read_tables

__all__ = ["build_toy_page"]

KIND_ORDER = ("midpoint", "spectral", "smoothed", "paraboloid", "cone")
PREFERRED_ETA, PREFERRED_HURST = 0.02, 1.0  # the authors' setting: eta = 0.02, halving roughness (H = 1)
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
CSS = """body { font: 14px/1.4 system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; } .na { color: #777; font-style: italic; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(430px, 1fr)); gap: .5em; }
table { border-collapse: collapse; font-size: 12px; } td, th { border: 1px solid #ddd; padding: 2px 6px; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-height: 30em; }"""


def build_toy_page(out: Path) -> Path:
    """Write ``out/dashboard/toy.html`` (and ``plotly.min.js`` beside it); return the page's path."""
    out = Path(out)
    folder = out / "dashboard"
    folder.mkdir(parents=True, exist_ok=True)
    import plotly

    shutil.copyfile(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", folder / "plotly.min.js")
    t = read_tables(out)
    chosen = _examples(t["settings"])
    body = [_run_info(out), "<h2>Landscapes U = 10 - z with walker paths (Fig. 8a)</h2>",
            _grid([_landscape(t, s) for s in chosen]),
            "<h2>MSD before and after entering the final basin (Fig. 8b; log-log)</h2>",
            _grid([_msd(t["msd"], s) for s in chosen]),
            "<h2>Gradient distribution with stable and Gaussian fits (Fig. 8c; log y)</h2>",
            _grid([_histogram(t["gradient_histogram"], s) for s in chosen]),
            "<h2>Phase diagrams over (eta, H): fraction of walkers per outcome</h2>", _phase(t["phase"]),
            "<h2>Settings</h2>", _settings_table(t["settings"])]
    page = folder / "toy.html"
    page.write_text(_page("Simple model of SGD on 2D landscapes (Eq. 10, Fig. 8)", "\n".join(body)), encoding="utf-8")
    return page


def _examples(settings: pl.DataFrame | None) -> list[dict]:
    """One setting per kind and octave count: eta nearest 0.02, H nearest 1 (the authors' choice), seed first."""
    if settings is None or settings.is_empty():
        return []
    chosen = []
    for kind in KIND_ORDER:
        part = settings.filter(pl.col("kind") == kind)
        for octaves in sorted(set(part["octaves"].to_list())):
            rows = part.filter(pl.col("octaves") == octaves).to_dicts()
            chosen.append(min(rows, key=lambda r: (abs(math.log(r["eta"] / PREFERRED_ETA)),
                                                   0 if math.isnan(r["hurst"]) else abs(r["hurst"] - PREFERRED_HURST),
                                                   r["seed"])))
    return chosen


def _label(s: dict) -> str:
    h = "" if math.isnan(s["hurst"]) else f", H {s['hurst']:g}, {s['octaves']} octaves"
    return f"{s['kind']}{h}, eta {s['eta']:g}, sigma {s['sigma']:g}, seed {s['seed']}"


def _landscape(t: dict, s: dict) -> str:
    surf, paths = t["surfaces"], t["paths"]
    if surf is None or surf.is_empty():
        return _na(f"landscape {_label(s)}", "surfaces.parquet missing")
    lid = s["setting_id"][: s["setting_id"].index("_eta")]
    part = surf.filter(pl.col("landscape_id") == lid).sort(["i", "j"])
    if part.is_empty():
        return _na(f"landscape {_label(s)}", "no preview of this landscape")
    n = int(part["i"].max()) + 1
    axis = part.filter(pl.col("j") == 0)["x"].to_list()
    u = (10.0 - part["z"].to_numpy()).reshape(n, n)
    traces = [{"type": "heatmap", "x": axis, "y": axis, "z": u.T.tolist(), "colorscale": "Viridis",
               "colorbar": {"title": {"text": "U"}}, "name": "U"}]
    if paths is not None and not paths.is_empty():
        mine = paths.filter(pl.col("setting_id") == s["setting_id"])
        for k, w in enumerate(sorted(set(mine["walker"].to_list()))):
            p = mine.filter(pl.col("walker") == w).sort("step")
            traces.append({"type": "scatter", "mode": "lines", "x": p["x"].to_list(), "y": p["y"].to_list(),
                           "name": f"walker {w}",
                           "line": {"color": "white" if k == 0 else COLOURS[k % 6], "width": 1.5}})
            traces.append({"type": "scatter", "mode": "markers", "x": [p["x"][0], p["x"][-1]],
                           "y": [p["y"][0], p["y"][-1]],
                           "marker": {"symbol": ["x", "circle"], "color": "red", "size": 8}, "showlegend": False})
    axes = {"xaxis": {"title": {"text": "x"}, "range": [-1, 1]},
            "yaxis": {"title": {"text": "y"}, "range": [-1, 1], "scaleanchor": "x"}}
    layout = _layout(_label(s), "x", "y", extra={"showlegend": False, **axes})
    return _figure({"data": traces, "layout": layout})


def _msd(msd: pl.DataFrame | None, s: dict) -> str:
    if msd is None or msd.is_empty():
        return _na(f"MSD {_label(s)}", "msd.parquet missing")
    mine = msd.filter(pl.col("setting_id") == s["setting_id"])
    traces = []
    for k, (segment, dash) in enumerate((("before", "solid"), ("after", "dash"), ("all", "dot"))):
        curve = (mine.filter(pl.col("segment") == segment).group_by("lag")
                 .agg(pl.col("msd").median(), pl.len().alias("n")).filter(pl.col("n") >= 3).sort("lag"))
        if curve.height:
            traces.append({"type": "scatter", "mode": "lines+markers", "x": curve["lag"].to_list(),
                           "y": curve["msd"].to_list(),
                           "name": f"{segment} (median of walkers)", "line": {"dash": dash, "color": COLOURS[k]}})
    if not traces:
        return _na(f"MSD {_label(s)}", "no walker has a segment of >= 20 steps")
    alphas = f"alpha before {s['median_alpha_before']:.2f}, after {s['median_alpha_after']:.2f}"
    traces += _guides(traces)
    layout = _layout(f"{_label(s)}<br>{alphas}", "lag (steps)", "MSD (domain units^2)", logx=True, logy=True)
    return _figure({"data": traces, "layout": layout})


def _guides(traces: list[dict]) -> list[dict]:
    """Reference slopes 1 and 2 through the first point of the first curve."""
    x0, y0 = traces[0]["x"][0], traces[0]["y"][0]
    x1 = max(max(t["x"]) for t in traces)
    return [{"type": "scatter", "mode": "lines", "x": [x0, x1], "y": [y0, y0 * (x1 / x0) ** p], "name": f"slope {p}",
             "line": {"color": "#aaa", "width": 1, "dash": "dot" if p == 1 else "dashdot"}} for p in (1, 2)]


def _histogram(hist: pl.DataFrame | None, s: dict) -> str:
    if hist is None or hist.is_empty():
        return _na(f"gradients {_label(s)}", "gradient_histogram.parquet missing")
    h = hist.filter(pl.col("setting_id") == s["setting_id"]).sort("bin")
    if h.is_empty():
        return _na(f"gradients {_label(s)}", "too few gradient samples")
    x = h["gradient"].to_list()
    traces = [{"type": "bar", "x": x, "y": h["density"].to_list(), "name": "gradients (pooled)",
               "marker": {"color": "#9ecae1"}},
              {"type": "scatter", "mode": "lines", "x": x, "y": h["stable_pdf"].to_list(), "name": "stable fit",
               "line": {"color": COLOURS[1]}},
              {"type": "scatter", "mode": "lines", "x": x, "y": h["normal_pdf"].to_list(), "name": "Gaussian fit",
               "line": {"color": COLOURS[0], "dash": "dash"}}]
    title = f"{_label(s)}<br>stable alpha {s['pooled_levy_alpha']:.2f}, LLR {s['pooled_levy_llr']:.1f}"
    layout = _layout(title, "dU/dx and dU/dy (pooled)", "density", logy=True, extra={"bargap": 0})
    return _figure({"data": traces, "layout": layout})


def _phase(phase: pl.DataFrame | None) -> str:
    if phase is None or phase.is_empty():
        return _na("phase diagram", "phase.parquet missing")
    blocks = []
    fractal = phase.filter(pl.col("hurst").is_not_nan())
    for key in fractal.select("kind", "octaves", "sigma").unique(maintain_order=True).iter_rows():
        part = fractal.filter((pl.col("kind") == key[0]) & (pl.col("octaves") == key[1]) & (pl.col("sigma") == key[2]))
        blocks.append(_phase_figure(part, f"{key[0]}, {key[1]} octaves, sigma {key[2]:g}"))
    bowls = phase.filter(pl.col("hurst").is_nan())
    if not bowls.is_empty():
        cols = ["kind", "sigma", "eta", "frac_escaped", "frac_converged", "frac_trapped", "frac_wandering"]
        rows = bowls.select(cols).rows()
        blocks.append("<div><p>Bowls (no H)</p>" + _table(["kind", "sigma", "eta", "escaped", "converged", "trapped",
                                                          "wandering"], rows) + "</div>")
    return "\n".join(blocks)


def _phase_figure(part: pl.DataFrame, title: str) -> str:
    etas, hursts = sorted(set(part["eta"].to_list())), sorted(set(part["hurst"].to_list()))
    traces, layout = [], _layout(title, "", "", extra={"height": 300, "width": 900})
    for k, outcome in enumerate(("trapped", "converged", "escaped")):
        grid = np.full((len(hursts), len(etas)), np.nan)
        for r in part.iter_rows(named=True):
            grid[hursts.index(r["hurst"]), etas.index(r["eta"])] = r[f"frac_{outcome}"]
        ax = "" if k == 0 else str(k + 1)
        traces.append({"type": "heatmap", "x": [f"{e:g}" for e in etas], "y": [f"{h:g}" for h in hursts],
                       "z": [[None if math.isnan(v) else v for v in row] for row in grid], "zmin": 0, "zmax": 1,
                       "colorscale": "Viridis", "showscale": k == 2, "xaxis": f"x{ax}", "yaxis": f"y{ax}",
                       "hovertemplate": f"eta %{{x}}, H %{{y}}: {outcome} %{{z:.2f}}<extra></extra>"})
        layout[f"xaxis{ax}"] = {"domain": [k / 3 + 0.02, (k + 1) / 3 - 0.04], "type": "category",
                                "title": {"text": f"eta ({outcome})"}}
        layout[f"yaxis{ax}"] = {"anchor": f"x{ax}", "title": {"text": "H" if k == 0 else ""}, "type": "category"}
    return _figure({"data": traces, "layout": layout})


def _settings_table(settings: pl.DataFrame | None) -> str:
    if settings is None or settings.is_empty():
        return _na("settings", "settings.parquet missing")
    cols = ["kind", "hurst", "octaves", "eta", "sigma", "seed", "n_walkers", "frac_escaped", "frac_converged",
            "frac_trapped", "frac_wandering", "median_alpha_before", "n_alpha_before", "median_alpha_after",
            "median_alpha_all", "median_levy_alpha", "median_levy_llr", "frac_llr_positive", "pooled_levy_alpha",
            "pooled_levy_llr", "median_n_escapes", "median_escape_jump_mean", "median_step_median"]
    cols = [c for c in cols if c in settings.columns]
    return _table(cols, settings.select(cols).rows())


def _table(header: list[str], rows: list) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _cell(v) -> str:
    if isinstance(v, float):
        return f'<td class="num">{"" if math.isnan(v) else f"{v:.4g}"}</td>'
    if isinstance(v, int) and not isinstance(v, bool):
        return f'<td class="num">{v}</td>'
    return f"<td>{escape(str(v))}</td>"


def _run_info(out: Path) -> str:
    try:
        info = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _na("run information", "run.json missing or unreadable")
    opts = info.get("options", {})
    names = ("size", "walkers", "steps", "kinds", "hursts", "etas", "sigmas", "seeds", "octaves", "radius", "dwell",
             "quick")
    keep = {k: opts.get(k) for k in names}
    keep.update({k: info.get(k) for k in ("n_settings", "sweep_seconds", "code_version", "host")})
    rows = [[k, json.dumps(v) if isinstance(v, (list, dict)) else v] for k, v in keep.items()]
    return "<h2>Run</h2>" + _table(["option", "value"], rows)


def _layout(title: str, x: str, y: str, *, logx: bool = False, logy: bool = False, extra: dict | None = None) -> dict:
    layout = {"title": {"text": escape(title).replace("&lt;br&gt;", "<br>"), "font": {"size": 12}},
              "xaxis": {"title": {"text": x}, "type": "log" if logx else "linear"},
              "yaxis": {"title": {"text": y}, "type": "log" if logy else "linear"},
              "height": 420, "margin": {"l": 55, "r": 20, "t": 60, "b": 45}, "legend": {"font": {"size": 10}}}
    layout.update(extra or {})
    return layout


def _figure(fig: dict) -> str:
    import plotly.io as pio

    return "<div>" + pio.to_html(fig, full_html=False, include_plotlyjs=False, validate=False,
                                 config={"displaylogo": False}) + "</div>"


def _na(what: str, why: str) -> str:
    return f'<p class="na">{escape(what)}: not available ({escape(why)})</p>'


def _grid(blocks: list[str]) -> str:
    return '<div class="grid">' + "\n".join(blocks) + "</div>" if blocks else _na("section", "no settings")


def _page(title: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style>
<script src="plotly.min.js"></script>
</head><body>
<h1>{escape(title)}</h1>
<script>if (!window.Plotly) document.write('<p class="na">plotly.min.js did not load: no figures</p>');</script>
{body}
</body></html>
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.dashboard_toy", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/toy", help="folder holding the simple model's tables")
    a = p.parse_args(argv)
    if not (Path(a.out) / "settings.parquet").exists():
        print(f"error: --out: {a.out}/settings.parquet does not exist; run python -m analysis.toy first",
              file=sys.stderr)
        return 2
    print(build_toy_page(Path(a.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
