"""analysis.dashboard on synthetic tables of the DESIGN.md schema: pages, links, escaping, missing data, size."""
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analysis.compare import comparison_tables
from analysis.dashboard import build_dashboard, page_names, read_tables, safe_name, trial_figures, trial_rows

EVIL = "x</script><script>document.title='pwned'</script>"
IDS = ("resnet14_digits_kl_bs32_lr0.1_seed0", "resnet14-noshort_digits_kl_bs64_lr0.05_seed1",
       "resnet20_cifar10_ce_bs128_lr0.1_seed0", EVIL)


def synthetic_experiment(root: Path, trial_ids, *, windows: int = 3, T: int = 100, steps_per_trial: int | None = None,
                         beta: bool = True, skip: tuple = ()) -> Path:
    """Write every analysis table (DESIGN.md schema plus gradient_histogram, contour, msl) and trial files.

    Trials named in `skip` get a folder and status.json but no analysis rows (never analysed).
    """
    rng = np.random.default_rng(0)
    rows = {k: [] for k in ("msd", "exponents", "levy", "fractal", "gradient_histogram", "contour", "msl")}
    summary, fluct = [], []
    analysed = [t for t in trial_ids if t not in skip]
    lag = np.arange(1, T)
    for n, trial_id in enumerate(trial_ids):
        arch = trial_id.split("_")[0] if trial_id.startswith("resnet") else f"resnet32{trial_id}"
        cfg = {"arch": arch, "dataset": "digits" if n % 2 else "cifar10", "loss": "ce", "batch_size": [32, 64, 128][n % 3],
               "lr": [0.05, 0.1][n % 2], "seed": n % 2, "label": trial_id}
        folder = root / "trials" / trial_id.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        state = "diverged" if n % 7 == 3 else "completed"
        (folder / "config.json").write_text(json.dumps({"trial_id": trial_id, "config": cfg, "provenance": {"host": "h"}}))
        (folder / "status.json").write_text(json.dumps({"state": state, "steps": windows * T, "message": trial_id}))
        if n == 0:  # optional probes on one trial only
            pl.DataFrame({"step": np.repeat([0, 50, 100], 3), "rank": np.tile([1, 2, -1], 3),
                          "eigenvalue": rng.random(9) * 10}).write_parquet(folder / "hessian.parquet")
            g = np.linspace(-1, 1, 11)
            x, y = np.meshgrid(g, g)
            pl.DataFrame({"x": x.ravel(), "y": y.ravel(), "loss": (x**2 + y**2).ravel(),
                          "accuracy": np.ones(x.size)}).write_parquet(folder / "landscape.parquet")
        pl.DataFrame({"epoch": [0, 1], "step": [T, 2 * T], "train_loss": [1.0, 0.5], "train_accuracy": [0.5, 0.8],
                      "test_loss": [1.1, 0.6], "test_accuracy": [0.5, 0.7]}).write_parquet(folder / "epochs.parquet")
        if trial_id in skip:
            continue
        alpha = 1.0 + 0.3 * rng.random()
        for w in range(windows):
            key = {"trial_id": trial_id, "t_w": w * T, "T": T}
            msd = lag**alpha * (1 + 0.01 * rng.standard_normal(lag.size))
            rows["msd"].append(pl.DataFrame({**{k: [v] * lag.size for k, v in key.items()}, "lag": lag, "msd": msd,
                                             **({"beta": np.full(lag.size, alpha)} if beta else {})}))
            rows["exponents"].append({**key, "tau0": 10.0, "alpha_below": 0.9, "alpha_above": alpha,
                                      "alpha_single": alpha - 0.1, "rmse_single": 0.02, "regime": 1 + (w > 0)})
            rows["levy"].append({**key, "alpha": 1.5, "beta": 0.0, "scale": 1.0, "loc": 0.0, "alpha_lo": 1.4,
                                 "alpha_hi": 1.6, "n": 500, "loglik_stable": -1.0, "loglik_normal": -2.0, "llr": 1.0,
                                 "vuong_p": 0.01})
            rows["fractal"].append({**key, "d_f_short": 1.3, "d_f_long": 2.4, "crossover_length": 5.0,
                                    "msl_exponent": 0.5})
            x = np.linspace(-3, 3, 41)
            rows["gradient_histogram"].append(pl.DataFrame({**{k: [v] * x.size for k, v in key.items()}, "x": x,
                                                            "density": np.exp(-abs(x)), "stable_pdf": np.exp(-abs(x)),
                                                            "normal_pdf": np.exp(-x**2)}))
            c = np.geomspace(1, 100, 30)
            rows["contour"].append(pl.DataFrame({**{k: [v] * c.size for k, v in key.items()},
                                                 "contour_length": c, "end_to_end": c**0.7}))
            rows["msl"].append(pl.DataFrame({**{k: [v] * c.size for k, v in key.items()}, "distance": c, "msl": c**0.4}))
        s = np.arange(steps_per_trial or windows * T)
        fluct.append(pl.DataFrame({"trial_id": [trial_id] * s.size, "step": s, "abs_dloss": rng.random(s.size),
                                   "moving_var": rng.random(s.size)}))
        summary.append({"trial_id": trial_id, **{k: cfg[k] for k in ("arch", "dataset", "loss", "batch_size", "lr", "seed")},
                        "shortcut": not arch.endswith("-noshort"), "state": state, "steps": windows * T,
                        "train_accuracy": 0.9, "test_accuracy": 0.8, "windows": windows, "t_c": float(T),
                        "analysis_status": "ok" if n % 4 != 1 else f"stopped: bad shard <b>{trial_id}</b>",
                        "first_alpha_above": alpha, "last_alpha_above": alpha, "first_alpha_below": 0.9,
                        "last_alpha_below": 0.9, "first_alpha_single": alpha, "last_alpha_single": 0.8, "first_tau0": 10.0,
                        "last_tau0": 10.0, "first_levy_alpha": 1.5, "last_levy_alpha": 1.4, "first_d_f_long": 2.4,
                        "last_d_f_long": 2.5, "first_msl_exponent": 0.5, "last_msl_exponent": 0.2})
    folder = root / "analysis"
    folder.mkdir(parents=True, exist_ok=True)
    for name, parts in rows.items():
        frames = [p if isinstance(p, pl.DataFrame) else pl.DataFrame([p]) for p in parts]
        if frames:
            pl.concat(frames, how="vertical_relaxed").write_parquet(folder / f"{name}.parquet")
    if fluct:
        pl.concat(fluct).write_parquet(folder / "loss_fluctuations.parquet")
    frame = pl.DataFrame(summary, infer_schema_length=None)
    frame.write_parquet(folder / "summary.parquet")
    for name, table in comparison_tables(frame).items():
        table.write_parquet(folder / f"{name}.parquet")
    assert len(analysed) == len(summary)
    return root


class Links(HTMLParser):
    """Collects href and script src attributes and the text inside <script> elements."""

    def __init__(self):
        super().__init__()
        self.hrefs, self.scripts, self.inline, self._in_script = [], [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.scripts.append(attrs["src"])

    def handle_endtag(self, tag):
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data):
        if self._in_script:
            self.inline.append(data)


def parse(path: Path) -> Links:
    links = Links()
    links.feed(path.read_text(encoding="utf-8"))
    return links


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    root = synthetic_experiment(tmp_path_factory.mktemp("exp"), IDS, skip=(IDS[2],))
    index = build_dashboard(root)
    return index.parent


def pages(folder: Path) -> list[Path]:
    return [folder / "index.html", folder / "compare.html", *sorted((folder / "trials").glob("*.html"))]


def test_every_page_exists_and_every_link_resolves(dashboard):
    assert len(list((dashboard / "trials").glob("*.html"))) == len(IDS)
    index_links = parse(dashboard / "index.html").hrefs
    assert "compare.html" in index_links
    assert sum(h.startswith("trials/") for h in index_links) == len(IDS)
    for page in pages(dashboard):
        links = parse(page)
        for href in links.hrefs:
            assert (page.parent / href).resolve().is_file(), (page.name, href)
        assert links.scripts == ["plotly.min.js" if page.parent == dashboard else "../plotly.min.js"], page.name
        assert (page.parent / links.scripts[0]).resolve() == (dashboard / "plotly.min.js").resolve()
    assert sorted(p.name for p in dashboard.rglob("*.js")) == ["plotly.min.js"]


def test_plotly_js_is_not_embedded_and_pages_are_light(dashboard):
    assert (dashboard / "plotly.min.js").stat().st_size > 1_000_000
    for page in pages(dashboard):
        text = page.read_text()
        assert page.stat().st_size < 300_000, page.name
        assert "cdn.plot.ly" not in text and "https://" not in text
        assert "Plotly.newPlot" in text or page.name == "compare.html"


def test_the_injection_trial_id_is_escaped_everywhere(dashboard):
    name = page_names(list(IDS))[EVIL]
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name) and name != EVIL
    assert (dashboard / "trials" / f"{name}.html").is_file()
    for page in pages(dashboard):
        text = page.read_text()
        figures = text.count('class="plotly-graph-div"')
        assert text.lower().count("<script") == 4 + figures, page.name  # the template's 4, one per figure
        assert not any(s.lstrip().startswith("document.title") for s in parse(page).inline), page.name
        assert "<b>" not in text, page.name  # an analysis_status with markup is shown as text
    escaped = "x&lt;/script&gt;&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;"
    assert escaped in (dashboard / "trials" / f"{name}.html").read_text()
    assert escaped in (dashboard / "index.html").read_text()
    assert "resnet32x&lt;\\u002fscript&gt;" in (dashboard / "index.html").read_text()  # the arch in the heatmap menu


@pytest.mark.parametrize("trial_id", ["../../etc/passwd", ".hidden", "a/b", "..", "", "CON", "a" * 300, "é✓"])
def test_page_names_are_safe_and_distinct(trial_id):
    name = safe_name(trial_id)
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name) and len(name) <= 130
    names = page_names([trial_id, trial_id.upper() or "X", "a_b", "a/b", "a b"])
    assert len({n.lower() for n in names.values()}) == len(names)


def test_a_trial_without_analysis_rows_says_what_is_missing(dashboard):
    name = page_names(list(IDS))[IDS[2]]
    text = (dashboard / "trials" / f"{name}.html").read_text()
    assert "not analysed (no row in analysis/summary.parquet)" in text
    assert "MSD per window (Fig. 2a): not available (no rows with finite values for this trial in analysis/msd.parquet)" in text
    assert "Training curves" in text  # its epochs.parquet is still drawn
    index = (dashboard / "index.html").read_text()
    assert "diverged" in index and "stopped: bad shard &lt;b&gt;" in index


def test_index_has_heatmaps_a_sortable_table_and_the_error_box(dashboard):
    text = (dashboard / "index.html").read_text()
    assert text.count('class="plotly-graph-div"') == 2 and '"type":"heatmap"' in text
    assert '<table class="sortable">' in text and 'querySelectorAll("table.sortable th")' in text
    assert 'id="js-errors"' in text and 'addEventListener("error"' in text


def test_every_figure_is_a_valid_plotly_figure(tmp_path):
    import plotly.graph_objects as go

    root = synthetic_experiment(tmp_path, IDS[:1], beta=False)
    tables = read_tables(root / "analysis")
    trial = trial_rows(root, tables.summary)[0]
    figs = trial_figures(trial, tables, max_lags=80, max_steps=2000)
    assert all(fig is not None for _, fig, _ in figs), [t for t, f, _ in figs if f is None]
    for title, fig, _ in figs:
        go.Figure(fig)  # raises on an invalid attribute
    msd = dict((t, f) for t, f, _ in figs)["MSD per window (Fig. 2a)"]
    assert len(msd["data"]) == 3 + 1  # one line per window plus the t_w colour bar


def test_missing_tables_and_folders_never_raise(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    index = build_dashboard(empty)
    assert index.is_file() and "0 trials" in index.read_text()
    root = synthetic_experiment(tmp_path / "partial", IDS[:2], beta=False)
    for name in ("msd", "levy", "summary", "compare_lr"):
        (root / "analysis" / f"{name}.parquet").unlink()
    (root / "analysis" / "exponents.parquet").write_bytes(b"not parquet")
    pl.DataFrame().write_parquet(root / "analysis" / "fractal.parquet")
    text = build_dashboard(root).read_text()
    assert "analysis/msd.parquet not found" in text and "exponents.parquet unreadable" in text
    trial = (root / "dashboard" / "trials" / f"{page_names(list(IDS[:2]))[IDS[0]]}.html").read_text()
    assert "analysis/fractal.parquet is empty" in trial


def test_malformed_rows_and_files_are_reported_not_raised(tmp_path):
    root = synthetic_experiment(tmp_path, IDS[:1])
    folder = root / "trials" / IDS[0]
    (folder / "status.json").write_text("[1, 2]")
    (folder / "config.json").write_text("{not json")
    (folder / "epochs.parquet").write_bytes(b"garbage")
    pl.DataFrame({"trial_id": [IDS[0]] * 3, "t_w": [None, 0, 0], "lag": ["a", "b", "c"],
                  "msd": [1.0, None, 2.0]}).write_parquet(root / "analysis" / "msd.parquet")
    pl.DataFrame({"trial_id": [IDS[0]], "t_w": [None], "x": [0.0], "density": [None]},
                 schema_overrides={"t_w": pl.Int64, "density": pl.Float64}).write_parquet(
        root / "analysis" / "gradient_histogram.parquet")
    text = (build_dashboard(root).parent / "trials" / f"{IDS[0]}.html").read_text()
    assert "MSD per window (Fig. 2a): not available" in text and "epochs.parquet unreadable" in text
    assert "Gradient noise density (Fig. 5): not available (no rows with finite values" in text
    assert "malformed rows" not in text


def test_downsampling_keeps_pages_small(tmp_path):
    root = synthetic_experiment(tmp_path, IDS[:1], windows=25, T=1000, steps_per_trial=50_000)
    page = build_dashboard(root).parent / "trials" / f"{IDS[0]}.html"
    assert page.stat().st_size < 1_000_000
    fig = trial_figures(trial_rows(root, read_tables(root / "analysis").summary)[0], read_tables(root / "analysis"),
                        max_lags=80, max_steps=2000)[1][1]
    assert all(len(np.frombuffer(__import__("base64").b64decode(t["x"]["bdata"]), "<f4")) <= 80
               for t in fig["data"][:-1])


def test_tables_are_thinned_while_read_log_spaced_and_strided():
    from analysis.dashboard import log_thin, stride_thin

    lags = pl.DataFrame({"trial_id": ["a"] * 999 + ["b"] * 99, "t_w": 0, "lag": [*range(1, 1000), *range(1, 100)]})
    thin = log_thin(lags.lazy(), "lag", ("trial_id", "t_w"), num=80).collect()
    a, b = (thin.filter(pl.col("trial_id") == k)["lag"].to_numpy() for k in "ab")
    assert 40 < a.size <= 81 and a[0] == 1 and a[-1] == 999 and b[-1] == 99 and b.size <= 81
    assert np.diff(np.log(a))[a[:-1] >= 20].max() < 2 * np.log(999) / 80  # beyond lag 20 no gap over 2 bins
    assert np.array_equal(a[:13], np.arange(1, 14))  # every lag where the bins are finer than 1
    steps = pl.DataFrame({"trial_id": ["a"] * 50_000 + ["b"] * 300, "step": [*range(50_000), *range(300)]})
    thin = stride_thin(steps.lazy(), "step", ("trial_id",), num=2000).collect()
    assert 1000 < thin.filter(pl.col("trial_id") == "a").height <= 2001
    assert thin.filter(pl.col("trial_id") == "b").height == 300  # short trials are kept whole


def test_a_table_with_only_nan_values_is_not_drawn():
    from analysis import figures

    nan = float("nan")
    frame = pl.DataFrame({"trial_id": ["a"], "t_w": [0], "T": [20], "d_f_short": [nan], "d_f_long": [nan],
                          "crossover_length": [nan], "msl_exponent": [nan]})
    assert figures.fractal_vs_tw(frame) is None and figures.fractal_vs_tw(frame.clear()) is None
    assert figures.msd_curves(pl.DataFrame({"t_w": [0, 0], "lag": [1, 2], "msd": [nan, nan]})) is None


def test_the_cli_builds_the_dashboard_and_rejects_a_missing_folder(tmp_path, capsys):
    from analysis.dashboard import main

    root = synthetic_experiment(tmp_path / "exp", IDS[:1])
    assert main(["--experiment", str(root)]) == 0
    assert capsys.readouterr().out.strip() == str(root / "dashboard" / "index.html")
    assert main(["--experiment", str(tmp_path / "nothing")]) == 2 and "is not a folder" in capsys.readouterr().err
