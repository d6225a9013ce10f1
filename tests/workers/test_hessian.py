"""Hessian eigenvalues by Lanczos on Hessian-vector products against a dense eigendecomposition."""
import numpy as np
import polars as pl
import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from workers.config import TrialConfig
from workers.hessian import hessian_eigenvalues
from workers.shards import read_trajectory
from workers.train import run_trial


def tiny_net(with_bn: bool = False) -> torch.nn.Module:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(6, 12), torch.nn.Tanh(), torch.nn.Linear(12, 3)]
    if with_bn:
        layers.insert(1, torch.nn.BatchNorm1d(12))
    return torch.nn.Sequential(*layers).double()


def dense_hessian(model, x, y) -> np.ndarray:
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])

    def loss_of(w):
        parts, i = {}, 0
        for name, shape in zip(names, shapes):
            parts[name] = w[i:i + shape.numel()].reshape(shape)
            i += shape.numel()
        return F.cross_entropy(functional_call(model, parts, (x,)), y)

    return torch.autograd.functional.hessian(loss_of, flat).numpy()


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    return torch.randn(40, 6, generator=g, dtype=torch.float64), torch.randint(0, 3, (40,), generator=g)


def test_top_and_smallest_eigenvalues_match_the_dense_hessian(batch):
    model = tiny_net()
    x, y = batch
    exact = np.linalg.eigvalsh(dense_hessian(model, x, y))  # ascending, 123 parameters
    eig = hessian_eigenvalues(model, F.cross_entropy, x, y, k=8, smallest=True, tol=1e-10)
    assert np.allclose(eig["top"], exact[::-1][:8], rtol=1e-4, atol=1e-10)
    assert eig["smallest"][0] == pytest.approx(exact[0], rel=1e-4, abs=1e-8)
    assert exact[0] < 0  # the smallest is a genuine negative-curvature direction here, not a copy of 0


def test_lanczos_that_does_not_converge_gives_nan_not_an_exception(batch):
    model = tiny_net()
    x, y = batch
    eig = hessian_eigenvalues(model, F.cross_entropy, x, y, k=8, tol=1e-14, maxiter=1)
    assert eig["top"].shape == (8,) and np.isnan(eig["top"]).any()
    finite = eig["top"][np.isfinite(eig["top"])]
    assert np.all(np.diff(finite) <= 0) and np.isnan(eig["top"][-1])  # converged ones first, descending


def test_batchnorm_statistics_are_left_as_they_were(batch):
    model = tiny_net(with_bn=True).train()
    x, y = batch
    before = {n: b.clone() for n, b in model.named_buffers()}
    top = hessian_eigenvalues(model, F.cross_entropy, x, y, k=3)["top"]
    assert np.all(np.diff(top) <= 0) and top[0] > 0
    assert all(torch.equal(before[n], b) for n, b in model.named_buffers())


def test_probes_in_training_are_scheduled_and_leave_the_trajectory_unchanged(tmp_path):
    base = dict(dataset="digits", batch_size=64, steps=26, shard_steps=13, sketch_dim=64, grad_sample=16,
                device="cpu", eval_every=0)
    probed = TrialConfig(**base, hessian_every=1, hessian_k=3, hessian_batch=16, hessian_smallest=True)
    assert run_trial(probed, tmp_path / "probed")["state"] == "completed"
    run_trial(TrialConfig(**base), tmp_path / "plain")
    rows = pl.read_parquet(tmp_path / "probed" / "hessian.parquet")
    assert rows["step"].unique().sort().to_list() == [0, 24, 26]  # step 0, end of epoch 0 (24 steps), the end
    first = rows.filter(pl.col("step") == 0)
    assert first["rank"].to_list() == [1, 2, 3, -1]
    top = first["eigenvalue"].to_numpy()[:3]
    assert np.all(np.diff(top) <= 0) and first["eigenvalue"][3] <= top[-1]
    a, b = read_trajectory(tmp_path / "probed" / "trajectory"), read_trajectory(tmp_path / "plain" / "trajectory")
    assert all(np.array_equal(a[c], b[c]) for c in a)  # probes never touch the SGD trajectory
    with pytest.raises(ValueError, match="hessian_k"):
        TrialConfig(**base, hessian_k=0)
