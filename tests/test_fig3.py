"""Figure 3's checks on made-up 2-shortcut runs: norms ordered by depth or not, nets that did not train,
and too few depths to tell."""

from types import SimpleNamespace

import numpy as np

from shortcut.figures import fig3
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
from synthetic_runs import EPOCHS, seeds

LRS = (0.1, 1.0)


def runs(norms, finals=None, diverge_at=()):
    """2-shortcut runs of depths 2, 4, 8 with per-epoch norms ``norms[depth]``; every rate ends at
    ``finals[depth]`` (default 0.2, from 0.5), except rate 1.0 diverges at the depths ``diverge_at``."""
    recs = []
    for depth, frob in norms.items():
        final = (finals or {}).get(depth, 0.2)
        recs += seeds("2-shortcut", depth, {0.1: final, 1.0: None if depth in diverge_at else final}, frob=frob)
    return recs


ORDERED = {d: np.linspace(0.01, 1.0 / d, EPOCHS + 1) for d in (2, 4, 8)}  # deeper: smaller, at every epoch


def table(recs, depths=(2, 4, 8)):
    return fig3.collect(recs, list(depths), "linear")


def test_ordered_norms_pass():
    t = table(runs(ORDERED))
    assert set(t["lr"]) == {1.0} and fig3.ordered_fraction(t, 1) == 1.0
    checks = fig3.checks(t, ["linear"], start=1)
    assert [c.outcome for c in checks] == [PASSED, PASSED] and verdict(checks) == "reproduced"


def test_norms_out_of_order_fail():
    crossed = {**ORDERED, 8: np.linspace(0.01, 0.3, EPOCHS + 1)}  # depth 8 above depth 4 from epoch 1 on
    checks = fig3.checks(table(runs(crossed)), ["linear"], start=1)
    assert checks[0].outcome == FAILED and checks[0].detail == "0% of epochs 1–4"


def test_a_net_that_did_not_train_fails():
    checks = fig3.checks(table(runs(ORDERED, finals={8: 0.499})), ["linear"], start=1)
    assert checks[1].outcome == FAILED and checks[1].detail == "not: linear depth 8"


def test_the_common_rate_is_the_largest_at_which_no_depth_diverged():
    t = table(runs(ORDERED, diverge_at=(4,)))
    assert set(t["lr"]) == {0.1}


def test_one_depth_or_none_is_undecidable():
    checks = fig3.checks(table(runs(ORDERED), depths=(4,)), ["linear"], start=1)
    assert checks[0].outcome == UNDECIDABLE and checks[1].outcome == PASSED
    assert verdict(checks) == "inconclusive"
    recs = runs(ORDERED, diverge_at=(2, 4, 8))
    for r in recs:  # every rate diverges somewhere: no common rate
        r.data["runs"][0]["diverged_at"] = 1
    checks = fig3.checks(table(recs), ["linear"], start=1)
    assert [c.outcome for c in checks] == [UNDECIDABLE, UNDECIDABLE]


def test_numbers():
    n = fig3.numbers(table(runs(ORDERED)), {"linear": "lin"}, start=1)
    assert n == {"burn_in": 1, "frac_lin": "100%", "rate_lin": "1",
                 "final_lin": "0.5 (depth 2), 0.25 (depth 4), 0.125 (depth 8)"}


def test_the_runs_and_the_depths_left_out_are_counted():
    t = table(runs(ORDERED))
    assert fig3.runs_text(t, "linear") == "6 runs, none of which diverged at that rate"
    assert fig3.runs_text(t, "ReLU at mid") == "no runs"
    P = SimpleNamespace(depths=[2, 4, 96], relu_depths=[2, 4], fig3_depths=[2, 4, 96])
    assert fig3.excluded(P) == ["ReLU at mid: depths [96] (not among that figure's depths, so not run)"]
    assert fig3.excluded(SimpleNamespace(depths=[2, 4], relu_depths=[2, 4], fig3_depths=[2, 4])) == []
