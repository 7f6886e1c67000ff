"""Where a build's time goes, chapter by chapter (``shortcut.book.build --profile-time``, ``make profile-book``).

For each executed chapter: its wall time, split into the kernel's start-up (until its first cell runs),
its set-up cells (the parameters, ``configure`` and the imports: the leading code cells that only set
up), the work the library times by kind (:mod:`shortcut.science.timing`: GD epochs, Hessians,
eigendecompositions, CIFAR steps) and the rest of the kernel's time (plots, tables, glue, data
loading, and waiting on a process pool). Work done in a pool's workers is shown by kind as well, in
worker-seconds (two workers side by side give up to twice the wall time). The site build is one more row.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..experiments.records import atomic_write
from ..science.timing import KINDS, read_folder

SETUP = re.compile(r"^\s*(import |from \S+ import |logging\.|plots\.setup|if P\.executor)|configure\(", re.M)


def _when(stamp: str) -> float:
    """Seconds since the epoch of one of papermill's ISO time stamps (UTC)."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).replace(tzinfo=timezone.utc).timestamp()


def is_setup(cell: Any) -> bool:
    """Whether a code cell only sets the chapter up: its parameters, ``configure``, the imports."""
    tags = cell.get("metadata", {}).get("tags", [])
    if "parameters" in tags or "injected-parameters" in tags:
        return True
    lines = [ln for ln in cell.source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(lines) and all(SETUP.search(ln) or ln.startswith((" ", "\t")) for ln in lines)


def chapter_row(chapter: str, nb: Any, started: float, wall: float, folder: Path, build_pid: int,
                cpu: float | None = None) -> dict:
    """One chapter's times (seconds) from its executed notebook ``nb`` (papermill's per-cell record),
    the wall clock at which its execution began, the ledgers its processes left in ``folder`` and the
    CPU seconds of its kernel and workers (``cpu``; ``cpu / wall`` is how many cores it kept busy)."""
    cells = [c for c in nb.cells if c.cell_type == "code" and c.get("metadata", {}).get("papermill", {}).get("start_time")]
    first = _when(cells[0].metadata.papermill["start_time"]) if cells else started + wall
    setup = 0.0
    for cell in cells:
        if not is_setup(cell):
            break
        setup += float(cell.metadata.papermill.get("duration") or 0.0)
    kernel = read_folder(folder, parent=build_pid)
    every = read_folder(folder)
    row = {"chapter": chapter, "wall": wall, "cpu": cpu if cpu is not None else float("nan"), "side_by_side": cpu is None,
           "start-up": max(0.0, first - started), "set-up": setup}
    for kind in KINDS:
        row[kind] = every.get(kind, {}).get("seconds", 0.0)
    in_kernel = sum(v["seconds"] for v in kernel.values())
    row["workers"] = sum(v["seconds"] for v in every.values()) - in_kernel
    row["other"] = max(0.0, wall - row["start-up"] - setup - in_kernel)
    return row


COLUMNS = ["wall", "cpu", "start-up", "set-up", *KINDS, "other", "workers"]


def _cell(value: float) -> str:
    return f"{value:.0f}" if value == value else "–"


def table(rows: list[dict]) -> str:
    """The rows as a Markdown table, seconds rounded, with a total row (the wall time of chapters run side
    by side, ``side_by_side`` rows, counted once, in their group's row)."""
    head = "| chapter | " + " | ".join(COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    # the chapters of a side-by-side run overlap: their group's row counts the wall and CPU time, they do not
    alone = [r for r in rows if not r.get("side_by_side")]
    total = {c: sum(v for r in (alone if c in ("wall", "cpu") else rows) if (v := r.get(c, 0.0)) == v)  # nan: left out
             for c in COLUMNS}
    for r in [*rows, {"chapter": "**total**", **total}]:
        lines.append(f"| {r['chapter']} | " + " | ".join(_cell(r.get(c, 0.0)) for c in COLUMNS) + " |")
    return "\n".join(lines)


LEGEND = ("wall: the chapter from launch to last cell; cpu: the CPU seconds of its kernel and workers (cpu/wall: the "
          "cores kept busy); start-up: the kernel until its first cell; set-up: parameters, "
          "configure and imports; " + "; ".join(f"{k}: {v}" for k, v in KINDS.items())
          + " (of the kernel and its workers); other: the rest of the kernel's time (plots, tables, data, waiting on "
          "workers); workers: the timed work of a process pool's workers, in worker-seconds (inside the kinds).")


def write(path: Path, rows: list[dict]) -> None:
    with atomic_write(path) as fh:
        json.dump(rows, fh, indent=1)
