"""Pick the torch device: the GPU when there is one, the CPU otherwise, always overridable."""

from __future__ import annotations

import os
import sys

import torch

_ALLOWED = ("auto", "cpu", "cuda", "cuda:N", "mps")


def pick_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return ``torch.device`` for ``device`` ('auto' or None: CUDA if available, else CPU).

    Raises ValueError naming the parameter when the device is unknown or not available here.
    """
    if isinstance(device, torch.device):
        return device
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device={device!r} is not a device; allowed: {', '.join(_ALLOWED)}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but CUDA is not available on this machine; use 'auto' or 'cpu'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was asked for but MPS is not available on this machine; use 'auto' or 'cpu'")
    return dev


def cpu_single_thread(device: str | torch.device) -> None:
    """On the CPU, one intra-op thread for this process and for the processes it spawns later.

    The paper's networks are 10 × 10 matrices: too small for several threads to help, and on a
    2-core machine one thread per process ran several times faster than two under load, so sweeps
    run jobs side by side (process executor) instead.
    """
    if torch.device(device).type == "cpu":
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = os.environ["NUMBA_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
        if "numba" in sys.modules:  # NUMBA_NUM_THREADS is read at import; numba is imported on first use
            sys.modules["numba"].set_num_threads(1)
