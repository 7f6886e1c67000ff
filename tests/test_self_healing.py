"""Self-healing run records: an unreadable record is set aside (``<name>.corrupt``), logged and recomputed;
an interrupted sweep keeps every finished record, and a re-run does only the rest."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from processes import ended

from shortcut.experiments.records import (CORRUPT_SUFFIX, load_records, read_record, record_path, set_aside,
                                          usable_record, write_record)
from shortcut.experiments.sweep import pending, records_for, run_sweep

JOBS = [{"figure": "toy", "seed": s} for s in range(4)]
CALLS: list[int] = []


def square(job: dict) -> dict:
    CALLS.append(job["seed"])
    return {"value": job["seed"] ** 2, "curve": [1.0, float("nan")]}


def _fresh(tmp_path):
    CALLS.clear()
    assert run_sweep(tmp_path, JOBS, square, progress=False) == len(JOBS)
    CALLS.clear()
    return record_path(tmp_path, JOBS[1])


def _truncate(path):
    path.write_text(path.read_text()[:37])


def _garbage(path):
    path.write_bytes(b"\x00\xff\xfe not json at all \x80")


def _no_key(path):
    doc = json.loads(path.read_text())
    doc["keyz"] = doc.pop("key")
    path.write_text(json.dumps(doc))


def _another_runs_key(path):
    doc = json.loads(path.read_text())
    doc["key"] = {"figure": "toy", "seed": 99}
    path.write_text(json.dumps(doc))


def _empty(path):
    path.write_text("")


DAMAGE = {"truncated JSON": _truncate, "garbage bytes": _garbage, "no 'key'": _no_key,
          "another run's key": _another_runs_key, "empty file": _empty}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_record_is_set_aside_logged_and_recomputed(damage, tmp_path, caplog):
    path = _fresh(tmp_path)
    DAMAGE[damage](path)
    bad_bytes = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="shortcut.experiments.records"):
        assert run_sweep(tmp_path, JOBS, square, progress=False) == 1   # only the damaged one runs again
    assert CALLS == [1]
    kept = path.with_name(path.name + CORRUPT_SUFFIX)
    assert kept.read_bytes() == bad_bytes                                    # kept for a look, not deleted
    assert read_record(path, JOBS[1]).data["value"] == 1                     # recomputed, readable
    assert any(path.name in r.getMessage() and kept.name in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records)
    assert sorted(r.key["seed"] for r in load_records(tmp_path)) == [0, 1, 2, 3]
    assert run_sweep(tmp_path, JOBS, square, progress=False) == 0


def test_load_records_sets_a_damaged_record_aside_and_returns_the_others(tmp_path, caplog):
    path = _fresh(tmp_path)
    _truncate(path)
    with caplog.at_level(logging.WARNING, logger="shortcut.experiments.records"):
        records = load_records(tmp_path)
    assert sorted(r.key["seed"] for r in records) == [0, 2, 3]
    assert not path.exists() and path.with_name(path.name + CORRUPT_SUFFIX).exists()
    assert f"run record {path} cannot be read" in caplog.text
    assert pending(tmp_path, JOBS) == [JOBS[1]]


def test_records_for_leaves_a_damaged_record_out(tmp_path):
    path = _fresh(tmp_path)
    _garbage(path)
    assert [r.key["seed"] for r in records_for(tmp_path, JOBS)] == [0, 2, 3]
    assert usable_record(tmp_path, JOBS[1]) is None
    assert path.with_name(path.name + CORRUPT_SUFFIX).exists()


def test_a_second_damage_keeps_the_first_corrupt_copy(tmp_path):
    path = _fresh(tmp_path)
    _truncate(path)
    assert run_sweep(tmp_path, JOBS, square, progress=False) == 1
    _empty(path)
    assert run_sweep(tmp_path, JOBS, square, progress=False) == 1
    first, second = path.with_name(path.name + CORRUPT_SUFFIX), path.with_name(path.name + ".1" + CORRUPT_SUFFIX)
    assert first.stat().st_size > 0 and second.stat().st_size == 0
    assert len(load_records(tmp_path)) == len(JOBS)


def test_set_aside_of_a_file_already_gone_is_quiet(tmp_path):
    assert set_aside(tmp_path / "gone.json", "reason") is None


def test_a_record_is_read_back_with_its_own_key(tmp_path):
    key = {"model": "2-shortcut", "eps": 1e-4, "lrs": [0.1, 1.0], "seed": 0}
    path = write_record(tmp_path, key, {"x": 1})
    assert read_record(path, key).key == key
    with pytest.raises(ValueError, match="holds the key"):
        read_record(path, {**key, "seed": 1})


# ---------------------------------------------------------------------------------------------------
# interrupted sweeps (Ctrl-C is a KeyboardInterrupt)
# ---------------------------------------------------------------------------------------------------

TEN = [{"figure": "toy", "seed": s} for s in range(10)]


def interrupted_at_4(job: dict) -> dict:
    if job["seed"] == 4:
        raise KeyboardInterrupt
    return square(job)


def test_an_interrupted_sweep_keeps_every_finished_record_and_a_rerun_does_the_rest(tmp_path, caplog):
    CALLS.clear()
    with caplog.at_level(logging.WARNING, logger="shortcut.experiments.sweep"), pytest.raises(KeyboardInterrupt):
        run_sweep(tmp_path, TEN, interrupted_at_4, progress=False, desc="toy")
    assert CALLS == [0, 1, 2, 3]                                   # nothing ran after the interruption
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.json")}
    assert len(before) == 4
    assert sorted(r.key["seed"] for r in load_records(tmp_path)) == [0, 1, 2, 3]   # intact, readable
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*" + CORRUPT_SUFFIX))
    assert "toy: interrupted; 4 of 10 runs have records" in caplog.text and "the 6 left" in caplog.text

    CALLS.clear()
    assert run_sweep(tmp_path, TEN, square, progress=False) == 6
    assert CALLS == [4, 5, 6, 7, 8, 9]                             # only the rest
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.json") if p.name in before} == before  # untouched
    assert len(load_records(tmp_path)) == 10


STARTED: list[int] = []
_LOCK = threading.Lock()


def slow_interrupted_at_2(job: dict) -> dict:
    with _LOCK:
        STARTED.append(job["seed"])
    if job["seed"] == 2:
        raise KeyboardInterrupt
    time.sleep(0.3)
    return {"value": job["seed"]}


def test_an_interrupted_pool_sweep_writes_what_finished_and_cancels_what_had_not_started(tmp_path):
    STARTED.clear()
    with ThreadPoolExecutor(max_workers=1) as ex, pytest.raises(KeyboardInterrupt):
        run_sweep(tmp_path, TEN, slow_interrupted_at_2, executor=ex, progress=False)   # all 10 submitted at once
    have = sorted(r.key["seed"] for r in load_records(tmp_path))
    assert have[:2] == [0, 1] and 2 not in have                    # the two that finished first are kept
    assert len(STARTED) <= 4                                       # 0, 1, 2 and at most the one running then
    assert run_sweep(tmp_path, TEN, square, progress=False) == 10 - len(have)
    assert len(load_records(tmp_path)) == 10


SLOW_POOL = """
import logging, signal, sys, threading, time
from pathlib import Path
from shortcut.experiments.sweep import make_executor, run_sweep
import slowjob

def ctrl_c_to_another_thread():
    # what the OS may do with a Ctrl-C: hand it to a thread other than the main one, which then sleeps on
    while len(list(Path(sys.argv[2]).glob("[0-9]*"))) < 3:
        time.sleep(0.1)
    time.sleep(0.5)
    signal.pthread_kill(threading.get_ident(), signal.SIGINT)

if __name__ == "__main__":
    # Python's own Ctrl-C handler, as in a terminal: a test run in the background of a script (CI) inherits
    # SIGINT ignored, and Python then installs none
    signal.signal(signal.SIGINT, signal.default_int_handler)
    logging.basicConfig(level=logging.INFO)
    if sys.argv[3] == "thread":
        threading.Thread(target=ctrl_c_to_another_thread, daemon=True).start()
    with make_executor("process", workers=2) as ex:
        run_sweep(Path(sys.argv[1]), [{"figure": "toy", "seed": s} for s in range(6)], slowjob.nap, executor=ex,
                  progress=False)
"""

SLOW_JOB = """
import os, time
from pathlib import Path

def nap(job):
    tmp = Path(os.environ["STARTED_DIR"], f".{job['seed']}")
    tmp.write_text(str(os.getpid()))
    os.replace(tmp, tmp.with_name(str(job["seed"])))  # whole, or not there
    time.sleep(600 if job["seed"] else 0)
    return {"value": job["seed"]}
"""


@pytest.mark.parametrize("to", ["driver", "thread"])
def test_a_ctrl_c_not_sent_to_the_workers_ends_a_process_pool_sweep_at_once(tmp_path, to):
    """To the driver alone; or, as the OS may deliver it, to one of the driver's other threads."""
    import os
    import signal
    import subprocess
    import sys

    (tmp_path / "slowjob.py").write_text(SLOW_JOB)
    started = tmp_path / "started"
    started.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "STARTED_DIR": str(started)}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_POOL, str(tmp_path / "records"), str(started), to], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    t0 = time.time()
    while len(list(started.glob("[0-9]*"))) < 3 and time.time() - t0 < 120:  # seed 0 done, two 600 s naps running
        time.sleep(0.1)
    workers = {int(p.read_text()) for p in started.glob("[0-9]*")}
    assert len(workers) == 2, "the pool never started its jobs"
    time.sleep(0.5)
    if to == "driver":
        proc.send_signal(signal.SIGINT)  # to the driver only, not its process group
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail("the driver waited for its workers' jobs after Ctrl-C")
    assert "KeyboardInterrupt" in err and "1 of 6 runs have records" in err, err
    assert len(load_records(tmp_path / "records")) == 1
    for pid in workers:  # the workers ended with it
        assert ended(pid, within_s=5), f"worker {pid} outlived the interrupted sweep"
