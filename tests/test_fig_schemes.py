"""The schemes chapter's checks (shortcut.figures.schemes), each way, on small synthetic tables."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from shortcut.figures import schemes
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE

D = 10


def record(scheme, n, depth, *, mid="id", seed=0, cond=2.0, top=1.0, negative=None, zero=None, predicted=True,
           gap=1e-14, grad=0.5, dead=0, thin=None):
    """A run record at a scheme's start; the eigenvalue counts default to the algebra's prediction."""
    L = depth // n
    size = L * n * D * D + (L if scheme != "zero" else 0)
    r = L if scheme in schemes.GATED else L * D * D
    pred = {"negative": r, "zero": size - 2 * r, "size": size} if predicted and scheme != "zero" else None
    negative = (pred or {}).get("negative", size // 2) if negative is None else negative
    zero = (pred or {}).get("zero", 0) if zero is None else zero
    p10 = top / cond if np.isfinite(cond) else 0.0
    return SimpleNamespace(key={"scheme": scheme, "n": n, "mid": mid, "depth": depth, "seed": seed},
                           data={"max_abs": top, "p10_abs": p10, "n_negative": negative, "n_zero": zero, "size": size,
                                 "predicted": pred, "grad_norm": grad, "grad_gap": gap, "dead_relus": dead,
                                 "thin_relus": dead if thin is None else thin})


DEPTHS = (2, 4, 8, 16)


def starts(fixup1=lambda d: d / 2, fixup2=lambda d: 3.0, **kw):
    recs = [record(s, n, n * d, cond=np.inf, **kw) for s in schemes.GATED for n in (1, 2, 3) for d in DEPTHS]
    recs += [record("fixup", 1, d, cond=4 * fixup1(d), top=fixup1(d), predicted=False, **kw) for d in DEPTHS]
    recs += [record("fixup", 2, d, cond=fixup2(d), **kw) for d in DEPTHS]
    recs += [record("fixup", 3, 3 * d, cond=np.inf, **kw) for d in DEPTHS]
    recs += [record("zero", n, n * d, cond=1.5) for n in (1, 2, 3) for d in DEPTHS]
    return recs


def outcomes(recs):
    runs = schemes.initial_runs(recs)
    return [c.outcome for c in schemes.initial_checks(runs, schemes.initial_table(runs))]


# order: gradient ×3 (skipinit, rezero, fixup), gated inertia ×2, fixup n ≥ 2 inertia, fixup n = 1, fixup n = 2 ×2


def test_the_algebra_holds_and_fixup_n2_levels_off():
    assert outcomes(starts(fixup2=lambda d: 3 + 8 / d)) == [PASSED] * 5 + [PASSED, PASSED, FAILED, PASSED]


def test_a_flat_fixup_n2_passes_figure_4s_test():
    assert outcomes(starts())[-2:] == [PASSED, PASSED]


def test_a_growing_fixup_n2_fails_both():
    assert outcomes(starts(fixup2=lambda d: d))[-2:] == [FAILED, FAILED]


def test_gradient_off_its_closed_form_or_zero_fails():
    assert outcomes(starts(gap=1e-3))[:3] == [FAILED] * 3
    assert outcomes(starts(grad=0.0))[:3] == [FAILED] * 3


def test_a_miscounted_inertia_fails():
    recs = starts()
    recs[0].data["n_negative"] += 1  # a SkipInit run
    recs[-13].data["n_zero"] += 1    # a Fixup n = 3 run
    assert outcomes(recs)[3:6] == [FAILED, PASSED, FAILED]


def test_a_finite_condition_number_of_a_gated_net_fails():
    recs = starts()
    recs[20].data["p10_abs"] = 0.5  # a ReZero run
    assert outcomes(recs)[3:5] == [PASSED, FAILED]


def test_relus_active_on_too_few_samples_leave_a_run_out_of_the_inertia_check():
    recs = starts() + [record("fixup", 3, 9, mid="relu", cond=np.inf, negative=1, dead=2)]
    assert outcomes(recs)[5] == PASSED
    recs = [r for r in starts() if not (r.key["scheme"] == "fixup" and r.key["n"] >= 2)]
    recs += [record("fixup", 3, 9, mid="relu", cond=np.inf, dead=2)]
    assert outcomes(recs)[5] == UNDECIDABLE


def test_the_superseded_form_left_out_only_dead_relus():
    recs = starts() + [record("fixup", 3, 9, mid="relu", cond=np.inf, negative=92, dead=0, thin=1)]
    runs = schemes.initial_runs(recs)
    inertia = schemes.initial_checks(runs, schemes.initial_table(runs))[5]
    assert inertia.outcome == PASSED and "fewer than d" in inertia.name
    [old] = inertia.superseded
    assert old.outcome == FAILED and "dead on every sample" in old.name and "ci profile" in old.changed


def test_fixup_n1_that_does_not_grow_or_grows_with_the_wrong_slope_fails():
    assert outcomes(starts(fixup1=lambda d: 1.0))[6] == FAILED
    assert outcomes(starts(fixup1=lambda d: d ** 2))[6] == FAILED


def test_undecidable_without_the_runs():
    recs = [r for r in starts() if r.key["scheme"] == "zero" or (r.key["scheme"] == "fixup" and r.key["depth"] == 2)]
    assert outcomes(recs) == [UNDECIDABLE, UNDECIDABLE, PASSED, UNDECIDABLE, UNDECIDABLE, PASSED,
                              UNDECIDABLE, UNDECIDABLE, UNDECIDABLE]


def test_initial_table_is_infinite_when_any_seed_is():
    runs = schemes.initial_runs([record("fixup", 2, 4, seed=0, cond=2.0), record("fixup", 2, 4, seed=1, cond=np.inf)])
    t = schemes.initial_table(runs)
    assert np.isinf(t["cond"].iloc[0]) and t["infinite"].iloc[0] == 1


# --- along training --------------------------------------------------------------------------------

OPT = 0.4
SCHEMES = ["zero", "skipinit", "rezero", "fixup"]


def best(trained=lambda s, n: not (s == "zero" and n == 3), excess=lambda s: 1e-4):
    rows = [{"scheme": s, "n": n, "depth": n * d, "trained": trained(s, n), "excess": excess(s),
             "final loss": OPT + excess(s), "best lr": 0.1} for s in SCHEMES for n in (1, 2, 3) for d in (4, 8)]
    return pd.DataFrame(rows)


def curves(zero_smallest_at=1.0, points=10):
    losses = np.geomspace(0.5, 1.0, points)
    rows = []
    for s in SCHEMES:
        for i, x in enumerate(losses):
            zero_wins = i < zero_smallest_at * points
            mean = (1.0 if zero_wins else 10.0) if s == "zero" else 5.0
            rows.append({"model": s, "stat": "cond", "loss": x, "mean": mean, "std": 0.0, "n": 2})
    return pd.DataFrame(rows)


def training_outcomes(b, c, schemes_=SCHEMES):
    return [ch.outcome for ch in schemes.training_checks(b, OPT, c, schemes_, (1, 2, 3))]


def test_training_claims_hold():
    assert training_outcomes(best(), curves()) == [PASSED] * 6


def test_training_claims_fail():
    b = best(trained=lambda s, n: n != 3, excess=lambda s: 0.1 if s == "rezero" else 1e-4)
    assert training_outcomes(b, curves(zero_smallest_at=0.5)) == [FAILED, FAILED, FAILED, PASSED, FAILED, FAILED]
    assert training_outcomes(best(trained=lambda s, n: True), curves())[3] == FAILED  # zero n = 3 trained


def test_training_claims_undecidable():
    b = best()
    out = training_outcomes(b[b["scheme"] == "zero"], curves()[lambda t: t["model"] == "zero"], ["zero"])
    assert out == [UNDECIDABLE, UNDECIDABLE, UNDECIDABLE, PASSED, PASSED, UNDECIDABLE]
    empty = pd.DataFrame(columns=["model", "stat", "loss", "mean", "std", "n"])
    assert training_outcomes(best(), empty)[-1] == UNDECIDABLE


def test_a_singular_hessian_is_an_infinite_condition_number_along_training():
    run = {"hessian_max_abs": [2.0, 2.0], "hessian_p10_abs": [1e-14, 1.0], "hessian_cond": [2e14, 2.0]}
    assert schemes.with_infinite_cond(run)["hessian_cond"] == [np.inf, 2.0]


def test_jobs_round_depths_up_to_multiples_of_n_and_skip_relu_for_n1():
    P = SimpleNamespace(schemes=["rezero"], ns=[1, 3], mids=["id", "relu"], depths=[2, 4], relu_depths=[2, 3],
                        n_samples=50, relu_samples=20, seeds=1, eps=1e-4, dataset="mnist", data_dir=None)
    jobs = schemes.initial_jobs(P)
    assert sorted((j["n"], j["mid"], j["depth"]) for j in jobs) == [(1, "id", 2), (1, "id", 4), (3, "id", 3),
                                                                    (3, "id", 6), (3, "relu", 3)]
    assert {j["n_samples"] for j in jobs if j["mid"] == "relu"} == {20}



def test_the_runs_with_hessians_take_each_schemes_best_rate():
    P = SimpleNamespace(schemes=["zero", "skipinit"], n=2, depth=7, seeds=2, n_samples=50, eps=1e-4, epochs=10,
                        hessian_every=5, dataset="mnist", data_dir=None)
    b = pd.DataFrame([{"scheme": "zero", "n": 2, "depth": 8, "best lr": 0.5},
                      {"scheme": "skipinit", "n": 2, "depth": 8, "best lr": np.nan},
                      {"scheme": "skipinit", "n": 2, "depth": 4, "best lr": 0.1}])
    jobs, lrs, missing = schemes.dynamics_jobs(P, b)
    assert lrs == {"zero": 0.5} and [j["lrs"] for j in jobs] == [[0.5], [0.5]] and {j["depth"] for j in jobs} == {8}
    assert len(missing) == 1 and missing[0].startswith("SkipInit")


def test_the_grid_includes_the_depth_followed_with_hessians():
    P = SimpleNamespace(schemes=["zero"], ns=[1, 2], train_depths=[4], depth=6, n=2, seeds=1, n_samples=50, eps=1e-4,
                        epochs=10, lr_min=0.1, lr_max=1.0, n_lrs=2, dataset="mnist", data_dir=None)
    assert sorted((j["n"], j["depth"]) for j in schemes.grid_jobs(P)) == [(1, 4), (2, 4), (2, 6)]
