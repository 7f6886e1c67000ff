"""The ε study's checks, both ways, on small synthetic tables."""

import numpy as np
import pandas as pd
import pytest

from shortcut.figures import eps
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE

EPS = [1e-6, 1e-4, 1e-2]


def grads(exponents):
    return pd.DataFrame([{"n": n, "eps": e, "seed": 0, "grad_norm": 3.0 * e ** k}
                         for n, k in exponents.items() for e in EPS])


def test_gradient_scaling_holds_and_fails():
    assert [c.outcome for c in eps.gradient_checks(grads({1: 0, 2: 1, 3: 2}))] == [PASSED] * 3
    assert [c.outcome for c in eps.gradient_checks(grads({1: 0, 2: 1, 3: 1}))] == [PASSED, PASSED, FAILED]


def spectra(conds, predicted):
    recs = [type("R", (), {"key": {"eps": e, "depth": d, "seed": 0}, "data": {"cond": c}})()
            for e, row in conds.items() for d, c in row.items()]
    return eps.spectrum_table(recs, predicted)


def test_flat_and_closer_to_theory_as_eps_shrinks():
    pred = {2: 1.0, 8: 1.0}
    good = spectra({1e-6: {2: 1.0, 8: 1.0}, 1e-2: {2: 1.05, 8: 1.1}}, pred)
    assert [c.outcome for c in eps.spectrum_checks(good)] == [PASSED, PASSED, PASSED]
    bad = spectra({1e-6: {2: 1.0, 8: 2.0}, 1e-2: {2: 1.0, 8: 1.01}}, pred)
    assert [c.outcome for c in eps.spectrum_checks(bad)] == [FAILED, PASSED, FAILED]


def test_escape_epoch():
    assert eps.escape_epoch([1.0, 1.0, 0.95, 0.5], optimum=0.5) == 2.0
    assert np.isnan(eps.escape_epoch([1.0, 1.0, 0.99], optimum=0.5))


@pytest.mark.parametrize("slope, outcomes", [(10.0, [PASSED, PASSED]), (20.0, [PASSED, FAILED])])
def test_escape_time_against_the_prediction(slope, outcomes):
    table = pd.DataFrame([{"eps": e, "seed": 0, "diverged": False, "escape": 5 + slope * np.log(1 / e)} for e in EPS])
    assert [c.outcome for c in eps.escape_checks(table, predicted_slope=10.0)] == outcomes


def test_escape_time_is_undecidable_when_a_run_never_escaped():
    table = pd.DataFrame([{"eps": e, "seed": 0, "diverged": False, "escape": np.nan if e == 1e-6 else 10.0}
                          for e in EPS])
    [c] = eps.escape_checks(table, predicted_slope=10.0)
    assert c.outcome == UNDECIDABLE and "never escaped" in c.reason


def n3(trained_at):
    return pd.DataFrame([{"eps": e, "lr": 1.0, "initial": 1.0, "final": 0.5 if e in trained_at else 1.0,
                          "optimum": 0.4, "trained": e in trained_at} for e in EPS])


def test_n3_depends_on_eps():
    assert eps.n3_checks(n3({1e-2}))[0].outcome == PASSED
    assert eps.n3_checks(n3(set()))[0].outcome == FAILED
    assert eps.n3_checks(n3(set(EPS)))[0].outcome == FAILED


def test_n3_table_takes_the_best_rate():
    recs = [type("R", (), {"key": {"eps": 1e-2, "seed": 0}, "data": {"optimum": 0.4, "runs": [
        {"lr": 0.1, "loss": [1.0, 0.9], "diverged_at": -1}, {"lr": 1.0, "loss": [1.0, 0.5], "diverged_at": -1},
        {"lr": 10.0, "loss": [1.0, float("nan")], "diverged_at": 1}]}})()]
    t = eps.n3_table(recs)
    assert t["lr"].tolist() == [1.0] and bool(t["trained"].iloc[0])
