"""Speed of the analysis core, as ratios measured in one run (issue 3, parts a-c).

(a) FFT time-averaged MSD against the O(k T^2) definition, T = 2000, k = 4096.
(b) The whole per-trial analysis of a synthetic 24,000-step trial: 24 windows of T = 1000 with a
    k = 4096 sketch and m = 1024 gradient coordinates; per window MSD, exponents, Levy fit (5000
    pooled gradient entries), one Gram matrix shared by contour scaling and MSL; loss fluctuations
    over the whole trial. Target: <= 60 s on a 2-core machine.
(c) ``fit_stable`` against ``scipy.stats.levy_stable.fit`` (beta fixed at 0) on one n = 1000 sample,
    and ``fit_stable`` at n = 5000. scipy's fit takes minutes: ``--skip-scipy`` leaves it out.

    python benchmarks/analysis_speed.py            # everything (scipy's fit: several minutes)
    python benchmarks/analysis_speed.py --quick    # smaller (a), 4 windows in (b), no scipy fit
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass

import numpy as np
import scipy
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from analysis.exponents import fit_exponents  # noqa: E402
from analysis.fluctuations import loss_fluctuations  # noqa: E402
from analysis.fractal import (  # noqa: E402
    contour_scaling,
    mean_squared_loss,
    pairwise_sq_distances,
    transverse_distance,
)
from analysis.levy import fit_stable  # noqa: E402
from analysis.msd import direct_msd, time_averaged_msd  # noqa: E402


@dataclass(frozen=True)
class TrialShape:
    n_windows: int = 24
    window: int = 1000  # T, steps
    sketch_dim: int = 4096  # k
    grad_dim: int = 1024  # m
    levy_samples: int = 5000  # gradient entries drawn per window (as the authors did)


def bench_msd(n_steps: int, k: int, seed: int = 0) -> None:
    x = np.cumsum(np.random.default_rng(seed).standard_normal((n_steps, k), dtype=np.float32), axis=0)
    t0 = time.perf_counter()
    fast = time_averaged_msd(x)
    t_fft = time.perf_counter() - t0
    t0 = time.perf_counter()
    slow = direct_msd(x)
    t_direct = time.perf_counter() - t0
    err = np.max(np.abs(fast[1:] - slow[1:]) / slow[1:])
    print(f"(a) MSD T={n_steps} k={k}: FFT {t_fft:.3f} s, direct {t_direct:.1f} s, "
          f"speed-up {t_direct / t_fft:.0f}x, max relative difference {err:.1e}")


def synthetic_window(shape: TrialShape, w: int, start: np.ndarray, rng: np.random.Generator):
    """One window: sketch positions (T, k) float32, step norms, loss (T,), gradient samples (T, m)."""
    t_w = w * shape.window
    drift = rng.standard_normal(shape.sketch_dim) * 0.05 / (1 + w)
    steps = rng.standard_normal((shape.window, shape.sketch_dim)) * 0.01 + drift * 0.01
    x = (start + np.cumsum(steps, axis=0)).astype(np.float32)
    step_norm = np.linalg.norm(steps, axis=1)
    t = t_w + np.arange(shape.window)
    loss = 2.3 * np.exp(-t / 8000) + 0.05 * rng.standard_normal(shape.window) / (1 + t / 5000)
    alpha = 1.3 + 0.6 * w / max(1, shape.n_windows - 1)
    size = (shape.window, shape.grad_dim)
    grads = stats.levy_stable.rvs(alpha, 0.0, scale=1e-3, size=size, random_state=rng)
    return x, step_norm, loss, grads.astype(np.float32)


def analyse_window(x, step_norm, loss, grads, shape: TrialShape, rng, timings: dict) -> None:
    def timed(name, func, *args, **kw):
        t0 = time.perf_counter()
        out = func(*args, **kw)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        return out

    msd = timed("msd", time_averaged_msd, x)
    timed("exponents", fit_exponents, np.arange(msd.size), msd)
    pooled = grads.ravel()[rng.choice(grads.size, shape.levy_samples, replace=False)]
    timed("levy", fit_stable, pooled)
    dist = timed("gram", pairwise_sq_distances, x)
    timed("contour", contour_scaling, x, step_norm, sq_dist=dist)
    timed("msl", mean_squared_loss, x, loss, sq_dist=dist)
    timed("transverse (extra)", transverse_distance, x, sq_dist=dist)


def bench_trial(shape: TrialShape, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    timings: dict[str, float] = {}
    start = np.zeros(shape.sketch_dim)
    losses, t_gen = [], 0.0
    for w in range(shape.n_windows):
        t0 = time.perf_counter()
        x, step_norm, loss, grads = synthetic_window(shape, w, start, rng)
        t_gen += time.perf_counter() - t0
        start = x[-1].astype(np.float64)
        losses.append(loss)
        analyse_window(x, step_norm, loss, grads, shape, rng, timings)
    t0 = time.perf_counter()
    loss_fluctuations(np.concatenate(losses))
    timings["fluctuations"] = time.perf_counter() - t0
    core = sum(v for k, v in timings.items() if "extra" not in k)
    n_total = shape.n_windows * shape.window
    print(f"(b) per-trial analysis, {shape.n_windows} windows x T={shape.window} ({n_total} steps), "
          f"k={shape.sketch_dim}, m={shape.grad_dim}: {core:.1f} s (target <= 60 s; data generation "
          f"{t_gen:.1f} s not counted)")
    for name, secs in timings.items():
        print(f"      {name:<20s} {secs:7.2f} s")


def bench_levy(skip_scipy: bool, seed: int = 2) -> None:
    x1000 = stats.levy_stable.rvs(1.5, 0.0, scale=1.0, size=1000, random_state=seed)
    x5000 = stats.levy_stable.rvs(1.5, 0.0, scale=1.0, size=5000, random_state=seed + 1)
    fit_stable(x1000[:50])  # build the cached McCulloch tables once, outside the timings
    t0 = time.perf_counter()
    ours = fit_stable(x1000)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ours5000 = fit_stable(x5000)
    t_5000 = time.perf_counter() - t0
    print(f"(c) fit_stable n=1000: {t_ours:.3f} s, alpha {ours.alpha:.4f} "
          f"[{ours.alpha_lo:.3f}, {ours.alpha_hi:.3f}]; n=5000: {t_5000:.3f} s, alpha {ours5000.alpha:.4f}")
    if skip_scipy:
        print("    scipy.stats.levy_stable.fit skipped (--skip-scipy / --quick)")
        return
    t0 = time.perf_counter()
    a_sp, b_sp, loc_sp, scale_sp = stats.levy_stable.fit(x1000, f1=0.0)
    t_sp = time.perf_counter() - t0
    print(f"    scipy levy_stable.fit n=1000 (beta fixed 0): {t_sp:.1f} s, alpha {a_sp:.4f}, "
          f"scale {scale_sp:.4f}, loc {loc_sp:.4f}")
    print(f"    speed-up {t_sp / t_ours:.0f}x, |alpha - alpha_scipy| = {abs(ours.alpha - a_sp):.4f}; "
          f"ours scale {ours.scale:.4f}, loc {ours.loc:.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, no scipy fit (smoke mode)")
    parser.add_argument("--skip-scipy", action="store_true", help="leave out scipy's levy_stable.fit")
    args = parser.parse_args(argv)
    print(f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"{os.cpu_count()} CPUs, {platform.machine()}")
    if args.quick:
        bench_msd(2000, 256)
        bench_trial(TrialShape(n_windows=4))
    else:
        bench_msd(2000, 4096)
        bench_trial(TrialShape())
    bench_levy(skip_scipy=args.skip_scipy or args.quick)


if __name__ == "__main__":
    main()
