"""Datasets as whole tensors on the training device, and the seeded batch order.

digits (scikit-learn's bundled 1,797 8x8 handwritten digits; no download), MNIST and CIFAR-10 from a
torchvision-style root (files read and verified by workers/datafiles.py). The batch order and the augmentation of epoch e are a pure function of (seed, e), so a resumed
run replays exactly the same batches.
"""
from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from workers.datafiles import (CIFAR_TEST, CIFAR_TRAIN, DIGITS_TEST, MNIST_FILES, cifar_files, load_cifar_batch,
                               parse_idx, read_mnist_file)

NORMALISATION = {  # per-channel (mean, std) of the raw [0, 1] pixels (METHODS.md)
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
}


@dataclass(frozen=True)
class Split:
    x: torch.Tensor  # (n, c, h, w) float32, normalised, on the training device
    y: torch.Tensor  # (n,) int64

    def __len__(self):
        return len(self.y)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    num_classes: int
    pad_value: tuple  # the normalised value of a black pixel, per channel (crop padding)
    source: dict = field(default_factory=dict)  # provenance: files, md5s, official or subset

    @property
    def in_channels(self) -> int:
        return self.train.x.shape[1]


def load_dataset(name: str, *, root: str | Path = "", device="cpu", download: bool = False) -> Dataset:
    if name == "digits":
        return _finish(name, *_digits(), device)
    if name not in NORMALISATION:
        raise ValueError(f"dataset: {name!r} is not allowed; use one of digits, mnist, cifar10")
    root = Path(root).expanduser().resolve()
    if download:
        _download(name, root)
    load = _mnist if name == "mnist" else _cifar10
    return _finish(name, *load(root), device)


def _finish(name, train, test, source, device) -> Dataset:
    (x_tr, y_tr), (x_te, y_te) = train, test
    if name == "digits":  # no published constants: standardise with the training split's own moments
        mean, std = (float(x_tr.mean()),), (float(x_tr.std()),)
    else:
        mean, std = NORMALISATION[name]
    m = np.asarray(mean, np.float32)[:, None, None]
    s = np.asarray(std, np.float32)[:, None, None]
    as_split = lambda x, y: Split(torch.from_numpy((x - m) / s).to(device),
                                  torch.from_numpy(y.astype(np.int64)).to(device))
    source = {**source, "mean": list(mean), "std": list(std), "n_train": len(y_tr), "n_test": len(y_te)}
    return Dataset(name, as_split(x_tr, y_tr), as_split(x_te, y_te), 10, tuple(float(v) for v in (-m / s).ravel()),
                   source)


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits: images (1797, 8, 8) in 0..16 and labels, read from the CSV file
    that ships inside the package (what load_digits reads), without importing scikit-learn (~1 s)."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is None or not path.exists():
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images, d.target
    data = np.loadtxt(path, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)


def _digits():
    images, target = digits_arrays()
    x = (images.astype(np.float32) / 16.0)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    order = np.random.RandomState(0).permutation(len(x))
    te, tr = order[:DIGITS_TEST], order[DIGITS_TEST:]
    return (x[tr], target[tr]), (x[te], target[te]), {"files": "scikit-learn's bundled digits.csv.gz"}


# ---- MNIST ------------------------------------------------------------------------------------------

def _mnist(root: Path):
    raw = root / "MNIST" / "raw"
    arrays, files = {}, {}
    for stem, md5 in MNIST_FILES.items():
        path, data = read_mnist_file(raw, stem, md5)
        arrays[stem], files[stem] = parse_idx(path, data), str(path)
    norm = lambda a: (a.astype(np.float32) / 255.0)[:, None]
    train = norm(arrays["train-images-idx3-ubyte"]), arrays["train-labels-idx1-ubyte"]
    test = norm(arrays["t10k-images-idx3-ubyte"]), arrays["t10k-labels-idx1-ubyte"]
    return train, test, {"files": files, "official": True}


# ---- CIFAR-10 ---------------------------------------------------------------------------------------

def _cifar10(root: Path):
    train_files, test_path = cifar_files(root / "cifar-10-batches-py")
    md5s = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in train_files + [test_path]}
    official = all(md5s[n] == {**CIFAR_TRAIN, **CIFAR_TEST}[n] for n in md5s)
    parts = [load_cifar_batch(p) for p in train_files]
    x_tr = np.concatenate([p[0] for p in parts]).astype(np.float32) / 255.0
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = load_cifar_batch(test_path)
    source = {"files": {p.name: str(p) for p in train_files + [test_path]}, "md5": md5s,
              "official": official and len(train_files) == len(CIFAR_TRAIN)}
    return (x_tr, y_tr), (x_te.astype(np.float32) / 255.0, y_te), source


def _download(name: str, root: Path) -> None:
    import torchvision

    cls = torchvision.datasets.MNIST if name == "mnist" else torchvision.datasets.CIFAR10
    for train in (True, False):
        cls(str(root), train=train, download=True)


# ---- batches ----------------------------------------------------------------------------------------

def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, 0xDA7A]).generate_state(1, np.uint64)[0]) >> 1


@dataclass(frozen=True)
class EpochPlan:
    """The batches of one epoch: a permutation and per-example crop offsets / flips (CPU tensors)."""
    perm: torch.Tensor
    shift: torch.Tensor  # (n, 2) crop offsets in [0, 2 pad]
    flip: torch.Tensor   # (n,) bool

    @classmethod
    def make(cls, n: int, *, seed: int, epoch: int, pad: int = 4) -> "EpochPlan":
        g = torch.Generator().manual_seed(epoch_seed(seed, epoch))
        perm = torch.randperm(n, generator=g)
        shift = torch.randint(0, 2 * pad + 1, (n, 2), generator=g)
        flip = torch.rand(n, generator=g) < 0.5
        return cls(perm, shift, flip)

    def batch(self, i: int, batch_size: int) -> slice:
        return slice(i * batch_size, (i + 1) * batch_size)


def augment(x: torch.Tensor, shift: torch.Tensor, flip: torch.Tensor | None, *, pad: int,
            pad_value: tuple) -> torch.Tensor:
    """Random crop of the original size from x padded by `pad` (black), then optional horizontal flip."""
    b, c, h, w = x.shape
    fill = torch.tensor(pad_value, dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    padded = fill.expand(b, c, h + 2 * pad, w + 2 * pad).clone()
    padded[:, :, pad:pad + h, pad:pad + w] = x
    shift = shift.to(x.device)
    rows = (shift[:, 0:1] + torch.arange(h, device=x.device))[:, None, :, None]  # (b, 1, h, 1)
    cols = (shift[:, 1:2] + torch.arange(w, device=x.device))[:, None, None, :]  # (b, 1, 1, w)
    out = padded[torch.arange(b, device=x.device)[:, None, None, None],
                 torch.arange(c, device=x.device)[None, :, None, None], rows, cols]
    if flip is not None:
        out = torch.where(flip.to(x.device)[:, None, None, None], out.flip(3), out)
    return out
