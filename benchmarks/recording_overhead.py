"""Cost of recording the trajectory: SGD steps/s with and without the recorder, and memory over steps.

    .venv/bin/python benchmarks/recording_overhead.py --data-root ../shared/data

(1) ResNet-14 on MNIST (batch 128, CPU): blocks of steps with the recorder on and off, alternated in
one process and one trial (so both see the same machine load); the cost of writing a full shard is
measured separately and spread over its rows. (2) Resident memory at every checkpoint of a longer
recorded run on digits: flat, because rows are flushed per shard.
"""
from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from workers.config import TrialConfig
from workers.data import EpochPlan
from workers.shards import write_shard
from workers.train import Trial, run_trial


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def shard_write_cost(recorder, rows: int) -> float:
    """Seconds per row to write a full shard of the rows just recorded (tiled), after one warm-up write."""
    n = recorder.rows
    cols = {k: v[:n] for k, v in recorder.host.items()} | {k: v[:n].cpu().numpy() for k, v in recorder.dev.items()}
    reps = -(-rows // n)
    full = {k: np.concatenate([v] * reps)[:rows] for k, v in cols.items()}
    full["step"] = np.arange(rows)
    with tempfile.TemporaryDirectory() as tmp:
        write_shard(Path(tmp), full, recorder.metadata)
        t0 = time.perf_counter()
        write_shard(Path(tmp), full, recorder.metadata)
        return (time.perf_counter() - t0) / rows


def overhead(data_root: str, *, blocks: int, steps: int, batch_size: int, device: str) -> None:
    cfg = TrialConfig(dataset="mnist", data_root=data_root, batch_size=batch_size, lr=0.1, epochs=1,
                      eval_every=0, device=device, shard_steps=1000)
    with tempfile.TemporaryDirectory() as tmp:
        trial = Trial(cfg, Path(tmp))
        trial.prepare()
        recorder, plan = trial.recorder, EpochPlan.make(len(trial.data.train), seed=0, epoch=0)
        per_step = {True: [], False: []}
        for b in range(blocks + 1):  # block 0 warms up
            for record in ((True, False) if b % 2 else (False, True)):
                trial.recorder = recorder if record else None
                t0 = time.perf_counter()
                for _ in range(steps):
                    trial._sgd_step(plan, 0, trial.step % trial.spe)
                if b:
                    per_step[record].append((time.perf_counter() - t0) / steps)
        flush = shard_write_cost(recorder, cfg.shard_steps)
    on, off = statistics.median(per_step[True]), statistics.median(per_step[False])
    cost = on + flush - off
    print(f"ResNet-14 / MNIST / batch {batch_size} / {device}: {blocks} alternated blocks of {steps} steps")
    print(f"  without recording {1 / off:6.2f} steps/s ({off * 1e3:.1f} ms/step)")
    print(f"  with recording    {1 / on:6.2f} steps/s ({on * 1e3:.1f} ms/step)")
    print(f"  shard write       {flush * 1e3:.2f} ms/step (Parquet + zstd + fsync of {cfg.shard_steps} rows, spread)")
    print(f"  recording cost    {cost * 1e3:.2f} ms/step = {cost / off:.1%} of step time")


def memory(*, steps: int, shard_steps: int) -> None:
    cfg = TrialConfig(dataset="digits", batch_size=32, steps=steps, shard_steps=shard_steps, eval_every=0,
                      device="cpu")
    samples = []
    with tempfile.TemporaryDirectory() as tmp:
        run_trial(cfg, Path(tmp), on_checkpoint=lambda step, ckpt, metrics: samples.append((step, rss_mib())))
    print(f"resident memory of a recorded run (digits, k = {cfg.sketch_dim}, {shard_steps} rows per shard):")
    print("  " + "  ".join(f"step {s}: {m:.0f} MiB" for s, m in samples))
    print(f"  growth from the first to the last shard: {samples[-1][1] - samples[0][1]:+.1f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-root", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    p.add_argument("--blocks", type=int, default=6)
    p.add_argument("--steps", type=int, default=15, help="SGD steps per block")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--device", default="cpu")
    p.add_argument("--memory-steps", type=int, default=2000)
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check that the script runs")
    a = p.parse_args()
    if a.quick:
        a.blocks, a.steps, a.memory_steps = 2, 2, 40
    overhead(a.data_root, blocks=a.blocks, steps=a.steps, batch_size=a.batch_size, device=a.device)
    memory(steps=a.memory_steps, shard_steps=max(10, a.memory_steps // 8))


if __name__ == "__main__":
    main()
