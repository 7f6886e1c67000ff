"""Where a chapter's time goes: wall seconds by kind of work, for ``shortcut.book.build --profile-time``.

``with timed("hessian"): ...`` adds the block's wall time to the kind ``hessian`` of this process. A kind
nested in another is counted once, in the inner kind (the outer one keeps only its own time), so the
kinds of one process add up to the time spent inside any of them. Nothing is measured unless the
environment variable ``SHORTCUT_TIMING`` names a folder; then each process (a chapter's kernel, every
worker of its process pool) keeps ``<folder>/<pid>.json`` up to date, written atomically at the end of
each outermost block, for the build to add up (:func:`read_folder`).
"""

from __future__ import annotations

import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ENV = "SHORTCUT_TIMING"
KINDS = {
    "gd": "full-batch GD epochs (loss and gradients of every run)",
    "hessian": "exact Hessians (closed form or Hessian-vector products)",
    "eigh": "eigendecompositions of Hessians",
    "cifar": "CIFAR-pipeline training steps and evaluations",
}

_totals: dict[str, list[float]] = {}  # kind -> [own seconds, blocks], of the process _pid
_stack: list[list[float]] = []  # per open block: [start, seconds of the blocks nested in it]
_pid = os.getpid()


@contextmanager
def timed(kind: str) -> Iterator[None]:
    """Count the block's wall time as ``kind`` (minus the time of the kinds nested in it)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind of work {kind!r}; allowed: {', '.join(KINDS)}")
    folder = os.environ.get(ENV)
    if not folder:
        yield
        return
    global _pid
    if os.getpid() != _pid:  # a forked worker starts its own count, not a copy of its parent's
        _pid = os.getpid()
        _totals.clear()
        _stack.clear()
    _stack.append([time.perf_counter(), 0.0])
    try:
        yield
    finally:
        start, nested = _stack.pop()
        seconds = time.perf_counter() - start
        entry = _totals.setdefault(kind, [0.0, 0])
        entry[0] += seconds - nested
        entry[1] += 1
        if _stack:
            _stack[-1][1] += seconds
        else:
            _write(Path(folder))


def _write(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{os.getpid()}.json"
    tmp = path.with_suffix(".tmp")
    kinds = {k: {"seconds": s, "blocks": n} for k, (s, n) in _totals.items()}
    tmp.write_text(json.dumps({"ppid": os.getppid(), "kinds": kinds}), encoding="utf-8")
    os.replace(tmp, path)


def read_folder(folder: str | os.PathLike, parent: int | None = None) -> dict[str, dict[str, float]]:
    """The kinds of the processes that wrote to ``folder``, added up: ``{kind: {"seconds", "blocks",
    "processes"}}`` (seconds of all processes together: more than the wall time when they ran side by
    side); with ``parent``, only those of the processes whose parent it is (a chapter's kernel, not its
    workers)."""
    out: dict[str, dict[str, float]] = {}
    for path in sorted(Path(folder).glob("*.json")) if Path(folder).is_dir() else []:
        data = json.loads(path.read_text(encoding="utf-8"))
        if parent is not None and data["ppid"] != parent:
            continue
        for kind, v in data["kinds"].items():
            row = out.setdefault(kind, {"seconds": 0.0, "blocks": 0, "processes": 0})
            row["seconds"] += v["seconds"]
            row["blocks"] += v["blocks"]
            row["processes"] += 1
    return out
