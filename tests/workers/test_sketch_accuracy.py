"""The CountSketch MSD against the exact MSD on a real trajectory (ResNet-14, MNIST, 300 steps)."""
import numpy as np
import pytest
import torch

from analysis.msd import time_averaged_msd
from workers.config import TrialConfig
from workers.shards import read_trajectory
from workers.sketch import CountSketch
from workers.train import run_trial

K, T = 4096, 300


def _slope(msd: np.ndarray) -> float:
    lags = np.unique(np.geomspace(1, T - 1, 30).astype(int))
    return np.polyfit(np.log(lags), np.log(msd[lags]), 1)[0]


@pytest.fixture(scope="module")
def mnist_window(data_root, tmp_path_factory):
    cfg = TrialConfig(dataset="mnist", data_root=str(data_root), steps=T, batch_size=16, lr=0.1,
                      sketch_kind="exact", shard_steps=T, grad_sample=16, eval_every=0, device="cpu")
    folder = tmp_path_factory.mktemp("mnist")
    assert run_trial(cfg, folder)["state"] == "completed"
    return read_trajectory(folder / "trajectory", ["sketch"])["sketch"]  # (T, N) exact w(t) - w(0)


def _errors(exact_x: np.ndarray, exact_msd: np.ndarray, seed: int) -> tuple[float, float, float]:
    sketched = CountSketch(exact_x.shape[1], K, seed=seed)(torch.tensor(exact_x)).numpy()
    msd = time_averaged_msd(sketched.astype(np.float64))
    rel = np.abs(msd[1:] / exact_msd[1:] - 1)  # every lag 1..T-1
    return float(np.median(rel)), float(rel.max()), abs(_slope(msd) - _slope(exact_msd))


@pytest.mark.slow
def test_default_sketch_reproduces_the_exact_msd(mnist_window):
    exact_msd = time_averaged_msd(mnist_window.astype(np.float64))
    assert 0.8 < _slope(exact_msd) < 1.5  # a real, non-degenerate trajectory
    median, worst, slope_err = _errors(mnist_window, exact_msd, seed=TrialConfig().sketch_seed)
    print(f"default sketch: median {median:.4f} max {worst:.4f} slope error {slope_err:.4f}")
    assert median <= 0.02 and worst <= 0.06 and slope_err <= 0.02
    # other sketch seeds: the error of a k-bucket sketch has relative std about sqrt(2/k) = 2.2%
    errs = np.array([_errors(mnist_window, exact_msd, seed=s) for s in range(1, 9)])
    print("seeds 1-8 median/max/slope:", np.round(errs, 4).tolist())
    assert np.median(errs[:, 0]) <= 0.02 and np.all(errs[:, 0] <= 3 * np.sqrt(2 / K))
    assert np.all(errs[:, 2] <= 0.02)
