"""Waiting on processes in the tests of interruption (Ctrl-C must not leave a kernel or a worker behind)."""

from __future__ import annotations

import os
import time


def ended(pid: int, within_s: float = 10.0) -> bool:
    """Whether process ``pid`` is gone within ``within_s`` seconds."""
    deadline = time.time() + within_s
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
