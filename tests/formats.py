"""Writers of the data formats the loaders read (IDX, CIFAR-10 pickles): the tests make small,
format-exact files with them. They live with the tests, not in the library: nothing in the book writes data."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np

from shortcut.science.data import CIFAR10_CLASSES, DataError, _IDX_UBYTE


def write_idx(path: str | os.PathLike, array: np.ndarray) -> Path:
    """Write ``array`` (integer values 0..255) as a uint8 IDX file; gzipped if ``path`` ends in ``.gz``."""
    path = Path(path)
    a = np.asarray(array)
    if a.ndim < 1 or a.ndim > 255:
        raise DataError(f"{path}: IDX needs 1..255 dimensions, got shape {a.shape}")
    if a.size and (not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 255 or np.any(a != np.round(a))):
        raise DataError(f"{path}: IDX uint8 needs integer values in 0..255")
    payload = struct.pack(f">HBB{a.ndim}i", 0, _IDX_UBYTE, a.ndim, *a.shape) + a.astype(np.uint8).tobytes()
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)
    return path


def write_cifar10_batch(path: str | os.PathLike, data: np.ndarray, labels,
                        batch_label: str = "synthetic batch", filenames=None) -> Path:
    """Write a format-exact CIFAR-10 batch (pickle protocol 2, bytes keys).

    ``data``: uint8 ``(k, 3072)`` rows (1024 red, 1024 green, 1024 blue) or images ``(k, 32, 32, 3)``.
    """
    path = Path(path)
    data = np.asarray(data)
    if data.ndim == 4 and data.shape[1:] == (32, 32, 3):
        data = data.transpose(0, 3, 1, 2).reshape(len(data), 3072)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: data must be uint8 (k, 3072) or (k, 32, 32, 3), got {data.dtype} {data.shape}")
    labels = [int(v) for v in labels]
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels")
    if filenames is None:
        filenames = [f"image_{i:05d}.png" for i in range(len(data))]
    batch = {
        b"batch_label": batch_label.encode(),
        b"labels": labels,
        b"data": np.ascontiguousarray(data),
        b"filenames": [f.encode() if isinstance(f, str) else f for f in filenames],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)
    return path


def write_cifar10_meta(path: str | os.PathLike, num_cases_per_batch: int = 10000,
                       label_names=CIFAR10_CLASSES) -> Path:
    """Write a ``batches.meta`` file in the CIFAR-10 format."""
    path = Path(path)
    meta = {b"num_cases_per_batch": int(num_cases_per_batch),
            b"label_names": [s.encode() for s in label_names], b"num_vis": 3072}
    with open(path, "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return path
