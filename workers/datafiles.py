"""Raw dataset files: which files a dataset needs, their official md5s, and safe readers (no torch).

MNIST idx files (official `.gz`, md5-verified, or unpacked by torchvision) and CIFAR-10 batch pickles
(official, or any subset of the batch files) read through a restricted unpickler that admits only what
the format needs. The driver validates a grid's data with `check_files` without importing torch.
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np

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
DIGITS_TEST = 297  # digits: a fixed (seed 0) split into 1,500 train and 297 test images


def mnist_path(raw: Path, stem: str) -> Path:
    for path in (raw / f"{stem}.gz", raw / stem):  # .gz as published, or unpacked by torchvision
        if path.exists():
            return path
    raise FileNotFoundError(f"MNIST: missing {raw / stem}.gz; put the four official MNIST .gz files in {raw} "
                            f"(torchvision layout), point --data-root at the folder that holds MNIST/, "
                            f"or set download=true where a network exists")


def read_mnist_file(raw: Path, stem: str, md5: str) -> tuple[Path, bytes]:
    path = mnist_path(raw, stem)
    if path.suffix != ".gz":  # unpacked: checked by its idx header and size
        return path, path.read_bytes()
    packed = path.read_bytes()
    digest = hashlib.md5(packed).hexdigest()
    if digest != md5:
        raise ValueError(f"MNIST: {path} has md5 {digest}, not the official {md5}; the file is corrupt or "
                         f"not official MNIST: replace it with the official file")
    return path, gzip.decompress(packed)


def parse_idx(path: Path, data: bytes) -> np.ndarray:
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


class CifarUnpickler(pickle.Unpickler):
    """Loads the CIFAR-10 batch format only: dicts, lists, strings, numbers and uint8 numpy arrays."""

    def find_class(self, module, name):
        allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                   ("_codecs", "encode"): codecs.encode,  # bytes in protocol-2 pickles written by Python 3
                   ("numpy.core.multiarray", "_reconstruct"): np_reconstruct(),
                   ("numpy._core.multiarray", "_reconstruct"): np_reconstruct()}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only "
                                         f"numpy arrays, lists and strings")
        return allowed[(module, name)]


def np_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def load_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (images (n, 3, 32, 32) uint8, labels (n,) int64), through a restricted unpickler."""
    with open(path, "rb") as f:
        try:
            d = CifarUnpickler(f, encoding="latin1").load()
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


def cifar_files(folder: Path) -> tuple[list[Path], Path]:
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
            mnist_path(root / "MNIST" / "raw", stem)
    elif name == "cifar10":
        cifar_files(root / "cifar-10-batches-py")


def steps_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else -(-n // batch_size)
