"""Datasets as whole tensors on the training device, and the seeded batch order.

digits (scikit-learn's bundled 1,797 8x8 handwritten digits; no download), MNIST (official idx files,
md5-verified) and CIFAR-10 (official pickles, or any subset of the batch files) from a torchvision-style
root. The batch order and the augmentation of epoch e are a pure function of (seed, e), so a resumed
run replays exactly the same batches.
"""
from __future__ import annotations

import gzip
import hashlib
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

MNIST_FILES = {  # official md5s (the ones torchvision expects)
    "train-images-idx3-ubyte": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte": "ec29112dd5afa0611ce80d1b7f02629c",
}
CIFAR_TRAIN = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
}
CIFAR_TEST = {"test_batch": "40351d587109b95175f43aff81a1287e"}
NORMALISATION = {  # per-channel (mean, std) of the raw [0, 1] pixels (METHODS.md)
    "mnist": ((0.1307,), (0.3081,)),
    "cifar10": ((125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255)),
}
DIGITS_TEST = 297  # digits: a fixed (seed 0) split into 1,500 train and 297 test images


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


def _digits():
    from sklearn.datasets import load_digits  # ships the data inside the package

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]  # (1797, 1, 8, 8) in [0, 1]
    order = np.random.RandomState(0).permutation(len(x))
    te, tr = order[:DIGITS_TEST], order[DIGITS_TEST:]
    return (x[tr], d.target[tr]), (x[te], d.target[te]), {"files": "sklearn.datasets.load_digits"}


# ---- MNIST ------------------------------------------------------------------------------------------

def _mnist(root: Path):
    raw = root / "MNIST" / "raw"
    arrays, files = {}, {}
    for stem, md5 in MNIST_FILES.items():
        path, data = _read_mnist_file(raw, stem, md5)
        arrays[stem], files[stem] = _parse_idx(path, data), str(path)
    norm = lambda a: (a.astype(np.float32) / 255.0)[:, None]
    train = norm(arrays["train-images-idx3-ubyte"]), arrays["train-labels-idx1-ubyte"]
    test = norm(arrays["t10k-images-idx3-ubyte"]), arrays["t10k-labels-idx1-ubyte"]
    return train, test, {"files": files, "official": True}


def _mnist_path(raw: Path, stem: str) -> Path:
    for path in (raw / f"{stem}.gz", raw / stem):  # .gz as published, or unpacked by torchvision
        if path.exists():
            return path
    raise FileNotFoundError(f"MNIST: missing {raw / stem}.gz; put the four official MNIST .gz files in {raw} "
                            f"(torchvision layout), point --data-root at the folder that holds MNIST/, "
                            f"or set download=true where a network exists")


def _read_mnist_file(raw: Path, stem: str, md5: str) -> tuple[Path, bytes]:
    path = _mnist_path(raw, stem)
    if path.suffix != ".gz":  # unpacked: checked by its idx header and size
        return path, path.read_bytes()
    packed = path.read_bytes()
    digest = hashlib.md5(packed).hexdigest()
    if digest != md5:
        raise ValueError(f"MNIST: {path} has md5 {digest}, not the official {md5}; the file is corrupt or "
                         f"not official MNIST: replace it with the official file")
    return path, gzip.decompress(packed)


def _parse_idx(path: Path, data: bytes) -> np.ndarray:
    if len(data) < 8:
        raise ValueError(f"MNIST: {path} is truncated ({len(data)} bytes); replace it with the official file")
    magic, n = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
    dims = {2049: (n,), 2051: (n, 28, 28)}.get(magic)
    if dims is None:
        raise ValueError(f"MNIST: {path} is not an idx file (magic {magic}); replace it with the official file")
    offset = 8 + 4 * (len(dims) - 1)
    if len(data) != offset + int(np.prod(dims)):
        raise ValueError(f"MNIST: {path} has {len(data)} bytes, expected {offset + int(np.prod(dims))}; "
                         f"the file is truncated: replace it with the official file")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(dims)


# ---- CIFAR-10 ---------------------------------------------------------------------------------------

class _CifarUnpickler(pickle.Unpickler):
    """Loads the CIFAR-10 batch format only: dicts, lists, strings, numbers and uint8 numpy arrays."""

    def find_class(self, module, name):
        import codecs

        allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                   ("_codecs", "encode"): codecs.encode,  # bytes in protocol-2 pickles written by Python 3
                   ("numpy.core.multiarray", "_reconstruct"): _np_reconstruct(),
                   ("numpy._core.multiarray", "_reconstruct"): _np_reconstruct()}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only "
                                         f"numpy arrays, lists and strings")
        return allowed[(module, name)]


def _np_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (images (n, 3, 32, 32) uint8, labels (n,) int64), through a restricted unpickler."""
    with open(path, "rb") as f:
        try:
            d = _CifarUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as e:
            raise ValueError(f"CIFAR-10: {path}: {e}; replace it with an official batch file") from None
        except Exception as e:
            raise ValueError(f"CIFAR-10: {path} is not a readable batch file ({type(e).__name__}: {e}); "
                             f"replace it with an official batch file") from None
    if not isinstance(d, dict) or "data" not in d or "labels" not in d:
        raise ValueError(f"CIFAR-10: {path} is not a batch dict with 'data' and 'labels'; replace the file")
    x, y = np.asarray(d["data"]), np.asarray(d["labels"], np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072 or len(x) != len(y) or \
            (len(y) and (y.min() < 0 or y.max() > 9)):
        raise ValueError(f"CIFAR-10: {path} has data {x.dtype}{list(x.shape)} and {len(y)} labels; expected "
                         f"uint8 [n, 3072] and n labels in 0..9: replace the file")
    return x.reshape(-1, 3, 32, 32), y


def _cifar_files(folder: Path) -> tuple[list[Path], Path]:
    train_files = [folder / n for n in CIFAR_TRAIN if (folder / n).exists()]
    test_path = folder / "test_batch"
    if not train_files or not test_path.exists():
        missing = test_path if train_files else folder / "data_batch_1"
        raise FileNotFoundError(f"CIFAR-10: missing {missing}; put the official batch files (or a subset of "
                                f"data_batch_1..5 plus test_batch) in {folder}, point --data-root at the folder "
                                f"that holds cifar-10-batches-py/, or set download=true where a network exists")
    return train_files, test_path


def check_files(name: str, root: str | Path) -> None:
    """Raise FileNotFoundError naming the first missing data file and the remedy; reads nothing."""
    root = Path(root).expanduser().resolve()
    if name == "mnist":
        for stem in MNIST_FILES:
            _mnist_path(root / "MNIST" / "raw", stem)
    elif name == "cifar10":
        _cifar_files(root / "cifar-10-batches-py")


def _cifar10(root: Path):
    train_files, test_path = _cifar_files(root / "cifar-10-batches-py")
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
    return int(np.random.SeedSequence([seed, epoch, 0xDA7A]).generate_state(1, np.uint64)[0] >> 1)


def steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)


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
