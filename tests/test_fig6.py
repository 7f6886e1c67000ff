"""Figure 6's checks on made-up runs: where the paper's claim holds, where it does not, where the data
cannot say; the contrasts by name; the size of the drop; the safe rate; and the protocol end to end on a
tiny real sweep."""

import numpy as np

from shortcut.figures import fig6
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
from shortcut.science.linear_index import predicted_index
from synthetic_dynamics import params, record

MODELS = ["xavier", "orthogonal", "2-shortcut"]
EVERY = 2  # the escape run's Hessian every 2 epochs; its loss is 0.8 ** epoch, epochs 0..20
SAFE = 0.02  # the made-up safe rate


def index_of(lo=0.1, hi=0.5, at=0.4, width=0.1):
    """An index falling from ``hi`` to ``lo`` around the loss ``at`` (a smooth step in log loss)."""
    return lambda x: lo + (hi - lo) / (1 + np.exp(-(np.log(x) - np.log(at)) / width))


def records(two=index_of(), fall_at=0.4, peak=5, others=0.5, escape_every=EVERY, lo=0.1, lr=0.1):
    """Two runs per model (index against the loss: 2-shortcut's ``two``, the others' constant
    ``others``, or one per model: ``{model: value}``), and the escape run: its index falling from 0.5
    to ``lo`` at the loss ``fall_at``, its gradient norm peaking at epoch ``peak``."""
    others = others if isinstance(others, dict) else dict.fromkeys(MODELS, others)
    recs = [record(m, {"index": two if m == "2-shortcut" else (lambda x, v=others[m]: v + 0 * x)}, seed=s, lr=lr)
            for m in MODELS for s in range(2)]
    escape = record("2-shortcut", {"index": index_of(lo=lo, at=fall_at)}, epochs=20, every=escape_every,
                    grad_norm=lambda e: np.exp(-0.5 * (e - peak) ** 2))
    return recs, escape


AT_4 = predicted_index(10, 4)    # the made-up runs' width and depth: a derived fall 1/(2D) = 0.125
AT_16 = predicted_index(10, 16)  # the paper's depth: 1/32


def outcomes(recs, escape, models=MODELS, every=EVERY, safe="same", prediction=AT_4):
    """The checks; ``safe``: the runs at the safe rate (default: made-up runs where the claim holds)."""
    tables, _ = fig6.collect(recs, escape, models, grid_points=30)
    if isinstance(safe, str):
        safe = records(lr=SAFE)[0]
    if safe is not None:
        tables["safe"], tables["safe_excluded"] = fig6.index_curves(safe, models, grid_points=30)
    return fig6.checks(tables, models, every, SAFE, prediction)


def test_the_paper_s_claim_holding_passes_every_check():
    # the index falls at loss 0.4 = 0.8^4.1, i.e. around epoch 4; the gradient norm peaks at epoch 5
    checks = outcomes(*records())
    assert [c.outcome for c in checks] == [PASSED] * 4, [c.line() for c in checks]
    assert verdict(checks) == "reproduced"
    assert checks[0].detail == ("at or below xavier's at 100% of the 30 losses the two cover (0.0115–1), orthogonal's "
                                "at 100% of the 30 losses the two cover (0.0115–1)")
    assert checks[0].superseded[0].outcome == PASSED and "common losses" in checks[0].superseded[0].name
    assert checks[1].detail.startswith("from 0.500 to 0.100") and "3.20 of the derived 0.125" in checks[1].detail
    halve, early = checks[1].superseded
    assert halve.outcome == PASSED and not halve.reading and "rules out" in halve.changed
    assert early.outcome == PASSED and early.reading
    assert "safe rate 0.02" in checks[3].name and checks[3].superseded[0].outcome == PASSED


def test_a_higher_index_than_the_others_fails():
    checks = outcomes(*records(others=0.05))
    assert checks[0].outcome == FAILED and "at or below xavier's at 0% of" in checks[0].detail, checks[0].line()


def test_each_contrast_is_tested_by_name():
    checks = outcomes(*records(others={"xavier": 0.5, "orthogonal": 0.05}))
    assert checks[0].outcome == FAILED
    assert checks[0].detail.startswith("at or below xavier's at 100% of") and "orthogonal's at 0% of" in checks[0].detail
    checks = outcomes(*records(others={"xavier": 0.05, "orthogonal": 0.5}))  # and the other way round
    assert checks[0].outcome == FAILED
    assert checks[0].detail.startswith("at or below xavier's at 0% of") and "orthogonal's at 100% of" in checks[0].detail
    recs, escape = records()
    checks = outcomes([r for r in recs if r.key["model"] != "orthogonal"], escape, ["xavier", "2-shortcut"], safe=None)
    assert checks[0].outcome == UNDECIDABLE and "orthogonal not among the models" in checks[0].reason


def test_the_drop_is_judged_against_the_derived_fall():
    # at depth 16 the derived fall is 1/32: 0.500 to 0.467 is the fall the mathematics predicts, and passes;
    # the halving form fails it but is not a reading (the index cannot halve while G ≠ 0), so it does not count
    checks = outcomes(*records(lo=0.467), prediction=AT_16)
    new, (halve, early) = checks[1], checks[1].superseded
    assert new.outcome == PASSED and halve.outcome == FAILED and early.outcome == PASSED, new.line()
    assert "from 0.500 to 0.467" in new.detail and "1.06 of the derived 0.031" in new.detail
    assert not new.disagrees and verdict(checks) == "reproduced"
    # half of the derived fall is the line: 0.0157 passes, 0.0155 fails
    assert outcomes(*records(lo=0.5 - 0.0157), prediction=AT_16)[1].outcome == PASSED
    assert outcomes(*records(lo=0.5 - 0.0155), prediction=AT_16)[1].outcome == FAILED
    # at depth 4 the derived fall is 0.125, and the same 0.033 is too small
    checks = outcomes(*records(lo=0.467), prediction=AT_4)
    assert checks[1].outcome == FAILED and early.outcome == PASSED
    assert checks[1].disagrees and verdict(checks) == "partly"  # the sizeless form still counts


def test_without_a_derived_index_the_drop_is_undecidable():
    checks = outcomes(*records(), prediction=None)
    assert checks[1].outcome == UNDECIDABLE and "width and depth are unknown" in checks[1].reason
    assert [c.outcome for c in checks[1].superseded] == [PASSED, PASSED]


def test_a_fall_at_small_loss_fails():
    # loss 0.02 = 0.8^17.5: the fall comes late, in the lower half of the losses (below ~0.107)
    checks = outcomes(*records(fall_at=0.02, peak=17))
    assert checks[1].outcome == FAILED and checks[2].outcome == PASSED, [c.line() for c in checks]
    assert [c.outcome for c in checks[1].superseded] == [FAILED, FAILED] and not checks[1].disagrees


def test_an_index_that_never_falls_fails_and_its_peak_cannot_be_timed():
    recs, _ = records()
    flat = record("2-shortcut", {"index": lambda x: 0.5 + 0 * x}, epochs=20, every=EVERY)
    checks = outcomes(recs, flat)
    assert checks[1].outcome == FAILED and checks[1].superseded[1].detail == "the index does not fall"
    assert checks[2].outcome == UNDECIDABLE and "does not fall" in checks[2].reason


def test_a_gradient_peak_away_from_the_fall_fails():
    checks = outcomes(*records(peak=15))
    assert checks[2].outcome == FAILED and "peak at epoch 15" in checks[2].detail, checks[2].line()


def test_an_escape_run_with_one_hessian_is_undecidable():
    checks = outcomes(*records(escape_every=50))  # Hessian at epochs 0 and 20 only: two points, decidable
    assert checks[1].outcome != UNDECIDABLE
    recs, escape = records()
    run = escape.data["runs"][0]
    run["hessian_epochs"], run["hessian_index"] = [0], [0.5]
    checks = outcomes(recs, escape)
    assert checks[0].outcome == PASSED
    assert [c.outcome for c in checks[1:3]] == [UNDECIDABLE] * 2 and "fewer than twice" in checks[1].reason
    assert verdict(checks) == "inconclusive"


def test_every_run_of_a_model_diverged_is_undecidable_and_counted():
    recs, escape = records()
    recs = [r for r in recs if r.key["model"] != "orthogonal"]
    recs += [record("orthogonal", {"index": lambda x: 0.3 + 0 * x}, seed=s, diverged=True) for s in range(2)]
    tables, excluded = fig6.collect(recs, escape, MODELS, grid_points=30)
    checks = fig6.checks(tables, MODELS, EVERY, prediction=AT_4)
    assert checks[0].outcome == UNDECIDABLE and "orthogonal: every run diverged" in checks[0].reason
    assert excluded == ["2 of 2 orthogonal runs diverged at lr 0.1; none is left to average"]


def test_a_lower_index_above_the_common_losses_is_read():
    # orthogonal starts at loss 5 like 2-shortcut (Xavier at 1) and its index is below 2-shortcut's above loss 1,
    # which the losses every run covers left out
    two = lambda x: 0.45 + 0 * x  # noqa: E731
    recs = [record(m, {"index": two if m == "2-shortcut" else
                       (lambda x: np.where(x > 1, 0.40, 0.5)) if m == "orthogonal" else (lambda x: 0.5 + 0 * x)},
                   seed=s, start=1.0 if m == "xavier" else 5.0) for m in MODELS for s in range(2)]
    _, escape = records()
    checks = outcomes(recs, escape, safe=None)
    assert checks[0].outcome == FAILED and checks[0].superseded[0].outcome == PASSED, checks[0].line()
    assert checks[0].disagrees


def test_an_ordering_that_holds_only_among_survivors_fails_at_the_safe_rate():
    safe, _ = records(others={"xavier": 0.05, "orthogonal": 0.5}, lr=SAFE)  # every Xavier run kept: a lower index
    checks = outcomes(*records(), safe=safe)
    assert [c.outcome for c in checks] == [PASSED] * 3 + [FAILED], checks[3].line()
    assert "at or below xavier's at 0% of" in checks[3].detail and verdict(checks) == "partly"


def test_a_safe_rate_that_is_not_safe_or_absent_is_undecidable():
    safe, _ = records(lr=SAFE)
    safe += [record("xavier", {"index": lambda x: 0.5 + 0 * x}, seed=2, lr=SAFE, diverged=True)]
    checks = outcomes(*records(), safe=safe)
    assert checks[3].outcome == UNDECIDABLE and verdict(checks) == "inconclusive"
    assert "1 of 3 xavier runs diverged at lr 0.02" in checks[3].reason
    checks = outcomes(*records(), safe=None)
    assert checks[3].outcome == UNDECIDABLE and "no runs at a second, safe rate" in checks[3].reason


def test_the_figure_draws_every_run_and_the_derived_index():
    recs, escape = records()
    tables, _ = fig6.collect(recs, escape, MODELS, grid_points=30)
    fig = fig6.draw(tables, MODELS, depth=16, prediction=AT_16)
    labels = [ln.get_label() for ln in fig.axes[0].lines]
    assert "derived plateau ½ − 1/(2D) = 0.469" in labels and "zero point: ½" in labels
    ys = {round(float(ln.get_ydata()[0]), 5) for ln in fig.axes[-1].lines if len(ln.get_ydata()) == 2}
    assert {0.5, 0.46875} <= ys  # the escape run's axis carries them too


def test_run_end_to_end(tmp_path, one_thread):
    P = params(tmp_path, "dyn", fig6_epochs=20)  # Fig 6's run is the seed-0 2-shortcut run: one record
    result = fig6.run(P)
    assert result.label == "Figure 6" and len(result.checks) == 4 and result.figure is not None
    assert list(result.table["run"]["epoch"]) == list(range(21))
    assert result.scale["right"] == "20 epochs, Hessian every 5"
    assert len(list((tmp_path / "dyn").glob("*.json"))) == 6  # three at lr 0.1 (one is Fig 6's), three at 0.05
    assert len(result.figure.axes) == 4  # index at both rates, the escape run and its twin axis
    assert {"excluded", "safe_lr", "safe_lowest", "early_min", "pred_plateau", "fall", "in_range"} <= set(result.numbers)
    assert result.numbers["pred_plateau"] == "0.250"  # depth 2: 1/2 − 1/4
