"""Theorem 2's protocol (shortcut.figures.thm2): each part's checks where the theorem holds, where it does
not and where the grid cannot decide, on small synthetic tables; then the tables it computes, on small
whitened data, against the theorem."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from shortcut.figures import thm2
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict


def entries(ns=(1, 2, 3, 4), H=None, H_err=1e-15, g=None, g_err=1e-17, curved=0.02, curved_err=None) -> pd.DataFrame:
    """A table shaped like thm2.entries: by default what the theorem says (zero H for n ≥ 3, zero g for n ≥ 2),
    linear rows and, for n = 1, a silu post row whose σ''(0) term is ``curved`` (``None``: no such row)."""
    rows = []
    for n in ns:
        rows.append({"n": n, "activations": "linear", "P": 100 * n,
                     "max |H|": (H or {}).get(n, 0.0 if n >= 3 else 0.5),
                     "max |H − closed form|": H_err, "max |∇L|": (g or {}).get(n, 0.0 if n >= 2 else 0.3),
                     "max |∇L − closed form|": g_err, "max |σ''(0) term|": 0.0})
        if n == 1 and curved is not None:
            rows.append({**rows[-1], "activations": "silu post", "max |σ''(0) term|": curved,
                         "max |H − closed form|": H_err if curved_err is None else curved_err})
    return pd.DataFrame(rows)


def spectra(units=(1, 2, 4), err=1e-14, conds=None, mult=None, d=10) -> pd.DataFrame:
    """A table shaped like thm2.spectra_n2: by default eigenvalues on ±σ(C), d·L copies, cond 1.7 at every L."""
    rows = []
    for label in ("linear", "tanh pre"):
        for i, L in enumerate(units):
            k = d * L if mult is None else mult
            rows.append({"activations": label, "L": L, "max |λ − (±σ(C))|": err, "min multiplicity": k,
                         "max multiplicity": d * L, "d·L": d * L,
                         "cond(H)": 1.7 if conds is None else conds[i], "σmax(C)/σmin(C)": 1.7})
    return pd.DataFrame(rows)


def curves(units=(1, 2, 4, 8), one=None) -> pd.DataFrame:
    """A table shaped like thm2.conditioning: by default the 1-shortcut's cond grows 1 → 3 → 8 → 21."""
    one = [1.0, 3.2, 8.2, 21.0][:len(units)] if one is None else one
    rows = []
    for n, vals in ((1, one), (2, [1.7] * len(units)), (3, [np.nan] * len(units))):
        for label in ("linear", "tanh pre"):
            rows += [{"n": n, "activations": label, "L": L, "cond": v} for L, v in zip(units, vals)]
    return pd.DataFrame(rows)


def outcomes(checks):
    return [c.outcome for c in checks]


# ----------------------------------------------------------------------------- part 1: n ≥ 3


def test_n3_passes_when_hessian_and_gradient_vanish():
    assert outcomes(thm2.checks_n3(entries())) == [PASSED, PASSED]


def test_n3_fails_for_a_nonzero_hessian_or_gradient():
    assert outcomes(thm2.checks_n3(entries(H={3: 1e-3}))) == [FAILED, PASSED]
    assert outcomes(thm2.checks_n3(entries(g={2: 1e-6}))) == [PASSED, FAILED]


def test_n3_is_undecidable_without_such_networks():
    checks = thm2.checks_n3(entries(ns=(1,)))
    assert outcomes(checks) == [UNDECIDABLE, UNDECIDABLE] and verdict(checks) == "inconclusive"


# ----------------------------------------------------------------------------- part 1 at its own order


def orders(ns=(2, 3, 4), lower=0.0, nth=0.3, err=1e-15, scale=50.0) -> pd.DataFrame:
    """A table shaped like thm2.orders: by default what the theorem says (lower orders exactly 0, the n-th
    0.3·σₙ and equal to n!·T(v) to round-off)."""
    return pd.DataFrame([{"n": n, "activations": "linear", "P": 100 * n, "directions": 3, "σₙ (rms of DⁿL)": scale,
                          "max |DᵏL| / σₙ, k = 1 … n − 1": lower, "min |DⁿL| / σₙ": nth, "max |DⁿL − n!·T(v)| / σₙ": err}
                         for n in ns])


def test_orders_pass_when_stationary_to_order_n_minus_1_only():
    checks = thm2.checks_orders(orders())
    assert outcomes(checks) == [PASSED] * 3 and "n = 2, 3, 4, 9 directions" in checks[0].detail


def test_orders_fail_on_each_of_their_statements():
    assert outcomes(thm2.checks_orders(orders(lower=1e-6))) == [FAILED, PASSED, PASSED]
    assert outcomes(thm2.checks_orders(orders(err=1e-6))) == [PASSED, FAILED, PASSED]
    assert outcomes(thm2.checks_orders(orders(nth=0.5 * thm2.ORDER_NONZERO))) == [PASSED, PASSED, FAILED]
    assert outcomes(thm2.checks_orders(orders(nth=2 * thm2.ORDER_NONZERO))) == [PASSED] * 3
    # Cₙ = 0: the n-th vanishes along every direction (0/0 read as 0), which the third check refuses
    assert outcomes(thm2.checks_orders(orders(nth=0.0, err=0.0, scale=0.0))) == [PASSED, PASSED, FAILED]


def test_orders_are_undecidable_without_an_n_of_2_or_more():
    checks = thm2.checks_orders(thm2.orders(torch.eye(3, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64),
                                            ns=(1,), units=1, activation="tanh"))
    assert outcomes(checks) == [UNDECIDABLE] * 3


# ----------------------------------------------------------------------------- part 2: n = 2


def test_n2_passes_when_the_spectrum_is_as_predicted():
    assert outcomes(thm2.checks_n2(entries(), spectra())) == [PASSED] * 4


def test_n2_fails_on_each_of_its_statements():
    assert outcomes(thm2.checks_n2(entries(H_err=1e-6), spectra()))[0] == FAILED
    assert outcomes(thm2.checks_n2(entries(), spectra(err=1e-5)))[1] == FAILED
    assert outcomes(thm2.checks_n2(entries(), spectra(mult=9)))[2] == FAILED
    assert outcomes(thm2.checks_n2(entries(), spectra(conds=[1.7, 1.7, 3.4])))[3] == FAILED


def test_n2_multiplicity_needs_exactly_dL_copies_not_a_prefix():
    # 300 copies where d·L = 30 once passed a check that compared strings by their prefix
    table = spectra(units=(3,))
    table["max multiplicity"] = 300
    assert outcomes(thm2.checks_n2(entries(), table))[2] == FAILED


def test_n2_flatness_is_undecidable_at_one_depth_and_closed_form_without_n2():
    assert outcomes(thm2.checks_n2(entries(), spectra(units=(4,))))[3] == UNDECIDABLE
    assert outcomes(thm2.checks_n2(entries(ns=(1, 3)), spectra()))[0] == UNDECIDABLE


# ----------------------------------------------------------------------------- part 3: n = 1


def test_n1_passes_when_cond_grows():
    checks = thm2.checks_n1(entries(), curves())
    assert outcomes(checks) == [PASSED] * 4 and "×21 from 1 to 8 units" in checks[2].detail


@pytest.mark.parametrize("one", [[1.0, 1.1, 1.2, 1.3],      # monotone but not even doubled
                                 [1.0, 3.2, 2.0, 21.0]])    # grows overall but not at every step
def test_n1_fails_when_cond_does_not_grow(one):
    assert outcomes(thm2.checks_n1(entries(), curves(one=one)))[2] == FAILED


def test_n1_fails_on_a_wrong_gradient_and_is_undecidable_at_one_depth():
    assert outcomes(thm2.checks_n1(entries(g_err=1e-8), curves()))[3] == FAILED
    assert outcomes(thm2.checks_n1(entries(), curves(units=(4,), one=[5.0])))[2] == UNDECIDABLE
    assert outcomes(thm2.checks_n1(entries(ns=(2, 3)), curves()))[::3] == [UNDECIDABLE, UNDECIDABLE]


def test_curvature_passes_when_the_sigma_second_derivative_term_matches():
    c = thm2.check_curvature(entries(curved=0.02))
    assert c.outcome == PASSED and "term up to 2.00e-02" in c.detail


def test_curvature_fails_when_the_closed_form_misses_the_term():
    # a closed form without the σ''(0) term is off by the whole term
    assert thm2.check_curvature(entries(curved=0.02, curved_err=0.02)).outcome == FAILED
    assert thm2.check_curvature(entries(curved=0.02, curved_err=1e-9)).outcome == FAILED


def test_curvature_is_undecidable_without_a_curved_post_activation():
    for table in (entries(curved=None), entries(curved=0.0), entries(curved=0.5 * thm2.CURVED), entries(ns=(2, 3))):
        c = thm2.check_curvature(table)
        assert c.outcome == UNDECIDABLE and "not exercised" in c.reason


# ----------------------------------------------------------------------------- ReLU at the ε-point


def relu(units=(1, 2, 4, 8), ratio=None, cond=None, at_zero=0.0) -> pd.DataFrame:
    """A table shaped like thm2.relu_table: by default max|λ| at 0.95·σmax(C)/2, cond (P10) 3.0 at every L."""
    n = len(units)
    ratio = np.full(n, 0.95) if ratio is None else np.asarray(ratio, dtype=float)
    cond = np.full(n, 3.0) if cond is None else np.asarray(cond, dtype=float)
    return pd.DataFrame({"L": list(units), "max |H| at exactly 0 (autograd)": at_zero, "max|λ| at ε-point": ratio,
                         "σmax(C)/2 (paper's convention)": 1.0, "max|λ| / (σmax(C)/2)": ratio,
                         "P10|λ| at ε-point": 1.0 / cond, "cond (P10) at ε-point": cond,
                         "cond (P10), paper's convention": 2.0})


def test_relu_passes_near_half_sigma_max_and_flat():
    checks = thm2.checks_relu(relu())
    assert outcomes(checks) == [PASSED] * 3 and verdict(checks) == "reproduced"
    assert "from 0.950 to 0.950" in checks[1].detail


def test_relu_fails_at_another_convention_or_with_growth():
    assert outcomes(thm2.checks_relu(relu(at_zero=1e-3)))[0] == FAILED            # autograd's relu'(0) ≠ 0
    assert outcomes(thm2.checks_relu(relu(ratio=[1.0, 1.0, 1.0, 2.0])))[1] == FAILED  # σ'(0) = 1 at one L
    assert outcomes(thm2.checks_relu(relu(ratio=[0.5, 1.0, 1.0, 1.0])))[1] == FAILED
    inside, outside = 1 + 0.9 * thm2.RELU_CLOSE, 1 - 1.1 * thm2.RELU_CLOSE
    assert outcomes(thm2.checks_relu(relu(ratio=[inside] * 4)))[1] == PASSED
    assert outcomes(thm2.checks_relu(relu(ratio=[outside] * 4)))[1] == FAILED
    grows = thm2.checks_relu(relu(cond=[3.0, 4.0, 6.0, 9.0]))[2]
    assert grows.outcome == FAILED and "×3" in grows.detail
    assert outcomes(thm2.checks_relu(relu(cond=[3.0, 3.3, 3.1, 0.9 * thm2.RELU_FLAT * 3.0])))[2] == PASSED


def test_relu_flatness_is_undecidable_at_one_L():
    checks = thm2.checks_relu(relu(units=(4,)))
    assert outcomes(checks) == [PASSED, PASSED, UNDECIDABLE] and verdict(checks) == "inconclusive"


# ----------------------------------------------------------------------------- the computed tables


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4, 30, generator=g, dtype=torch.float64)
    Y = torch.randn(4, 30, generator=g, dtype=torch.float64)
    return X, Y


def test_computed_tables_pass_every_check(data):
    X, Y = data
    found = thm2.entries(X, Y, ns=(1, 2, 3), units=2, activation=["tanh", "silu"])
    assert len(found) == 3 * 7 - 2  # linear, then each activation at 3 positions; no mid in a 1-shortcut unit
    spec = thm2.spectra_n2(X, Y, cond_units=(1, 2, 3), activation=["tanh", "silu"])
    cond = thm2.conditioning(X, Y, cond_units=(1, 2, 4), activation=["tanh", "silu"])
    derivs = thm2.orders(X, Y, ns=(1, 2, 3, 4), units=2, activation="silu", directions=2)
    assert list(derivs.n.unique()) == [2, 3, 4] and len(derivs) == 3 * 4  # linear, silu at 3 positions
    assert (derivs["max |DᵏL| / σₙ, k = 1 … n − 1"] == 0).all()  # every lower-order term has a zero factor: no round-off
    for checks in (thm2.checks_n3(found), thm2.checks_n2(found, spec), thm2.checks_n1(found, cond),
                   thm2.checks_orders(derivs)):
        assert verdict(checks) == "reproduced", [c.line() for c in checks]
    assert cond.loc[cond.n == 3, "cond"].isna().all()
    # σ''(0) enters only through silu at the post position of a 1-shortcut unit, and there it is not small
    curved = found[found["max |σ''(0) term|"] > 0]
    assert list(zip(curved.n, curved.activations)) == [(1, "silu post")]
    assert float(curved["max |σ''(0) term|"].iloc[0]) > thm2.CURVED


def test_the_curvature_check_fails_on_a_closed_form_without_the_term(data, monkeypatch):
    X, Y = data
    from shortcut.science import theorem2

    zero = lambda net, X, Y, relu_convention="autograd": torch.zeros(net.d ** 2, net.d ** 2, dtype=X.dtype)  # noqa: E731
    with monkeypatch.context() as patch:
        patch.setattr(theorem2, "curvature_block", zero)  # the closed form as if σ''(0) were 0
        found = thm2.entries(X, Y, ns=(1,), units=2, activation="silu")
    found["max |σ''(0) term|"] = thm2.entries(X, Y, ns=(1,), units=2, activation="silu")["max |σ''(0) term|"]
    assert thm2.check_curvature(found).outcome == FAILED


def test_relu_eigenvalue_at_the_eps_point_is_the_best_active_half(data):
    """Independent of autograd: the largest σ_max(C_j) of the hidden ReLUs' active halves is the largest
    |eigenvalue| of the Hessian at the ε-point (to O(ε)), and it is not σ_max(C)/2."""
    X, Y = data
    table = thm2.relu_table(X, Y, cond_units=(1, 2), eps=1e-5)
    halves, lam = table["max σmax(C_j), active halves"], table["max|λ| at ε-point"]
    assert np.allclose(halves, lam, rtol=1e-4)
    assert (table["max|λ| / (σmax(C)/2)"] > 1.0).all()  # the best half is more than the average half


def test_draw_structure_and_conditioning(data):
    X, Y = data
    fig = thm2.draw_structure(X, Y, units=2)
    assert len(fig.axes) == 2 and fig.axes[0].images[0].get_array().shape == (2 * 2 * 16, 2 * 2 * 16)
    fig = thm2.draw_conditioning(thm2.conditioning(X, Y, (1, 2), "tanh"), note="synthetic")
    assert len(fig.axes[0].lines) == 4  # n = 1, 2, linear and tanh pre; n = 3 not drawn


def test_run_gives_one_result_per_part_on_real_images():
    P = SimpleNamespace(dataset="mnist", data_dir=None, device="cpu", n_samples=60, check_units=1,
                        cond_units=[1, 2], ns=[1, 2, 3], activation="tanh", relu_eps=1e-4)
    results = thm2.run(P)
    assert list(results) == ["n3", "order", "n2", "n1"]
    assert [r.label for r in results.values()] == ["Theorem 2 (n ≥ 3)", "Theorem 2 (n ≥ 2)", "Theorem 2 (n = 2)",
                                                   "Theorem 2 (n = 1)"]
    assert results["order"].verdict == "reproduced" and results["order"].scale["samples"] == 60
    assert list(results["order"].table.n.unique()) == [2, 3]
    assert results["n3"].verdict == "reproduced" and results["n2"].verdict == "reproduced"
    assert results["n2"].figure is not None and results["n1"].figure is not None
    assert "MNIST" in results["n1"].scale["data"]
    relu = thm2.relu(P)
    assert list(relu.table["L"]) == [1, 2] and (relu.table["max |H| at exactly 0 (autograd)"] == 0).all()
    assert relu.checks[0].outcome == PASSED and relu.label.endswith("(ours)")
    assert set(relu.numbers) >= {"cond_spread", "eps", "ratio_min", "ratio_max"} and "MNIST" in relu.scale["data"]
