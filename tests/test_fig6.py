"""Figure 6's checks on made-up runs: where the paper's claim holds, where it does not, where the data
cannot say; and the protocol end to end on a tiny real sweep."""

import numpy as np

from shortcut.figures import fig6
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict
from synthetic_dynamics import params, record

MODELS = ["xavier", "orthogonal", "2-shortcut"]
EVERY = 2  # the escape run's Hessian every 2 epochs; its loss is 0.8 ** epoch, epochs 0..20


def index_of(lo=0.1, hi=0.5, at=0.4, width=0.1):
    """An index falling from ``hi`` to ``lo`` around the loss ``at`` (a smooth step in log loss)."""
    return lambda x: lo + (hi - lo) / (1 + np.exp(-(np.log(x) - np.log(at)) / width))


def records(two=index_of(), fall_at=0.4, peak=5, others=0.5, escape_every=EVERY):
    """Two runs per model (index against the loss: 2-shortcut's ``two``, the others' constant
    ``others``), and the escape run: its index falling at the loss ``fall_at``, its gradient norm
    peaking at epoch ``peak``."""
    recs = [record(m, {"index": two if m == "2-shortcut" else (lambda x: others + 0 * x)}, seed=s)
            for m in MODELS for s in range(2)]
    escape = record("2-shortcut", {"index": index_of(at=fall_at)}, epochs=20, every=escape_every,
                    grad_norm=lambda e: np.exp(-0.5 * (e - peak) ** 2))
    return recs, escape


def outcomes(recs, escape, models=MODELS, every=EVERY):
    tables, _ = fig6.collect(recs, escape, models, grid_points=30)
    return fig6.checks(tables, models, every)


def test_the_paper_s_claim_holding_passes_every_check():
    # the index falls at loss 0.4 = 0.8^4.1, i.e. around epoch 4; the gradient norm peaks at epoch 5
    checks = outcomes(*records())
    assert [c.outcome for c in checks] == [PASSED] * 3, [c.line() for c in checks]
    assert verdict(checks) == "reproduced"


def test_a_higher_index_than_the_others_fails():
    checks = outcomes(*records(others=0.05))
    assert checks[0].outcome == FAILED and "at 0%" in checks[0].detail, checks[0].line()


def test_a_fall_at_small_loss_fails():
    # loss 0.02 = 0.8^17.5: the fall comes late, in the lower half of the losses (below ~0.107)
    checks = outcomes(*records(fall_at=0.02, peak=17))
    assert checks[1].outcome == FAILED and checks[2].outcome == PASSED, [c.line() for c in checks]


def test_an_index_that_never_falls_fails_and_its_peak_cannot_be_timed():
    recs, _ = records()
    flat = record("2-shortcut", {"index": lambda x: 0.5 + 0 * x}, epochs=20, every=EVERY)
    checks = outcomes(recs, flat)
    assert checks[1].outcome == FAILED and checks[1].detail == "the index does not fall"
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
    assert [c.outcome for c in checks[1:]] == [UNDECIDABLE] * 2 and "fewer than twice" in checks[1].reason


def test_every_run_of_a_model_diverged_is_undecidable_and_counted():
    recs, escape = records()
    recs = [r for r in recs if r.key["model"] != "orthogonal"]
    recs += [record("orthogonal", {"index": lambda x: 0.3 + 0 * x}, seed=s, diverged=True) for s in range(2)]
    tables, excluded = fig6.collect(recs, escape, MODELS, grid_points=30)
    checks = fig6.checks(tables, MODELS, EVERY)
    assert checks[0].outcome == UNDECIDABLE and "orthogonal: every run diverged" in checks[0].reason
    assert excluded == ["2 of 2 orthogonal runs diverged at lr 0.1; none is left to average"]


def test_run_end_to_end(tmp_path, one_thread):
    P = params(tmp_path, "dyn", fig6_epochs=20)  # Fig 6's run is the seed-0 2-shortcut run: one record
    result = fig6.run(P)
    assert result.label == "Figure 6" and len(result.checks) == 3 and result.figure is not None
    assert list(result.table["run"]["epoch"]) == list(range(21))
    assert result.scale["right"] == "20 epochs, Hessian every 5"
    assert len(list((tmp_path / "dyn").glob("*.json"))) == 3
