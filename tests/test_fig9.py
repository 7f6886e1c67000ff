"""Fig 9's protocol (shortcut.figures.fig9): its jobs, its table, and each check both ways on made-up errors."""

import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from shortcut.experiments.records import Record
from shortcut.figures import fig9
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE
from shortcut.figures.result import Result

TWO, OTHERS = 0, 1   # the checks, in the order fig9.checks returns them


def table(errors: dict[int, dict[int, float]]) -> pd.DataFrame:
    """Fig 9's table from the mean final error of each (n, depth)."""
    return pd.DataFrame([{"n": n, "model": f"{n}-shortcut", "depth": d, "mean": e, "std": 0.01, "runs": 2}
                         for n, by_depth in errors.items() for d, e in by_depth.items()])


def outcomes(errors) -> list[str]:
    return [c.outcome for c in fig9.checks(table(errors))]


BETTER = {14: 0.10, 38: 0.08, 74: 0.06}    # improves up to the deepest depth
WORSE = {14: 0.10, 38: 0.12, 74: 0.15}     # gets worse with depth
DIP = {14: 0.10, 38: 0.07, 74: 0.09}       # best in the middle


def test_the_paper_s_picture_passes_both_checks():
    assert outcomes({1: WORSE, 2: BETTER, 3: DIP, 4: WORSE}) == [PASSED, PASSED]


def test_every_n_improving_fails_the_contrast_and_n2_degrading_fails_the_first():
    found = fig9.checks(table({1: BETTER, 2: BETTER, 4: WORSE}))
    assert [c.outcome for c in found] == [PASSED, FAILED] and "[1]" in found[OTHERS].detail
    assert outcomes({1: WORSE, 2: DIP}) == [FAILED, PASSED]
    assert outcomes({1: BETTER, 2: WORSE}) == [FAILED, FAILED]


def test_too_few_depths_cannot_decide():
    found = fig9.checks(table({2: BETTER}))                     # no other n
    assert [c.outcome for c in found] == [PASSED, UNDECIDABLE] and "no n other than 2" in found[OTHERS].reason
    found = fig9.checks(table({1: WORSE, 2: {38: 0.05}}))        # n = 2 at one depth only
    assert [c.outcome for c in found] == [UNDECIDABLE, PASSED] and "n = 2 has records at fewer" in found[TWO].reason
    found = fig9.checks(table({1: {38: 0.1}, 2: {38: 0.05}}))
    assert [c.outcome for c in found] == [UNDECIDABLE, UNDECIDABLE]
    assert Result(label="Figure 9", claim=fig9.CLAIM, checks=found, scale={}).verdict == "inconclusive"


def test_a_depth_whose_runs_all_failed_is_not_the_lowest():
    assert outcomes({1: WORSE, 2: {**BETTER, 110: math.nan}}) == [FAILED, PASSED]
    assert outcomes({1: {14: math.nan, 38: math.nan}, 2: BETTER}) == [PASSED, UNDECIDABLE]


def test_numbers_at_the_deepest_depth():
    assert fig9.at_deepest(table({1: WORSE, 2: BETTER, 3: {14: 0.1}})) == "D = 74: n=1 15.00%, n=2 6.00%"


# ------------------------------------------------------------------------------------ jobs, table, figure


def params(**kw) -> SimpleNamespace:
    base = dict(dataset="standin", data_dir=None, n_train=20, n_test=10, width=0.25, batch_size=10,
                depths=[8, 14], ns=[1, 2, 3, 4], seeds=2, epochs=1, fig2_depths=[8], fig2_seeds=1, fig2_epochs=1,
                executor="inline", workers=None, address=None, device="cpu", chapter="cifar10")
    return SimpleNamespace(**{**base, **kw})


def test_jobs_every_n_at_the_depths_it_admits_and_seeds_a_count():
    jobs = fig9.jobs(params())
    assert [(j["depth"], j["n"], j["seed"]) for j in jobs] == [
        (8, 1, 0), (8, 1, 1), (8, 2, 0), (8, 2, 1), (14, 1, 0), (14, 1, 1), (14, 2, 0), (14, 2, 1), (14, 4, 0), (14, 4, 1)]
    assert list(jobs[0]) == ["dataset", "width", "n_train", "n_test", "batch_size", "n", "depth", "seed", "epochs",
                             "milestones"]   # the order names the record files: existing records stay found


def record(n: int, depth: int, seed: int, error: float) -> Record:
    return Record(key={"n": n, "depth": depth, "seed": seed}, data={"final_test_error": error}, meta={},
                  path=Path("made-up.json"))


def test_collect_means_over_seeds_leaving_out_failed_runs():
    t = fig9.collect([record(2, 8, 0, 0.2), record(2, 8, 1, 0.4), record(2, 14, 0, math.nan), record(2, 14, 1, 0.1),
                      record(1, 8, 0, 0.3)])
    two = t[t["n"] == 2].set_index("depth")
    assert two.loc[8, "mean"] == pytest.approx(0.3) and two.loc[8, "std"] == pytest.approx(0.1)
    assert two.loc[14, "mean"] == pytest.approx(0.1) and two.loc[14, "runs"] == 1
    assert t["model"].tolist() == ["1-shortcut", "2-shortcut", "2-shortcut"]


def test_draw_one_line_and_band_per_n():
    fig = fig9.draw(table({1: WORSE, 2: BETTER}), scale="data stand-in")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["1-shortcut", "2-shortcut"]
    assert len(ax.collections) == 2                                  # the ±1 std bands
    assert ax.get_lines()[1].get_ydata().tolist() == pytest.approx([10.0, 8.0, 6.0])   # in %


@pytest.mark.usefixtures("one_thread")
def test_run_on_the_standin_gives_no_verdict_on_the_paper(tmp_path):
    result = fig9.run(params(results_dir=tmp_path, ns=[1, 2], seeds=1))
    assert result.verdict == "not tested" and "not CIFAR-10" in result.standin
    assert result.scale["seeds"] == 1 and result.scale["runs"] == 4
    assert {"at_deepest", "deepest", "observed", "detail", "hours", "devices", "scale"} <= set(result.numbers)
    assert result.numbers["observed"].endswith("(on the stand-in, not CIFAR-10)")


@pytest.mark.usefixtures("one_thread")
def test_run_on_cifar10_gives_a_verdict(tmp_path):
    import numpy as np
    from formats import write_cifar10_batch

    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_cifar10_batch(folder / name, rng.integers(0, 256, (20, 32, 32, 3), dtype=np.uint8), np.arange(20) % 10)
    result = fig9.run(params(results_dir=tmp_path, dataset="cifar10", data_dir=tmp_path / "data", n_train=None,
                             n_test=None, ns=[1, 2], seeds=1))
    assert result.standin == "" and result.scale["data"] == "CIFAR-10"
    assert result.verdict in ("reproduced", "partly", "not reproduced", "inconclusive")
    assert result.numbers["observed"] == result.verdict
