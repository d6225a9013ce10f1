"""The 2D loss landscape around a trial's weights (Fig. 1; Li et al. 2018), computed in resumable chunks.

Two random directions, filter-normalised: for every filter (row of the first axis) of every weight
tensor with 2 or more dimensions, a Gaussian direction is rescaled to the filter's norm; biases and
BatchNorm parameters get 0 (ignored). The loss (and accuracy) of w + x d1 + y d2 is evaluated on a
fixed subset of the training data, with the model in eval mode (BatchNorm running statistics), on an
n x n grid of (x, y) in [-span, span]^2. Points are numbered row-major; a chunk of points is one file
`trials/<id>/landscape/chunk-<first point, 6 digits>.parquet`, so an interrupted computation redoes
only missing chunks. `merge` writes `trials/<id>/landscape.parquet` (x, y, loss, accuracy) with the
directions' seed, the grid and the weights' step in its metadata. No Ray here (orchestrator/landscape.py).
"""
from __future__ import annotations

import io
import json
import re
from dataclasses import asdict

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from workers.config import LandscapeSpec, TrialConfig
from workers.data import load_dataset
from workers.losses import make_loss
from workers.models import build_model
from workers.storage import Folder
from workers.train import resolve_device

CHUNK_RE = re.compile(r"^chunk-(\d{6})\.parquet$")


def filter_normalised_direction(model: torch.nn.Module, generator: torch.Generator) -> list[torch.Tensor]:
    """One random direction per parameter tensor, each filter scaled to that filter's norm; 0 for 1-D tensors."""
    out = []
    for p in model.parameters():
        d = torch.randn(p.shape, generator=generator, dtype=torch.float32).to(p.device, p.dtype)
        if p.dim() <= 1:
            out.append(torch.zeros_like(p))
            continue
        w, d2 = p.detach().reshape(p.shape[0], -1), d.reshape(p.shape[0], -1)
        scale = w.norm(dim=1, keepdim=True) / d2.norm(dim=1, keepdim=True).clamp_min(1e-12)
        out.append((d2 * scale).reshape(p.shape))
    return out


class LandscapeProbe:
    """A trial's model at the chosen weights, its two directions and its fixed data subset."""

    def __init__(self, trial: Folder, spec: LandscapeSpec, *, data_root: str | None = None, device: str = "auto"):
        config = json.loads(trial.read_bytes("config.json") or b"{}").get("config")
        if config is None:
            raise ValueError(f"{trial.location}/config.json is missing; the landscape needs the trial's config")
        cfg = TrialConfig.from_dict({**config, **({"data_root": data_root} if data_root else {})})
        self.device = resolve_device(device)
        data = load_dataset(cfg.dataset, root=cfg.data_root, device=self.device, download=cfg.download)
        torch.manual_seed(cfg.seed)  # as in training: w(0) is a function of the seed
        self.model = build_model(cfg.arch, in_channels=data.in_channels, num_classes=data.num_classes,
                                 init=cfg.init).to(self.device)
        self.step = 0
        if spec.at == "final":
            self.step = self._load_checkpoint(trial)
        self.model.eval()
        g = torch.Generator().manual_seed(spec.seed)
        idx = torch.randperm(len(data.train), generator=g)[:spec.samples].to(self.device)
        self.x, self.y = data.train.x[idx], data.train.y[idx]
        self.d1 = filter_normalised_direction(self.model, g)
        self.d2 = filter_normalised_direction(self.model, g)
        self.w0 = [p.detach().clone() for p in self.model.parameters()]
        self.loss_fn = make_loss(cfg.loss, smoothing=cfg.label_smoothing)

    def _load_checkpoint(self, trial: Folder) -> int:
        data = trial.read_bytes("checkpoint/state.pt")
        if data is None:
            raise ValueError(f"{trial.location}/checkpoint/state.pt is missing; train the trial first or use at=init")
        state = torch.load(io.BytesIO(data), map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        return int(state["step"])

    @torch.no_grad()
    def evaluate(self, points: np.ndarray, batch: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Loss and accuracy at each (x, y) of points, shape (m, 2); the model is left at w0."""
        loss, acc = np.empty(len(points)), np.empty(len(points))
        for i, (a, b) in enumerate(points):
            for p, w, u, v in zip(self.model.parameters(), self.w0, self.d1, self.d2):
                p.copy_(w + float(a) * u + float(b) * v)
            total = correct = 0.0
            for s in range(0, len(self.y), batch):
                logits = self.model(self.x[s:s + batch])
                total += float(self.loss_fn(logits, self.y[s:s + batch])) * len(logits)
                correct += float((logits.argmax(1) == self.y[s:s + batch]).sum())
            loss[i], acc[i] = total / len(self.y), correct / len(self.y)
        for p, w in zip(self.model.parameters(), self.w0):
            p.copy_(w)
        return loss, acc


def compute_chunk(location: str, trial_id: str, spec: LandscapeSpec, first: int, *,
                  data_root: str | None = None, device: str = "auto") -> int:
    """Evaluate points [first, first + chunk) and store them; returns the number of points written."""
    trial = Folder(location) / f"trials/{trial_id}"
    points = np.asarray(spec.grid()[first:first + spec.chunk])
    probe = LandscapeProbe(trial, spec, data_root=data_root, device=device)
    loss, acc = probe.evaluate(points)
    table = pa.table({"point": np.arange(first, first + len(points)), "x": points[:, 0], "y": points[:, 1],
                      "loss": loss, "accuracy": acc})
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata({"spec": json.dumps(asdict(spec)), "step": str(probe.step)}), sink)
    trial.write_bytes(f"landscape/chunk-{first:06d}.parquet", sink.getvalue())
    return len(points)


def weights_step(trial: Folder, spec: LandscapeSpec) -> str:
    """The step of the weights the landscape is taken around: 0 for `init`, else the trial's current step
    (status.json; its last checkpoint), so chunks of a trial trained further are not reused."""
    if spec.at == "init":
        return "0"
    try:
        return str(json.loads(trial.read_bytes("status.json") or b"{}").get("steps"))
    except (ValueError, AttributeError):
        return "None"


def missing_chunks(trial: Folder, spec: LandscapeSpec) -> list[int]:
    """First points of the chunks not yet stored with this spec around these weights (else: afresh)."""
    want, done = (asdict(spec), weights_step(trial, spec)), set()
    for name in trial.listdir("landscape"):
        m = CHUNK_RE.match(name)
        if m and _identity(trial.read_bytes(f"landscape/{name}")) == want:
            done.add(int(m.group(1)))
    return [c for c in spec.chunks() if c not in done]


def _identity(data: bytes | None) -> tuple[dict, str] | None:
    """(spec, weights step) stored in a chunk's or a merged landscape's metadata."""
    try:
        meta = pq.read_schema(pa.BufferReader(data)).metadata
        return json.loads(meta[b"spec"]), meta[b"step"].decode()
    except (TypeError, KeyError, ValueError, pa.ArrowException):
        return None


def merged(trial: Folder, spec: LandscapeSpec) -> bool:
    """True when landscape.parquet exists and was merged with this spec around these weights."""
    return _identity(trial.read_bytes("landscape.parquet")) == (asdict(spec), weights_step(trial, spec))


def merge(trial: Folder, spec: LandscapeSpec) -> pa.Table:
    """Concatenate the chunks into trials/<id>/landscape.parquet; raises if a chunk is missing."""
    missing = missing_chunks(trial, spec)
    if missing:
        raise ValueError(f"{trial.location}/landscape: chunks {missing[:5]} missing; run the landscape again")
    parts = [pq.read_table(pa.BufferReader(trial.read_bytes(f"landscape/chunk-{c:06d}.parquet"))) for c in spec.chunks()]
    step = parts[0].schema.metadata[b"step"].decode()
    table = pa.concat_tables([p.replace_schema_metadata(None) for p in parts]).drop(["point"])
    meta = {"spec": json.dumps(asdict(spec)), "step": step, "directions_seed": str(spec.seed)}
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), sink, compression="zstd")
    trial.write_bytes("landscape.parquet", sink.getvalue())
    return table
