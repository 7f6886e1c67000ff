"""One build at a time on a results folder: a second build waits, naming the first, then reuses its work.

Two builds on one results folder (``_build/results/<profile>``) would run the same chapters twice
and race on the same records, verdicts and staged notebooks. :func:`results_lock` takes an exclusive
``flock`` on ``<results_dir>/.build.lock``; the file holds the holder's pid, start time and command,
so a build that finds the folder taken says whose it is and waits for it. The kernel releases a
``flock`` when its process ends, however it ends, so a killed build's lock is taken over at once:
there is no stale lock to clean up.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Iterator

LOCK_FILE = ".build.lock"
#: How often a waiting build says it is still waiting (seconds).
REMIND_S = 60.0


def holder(path: Path) -> dict:
    """What the lock file says of the build holding it (pid, started, command); {} if unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def describe(info: dict) -> str:
    if not info:
        return "another build (it left no details)"
    return f"build pid {info.get('pid', '?')}, started {info.get('started', '?')} ({info.get('command', '')})"


@contextlib.contextmanager
def results_lock(results_dir: Path, out=None, remind_s: float = REMIND_S) -> Iterator[Path]:
    """Hold the results folder's build lock for the ``with`` block; wait (saying for whom) while
    another build holds it."""
    out = out or sys.stdout
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            t0 = time.monotonic()
            print(f"==> {results_dir} is in use by {describe(holder(path))}: waiting for it to end; "
                  "what it computes is reused, not computed again", file=out, flush=True)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(0.5)
                    if time.monotonic() - t0 >= remind_s:
                        t0 = time.monotonic()
                        print(f"==> still waiting for {describe(holder(path))}", file=out, flush=True)
            print(f"==> {results_dir}: the other build ended; going on", file=out, flush=True)
        info = {"pid": os.getpid(), "started": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock
