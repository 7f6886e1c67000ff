"""shortcut.science.fit.loglog_fit: the exponent of a power law (Theorem 1's O(1/L), Fig 4's growth)."""

import math

import numpy as np
import pytest

from shortcut.science.fit import loglog_fit


def test_recovers_a_power_law():
    L = np.array([10.0, 100.0, 1000.0])
    fit = loglog_fit(L, 3.0 / L)
    assert fit["slope"] == pytest.approx(-1.0) and math.exp(fit["intercept"]) == pytest.approx(3.0)
    assert fit["r2"] == pytest.approx(1.0)


def test_a_noisy_law_has_r2_below_one_and_the_right_slope():
    L = np.array([10.0, 20.0, 40.0, 80.0])
    fit = loglog_fit(L, L ** 0.5 * np.array([1.0, 1.1, 0.9, 1.0]))
    assert fit["slope"] == pytest.approx(0.5, abs=0.05) and fit["r2"] < 1.0


def test_non_finite_points_are_left_out_and_fewer_than_two_give_nan():
    fit = loglog_fit([1.0, 2.0, 4.0, 8.0], [1.0, 0.5, np.inf, 0.125])
    assert fit["slope"] == pytest.approx(-1.0)
    for xs, ys in (([1.0], [1.0]), ([1.0, 2.0], [1.0, 0.0]), ([], [])):
        assert all(math.isnan(v) for v in loglog_fit(xs, ys).values())
