"""Run the trials of a grid as Ray Tune trials: resources, retries, checkpoints, progress."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from orchestrator.estimate import total_steps
from workers.config import TrialConfig

# Tune's automatic CSV/JSON/TensorBoard loggers cost seconds per trial and hundreds of MB in the driver.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


def init_ray(address: str | None, *, num_cpus: int | None = None):
    import ray

    if address:
        return ray.init(address=address, log_to_driver=False)
    return ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)


def run_trials(trials: list[TrialConfig], experiment_dir: str | Path, *, cpus_per_trial: float, gpus_per_trial: float,
               max_concurrent: int, max_failures: int) -> None:
    """Run every trial on the connected Ray instance; the trials write into experiment_dir/trials/.

    experiment_dir is an absolute local path or a URI; Tune keeps its own state in experiment_dir/_tune."""
    experiment_dir = str(experiment_dir).rstrip("/")
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from workers.tune_adapter import train_trial

    expected = {c.trial_id: total_steps(c) for c in trials}
    tuner = tune.Tuner(
        tune.with_resources(train_trial, {"cpu": cpus_per_trial, "gpu": gpus_per_trial}),
        param_space={"trial": tune.grid_search([c.to_dict() for c in trials]),
                     "experiment_dir": experiment_dir},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent or None, reuse_actors=True),
        run_config=tune.RunConfig(
            name=time.strftime("run-%Y%m%d-%H%M%S"), storage_path=f"{experiment_dir}/_tune",
            failure_config=tune.FailureConfig(max_failures=max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
            callbacks=[Progress(expected), JsonLoggerCallback()], verbose=0),
    )
    tuner.fit()


def _progress_base():
    from ray.tune import Callback

    return Callback


class Progress(_progress_base()):
    """Prints trials done/running/pending/failed, steps and an ETA, at most every `every` seconds."""

    def __init__(self, expected: dict[str, int], every: float = 10.0, stream=sys.stdout):
        self.expected, self.every, self.stream = expected, every, stream
        self.steps: dict[str, int] = {}
        self.completed, self.failed = set(), set()
        self.t0 = self.last = time.monotonic()

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.steps[self._id(trial)] = int(result.get("step", 0))

    @staticmethod
    def _id(trial) -> str:
        return TrialConfig.from_dict(trial.config["trial"]).trial_id

    def on_trial_complete(self, iteration, trials, trial, **info):
        self.completed.add(trial.trial_id)
        self._print(trials, force=True)

    def on_experiment_end(self, trials, **info):
        self._print(trials, force=True)

    def on_trial_error(self, iteration, trials, trial, **info):
        try:
            lines = Path(trial.error_file).read_text().strip().splitlines()
        except (OSError, TypeError):
            lines = []
        print(f"trial {self._id(trial)} failed: {lines[-1] if lines else 'see ' + str(trial.local_path)} "
              f"(full traceback: {trial.error_file})", file=self.stream, flush=True)
        self.failed.add(trial.trial_id)
        self._print(trials, force=True)

    def on_step_end(self, iteration, trials, **info):
        self._print(trials)

    def _print(self, trials, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < self.every:
            return
        self.last = now
        ended = self.completed | self.failed
        states = [t.status for t in trials if t.trial_id not in ended]
        done, total = sum(self.steps.values()), sum(self.expected.values())
        rate = done / max(now - self.t0, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("nan")
        print(f"[{time.strftime('%H:%M:%S')}] trials: {len(self.completed)} done, "
              f"{states.count('RUNNING')} running, {states.count('PENDING')} pending, "
              f"{len(self.failed)} failed | steps {done}/{total} | {rate:.1f} steps/s | "
              f"ETA {_duration(eta)}", file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "?"
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{s:02d}s"
