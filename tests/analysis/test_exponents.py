"""analysis.exponents: exponents of Brownian, fractional and ballistic paths; tau0 and regimes."""

import numpy as np
import pytest

from analysis.exponents import ExponentFit, fit_exponents, log_derivative
from analysis.msd import time_averaged_msd


def _exponents_of(x):
    msd = time_averaged_msd(x)
    return fit_exponents(np.arange(msd.size), msd)


class TestFitExponents:
    def test_brownian_single_exponent_is_one(self, make_brownian):
        fit = _exponents_of(make_brownian(4000, 256, np.random.default_rng(11)))
        assert abs(fit.alpha_single - 1.0) < 0.03
        assert fit.regime == 2 and np.isnan(fit.tau0) and fit.reason == ""

    @pytest.mark.parametrize("hurst", [0.3, 0.5, 0.75])
    def test_fbm_exponent_is_twice_hurst(self, make_fbm, hurst):
        fit = _exponents_of(make_fbm(1000, 256, hurst, np.random.default_rng(12)))
        assert abs(fit.alpha_single - 2 * hurst) < 0.05

    def test_ballistic_path_has_exponent_two(self):
        v = np.random.default_rng(13).standard_normal(8)
        fit = _exponents_of(np.arange(500)[:, None] * v)
        assert fit.alpha_single == pytest.approx(2.0, abs=1e-6)
        assert fit.rmse_single < 1e-6 and fit.regime == 2

    @pytest.mark.parametrize("crossover", [10.0, 25.0])
    def test_superdiffusion_plus_noise_has_two_segments(self, make_fbm, crossover):
        # MSD = k lag^1.6 + 2 k sigma^2: plateau below tau_c = (2 sigma^2)^(1/1.6), power law above.
        hurst, k = 0.8, 512
        sigma = np.sqrt(crossover ** (2 * hurst) / 2)
        rng = np.random.default_rng(14)
        x = make_fbm(1000, k, hurst, rng) + rng.normal(scale=sigma, size=(1000, k))
        fit = _exponents_of(x)
        assert fit.regime == 1 and fit.reason == ""
        assert fit.alpha_below < 1.0 < fit.alpha_above
        assert crossover <= fit.tau0 <= 4 * crossover

    def test_exact_plateau_plus_power_law_crossover(self):
        lags = np.arange(1000.0)
        msd = np.where(lags > 0, 100.0 + lags**1.5, 0.0)  # analytic crossover 100^(1/1.5) = 21.5
        fit = fit_exponents(lags, msd)
        assert fit.regime == 1
        assert 21.5 <= fit.tau0 <= 4 * 21.5
        assert fit.alpha_above == pytest.approx(1.5, abs=0.15)

    def test_threshold_is_a_keyword_option(self):
        lags = np.arange(1000.0)
        msd = np.where(lags > 0, 100.0 + lags**1.5, 0.0)
        assert fit_exponents(lags, msd, rmse_threshold=10.0).regime == 2
        with pytest.raises(TypeError):
            fit_exponents(lags, msd, 0.03)

    def test_no_qualifying_lag_gives_nan_with_reason(self):
        lags = np.arange(1, 400.0)
        msd = lags * np.exp(0.5 * np.sin(lags / 3.0))  # wiggles everywhere: no segment fits
        fit = fit_exponents(lags, msd)
        assert fit.regime == 1 and np.isnan(fit.tau0) and np.isnan(fit.alpha_above)
        assert "RMSE" in fit.reason and np.isfinite(fit.alpha_single)

    def test_constant_trajectory_gives_nan_with_reason(self):
        fit = _exponents_of(np.full((100, 3), 2.5))
        assert isinstance(fit, ExponentFit)
        assert np.isnan(fit.alpha_single) and np.isnan(fit.tau0) and fit.regime == 0
        assert "constant" in fit.reason

    def test_result_is_frozen(self):
        fit = fit_exponents(np.arange(10.0), np.arange(10.0))
        with pytest.raises(AttributeError):
            fit.tau0 = 1.0


class TestLogDerivative:
    def test_exact_power_law(self):
        lags = np.arange(1, 500.0)
        np.testing.assert_allclose(log_derivative(lags, 3.0 * lags**1.37), 1.37, atol=1e-9)

    def test_plateau_plus_ballistic_closed_form(self):
        lags = np.arange(1, 1000.0)
        a, b = 50.0, 0.5
        beta_true = 2 * b * lags**2 / (a + b * lags**2)
        beta = log_derivative(lags, a + b * lags**2)
        np.testing.assert_allclose(beta[5:-5], beta_true[5:-5], atol=0.05)

    def test_noisy_curve_is_smoothed(self, make_fbm):
        msd = time_averaged_msd(make_fbm(1000, 16, 0.3, np.random.default_rng(15)))
        lags = np.arange(msd.size)
        beta = log_derivative(lags, msd)
        assert np.isnan(beta[0])
        assert abs(np.median(beta[1:300]) - 0.6) < 0.08
        raw = np.diff(np.log(msd[1:])) / np.diff(np.log(lags[1:]))
        assert np.std(np.diff(beta[100:300])) < 0.1 * np.std(np.diff(raw[100:300]))


class TestBadInput:
    def test_mismatched_lengths(self):
        with pytest.raises(ValueError, match="msd has 5 entries"):
            fit_exponents(np.arange(6.0), np.arange(5.0))

    def test_nan_msd(self):
        msd = np.arange(10.0)
        msd[4] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            fit_exponents(np.arange(10.0), msd)
        with pytest.raises(ValueError, match="NaN"):
            log_derivative(np.arange(10.0), msd)

    def test_too_short(self):
        with pytest.raises(ValueError, match="fewer than the 3"):
            fit_exponents(np.arange(2.0), np.arange(2.0))

    def test_unsorted_lags(self):
        with pytest.raises(ValueError, match="increasing"):
            fit_exponents(np.array([1.0, 3.0, 2.0, 4.0]), np.ones(4))
