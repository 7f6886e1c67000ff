"""The pre-activation ResNet for CIFAR (fb.resnet.torch ``preresnet``), generalised to shortcut depth n.

fb.resnet.torch's ``models/preresnet.lua`` (He et al. 2016, "Identity mappings in deep residual
networks"), CIFAR-10 branch, is, for depth ``D = 6k + 2``::

    conv3x3(3 -> 16)
    stage 1: k units at 16 channels, stride 1   (its first unit: 'no_preact')
    stage 2: k units at 32 channels, stride 2 at the first unit   (first unit: 'both_preact')
    stage 3: k units at 64 channels, stride 2 at the first unit   (first unit: 'both_preact')
    BN - ReLU - 8x8 average pooling - linear(64 -> 10)

with basic units ``BN-ReLU-conv3x3-BN-ReLU-conv3x3`` on the residual path and an identity shortcut.
The first unit of each stage is special, exactly as in that code:

* ``'no_preact'`` (the very first unit of the net): the residual path starts with the conv — the stem
  conv's output goes into it without a BN-ReLU;
* ``'both_preact'`` (first unit of stages 2 and 3): the BN-ReLU is applied *before* the split, so the
  shortcut (which changes the channel count) also sees the pre-activated input;
* every other unit: the BN-ReLU belongs to the residual path only; the shortcut is the bare identity.

Where the channel count changes the shortcut is type ``"A"`` (strided, zero-padded identity: no
parameters; fb.resnet.torch's CIFAR default) or type ``"B"`` (1x1 strided conv + BN).

**Shortcut depth n** (Li et al. 2016, Fig 9). Each unit holds ``n`` BN-ReLU-conv3x3 layers (n = 2 is
the standard net). The total depth ``D`` counts the stem conv, the ``D - 2`` convs of the stages and
the final linear layer; ``D - 2`` is held fixed across n, so each stage has ``k = (D - 2) / (3n)``
units and the parameter count does not depend on n (the channel count changes at exactly one conv
per stage, whatever n). For n in {1, 2, 3, 4} together, ``D = 36j + 2``: 38, 74, 110, 146, ...

Initialisation as in fb.resnet.torch: conv weights normal(0, sqrt(2 / (kh * kw * out_channels))),
no conv bias, BN weight 1 and bias 0, linear weight uniform(+-1/sqrt(fan_in)) (Torch7's default) and
bias 0. A ``width`` multiplier scales the channel counts 16/32/64 (default 1, the paper's net).
"""

from __future__ import annotations

import math
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "SHORTCUT_TYPES",
    "PreResNet",
    "Unit",
    "stage_channels",
    "units_per_stage",
    "admits",
    "valid_depths",
    "nearest_valid_depths",
    "count_params",
    "mean_weight_norm",
    "weight_tensors",
]

SHORTCUT_TYPES = ("A", "B")
BASE_CHANNELS = (16, 32, 64)


def stage_channels(width: float = 1.0) -> tuple[int, int, int]:
    """Channel counts of the three stages: ``round(16*width), round(32*width), round(64*width)`` (>= 1)."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not width > 0 or not math.isfinite(width):
        raise ValueError(f"width must be a positive number (a multiplier of 16/32/64 channels), got width={width!r}")
    return tuple(max(1, int(round(c * width))) for c in BASE_CHANNELS)  # type: ignore[return-value]


def _check_n(n) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n (the shortcut depth: conv layers per residual unit) must be a positive integer, got n={n!r}")


def nearest_valid_depths(depth: int, ns: Iterable[int] = (2,)) -> list[int]:
    """The valid depths just below and just above ``depth`` for every n of ``ns`` together."""
    ns = list(ns)
    step = math.lcm(*(3 * n for n in ns))
    below = 2 + step * ((depth - 2) // step) if depth > 2 else None
    out = [d for d in (below, (below or 2) + step) if d is not None and d > 2 and d != depth]
    return out


def units_per_stage(depth: int, n: int = 2) -> int:
    """``k = (depth - 2) / (3 n)``: the number of residual units in each stage.

    Raises ValueError naming ``depth`` and ``n`` and listing the nearest valid depths when
    ``depth - 2`` is not a positive multiple of ``3 n``.
    """
    _check_n(n)
    if isinstance(depth, bool) or not isinstance(depth, int):
        raise ValueError(f"depth must be an integer, got depth={depth!r}")
    if depth < 2 + 3 * n or (depth - 2) % (3 * n):
        near = nearest_valid_depths(depth, [n])
        raise ValueError(
            f"depth={depth} is not valid for shortcut depth n={n}: depth - 2 (the convs in the three stages) must "
            f"be a positive multiple of 3*n = {3 * n}; nearest valid depths for n={n}: {', '.join(map(str, near))}"
        )
    return (depth - 2) // (3 * n)


def admits(depth: int, n: int = 2) -> bool:
    """Whether ``depth`` is a valid total depth for shortcut depth ``n`` (:func:`units_per_stage`'s rule:
    ``depth - 2`` a positive multiple of ``3 n``). A value of ``n`` that is no shortcut depth raises."""
    _check_n(n)
    try:
        units_per_stage(depth, n)
    except ValueError:
        return False
    return True


def valid_depths(ns: Iterable[int] = (1, 2, 3, 4), max_depth: int = 1082, min_depth: int = 3) -> list[int]:
    """Depths in ``[min_depth, max_depth]`` valid for every shortcut depth n of ``ns``.

    ``D - 2`` must be a multiple of ``3n`` for each n: for n in {1, 2, 3, 4} that is ``36j + 2``
    (38, 74, 110, ...); for n = 2 alone ``6k + 2`` (the standard preresnet depths 8, 14, 20, ...).
    """
    ns = list(ns)
    if not ns:
        raise ValueError("ns must name at least one shortcut depth n")
    for n in ns:
        _check_n(n)
    step = math.lcm(*(3 * n for n in ns))
    return [d for d in range(2 + step, max_depth + 1, step) if d >= min_depth]


class Unit(nn.Module):
    """One residual unit: ``n`` BN-ReLU-conv3x3 layers on the residual path, a shortcut around them.

    ``preact``: ``"residual"`` (BN-ReLU inside the residual path: the usual unit), ``"none"`` (no
    leading BN-ReLU: the first unit of the net) or ``"both"`` (BN-ReLU before the split, seen by the
    shortcut too: the first unit of stages 2 and 3), as fb.resnet.torch's ``basicblock`` types.
    """

    def __init__(self, in_channels: int, out_channels: int, n: int, stride: int = 1,
                 preact: str = "residual", shortcut: str = "A"):
        super().__init__()
        _check_n(n)
        if preact not in ("residual", "none", "both"):
            raise ValueError(f"preact={preact!r}; allowed: 'residual', 'none', 'both'")
        if shortcut not in SHORTCUT_TYPES:
            raise ValueError(f"shortcut={shortcut!r}; allowed: {', '.join(map(repr, SHORTCUT_TYPES))}")
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride
        self.preact = nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(inplace=True)) if preact == "both" else None
        layers: list[nn.Module] = []
        for i in range(n):
            cin = in_channels if i == 0 else out_channels
            if i > 0 or preact == "residual":
                layers += [nn.BatchNorm2d(cin), nn.ReLU(inplace=True)]
            layers.append(nn.Conv2d(cin, out_channels, 3, stride=stride if i == 0 else 1, padding=1, bias=False))
        self.body = nn.Sequential(*layers)
        if in_channels == out_channels and stride == 1:
            self.project = None
        elif shortcut == "B":
            self.project = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                         nn.BatchNorm2d(out_channels))
        else:
            if out_channels < in_channels:
                raise ValueError("shortcut type 'A' (zero-padded identity) needs out_channels >= in_channels")
            self.project = None

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_channels == self.out_channels and self.stride == 1:
            return x
        if self.project is not None:
            return self.project(x)
        # type A: strided identity (1x1 average pooling with stride s = subsampling), zeros appended
        y = x[:, :, :: self.stride, :: self.stride] if self.stride > 1 else x
        return F.pad(y, (0, 0, 0, 0, 0, self.out_channels - self.in_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preact is not None:
            x = self.preact(x)
        return self.body(x) + self.shortcut(x)


class PreResNet(nn.Module):
    """fb.resnet.torch's CIFAR pre-activation ResNet with ``n`` conv layers per unit.

    ``depth`` D counts the stem conv, the ``D - 2`` convs of the stages and the linear layer;
    ``k = (D - 2) / (3n)`` units per stage (ValueError when that is not a positive integer).
    ``PreResNet(20)`` is the standard preresnet-20 (0.27M parameters).
    """

    def __init__(self, depth: int = 20, n: int = 2, width: float = 1.0, shortcut: str = "A",
                 num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        if shortcut not in SHORTCUT_TYPES:
            raise ValueError(f"shortcut={shortcut!r}; allowed: {', '.join(map(repr, SHORTCUT_TYPES))} "
                             "('A': zero-padded identity, 'B': 1x1 conv + BN)")
        self.depth, self.n, self.width, self.shortcut_type = depth, n, width, shortcut
        self.k = units_per_stage(depth, n)
        self.channels = stage_channels(width)
        c1, c2, c3 = self.channels
        self.stem = nn.Conv2d(in_channels, c1, 3, padding=1, bias=False)
        stages = []
        cin = c1
        for s, cout in enumerate(self.channels):
            units = []
            for u in range(self.k):
                if u == 0:
                    preact = "none" if s == 0 else "both"
                    stride = 1 if s == 0 else 2
                else:
                    preact, stride = "residual", 1
                units.append(Unit(cin, cout, n, stride=stride, preact=preact, shortcut=shortcut))
                cin = cout
            stages.append(nn.Sequential(*units))
        self.stage1, self.stage2, self.stage3 = stages
        self.bn = nn.BatchNorm2d(c3)
        self.relu = nn.ReLU(inplace=True)
        self.fc = nn.Linear(c3, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """fb.resnet.torch's initialisation (see the module docstring)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                kh, kw = m.kernel_size
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / (kh * kw * m.out_channels)))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    @property
    def units(self) -> list[Unit]:
        return [u for stage in (self.stage1, self.stage2, self.stage3) for u in stage]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        x = self.relu(self.bn(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # 8x8 average pooling on 32x32 inputs
        return self.fc(x)

    def num_convs(self) -> int:
        """3x3 convolutions (the stem included): ``D - 1``."""
        return sum(1 for m in self.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3))

    def extra_repr(self) -> str:
        return (f"depth={self.depth}, n={self.n}, units_per_stage={self.k}, channels={self.channels}, "
                f"shortcut={self.shortcut_type!r}")


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def weight_tensors(model: nn.Module) -> list[torch.Tensor]:
    """The weight tensors whose norms :func:`mean_weight_norm` averages: every ``nn.Conv2d`` weight (3x3
    convs, and the 1x1 projections of type-B shortcuts) and every ``nn.Linear`` weight. BN parameters and
    biases are not weight matrices and are left out."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


@torch.no_grad()
def mean_weight_norm(model: nn.Module) -> float:
    """Average Frobenius norm of the weight tensors of ``model`` (Li et al. 2016, Fig 2).

    The average is over the conv weights (each ``out x in x kh x kw`` tensor counts as one matrix)
    and the final linear layer's weight: ``mean_i ||W_i||_F``; batch-norm scales/shifts and biases
    are not included.
    """
    ws = weight_tensors(model)
    if not ws:
        raise ValueError("mean_weight_norm: the model has no conv or linear weights")
    return float(torch.stack([w.detach().float().norm() for w in ws]).mean())
