"""Figure 8's checks on made-up sweeps of ReLU nets: the claim holding, failing, and undecidable."""

import pytest
import torch

from shortcut.figures import fig8
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
from synthetic_runs import params, seeds

LRS = (0.1, 1.0, 10.0)
MODELS = ["xavier", "orthogonal", "2-shortcut"]


def grid(two=(0.20, 0.10), plain_deep=(0.30, 0.305, 0.31)):
    """2-shortcut ends at ``two`` (depths 2, 4); plain nets at 0.2 (depth 2) and ``plain_deep`` per rate
    at depth 4 (None: diverged)."""
    recs = []
    for depth, final in zip((2, 4), two):
        recs += seeds("2-shortcut", depth, dict(zip(LRS, (final * 1.5, final, None))), mid="relu")
    for model in ("xavier", "orthogonal"):
        recs += seeds(model, 2, dict(zip(LRS, (0.25, 0.2, None))), mid="relu")
        recs += seeds(model, 4, dict(zip(LRS, plain_deep)), mid="relu")
    return fig8.collect(recs, MODELS)


def best(**kw):
    return fig8.rates.best_rates(grid(**kw))


def test_the_paper_s_claim_holding_passes_every_check():
    checks = fig8.checks(best())
    assert [c.outcome for c in checks] == [PASSED] * 4, [c.line() for c in checks]
    assert checks[2].name.startswith("xavier-ReLU's final loss is independent of the rate at depth 4")
    assert verdict(checks) == "reproduced"


def test_two_shortcut_above_the_plain_nets_fails():
    checks = fig8.checks(best(two=(0.22, 0.10)))  # 10 % above the plain nets at depth 2, no search of one unit
    assert checks[0].outcome == PASSED and checks[1].outcome == FAILED
    assert checks[1].detail == ("worst ratio 1.1, at depth 2; above 1.05 at depths [2]; at depth 2 held to the plain "
                                "networks' loss (no search of one unit's best loss)")
    old = checks[1].superseded[0]
    assert old.outcome == FAILED and old.detail == "worst ratio 1.1, at depths [2]" and not old.reading
    checks = fig8.checks(best(two=(0.20, 0.35)))  # above them at the largest depth too
    assert checks[0].outcome == FAILED and checks[0].detail == "0.35 vs 0.3"


def test_plain_nets_whose_loss_depends_on_the_rate_fail():
    checks = fig8.checks(best(plain_deep=(0.45, 0.30, 0.35)))
    assert [c.outcome for c in checks[2:]] == [FAILED, FAILED] and verdict(checks) == "partly"


def test_too_few_stable_rates_is_undecidable():
    checks = fig8.checks(best(plain_deep=(0.45, 0.30, None)))
    assert [c.outcome for c in checks[2:]] == [UNDECIDABLE, UNDECIDABLE]
    assert verdict(checks) == "inconclusive"


def test_without_a_plain_network_there_is_nothing_to_compare_with():
    b = best()
    checks = fig8.checks(b[b["model"] == "2-shortcut"])
    assert [c.outcome for c in checks] == [UNDECIDABLE, UNDECIDABLE]


def cap(unit=0.22, plain=0.2, agree=1e-5):
    """A single unit's searched best losses: 2-shortcut ``unit`` (the first half of the starts' best ``agree``
    higher), plain ``plain``."""
    return fig8.Capacity(shortcut=unit, shortcut_half=unit * (1 + agree), plain=plain, restarts=32)


def test_at_depth_2_a_unit_that_cannot_reach_the_plain_loss_is_held_to_its_own_best():
    b = best(two=(0.22, 0.10))  # 10 % above the plain nets at depth 2, where one unit reaches 0.215 at best
    c = fig8.checks(b, cap(unit=0.215))[1]
    assert c.outcome == PASSED, c.line()
    assert c.name.startswith("2-shortcut within 5% of the lowest loss its architecture reaches at every depth")
    assert "at depth 2 0.22 against a single unit's best loss 0.215 (the second half of its 32 starts improved on the first half's best by 1e-05" in c.detail
    assert c.detail.endswith(": 1.02 (against the plain networks' 0.2: 1.1)")
    old = c.superseded[0]
    assert old.outcome == FAILED and not old.reading and not c.disagrees  # shown, not counted
    assert "1.179, 5.7 times the plain unit's 0.2075" in old.changed
    assert verdict(fig8.checks(b, cap(unit=0.215))) == "reproduced"


def test_a_network_that_misses_its_unit_s_best_fails():
    c = fig8.checks(best(two=(0.30, 0.10)), cap(unit=0.215))[1]  # 0.30 against 0.215: 1.4
    assert c.outcome == FAILED and c.detail.startswith("worst ratio 1.4, at depth 2; above 1.05 at depths [2]")


def test_a_search_that_did_not_converge_or_a_unit_below_the_plain_nets_exempts_nothing():
    b = best(two=(0.22, 0.10))
    c = fig8.checks(b, cap(unit=0.215, agree=0.02))[1]  # the second half of the starts improved by 2 %
    assert c.outcome == FAILED and "held to the plain networks' 0.2" in c.detail and "not converged" in c.detail
    c = fig8.checks(b, cap(unit=0.18))[1]  # one unit can do better than the plain nets: held to them
    assert c.outcome == FAILED and "held to the plain networks' 0.2" in c.detail


def test_the_capacity_argument_covers_depth_2_only():
    recs = []
    for depth, final in ((2, 0.20), (4, 0.22)):  # 10 % above the plain nets at depth 4
        recs += seeds("2-shortcut", depth, dict(zip(LRS, (final * 1.5, final, None))), mid="relu")
        for model in ("xavier", "orthogonal"):
            recs += seeds(model, depth, dict(zip(LRS, (0.25, 0.2, 0.21))), mid="relu")
    b = fig8.rates.best_rates(fig8.collect(recs, MODELS))
    c = fig8.checks(b, cap(unit=0.5))[1]  # however far one unit is from the plain nets, depth 4 is held to them
    assert c.outcome == FAILED and "above 1.05 at depths [4]" in c.detail


def test_without_a_plain_network_the_new_form_is_undecidable_too():
    b = best()
    c = fig8.checks(b[b["model"] == "2-shortcut"], cap())[1]
    assert c.outcome == UNDECIDABLE and c.superseded[0].outcome == UNDECIDABLE


def test_a_single_unit_cannot_cancel_its_identity_in_one_dimension():
    # x = ±1, y = 0: x + v·ReLU(w·x) cancels one of the two points, never both: the best loss is (0 + 1)/(2·2)
    X, Y = torch.tensor([[1.0, -1.0]], dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64)
    assert fig8.unit_losses(X, Y, shortcut=True, restarts=8)[0] == pytest.approx(0.25, abs=1e-12)
    assert fig8.unit_losses(X, Y, shortcut=False, restarts=8)[0] == pytest.approx(0.0, abs=1e-12)  # v·ReLU(w·x) = 0


def test_the_search_finds_a_unit_that_fits_exactly():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(4, 300, generator=g, dtype=torch.float64)
    W1, W2 = (torch.randn(4, 4, generator=g, dtype=torch.float64) for _ in range(2))
    assert fig8.unit_losses(X, X + W2 @ torch.relu(W1 @ X), True, restarts=8)[0] < 1e-12
    assert fig8.unit_losses(X, W2 @ torch.relu(W1 @ X), False, restarts=8)[0] < 1e-12


def test_two_units_can_cancel_the_identity_so_the_argument_stops_at_one():
    from shortcut.science.models import flatten, forward, shortcut_net

    net = shortcut_net(2, 4, d=3, mid="relu")
    eye = torch.eye(3, dtype=torch.float64)
    W = torch.stack([torch.stack([eye, -eye]), torch.stack([-eye, eye])])  # x - ReLU(x) = min(x, 0); then + ReLU(-.)
    X = torch.randn(3, 50, dtype=torch.float64)
    assert torch.allclose(forward(net, flatten(W), X), torch.zeros_like(X))


def test_gradient_descent_on_the_figure_s_data_does_not_beat_the_searched_best(tmp_path, one_thread):
    from shortcut.experiments.zoo import gd_job

    P = params(tmp_path, relu_samples=200)
    c = fig8.capacity(P)
    assert c.converged and c.shortcut > 3 * c.plain  # on 200 digits too, one unit is far from the plain unit
    job = {"dataset": "mnist", "n_samples": 200, "model": "2-shortcut", "depth": 2, "mid": "relu", "seed": 0,
           "eps": 1e-4, "epochs": 1000, "lrs": [0.1, 0.3, 1.0]}
    finals = [run["loss"][-1] for run in gd_job(job, device="cpu")["runs"] if run["diverged_at"] < 0]
    assert finals
    assert min(finals) >= c.shortcut * (1 - 1e-6)
    assert (tmp_path / "mnist").is_dir() and fig8.capacity(P) == c  # kept as a record: read back, not recomputed


def test_numbers():
    g = grid(two=(0.22, 0.10))
    n = fig8.numbers(fig8.rates.best_rates(g), g, optimum=0.15)
    assert n["deep"] == 4 and n["worst_depth"] == 2 and n["worst_ratio"] == "1.1"
    assert n["worst_vs_linear"] == "above even" and n["loss_plain"] == "0.3"
    assert n["spreads"] == "xavier 1.033, orthogonal 1.033"
    assert n["spreads_shallow"] == "xavier undefined, orthogonal undefined"  # two stable rates at depth 2: undefined
    assert n["excluded"].startswith("xavier at 1 of 6 (depth, rate) pairs (2 of its 12 runs diverged)")
    assert n["unit"] == "–" and n["new_lost"] == "above 1.05 at depths [2]" and n["unit_converged"] == "not searched"
    n = fig8.numbers(fig8.rates.best_rates(g), g, optimum=0.15, cap=cap(unit=0.215))
    assert (n["unit"], n["unit_plain"], n["unit_factor"], n["unit_agree"]) == ("0.215", "0.2", "1.07", "1e-05")
    assert (n["two_shallow"], n["plain_shallow"], n["ratio_unit"], n["ratio_plain_shallow"]) == ("0.22", "0.2", "1.02",
                                                                                                "1.1")
    assert n["new_worst"] == "1.02" and n["new_lost"] == "at most 1.05 at every depth" and n["next_depth"] == 4


def test_a_kept_run_says_which_checks_scored_it():
    old = {"verdict": {"detail": "✗ 2-shortcut within 5% of the best loss at every depth (worst ratio 5.66, at "
                                 "depths [2, 4])"}}
    assert fig8.kept_numbers(old)["scored"].startswith("the checks before this page's")
    new = {"verdict": {"detail": "✗ 2-shortcut within 5% of the lowest loss its architecture reaches at every depth: "
                                 "…"}, "amended": "re-scored"}
    assert fig8.kept_numbers(new) == {"scored": "the checks of this page (those of 2026-12-07)",
                                      "amended": "Its verdict was amended: re-scored."}


def test_work_of_the_sweep_from_parameters_or_their_text():
    params = {"relu_samples": 5000, "relu_depths": [2, 4], "relu_models": ["xavier", "2-shortcut"], "seeds": 10,
              "n_lrs": 21, "epochs": 1000}
    expected = 6 * 100 * 5000 * 6 * 2 * 10 * 21 * 1000 / 1e12
    assert fig8.work_tflop(params) == pytest.approx(expected, rel=1e-12)
    as_text = {"relu_samples": "5000", "relu_depths": "[2, 4]", "relu_models": "[xavier, 2-shortcut]",
               "seeds": "10", "n_lrs": "21", "epochs": "1000"}
    assert fig8.work_tflop(as_text) == pytest.approx(expected, rel=1e-12)
