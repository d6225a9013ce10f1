"""Orchestration overhead: N short trials through Ray Tune (2 at a time) vs sequentially in one process.

    .venv/bin/python benchmarks/sweep_overhead.py --trials 8 --steps 20

Reports the wall time of both, the parallel speed-up, the overhead per trial, defined as the extra
worker-seconds per trial, (slots x T_tune - T_sequential) / N, and the driver's resident memory.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from orchestrator.launch import init_ray, run_trials
from workers.config import TrialConfig


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def trials(n: int, steps: int) -> list[TrialConfig]:
    return [TrialConfig(dataset="digits", loss="kl", batch_size=64, lr=0.1, seed=s, steps=steps, shard_steps=steps,
                        sketch_dim=256, grad_sample=64, eval_every=0, device="cpu") for s in range(n)]


def sequential(cfgs: list[TrialConfig], folder: Path) -> float:
    import torch

    from workers.train import run_trial

    torch.set_num_threads(1)  # like a 1-CPU Tune trial
    t0 = time.perf_counter()
    for cfg in cfgs:
        run_trial(cfg, folder / cfg.trial_id)
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--slots", type=int, default=2, help="concurrent Tune trials (1 CPU each)")
    a = p.parse_args()
    cfgs = trials(a.trials, a.steps)
    with tempfile.TemporaryDirectory() as tmp:
        init_ray(None, num_cpus=a.slots)
        t0 = time.perf_counter()
        run_trials(cfgs, str(Path(tmp) / "tune"), cpus_per_trial=1, gpus_per_trial=0, max_concurrent=a.slots,
                   max_failures=0)
        t_tune = time.perf_counter() - t0
        driver_rss = rss_mib()  # the driver never imports torch: measured before the sequential part does
        t_seq = sequential(cfgs, Path(tmp) / "seq")
    print(f"{a.trials} trials of {a.steps} steps (ResNet-14, digits), {os.cpu_count()} cores:")
    print(f"  sequential, one process: {t_seq:6.1f} s ({t_seq / a.trials:.2f} s per trial)")
    print(f"  Ray Tune, {a.slots} at a time:  {t_tune:6.1f} s")
    print(f"  parallel speed-up {t_seq / t_tune:.2f}x; overhead per trial "
          f"{(a.slots * t_tune - t_seq) / a.trials:.2f} worker-s; driver RSS {driver_rss:.0f} MiB")


if __name__ == "__main__":
    main()
