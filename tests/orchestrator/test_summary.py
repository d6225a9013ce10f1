import numpy as np

from analysis.exponents import fit_exponents
from analysis.msd import time_averaged_msd
from orchestrator.summary import window_exponents
from workers.config import TrialConfig
from workers.shards import read_trajectory
from workers.train import run_trial

BASE = dict(dataset="digits", batch_size=64, shard_steps=10, sketch_dim=128, grad_sample=16, device="cpu",
            eval_every=0)


def test_windows_cover_the_trajectory_in_order(tmp_path):
    run_trial(TrialConfig(**BASE, steps=30), tmp_path)
    rows = window_exponents(tmp_path, window=10)
    assert [r["t_w"] for r in rows] == [0, 10, 20]
    sketch = read_trajectory(tmp_path / "trajectory", ["sketch"])["sketch"][10:20]
    fit = fit_exponents(np.arange(1, 10), time_averaged_msd(sketch)[1:])
    assert rows[1]["alpha_single"] == fit.alpha_single and rows[1]["regime"] == fit.regime


def test_a_diverged_trial_is_analysed_up_to_its_first_non_finite_row(tmp_path):
    cfg = TrialConfig(**{**BASE, "arch": "resnet14-noshort", "lr": 1e10, "shard_steps": 2, "steps": 200})
    assert run_trial(cfg, tmp_path)["state"] == "diverged"
    assert isinstance(window_exponents(tmp_path, window=4), list)  # no exception
    assert window_exponents(tmp_path / "missing", window=4) == []
