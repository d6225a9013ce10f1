"""Offline plotly dashboard of a local experiment folder: an index, one page per trial, a comparison page.

    python -m analysis.dashboard --experiment runs/demo   # -> runs/demo/dashboard/index.html

Reads `analysis/*.parquet` (each table once, split by trial_id) and each trial's `status.json`,
`config.json`, `epochs.parquet` and, when present, `hessian.parquet` and `landscape.parquet`; writes
`dashboard/index.html`, `dashboard/compare.html`, `dashboard/trials/<safe name>.html` and one copy of
`plotly.min.js` that every page loads by a relative path (no CDN, works offline). Missing tables,
trials without analysis rows and unreadable files make the affected figure say "not available" and
why; nothing here raises for them. Every string from the data is HTML-escaped; figures carry it as
JSON that plotly escapes (`<` -> `\\u003c`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import sys
from dataclasses import dataclass
from html import escape
from pathlib import Path

import numpy as np
import polars as pl

from analysis import figures
from analysis.pages import cell, figure, html_table, kv_table, page

TABLES = ("msd", "exponents", "levy", "fractal", "loss_fluctuations", "gradient_histogram", "contour", "msl")
COMPARE = ("compare_depth_shortcut_batch", "compare_lr", "compare_dataset_loss", "compare_levy", "compare_fractal")
INDEX_COLUMNS = ("state", "analysis_status", "message", "arch", "dataset", "loss", "batch_size", "lr", "seed",
                 "steps", "test_accuracy", "windows", "first_alpha_above", "first_alpha_below", "first_tau0",
                 "last_alpha_single", "t_c", "first_levy_alpha", "last_levy_alpha", "last_d_f_long",
                 "last_hessian_top", "landscape_box_dim")


@dataclass(frozen=True)
class Tables:
    """The experiment's analysis tables: summary, per-trial rows and why a table is unavailable."""

    summary: pl.DataFrame | None
    rows: dict[str, dict[str, pl.DataFrame]]  # table -> trial_id -> that trial's rows
    compare: dict[str, pl.DataFrame | None]
    missing: dict[str, str]  # table -> reason it is unavailable


def build_dashboard(experiment: Path, *, max_lags: int = 80, max_steps: int = 2000) -> Path:
    """Write `experiment/dashboard/` and return the path of its index.html.

    Parameters
    ----------
    experiment : Path
        Local experiment folder (holds `trials/` and, once analysed, `analysis/`).
    max_lags : int, keyword-only
        Log-spaced points per MSD / beta / contour / MSL curve.
    max_steps : int, keyword-only
        Points per per-step series (loss fluctuations).
    """
    experiment = Path(experiment)
    out = experiment / "dashboard"
    (out / "trials").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plotly_js(), out / "plotly.min.js")
    tables = read_tables(experiment / "analysis", max_lags=max_lags, max_steps=max_steps)
    trials = trial_rows(experiment, tables.summary)
    names = page_names([t["trial_id"] for t in trials])
    for old in (out / "trials").glob("*.html"):
        if old.name not in {f"{n}.html" for n in names.values()}:
            old.unlink()
    for trial in trials:
        text = trial_page(trial, tables, max_lags=max_lags, max_steps=max_steps)
        (out / "trials" / f"{names[trial['trial_id']]}.html").write_text(text, encoding="utf-8")
    name = experiment.resolve().name
    (out / "compare.html").write_text(compare_page(name, tables), encoding="utf-8")
    index = out / "index.html"
    index.write_text(index_page(name, trials, names, tables), encoding="utf-8")
    return index


def plotly_js() -> Path:
    """The plotly.min.js bundled with the installed plotly package."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def read_tables(folder: Path, *, max_lags: int = 80, max_steps: int = 2000) -> Tables:
    """Read every analysis table once and split it by trial_id; absent or unreadable tables are noted.

    The two long tables are thinned while they are read: msd to about `max_lags` log-spaced lags per
    (trial, window), loss_fluctuations to every k-th step (at most `max_steps` per trial).
    """
    thin = {"msd": lambda lf: log_thin(lf, "lag", ("trial_id", "t_w"), num=max_lags),
            "loss_fluctuations": lambda lf: stride_thin(lf, "step", ("trial_id",), num=max_steps)}
    missing, rows = {}, {}
    summary = _read(folder / "summary.parquet", missing)
    for name in TABLES:
        frame = _read(folder / f"{name}.parquet", missing, thin=thin.get(name))
        if frame is None or "trial_id" not in frame.columns:
            rows[name] = {}
            missing.setdefault(name, f"analysis/{name}.parquet has no trial_id column")
            continue
        rows[name] = {str(key[0]): part for key, part in frame.partition_by("trial_id", as_dict=True).items()}
    compare = {name: _read(folder / f"{name}.parquet", missing) for name in COMPARE}
    if summary is not None and "trial_id" not in summary.columns:
        missing["summary"], summary = "analysis/summary.parquet has no trial_id column", None
    return Tables(summary, rows, compare, missing)


def log_thin(lf: pl.LazyFrame, x: str, keys: tuple[str, ...], *, num: int) -> pl.LazyFrame:
    """Per group, the smallest `x` in each of `num` equal bins of ln x, and the largest `x`; x > 0 only."""
    ln = pl.col(x).cast(pl.Float64).log()
    top = ln.max().over(keys)
    lf = lf.filter(pl.col(x) > 0).with_columns(
        (ln / pl.when(top > 0).then(top).otherwise(1.0) * num).floor().alias("_bin"))
    keep = (pl.col(x) == pl.col(x).min().over(*keys, "_bin")) | (pl.col(x) == pl.col(x).max().over(keys))
    return lf.filter(keep).drop("_bin")


def stride_thin(lf: pl.LazyFrame, x: str, keys: tuple[str, ...], *, num: int) -> pl.LazyFrame:
    """Per group, every k-th `x` counted from the first, k chosen so at most about `num` remain."""
    first, last = pl.col(x).min().over(keys), pl.col(x).max().over(keys)
    return lf.filter((pl.col(x) - first) % ((last - first) // num + 1) == 0)


def _read(path: Path, missing: dict, *, thin=None) -> pl.DataFrame | None:
    """The table at `path` (thinned by `thin` when it has the columns thin needs), or None with the reason."""
    name = path.stem
    if not path.exists():
        missing[name] = f"analysis/{path.name} not found (not analysed yet?)"
        return None
    try:
        lf = pl.scan_parquet(path)
        try:
            frame = (thin(lf) if thin else lf).collect()
        except pl.exceptions.PolarsError:
            if thin is None:
                raise
            frame = lf.collect()  # a schema that `thin` does not fit: read it whole, the figures judge
    except Exception as e:  # noqa: BLE001  a corrupt table must not stop the dashboard
        missing[name] = f"analysis/{path.name} unreadable: {type(e).__name__}: {e}"
        return None
    if frame.is_empty():
        missing[name] = f"analysis/{path.name} is empty"
    return frame


def trial_rows(experiment: Path, summary: pl.DataFrame | None) -> list[dict]:
    """One dict per trial, sorted by id: its summary row (if any), state and steps from status.json
    (the live state), its folder, status, config and a short status message."""
    folders = {}
    for folder in sorted((experiment / "trials").iterdir()) if (experiment / "trials").is_dir() else []:
        if folder.is_dir() and not folder.name.startswith("."):
            config = _json(folder / "config.json")
            folders[str(config.get("trial_id") or folder.name)] = (folder, config)
    rows = {str(r["trial_id"]): r for r in summary.iter_rows(named=True)} if summary is not None else {}
    trials = []
    for trial_id in sorted(set(rows) | set(folders)):
        folder, config = folders.get(trial_id, (None, {}))
        status = _json(folder / "status.json") if folder else {}
        row = {"state": "unknown", "analysis_status": "not analysed (no row in analysis/summary.parquet)",
               **rows.get(trial_id, {}), **{k: status[k] for k in ("state", "steps") if k in status}}
        message = str(status.get("message") or "")
        row.update(trial_id=trial_id, folder=folder, status=status, config=config,
                   message=message if len(message) <= 160 else message[:160] + "...")
        trials.append(row)
    return trials


def _json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def safe_name(trial_id: str) -> str:
    """A file name for a trial page: [A-Za-z0-9._-] only, no leading dot, a hash suffix if anything changed."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", trial_id).lstrip(".")[:120]
    if name != trial_id or not name:
        name = f"{name or 'trial'}-{_hash(trial_id)}"
    return name


def page_names(trial_ids: list[str]) -> dict[str, str]:
    """safe_name of every trial id, with a hash added where two would collide (case-insensitively too)."""
    names, taken = {}, set()
    for trial_id in sorted(trial_ids):
        name = safe_name(trial_id)
        if name.lower() in taken:
            name = f"{name}-{_hash(trial_id)}"
        taken.add(name.lower())
        names[trial_id] = name
    return names


def _hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def trial_figures(trial: dict, tables: Tables, *, max_lags: int, max_steps: int) -> list[tuple[str, dict | None, str]]:
    """(title, figure or None, why not available) for every figure of one trial's page, in page order.

    A figure that fails on malformed rows is reported as not available with the error, not raised.
    """
    rows = lambda name: tables.rows.get(name, {}).get(trial["trial_id"])
    why = lambda name: (tables.missing.get(name)
                        or f"no rows with finite values for this trial in analysis/{name}.parquet")
    files = {name: _trial_file(trial["folder"], name) for name in ("epochs", "hessian", "landscape")}
    lags, steps = {"max_points": max_lags}, {"max_points": max_steps}
    plan = [  # title, figure function, its rows, why they may be missing, options
        ("Training curves", figures.training_curves, *files["epochs"], {}),
        ("MSD per window (Fig. 2a)", figures.msd_curves, rows("msd"), why("msd"), lags),
        ("MSD exponents per window", figures.exponents_vs_tw, rows("exponents"), why("exponents"), {}),
        ("Local exponent beta (Fig. 2c)", figures.local_exponent, rows("msd"), why("msd"), lags),
        ("Gradient noise density (Fig. 5)", figures.gradient_histogram, rows("gradient_histogram"),
         why("gradient_histogram"), {}),
        ("Levy-stable alpha (Fig. 5d)", figures.levy_alpha, rows("levy"), why("levy"), {}),
        ("Loss fluctuations (Fig. 5e-f)", figures.loss_fluctuations, rows("loss_fluctuations"),
         why("loss_fluctuations"), steps),
        ("End-to-end distance vs contour length (Fig. 6b)", figures.contour_scaling, rows("contour"),
         why("contour"), lags),
        ("Mean squared loss vs distance (Fig. 6c)", figures.mean_squared_loss, rows("msl"), why("msl"), lags),
        ("Fractal dimension and MSL exponent", figures.fractal_vs_tw, rows("fractal"), why("fractal"), {}),
        ("Hessian eigenvalues", figures.hessian_spectrum, *files["hessian"], {}),
        (_landscape_title(trial), figures.landscape, *files["landscape"], {}),
    ]
    out = []
    for title, make, frame, reason, options in plan:
        try:
            out.append((title, make(frame, **options), reason))
        except (ValueError, TypeError, KeyError, IndexError, pl.exceptions.PolarsError) as e:
            out.append((title, None, f"malformed rows: {type(e).__name__}: {e}"))
    return out


def _landscape_title(trial: dict) -> str:
    d = trial.get("landscape_box_dim")
    shown = isinstance(d, (int, float)) and np.isfinite(d)
    return "Loss landscape (Fig. 1)" + (f"; box-counting dimension D = {d:.2f}" if shown else "")


def _trial_file(folder: Path | None, name: str) -> tuple[pl.DataFrame | None, str]:
    """(frame or None, why not available) for trials/<id>/<name>.parquet."""
    if folder is None:
        return None, "no folder for this trial under trials/"
    path = folder / f"{name}.parquet"
    if not path.exists():
        return None, f"{name}.parquet not written for this trial"
    try:
        frame = pl.read_parquet(path)
    except Exception as e:  # noqa: BLE001
        return None, f"{name}.parquet unreadable: {type(e).__name__}: {e}"
    return frame, f"{name}.parquet has no rows with finite values"


def trial_page(trial: dict, tables: Tables, *, max_lags: int, max_steps: int) -> str:
    """One trial's page: its status line, every figure (or why it is missing), config and status tables."""
    trial_id = trial["trial_id"]
    message = f" ({escape(trial['message'])})" if trial.get("message") else ""
    css = "" if trial.get("analysis_status") == "ok" else ' class="bad"'
    head = (f"<h1>{escape(trial_id)}</h1><p>state: <strong>{escape(str(trial.get('state')))}</strong>{message}; "
            f"steps: {escape(str(trial.get('steps')))}; "
            f"analysis: <span{css}>{escape(str(trial.get('analysis_status')))}</span></p>")
    parts = [head]
    for i, (title, fig, why) in enumerate(trial_figures(trial, tables, max_lags=max_lags, max_steps=max_steps)):
        parts.append(figure(fig, f"fig-{i}", title=title, why=why))
    parts += ["<h2>Status (status.json)</h2>", kv_table(trial["status"]),
              "<h2>Config (config.json)</h2>", kv_table(trial["config"])]
    return page(f"Trial {trial_id}", "\n".join(parts), root="../")


HEADLINE = ("first_alpha_above", "MSD exponent above tau0 in the first window")


def index_page(name: str, trials: list[dict], names: dict[str, str], tables: Tables) -> str:
    """The grid at a glance: counts, alpha heatmaps, a link to the comparison page and the trial table."""
    states = {}
    for t in trials:
        states[str(t.get("state"))] = states.get(str(t.get("state")), 0) + 1
    ok = sum(t.get("analysis_status") == "ok" for t in trials)
    counts = ", ".join(f"{escape(k)}: {v}" for k, v in sorted(states.items()))
    parts = [f"<h1>Experiment {escape(name)}</h1>",
             f"<p>{len(trials)} trials ({counts}); analysis ok: {ok}. "
             f'<a href="compare.html">Comparison tables across the grid</a>.</p>']
    if tables.missing:
        reasons = "; ".join(escape(v) for v in tables.missing.values())
        parts.append(f'<p class="na">Unavailable tables: {reasons}</p>')
    summary = _with_depth(tables.summary)
    heat = [figures.heatmap(summary, x="lr", y="batch_size", value=HEADLINE[0], slices=("dataset", "loss", "arch"),
                            title="alpha_above: lr x batch size"),
            figures.heatmap(summary, x="shortcut", y="depth", value=HEADLINE[0],
                            slices=("dataset", "loss", "batch_size", "lr"),
                            title="alpha_above: depth x shortcut")]
    why = tables.missing.get("summary") or f"no finite {HEADLINE[0]} in analysis/summary.parquet"
    parts.append(f"<h2>First-window {HEADLINE[0]}</h2><p>{HEADLINE[1]}: mean over seeds in each cell (red: "
                 "superdiffusive, above 1); the menu picks one slice of the other axes, n in the hover.</p>")
    titles = ("alpha_above over lr x batch size", "alpha_above over depth x shortcut")
    parts.append('<div class="grid2">' + "".join(figure(f, f"heatmap-{i}", title=titles[i], why=why)
                                                 for i, f in enumerate(heat)) + "</div>")
    parts += ["<h2>Trials</h2><p>Click a column header to sort.</p>", trial_table(trials, names)]
    return page(f"Experiment {name}", "\n".join(parts))


def _with_depth(summary: pl.DataFrame | None) -> pl.DataFrame | None:
    if summary is None or "arch" not in summary.columns:
        return summary
    depth = pl.col("arch").cast(pl.String).str.extract(r"resnet(\d+)").cast(pl.Int64).alias("depth")
    return summary.with_columns(depth)


def trial_table(trials: list[dict], names: dict[str, str]) -> str:
    """The sortable trial table; each id links to its page; diverged/failed rows are tinted."""
    rows, classes = [], []
    for t in trials:
        bad = "bad" if t.get("analysis_status") != "ok" else ""
        row = [cell(t["trial_id"], link=f"trials/{names[t['trial_id']]}.html")]
        row += [cell(t.get(c), css=bad if c == "analysis_status" else "") for c in INDEX_COLUMNS]
        rows.append(row)
        state = str(t.get("state"))
        classes.append(f"state-{state}" if state in ("running", "completed", "diverged", "failed") else "state-other")
    return html_table(["trial_id", *INDEX_COLUMNS], rows, row_classes=classes)


def compare_page(name: str, tables: Tables) -> str:
    """The comparison tables (mean, std, n over seeds) and alpha_above against batch size and lr."""
    parts = [f"<h1>Comparison across the grid: {escape(name)}</h1>"]
    plots = [figures.compare_lines(tables.compare.get("compare_depth_shortcut_batch"), x="batch_size",
                                   value=HEADLINE[0], series=("dataset", "loss", "lr", "depth", "shortcut"),
                                   title="alpha_above vs batch size (Fig. 3)"),
             figures.compare_lines(tables.compare.get("compare_lr"), x="lr", value=HEADLINE[0],
                                   series=("dataset", "loss", "depth", "shortcut", "batch_size"),
                                   title="alpha_above vs learning rate (Fig. 4)")]
    for i, (fig, table) in enumerate(zip(plots, ("compare_depth_shortcut_batch", "compare_lr"))):
        why = tables.missing.get(table) or f"analysis/{table}.parquet lacks the needed columns"
        parts.append(figure(fig, f"compare-{i}", title=f"Plot of {table}", why=why))
    for table in COMPARE:
        frame = tables.compare.get(table)
        parts.append(f"<h2>{escape(table)}</h2>")
        if frame is None or frame.is_empty():
            parts.append(f'<p class="na">not available ({escape(tables.missing.get(table, "empty"))})</p>')
            continue
        rows = [[cell(v) for v in r] for r in frame.iter_rows()]
        parts.append(html_table(frame.columns, rows))
    return page(f"Comparison {name}", "\n".join(parts))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m analysis.dashboard", description=__doc__.split("\n")[0])
    p.add_argument("--experiment", required=True, help="local experiment folder (holds trials/ and analysis/)")
    a = p.parse_args(argv)
    if not Path(a.experiment).is_dir():
        print(f"error: --experiment: {a.experiment} is not a folder", file=sys.stderr)
        return 2
    print(build_dashboard(Path(a.experiment)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
