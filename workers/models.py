"""CIFAR-style ResNets (He et al. 2016, Sec. 4.2) with and without shortcuts.

3x3 conv stem (16 channels) + BN + ReLU, three stages of n = (depth - 2) / 6 BasicBlocks with
16/32/64 channels and strides 1/2/2, global average pooling, linear classifier. The shortcut is the
identity, or a 1x1 conv + BN projection where the shape changes; `shortcut=False` ("-noshort",
VGG-like) drops the addition and the projection parameters.

Parameter counts (10 classes):

=================  ==============  ===============
model              3 input chans   1 input chan
=================  ==============  ===============
resnet14           175,258         174,970
resnet14-noshort   172,506         172,218
resnet20           272,474         272,186
resnet56           855,770         855,482
resnet110          1,730,714       1,730,426
=================  ==============  ===============
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, shortcut: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = shortcut
        self.proj = None
        if shortcut and (stride != 1 or c_in != c_out):
            self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut:
            out = out + (x if self.proj is None else self.proj(x))
        return F.relu(out)


class ResNet(nn.Module):
    def __init__(self, depth: int, *, shortcut: bool = True, in_channels: int = 3, num_classes: int = 10):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"depth: {depth} is not 6n + 2 (use 14, 20, 56 or 110)")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, c_in = [], 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                blocks.append(BasicBlock(c_in, c_out, stride if i == 0 else 1, shortcut))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def init_authors(model: nn.Module) -> None:
    """The authors' code: Kaiming-normal convs (fan_out, ReLU), linear weights N(0, 1e-3^2), bias 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 1e-3)
            nn.init.zeros_(m.bias)


def build_model(arch: str, *, in_channels: int, num_classes: int, init: str = "pytorch") -> ResNet:
    """`arch` is e.g. "resnet20" or "resnet20-noshort"; init "pytorch" (default) or "authors"."""
    name, _, suffix = arch.partition("-")
    if not name.startswith("resnet") or suffix not in ("", "noshort"):
        raise ValueError(f"arch: {arch!r} is not allowed; use resnet<depth> or resnet<depth>-noshort")
    model = ResNet(int(name.removeprefix("resnet")), shortcut=suffix != "noshort",
                   in_channels=in_channels, num_classes=num_classes)
    if init == "authors":
        init_authors(model)
    elif init != "pytorch":
        raise ValueError(f"init: {init!r} is not allowed; use pytorch or authors")
    return model


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    for a in ("resnet14", "resnet14-noshort", "resnet20", "resnet56", "resnet110"):
        print(f"{a:18s} {num_params(build_model(a, in_channels=3, num_classes=10)):>11,d}")
