"""Figure 7's checks on made-up sweeps: where the paper's claim holds, where it does not, where the data
cannot say."""

from shortcut.figures import fig7
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
from synthetic_runs import params, seeds

OPT = 0.1  # the least-squares optimum of the made-up data
LRS = (0.01, 0.1, 1.0, 10.0)


def sweep(two=(0.1005, 0.1003), xavier_deep=(0.30, 0.305, 0.31, None), others_trained=True):
    """2-shortcut ends ``two`` (depth 2, 8) at every rate but the smallest; Xavier at depth 8 ends at
    ``xavier_deep`` per rate; orthogonal ends well above the optimum (or never moves)."""
    recs = []
    for depth, final in zip((2, 8), two):
        recs += seeds("2-shortcut", depth, {0.01: 0.4, 0.1: final * 1.01, 1.0: final, 10.0: final})
    recs += seeds("xavier", 2, dict(zip(LRS, (0.2, 0.15, 0.12, None))))
    recs += seeds("xavier", 8, dict(zip(LRS, xavier_deep)))
    ortho = 0.25 if others_trained else 0.4999
    for depth in (2, 8):
        recs += seeds("orthogonal", depth, dict(zip(LRS, (ortho, ortho * 1.1, None, None))))
    return recs


def outcomes(records):
    best = fig7.best(fig7.collect(records, ["xavier", "orthogonal", "2-shortcut"]), OPT)
    return fig7.checks(best, OPT, deep=8)


def test_the_paper_s_claim_holding_passes_every_check():
    checks = outcomes(sweep())
    assert [c.outcome for c in checks] == [PASSED] * 4, [c.line() for c in checks]
    assert verdict(checks) == "reproduced"


def test_two_shortcut_far_from_the_optimum_fails():
    checks = outcomes(sweep(two=(0.1005, 0.103)))  # 3 % above L* at depth 8
    assert checks[0].outcome == FAILED and "0.03 of L*" in checks[0].detail
    assert verdict(checks) == "partly"


def test_another_network_closer_to_the_optimum_fails_the_contrast():
    recs = sweep() + seeds("1-shortcut", 8, dict(zip(LRS, (0.4, 0.1001, 0.1002, None))))
    best = fig7.best(fig7.collect(recs, ["xavier", "orthogonal", "1-shortcut", "2-shortcut"]), OPT)
    c = fig7.checks(best, OPT, deep=8)[1]
    assert c.outcome == FAILED and "next 1-shortcut" in c.detail


def test_a_smaller_best_rate_fails():
    recs = [r for r in sweep() if r.key["model"] != "2-shortcut"]
    for depth in (2, 8):  # 2-shortcut diverges above 0.1: its best rate is 0.1
        recs += seeds("2-shortcut", depth, {0.01: 0.1004, 0.1: 0.1004, 1.0: None, 10.0: None})
    recs += seeds("1-shortcut", 8, dict(zip(LRS, (0.3, 0.29, 0.28, 0.27))))  # trains best at rate 10
    best = fig7.best(fig7.collect(recs, ["xavier", "orthogonal", "1-shortcut", "2-shortcut"]), OPT)
    c = fig7.checks(best, OPT, deep=8)[2]
    assert c.outcome == FAILED and "vs at most 10" in c.detail


def test_xavier_s_loss_depending_on_the_rate_fails():
    checks = outcomes(sweep(xavier_deep=(0.45, 0.30, 0.20, None)))
    assert checks[3].outcome == FAILED and "spread 2.250 over 3" in checks[3].detail


def test_too_few_stable_rates_is_undecidable_not_a_failure():
    checks = outcomes(sweep(xavier_deep=(0.45, 0.30, None, None)))
    assert checks[3].outcome == UNDECIDABLE and "only 2 such rates of the 4, up to 0.1" in checks[3].reason
    assert verdict(checks) == "inconclusive"


def test_no_other_network_trained_leaves_the_rate_comparison_undecidable():
    recs = [r for r in sweep(others_trained=False) if r.key["model"] != "xavier"]
    best = fig7.best(fig7.collect(recs, ["orthogonal", "2-shortcut"]), OPT)
    checks = fig7.checks(best, OPT, deep=8)
    assert checks[2].outcome == UNDECIDABLE and "no other network trained" in checks[2].reason
    assert checks[3].outcome == UNDECIDABLE  # no Xavier run


def test_numbers_and_kept_figure_facts():
    best = fig7.best(grid := fig7.collect(sweep(), ["xavier", "orthogonal", "2-shortcut"]), OPT)
    n = fig7.numbers(best, grid, OPT, 8, ["xavier", "orthogonal", "2-shortcut"])
    assert n["runner_up"] == "orthogonal" and n["xs_stable"] == "3 of the 4" and n["xs_spread"] == "1.033"
    assert n["not_trained"] == "none" and n["worst_rel"] == "0.5%"
    assert "orthogonal at 4 of 8 (depth, rate) pairs (8 of its 16 runs diverged)" in n["excluded"] and "2-shortcut" not in n["excluded"]
    P = params(models=["xavier"])
    kept = {"parameters": {"depths": "[2, 96]", "seeds": "10", "n_lrs": "21", "lr_min": "0.001", "lr_max": "100",
                           "epochs": "1000"}, "verdict": {"verdict": "partly"}}
    assert fig7.kept_numbers({**kept, "changed_parameters": {"relu_samples": "1000"}}, P)["changes"] == \
        "none of the changed parameters enters Figure 7"
    assert fig7.kept_numbers({**kept, "changed_parameters": {"seeds": "3", "workers": "2"}}, P)["changes"] == \
        "of the changed parameters, seeds enter Figure 7"
    assert fig7.kept_numbers({**kept, "changed_parameters": {}}, P)["amended"] == ""
    assert fig7.kept_numbers({**kept, "amended": "re-scored"}, P)["amended"] == "Its verdict was amended: re-scored."
