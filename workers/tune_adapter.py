"""The one place where a trial meets Ray Tune: a function trainable around workers.train.run_trial.

Tune passes {"trial": TrialConfig fields, "experiment_dir": path or URI}. The trial writes into
<experiment_dir>/trials/<trial_id>/ (for a URI: into a local staging folder, uploading each file to the
URI as it is written) and reports a Tune checkpoint at every shard boundary; a trial that
Tune retries resumes from its own checkpoint, or from Tune's copy when its folder lost it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def train_trial(config: dict) -> None:
    import ray
    from ray import tune  # imported here: the driver never unpickles torch through this module

    if not ray.get_gpu_ids():  # Ray leaves CUDA_VISIBLE_DEVICES alone for 0-GPU trials: hide the GPUs
        os.environ["CUDA_VISIBLE_DEVICES"] = ""

    from workers.config import TrialConfig
    from workers.train import run_trial

    from workers.storage import Folder, is_uri

    cfg = TrialConfig.from_dict(config["trial"])
    experiment, mirror = config["experiment_dir"], None
    if is_uri(experiment):  # write locally, upload each file as it is written
        mirror = Folder(experiment) / f"trials/{cfg.trial_id}"
        key = hashlib.sha1(experiment.encode()).hexdigest()[:12]
        trial_dir = Path(tempfile.gettempdir()) / "sgd-diffusion-stage" / key / cfg.trial_id
    else:
        trial_dir = Path(experiment) / "trials" / cfg.trial_id
    restore_checkpoint(tune.get_checkpoint(), trial_dir)

    def on_checkpoint(step: int, ckpt_dir: Path, metrics: dict) -> None:
        tune.report({**metrics, "step": step, "state": "running"},
                    checkpoint=tune.Checkpoint.from_directory(str(ckpt_dir)))

    placement = {"ray_node_id": ray.get_runtime_context().get_node_id()}
    status = run_trial(cfg, trial_dir, on_checkpoint=on_checkpoint, provenance_extra=placement, mirror=mirror)
    if mirror is not None and status["state"] in ("completed", "diverged"):
        shutil.rmtree(trial_dir, ignore_errors=True)  # everything is in the remote copy
    tune.report({**{k: v for k, v in status.items() if k != "updated"}, "step": status["steps"]})


def restore_checkpoint(checkpoint, trial_dir: Path) -> None:
    """Copy Tune's checkpoint into the trial folder when the folder has none (a lost node's disk)."""
    if checkpoint is None or (trial_dir / "checkpoint" / "state.pt").exists():
        return
    with checkpoint.as_directory() as src:
        if (Path(src) / "state.pt").exists():
            (trial_dir / "checkpoint").mkdir(parents=True, exist_ok=True)
            shutil.copy2(Path(src) / "state.pt", trial_dir / "checkpoint" / "state.pt")
