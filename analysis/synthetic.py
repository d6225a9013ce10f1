"""Seeded synthetic trajectories with known answers, and experiment folders written from the shard
contract alone (as other software would write them): the ground truth of the tests and benchmarks.

fBm with Hurst H has MSD exponent 2H; Brownian motion has MSD = 2 D k lag; the gradient samples are
symmetric alpha-stable with a chosen alpha.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def fractional_gaussian_noise(n: int, k: int, hurst: float, rng: np.random.Generator) -> np.ndarray:
    """Exact fGn with unit variance, shape (n, k), by Davies-Harte circulant embedding.

    Autocovariance gamma(j) = (|j+1|^2H - 2|j|^2H + |j-1|^2H) / 2; the circulant of size 2n has
    non-negative eigenvalues for every H in (0, 1), so the sample is exact.
    """
    j = np.arange(n + 1, dtype=np.float64)
    two_h = 2.0 * hurst
    gamma = 0.5 * (np.abs(j + 1) ** two_h - 2 * j**two_h + np.abs(j - 1) ** two_h)
    row = np.concatenate([gamma, gamma[-2:0:-1]])  # length 2n
    eig = np.fft.fft(row).real
    if eig.min() < -1e-9 * eig.max():
        raise AssertionError("circulant embedding is not positive semi-definite")
    eig = np.clip(eig, 0.0, None)
    m = row.size
    z = rng.standard_normal((m, k)) + 1j * rng.standard_normal((m, k))
    out = np.fft.fft(np.sqrt(eig / m)[:, None] * z, axis=0)
    return out.real[:n]


def fbm(n_steps: int, k: int, hurst: float, rng: np.random.Generator) -> np.ndarray:
    """fBm positions, shape (n_steps, k), x[0] = 0, E||x[t+lag] - x[t]||^2 = k lag^(2H)."""
    incr = fractional_gaussian_noise(n_steps - 1, k, hurst, rng)
    return np.vstack([np.zeros((1, k)), np.cumsum(incr, axis=0)])


def brownian(n_steps: int, k: int, rng: np.random.Generator, *, diffusion: float = 0.5) -> np.ndarray:
    """Brownian positions, shape (n_steps, k), per-coordinate steps N(0, 2D): MSD = 2 D k lag."""
    steps = rng.normal(scale=np.sqrt(2 * diffusion), size=(n_steps - 1, k))
    return np.vstack([np.zeros((1, k)), np.cumsum(steps, axis=0)])


def write_contract_trial(folder: Path, hursts, stable_alpha: float, *, window: int, dim: int = 48,
                         grad_sample: int = 24, shard_steps: int = 128, seed: int = 0) -> None:
    """Write trials/<id>/trajectory shards with plain pyarrow: one fBm window of `window` steps per
    Hurst parameter in `hursts` (sketch_kind "exact", `dim` coordinates), stable gradient samples.

    No config.json or status.json: only DESIGN.md's shard contract. Shape of the trajectory:
    (len(hursts) * window, dim); shards of `shard_steps` rows.
    """
    from scipy.stats import levy_stable

    rng = np.random.default_rng(seed)
    pos, end = [], np.zeros(dim)
    for h in hursts:
        pos.append(end + fbm(window, dim, h, rng))
        end = pos[-1][-1]
    sketch = np.vstack(pos)
    n = len(sketch)
    step_norm = np.r_[0.0, np.linalg.norm(np.diff(sketch, axis=0), axis=1)]
    grads = levy_stable.rvs(stable_alpha, 0.0, scale=1e-3, size=(n, grad_sample), random_state=seed)
    loss = 2.0 / (1 + np.arange(n) / 50) + 0.01 * rng.random(n)
    folder = Path(folder)
    folder.mkdir(parents=True)
    meta = {"schema_version": "1", "trial_id": folder.parent.name, "num_params": str(dim), "sketch_kind": "exact",
            "sketch_dim": str(dim), "sketch_seed": "0", "grad_sample_seed": "0"}
    for first in range(0, n, shard_steps):
        rows = slice(first, min(n, first + shard_steps))
        m = rows.stop - rows.start
        table = pa.table({
            "step": pa.array(np.arange(n)[rows], pa.int64()), "epoch": pa.array(np.zeros(m, np.int32)),
            "loss": loss[rows], "accuracy": pa.array(np.ones(m, np.float32)), "lr": np.full(m, 0.1),
            "grad_norm": np.ones(m), "step_norm": step_norm[rows],
            "sketch": _fixed_list(sketch[rows]), "grad_sample": _fixed_list(grads[rows])})
        pq.write_table(table.replace_schema_metadata(meta), folder / f"part-{first:09d}.parquet")


def _fixed_list(a: np.ndarray) -> pa.FixedSizeListArray:
    return pa.FixedSizeListArray.from_arrays(pa.array(a.astype(np.float32).ravel()), a.shape[1])


def shard_columns(first: int, n: int, k: int = 4, m: int = 3) -> dict[str, np.ndarray]:
    """Random but well-typed columns of one shard (`workers.shards.write_shard`'s input): steps
    first..first+n-1, sketch (n, k), grad_sample (n, m); seeded by `first`."""
    rng = np.random.default_rng(first)
    return {"step": np.arange(first, first + n), "epoch": np.zeros(n, np.int32), "loss": rng.random(n),
            "accuracy": rng.random(n).astype(np.float32), "lr": np.full(n, 0.1), "grad_norm": rng.random(n),
            "step_norm": rng.random(n), "sketch": rng.random((n, k), dtype=np.float32),
            "grad_sample": rng.random((n, m), dtype=np.float32)}
