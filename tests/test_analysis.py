"""Curves from records and verdicts from curves."""

import math

import numpy as np
import pytest

from shortcut.figures.analysis import aggregate, best_final, describe_checks, growth, on_loss_grid, spread, verdict_from
from shortcut.experiments.records import Record


def rec(model, depth, cond):
    return Record(key={"model": model, "depth": depth}, data={"cond": cond}, meta={}, path=None)


def test_aggregate_mean_std_and_nan():
    recs = [rec("a", 2, 1.0), rec("a", 2, 3.0), rec("a", 4, 5.0), rec("a", 4, float("nan")), rec("b", 2, 7.0)]
    agg = aggregate(recs, x="depth", y="cond")
    assert list(agg["a"]["x"]) == [2, 4]
    assert agg["a"]["mean"].tolist() == [2.0, 5.0] and agg["a"]["std"].tolist() == [1.0, 0.0]
    assert agg["a"]["n"].tolist() == [2, 1] and agg["b"]["mean"].tolist() == [7.0]


def test_on_loss_grid_interpolates_linearly_and_masks_outside():
    loss = np.array([4.0, 3.0, 2.0, 1.0])
    values = np.array([40.0, 30.0, 20.0, 10.0])
    out = on_loss_grid(loss, values, np.array([0.5, 1.5, 2.5, 5.0]))
    assert math.isnan(out[0]) and math.isnan(out[3])
    assert out[1:3].tolist() == pytest.approx([15.0, 25.0])


def test_on_loss_grid_uses_the_running_minimum_of_a_non_monotone_loss():
    loss = np.array([4.0, 2.0, 3.0, 1.0])   # a bump at epoch 2
    values = np.array([0.0, 1.0, 2.0, 3.0])
    out = on_loss_grid(loss, values, np.array([2.0, 1.5]))
    # running minimum: 4, 2, 2, 1 -> at loss 2 the last value seen there (2.0); 1.5 halfway to 3.0
    assert out.tolist() == pytest.approx([2.0, 2.5])


def test_best_final_skips_diverged_runs():
    assert best_final({0.1: 0.5, 1.0: float("nan"), 0.01: 0.7}) == (0.1, 0.5)
    lr, loss = best_final({1.0: float("nan")})
    assert math.isnan(lr) and math.isnan(loss)


def test_trends_and_verdicts():
    assert spread([2.0, 2.0, 2.0]) == 1.0 and spread([1.0, 4.0]) == 4.0
    assert growth([1, 2, 4], [1, 4, 16]) == pytest.approx(2.0)
    assert verdict_from({"a": True, "b": True}) == "reproduced"
    assert verdict_from({"a": True, "b": False}) == "partly"
    assert verdict_from({"a": False}) == "not reproduced"
    with pytest.raises(ValueError):
        verdict_from({})
    assert describe_checks({"x": True, "y": False}) == "✓ x; ✗ y"


def test_best_final_ties_go_to_the_largest_rate():
    assert best_final({0.1: 0.5, 0.3: 0.5 * (1 + 1e-12), 1.0: 0.6}, rtol=1e-9) == (0.3, 0.5 * (1 + 1e-12))
    assert best_final({0.1: 0.5, 0.3: 0.5 * (1 + 1e-6)}, rtol=1e-9) == (0.1, 0.5)
