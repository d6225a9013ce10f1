"""What a grid will cost before it runs: steps, storage bytes and accelerator-hours per trial."""
from __future__ import annotations

from functools import lru_cache

from workers.config import TrialConfig
from workers.datafiles import DIGITS_TEST, steps_per_epoch

TRAIN_SIZE = {"digits": 1797 - DIGITS_TEST, "mnist": 60_000, "cifar10": 50_000}  # official training sets
INPUT = {"digits": (1, 8), "mnist": (1, 28), "cifar10": (3, 32)}  # channels, side
ROW_SCALARS = 48  # bytes: step, epoch, loss, accuracy, lr, grad_norm, step_norm
DEFAULT_TFLOPS = 10.0  # assumed sustained accelerator throughput for small ResNets (an assumption)


def total_steps(cfg: TrialConfig) -> int:
    return cfg.steps or cfg.epochs * steps_per_epoch(TRAIN_SIZE[cfg.dataset], cfg.batch_size, cfg.drop_last)


@lru_cache(maxsize=None)
def model_cost(arch: str, dataset: str) -> tuple[int, int]:
    """(parameter count, forward multiply-accumulates per example), counted on a one-example pass."""
    import torch

    from workers.models import build_model, num_params

    channels, side = INPUT[dataset]
    with torch.device("meta"):  # shapes only: no memory, no arithmetic
        model = build_model(arch, in_channels=channels, num_classes=10)
    macs = []

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
            macs.append(output.numel() * k)
        elif isinstance(module, torch.nn.Linear):
            macs.append(module.in_features * module.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        model.eval()(torch.zeros(1, channels, side, side, device="meta"))
    for h in handles:
        h.remove()
    return num_params(model), sum(macs)


def trial_estimate(cfg: TrialConfig, *, tflops: float = DEFAULT_TFLOPS) -> dict:
    params, macs = model_cost(cfg.arch, cfg.dataset)
    steps = total_steps(cfg)
    k = params if cfg.sketch_kind == "exact" else cfg.sketch_dim
    row = ROW_SCALARS + 4 * (k + min(cfg.grad_sample, params))
    train_flops = 3 * 2 * macs * cfg.batch_size * steps  # forward + backward ~ 3 forward passes
    return {"trial_id": cfg.trial_id, "params": params, "steps": steps, "bytes": row * steps,
            "accel_hours": train_flops / (tflops * 1e12) / 3600}


def human_bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1000
    return f"{n} B"
