"""Benchmark: images per second of the CIFAR training loop (Figures 2 and 9) on the digit stand-in.

    python benchmarks/gpu_cifar.py [--depth 110] [--n 2] [--width 1] [--epochs 2] [--cpu-images 256] [--json FILE]

One epoch of ``shortcut.experiments.cifar.train_epoch`` (SGD with Nesterov momentum, batch 128,
augmentation on the device, as ``train`` runs it) of the pre-ResNet of depth ``--depth`` and shortcut
depth ``--n``, on the stand-in (MNIST digits padded to 32×32×3, 4,000 training images — not CIFAR-10:
the speed is the same, the images being the same size). On CUDA four ways: float32 or mixed precision
(``cifar.precision``: bf16 autocast where the GPU has it), each with the images and weights in the
default layout or channels_last; ``train`` uses mixed precision and channels_last. On the CPU plain
float32 on ``--cpu-images`` images (a CPU is far slower at this depth). After one epoch that is not timed
(cuDNN's autotuner picks its kernels then), the best of ``--epochs`` timed epochs, in images per second.
Without CUDA only the CPU row runs.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

import torch

from shortcut.experiments.cifar import load_images, precision, prepare, train_epoch
from shortcut.science.preresnet import PreResNet, count_params

SGD = {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 1e-4}  # train()'s defaults (fb.resnet.torch)
BATCH = 128


def images_per_second(data, args, device: torch.device, amp: bool, channels_last: bool) -> dict:
    """Train a fresh net for 1 + ``args.epochs`` epochs on ``data``; the best timed epoch's images/s."""
    torch.manual_seed(0)
    model = PreResNet(args.depth, args.n, width=args.width)
    opt = prepare(model, device, channels_last=channels_last, **SGD)
    mode = precision(device, amp=amp)
    gen = torch.Generator().manual_seed(0)
    x = data.x_train.to(device)  # augmentation runs where the images are, as in train()
    best, losses = math.inf, []
    for epoch in range(1 + args.epochs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        loss, _ = train_epoch(model, opt, SGD["lr"], mode, x, data.y_train, gen, BATCH, False, device,
                              channels_last=channels_last)  # the loss is read back: the epoch has ended
        if epoch > 0:
            best = min(best, time.perf_counter() - t0)
        losses.append(loss)
    return {"device": str(device), "amp": mode.label, "channels_last": channels_last, "images": data.n_train,
            "images_per_s": data.n_train / best, "epoch_s": best, "train_loss": losses,
            "finite": all(math.isfinite(v) for v in losses)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depth", type=int, default=110)
    ap.add_argument("--n", type=int, default=2, help="shortcut depth n (2: the standard pre-ResNet)")
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs (after one untimed)")
    ap.add_argument("--images", type=int, default=None, help="training images on CUDA (default: all 4,000)")
    ap.add_argument("--cpu-images", type=int, default=256, help="training images on the CPU")
    ap.add_argument("--json", default=None, help="also write every row to this JSON file")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else None
    model = PreResNet(args.depth, args.n, width=args.width)
    report = {"device_name": name, "cuda": cuda, "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
              "machine": platform.machine(), "depth": args.depth, "n": args.n, "width": args.width,
              "params": count_params(model), "batch": BATCH, "epochs_timed": args.epochs, "rows": []}

    def write():
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")

    print(f"pre-ResNet D={args.depth} n={args.n} width {args.width:g} ({count_params(model):,} parameters), batch {BATCH};"
          f" torch {torch.__version__}; CUDA: {name or 'not available (skipped)'}")
    head = f"{'device':<8}{'precision':<18}{'channels_last':>14}{'images':>8}{'images/s':>11}{'vs float32':>11}"
    print(head + "\n" + "-" * len(head))
    runs = [("cuda", amp, cl) for amp in (False, True) for cl in (False, True)] if cuda else []
    runs.append(("cpu", False, False))
    base = None
    for dev, amp, cl in runs:
        data = load_images("standin", n_train=args.images if dev == "cuda" else args.cpu_images, n_test=100)
        row = images_per_second(data, args, torch.device(dev), amp, cl)
        if dev == "cuda" and base is None:
            base = row["images_per_s"]  # float32, default layout
        ratio = f"{row['images_per_s'] / base:10.2f}x" if dev == "cuda" else f"{'':>11}"
        print(f"{dev:<8}{row['amp']:<18}{'yes' if cl else 'no':>14}{row['images']:>8}{row['images_per_s']:11.1f}{ratio}")
        report["rows"].append(row)
        write()
    bad = [r for r in report["rows"] if not r["finite"]]
    if bad:
        print(f"FAILED: the training loss was not finite in {len(bad)} run(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
