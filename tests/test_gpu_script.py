"""benchmarks/gpu.sh, the GPU checks and benchmarks in one run: end to end at its smoke size (GPU_SMOKE=1).

On a machine without CUDA (CI's) the CUDA stages must be skipped, saying why, and the rest must run and
exit 0; on one with CUDA every stage must pass. Then gpu_train's check that two devices trained the same
models, on made-up records.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from loading import load_module

ROOT = Path(__file__).resolve().parents[1]
CUDA_STAGES = ("pytest-cuda", "hessian-cuda")


@pytest.mark.slow  # about a minute of wall time: run once, not in the one-thread pass
def test_gpu_script_runs_end_to_end_and_skips_cuda_without_it(tmp_path):
    out = tmp_path / "gpu"
    env = {k: v for k, v in os.environ.items() if k != "OUT"}
    env.update(GPU_SMOKE="1", GPU_INSTALL="0", GPU_PYTHON=sys.executable)
    proc = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu.sh"), str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert {"summary.md", "summary.json", "gpu.log", "hessian-cpu.json", "train.json", "cifar.json"} <= \
        {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    status = {s["stage"]: s for s in summary["stages"]}
    assert list(status) == ["setup", "pytest-cuda", "hessian-cuda", "hessian-cpu", "train", "cifar"]
    assert summary["failed"] == []
    cuda = torch.cuda.is_available()
    for name, stage in status.items():
        if name in CUDA_STAGES and not cuda:
            assert stage["status"] == "skipped" and "no CUDA" in stage["note"]
        else:
            assert stage["status"] == "passed", stage
    results = summary["results"]
    assert results["hessian-cpu"]["tables"]["hessian"], "Table 1 measured nothing on the CPU"
    assert results["train"]["jobs"] and all(j["cpu_epochs_per_s"] > 0 for j in results["train"]["jobs"])
    assert [r["device"] for r in results["cifar"]["rows"]][-1] == "cpu"
    if not cuda:
        assert results["hessian-cuda"] is None
        assert all(j["cuda_s"] is None and j["agree"] is None for j in results["train"]["jobs"])
        assert len(results["cifar"]["rows"]) == 1
    md = (out / "summary.md").read_text()
    assert "## Stages" in md and "rate grid" in md and "images/s" in md
    assert ("skipped (no CUDA)" in md) != cuda


def _gpu_train():
    return load_module(ROOT / "benchmarks" / "gpu_train.py")


def test_gpu_train_agreement_needs_the_same_divergences_and_final_losses():
    compare = _gpu_train().compare

    def job(*runs):
        return {"runs": [{"loss": [1.0, final], "diverged_at": at} for final, at in runs]}

    cpu = job((0.5, -1), (float("nan"), 1))
    assert compare(cpu, job((0.5 * (1 + 1e-12), -1), (float("nan"), 1)))["agree"]
    assert not compare(cpu, job((0.5 * (1 + 1e-7), -1), (float("nan"), 1)))["agree"]
    different = compare(cpu, job((0.5, -1), (float("nan"), 2)))
    assert not different["agree"] and not different["same_divergence"]


def test_the_cifar_loop_takes_channels_last_and_amp_off_as_gpu_cifar_asks(one_thread):
    """``prepare`` / ``train_epoch`` with ``channels_last=True`` on the CPU: the same epoch as the default
    layout (to float32 round-off); ``precision(amp=False)`` is plain float32 on any device."""
    from shortcut.experiments.cifar import load_images, precision, prepare, train_epoch
    from shortcut.science.preresnet import PreResNet

    assert precision(torch.device("cuda"), amp=False).label == "float32"
    data = load_images("standin", n_train=64, n_test=10)
    losses = []
    for channels_last in (False, True):
        torch.manual_seed(0)
        model = PreResNet(8, 2, width=0.25)
        opt = prepare(model, torch.device("cpu"), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4,
                      channels_last=channels_last)
        assert model.stem.weight.is_contiguous(memory_format=torch.channels_last) == channels_last
        loss, _ = train_epoch(model, opt, 0.1, precision(torch.device("cpu")), data.x_train, data.y_train,
                              torch.Generator().manual_seed(0), 32, False, torch.device("cpu"),
                              channels_last=channels_last)
        losses.append(loss)
    assert abs(losses[0] - losses[1]) < 1e-4 * abs(losses[0])
