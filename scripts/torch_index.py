#!/usr/bin/env python3
"""Where pip finds the torch build that the lock pins: prints the pip options to add, or nothing.

The lock pins torch's CPU build (``torch==2.13.0+cpu``), which PyPI does not carry: it lies on
PyTorch's own wheel index (``https://download.pytorch.org/whl/cpu``). ``make`` asks this script
before ``pip install -r <lock>``:

* pip finds that exact wheel **without any index** (a wheel folder in pip's own configuration,
  ``find-links`` / ``PIP_FIND_LINKS``, or torch already installed): nothing to add, and no index is
  contacted, so a machine that cannot reach PyTorch's index never waits on it;
* otherwise, with an index given (``TORCH_INDEX``, PyTorch's CPU index by default): prints
  ``--extra-index-url <index>``;
* otherwise: exits with status 2 and a message that names the missing index.

Usage: ``python scripts/torch_index.py LOCK [INDEX]`` (run by the venv's python, which has pip).
A torch pin without a local version label (``+cpu``) is on PyPI: nothing to add.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

#: PyTorch's CPU wheel index: the one place the lock's torch build is published.
PYTORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def torch_pin(lock: Path) -> str | None:
    """The lock's ``torch==...`` line (without comments), or None if it pins no torch."""
    for line in lock.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if re.match(r"torch==", line):
            return line
    return None


def found_without_index(pin: str) -> bool:
    """Whether pip resolves ``pin`` from its own configuration with every index switched off."""
    probe = [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--no-index", "--quiet", pin]
    return subprocess.run(probe, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


def pip_args(lock: Path, index: str) -> list[str]:
    """The options ``pip install -r lock`` needs to find the lock's torch (see the module's doc)."""
    pin = torch_pin(lock)
    if pin is None or "+" not in pin or found_without_index(pin):
        return []
    if index:
        return ["--extra-index-url", index]
    raise SystemExit(
        f"{lock}: {pin} (torch's CPU build) is not on PyPI, and pip's own configuration has no wheel "
        f"for it. It is on PyTorch's CPU wheel index: run make with TORCH_INDEX={PYTORCH_CPU_INDEX} "
        "(the default; TORCH_INDEX= was set empty) or TORCH_INDEX=<a mirror of it>, or put the wheel "
        "in a folder and set PIP_FIND_LINKS=<that folder>."
    )


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__.strip().splitlines()[0] + "\nusage: torch_index.py LOCK [INDEX]", file=sys.stderr)
        return 2
    lock = Path(argv[0])
    if not lock.is_file():
        print(f"torch_index.py: no lock file {lock}", file=sys.stderr)
        return 2
    try:
        args = pip_args(lock, argv[1] if len(argv) == 2 else PYTORCH_CPU_INDEX)
    except SystemExit as stop:
        print(stop.code, file=sys.stderr)
        return 2
    where = f"from the index {args[1]}" if args else "without an extra index"
    print(f"torch: installing {torch_pin(lock) or 'no torch pin'} {where}", file=sys.stderr)
    print(" ".join(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
