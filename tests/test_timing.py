"""Where the time goes: the per-process ledger (shortcut.science.timing) and the build's table
(shortcut.book.time_profile) on a notebook with papermill's per-cell record."""

import json
import multiprocessing as mp
import os
import time

import nbformat
import pytest

from shortcut.book import time_profile
from shortcut.science import timing


@pytest.fixture
def ledger(tmp_path, monkeypatch):
    monkeypatch.setenv(timing.ENV, str(tmp_path))
    timing._totals.clear()
    yield tmp_path
    timing._totals.clear()


def test_nested_kinds_are_counted_once(ledger):
    with timing.timed("gd"):
        time.sleep(0.05)
        with timing.timed("hessian"):
            time.sleep(0.1)
            with timing.timed("eigh"):
                time.sleep(0.05)
    kinds = timing.read_folder(ledger)
    assert set(kinds) == {"gd", "hessian", "eigh"}
    assert kinds["gd"]["seconds"] == pytest.approx(0.05, abs=0.03)
    assert kinds["hessian"]["seconds"] == pytest.approx(0.1, abs=0.03)
    assert kinds["eigh"]["seconds"] == pytest.approx(0.05, abs=0.03)
    total = sum(v["seconds"] for v in kinds.values())
    assert total == pytest.approx(0.2, abs=0.05)  # the outer block's wall time, each second once


def test_nothing_is_measured_or_written_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(timing.ENV, raising=False)
    timing._totals.clear()
    with timing.timed("gd"):
        pass
    assert timing._totals == {}


def test_an_unknown_kind_is_refused(ledger):
    with pytest.raises(ValueError, match="unknown kind of work 'plots'; allowed: gd, hessian"):
        with timing.timed("plots"):
            pass


def _work_in_child(_):
    with timing.timed("eigh"):
        time.sleep(0.02)
    return os.getpid()


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_a_forked_worker_keeps_its_own_ledger_and_names_its_parent(ledger):
    with timing.timed("gd"):
        time.sleep(0.02)
    with mp.get_context("fork").Pool(1) as pool:
        (child,) = pool.map(_work_in_child, [0])
    files = {int(p.stem): json.loads(p.read_text()) for p in ledger.glob("*.json")}
    assert set(files) == {os.getpid(), child}
    assert set(files[child]["kinds"]) == {"eigh"}  # not a copy of the parent's gd
    assert files[child]["ppid"] == os.getpid()
    only_parent = timing.read_folder(ledger, parent=os.getppid())
    assert set(only_parent) == {"gd"}


def _cell(source, start, duration, tags=()):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    cell.metadata["papermill"] = {"start_time": start, "duration": duration}
    return cell


def test_a_chapter_row_splits_start_up_set_up_work_and_the_rest(tmp_path, monkeypatch):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        _cell("profile = None", "2026-12-07T10:00:03.000000Z", 0.01, ["parameters"]),
        _cell("from shortcut.book import configure; P = configure('x', globals())", "2026-12-07T10:00:03.01Z", 1.0),
        _cell("import logging\nfrom shortcut.figures import fig5\nif P.executor != 'inline':\n    pass",
              "2026-12-07T10:00:04.01Z", 2.0),
        _cell("result = fig5.run(P)", "2026-12-07T10:00:06.01Z", 50.0),
    ]
    monkeypatch.setenv(timing.ENV, str(tmp_path))
    timing._totals.clear()
    with timing.timed("gd"):
        time.sleep(0.05)
    timing._totals.clear()
    started = time_profile._when("2026-12-07T10:00:00Z")
    row = time_profile.chapter_row("dynamics", nb, started, 60.0, tmp_path, build_pid=os.getppid(), cpu=90.0)
    assert row["start-up"] == pytest.approx(3.0)
    assert row["set-up"] == pytest.approx(3.01)
    assert row["gd"] == pytest.approx(0.05, abs=0.03)
    assert row["other"] == pytest.approx(60.0 - 3.0 - 3.01 - row["gd"])
    assert row["workers"] == pytest.approx(0.0)
    text = time_profile.table([row])
    assert "| dynamics | 60 | 90 | 3 | 3 |" in text and "| **total** | 60 | 90 |" in text
    site = {"chapter": "(the site build)", "wall": 20.0}
    assert "| (the site build) | 20 | 0 |" in time_profile.table([row, site])
    assert "| x | 1 | – |" in time_profile.table([{"chapter": "x", "wall": 1.0, "cpu": float("nan")}])
    side = [dict(row, chapter="a", side_by_side=True, cpu=float("nan")), dict(row, chapter="b", side_by_side=True,
            cpu=float("nan")), {"chapter": "(both, 2 at a time)", "wall": 70.0, "cpu": 130.0}]
    text = time_profile.table(side)
    assert "| **total** | 70 | 130 |" in text  # the overlapping chapters' walls are counted once, in their group
