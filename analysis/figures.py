"""Plotly figure specs for the dashboard: one function per figure of the paper, one trial at a time.

Every per-trial function takes the trial's rows of one analysis table (a polars DataFrame, or None when
the table or the trial's rows are missing) and returns a plotly figure as a plain dict
(``{"data": [...], "layout": {...}}``), or None when there is nothing finite to draw. Arrays are sent
as plotly.js typed arrays (float32, base64), so a page holds a few hundred kB at most; curves are
downsampled (MSD and beta to ~80 log-spaced lags, per-step series to <= 2000 steps). Per-trial figures
hold numbers and fixed text only; the grid figures (`heatmap`, `compare_lines`) pass every data string
through `label` (HTML-escaped; plotly.js decodes the entities when it draws). No plotly import here:
`analysis.pages` renders the dicts.
"""
from __future__ import annotations

import base64
import html

import numpy as np
import polars as pl

from analysis.exponents import log_derivative

HEIGHT = 380  # px, every figure


def typed(values) -> dict:
    """A float32 plotly.js typed array: {"dtype", "bdata"} (and "shape" for 2D); NaN draws as a gap."""
    arr = np.ascontiguousarray(np.asarray(values, dtype="<f4"))
    spec = {"dtype": "f4", "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}
    if arr.ndim > 1:
        spec["shape"] = ", ".join(map(str, arr.shape))
    return spec


def layout(title: str, *, x: str, y: str, logx: bool = False, logy: bool = False, **extra) -> dict:
    """A one-panel layout with axis titles; log axes where asked."""
    axis = lambda text, log: {"title": {"text": text}, "type": "log" if log else "linear",
                              "gridcolor": "#e5e5e5", "zeroline": False, "showline": True, "mirror": True}
    return {"title": {"text": title}, "height": HEIGHT, "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
            "plot_bgcolor": "white", "xaxis": axis(x, logx), "yaxis": axis(y, logy), **extra}


def panels(title: str, specs: list[tuple[str, str, bool, bool]]) -> dict:
    """Side-by-side panels (x title, y title, logx, logy); trace i of panel k uses xaxis/yaxis k+1."""
    out = layout(title, x=specs[0][0], y=specs[0][1], logx=specs[0][2], logy=specs[0][3])
    gap, n = 0.08, len(specs)
    width = (1 - gap * (n - 1)) / n
    for k, (xt, yt, lx, ly) in enumerate(specs):
        sx, sy = ("", "") if k == 0 else (str(k + 1), str(k + 1))
        base = layout("", x=xt, y=yt, logx=lx, logy=ly)
        out[f"xaxis{sx}"] = {**base["xaxis"], "domain": [k * (width + gap), k * (width + gap) + width],
                             "anchor": f"y{sy}"}
        out[f"yaxis{sy}"] = {**base["yaxis"], "anchor": f"x{sx}"}
    return out


def colours(n: int) -> list[str]:
    """n colours along viridis (early windows dark, late windows yellow)."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)
    pos = np.linspace(0, 1, max(n, 1))
    rgb = [np.interp(pos, np.linspace(0, 1, len(stops)), stops[:, c]) for c in range(3)]
    return [f"rgb({r:.0f},{g:.0f},{b:.0f})" for r, g, b in zip(*rgb)][:n]


def log_spaced(x: np.ndarray, num: int) -> np.ndarray:
    """Indices of sorted positive `x` nearest to `num` log-spaced targets (all when len(x) <= num)."""
    if x.size <= num:
        return np.arange(x.size)
    targets = np.exp(np.linspace(np.log(x[0]), np.log(x[-1]), num))
    pos = np.searchsorted(x, targets).clip(1, x.size - 1)
    left = np.log(targets / x[pos - 1]) < np.log(x[pos] / targets)
    return np.unique(np.where(left, pos - 1, pos))


def curves(frame: pl.DataFrame | None, x: str, y: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """(t_w, x, y) per window, sorted by t_w then x; rows with x <= 0 or non-finite values dropped."""
    if frame is None or frame.is_empty() or not {"t_w", x, y} <= set(frame.columns):
        return []
    c = columns(frame, "t_w", x, y, sort=("t_w", x))
    t_w, xs, ys = c["t_w"], c[x], c[y]
    keep = np.isfinite(t_w) & np.isfinite(xs) & np.isfinite(ys) & (xs > 0)
    starts = np.flatnonzero(np.r_[True, np.diff(t_w) != 0])
    ends = np.r_[starts[1:], t_w.size]
    return [(int(t_w[s]), xs[s:e][keep[s:e]], ys[s:e][keep[s:e]]) for s, e in zip(starts, ends) if keep[s:e].any()]


def window_curves(windows: list, title: str, *, x: str, y: str, logy: bool = True, max_points: int = 80) -> dict | None:
    """One line per window coloured by t_w, with a t_w colour bar; None when there is no window."""
    if not windows:
        return None
    palette = colours(len(windows))
    data = []
    for (t_w, xs, ys), colour in zip(windows, palette):
        i = log_spaced(xs, max_points)
        data.append({"type": "scatter", "mode": "lines", "x": typed(xs[i]), "y": typed(ys[i]),
                     "name": f"t_w={t_w}", "line": {"color": colour, "width": 1.5}, "showlegend": False,
                     "hovertemplate": f"t_w={t_w}<br>%{{x:.4g}}, %{{y:.4g}}<extra></extra>"})
    t_ws = [w[0] for w in windows]
    data.append({"type": "scatter", "mode": "markers", "x": [None], "y": [None], "hoverinfo": "skip",
                 "showlegend": False, "marker": {"color": [min(t_ws), max(t_ws)], "cmin": min(t_ws),
                 "cmax": max(t_ws) if max(t_ws) > min(t_ws) else min(t_ws) + 1, "colorscale": "Viridis",
                 "showscale": True, "colorbar": {"title": {"text": "t_w"}}}})  # colour bar only
    return {"data": data, "layout": layout(title, x=x, y=y, logx=True, logy=logy)}


def msd_curves(msd: pl.DataFrame | None, *, max_points: int = 80) -> dict | None:
    """MSD(lag) of every window on log-log axes, coloured by t_w (Fig. 2a)."""
    return window_curves(curves(msd, "lag", "msd"), "MSD per window (Fig. 2a)", x="lag (steps)",
                         y="MSD", max_points=max_points)


def local_exponent(msd: pl.DataFrame | None, *, max_points: int = 80) -> dict | None:
    """beta(lag) = d ln MSD / d ln lag per window (Fig. 2c), from the table's beta column or computed."""
    if msd is not None and "beta" in msd.columns:
        windows = curves(msd, "lag", "beta")
    else:  # old folders: smooth log-derivative of the log-spaced curve (kernel in ln lag, Eq. 6)
        windows = []
        for t_w, lags, values in curves(msd, "lag", "msd"):
            i = log_spaced(lags, max_points)
            windows.append((t_w, lags[i], log_derivative(lags[i], values[i])))
    fig = window_curves(windows, "Local exponent beta(lag) (Fig. 2c)", x="lag (steps)",
                        y="beta = d ln MSD / d ln lag", logy=False, max_points=max_points)
    if fig:
        fig["layout"]["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 1, "y1": 1,
                                    "line": {"dash": "dot", "color": "grey"}}]  # normal diffusion
    return fig


def columns(frame: pl.DataFrame | None, *names: str, sort: str | tuple = ()) -> dict[str, np.ndarray] | None:
    """Float numpy arrays of the named columns (missing or non-numeric: NaN), sorted by `sort`; None for no rows.

    Plain numpy, no polars query per call: a dashboard makes thousands of these on small frames.
    """
    sort = (sort,) if isinstance(sort, str) else sort
    if frame is None or frame.is_empty() or not set(sort) <= set(frame.columns):
        return None
    out = {n: _floats(frame, n) for n in dict.fromkeys((*names, *sort))}
    order = np.lexsort([out[k] for k in reversed(sort)]) if sort else slice(None)
    return {n: out[n][order] for n in names}


def finite(c: dict | None, *names: str) -> bool:
    """Whether any of the named columns holds a finite value (False for no rows)."""
    return c is not None and any(np.isfinite(c[n]).any() for n in names)


def _floats(frame: pl.DataFrame, name: str) -> np.ndarray:
    dtype = frame.schema.get(name)
    if dtype is None or not (dtype.is_numeric() or dtype == pl.Boolean):
        return np.full(frame.height, np.nan)
    series = frame.get_column(name)
    return (series.cast(pl.Float64) if series.null_count() else series).to_numpy().astype(np.float64)


def line(x, y, name: str, **style) -> dict:
    return {"type": "scatter", "mode": "lines+markers", "x": typed(x), "y": typed(y), "name": name, **style}


def exponents_vs_tw(exponents: pl.DataFrame | None) -> dict | None:
    """alpha_above, alpha_below, alpha_single (left) and tau0 (right) against t_w (Fig. 3-4, per trial)."""
    c = columns(exponents, "t_w", "alpha_above", "alpha_below", "alpha_single", "tau0", sort="t_w")
    if not finite(c, "alpha_above", "alpha_below", "alpha_single", "tau0"):
        return None
    data = [line(c["t_w"], c[k], k) for k in ("alpha_above", "alpha_below", "alpha_single")]
    data.append(line(c["t_w"], c["tau0"], "tau0", xaxis="x2", yaxis="y2"))
    return {"data": data, "layout": panels("MSD exponents per window", [
        ("t_w (steps)", "alpha", False, False), ("t_w (steps)", "tau0 (steps)", False, True)])}


def levy_alpha(levy: pl.DataFrame | None) -> dict | None:
    """Stable alpha of the gradient entries against t_w with its 95% interval (Fig. 5d)."""
    c = columns(levy, "t_w", "alpha", "alpha_lo", "alpha_hi", sort="t_w")
    if not finite(c, "alpha"):
        return None
    band = {"type": "scatter", "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "showlegend": False}
    data = [{**band, "x": typed(c["t_w"]), "y": typed(c["alpha_lo"])},
            {**band, "x": typed(c["t_w"]), "y": typed(c["alpha_hi"]), "fill": "tonexty",
             "fillcolor": "rgba(31,119,180,0.2)", "name": "95% interval", "showlegend": True},
            line(c["t_w"], c["alpha"], "stable alpha", line={"color": "rgb(31,119,180)"})]
    return {"data": data, "layout": layout("Levy-stable alpha of the gradient noise (Fig. 5d)",
                                           x="t_w (steps)", y="alpha (2 = Gaussian)")}


def fractal_vs_tw(fractal: pl.DataFrame | None) -> dict | None:
    """d_f (short and long scales) and the MSL exponent against t_w (Fig. 6)."""
    c = columns(fractal, "t_w", "d_f_short", "d_f_long", "msl_exponent", sort="t_w")
    if not finite(c, "d_f_short", "d_f_long", "msl_exponent"):
        return None
    return {"data": [line(c["t_w"], c[k], k) for k in ("d_f_short", "d_f_long", "msl_exponent")],
            "layout": layout("Fractal dimension and MSL exponent per window", x="t_w (steps)", y="value")}


def gradient_histogram(hist: pl.DataFrame | None) -> dict | None:
    """Empirical gradient density with the fitted stable and Gaussian densities, first and last window (Fig. 5)."""
    c = columns(hist, "t_w", "x", "density", "stable_pdf", "normal_pdf", sort=("t_w", "x"))
    if not finite(c, "density"):
        return None
    t_ws = np.unique(c["t_w"][np.isfinite(c["t_w"]) & np.isfinite(c["density"])])
    data, specs = [], []
    for k, t_w in enumerate(t_ws[[0, -1]] if t_ws.size > 1 else t_ws):
        w = {n: v[c["t_w"] == t_w] for n, v in c.items()}
        axes = {"xaxis": f"x{k + 1 if k else ''}", "yaxis": f"y{k + 1 if k else ''}", "showlegend": k == 0}
        style = {"type": "scatter", "x": typed(w["x"]), **axes}
        data += [{**style, "mode": "markers", "y": typed(w["density"]), "name": "empirical",
                  "marker": {"color": "black", "size": 4}},
                 {**style, "mode": "lines", "y": typed(w["stable_pdf"]), "name": "stable fit",
                  "line": {"color": "rgb(214,39,40)"}},
                 {**style, "mode": "lines", "y": typed(w["normal_pdf"]), "name": "Gaussian fit",
                  "line": {"color": "rgb(31,119,180)", "dash": "dash"}}]
        specs.append((f"gradient entry (t_w={t_w:.0f})", "density", False, True))
    return {"data": data, "layout": panels("Gradient noise density, first and last window (Fig. 5)", specs)}


def loss_fluctuations(fl: pl.DataFrame | None, *, max_points: int = 2000) -> dict | None:
    """|L(t+1) - L(t)| (left) and its 100-step moving variance (right, log y) against step (Fig. 5e-f)."""
    c = columns(fl, "step", "abs_dloss", "moving_var", sort="step")
    if not finite(c, "abs_dloss", "moving_var"):
        return None
    i = np.arange(0, c["step"].size, max(1, -(-c["step"].size // max_points)))  # every k-th step
    style = {"type": "scatter", "mode": "lines", "x": typed(c["step"][i]), "line": {"width": 1}}
    data = [{**style, "y": typed(c["abs_dloss"][i]), "name": "|dL|"},
            {**style, "y": typed(c["moving_var"][i]), "name": "moving variance", "xaxis": "x2", "yaxis": "y2"}]
    return {"data": data, "layout": panels("Loss fluctuations (Fig. 5e-f)", [
        ("step", "|L(t+1) - L(t)|", False, False), ("step", "moving variance of L", False, True)])}


def contour_scaling(contour: pl.DataFrame | None, *, max_points: int = 80) -> dict | None:
    """End-to-end distance against contour length per window, log-log (Fig. 6b)."""
    return window_curves(curves(contour, "contour_length", "end_to_end"), "End-to-end distance vs contour "
                         "length (Fig. 6b)", x="contour length", y="end-to-end distance", max_points=max_points)


def mean_squared_loss(msl: pl.DataFrame | None, *, max_points: int = 80) -> dict | None:
    """Mean squared loss difference against distance per window, log-log (Fig. 6c)."""
    return window_curves(curves(msl, "distance", "msl"), "Mean squared loss vs distance (Fig. 6c)",
                         x="distance in weight space", y="MSL", max_points=max_points)


def training_curves(epochs: pl.DataFrame | None) -> dict | None:
    """Train/test loss (left) and accuracy (right) against step, from epochs.parquet."""
    c = columns(epochs, "step", "train_loss", "test_loss", "train_accuracy", "test_accuracy", sort="step")
    if not finite(c, "train_loss", "test_loss", "train_accuracy", "test_accuracy"):
        return None
    data = [line(c["step"], c[k], k) for k in ("train_loss", "test_loss")]
    data += [line(c["step"], c[k], k, xaxis="x2", yaxis="y2") for k in ("train_accuracy", "test_accuracy")]
    return {"data": data, "layout": panels("Training curves", [("step", "loss", False, True),
                                                               ("step", "accuracy", False, False)])}


def hessian_spectrum(hessian: pl.DataFrame | None, *, max_ranks: int = 20) -> dict | None:
    """Hessian eigenvalues against step: ranks 1..max_ranks (1 = largest) and rank -1 (the smallest)."""
    c = columns(hessian, "step", "rank", "eigenvalue", sort="step")
    if not finite(c, "eigenvalue"):
        return None
    ranks = np.unique(c["rank"][np.isfinite(c["rank"])])
    ranks = np.r_[ranks[ranks < 0], ranks[ranks >= 0][:max_ranks]]
    data = [line(c["step"][c["rank"] == r], c["eigenvalue"][c["rank"] == r],
                 "smallest" if r < 0 else f"rank {r:g}") for r in ranks]
    return {"data": data, "layout": layout("Hessian eigenvalues", x="step", y="eigenvalue")} if data else None


def landscape(surface: pl.DataFrame | None) -> dict | None:
    """log10 of the loss on a 2D slice of weight space as a filled contour (x, y: slice coordinates); the
    log shows the basin, which a linear scale flattens against the loss far from it."""
    c = columns(surface, "x", "y", "loss")
    if not finite(c, "loss"):
        return None
    xs, ys = np.unique(c["x"][np.isfinite(c["x"])]), np.unique(c["y"][np.isfinite(c["y"])])
    z = np.full((ys.size, xs.size), np.nan)
    ok = np.isfinite(c["x"]) & np.isfinite(c["y"])
    with np.errstate(divide="ignore", invalid="ignore"):
        z[np.searchsorted(ys, c["y"][ok]), np.searchsorted(xs, c["x"][ok])] = np.log10(c["loss"][ok])
    z[~np.isfinite(z)] = np.nan
    data = [{"type": "contour", "x": typed(xs), "y": typed(ys), "z": typed(z), "colorscale": "Viridis",
             "colorbar": {"title": {"text": "log10 loss"}}}]
    return {"data": data, "layout": layout("Loss landscape", x="x", y="y")}


def label(value) -> str:
    """A data value as HTML-escaped text for a figure (legend names, menus, categories)."""
    return html.escape(f"{value:g}" if isinstance(value, float) else str(value))


def heatmap(summary: pl.DataFrame | None, *, x: str, y: str, value: str, slices: tuple[str, ...],
            title: str) -> dict | None:
    """Mean of `value` over trials in each (x, y) cell; a menu picks one slice of the other axes.

    The first view pools every trial (mean over seeds and the `slices` axes); each further view is
    one combination of the `slices` axes (mean over seeds). Hover shows the number of trials n.
    """
    need = [x, y, value, *slices]
    if summary is None or summary.is_empty() or not set(need) <= set(summary.columns):
        return None
    data = summary.select(need).with_columns(pl.col(value).cast(pl.Float64).fill_nan(None)).drop_nulls([x, y])
    if data.is_empty() or data[value].null_count() == data.height:
        return None
    xs, ys = sorted(set(data[x].to_list())), sorted(set(data[y].to_list()))
    parts = sorted(data.partition_by(list(slices), as_dict=True).items(), key=lambda kv: str(kv[0]))
    views = [("all trials", data)] + ([(", ".join(map(label, k)), p) for k, p in parts] if len(parts) > 1 else [])
    traces = [_heatmap_trace(part, x=x, y=y, value=value, xs=xs, ys=ys, visible=i == 0)
              for i, (_, part) in enumerate(views)]
    fig_layout = layout(title, x=x, y=y)
    fig_layout["xaxis"]["type"] = fig_layout["yaxis"]["type"] = "category"
    if len(views) > 1:
        fig_layout["margin"]["t"] = 90
        fig_layout["updatemenus"] = [{"x": 0, "y": 1.02, "xanchor": "left", "yanchor": "bottom", "buttons": [
            {"label": name, "method": "restyle", "args": [{"visible": [j == i for j in range(len(views))]}]}
            for i, (name, _) in enumerate(views)]}]
    return {"data": traces, "layout": fig_layout}


def _heatmap_trace(part: pl.DataFrame, *, x: str, y: str, value: str, xs: list, ys: list, visible: bool) -> dict:
    cells = part.group_by(x, y).agg(pl.col(value).mean().alias("mean"), pl.col(value).count().alias("n"))
    z = [[None] * len(xs) for _ in ys]
    n = [["n=0"] * len(xs) for _ in ys]
    for row in cells.iter_rows(named=True):
        i, j = ys.index(row[y]), xs.index(row[x])
        z[i][j], n[i][j] = row["mean"], f"n={row['n']}"
    return {"type": "heatmap", "x": [label(v) for v in xs], "y": [label(v) for v in ys], "z": z, "text": n,
            "visible": visible, "colorscale": "RdBu", "zmid": 1.0, "texttemplate": "%{z:.3f}",
            "hovertemplate": f"{x}=%{{x}}<br>{y}=%{{y}}<br>{value}=%{{z:.4f}}<br>%{{text}}<extra></extra>",
            "colorbar": {"title": {"text": value}}}


def compare_lines(table: pl.DataFrame | None, *, x: str, value: str, series: tuple[str, ...], title: str,
                  logx: bool = True) -> dict | None:
    """`value`_mean (error bars: `value`_std over seeds) against `x`, one line per `series` combination."""
    mean, std = f"{value}_mean", f"{value}_std"
    if table is None or table.is_empty() or not {x, mean, *series} <= set(table.columns):
        return None
    data = []
    for key, part in sorted(table.partition_by(list(series), as_dict=True).items(), key=lambda kv: str(kv[0])):
        part = part.sort(x)
        err = part[std].cast(pl.Float64).fill_nan(None).to_list() if std in part.columns else None
        data.append({"type": "scatter", "mode": "lines+markers", "x": part[x].to_list(),
                     "y": part[mean].cast(pl.Float64).fill_nan(None).to_list(),
                     "name": ", ".join(f"{s}={label(k)}" for s, k in zip(series, key)),
                     "error_y": {"type": "data", "array": err, "visible": err is not None}})
    return {"data": data, "layout": layout(title, x=x, y=f"{value} (mean over seeds)", logx=logx)} if data else None
