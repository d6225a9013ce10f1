"""analysis.msd against the O(T^2) definition and the closed forms of Eq. 3-4."""

import numpy as np
import pytest

from analysis.msd import direct_msd, no_averaged_msd, time_averaged_msd


class TestTimeAveragedMsd:
    @pytest.mark.parametrize("shape", [(3, 1), (17, 5), (400, 33), (257, 300)])
    def test_fft_equals_direct_definition(self, shape):
        rng = np.random.default_rng(7)
        x = rng.standard_normal(shape).cumsum(axis=0) + rng.normal(scale=50.0, size=shape[1])
        fast = time_averaged_msd(x)
        sq_disp = [np.mean(np.sum((x[lag:] - x[:-lag]) ** 2, axis=1)) for lag in range(1, shape[0])]
        ref = np.array([0.0] + sq_disp)
        np.testing.assert_allclose(fast, ref, rtol=1e-9, atol=0)

    def test_float32_input_matches_float64_definition(self):
        x = np.random.default_rng(1).standard_normal((300, 64)).astype(np.float32).cumsum(axis=0)
        np.testing.assert_allclose(time_averaged_msd(x)[1:], direct_msd(x.astype(np.float64))[1:], rtol=1e-9)

    def test_chunking_and_max_lag_do_not_change_values(self):
        x = np.random.default_rng(2).standard_normal((200, 37)).cumsum(axis=0)
        full = time_averaged_msd(x)
        np.testing.assert_allclose(time_averaged_msd(x, chunk_size=1), full, rtol=1e-12)
        np.testing.assert_allclose(time_averaged_msd(x, max_lag=50), full[:51], rtol=1e-12)
        assert full[0] == 0.0 and full.shape == (200,)

    def test_brownian_msd_is_2_d_k_lag(self, make_brownian):
        n_steps, k, diff = 4000, 256, 0.5
        x = make_brownian(n_steps, k, np.random.default_rng(3), diffusion=diff)
        msd = time_averaged_msd(x)
        lags = np.arange(1, 41)
        np.testing.assert_allclose(msd[lags], 2 * diff * k * lags, rtol=0.02)

    def test_ballistic_path_is_exactly_quadratic(self):
        v = np.array([0.3, -1.2, 2.0])
        x = np.arange(50)[:, None] * v + 1e3
        lags = np.arange(50)
        np.testing.assert_allclose(time_averaged_msd(x), lags**2 * (v @ v), rtol=1e-9, atol=1e-9)

    def test_one_dimensional_input_is_one_coordinate(self):
        x = np.random.default_rng(4).standard_normal(60).cumsum()
        np.testing.assert_allclose(time_averaged_msd(x), time_averaged_msd(x[:, None]))

    def test_constant_trajectory_gives_zero(self):
        assert np.all(time_averaged_msd(np.ones((20, 4))) == 0.0)


class TestNoAveragedMsd:
    def test_definition_eq4(self):
        x = np.random.default_rng(5).standard_normal((30, 6)).cumsum(axis=0)
        ref = np.array([np.sum((x[lag] - x[0]) ** 2) for lag in range(30)])
        np.testing.assert_allclose(no_averaged_msd(x), ref, rtol=1e-12)

    def test_differs_from_time_average_on_a_random_walk(self):
        x = np.random.default_rng(6).standard_normal((100, 3)).cumsum(axis=0)
        assert not np.allclose(no_averaged_msd(x), time_averaged_msd(x))

    def test_ballistic_closed_form(self):
        x = np.arange(10)[:, None] * np.array([[3.0, 4.0]])
        np.testing.assert_allclose(no_averaged_msd(x), 25.0 * np.arange(10) ** 2)


@pytest.mark.parametrize("func", [time_averaged_msd, no_averaged_msd])
class TestBadInput:
    def test_nan(self, func):
        x = np.zeros((10, 2))
        x[3, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            func(x)

    def test_inf(self, func):
        x = np.zeros((10, 2))
        x[3, 1] = np.inf
        with pytest.raises(ValueError, match="inf"):
            func(x)

    def test_window_shorter_than_three_steps(self, func):
        with pytest.raises(ValueError, match="fewer than the 3"):
            func(np.zeros((2, 4)))

    def test_three_dimensional_array(self, func):
        with pytest.raises(ValueError, match=r"shape \(T, k\)"):
            func(np.zeros((5, 2, 2)))


def test_max_lag_out_of_range():
    with pytest.raises(ValueError, match="max_lag"):
        time_averaged_msd(np.zeros((10, 2)), max_lag=10)
