"""Figure 8's checks on made-up sweeps of ReLU nets: the claim holding, failing, and undecidable."""

import pytest

from shortcut.figures import fig8
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
from synthetic_runs import seeds

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
    checks = fig8.checks(best(two=(0.22, 0.10)))  # 10 % above the plain nets at depth 2
    assert checks[0].outcome == PASSED and checks[1].outcome == FAILED
    assert checks[1].detail == "worst ratio 1.1, at depths [2]"
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


def test_numbers():
    g = grid(two=(0.22, 0.10))
    n = fig8.numbers(fig8.rates.best_rates(g), g, optimum=0.15)
    assert n["deep"] == 4 and n["worst_depth"] == 2 and n["worst_ratio"] == "1.1"
    assert n["worst_vs_linear"] == "above even" and n["loss_plain"] == "0.3"
    assert n["spreads"] == "xavier 1.033, orthogonal 1.033"
    assert n["spreads_shallow"] == "xavier undefined, orthogonal undefined"  # two stable rates at depth 2: undefined
    assert n["excluded"].startswith("xavier at 1 of 6 (depth, rate) pairs (2 of its 12 runs diverged)")


def test_work_of_the_sweep_from_parameters_or_their_text():
    params = {"relu_samples": 5000, "relu_depths": [2, 4], "relu_models": ["xavier", "2-shortcut"], "seeds": 10,
              "n_lrs": 21, "epochs": 1000}
    expected = 6 * 100 * 5000 * 6 * 2 * 10 * 21 * 1000 / 1e12
    assert fig8.work_tflop(params) == pytest.approx(expected, rel=1e-12)
    as_text = {"relu_samples": "5000", "relu_depths": "[2, 4]", "relu_models": "[xavier, 2-shortcut]",
               "seeds": "10", "n_lrs": "21", "epochs": "1000"}
    assert fig8.work_tflop(as_text) == pytest.approx(expected, rel=1e-12)
