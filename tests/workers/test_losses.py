import pytest
import torch
import torch.nn.functional as F

from workers.losses import kl_loss, make_loss, smoothed_targets


def _logits(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(64, 10, generator=g, dtype=torch.float64) * 3).requires_grad_(), \
        torch.randint(0, 10, (64,), generator=g)


def test_kl_with_zero_smoothing_equals_cross_entropy_values_and_gradients():
    logits, y = _logits()
    ce = F.cross_entropy(logits, y)
    (g_ce,) = torch.autograd.grad(ce, logits)
    kl = make_loss("kl", smoothing=0.0)(logits, y)
    (g_kl,) = torch.autograd.grad(kl, logits)
    assert kl.item() == pytest.approx(ce.item(), rel=1e-12)
    assert torch.allclose(g_kl, g_ce, rtol=1e-12, atol=1e-15)


def test_kl_with_smoothing_is_the_divergence_from_soft_targets():
    logits, y = _logits(1)
    t = smoothed_targets(y, 10, 0.1, torch.float64)
    assert torch.allclose(t.sum(1), torch.ones(64, dtype=torch.float64))
    p = torch.softmax(logits, 1)
    reference = (t * (t.log() - p.log())).sum(1).mean()
    assert kl_loss(logits, y, 0.1).item() == pytest.approx(reference.item(), rel=1e-10)
    assert kl_loss(logits, y, 0.1).item() != pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-3)


def test_kl_minimum_is_zero_at_finite_logits():
    y = torch.arange(10)
    t = smoothed_targets(y, 10, 0.2, torch.float64)
    assert kl_loss(t.log(), y, 0.2).item() == pytest.approx(0.0, abs=1e-12)
    assert make_loss("ce") is F.cross_entropy
    with pytest.raises(ValueError, match="loss: 'mse'"):
        make_loss("mse")
