import gzip
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workers.data import EpochPlan, augment, load_dataset
from workers.datafiles import load_cifar_batch, steps_per_epoch


def test_digits_read_directly_equal_sklearns_loader():
    from sklearn.datasets import load_digits

    from workers.data import digits_arrays

    images, target = digits_arrays()
    reference = load_digits()
    assert np.array_equal(images, reference.images) and np.array_equal(target, reference.target)


def test_digits_ship_with_the_package():
    d = load_dataset("digits")
    assert (len(d.train), len(d.test), d.in_channels, d.num_classes) == (1500, 297, 1, 10)
    assert d.train.x.shape[1:] == (1, 8, 8)
    assert abs(d.train.x.mean().item()) < 1e-4 and d.train.x.std().item() == pytest.approx(1, rel=1e-3)
    assert sorted(d.train.y.unique().tolist()) == list(range(10))


def test_mnist_official_files_normalised(data_root):
    d = load_dataset("mnist", root=data_root)
    assert (len(d.train), len(d.test)) == (60000, 10000)
    assert d.train.x.shape[1:] == (1, 28, 28) and d.train.x.dtype == torch.float32
    assert d.train.x.mean().item() == pytest.approx(0.0, abs=0.01)  # (0.1307, 0.3081) are its moments
    assert d.train.x.std().item() == pytest.approx(1.0, abs=0.01)
    assert d.source["official"] is True
    assert d.train.y[:5].tolist() == [5, 0, 4, 1, 9]  # the well-known first training labels


def test_mnist_corrupt_or_missing_file_named_with_the_remedy(data_root, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    shutil.copytree(data_root / "MNIST" / "raw", raw)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00" * 100))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte\.gz has md5 .* replace it"):
        load_dataset("mnist", root=tmp_path)
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=rf"missing {raw}/t10k-labels-idx1-ubyte\.gz.*--data-root"):
        load_dataset("mnist", root=tmp_path)


def test_cifar_subset_folder_is_accepted(data_root):
    d = load_dataset("cifar10", root=data_root)
    assert (len(d.train), len(d.test), d.in_channels) == (5000, 1000, 3)
    assert d.source["official"] is False  # a subset: existence check, md5s recorded
    assert np.bincount(d.train.y.numpy(), minlength=10).tolist() == [500] * 10
    mean = torch.tensor([125.3, 123.0, 113.9]) / 255
    std = torch.tensor([63.0, 62.1, 66.7]) / 255
    raw_mean = d.train.x.mean(dim=(0, 2, 3)) * std + mean
    assert torch.allclose(raw_mean, torch.tensor([0.489, 0.479, 0.446]), atol=0.003)  # data/README.md


def test_cifar_missing_folder_names_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing .*cifar-10-batches-py/data_batch_1.*--data-root"):
        load_dataset("cifar10", root=tmp_path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_cifar_unpickler_refuses_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": _Evil(), "labels": [0]}))
    with pytest.raises(ValueError, match=r"refusing to load (posix|os)\.system"):
        load_cifar_batch(path)
    assert not (tmp_path / "pwned").exists()


def test_cifar_unpickler_reads_numpy_batches(tmp_path):
    x = np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps({"data": x, "labels": [3, 7], "batch_label": "x", "filenames": ["a", "b"]},
                                  protocol=2))
    images, labels = load_cifar_batch(path)
    assert images.shape == (2, 3, 32, 32) and np.array_equal(images.reshape(2, -1), x)
    assert labels.tolist() == [3, 7]
    path.write_bytes(pickle.dumps({"data": x[:, :100], "labels": [3, 7]}))
    with pytest.raises(ValueError, match=r"expected uint8 \[n, 3072\]"):
        load_cifar_batch(path)


def test_batch_order_is_a_pure_function_of_seed_and_epoch():
    a, b = EpochPlan.make(1000, seed=3, epoch=7), EpochPlan.make(1000, seed=3, epoch=7)
    assert torch.equal(a.perm, b.perm) and torch.equal(a.shift, b.shift) and torch.equal(a.flip, b.flip)
    assert sorted(a.perm.tolist()) == list(range(1000))
    assert not torch.equal(a.perm, EpochPlan.make(1000, seed=3, epoch=8).perm)
    assert not torch.equal(a.perm, EpochPlan.make(1000, seed=4, epoch=7).perm)
    assert a.shift.min() == 0 and a.shift.max() == 8 and 400 < a.flip.sum() < 600


def test_steps_per_epoch_keep_or_drop_partial_batch():
    assert steps_per_epoch(50000, 1024, drop_last=False) == 49  # the authors' 49 steps per epoch
    assert steps_per_epoch(50000, 128, drop_last=False) == 391
    assert steps_per_epoch(50000, 1024, drop_last=True) == 48


def test_augment_crop_and_flip_match_pad_and_slice():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, 32, 32, generator=g)
    shift = torch.tensor([[0, 0], [4, 4], [8, 8], [1, 7], [3, 0], [8, 2]])
    flip = torch.tensor([False, False, True, True, False, True])
    pad_value = (-1.0, -2.0, -3.0)
    out = augment(x, shift, flip, pad=4, pad_value=pad_value)
    for i in range(6):
        padded = torch.stack([F.pad(x[i, c], (4, 4, 4, 4), value=pad_value[c]) for c in range(3)])
        crop = padded[:, shift[i, 0]:shift[i, 0] + 32, shift[i, 1]:shift[i, 1] + 32]
        assert torch.equal(out[i], crop.flip(2) if flip[i] else crop)
    assert torch.equal(augment(x, torch.full((6, 2), 4), None, pad=4, pad_value=pad_value), x)
