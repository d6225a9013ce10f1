"""analysis.fluctuations: |dL| and the moving variance against direct loops."""

import numpy as np
import pytest

from analysis.fluctuations import CHUNK, LossFluctuations, loss_fluctuations


def test_abs_dloss_is_absolute_difference():
    loss = np.random.default_rng(40).standard_normal(50)
    res = loss_fluctuations(loss, window=10)
    np.testing.assert_allclose(res.abs_dloss[:-1], [abs(loss[t + 1] - loss[t]) for t in range(49)])
    assert np.isnan(res.abs_dloss[-1])


@pytest.mark.parametrize("n_steps,window", [(50, 10), (300, 100), (CHUNK + 250, 100)])
def test_moving_variance_matches_loop(n_steps, window):
    loss = np.random.default_rng(41).standard_normal(n_steps).cumsum()
    res = loss_fluctuations(loss, window=window)
    ref = [np.var(loss[t - window + 1 : t + 1]) for t in range(window - 1, n_steps)]
    np.testing.assert_allclose(res.moving_var[window - 1 :], ref, rtol=1e-10, atol=1e-14)
    assert np.all(np.isnan(res.moving_var[: window - 1]))


def test_tiny_late_variance_keeps_precision():
    # A plateau: variance 1e-12 on a loss of 2.3, after early fluctuations of order 1.
    rng = np.random.default_rng(42)
    loss = np.concatenate([2.3 + rng.standard_normal(5000), 2.3 + 1e-6 * rng.standard_normal(5000)])
    res = loss_fluctuations(loss)
    np.testing.assert_allclose(res.moving_var[-1], np.var(loss[-100:]), rtol=1e-6)


def test_steps_and_window_in_result():
    res = loss_fluctuations(np.arange(20.0), window=5, first_step=1000)
    assert isinstance(res, LossFluctuations) and res.window == 5
    np.testing.assert_array_equal(res.step, np.arange(1000, 1020))
    np.testing.assert_allclose(res.moving_var[4:], np.var(np.arange(5.0)))


def test_constant_loss_has_zero_fluctuations():
    res = loss_fluctuations(np.full(30, 0.7), window=10)
    assert np.all(res.abs_dloss[:-1] == 0) and np.all(res.moving_var[9:] == 0)


class TestBadInput:
    def test_nan(self):
        loss = np.ones(20)
        loss[3] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            loss_fluctuations(loss, window=5)

    def test_window_longer_than_series(self):
        with pytest.raises(ValueError, match="window"):
            loss_fluctuations(np.ones(20), window=21)

    def test_too_short(self):
        with pytest.raises(ValueError, match="fewer than the 3"):
            loss_fluctuations(np.ones(2), window=2)

    def test_two_dimensional(self):
        with pytest.raises(ValueError, match="1-D"):
            loss_fluctuations(np.ones((5, 2)))
