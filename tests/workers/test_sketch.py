import numpy as np
import pytest
import torch

from workers.sketch import CountSketch, make_sketch, sample_coordinates


def _dense(sketch: CountSketch, n: int) -> torch.Tensor:
    """The k x N matrix of the sketch, built independently from its hashes and signs."""
    m = torch.zeros(sketch.dim, n)
    m[sketch.bucket, torch.arange(n)] = sketch.sign
    return m


def test_countsketch_equals_its_dense_matrix_and_is_linear():
    s = CountSketch(1000, 64, seed=1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 1000, generator=g, dtype=torch.float64), torch.randn(1000, generator=g, dtype=torch.float64)
    assert torch.allclose(s(x), x @ _dense(s, 1000).double().T, atol=1e-12)
    assert torch.allclose(s(2 * y - x[0]), 2 * s(y) - s(x[0]), atol=1e-12)


def test_countsketch_preserves_squared_norm_in_expectation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(20_000, generator=g, dtype=torch.float64) * torch.linspace(0.1, 3, 20_000, dtype=torch.float64)
    ratios = np.array([(CountSketch(20_000, 256, seed=s)(x).norm() ** 2 / x.norm() ** 2).item() for s in range(200)])
    assert ratios.mean() == pytest.approx(1.0, abs=3 * ratios.std() / np.sqrt(200))
    assert ratios.std() == pytest.approx(np.sqrt(2 / 256), rel=0.25)  # relative variance ~ 2/k


def test_exact_sketch_and_coordinates():
    e = make_sketch("exact", 10, 4096)
    x = torch.arange(10.0)
    assert e.dim == 10 and torch.equal(e(x), x)
    idx = sample_coordinates(1000, 100, seed=3)
    assert len(idx.unique()) == 100 and torch.equal(idx, idx.sort().values)
    assert torch.equal(idx, sample_coordinates(1000, 100, seed=3))
    assert len(sample_coordinates(50, 100)) == 50
    with pytest.raises(ValueError, match="sketch_kind"):
        make_sketch("gaussian", 10, 4)
