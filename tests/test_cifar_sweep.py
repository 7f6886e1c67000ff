"""CIFAR pre-ResNet sweeps through Dask: same records as inline; a killed worker's job resumes from its checkpoint."""

import functools
import os
import signal
import threading
import time

import pytest
import torch

pytest.importorskip("distributed")

from shortcut.experiments.cifar import HISTORY_KEYS, job_checkpoint, load_checkpoint, train_job  # noqa: E402
from shortcut.experiments.records import has_record, load_records, read_record, record_path  # noqa: E402
from shortcut.experiments.sweep import make_executor, run_sweep  # noqa: E402

TINY = {"dataset": "standin", "width": 0.25, "n_train": 40, "n_test": 20}
JOBS = [{**TINY, "n": n, "depth": depth, "seed": seed, "epochs": 1}
        for n, depth, seed in ((2, 8, 0), (1, 8, 0), (2, 8, 1))]


pytestmark = pytest.mark.usefixtures("one_thread")


def _same(a: dict, b: dict, rel: float = 1e-4) -> None:
    """Histories equal (seconds aside); floats up to ``rel`` (torch CPU kernels may sum in another
    order when a Dask worker runs them with another number of threads)."""
    for k in HISTORY_KEYS:
        if k == "seconds":
            continue
        assert a["history"][k] == pytest.approx(b["history"][k], rel=rel, abs=1e-6), k
    assert a["num_params"] == b["num_params"]
    assert a["milestones"] == b["milestones"]


@pytest.fixture(scope="module")
def dask_executor():
    """One LocalCluster (2 worker processes) for the tests of this file."""
    with make_executor("dask", workers=2) as ex:
        yield ex


def test_dask_sweep_matches_inline(tmp_path, dask_executor):
    fn = functools.partial(train_job, device="cpu", work_dir=tmp_path / "ckpt")
    inline, dask = tmp_path / "inline", tmp_path / "dask"
    assert run_sweep(inline, JOBS, fn, progress=False) == 3
    assert run_sweep(dask, JOBS, functools.partial(train_job, device="cpu", work_dir=tmp_path / "ckpt-dask"),
                     executor=dask_executor, progress=False) == 3
    for job in JOBS:
        a, b = read_record(record_path(inline, job)), read_record(record_path(dask, job))
        assert a.key == b.key == job
        _same(a.data, b.data)
        assert b.data["resumed_from"] == []
    assert run_sweep(dask, JOBS, fn, progress=False) == 0        # everything has a record: nothing runs


def test_killed_dask_worker_job_resumes_and_keeps_finished_records(tmp_path, dask_executor):
    from distributed import default_client

    quick = {**TINY, "n": 2, "depth": 8, "seed": 0, "epochs": 1}
    slow = {**TINY, "n": 2, "depth": 8, "seed": 3, "epochs": 10, "n_train": 120}
    work, root = tmp_path / "ckpt", tmp_path / "records"
    ckpt = job_checkpoint(work, slow)
    fn = functools.partial(train_job, device="cpu", work_dir=work)
    client = default_client()
    assert run_sweep(root, [quick], fn, executor=dask_executor, progress=False) == 1
    finished = record_path(root, quick).read_bytes()
    errors: list[BaseException] = []
    killed = []

    def sweep():
        try:
            run_sweep(root, [quick, slow], fn, executor=dask_executor, progress=False)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    thread = threading.Thread(target=sweep)
    thread.start()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not killed:           # wait for a checkpoint, then kill its worker
        if ckpt.exists() and 1 <= load_checkpoint(ckpt)["epoch"] <= slow["epochs"] - 2:
            pids = client.run(os.getpid)
            for addr, keys in client.processing().items():     # only the slow job is running
                if keys:
                    os.kill(pids[addr], signal.SIGKILL)
                    killed.append(addr)
        time.sleep(0.02)
    thread.join(timeout=90)
    assert not thread.is_alive()
    assert killed, "the slow job finished before its worker could be killed"
    assert not errors, errors
    assert record_path(root, quick).read_bytes() == finished     # the finished job was neither lost nor re-run
    rec = read_record(record_path(root, slow)).data
    assert rec["resumed_from"] and rec["resumed_from"][0] >= 1  # it went on from its checkpoint
    assert rec["history"]["epoch"] == list(range(1, slow["epochs"] + 1))
    _same(rec, train_job(slow, device="cpu"))                   # and it equals an uninterrupted run
    assert len(load_records(root)) == 2
