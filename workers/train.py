"""One trial: vanilla SGD on a ResNet with the trajectory recorder, checkpoint/resume, no Ray.

    python -m workers.train --out runs/smoke --dataset digits --steps 200   # a training smoke run

Writes into <trial_dir>: config.json, status.json, trajectory/part-*.parquet, epochs.parquet,
checkpoint/state.pt (DESIGN.md, experiment-folder contract v1).
"""
from __future__ import annotations

import argparse
import dataclasses
import io
import json
import platform
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from workers.config import TrialConfig
from workers.data import EpochPlan, augment, load_dataset
from workers.datafiles import steps_per_epoch
from workers.losses import make_loss
from workers.hessian import hessian_eigenvalues, probe_rows
from workers.models import build_model, num_params
from workers.provenance import machine
from workers.recorder import TrajectoryRecorder
from workers.shards import SCHEMA_VERSION, SHARD_RE, atomic_write, list_shards, write_json
from workers.storage import Folder
from workers.sketch import make_sketch, sample_coordinates

CHECK_EVERY = 50  # steps between divergence checks (each check synchronises an accelerator)
MIRRORED = ("config.json", "status.json", "epochs.parquet", "hessian.parquet", "checkpoint/state.pt")  # fetched on a new node
PLACEMENT_FIELDS = ("data_root", "download", "device")  # where a trial runs, not what it computes
DEFAULTS = TrialConfig().to_dict()  # a field missing from an older config.json had its default


def flat_params(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params])


def flat_grads(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([p.grad.reshape(-1) for p in params])


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {name!r} but no CUDA device is visible; use device=cpu or auto")
    return torch.device(name)


def provenance(device: torch.device) -> dict:
    import pyarrow, scipy  # noqa: E401  (versions only)

    return {**machine(), "torch": torch.__version__, "numpy": np.__version__, "pyarrow": pyarrow.__version__,
            "scipy": scipy.__version__, "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor(),
            "torch_threads": torch.get_num_threads()}


class Trial:
    """State of one running trial; `run()` trains from step 0 or from the last checkpoint."""

    def __init__(self, cfg: TrialConfig, trial_dir: Path, *, on_checkpoint: Callable | None = None,
                 provenance_extra: dict | None = None, mirror: Folder | None = None):
        self.cfg, self.dir, self.on_checkpoint, self.mirror = cfg, Path(trial_dir), on_checkpoint, mirror
        self.provenance_extra = provenance_extra or {}
        self.device = resolve_device(cfg.device)
        self.data = load_dataset(cfg.dataset, root=cfg.data_root, device=self.device, download=cfg.download)
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg.arch, in_channels=self.data.in_channels, num_classes=self.data.num_classes,
                                 init=cfg.init).to(self.device)
        self.params = list(self.model.parameters())
        self.num_params = num_params(self.model)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay)
        self.loss_fn = make_loss(cfg.loss, smoothing=cfg.label_smoothing)
        self.spe = steps_per_epoch(len(self.data.train), cfg.batch_size, cfg.drop_last)
        if self.spe == 0:
            raise ValueError(f"batch_size: {cfg.batch_size} exceeds the {len(self.data.train)} training "
                             f"examples with drop_last=true; use a smaller batch or drop_last=false")
        self.total = cfg.steps or cfg.epochs * self.spe
        self.step, self.epoch_rows, self.hessian_rows = 0, [], []
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=self.device)  # any non-finite loss yet
        self.recorder = self._make_recorder() if cfg.record else None

    def _make_recorder(self) -> TrajectoryRecorder:
        cfg = self.cfg
        sketch = make_sketch(cfg.sketch_kind, self.num_params, cfg.sketch_dim, seed=cfg.sketch_seed,
                             device=self.device)
        idx = sample_coordinates(self.num_params, cfg.grad_sample, seed=cfg.grad_sample_seed)
        meta = {"schema_version": SCHEMA_VERSION, "trial_id": cfg.trial_id, "num_params": self.num_params,
                "sketch_kind": sketch.kind, "sketch_dim": sketch.dim, "sketch_seed": cfg.sketch_seed,
                "grad_sample_seed": cfg.grad_sample_seed}
        (self.dir / "trajectory").mkdir(parents=True, exist_ok=True)
        return TrajectoryRecorder(self.dir / "trajectory", sketch=sketch, grad_idx=idx,
                                  shard_steps=cfg.shard_steps, metadata=meta, device=self.device)

    # ---- folder state -------------------------------------------------------------------------------

    def _sync(self, *rels: str) -> None:
        """Upload files just written to the remote copy of the trial folder, in order."""
        for rel in rels if self.mirror else ():
            self.mirror.put(self.dir / rel, rel)

    def prepare(self) -> dict | None:
        """Claim the trial folder; return the final status if the trial already finished."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for rel in MIRRORED if self.mirror and not (self.dir / "config.json").exists() else ():
            self.mirror.get(rel, self.dir / rel)  # a new node continues where the remote copy stands
        cfg_path, status_path = self.dir / "config.json", self.dir / "status.json"
        if cfg_path.exists():
            try:
                old, new = json.loads(cfg_path.read_text())["config"], self.cfg.to_dict()
                old.keys()
            except (ValueError, KeyError, TypeError, AttributeError):
                raise ValueError(f"{cfg_path}: unreadable (not the JSON this package writes); restore it, or "
                                 f"remove the trial folder to start the trial afresh") from None
            diff = sorted(k for k in old.keys() | new.keys()
                          if old.get(k, DEFAULTS.get(k)) != new.get(k) and k not in PLACEMENT_FIELDS)
            if diff:
                raise ValueError(f"{self.dir}: holds a trial with a different config (fields {diff}); "
                                 f"use another folder or remove this one")
            status = json.loads(status_path.read_text()) if status_path.exists() else {}
            if status.get("state") in ("completed", "diverged"):
                return status
        write_json(cfg_path, {"trial_id": self.cfg.trial_id, "config": self.cfg.to_dict(),
                              "num_params": self.num_params, "steps_per_epoch": self.spe,
                              "total_steps": self.total, "data": self.data.source,
                              "provenance": {**provenance(self.device), **self.provenance_extra}})
        self._sync("config.json")
        self._resume()
        return None

    def _resume(self) -> None:
        ckpt = self.dir / "checkpoint" / "state.pt"
        if ckpt.exists():
            state = torch.load(ckpt, map_location=self.device, weights_only=True)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["torch_rng"].cpu())
            self.step, self.epoch_rows = state["step"], state["epochs"]
            self.hessian_rows = state.get("hessian", [])
            if self.recorder:
                self.recorder.load_state_dict(state["recorder"])
        for first, path in list_shards(self.dir / "trajectory"):  # rows after the checkpoint are redone
            if first >= self.step:
                path.unlink()
        for tmp in (self.dir / "trajectory").glob(".part-*.tmp-*"):
            tmp.unlink()
        for name in self.mirror.listdir("trajectory") if self.mirror else ():
            m = SHARD_RE.match(name)
            if m and int(m.group(1)) >= self.step:
                self.mirror.delete(f"trajectory/{name}")

    def _checkpoint(self) -> None:
        state = {"step": self.step, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
                 "torch_rng": torch.get_rng_state(), "epochs": self.epoch_rows, "hessian": self.hessian_rows,
                 "recorder": self.recorder.state_dict() if self.recorder else {}}
        (self.dir / "checkpoint").mkdir(exist_ok=True)
        buf = io.BytesIO()
        torch.save(state, buf)
        atomic_write(self.dir / "checkpoint" / "state.pt", lambda f: f.write(buf.getvalue()))
        self._sync("checkpoint/state.pt")
        self._status("running")
        if self.on_checkpoint:
            self.on_checkpoint(self.step, self.dir / "checkpoint", self._metrics())

    def _status(self, state: str, message: str = "") -> dict:
        status = {"state": state, "steps": self.step, "total_steps": self.total,
                  "epochs": self.step / self.spe, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "message": message, **self._metrics()}
        write_json(self.dir / "status.json", status)
        self._sync("status.json")
        return status

    def _metrics(self) -> dict:
        """The latest evaluation: train/test loss and accuracy (and the epoch it ended)."""
        last = self.epoch_rows[-1] if self.epoch_rows else {}
        return {("eval_epoch" if k == "epoch" else k): v for k, v in last.items() if k != "step"}

    # ---- training -----------------------------------------------------------------------------------

    def run(self) -> dict:
        done = self.prepare()
        if done is not None:
            return done
        self._status("running")
        try:
            return self._train()
        except Exception as e:
            try:
                self._status("failed", f"{type(e).__name__}: {e}")
            except OSError:  # the storage itself may be what failed
                pass
            raise

    def _train(self) -> dict:
        self.model.train()
        if self.step == 0 and self.cfg.hessian_every:
            self._hessian_probe()
        while self.step < self.total:
            epoch, i = divmod(self.step, self.spe)
            plan = EpochPlan.make(len(self.data.train), seed=self.cfg.seed, epoch=epoch, pad=self.cfg.crop_pad)
            for i in range(i, self.spe):
                if not self._sgd_step(plan, epoch, i):
                    return self._diverge()
                if self.step == self.total or i == self.spe - 1:
                    self._end_of_epoch(epoch)
                if self.step % self.cfg.shard_steps == 0 or self.step == self.total:
                    if self._diverged_in_buffer():
                        return self._diverge()
                    self._flush_and_checkpoint()
                if self.step == self.total:
                    break
        return self._status("completed")

    def _sgd_step(self, plan: EpochPlan, epoch: int, i: int) -> bool:
        """One update w(t) -> w(t + 1); records row t; False when divergence is detected."""
        cfg, train = self.cfg, self.data.train
        sl = plan.batch(i, cfg.batch_size)
        idx = plan.perm[sl].to(self.device)
        x, y = train.x[idx], train.y[idx]
        if cfg.augment:
            x = augment(x, plan.shift[sl], plan.flip[sl] if cfg.hflip else None, pad=cfg.crop_pad,
                        pad_value=self.data.pad_value)
        logits = self.model(x)
        loss = self.loss_fn(logits, y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.recorder:
            acc = (logits.detach().argmax(1) == y).float().mean()
            self.recorder.add(self.step, epoch, cfg.lr, loss, acc, flat_params(self.params), flat_grads(self.params))
        if self.device.type == "cpu":
            if not torch.isfinite(loss):
                return False
        else:  # no per-step synchronisation on an accelerator: a flag, read every CHECK_EVERY steps
            self.nonfinite |= ~torch.isfinite(loss.detach())
            if (self.step + 1) % CHECK_EVERY == 0 and bool(self.nonfinite):
                return False
        self.opt.step()
        self.step += 1
        return True

    def _diverged_in_buffer(self) -> bool:
        if self.recorder is not None:
            return self.recorder.first_nonfinite() is not None
        return bool(self.nonfinite)

    def _flush_and_checkpoint(self) -> None:
        if self.recorder:
            self._sync_shard(self.recorder.flush())
        self._checkpoint()

    def _sync_shard(self, path: Path | None) -> None:
        if path is not None:
            self._sync(f"trajectory/{path.name}")

    def _diverge(self) -> dict:
        """Keep every row up to and including the first non-finite loss; no checkpoint of NaN weights."""
        bad_step = self.step
        if self.recorder:
            bad = self.recorder.first_nonfinite()
            keep = self.recorder.rows if bad is None else bad + 1
            bad_step = int(self.recorder.host["step"][keep - 1])
            self._sync_shard(self.recorder.flush(keep))
            self.step = bad_step + 1  # rows recorded, the last with the non-finite loss
        return self._status("diverged", f"non-finite training loss at step {bad_step}")

    def _end_of_epoch(self, epoch: int) -> None:
        every = self.cfg.eval_every
        if every and ((epoch + 1) % every == 0 or self.step == self.total):
            row = {"epoch": epoch, "step": self.step}
            for split in ("train", "test"):
                row[f"{split}_loss"], row[f"{split}_accuracy"] = self.evaluate(split)
            self.epoch_rows.append(row)
            table = pa.Table.from_pylist(self.epoch_rows)
            atomic_write(self.dir / "epochs.parquet", lambda f: pq.write_table(table, f, compression="zstd"))
            self._sync("epochs.parquet")
        every = self.cfg.hessian_every
        if every and ((epoch + 1) % every == 0 or self.step == self.total):
            self._hessian_probe()

    def _hessian_probe(self) -> None:
        """Top-k eigenvalues of the training-loss Hessian at w(step) on the fixed probe batch."""
        cfg, train = self.cfg, self.data.train
        g = torch.Generator().manual_seed(cfg.seed)
        idx = torch.randperm(len(train), generator=g)[:cfg.hessian_batch].to(self.device)
        eig = hessian_eigenvalues(self.model, self.loss_fn, train.x[idx], train.y[idx], k=cfg.hessian_k,
                                  smallest=cfg.hessian_smallest, seed=cfg.seed)
        self.hessian_rows += probe_rows(self.step, eig)
        table = pa.Table.from_pylist(self.hessian_rows)
        atomic_write(self.dir / "hessian.parquet", lambda f: pq.write_table(table, f, compression="zstd"))
        self._sync("hessian.parquet")

    @torch.no_grad()
    def evaluate(self, split: str, chunk: int = 1024) -> tuple[float, float]:
        data = getattr(self.data, split)
        n = min(len(data), self.cfg.eval_samples or len(data))
        self.model.eval()
        loss_sum = correct = 0.0
        for s in range(0, n, chunk):
            x, y = data.x[s:min(s + chunk, n)], data.y[s:min(s + chunk, n)]
            logits = self.model(x)
            loss_sum += float(self.loss_fn(logits, y)) * len(y)
            correct += float((logits.argmax(1) == y).sum())
        self.model.train()
        return loss_sum / n, correct / n


def run_trial(cfg: TrialConfig, trial_dir: Path, *, on_checkpoint: Callable | None = None,
              provenance_extra: dict | None = None, mirror: Folder | None = None) -> dict:
    """Train one trial into `trial_dir` (resuming from its checkpoint if present); returns status.json.

    With `mirror`, every file is also uploaded there as soon as it is written, and a `trial_dir` that
    lacks the trial's state first fetches it from the mirror."""
    return Trial(cfg, trial_dir, on_checkpoint=on_checkpoint, provenance_extra=provenance_extra,
                 mirror=mirror).run()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m workers.train", description=__doc__.split("\n")[0])
    p.add_argument("--out", default="runs/smoke", help="experiment folder; the trial goes to OUT/trials/<id>")
    for f in dataclasses.fields(TrialConfig):
        kind = type(f.default)
        conv = (lambda s: s.lower() in ("1", "true", "yes")) if kind is bool else kind
        p.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=conv, default=f.default)
    return p


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    out = Path(args.pop("out"))
    try:
        cfg = TrialConfig(**args)
        trial_dir = out / "trials" / cfg.trial_id
        t0 = time.perf_counter()
        status = run_trial(cfg, trial_dir)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{cfg.trial_id}: {status['state']} after {status['steps']} steps in "
          f"{time.perf_counter() - t0:.1f} s -> {trial_dir}")
    for key in ("train_loss", "train_accuracy", "test_loss", "test_accuracy"):
        if key in status:
            print(f"  {key:15s} {status[key]:.4f}")
    return 0 if status["state"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
