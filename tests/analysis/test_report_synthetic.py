"""analysis.report on experiment folders written from the shard contract alone (no config.json, no
status.json, `sketch_kind: exact`), whose trajectories have known exponents: fBm windows with Hurst H
have MSD exponent 2H, and the gradient samples are symmetric stable with a known alpha."""
import os
import shutil

import numpy as np
import polars as pl
import pytest

from analysis.report import main, parse_t_w, report
from analysis.synthetic import write_contract_trial
from analysis.trial import analyse_trial, windows
from workers.shards import SHARD_RE

T, K, M, SHARD = 256, 48, 24, 128
TRIALS = {"fast": (0.75, 0.35, 1.5), "slow": (0.3, 0.3, 1.8)}  # H of window 1, H of window 2, stable alpha


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    for seed, (name, (h1, h2, a)) in enumerate(TRIALS.items()):
        write_contract_trial(root / "trials" / name / "trajectory", (h1, h2), a, window=T, dim=K,
                             grad_sample=M, shard_steps=SHARD, seed=seed)
    return root


@pytest.fixture(scope="module")
def analysed(experiment):
    assert main(["--experiment", str(experiment), "--window", str(T), "--no-dashboard"]) == 0
    return experiment


def test_the_cli_recovers_the_known_exponents(analysed):
    ex = pl.read_parquet(analysed / "analysis" / "exponents.parquet").sort("trial_id", "t_w")
    levy = pl.read_parquet(analysed / "analysis" / "levy.parquet").sort("trial_id", "t_w")
    for name, (h1, h2, a) in TRIALS.items():
        mine = ex.filter(pl.col("trial_id") == name)
        assert mine["t_w"].to_list() == [0, T] and mine["T"].to_list() == [T, T]
        assert np.allclose(mine["alpha_single"].to_numpy(), [2 * h1, 2 * h2], atol=0.15), mine
        alphas = levy.filter(pl.col("trial_id") == name)["alpha"].to_numpy()
        assert np.allclose(alphas, a, atol=0.12), alphas
    summary = pl.read_parquet(analysed / "analysis" / "summary.parquet")
    assert set(summary["analysis_status"]) == {"ok"} and set(summary["state"]) == {"unknown"}
    assert summary.filter(pl.col("trial_id") == "fast")["first_alpha_single"][0] > 1.2


def test_extra_tables_hold_the_figures_data(analysed):
    msd = pl.read_parquet(analysed / "analysis" / "msd.parquet")
    assert msd.height == 2 * 2 * (T - 1) and {"beta", "msd", "lag"} <= set(msd.columns)
    slow = msd.filter((pl.col("trial_id") == "slow") & (pl.col("t_w") == 0) & (pl.col("lag") < 20))
    assert abs(float(slow["beta"].median()) - 0.6) < 0.15  # local exponent of fBm with H = 0.3
    hist = pl.read_parquet(analysed / "analysis" / "gradient_histogram.parquet")
    one = hist.filter((pl.col("trial_id") == "fast") & (pl.col("t_w") == 0))
    width = float(one["x"][1] - one["x"][0])
    assert abs(float(one["density"].sum()) * width - 0.99) < 0.002  # 99% of the sample is in range
    assert float((one["stable_pdf"] * width).sum()) > 0.95  # the fitted stable density, nearly all in range
    for table in ("contour", "msl", "loss_fluctuations"):
        assert pl.read_parquet(analysed / "analysis" / f"{table}.parquet").height > 0, table


def test_a_rerun_recomputes_nothing_and_force_recomputes_everything(analysed, capsys):
    parts = analysed / "analysis" / "parts"
    before = {p: p.stat().st_mtime_ns for p in parts.rglob("*")}
    result = report(str(analysed), window=T, dashboard=False)
    assert result.analysed == [] and sorted(result.up_to_date) == ["fast", "slow"]
    assert before == {p: p.stat().st_mtime_ns for p in parts.rglob("*")}
    assert main(["--experiment", str(analysed), "--window", str(T), "--no-dashboard", "--force"]) == 0
    assert "analysed 2 trials, 0 up to date" in capsys.readouterr().out
    assert all(before[p] != p.stat().st_mtime_ns for p in before if p.name == "manifest.json")


def test_new_trials_and_changed_settings_are_analysed(analysed, tmp_path):
    exp = tmp_path / "exp"
    shutil.copytree(analysed, exp)
    shutil.copytree(exp / "trials" / "slow", exp / "trials" / "slow2")
    result = report(str(exp), window=T, dashboard=False)
    assert result.analysed == ["slow2"]
    assert pl.read_parquet(exp / "analysis" / "summary.parquet").height == 3
    assert sorted(report(str(exp), window=T // 2, dashboard=False).analysed) == ["fast", "slow", "slow2"]
    os.utime(exp / "trials" / "fast" / "trajectory" / "part-000000000.parquet", ns=(1, 1))
    assert report(str(exp), window=T // 2, dashboard=False).analysed == ["fast"]  # a shard changed


def test_corrupt_and_missing_trials_are_reported_and_the_rest_analysed(analysed, tmp_path, capsys):
    exp = tmp_path / "exp"
    shutil.copytree(analysed / "trials", exp / "trials")
    shard = exp / "trials" / "slow" / "trajectory" / f"part-{2 * SHARD:09d}.parquet"
    shard.write_bytes(shard.read_bytes()[:300])
    (exp / "trials" / "empty").mkdir()
    assert main(["--experiment", str(exp), "--window", str(T), "--no-dashboard"]) == 0
    out = capsys.readouterr().out
    summary = {r["trial_id"]: r for r in pl.read_parquet(exp / "analysis" / "summary.parquet").to_dicts()}
    assert summary["fast"]["analysis_status"] == "ok" and summary["fast"]["windows"] == 2
    assert "truncated or corrupt" in summary["slow"]["analysis_status"] and summary["slow"]["windows"] == 1
    assert summary["empty"]["analysis_status"].startswith("no trajectory shards") and "empty: no traj" in out
    for name in ("fast", "slow"):
        shutil.rmtree(exp / "trials" / name)
    assert main(["--experiment", str(exp), "--window", str(T), "--no-dashboard"]) == 1  # nothing analysable


def test_a_damaged_probe_file_costs_its_headline_only(experiment, tmp_path):
    shutil.copytree(experiment / "trials" / "fast", tmp_path / "fast")
    (tmp_path / "fast" / "hessian.parquet").write_bytes(b"PAR1 not a table")
    (tmp_path / "fast" / "landscape.parquet").write_bytes(b"")
    summary = analyse_trial(tmp_path / "fast", window=T)["summary"][0]
    assert summary["analysis_status"] == "ok" and summary["windows"] == 2
    assert np.isnan(summary["first_hessian_top"]) and np.isnan(summary["landscape_box_dim"])


def test_an_object_store_experiment_is_analysed_in_place(analysed, tmp_path):
    exp = tmp_path / "bucket"
    shutil.copytree(analysed / "trials", exp / "trials")
    result = report(f"file://{exp}", window=T, dashboard=False)
    assert sorted(result.analysed) == ["fast", "slow"] and result.ok == 2
    local = pl.read_parquet(analysed / "analysis" / "exponents.parquet").sort("trial_id", "t_w")
    remote = pl.read_parquet(exp / "analysis" / "exponents.parquet").sort("trial_id", "t_w")
    assert remote.equals(local)
    assert (exp / "analysis" / "compare_lr.csv").exists()


def test_t_w_lists_choose_the_windows(experiment):
    out = analyse_trial(experiment / "trials" / "fast", window=64, t_w=[10, 300, 480])
    assert [r["t_w"] for r in out["exponents"]] == [10, 300]  # 480 + 64 is past the end (512)
    whole = analyse_trial(experiment / "trials" / "fast", window=64)
    assert [r["t_w"] for r in whole["exponents"]] == list(range(0, 512, 64))
    assert parse_t_w("5000, 0,5000") == [0, 5000]
    with pytest.raises(ValueError, match="'-3' is not a step"):
        parse_t_w("0,-3")
    assert main(["--experiment", str(experiment), "--t-w", "0,x"]) == 2


def test_windows_give_exact_steps_from_any_starts(experiment):
    shards = sorted((int(SHARD_RE.match(p.name).group(1)), p)
                    for p in (experiment / "trials" / "fast" / "trajectory").iterdir())
    seen = []
    for t_w, w in windows(iter(shards), window=100, t_w=[5, 50, 400]):
        assert w["step"].tolist() == list(range(t_w, t_w + 100))
        seen.append(t_w)
    assert seen == [5, 50, 400]
    losses = []
    assert len(list(windows(iter(shards), window=100, losses=losses))) == 5
    assert len(np.concatenate(losses)) == 2 * T


def test_windows_hold_about_one_window_and_one_shard(tmp_path):
    import tracemalloc

    write_contract_trial(tmp_path / "long" / "trajectory", [0.5] * 16, 1.5, window=256, dim=K, grad_sample=M,
                         shard_steps=SHARD, seed=3)  # 4,096 steps in 32 shards
    shards = sorted((int(SHARD_RE.match(p.name).group(1)), p) for p in (tmp_path / "long" / "trajectory").iterdir())
    row_bytes = 4 * (K + M) + 3 * 8  # sketch, grad_sample (float32); step, loss, step_norm
    next(windows(iter(shards), window=64))  # first-use imports and caches, outside the measurement
    tracemalloc.start()
    count = sum(1 for _ in windows(iter(shards), window=64, losses=[]))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert count == 4096 // 64
    assert peak < 4 * (64 + SHARD) * row_bytes + 8 * 4096, peak  # not the 4,096-row trajectory (1.3 MB)
