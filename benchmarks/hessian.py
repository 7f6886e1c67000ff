"""Benchmark: exact Hessian + spectrum, and many-models-at-once training, against the obvious baselines.

    python benchmarks/hessian.py [--depths 8 16 32] [--samples 5000] [--device auto] [--repeat 3]
                                 [--tables 1 2 3] [--budget SECONDS] [--json FILE]

Table 1 (linear 2-shortcut and plain nets on whitened MNIST digits, float64): our exact Hessian
(closed-form Kronecker blocks of the second-moment loss) + eigenvalues + summary, our generic route
(vmapped forward-over-reverse HVPs of the same loss), against
``torch.autograd.functional.hessian`` on the same loss written the obvious way (a sum over the
samples), and against ``torch.linalg.eigvalsh`` alone on the result — the floor of any exact spectrum.
Table 2: epochs per second of a 32-rate learning-rate grid trained at once with ``vmap`` against the
same 32 models trained one at a time by the same function (``train_gd`` with one rate per call,
so both produce the same records). Table 3: one vmapped gradient of B deep linear 2-shortcut nets (a 21-rate
grid, or ten seeds of it), our ``end_to_end`` (the weights unbound once) against the same product written with
per-matrix indexing ``W[l, j]``, whose backward writes every matrix's gradient into a zero tensor of
the full parameter size (O(depth²) per gradient). Best of ``--repeat`` timings; every ratio is from
this run.

``--budget S`` lets Table 1 climb a long list of depths in bounded time: for each model it stops
before the first depth whose row would, by the last row's timings scaled as P³ (the eigendecomposition),
take that model's rows past S seconds (the autograd baseline not counted). ``--json FILE`` also
writes every row, as it is measured, to FILE.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from shortcut.science.data import problem
from shortcut.experiments.device import pick_device
from shortcut.experiments.zoo import make_net
from shortcut.science.hessian import hessian, summarize
from shortcut.science.init import initialize
from shortcut.science.loss import make_loss
from shortcut.science.models import end_to_end, weights
from shortcut.experiments.gd import log_grid, train_gd


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


class Report:
    """The rows measured so far, by table, rewritten to a JSON file after each one (None: nowhere)."""

    def __init__(self, path: str | None, **about):
        self.path, self.data = (Path(path) if path else None), {**about, "tables": {}}
        self.write()

    def add(self, table: str, row: dict) -> None:
        self.data["tables"].setdefault(table, []).append(row)
        self.write()

    def write(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, indent=1) + "\n")


def hessian_table(prob, depths, repeat, device, baseline_max_depth, budget=None, report=None):
    print("\nTable 1 - exact Hessian + spectrum (float64, seconds, best of %d)" % repeat
          + (f"; at most about {budget:g} s per model" if budget is not None else ""))
    head = f"{'model':<11}{'D':>4}{'P':>6}{'ours H':>9}{'HVP route':>10}{'ours H+eig':>11}{'eigvalsh':>10}" \
           f"{'autograd H':>11}{'autograd/ours':>14}{'H/eig':>7}"
    print(head)
    print("-" * len(head))
    rows = []
    for model in ("2-shortcut", "xavier"):
        spent, last = 0.0, None  # seconds of this model's rows so far; (P, warm seconds) of its last row
        for depth in depths:
            net, scheme = make_net(model, depth, d=prob.X.shape[0])
            if budget is not None and last is not None:
                predicted = last[1] * (net.num_params / last[0]) ** 3
                if spent + predicted > budget:
                    print(f"{model:<11}{depth:>4}{net.num_params:>6}  not run: about {predicted:.0f} s predicted, "
                          f"past the budget ({spent:.0f} of {budget:g} s spent)")
                    break
            t_row = time.perf_counter()
            theta = initialize(net, scheme, seed=0, device=device)
            loss = make_loss(net, prob.X, prob.Y)
            t_h, H = best_time(lambda: hessian(loss, theta), repeat, device)
            t_hvp, H_hvp = best_time(lambda: hessian(loss, theta, method="hvp"), repeat, device)
            assert float((H_hvp - H).abs().max() / H.abs().max()) < 1e-10
            t_eig, lam = best_time(lambda: torch.linalg.eigvalsh(H), repeat, device)
            t_all, _ = best_time(lambda: summarize(torch.linalg.eigvalsh(hessian(loss, theta))), repeat, device)
            spent += time.perf_counter() - t_row  # wall clock, first calls' set-up included
            last = (net.num_params, repeat * (t_h + t_hvp + t_eig + t_all))  # what the row costs once warm
            t_ref = None
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
            if report is not None:
                report.add("hessian", {"model": model, "depth": depth, "P": net.num_params, "ours_H": t_h,
                                       "hvp_route": t_hvp, "ours_H_eig": t_all, "eigvalsh": t_eig,
                                       "autograd_H": t_ref, "H_over_eig": t_h / t_eig})
    return rows


def gemm_gflops(repeat: int, device: torch.device, n: int = 2000) -> float:
    """The machine's float64 matrix-product speed: one n × n × n ``torch.mm``, best of ``repeat``."""
    a = torch.randn(n, n, dtype=torch.float64, device=device)
    torch.mm(a, a)
    t, _ = best_time(lambda: torch.mm(a, a), repeat, device)
    return 2 * n**3 / t / 1e9


def relu_gflop(net, m: int, hist) -> float:
    """GFLOP of the gradients a ReLU run computed: 3 products of d × d by d × m per matrix (one forward,
    two backward), for every model at every epoch until it diverged (the fused kernel skips the rest)."""
    evals = sum(int(e) + 1 if e >= 0 else hist.loss.shape[1] for e in hist.diverged_at)
    return 3 * 2 * net.d**2 * m * net.depth * evals / 1e9


def training_table(prob, depth, epochs, repeat, device, report=None):
    gemm = gemm_gflops(repeat, device)
    print(f"\nTable 2 - full-batch GD of a 32-rate grid, depth {depth} (epochs per second, best of {repeat});"
          f" float64 GEMM on this machine: {gemm:.1f} GFLOP/s")
    head = (f"{'model':<20}{'vmap (32 at once)':>18}{'one at a time':>15}{'speed-up':>10}"
            f"{'fused kernel':>14}{'fused/vmap':>12}{'GFLOP/s':>9}{'of GEMM':>9}")
    print(head)
    print("-" * len(head))
    lrs = log_grid(1e-3, 1.0, 32)
    for model, mid in (("2-shortcut", "id"), ("2-shortcut", "relu")):
        net, scheme = make_net(model, depth, d=prob.X.shape[0], mid=mid)
        theta = initialize(net, scheme, seed=0, device=device)
        loss = make_loss(net, prob.X, prob.Y)
        grid = lambda kernel: train_gd(loss, theta, lrs, epochs, progress=False, kernel=kernel)  # noqa: E731
        t_vmap, hist = best_time(lambda: grid("autograd"), repeat, device)

        def one_at_a_time():  # the same training function and records, one rate per call
            for lr in lrs:
                train_gd(loss, theta, [lr], epochs, progress=False, kernel="autograd")

        t_loop, _ = best_time(one_at_a_time, repeat, device)
        # all run `epochs` epochs of all 32 models with identical records; epochs per second of the grid
        label = f"{model} ({'linear' if mid == 'id' else 'ReLU mid'})"
        row = f"{label:<20}{epochs / t_vmap:18.1f}{epochs / t_loop:15.1f}{t_loop / t_vmap:9.1f}x"
        out = {"model": label, "depth": depth, "epochs": epochs, "vmap_epochs_per_s": epochs / t_vmap,
               "one_at_a_time_epochs_per_s": epochs / t_loop, "fused_epochs_per_s": None, "gemm_gflops": gemm}
        if mid == "relu" and device.type == "cpu":
            grid("fused")  # compile (or read numba's cache) outside the timing
            t_fused, fast = best_time(lambda: grid("fused"), repeat, device)
            gap = max(abs(a - b) / abs(b) for a, b in zip(fast.final_loss, hist.final_loss) if b == b and b != 0)
            assert gap < 1e-9, f"the fused kernel's final losses differ from autograd's by {gap:.2e}"
            rate = relu_gflop(net, prob.m, fast) / t_fused
            row += f"{epochs / t_fused:14.1f}{t_vmap / t_fused:11.1f}x{rate:9.1f}{rate / gemm:9.2f}"
            out.update(fused_epochs_per_s=epochs / t_fused, fused_gflops=rate)
        else:
            row += f"{'—':>14}{'':>12}{'':>9}{'':>9}"
        print(row)
        if report is not None:
            report.add("training", out)


def end_to_end_indexed(net, theta):
    """``models.end_to_end`` written the obvious way, indexing one matrix at a time (the baseline)."""
    W = weights(net, theta)
    eye = torch.eye(net.d, dtype=theta.dtype, device=theta.device)
    A = eye
    for l in range(net.L):
        M = W[l, 0]
        for j in range(1, net.n):
            M = W[l, j] @ M
        A = (eye + M if net.shortcut else M) @ A
    return A


def gradient_table(prob, depths, repeat, device, batches=(21, 210), report=None):
    print(f"\nTable 3 - one vmapped gradient of B linear 2-shortcut nets (seconds, best of {repeat})")
    head = f"{'D':>5}{'B':>5}{'indexing W[l, j]':>18}{'ours (unbind)':>15}{'speed-up':>10}"
    print(head)
    print("-" * len(head))
    Sxx, Sxy = prob.X @ prob.X.T / prob.m, prob.X @ prob.Y.T / prob.m
    for depth in depths:
        net, scheme = make_net("2-shortcut", depth, d=prob.X.shape[0])
        for B in batches:  # 21: one seed's rate grid; 210: ten seeds' (what one vmap could hold)
            theta = torch.stack([initialize(net, scheme, seed=s, device=device) for s in range(B)])
            times, grads = [], []
            for product in (end_to_end_indexed, end_to_end):
                def loss(th, product=product):  # the second-moment loss of models.Loss, less the constant
                    A = product(net, th)
                    return 0.5 * (A @ Sxx * A).sum() - (A * Sxy.T).sum()

                g = torch.func.vmap(torch.func.grad(loss))
                t, out = best_time(lambda: g(theta), repeat, device)
                times.append(t)
                grads.append(out)
            assert torch.allclose(*grads, rtol=1e-10, atol=1e-14), "the two products disagree"
            print(f"{depth:>5}{B:>5}{times[0]:18.4f}{times[1]:15.4f}{times[0] / times[1]:9.1f}x")
            if report is not None:
                report.add("gradient", {"depth": depth, "B": B, "indexing": times[0], "unbind": times[1]})


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
    ap.add_argument("--grad-depths", type=int, nargs="+", default=[16, 32, 96])
    ap.add_argument("--tables", type=int, nargs="+", choices=(1, 2, 3), default=[1, 2, 3], help="which tables to run")
    ap.add_argument("--budget", type=float, default=None,
                    help="Table 1: stop a model's depths before one predicted to take it past this many seconds")
    ap.add_argument("--json", default=None, help="also write every measured row to this JSON file")
    args = ap.parse_args()
    device = pick_device(args.device)
    torch.set_default_dtype(torch.float64)
    prob = problem("mnist", n=args.samples, device=device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    print(f"machine: {platform.machine()}, {platform.processor() or platform.platform()}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}"
          + (f" ({name})" if name else ""))
    print(f"data: {prob.source}; m = {prob.m} samples, d = {prob.X.shape[0]}")
    report = Report(args.json, device=str(device), device_name=name, torch=torch.__version__,
                    threads=torch.get_num_threads(), machine=platform.machine(), data=prob.source,
                    repeat=args.repeat, budget=args.budget)
    if 1 in args.tables:
        hessian_table(prob, args.depths, args.repeat, device, args.baseline_max_depth, args.budget, report)
    if 2 in args.tables:
        training_table(prob, args.train_depth, args.train_epochs, args.repeat, device, report)
    if 3 in args.tables:
        gradient_table(prob, args.grad_depths, args.repeat, device, report=report)


if __name__ == "__main__":
    main()
