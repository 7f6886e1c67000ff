"""Benchmark: exact Hessian + spectrum, and many-models-at-once training, against the obvious baselines.

    python benchmarks/hessian.py [--depths 8 16 32] [--samples 5000] [--device auto] [--repeat 3]

Table 1 (linear 2-shortcut and plain nets on whitened MNIST digits, float64): our exact Hessian
(closed-form Kronecker blocks of the second-moment loss) + eigenvalues + summary, our generic route
(vmapped forward-over-reverse HVPs of the same loss), against
``torch.autograd.functional.hessian`` on the same loss written the obvious way (a sum over the
samples), and against ``torch.linalg.eigvalsh`` alone on the result — the floor of any exact spectrum.
Table 2: epochs per second of a 32-rate learning-rate grid trained at once with ``vmap`` against the
same 32 models trained one at a time by the same function (``train_gd`` with one rate per call,
so both produce the same records). Best of ``--repeat`` timings; every ratio is from this run.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from shortcut.data import problem
from shortcut.device import pick_device
from shortcut.experiments import build
from shortcut.hessian import hessian, summarize
from shortcut.init import initialize
from shortcut.loss import make_loss
from shortcut.train import log_grid, train_gd


def best_time(fn, repeat: int, device: torch.device) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out


def hessian_table(prob, depths, repeat, device, baseline_max_depth):
    print("\nTable 1 - exact Hessian + spectrum (float64, seconds, best of %d)" % repeat)
    head = f"{'model':<11}{'D':>4}{'P':>6}{'ours H':>9}{'HVP route':>10}{'ours H+eig':>11}{'eigvalsh':>10}" \
           f"{'autograd H':>11}{'autograd/ours':>14}{'H/eig':>7}"
    print(head)
    print("-" * len(head))
    rows = []
    for model in ("2-shortcut", "xavier"):
        for depth in depths:
            net, scheme = build(model, depth, d=prob.X.shape[0])
            theta = initialize(net, scheme, seed=0, device=device)
            loss = make_loss(net, prob.X, prob.Y)
            t_h, H = best_time(lambda: hessian(loss, theta), repeat, device)
            t_hvp, H_hvp = best_time(lambda: hessian(loss, theta, method="hvp"), repeat, device)
            assert float((H_hvp - H).abs().max() / H.abs().max()) < 1e-10
            t_eig, lam = best_time(lambda: torch.linalg.eigvalsh(H), repeat, device)
            t_all, _ = best_time(lambda: summarize(torch.linalg.eigvalsh(hessian(loss, theta))), repeat, device)
            if depth <= baseline_max_depth:
                naive = make_loss(net, prob.X, prob.Y, moments=False)
                t_ref, H_ref = best_time(lambda: torch.autograd.functional.hessian(naive, theta), 1, device)
                err = float((H_ref - H).abs().max() / H.abs().max())
                assert err < 1e-9, f"Hessians disagree: relative error {err:.2e}"
                ref, ratio = f"{t_ref:11.3f}", f"{t_ref / t_all:13.1f}x"
            else:
                ref, ratio = f"{'(skipped)':>11}", f"{'':>14}"
            print(f"{model:<11}{depth:>4}{net.num_params:>6}{t_h:9.3f}{t_hvp:10.3f}{t_all:11.3f}{t_eig:10.3f}{ref}{ratio}"
                  f"{t_h / t_eig:7.2f}")
            rows.append((model, depth, t_h, t_eig))
    return rows


def training_table(prob, depth, epochs, repeat, device):
    print(f"\nTable 2 - full-batch GD of a 32-rate grid, depth {depth} (epochs per second, best of {repeat})")
    head = f"{'model':<20}{'vmap (32 at once)':>18}{'one at a time':>15}{'speed-up':>10}"
    print(head)
    print("-" * len(head))
    lrs = log_grid(1e-3, 1.0, 32)
    for model, mid in (("2-shortcut", "id"), ("2-shortcut", "relu")):
        net, scheme = build(model, depth, d=prob.X.shape[0], mid=mid)
        theta = initialize(net, scheme, seed=0, device=device)
        loss = make_loss(net, prob.X, prob.Y)
        t_vmap, _ = best_time(lambda: train_gd(loss, theta, lrs, epochs, progress=False), repeat, device)

        def one_at_a_time():  # the same training function and records, one rate per call
            for lr in lrs:
                train_gd(loss, theta, [lr], epochs, progress=False)

        t_loop, _ = best_time(one_at_a_time, repeat, device)
        # both run `epochs` epochs of all 32 models with identical records; epochs per second of the grid
        label = f"{model} ({'linear' if mid == 'id' else 'ReLU mid'})"
        print(f"{label:<20}{epochs / t_vmap:18.1f}{epochs / t_loop:15.1f}{t_loop / t_vmap:9.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline-max-depth", type=int, default=32,
                    help="skip torch.autograd.functional.hessian above this depth (it is the slow one)")
    ap.add_argument("--train-depth", type=int, default=16)
    ap.add_argument("--train-epochs", type=int, default=50)
    args = ap.parse_args()
    device = pick_device(args.device)
    torch.set_default_dtype(torch.float64)
    prob = problem("mnist", n=args.samples, device=device)
    print(f"machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""))
    print(f"data: {prob.source}; m = {prob.m} samples, d = {prob.X.shape[0]}")
    hessian_table(prob, args.depths, args.repeat, device, args.baseline_max_depth)
    training_table(prob, args.train_depth, args.train_epochs, args.repeat, device)


if __name__ == "__main__":
    main()
