"""Figure 5's checks on made-up runs: where the paper's claim holds, where it does not, where the data
cannot say; the contrasts by name; the safe rate; and the protocol end to end on a tiny real sweep."""

import numpy as np
import pytest

from shortcut.figures import fig5
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
from synthetic_dynamics import params, record

MODELS = ["xavier", "orthogonal", "2-shortcut"]
HOLDS = {  # condition number against the loss: 2-shortcut's the smallest, most at large loss, ends near orthogonal's
    "xavier": lambda x: 10 + 90 * x,
    "orthogonal": lambda x: 11 + 40 * x,
    "2-shortcut": lambda x: 10 + 0 * x,
}
SAFE = 0.02  # the made-up safe rate


def runs(cond=HOLDS, seeds=2, lr=0.1, **kw):
    """``seeds`` runs per model of ``cond`` ({model: cond as a function of the loss}); ``kw`` per model
    (``{model: {...}}``) goes to :func:`synthetic_dynamics.record`."""
    return [record(m, {"cond": f}, seed=s, lr=lr, **kw.get(m, {})) for m, f in cond.items() for s in range(seeds)]


def outcomes(records, models=MODELS, safe="same"):
    """The checks (and the diverged runs at the first rate); ``safe``: the runs at the safe rate
    (default: the same made-up runs again, at rate ``SAFE``; None: no such runs)."""
    tables, excluded = fig5.collect(records, models, grid_points=30)
    if isinstance(safe, str):
        safe = [record(r.key["model"], {"cond": HOLDS[r.key["model"]]}, seed=r.key["seed"], lr=SAFE)
                for r in records if r.key["model"] in HOLDS]
    if safe is None:
        return fig5.checks(tables, models), excluded
    safe_tables, safe_excluded = fig5.collect(safe, models, grid_points=30)
    return fig5.checks(tables, models, safe_tables, safe_excluded, SAFE), excluded


def test_the_paper_s_claim_holding_passes_every_check():
    checks, excluded = outcomes(runs())
    assert [c.outcome for c in checks] == [PASSED] * 4, [c.line() for c in checks]
    assert verdict(checks) == "reproduced" and excluded == []
    assert checks[0].detail == ("below xavier's at 100% of the 30 losses the two cover (0.0115–1), orthogonal's at "
                                "100% of the 30 losses the two cover (0.0115–1)")
    assert [c.outcome for c in checks[0].superseded] == [PASSED] and "2026-12-07" in checks[0].superseded[0].changed
    common, last = checks[2].superseded
    assert common.outcome == PASSED and common.reading and "every run reaches" in common.name
    assert last.outcome == PASSED and not last.reading and "d78bce1" in last.changed
    assert "not to be a reading" in last.changed and "√(2(L − L*))" in last.changed
    assert "safe rate 0.02" in checks[3].name and "at 100% of the 30 losses" in checks[3].detail
    assert checks[3].superseded[0].outcome == PASSED and "common losses" in checks[3].superseded[0].name


def test_two_shortcut_not_the_smallest_fails():
    checks, _ = outcomes(runs({**HOLDS, "2-shortcut": lambda x: 12 + 0 * x}))  # above orthogonal's at small loss
    assert checks[0].outcome == FAILED and checks[0].superseded[0].outcome == FAILED, checks[0].line()


def test_each_contrast_is_tested_by_name():
    # below Xavier's everywhere, above orthogonal's everywhere: the detail says which contrast fails
    checks, _ = outcomes(runs({**HOLDS, "orthogonal": lambda x: 5 + 0 * x}))
    assert checks[0].outcome == FAILED
    assert checks[0].detail.startswith("below xavier's at 100% of the 30") and "orthogonal's at 0% of" in checks[0].detail
    checks, _ = outcomes(runs({**HOLDS, "xavier": lambda x: 5 + 0 * x}))  # and the other way round
    assert checks[0].outcome == FAILED and checks[0].detail.startswith("below xavier's at 0% of the 30")
    # a model that is not one of the paper's contrasts does not stand in for one
    extra = runs({**HOLDS, "1-shortcut": lambda x: 1e3 + 0 * x})
    checks, _ = outcomes([r for r in extra if r.key["model"] != "xavier"], ["orthogonal", "1-shortcut", "2-shortcut"])
    assert checks[0].outcome == UNDECIDABLE and "xavier not among the models" in checks[0].reason


def test_an_advantage_larger_at_small_loss_fails():
    cond = {"xavier": lambda x: 20 + 0 * x, "orthogonal": lambda x: 20 + 0 * x, "2-shortcut": lambda x: 10 + 9 * x}
    checks, _ = outcomes(runs(cond))
    assert checks[0].outcome == PASSED and checks[1].outcome == FAILED, checks[1].line()
    assert checks[1].superseded[0].outcome == FAILED


# The 2-shortcut and orthogonal networks start at loss 5, Xavier at 1 (as Xavier starts near 1 and the others
# near 5 on the real data): the losses every run passes through stop at 1, each pair covers its own range.
WIDE = {"2-shortcut": {"start": 5.0}, "orthogonal": {"start": 5.0}}


def test_each_comparison_reads_the_losses_its_pair_covers_and_every_run_is_drawn_whole():
    tables, _ = fig5.collect(runs(**WIDE), MODELS, grid_points=30)
    checks = fig5.checks(tables, MODELS)
    assert [c.outcome for c in checks[:3]] == [PASSED] * 3, [c.line() for c in checks]
    # the grid spans every run's range (0.0115 to 5) and has each model's own ends on it: each pair reads
    # exactly the losses it covers (2-shortcut's runs end at 5 · 0.8^20 = 0.0576)
    assert "orthogonal's at 100% of the 24 losses the two cover (0.0576–5)" in checks[0].detail
    assert "xavier's at 100% of the 16 losses the two cover (0.0576–1)" in checks[0].detail
    common = tables["common"]
    assert common["loss"].max() == pytest.approx(1.0) and tables["curves"]["loss"].max() == pytest.approx(5.0)
    # every run's own points from its start; the mean only where all of a model's runs reach the loss
    pts = tables["runs"]
    assert pts[pts["model"] == "2-shortcut"]["loss"].max() == 5.0 and pts[pts["model"] == "xavier"]["loss"].max() == 1.0
    xav = tables["curves"][(tables["curves"]["model"] == "xavier") & (tables["curves"]["stat"] == "cond")]
    assert xav[xav["loss"] > 1.01]["mean"].isna().all() and xav[xav["loss"] < 0.99]["mean"].notna().all()
    fig = fig5.draw(tables, MODELS, depth=4)
    assert max(max(ln.get_xdata()) for ln in fig.axes[0].lines) == pytest.approx(5.0)


def test_an_advantage_at_large_loss_outside_the_common_losses_counts():
    # Xavier's advantage grows with the loss; orthogonal's is small on the losses Xavier reaches and large above
    # them. The pairwise form passes; the earlier form, on the losses every run covers (best other network, top
    # third up to loss 1), fails: two readings that disagree give partly
    cond = {"2-shortcut": lambda x: 10 + 0 * x, "xavier": lambda x: 20 + 5 * x,
            "orthogonal": lambda x: np.where(x <= 1, 25 - 10 * x, 15 + 100 * (x - 1))}
    checks, _ = outcomes(runs(cond, **WIDE), safe=None)
    new, old = checks[1], checks[1].superseded[0]
    assert new.outcome == PASSED and old.outcome == FAILED, new.line()
    assert "over orthogonal" in new.detail and "losses 0.0576–5" in new.detail
    assert new.disagrees and verdict(checks) == "partly"


def test_an_ordering_that_fails_above_the_common_losses_fails():
    # orthogonal's condition number falls below 2-shortcut's above loss 1, where Xavier never is: the earlier
    # form did not see it
    cond = {**HOLDS, "orthogonal": lambda x: np.where(x > 1, 5.0, 11 + 40 * x)}
    checks, _ = outcomes(runs(cond, **WIDE), safe=None)
    assert checks[0].outcome == FAILED and checks[0].superseded[0].outcome == PASSED, checks[0].line()
    assert "orthogonal's at 71% of the 24 losses" in checks[0].detail  # the part of the pair's range below loss 1


def test_ending_far_from_orthogonal_fails():
    checks, _ = outcomes(runs({**HOLDS, "2-shortcut": lambda x: 1 + 0 * x}))
    assert checks[2].outcome == FAILED and "ratio 0.08" in checks[2].detail, checks[2].line()
    assert verdict(checks) == "partly"


def test_the_last_epoch_reading_is_shown_but_not_counted():
    # orthogonal trains further, and its condition number explodes near its own minimum: at equal loss the
    # two end close, after the last epoch they do not (the paper-scale run's case). That form compared runs at
    # different distances from L*, where P10|λ| ∝ sqrt(L − L*): not a reading of the claim, so it does not count
    cond = {**HOLDS, "orthogonal": lambda x: np.where(x < 0.01, 1e4, 11 + 40 * x)}
    checks, _ = outcomes(runs(cond, orthogonal={"epochs": 30}))
    new, (common, last) = checks[2], checks[2].superseded
    assert new.outcome == PASSED and common.outcome == PASSED and last.outcome == FAILED, new.line()
    assert "after the last epoch" in last.name and not last.reading and "superseded form" in new.line()
    assert not new.disagrees and "its readings disagree" not in new.line()
    assert [c.outcome for c in checks] == [PASSED] * 4 and verdict(checks) == "reproduced"


def test_the_common_end_reading_still_counts():
    # at the smallest loss every run reaches (Xavier's end) the two are far apart, at the pair's own end close:
    # that earlier form is a reading of the same claim on fewer losses, so the readings disagree
    cond = {**HOLDS, "orthogonal": lambda x: np.where(x < 0.06, 10.5, 11 + 400 * x)}
    checks, _ = outcomes(runs(cond, xavier={"epochs": 12}), safe=None)
    new, common = checks[2], checks[2].superseded[0]
    assert new.outcome == PASSED and common.outcome == FAILED, new.line()
    assert new.disagrees and verdict(checks) == "partly"


def test_diverged_runs_are_left_out_and_counted():
    records = runs() + [record("xavier", {"cond": HOLDS["xavier"]}, seed=2, diverged=True)]
    checks, excluded = outcomes(records)
    assert excluded == ["1 of 3 xavier runs diverged at lr 0.1; the curves average the 2 others"]
    assert verdict(checks) == "reproduced"


def test_an_ordering_that_holds_only_among_survivors_fails_at_the_safe_rate():
    # at lr 0.1 the Xavier runs that survive are poorly conditioned; at the safe rate, with every run kept,
    # Xavier's condition number is below 2-shortcut's: the ordering was survivorship
    safe = runs({**HOLDS, "xavier": lambda x: 5 + 0 * x}, lr=SAFE)
    checks, _ = outcomes(runs(), safe=safe)
    assert [c.outcome for c in checks] == [PASSED] * 3 + [FAILED], checks[3].line()
    assert "below xavier's at 0% of" in checks[3].detail and verdict(checks) == "partly"


def test_a_safe_rate_that_is_not_safe_or_absent_is_undecidable():
    safe = runs(lr=SAFE) + [record("xavier", {"cond": HOLDS["xavier"]}, seed=2, lr=SAFE, diverged=True)]
    checks, _ = outcomes(runs(), safe=safe)
    assert checks[3].outcome == UNDECIDABLE and verdict(checks) == "inconclusive"
    assert "1 of 3 xavier runs diverged at lr 0.02" in checks[3].reason and "lower safe_lr" in checks[3].reason
    checks, _ = outcomes(runs(), safe=None)
    assert checks[3].outcome == UNDECIDABLE and "no runs at a second, safe rate" in checks[3].reason


def test_every_run_of_a_model_diverged_is_undecidable():
    records = [r for r in runs() if r.key["model"] != "xavier"]
    records += [record("xavier", {"cond": HOLDS["xavier"]}, seed=s, diverged=True) for s in range(2)]
    checks, excluded = outcomes(records, safe=None)
    assert [c.outcome for c in checks] == [UNDECIDABLE] * 4
    assert "no curve for xavier" in checks[0].reason and "none is left" in excluded[0]
    assert verdict(checks) == "inconclusive"


def test_loss_ranges_that_do_not_overlap_are_undecidable():
    records = runs(xavier={"start": 1e-3})  # xavier's runs start below the smallest loss 2-shortcut's reach
    checks, _ = outcomes(records)
    assert [c.outcome for c in checks[:3]] == [UNDECIDABLE] * 3, [c.line() for c in checks]
    assert "2-shortcut and of xavier" in checks[0].reason
    assert all(c.superseded[0].outcome == UNDECIDABLE for c in checks[:3])


def test_without_two_shortcut_nothing_can_be_decided():
    records = [r for r in runs() if r.key["model"] != "2-shortcut"]
    checks, _ = outcomes(records, ["xavier", "orthogonal"])
    assert all(c.outcome == UNDECIDABLE and "2-shortcut not among" in c.reason for c in checks)


def test_run_end_to_end_writes_under_the_chapter_s_folder(tmp_path, one_thread):
    P = params(tmp_path, "dynamics_fork")
    result = fig5.run(P)
    # three runs at lr 0.1, Fig 6's, and three at the safe rate 0.05 (40 epochs: the same lr × epochs)
    assert len(list((tmp_path / "dynamics_fork").glob("*.json"))) == 7
    assert result.label == "Figure 5" and len(result.checks) == 4 and result.figure is not None
    assert len(result.figure.axes) == 6  # a second row: the safe rate
    assert result.scale["data"].startswith("MNIST") and set(result.table["curves"]["model"]) <= set(MODELS)
    assert result.scale["safe lr"] == "0.05 (40 epochs, Hessian every 10)"
    assert {"smaller", "end", "final_ratio", "excluded", "safe_lr", "safe_smaller", "two_range",
            "common_smaller"} <= set(result.numbers)
    assert "at the safe rate 0.05" in result.numbers["excluded"]
