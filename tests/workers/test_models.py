import math

import pytest
import torch

from workers.models import build_model, num_params

COUNTS = {"resnet14": 175_258, "resnet14-noshort": 172_506, "resnet20": 272_474, "resnet56": 855_770,
          "resnet110": 1_730_714}


@pytest.mark.parametrize("arch,count", COUNTS.items())
def test_parameter_counts_match_the_paper(arch, count):
    assert num_params(build_model(arch, in_channels=3, num_classes=10)) == count
    assert num_params(build_model(arch, in_channels=1, num_classes=10)) == count - 288


@pytest.mark.parametrize("size,channels", [(8, 1), (28, 1), (32, 3)])
def test_forward_shapes(size, channels):
    model = build_model("resnet20-noshort", in_channels=channels, num_classes=10)
    assert model(torch.zeros(2, channels, size, size)).shape == (2, 10)


def test_noshort_has_no_shortcut_path():
    torch.manual_seed(0)
    model = build_model("resnet14-noshort", in_channels=3, num_classes=10)
    block = model.blocks[0]
    x = torch.randn(2, 16, 8, 8)
    expected = torch.relu(block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x))))))
    assert torch.allclose(block(x), expected)
    with_short = build_model("resnet14", in_channels=3, num_classes=10).blocks[0]
    with_short.load_state_dict(block.state_dict())
    assert torch.allclose(with_short(x), torch.relu(expected.detach() * 0 + block.bn2(block.conv2(
        torch.relu(block.bn1(block.conv1(x))))) + x))


def test_authors_init():
    torch.manual_seed(0)
    model = build_model("resnet56", in_channels=3, num_classes=10, init="authors")
    assert model.fc.weight.std().item() == pytest.approx(1e-3, rel=0.1)
    assert torch.all(model.fc.bias == 0)
    conv = model.blocks[-1].conv2.weight  # 64 x 64 x 3 x 3, fan_out = 64 * 9
    assert conv.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)
    default = build_model("resnet56", in_channels=3, num_classes=10)
    assert default.fc.weight.abs().max().item() > 0.05  # PyTorch's uniform(+-1/sqrt(64)) differs


def test_bad_arch_is_refused():
    with pytest.raises(ValueError, match="depth: 15"):
        build_model("resnet15", in_channels=3, num_classes=10)
    with pytest.raises(ValueError, match="arch"):
        build_model("vgg16", in_channels=3, num_classes=10)
