"""analysis.report on real (tiny) trials: tables against an independent recomputation, bad trials reported."""
import numpy as np
import polars as pl
import pytest

from analysis.exponents import fit_exponents
from analysis.msd import time_averaged_msd
from analysis.report import main
from analysis.trial import analyse_trial
from workers.config import TrialConfig
from workers.shards import read_trajectory
from workers.train import run_trial

BASE = dict(dataset="digits", batch_size=64, steps=40, shard_steps=20, sketch_dim=128, grad_sample=64,
            device="cpu", eval_every=0)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    root = tmp_path_factory.mktemp("exp")
    for arch in ("resnet14", "resnet14-noshort"):
        cfg = TrialConfig(**BASE, arch=arch)
        run_trial(cfg, root / "trials" / cfg.trial_id)
    return root


def test_tables_match_an_independent_recomputation(experiment):
    trial = sorted((experiment / "trials").iterdir())[0]
    out = analyse_trial(trial, window=20, levy_samples=500)
    rows = read_trajectory(trial / "trajectory")
    assert [r["t_w"] for r in out["exponents"]] == [0, 20]
    window = rows["sketch"][20:40]
    msd = time_averaged_msd(window)
    table = [r["msd"] for r in out["msd"] if r["t_w"] == 20]
    assert np.allclose(table, msd[1:], rtol=1e-12)
    assert out["exponents"][1]["alpha_single"] == fit_exponents(np.arange(1, 20), msd[1:]).alpha_single
    assert [r["n"] for r in out["levy"]] == [500, 500]
    assert len(out["loss_fluctuations"]) == 40
    summary = out["summary"][0]
    assert summary["analysis_status"] == "ok" and summary["windows"] == 2 and summary["state"] == "completed"
    assert summary["first_alpha_single"] == out["exponents"][0]["alpha_single"]
    assert summary["arch"] == "resnet14-noshort" and summary["shortcut"] is False


def test_a_truncated_shard_is_reported_and_earlier_windows_kept(experiment, tmp_path):
    import shutil

    trial = tmp_path / "t"
    shutil.copytree(sorted((experiment / "trials").iterdir())[1], trial)
    shard = trial / "trajectory" / "part-000000020.parquet"
    shard.write_bytes(shard.read_bytes()[:500])
    out = analyse_trial(trial, window=20)
    assert [r["t_w"] for r in out["exponents"]] == [0]
    assert "truncated or corrupt" in out["summary"][0]["analysis_status"]


def test_a_diverged_trial_keeps_its_windows_before_the_first_non_finite_step(tmp_path):
    cfg = TrialConfig(**{**BASE, "arch": "resnet14-noshort", "lr": 1e10, "shard_steps": 2, "steps": 200})
    assert run_trial(cfg, tmp_path)["state"] == "diverged"
    out = analyse_trial(tmp_path, window=4)
    summary = out["summary"][0]
    assert summary["state"] == "diverged" and "non-finite" in summary["analysis_status"]
    assert summary["windows"] == len(out["exponents"]) and all(np.isfinite(r["msd"]) for r in out["msd"])


def test_cli_writes_every_table_and_fails_only_when_nothing_is_analysed(experiment, tmp_path, capsys):
    assert main(["--experiment", str(experiment), "--window", "20"]) == 0
    for table in ("msd", "exponents", "levy", "fractal", "loss_fluctuations", "summary"):
        assert (experiment / "analysis" / f"{table}.parquet").exists(), table
    summary = pl.read_parquet(experiment / "analysis" / "summary.parquet")
    assert summary.height == 2 and summary["analysis_status"].to_list() == ["ok", "ok"]
    assert main(["--experiment", str(experiment), "--window", "100"]) == 1  # no complete window anywhere
    assert main(["--experiment", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_cli_stops_the_ray_instance_it_started(experiment):
    import ray

    assert main(["--experiment", str(experiment), "--window", "20"]) == 0
    assert not ray.is_initialized()


def test_comparison_tables_are_written_from_the_summary(experiment):
    assert main(["--experiment", str(experiment), "--window", "20"]) == 0
    table = pl.read_parquet(experiment / "analysis" / "compare_depth_shortcut_batch.parquet")
    summary = pl.read_parquet(experiment / "analysis" / "summary.parquet")
    assert table.height == 2 and sorted(table["shortcut"]) == [False, True] and set(table["n"]) == {1}
    noshort = summary.filter(~pl.col("shortcut"))["first_alpha_above"][0]
    assert table.filter(~pl.col("shortcut"))["first_alpha_above_mean"][0] == noshort
    assert (experiment / "analysis" / "compare_levy.csv").exists()
