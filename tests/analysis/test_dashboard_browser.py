"""The dashboard of a real (tiny) experiment in headless Chromium: every figure drawn, no JavaScript error.

Two trials are trained and analysed as in test_report.py (plus a copy whose id and architecture carry a
script), the dashboard is built, and Chromium loads its pages from file:// (offline). The DOM after the scripts ran must hold one drawn plot
per emitted figure and one drawn trace per emitted visible trace, and the page's error box and the
console must be free of errors. Screenshots go to test-artifacts/. Skipped without `chromium` unless
REQUIRE_CHROMIUM=1 (CI), which makes a missing browser a failure.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import polars as pl
import pytest

from analysis.compare import comparison_tables
from analysis.dashboard import build_dashboard
from analysis.trial import analyse_trial
from workers.config import TrialConfig
from workers.train import run_trial

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
BASE = dict(dataset="digits", batch_size=64, steps=40, shard_steps=20, sketch_dim=128, grad_sample=64,
            device="cpu", eval_every=0)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=20000"]
TIMEOUT = 60  # seconds per Chromium run
EVIL = "x</script><script>document.title='pwned'</script>"

pytestmark = pytest.mark.slow  # trains two trials (about a minute on 2 cores)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "chromium not found on PATH (Debian: apt-get install chromium)"
        if os.environ.get("REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"REQUIRE_CHROMIUM=1 but {message}")
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, chromium) -> Path:
    """Two trials trained as in test_report.py plus a copy with a script in its id and arch, analysed with
    window 20 (analysis.trial.analyse_trial, tables concatenated with polars), and their dashboard folder."""
    root = tmp_path_factory.mktemp("exp")
    for arch in ("resnet14", "resnet14-noshort"):
        cfg = TrialConfig(**BASE, arch=arch)
        run_trial(cfg, root / "trials" / cfg.trial_id)
    evil = root / "trials" / "evil"  # a copy whose id and arch carry a script: it reaches HTML and plotly JSON
    shutil.copytree(root / "trials" / cfg.trial_id, evil)
    config = json.loads((evil / "config.json").read_text())
    config["trial_id"], config["config"]["arch"] = EVIL, f"resnet14{EVIL}"
    (evil / "config.json").write_text(json.dumps(config))
    results = [analyse_trial(t, window=20, levy_samples=500) for t in sorted((root / "trials").iterdir())]
    folder = root / "analysis"
    folder.mkdir()
    for table in results[0]:
        rows = [r for res in results for r in res[table]]
        frame = pl.DataFrame(rows, infer_schema_length=None)
        frame.write_parquet(folder / f"{table}.parquet")
    summary = pl.read_parquet(folder / "summary.parquet")
    assert summary["analysis_status"].to_list() == ["ok"] * 3
    for name, table in comparison_tables(summary).items():
        table.write_parquet(folder / f"{name}.parquet")
    return build_dashboard(root).parent


def browse(chromium: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    """Run Chromium on a file:// page with a fresh profile; kill its process group after TIMEOUT."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", *args, page.resolve().as_uri()]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # its own process group: the renderers die with it
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"chromium did not finish {page.name} within {TIMEOUT} s")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def dom_after_scripts(chromium: str, page: Path) -> str:
    result = browse(chromium, page, "--dump-dom")
    assert result.returncode == 0 and "</html>" in result.stdout, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert not console, "\n".join(console)
    return result.stdout


def emitted_traces(html: str) -> dict[str, int]:
    """Visible traces per figure, read back from the Plotly.newPlot calls of a page."""
    decoder, out = json.JSONDecoder(), {}
    for m in re.finditer(r'Plotly\.newPlot\(\s*"([^"]+)",\s*', html):
        data, _ = decoder.raw_decode(html, m.end())
        out[m.group(1)] = sum(t.get("visible", True) is True for t in data)
    return out


def drawn(dom: str) -> tuple[int, int]:
    """(plots drawn, traces drawn) in a DOM: plotly marks a drawn div js-plotly-plot and each trace a <g>."""
    return dom.count("js-plotly-plot"), len(re.findall(r'<g class="(?:trace\b|hm\b|contour\b)', dom))


def errors_box(dom: str) -> str:
    return re.search(r'<div id="js-errors"[^>]*>(.*?)</div>', dom, re.S).group(1)


def trial_page(dashboard: Path) -> Path:
    return next(p for p in sorted((dashboard / "trials").glob("*.html")) if p.name.startswith("resnet"))


def test_the_index_draws_its_heatmaps_without_errors(chromium, dashboard):
    index = dashboard / "index.html"
    dom = dom_after_scripts(chromium, index)
    figures = emitted_traces(index.read_text())
    assert len(figures) == 2 and drawn(dom) == (2, sum(figures.values())), (figures, drawn(dom))
    assert errors_box(dom) == "" and '<div id="js-errors" class="js-errors" hidden' in dom
    assert dom.count('href="trials/') == 3


def test_a_trial_page_draws_every_figure_without_errors(chromium, dashboard):
    page = trial_page(dashboard)
    dom = dom_after_scripts(chromium, page)
    figures = emitted_traces(page.read_text())
    assert len(figures) >= 8, figures  # training curves, MSD, exponents, beta, Levy, fluctuations, fractal...
    assert drawn(dom) == (len(figures), sum(figures.values())), (figures, drawn(dom))
    assert errors_box(dom) == ""


def test_the_comparison_page_draws_without_errors(chromium, dashboard):
    page = dashboard / "compare.html"
    dom = dom_after_scripts(chromium, page)
    figures = emitted_traces(page.read_text())
    assert drawn(dom) == (len(figures), sum(figures.values())) and errors_box(dom) == ""


def test_a_script_in_a_trial_id_does_not_run(chromium, dashboard):
    (page,) = [p for p in (dashboard / "trials").glob("*.html") if not p.name.startswith("resnet")]
    assert re.fullmatch(r"x__script__script_document\.title__pwned___script_-[0-9a-f]{8}\.html", page.name)
    for html in (dashboard / "index.html", page):
        dom = dom_after_scripts(chromium, html)
        title = re.search(r"<title>(.*?)</title>", dom, re.S).group(1)
        assert title.startswith(("Experiment ", "Trial x&lt;/script&gt;")), title  # injected, it would be 'pwned'
        assert errors_box(dom) == ""
    menu = emitted_traces((dashboard / "index.html").read_text())["heatmap-0"]
    assert menu == 1  # the heatmap with the evil arch in its menu was drawn


def test_a_script_error_is_caught_by_the_check(chromium, dashboard):
    broken = dashboard / "broken.html"  # a negative control: the detectors above must see this
    broken.write_text((dashboard / "index.html").read_text().replace("</body>", "<script>notDefined();</script></body>"))
    result = browse(chromium, broken, "--dump-dom")
    broken.unlink()
    assert "notDefined is not defined" in errors_box(result.stdout)
    assert any("Uncaught" in line and "CONSOLE" in line for line in result.stderr.splitlines())


def test_screenshots_of_the_index_and_a_trial_page(chromium, dashboard):
    ARTIFACTS.mkdir(exist_ok=True)
    for page, name in ((dashboard / "index.html", "dashboard-index.png"),
                       (trial_page(dashboard), "dashboard-trial.png")):
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        result = browse(chromium, page, f"--screenshot={shot}", "--window-size=1400,5200")
        assert shot.is_file() and shot.stat().st_size > 20_000, result.stderr[-2000:]
