"""Analysis throughput: trials analysed per minute by `analysis.report` with Ray on all cores vs one
task at a time (a Ray instance with one CPU), on the same synthetic experiment in one run.

    .venv/bin/python benchmarks/analysis_throughput.py --trials 8 --windows 8 --window 1000

The experiment is written from the shard contract (analysis/synthetic.py: fBm windows, stable
gradients, `--dim` exact coordinates). Ray's start-up and the workers' first imports are
outside the timed part; the merge of the
parts into the tables is inside it. Reports trials/min for each and the speed-up.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import ray

from analysis.report import report
from analysis.synthetic import write_contract_trial


def _warm_up() -> None:
    import analysis.trial  # noqa: F401  (scipy, pyarrow: the import a fresh worker pays once)


def timed_report(experiment: Path, *, cpus: int, window: int) -> float:
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    try:
        ray.get([ray.remote(num_cpus=1)(_warm_up).remote() for _ in range(cpus)])  # workers up, modules imported
        t0 = time.perf_counter()
        result = report(str(experiment), window=window, force=True, dashboard=False)
        elapsed = time.perf_counter() - t0
    finally:
        ray.shutdown()
    assert result.ok == len(result.summary), [r["analysis_status"] for r in result.summary]
    return elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--windows", type=int, default=8, help="windows per trial")
    p.add_argument("--window", type=int, default=1000, help="steps per window")
    p.add_argument("--dim", type=int, default=256, help="trajectory coordinates (sketch_dim)")
    p.add_argument("--cpus", type=int, default=os.cpu_count())
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        exp = Path(tmp) / "exp"
        for i in range(a.trials):
            write_contract_trial(exp / "trials" / f"t{i}" / "trajectory", [0.7, 0.4] * (a.windows // 2) +
                                 [0.5] * (a.windows % 2), 1.6, window=a.window, dim=a.dim, grad_sample=64,
                                 shard_steps=500, seed=i)
        serial = timed_report(exp, cpus=1, window=a.window)
        parallel = timed_report(exp, cpus=a.cpus, window=a.window)
    per_min = lambda s: 60 * a.trials / s
    print(f"{a.trials} trials x {a.windows} windows x {a.window} steps, dim {a.dim}")
    print(f"  one task at a time: {serial:6.1f} s  {per_min(serial):6.1f} trials/min")
    print(f"  Ray, {a.cpus} CPUs:        {parallel:6.1f} s  {per_min(parallel):6.1f} trials/min")
    print(f"  speed-up: {serial / parallel:.2f}x (target >= 1.6x on 2 cores)")


if __name__ == "__main__":
    main()
