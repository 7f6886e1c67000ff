"""Run records and resumable sweeps: atomic files, resume after a kill, same records either way."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from shortcut.experiments.records import has_record, load_records, read_record, record_path, write_record
from shortcut.experiments.sweep import InlineExecutor, make_executor, pending, run_sweep

HERE = Path(__file__).parent


def slow_job(job: dict) -> dict:
    """A small deterministic GD run that takes a moment (module level: picklable)."""
    from shortcut.science.init import initialize
    from shortcut.science.loss import make_loss
    from shortcut.science.models import Net
    from shortcut.experiments.gd import train_gd

    net = Net(d=3, n=2, L=job["L"])
    g = torch.Generator().manual_seed(job["seed"])
    X = torch.randn(3, 20, generator=g, dtype=torch.float64)
    hist = train_gd(make_loss(net, X, X.flip(0)), initialize(net, "zero", seed=job["seed"]), [0.1], 50, progress=False)
    time.sleep(job.get("sleep", 0))
    return hist.run(0)


def square_job(job: dict) -> dict:
    return {"y": job["x"] ** 2}


def failing_job(job: dict) -> dict:
    if job["seed"] == 1:
        raise RuntimeError("boom")
    return {"value": job["seed"]}


JOBS = [{"L": L, "seed": s, "sleep": 0.4} for L in (1, 2) for s in range(4)]


def test_record_round_trip_with_nan(tmp_path):
    key = {"model": "2-shortcut", "depth": 16, "seed": 0}
    path = write_record(tmp_path, key, {"loss": [1.0, float("nan"), float("inf")], "best": float("nan"), "n": 3})
    assert path == record_path(tmp_path, key) and has_record(tmp_path, key)
    rec = read_record(path)
    assert rec.key == key and rec.data["n"] == 3
    assert rec.data["loss"][0] == 1.0 and math.isnan(rec.data["loss"][1]) and math.isnan(rec.data["loss"][2])
    assert json.loads(path.read_text())["schema"] == 1          # plain, standard JSON
    assert [r.key for r in load_records(tmp_path, model="2-shortcut")] == [key]
    assert load_records(tmp_path, model="xavier") == []
    assert not list(tmp_path.glob(".*.tmp"))


def test_damaged_record_is_named(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"schema": 1, "key": {')
    with pytest.raises(ValueError, match="x.json cannot be read"):
        read_record(bad)
    bad.write_text('{"hello": 1}')
    with pytest.raises(ValueError, match="not a schema-1 record"):
        read_record(bad)


def test_sweep_skips_finished_jobs(tmp_path):
    jobs = [{"L": 1, "seed": s} for s in range(3)]
    assert run_sweep(tmp_path, jobs, slow_job, progress=False) == 3
    assert run_sweep(tmp_path, jobs, slow_job, progress=False) == 0
    assert pending(tmp_path, jobs + [{"L": 2, "seed": 0}]) == [{"L": 2, "seed": 0}]


def test_a_failing_job_does_not_lose_the_others(tmp_path):
    jobs = [{"seed": s} for s in range(3)]
    with pytest.raises(RuntimeError, match="boom"):
        run_sweep(tmp_path, jobs, failing_job, executor=InlineExecutor(), progress=False)
    assert [has_record(tmp_path, j) for j in jobs] == [True, False, True]


def test_unknown_executor_is_named():
    with pytest.raises(ValueError, match="unknown executor 'mpi'; allowed: inline, process, dask"):
        with make_executor("mpi"):
            pass


def test_killed_sweep_resumes_to_the_same_records(tmp_path):
    """Kill a sweep mid-way (SIGKILL), re-run it: same records as an uninterrupted sweep."""
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    run_sweep(full, JOBS, slow_job, progress=False)
    script = (f"import sys; sys.path.insert(0, {str(HERE)!r}); from test_sweep import JOBS, slow_job; "
              f"from shortcut.experiments.sweep import run_sweep; run_sweep({str(resumed)!r}, JOBS, slow_job, progress=False)")
    proc = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.time() + 60
    while len(list(resumed.glob("*.json"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(resumed.glob("*.json")))
    assert 2 <= done < len(JOBS), "the kill must land mid-sweep"
    assert run_sweep(resumed, JOBS, slow_job, progress=False) == len(JOBS) - done
    a = {tuple(sorted(r.key.items())): r.data for r in load_records(full)}
    b = {tuple(sorted(r.key.items())): r.data for r in load_records(resumed)}
    assert a == b


def test_process_pool_gives_the_same_records(tmp_path):
    jobs = [{"L": 1, "seed": s} for s in range(2)]
    run_sweep(tmp_path / "inline", jobs, slow_job, progress=False)
    sys.path.insert(0, str(HERE))
    with make_executor("process", workers=2) as ex:
        run_sweep(tmp_path / "pool", jobs, slow_job, executor=ex, progress=False)
    assert [r.data for r in load_records(tmp_path / "inline")] == [r.data for r in load_records(tmp_path / "pool")]


def test_run_jobs_returns_the_records_in_job_order(tmp_path):
    from types import SimpleNamespace

    from shortcut.experiments.sweep import run_jobs

    jobs = [{"x": 3}, {"x": 1}, {"x": 2}]
    recs = run_jobs(SimpleNamespace(executor="inline", workers=None), tmp_path, jobs, square_job, desc="t")
    assert [r.key["x"] for r in recs] == [3, 1, 2]
    assert [r.data["y"] for r in recs] == [9, 1, 4]
    assert len(run_jobs(SimpleNamespace(), tmp_path, jobs[:1], failing_job, desc="t")) == 1  # resumed: not re-run
