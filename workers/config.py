"""TrialConfig: every setting of one training trial, validated, with its defaults and units."""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, fields

ARCHS = ("resnet14", "resnet20", "resnet56", "resnet110")
ARCH_NAMES = ARCHS + tuple(f"{a}-noshort" for a in ARCHS)
DATASETS = ("digits", "mnist", "cifar10")
LOSSES = ("ce", "kl")
INITS = ("pytorch", "authors")
SKETCH_KINDS = ("countsketch", "exact")
DEVICES = ("auto", "cpu", "cuda")
LANDSCAPE_AT = ("final", "init")


@dataclass(frozen=True)
class TrialConfig:
    # grid axes
    arch: str = "resnet14"          # resnet14|20|56|110, optional "-noshort" suffix
    dataset: str = "digits"         # digits (bundled with scikit-learn) | mnist | cifar10
    loss: str = "ce"                # ce | kl (KL(target || softmax), label-smoothed targets)
    batch_size: int = 128           # examples per SGD step
    lr: float = 0.1                 # constant learning rate
    seed: int = 0                   # model init and batch order
    # training length: `steps` SGD updates if > 0, else `epochs` full passes
    epochs: int = 1
    steps: int = 0
    # optimiser (vanilla SGD unless set)
    momentum: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.1    # kl only: target = (1 - s) one_hot + s / classes
    init: str = "pytorch"           # pytorch (the paper) | authors (Kaiming-normal convs, linear N(0, 1e-3^2))
    # data
    data_root: str = ""             # torchvision-style root for mnist / cifar10
    download: bool = False          # let torchvision download mnist / cifar10 (needs a network)
    augment: bool = False           # random crop (pad `crop_pad`) + optional horizontal flip
    crop_pad: int = 4               # pixels of zero padding for the random crop
    hflip: bool = True              # random horizontal flip when augmenting
    drop_last: bool = False         # False keeps the partial last batch of each epoch (the authors)
    # trajectory recorder
    sketch_kind: str = "countsketch"  # countsketch (k buckets) | exact (full displacement, small models)
    sketch_dim: int = 4096          # k, floats per step
    sketch_seed: int = 0            # hash/sign seed of the sketch
    grad_sample: int = 1024         # m, gradient coordinates stored per step
    grad_sample_seed: int = 0       # which m coordinates
    shard_steps: int = 1000         # rows per Parquet shard (= checkpoint cadence)
    record: bool = True             # False: train without writing the trajectory (benchmarks)
    # evaluation
    eval_every: int = 1             # epochs between train/test evaluations; 0 = never
    eval_samples: int = 0           # examples per split in an evaluation; 0 = the whole split
    # Hessian probes (Fig. 7)
    hessian_every: int = 0          # epochs between top-k Hessian eigenvalue probes (and one at step 0); 0 = never
    hessian_k: int = 20             # eigenvalues per probe (the authors: 20)
    hessian_batch: int = 128        # examples in the fixed probe batch (the authors: one batch of 128)
    hessian_smallest: bool = False  # also the smallest eigenvalue (a second, shifted Lanczos run)
    device: str = "auto"            # auto | cpu | cuda | cuda:<n>

    def __post_init__(self):
        _check_types(self)
        _choice("arch", self.arch, ARCH_NAMES)
        _choice("dataset", self.dataset, DATASETS)
        _choice("loss", self.loss, LOSSES)
        _choice("init", self.init, INITS)
        _choice("sketch_kind", self.sketch_kind, SKETCH_KINDS)
        if not (self.device in DEVICES or self.device.startswith("cuda:")):
            raise ValueError(f"device: {self.device!r} is not allowed; use one of {', '.join(DEVICES)} or cuda:<n>")
        for name in ("batch_size", "sketch_dim", "grad_sample", "shard_steps", "hessian_k", "hessian_batch"):
            _positive(name, getattr(self, name))
        _positive("lr", self.lr)
        for name in ("epochs", "steps", "eval_every", "eval_samples", "crop_pad", "seed", "hessian_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: {getattr(self, name)!r} is negative; use a value >= 0")
        if self.epochs == 0 and self.steps == 0:
            raise ValueError("epochs/steps: both are 0; set epochs > 0 or steps > 0")
        for name in ("momentum", "weight_decay"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name}: {getattr(self, name)!r} must be finite and >= 0")
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: {self.label_smoothing!r} must lie in [0, 1)")
        if self.dataset != "digits" and not self.data_root and not self.download:
            raise ValueError(f"data_root: empty for dataset {self.dataset!r}; pass the folder that holds "
                             f"MNIST/raw or cifar-10-batches-py (e.g. --data-root ../shared/data), or download=true")

    @property
    def trial_id(self) -> str:
        """Readable id from the grid axes, e.g. resnet14-noshort_cifar10_ce_bs1024_lr0.1_seed0."""
        return f"{self.arch}_{self.dataset}_{self.loss}_bs{self.batch_size}_lr{self.lr:g}_seed{self.seed}"

    @property
    def depth(self) -> int:
        return int(self.arch.split("-")[0].removeprefix("resnet"))

    @property
    def shortcut(self) -> bool:
        return not self.arch.endswith("-noshort")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrialConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; allowed: {sorted(names)}")
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _check_types(cfg: TrialConfig) -> None:
    for f in fields(cfg):
        value, kind = getattr(cfg, f.name), type(f.default)
        if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
            raise ValueError(f"{f.name}: an integer of {value.bit_length()} bits is out of range; use a value "
                             f"that fits in 64 bits")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(cfg, f.name, float(value))
        elif not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{f.name}: {value!r} is a {type(value).__name__}; expected {kind.__name__}")


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not allowed; use one of {', '.join(allowed)}")


def _positive(name: str, value) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: {value!r} must be a finite number > 0")


@dataclass(frozen=True)
class LandscapeSpec:
    """The 2D loss landscape of a trial (workers/landscape.py): grid, data subset, directions' seed."""
    n: int = 51                 # grid points per axis (the paper: 51)
    span: float = 1.0           # the grid covers [-span, span]^2 in units of the filter-normalised directions
    samples: int = 1000         # training examples the loss is averaged over (fixed: the first of a seeded permutation)
    seed: int = 0               # seed of the two directions and of the example subset
    chunk: int = 64             # grid points per task / file
    at: str = "final"           # final (the trial's last checkpoint) | init (w(0), rebuilt from the seed)

    def __post_init__(self):
        for name in ("n", "samples", "chunk"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (2 if name == "n" else 1):
                raise ValueError(f"landscape.{name}: {getattr(self, name)!r} must be an integer >= "
                                 f"{2 if name == 'n' else 1}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed < 2**63:
            raise ValueError(f"landscape.seed: {self.seed!r} must be an integer in [0, 2**63)")
        if not (isinstance(self.span, (int, float)) and 0 < self.span < 1e308):  # NaN, inf, huge ints: no
            raise ValueError(f"landscape.span: {self.span!r} must be a finite number > 0")
        if self.at not in LANDSCAPE_AT:
            raise ValueError(f"landscape.at: {self.at!r} is not allowed; use one of {', '.join(LANDSCAPE_AT)}")

    def grid(self) -> list[tuple[float, float]]:
        """The n*n grid points (x, y), row-major (x varies fastest)."""
        axis = [-self.span + 2 * self.span * i / (self.n - 1) for i in range(self.n)]
        return [(x, y) for y in axis for x in axis]

    def chunks(self) -> list[int]:
        return list(range(0, self.n * self.n, self.chunk))
