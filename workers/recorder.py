"""The trajectory recorder: one shard row per SGD step, buffered on the device, flushed per shard.

Row t holds w(t) (as the sketch of w(t) - w(0)), the minibatch loss and accuracy at w(t), the learning
rate and gradient g_t of the update w(t) -> w(t + 1), and the exact step length ||w(t) - w(t - 1)||.
Memory is one shard of rows, whatever the number of steps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from workers.shards import write_shard

DEVICE_COLUMNS = {"loss": torch.float64, "accuracy": torch.float32, "grad_norm": torch.float64,
                  "step_norm": torch.float64}


class TrajectoryRecorder:
    def __init__(self, folder: Path, *, sketch, grad_idx: torch.Tensor, shard_steps: int, metadata: dict,
                 device):
        self.folder, self.sketch, self.shard_steps, self.metadata = Path(folder), sketch, shard_steps, metadata
        self.grad_idx = grad_idx.to(device)
        self.dev = {n: torch.zeros(shard_steps, dtype=t, device=device) for n, t in DEVICE_COLUMNS.items()}
        self.dev["sketch"] = torch.zeros(shard_steps, sketch.dim, device=device)
        self.dev["grad_sample"] = torch.zeros(shard_steps, len(grad_idx), device=device)
        self.host = {"step": np.zeros(shard_steps, np.int64), "epoch": np.zeros(shard_steps, np.int32),
                     "lr": np.zeros(shard_steps, np.float64)}
        self.rows = 0
        self.w0 = self.prev = None

    def add(self, step: int, epoch: int, lr: float, loss: torch.Tensor, accuracy: torch.Tensor,
            w: torch.Tensor, g: torch.Tensor) -> None:
        """Record row `step`: w = flat w(step), g = flat gradient of the minibatch loss at w(step)."""
        if self.w0 is None:
            self.w0, self.prev = w.clone(), w.clone()
        i = self.rows
        self.host["step"][i], self.host["epoch"][i], self.host["lr"][i] = step, epoch, lr
        d = self.dev
        d["loss"][i] = loss.detach()
        d["accuracy"][i] = accuracy.detach()
        d["grad_norm"][i] = torch.linalg.vector_norm(g, dtype=torch.float64)
        d["step_norm"][i] = torch.linalg.vector_norm(w - self.prev, dtype=torch.float64)
        d["sketch"][i] = self.sketch(w - self.w0)
        d["grad_sample"][i] = g[self.grad_idx]
        self.prev.copy_(w)
        self.rows += 1

    @property
    def full(self) -> bool:
        return self.rows == self.shard_steps

    def first_nonfinite(self) -> int | None:
        """Index among the buffered rows of the first non-finite loss, or None."""
        bad = ~torch.isfinite(self.dev["loss"][: self.rows])
        return int(bad.nonzero()[0, 0]) if bool(bad.any()) else None

    def flush(self, rows: int | None = None) -> Path | None:
        """Write the first `rows` buffered rows (default all) as one shard and empty the buffer."""
        n = self.rows if rows is None else rows
        self.rows = 0
        if n == 0:
            return None
        columns = {k: v[:n].copy() for k, v in self.host.items()}
        columns.update({k: v[:n].cpu().numpy() for k, v in self.dev.items()})
        return write_shard(self.folder, columns, self.metadata)

    def state_dict(self) -> dict:
        if self.rows:
            raise RuntimeError("recorder state is saved at shard boundaries only; flush first")
        return {"w0": self.w0, "prev": self.prev}

    def load_state_dict(self, state: dict) -> None:
        self.w0, self.prev, self.rows = state["w0"], state["prev"], 0
