"""analysis.levy: stable density against closed forms and scipy; MLE against known parameters."""

import numpy as np
import pytest
from scipy import integrate, stats

from analysis.levy import StableFit, fit_stable, mcculloch_start, stable_logpdf

POINTS = np.array([0.0, 0.3, 1.0, 2.5, 7.0, 15.0, 39.0, 45.0, 52.0, 80.0, 300.0])
SEEDS = range(5)


def _stable_sample(alpha, n, seed, *, scale=2.0, loc=0.3):
    return stats.levy_stable.rvs(alpha, 0.0, loc=loc, scale=scale, size=n, random_state=seed)


@pytest.fixture(scope="module")
def stable_fits():
    """fit_stable on n = 5000 symmetric samples, alpha in {1.2, 1.5, 1.8}, five seeds each."""
    return {a: [fit_stable(_stable_sample(a, 5000, 100 + s)) for s in SEEDS] for a in (1.2, 1.5, 1.8)}


class TestDensity:
    def test_cauchy_closed_form(self):
        x = np.concatenate([-POINTS, POINTS, [3e3, 1e5]])
        np.testing.assert_allclose(np.exp(stable_logpdf(x, 1.0)), stats.cauchy.pdf(x), rtol=1e-6)

    def test_gaussian_limit(self):
        x = np.linspace(-8, 8, 41)
        ref = stats.norm.logpdf(x, 0.2, 1.5 * np.sqrt(2))  # alpha = 2: N(loc, 2 scale^2)
        np.testing.assert_allclose(stable_logpdf(x, 2.0, scale=1.5, loc=0.2), ref, rtol=1e-12)
        near = x[10:31]
        ref_near = stats.norm.pdf(near, 0, np.sqrt(2))
        np.testing.assert_allclose(np.exp(stable_logpdf(near, 1.999999)), ref_near, rtol=1e-4)

    @pytest.mark.parametrize("alpha", [0.7, 1.2, 1.5, 1.8, 1.95])
    def test_symmetric_matches_scipy(self, alpha):
        ref = stats.levy_stable.pdf(POINTS, alpha, 0.0)
        np.testing.assert_allclose(np.exp(stable_logpdf(POINTS, alpha)), ref, rtol=1e-5)

    @pytest.mark.parametrize("alpha,beta", [(1.5, 0.5), (1.2, -0.7), (0.8, 0.3), (1.8, 0.9)])
    def test_skewed_matches_scipy_after_s0_to_s1_shift(self, alpha, beta):
        x = np.concatenate([-POINTS[1:9], POINTS[:9]])
        shift = beta * np.tan(np.pi * alpha / 2)  # X_S0 = X_S1 + beta tan(pi alpha / 2)
        ref = stats.levy_stable.pdf(x + shift, alpha, beta)
        np.testing.assert_allclose(np.exp(stable_logpdf(x, alpha, beta=beta)), ref, rtol=2e-3)

    def test_density_integrates_to_one(self):
        x = np.linspace(-200, 200, 400_001)
        for alpha in (1.1, 1.6):
            mass = integrate.trapezoid(np.exp(stable_logpdf(x, alpha)), x)
            tails = 2 * stats.levy_stable.sf(200, alpha, 0)
            assert mass + tails == pytest.approx(1.0, abs=1e-5)


class TestFitStable:
    @pytest.mark.parametrize("alpha", [1.2, 1.5, 1.8])
    def test_alpha_recovered_median_over_seeds(self, stable_fits, alpha):
        fits = stable_fits[alpha]
        assert abs(np.median([f.alpha for f in fits]) - alpha) < 0.05
        assert np.median([f.scale for f in fits]) == pytest.approx(2.0, rel=0.05)
        assert abs(np.median([f.loc for f in fits]) - 0.3) < 0.1
        assert all(f.beta == 0.0 and f.n == 5000 and f.reason == "" for f in fits)

    def test_confidence_interval_covers_truth_in_most_seeds(self, stable_fits):
        covered = [f.alpha_lo <= a <= f.alpha_hi for a, fits in stable_fits.items() for f in fits]
        assert sum(covered) >= 12  # of 15; expected 14.25 at 95% coverage
        widths = [f.alpha_hi - f.alpha_lo for fits in stable_fits.values() for f in fits]
        assert 0.05 < np.median(widths) < 0.15  # standard error 0.02-0.025 at n = 5000

    def test_stable_beats_gaussian(self, stable_fits):
        for fits in stable_fits.values():
            for f in fits:
                assert f.llr > 50 and f.vuong_p < 0.05  # Vuong: heavy-tailed d inflates its variance
                assert f.llr == pytest.approx(f.loglik_stable - f.loglik_normal)

    def test_gaussian_samples(self):
        x = np.random.default_rng(21).normal(0.3, 2.0, 5000)
        fit = fit_stable(x)
        assert fit.alpha > 1.95 and fit.alpha_hi == 2.0
        assert -1e-6 < fit.llr < 2.0 and fit.vuong_p > 0.05
        assert fit.loglik_normal == pytest.approx(stats.norm.logpdf(x, x.mean(), x.std()).sum())

    def test_cauchy_recovered(self):
        x = stats.cauchy.rvs(loc=-1.0, scale=0.5, size=5000, random_state=22)
        fit = fit_stable(x)
        assert abs(fit.alpha - 1.0) < 0.05
        assert fit.scale == pytest.approx(0.5, rel=0.05) and fit.loc == pytest.approx(-1.0, abs=0.05)

    def test_loglik_matches_scipy_and_is_a_maximum(self):
        x = _stable_sample(1.5, 150, 23)
        fit = fit_stable(x)
        ll = lambda a: stats.levy_stable.logpdf(x, a, 0.0, loc=fit.loc, scale=fit.scale).sum()  # noqa: E731
        assert fit.loglik_stable == pytest.approx(ll(fit.alpha), abs=1e-3)
        assert ll(fit.alpha) > max(ll(fit.alpha - 0.1), ll(min(2.0, fit.alpha + 0.1)))

    def test_affine_equivariance(self):
        x = _stable_sample(1.4, 2000, 24)
        base, moved = fit_stable(x), fit_stable(3.0 * x - 7.0)
        assert moved.alpha == pytest.approx(base.alpha, abs=2e-3)
        assert moved.scale == pytest.approx(3.0 * base.scale, rel=5e-3)
        assert moved.loc == pytest.approx(3.0 * base.loc - 7.0, abs=0.02)

    def test_skewed_fit(self):
        alpha, beta, scale = 1.5, 0.5, 2.0
        x = stats.levy_stable.rvs(alpha, beta, scale=scale, size=5000, random_state=25)
        fit = fit_stable(x, symmetric=False)
        assert abs(fit.alpha - alpha) < 0.06 and abs(fit.beta - beta) < 0.15
        assert fit.loc == pytest.approx(beta * scale * np.tan(np.pi * alpha / 2), abs=0.2)  # S0 location

    def test_mcculloch_start_is_close(self):
        alpha, scale, loc = mcculloch_start(_stable_sample(1.5, 5000, 26))
        assert abs(alpha - 1.5) < 0.1 and scale == pytest.approx(2.0, rel=0.1) and abs(loc - 0.3) < 0.15

    def test_constant_samples_give_nan_with_reason(self):
        fit = fit_stable(np.full(100, 0.25))
        assert isinstance(fit, StableFit) and np.isnan(fit.alpha) and "spread" in fit.reason


class TestBadInput:
    def test_nan(self):
        x = np.ones(100)
        x[5] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            fit_stable(x)

    def test_too_few(self):
        with pytest.raises(ValueError, match="fewer than 10"):
            fit_stable(np.arange(5.0))

    def test_alpha_out_of_range(self):
        with pytest.raises(ValueError, match="alpha"):
            stable_logpdf(np.zeros(3), 2.5)
