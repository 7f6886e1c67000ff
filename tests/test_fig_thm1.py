"""Theorem 1's protocol (shortcut.figures.thm1): each check where the claim holds, where it does not, and
where it cannot be decided, on small synthetic tables; then the whole protocol on a few real images."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from shortcut.figures import thm1
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE


def table(L=(100, 200, 400), walk=None, merge=1.3, error=1e-14, sensitivity=50.0) -> pd.DataFrame:
    """A table shaped like thm1.compute's: by default walk products 3/L, merges of product 1.3, exact fits."""
    L = np.asarray(L, dtype=float)
    walk = 3.0 / L if walk is None else np.asarray(walk, dtype=float)
    n = len(L)
    return pd.DataFrame({"delta": 1.0 / L, "L": L.astype(int), "n_merge": 5, "max_walk_product": walk,
                         "max_merge_product": np.broadcast_to(merge, n).astype(float),
                         "max_error": np.broadcast_to(error, n).astype(float),
                         "max_sensitivity": np.broadcast_to(sensitivity, n).astype(float)})


def test_fit_passes_when_every_label_is_hit():
    assert thm1.check_fit(table(error=1e-14)).outcome == PASSED


def test_fit_fails_when_a_label_is_missed_by_well_conditioned_networks():
    c = thm1.check_fit(table(error=[1e-14, 1e-3, 1e-14]))
    assert c.outcome == FAILED and "1.0e-03" in c.detail


def test_fit_is_undecidable_when_float64_cannot_check_the_construction():
    c = thm1.check_fit(table(error=[1e-14, np.inf, 1e-14], sensitivity=[50.0, 1e19, 50.0]))
    assert c.outcome == UNDECIDABLE and "round-off" in c.reason


def test_fit_fails_when_one_missing_network_is_well_conditioned():
    c = thm1.check_fit(table(error=[1e-2, 1e-2, 1e-14], sensitivity=[1e19, 10.0, 10.0]))
    assert c.outcome == FAILED


def test_slope_passes_for_one_over_L():
    c = thm1.check_slope(table())
    assert c.outcome == PASSED and "slope -1.000" in c.detail


@pytest.mark.parametrize("power", [-0.5, -1.2, 0.0])
def test_slope_fails_for_another_power(power):
    L = np.array([100.0, 200.0, 400.0])
    assert thm1.check_slope(table(L=L, walk=3.0 * L ** power)).outcome == FAILED


def test_slope_just_inside_and_outside_the_tolerance():
    L = np.array([100.0, 200.0, 400.0])
    inside, outside = thm1.SLOPE - 0.9 * thm1.SLOPE_TOLERANCE, thm1.SLOPE + 1.1 * thm1.SLOPE_TOLERANCE
    assert thm1.check_slope(table(L=L, walk=L ** inside)).outcome == PASSED
    assert thm1.check_slope(table(L=L, walk=L ** outside)).outcome == FAILED


def test_slope_is_undecidable_with_one_step_length():
    c = thm1.check_slope(table(L=[100]))
    assert c.outcome == UNDECIDABLE and "no slope" in c.reason


def test_small_fails_with_a_large_merge_unit_and_passes_without():
    assert thm1.check_small(table(merge=1.3)).outcome == FAILED
    assert thm1.check_small(table(merge=0.4)).outcome == PASSED
    no_merge = thm1.check_small(table(merge=np.nan))
    assert no_merge.outcome == PASSED and "no merge units" in no_merge.detail


def test_checks_add_up_to_partly_when_labels_repeat():
    from shortcut.figures.checks import verdict

    assert verdict(thm1.checks(table())) == "partly"
    assert verdict(thm1.checks(table(merge=np.nan))) == "reproduced"


def test_draw_plots_the_points_and_the_fit():
    fig = thm1.draw(table(), note="synthetic")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 4  # walk points, fit, merge units, the line at 1
    assert "slope -1.000" in [t.get_text() for t in ax.get_legend().get_texts()][1]


def test_run_builds_networks_on_real_images_and_fits_every_label():
    P = SimpleNamespace(dataset="mnist", data_dir=None, t1_samples=20, t1_deltas=[0.2, 0.1], t1_eta=0.5)
    result = thm1.run(P)
    assert result.label == "Theorem 1" and list(result.table["L"]) == sorted(result.table["L"])
    assert [c.outcome for c in result.checks[:1]] == [PASSED]
    assert result.checks[2].outcome == FAILED  # 20 images of 10 classes: labels repeat, merge units ≥ 1
    assert "MNIST" in result.scale["data"] and result.numbers["m"] == 20
    assert set(result.numbers) >= {"rho", "err", "slope", "r2", "merge", "data"}
