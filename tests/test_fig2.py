"""Fig 2's protocol (shortcut.figures.fig2): its jobs, its table, and each check both ways on made-up norms."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from shortcut.experiments.records import Record
from shortcut.figures import fig2
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE
from shortcut.figures.result import Result

ORDERED, LAST, RANK = 0, 1, 2   # the checks, in the order fig2.checks returns them


def table(curves: dict[int, list[float]]) -> pd.DataFrame:
    """Fig 2's table from one mean curve per depth (epoch 0 = the initialisation)."""
    return pd.DataFrame([{"depth": d, "epoch": e, "mean": v, "std": 0.0, "runs": 1}
                         for d, curve in curves.items() for e, v in enumerate(curve)])


def outcomes(curves) -> list[str]:
    return [c.outcome for c in fig2.checks(table(curves))]


# Ten trained epochs; at initialisation the shallow nets have the smaller norm (as in fb.resnet.torch's init).
DEPTHS = (8, 14, 20, 26, 38)


def falling(depth: int, epochs: int = 10) -> list[float]:
    """A norm that starts at 1 + depth/100 and falls to 1 - depth/100: deeper below shallower after epoch 0."""
    return [1 + depth / 100] + list(np.linspace(1 - depth / 200, 1 - depth / 100, epochs))


def test_deeper_smaller_throughout_passes_every_check():
    assert outcomes({d: falling(d) for d in DEPTHS}) == [PASSED] * 3


def test_deeper_larger_fails_every_check():
    assert outcomes({d: [2 - v for v in falling(d)] for d in DEPTHS}) == [FAILED] * 3


def test_ordered_only_late_fails_the_share_of_epochs_and_passes_the_end():
    curves = {d: falling(d) for d in DEPTHS}
    for d in DEPTHS:                      # the first two of ten epochs in the reverse order: 80 % < 90 %
        curves[d][1:3] = [1 + d / 100] * 2
    assert outcomes(curves) == [FAILED, PASSED, PASSED]
    for d in DEPTHS:                      # only the second one: ordered after 9 of 10 epochs, enough
        curves[d][1] = 1 - d / 100
    assert outcomes(curves)[ORDERED] == PASSED


def test_ends_are_checked_apart_from_the_rank_correlation():
    # Last epoch: deepest smallest and shallowest largest, the middle scrambled: Spearman -0.6 > -0.8.
    last = dict(zip(DEPTHS, [5.0, 2.0, 3.0, 4.0, 1.0]))
    curves = {d: falling(d)[:-1] + [last[d]] for d in DEPTHS}
    found = fig2.checks(table(curves))
    assert [c.outcome for c in found][LAST:] == [PASSED, FAILED]
    assert "ρ = -0.60" in found[RANK].detail and "added after the stand-in data were seen" in found[RANK].name
    # Rank correlation -0.9 (one swap in the middle) passes it while the deepest is not the smallest: fails LAST.
    last = dict(zip(DEPTHS, [5.0, 4.0, 3.0, 1.0, 2.0]))
    curves = {d: falling(d)[:-1] + [last[d]] for d in DEPTHS}
    assert outcomes(curves)[LAST:] == [FAILED, PASSED]


def test_one_depth_or_no_trained_epoch_cannot_decide():
    found = fig2.checks(table({20: falling(20)}))
    assert [c.outcome for c in found] == [UNDECIDABLE] * 3
    assert all("fewer than two depths" in c.reason for c in found)
    assert {c.outcome for c in fig2.checks(table({8: [1.0], 14: [0.9]}))} == {UNDECIDABLE}
    result = Result(label="Figure 2", claim=fig2.CLAIM, checks=found, scale={})
    assert result.verdict == "inconclusive"


def test_a_shorter_curve_cuts_every_depth_to_the_epochs_all_have():
    curves = {d: falling(d) for d in DEPTHS}
    curves[38] = curves[38][:4]                 # three trained epochs
    assert list(fig2.norms(table(curves)).columns) == [0, 1, 2, 3]
    assert outcomes(curves) == [PASSED] * 3


def test_numbers_for_the_prose():
    curves = {d: falling(d) for d in DEPTHS}
    t = table(curves)
    n = fig2.numbers(t)
    assert n["ordered"] == "100%" and n["pairs"] == "100%" and n["rho"] == "-1.00"
    assert n["init"].startswith("1.080 (D = 8)")
    assert fig2.numbers(table({8: falling(8)}))["rho"] == "n/a"


# ------------------------------------------------------------------------------------ jobs, table, figure


def params(**kw) -> SimpleNamespace:
    base = dict(dataset="standin", data_dir=None, n_train=20, n_test=10, width=0.25, batch_size=10,
                fig2_depths=[8, 14], fig2_seeds=2, fig2_epochs=2, depths=[8], ns=[1, 2], seeds=1, epochs=1,
                executor="inline", workers=None, address=None, device="cpu", chapter="cifar10")
    return SimpleNamespace(**{**base, **kw})


def test_jobs_one_per_depth_and_seed_with_the_keys_of_the_records_in_their_order():
    jobs = fig2.jobs(params())
    assert [(j["depth"], j["seed"]) for j in jobs] == [(8, 0), (8, 1), (14, 0), (14, 1)]
    assert list(jobs[0]) == ["dataset", "width", "n_train", "n_test", "batch_size", "n", "depth", "seed", "epochs",
                             "milestones"]   # the order names the record files: existing records stay found
    assert jobs[0]["n"] == 2 and jobs[0]["milestones"] == [2, 3]
    with pytest.raises(ValueError, match=r"fig2_depths \[10\] are not standard pre-ResNet depths"):
        fig2.jobs(params(fig2_depths=[8, 10]))


def record(depth: int, seed: int, norms: list[float]) -> Record:
    return Record(key={"depth": depth, "seed": seed}, meta={}, path=Path("made-up.json"),
                  data={"init_avg_frobenius": norms[0], "milestones": [2, 3],
                        "history": {"avg_frobenius": norms[1:], "epoch": list(range(1, len(norms)))}})


def test_collect_averages_runs_per_depth_and_epoch():
    t = fig2.collect([record(8, 0, [1.0, 0.8]), record(8, 1, [3.0, 1.2]), record(14, 0, [2.0, 0.5])])
    eight = t[t["depth"] == 8]
    assert eight["mean"].tolist() == pytest.approx([2.0, 1.0]) and eight["std"].tolist() == pytest.approx([1.0, 0.2])
    assert eight["runs"].tolist() == [2, 2] and t[t["depth"] == 14]["epoch"].tolist() == [0, 1]
    assert fig2.lr_drops([record(8, 0, [1.0, 0.9, 0.8])]) == [2]   # 3 is past the run's two epochs


def test_draw_one_line_per_depth_and_a_dashed_line_per_drop():
    fig = fig2.draw(table({d: falling(d) for d in DEPTHS}), drops=[5], scale="data stand-in")
    ax = fig.axes[0]
    assert len(ax.get_legend().get_texts()) == len(DEPTHS)
    assert len([ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]) == 1


@pytest.mark.usefixtures("one_thread")
def test_run_on_the_standin_gives_no_verdict_on_the_paper(tmp_path):
    result = fig2.run(params(results_dir=tmp_path, fig2_seeds=1, fig2_epochs=1))
    assert result.verdict == "not tested" and "not CIFAR-10" in result.standin
    assert "stand-in" in result.detail and len(result.checks) == 3
    assert {"rho", "ordered", "pairs", "init", "observed", "hours", "devices", "scale"} <= set(result.numbers)
    assert len(list((tmp_path / "cifar10" / "records").glob("*.json"))) == 2
    assert not list((tmp_path / "cifar10" / "checkpoints").rglob("*.pt"))   # finished runs keep no checkpoint
