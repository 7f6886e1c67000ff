"""The GPU paths against the CPU: Hessians, spectra, training and the pre-ResNet (``pytest -m cuda``).

Every test here runs on CUDA and compares with the same computation on the CPU; without a GPU they are
skipped, saying so. On a GPU machine ``pytest -m cuda`` runs just these. The spectrum test also guards
against wrong eigenvalues from ``torch.linalg.eigvalsh`` on CUDA (pytorch/pytorch#183806).
"""

import pytest
import torch

from shortcut.experiments.cifar import train_job
from shortcut.experiments.gd import train_gd
from shortcut.experiments.zoo import make_net
from shortcut.science.data import problem
from shortcut.science.hessian import hessian, summarize
from shortcut.science.init import initialize
from shortcut.science.loss import make_loss

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")]

CPU, GPU = torch.device("cpu"), torch.device("cuda")


@pytest.fixture(scope="module")
def digits():
    return {dev: problem("mnist", n=500, device=dev) for dev in (CPU, GPU)}


def close(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float = 0.0) -> None:
    torch.testing.assert_close(a.cpu(), b.cpu(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("model,mid", [("2-shortcut", "id"), ("xavier", "id"), ("2-shortcut", "relu")])
def test_hessian_and_spectrum_on_cuda_equal_the_cpu(digits, model, mid):
    net, scheme = make_net(model, 8, mid=mid)
    H = {}
    for dev in (CPU, GPU):
        theta = initialize(net, scheme, seed=0, device=dev)
        H[dev] = hessian(make_loss(net, digits[dev].X, digits[dev].Y), theta)
    close(H[GPU], H[CPU], rtol=1e-9, atol=1e-12 * float(H[CPU].abs().max()))
    lam_cpu, lam_gpu = torch.linalg.eigvalsh(H[CPU]), torch.linalg.eigvalsh(H[GPU])
    close(lam_gpu, lam_cpu, rtol=0, atol=1e-9 * float(lam_cpu.abs().max()))
    s_cpu, s_gpu = summarize(lam_cpu), summarize(lam_gpu.cpu())
    assert s_gpu.index == s_cpu.index and abs(s_gpu.cond / s_cpu.cond - 1) < 1e-6


@pytest.mark.parametrize("mid", ["id", "relu"])
def test_training_on_cuda_equals_the_cpu(digits, mid):
    """A rate grid with one diverging rate: the same records (the CPU takes the fused kernel for ReLU nets)."""
    net, scheme = make_net("2-shortcut", 6, mid=mid)
    hist = {}
    for dev in (CPU, GPU):
        loss = make_loss(net, digits[dev].X, digits[dev].Y)
        hist[dev] = train_gd(loss, initialize(net, scheme, seed=0, device=dev), [0.01, 0.3, 300.0], 30,
                             progress=False)
    assert list(hist[GPU].diverged_at) == list(hist[CPU].diverged_at) and hist[CPU].diverged_at[-1] >= 0
    for name in ("loss", "grad_norm", "frob"):
        a, b = torch.as_tensor(getattr(hist[GPU], name)), torch.as_tensor(getattr(hist[CPU], name))
        close(a, b, rtol=1e-8, atol=1e-300)


def test_preresnet_training_runs_on_cuda():
    """Two epochs of the CIFAR loop (AMP and channels_last on CUDA) on the stand-in: it learns, and the
    record says where it ran."""
    job = {"dataset": "standin", "n": 2, "depth": 8, "seed": 0, "width": 0.25, "n_train": 256, "n_test": 128,
           "epochs": 2}
    out = train_job(job, device="cuda")
    assert out["device"].startswith("cuda")
    losses = out["history"]["train_loss"]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
