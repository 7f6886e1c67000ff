"""Benchmark: the learning-rate grid of Figures 7 and 8 trained on CUDA against the CPU.

    python benchmarks/gpu_train.py [--depths 16 64] [--epochs 300] [--figures 7 8] [--budget 60] [--json FILE]

The jobs are the book's own (``fig7.jobs`` and ``fig8.jobs`` at the ``paper`` profile: 21 rates from
1e-3 to 100, ε = 1e-4, the profile's models), at the depths, epochs and sample counts given here and one
seed. Each job is one (model, depth) trained at every rate at once by ``zoo.gd_job``, as a sweep runs it,
in float64: on the CPU with what ``train_gd`` takes there (the fused kernel for Figure 8's ReLU nets,
the vmapped autograd grid of the second-moment loss for Figure 7's linear nets), then on CUDA (the
vmapped autograd grid). For each job: epochs per second of the whole grid on each device, the
speed-up, and the check that both trained the same models: the same rates diverged at the same epochs,
and the final losses of the others agree to ``AGREE`` (relative).

Without CUDA only the CPU side runs, and the CUDA columns say it was skipped. ``--budget S``: a job is
not started when the jobs so far and this one's predicted time (that of the last job of the same
figure, scaled by depth) would take the run past S seconds. Exit status 1 if a job's devices disagree.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from types import SimpleNamespace

import torch

from shortcut.book.profiles import chapter_defaults
from shortcut.experiments.zoo import gd_job, make_net
from shortcut.figures import fig7, fig8, rates
from shortcut.science import fused

ROOT = Path(__file__).resolve().parents[1]
AGREE = 1e-9  # float64 GD on two devices: the same numbers to round-off, amplified by the epochs
FIGURES = {7: fig7, 8: fig8}


def parameters(args) -> SimpleNamespace:
    """The ``paper`` profile's ``mnist`` section with this run's depths, epochs, samples and models."""
    P = dict(chapter_defaults("paper", "mnist", root=ROOT))
    P.update(depths=args.depths, relu_depths=args.depths, epochs=args.epochs, seeds=1, device="cpu")
    if args.samples is not None:
        P.update(n_samples=args.samples, relu_samples=args.samples)
    if args.models:
        P.update(models=args.models, relu_models=args.models)
    return SimpleNamespace(**P)


def timed(job: dict, device: str) -> tuple[float, dict]:
    if device == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = gd_job(job, device=device)  # its records are copied to the host: the device is done
    return time.perf_counter() - t0, out


def compare(cpu: dict, gpu: dict) -> dict:
    """Whether both devices trained the same runs: divergence epochs, and the final losses' largest gap."""
    div_cpu = [r["diverged_at"] for r in cpu["runs"]]
    div_gpu = [r["diverged_at"] for r in gpu["runs"]]
    gaps = [abs(a["loss"][-1] - b["loss"][-1]) / abs(a["loss"][-1])
            for a, b in zip(cpu["runs"], gpu["runs"])
            if a["diverged_at"] < 0 and b["diverged_at"] < 0 and a["loss"][-1] != 0]
    gap = max(gaps, default=0.0)
    same = div_cpu == div_gpu
    return {"max_rel_gap": gap, "same_divergence": same, "agree": bool(same and gap <= AGREE)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--figures", type=int, nargs="+", choices=sorted(FIGURES), default=[8, 7])
    ap.add_argument("--depths", type=int, nargs="+", default=[16, 64])
    ap.add_argument("--epochs", type=int, default=300, help="full-batch steps (the paper: 1000)")
    ap.add_argument("--samples", type=int, default=None, help="samples (default: the profile's, 5000)")
    ap.add_argument("--models", nargs="+", default=None, help="models of both figures (default: the profile's)")
    ap.add_argument("--budget", type=float, default=None, help="seconds; jobs predicted to end past it are not run")
    ap.add_argument("--json", default=None, help="also write every job's row to this JSON file")
    args = ap.parse_args()
    torch.set_default_dtype(torch.float64)
    P = parameters(args)
    jobs = sorted(((f, j) for f in args.figures for j in FIGURES[f].jobs(P)), key=lambda fj: fj[1]["depth"])
    cuda = torch.cuda.is_available()
    name = torch.cuda.get_device_name(0) if cuda else None
    report = {"device_name": name, "cuda": cuda, "torch": torch.__version__, "cpu_threads": torch.get_num_threads(),
              "machine": platform.machine(), "rates": len(rates.lrs(P)), "lr_range": [P.lr_min, P.lr_max],
              "epochs": P.epochs, "agree": AGREE, "budget": args.budget, "jobs": [], "not_run": []}

    def write():
        if args.json:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads; CUDA: {name or 'not available (skipped)'}")
    print(f"{len(jobs)} jobs (figures {args.figures}, depths {args.depths}), {len(rates.lrs(P))} rates from "
          f"{P.lr_min:g} to {P.lr_max:g}, {P.epochs} epochs, float64")
    devices = ["cpu"] + (["cuda"] if cuda else [])
    for f in args.figures:  # compile numba's kernel, initialise CUDA, load the data: outside the timings
        warm = next(j for g, j in jobs if g == f)
        for dev in devices:
            gd_job({**warm, "epochs": 1}, device=dev)
    head = (f"{'fig':>4} {'model':<11}{'D':>4}{'P':>6} {'CPU kernel':<10}{'CPU ep/s':>10}{'CUDA ep/s':>11}"
            f"{'CUDA/CPU':>10}{'max gap':>10}{'diverged':>9}  ok")
    print(head + "\n" + "-" * len(head))
    t_start, last, failed = time.perf_counter(), {}, False  # last: figure -> (depth, seconds) of its last job
    for f, job in jobs:
        if args.budget is not None and f in last:
            predicted = last[f][1] * job["depth"] / last[f][0]
            if time.perf_counter() - t_start + predicted > args.budget:
                print(f"{f:>4} {job['model']:<11}{job['depth']:>4}  not run: about {predicted:.0f} s predicted, past "
                      f"the budget of {args.budget:g} s")
                report["not_run"].append({"figure": f, "model": job["model"], "depth": job["depth"]})
                write()
                continue
        net, _ = make_net(job["model"], job["depth"], mid=job["mid"])
        kernel = "fused" if fused.supports(net) else "autograd"
        t_cpu, out_cpu = timed(job, "cpu")
        row = {"figure": f, "model": job["model"], "depth": job["depth"], "mid": job["mid"], "P": net.num_params,
               "samples": job["n_samples"], "rates": len(job["lrs"]), "epochs": job["epochs"], "cpu_kernel": kernel,
               "cpu_s": t_cpu, "cpu_epochs_per_s": job["epochs"] / t_cpu,
               "diverged": int(sum(r["diverged_at"] >= 0 for r in out_cpu["runs"])),
               "cuda_s": None, "cuda_epochs_per_s": None, "speedup": None,
               "max_rel_gap": None, "same_divergence": None, "agree": None}
        t_gpu = 0.0
        if cuda:
            t_gpu, out_gpu = timed(job, "cuda")
            row.update(cuda_s=t_gpu, cuda_epochs_per_s=job["epochs"] / t_gpu, speedup=t_cpu / t_gpu,
                       **compare(out_cpu, out_gpu))
            failed |= not row["agree"]
            cols = (f"{row['cuda_epochs_per_s']:11.1f}{row['speedup']:9.1f}x{row['max_rel_gap']:10.1e}"
                    f"{row['diverged']:>9}  {'yes' if row['agree'] else 'NO'}")
        else:
            cols = f"{'skipped':>11}{'':>10}{'':>10}{row['diverged']:>9}  —"
        print(f"{f:>4} {job['model']:<11}{job['depth']:>4}{net.num_params:>6} {kernel:<10}"
              f"{row['cpu_epochs_per_s']:10.1f}" + cols)
        last[f] = (job["depth"], t_cpu + t_gpu)
        report["jobs"].append(row)
        write()
    if failed:
        print(f"FAILED: CUDA and the CPU trained different models (divergence, or final losses apart by more than {AGREE:g})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
