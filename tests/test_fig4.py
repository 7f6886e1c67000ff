"""Figure 4's checks on made-up tables: where the paper's claim holds, where it does not, where the data
cannot say; the table from records; the job keys; and the protocol end to end on a tiny real sweep."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from shortcut.experiments.records import Record
from shortcut.figures import fig4
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE, verdict

DEPTHS = (2, 8, 32)
HOLDS = {"2-shortcut": (10, 10.5, 11), "xavier": (10, 100, 1000), "orthogonal": (10, 30, 60)}


def table(curves=HOLDS, depths=DEPTHS):
    """A table as :func:`fig4.collect` makes it: mean condition number per (model, depth)."""
    rows = [{"model": m, "depth": d, "mean": v, "std": 0.1 * v, "n": 3, "theorem2": v if m == "2-shortcut" else np.nan}
            for m, vals in curves.items() for d, v in zip(depths, vals)]
    return pd.DataFrame(rows)


def outcomes(t):
    return [c.outcome for c in fig4.checks(t)]


def test_the_paper_s_claim_holding_passes_every_check():
    checks = fig4.checks(table())
    assert [c.outcome for c in checks] == [PASSED] * 4, [c.line() for c in checks]
    assert verdict(checks) == "reproduced"
    assert checks[0].detail == "max/min 1.1" and checks[1].detail == "×100"


def test_a_two_shortcut_line_that_grows_fails_flat():
    checks = fig4.checks(table({**HOLDS, "2-shortcut": (10, 12, 13)}))  # max/min 1.3 > 1.25
    assert [c.outcome for c in checks] == [FAILED, PASSED, PASSED, PASSED]


def test_plain_networks_that_do_not_grow_fail():
    # ×3.9 < 4 (and now below orthogonal's growth too)
    assert outcomes(table({**HOLDS, "xavier": (10, 20, 39)})) == [PASSED, FAILED, PASSED, FAILED]
    assert outcomes(table({**HOLDS, "orthogonal": (10, 15, 19)})) == [PASSED, PASSED, FAILED, PASSED]  # ×1.9 < 2


def test_orthogonal_growing_faster_than_xavier_fails():
    checks = fig4.checks(table({**HOLDS, "orthogonal": (10, 200, 4000)}))
    assert [c.outcome for c in checks] == [PASSED, PASSED, PASSED, FAILED], checks[3].line()
    assert verdict(checks) == "partly"


def test_the_verdict_tests_the_contrast_not_the_two_shortcut_line_alone():
    # every line flat: 2-shortcut's flatness passes, but the plain networks' growth fails
    flat = table({m: (10, 10.5, 11) for m in HOLDS})
    assert outcomes(flat)[:3] == [PASSED, FAILED, FAILED] and verdict(fig4.checks(flat)) != "reproduced"
    # every line growing like Xavier's: the plain networks pass, 2-shortcut's flatness fails
    grow = table({**HOLDS, "2-shortcut": HOLDS["xavier"]})
    assert outcomes(grow)[:3] == [FAILED, PASSED, PASSED] and verdict(fig4.checks(grow)) == "partly"
    assert fig4.numbers(table())["flat_max"] == "1.25"


def test_one_depth_or_a_missing_model_cannot_decide():
    one = table({m: v[:1] for m, v in HOLDS.items()}, depths=(8,))
    assert outcomes(one) == [UNDECIDABLE] * 4
    no_xavier = table({m: v for m, v in HOLDS.items() if m != "xavier"})
    checks = fig4.checks(no_xavier)
    assert [c.outcome for c in checks] == [PASSED, UNDECIDABLE, PASSED, UNDECIDABLE]
    assert "xavier not run" in checks[1].reason and verdict(checks) == "inconclusive"


def test_collect_averages_seeds_and_places_the_prediction():
    recs = [Record(key={"model": m, "depth": d, "seed": s}, data={"cond": c * (1 + s)}, meta={}, path=Path("x"))
            for m, cs in (("xavier", (10, 40)), ("2-shortcut", (5, 5))) for d, c in zip((2, 4), cs) for s in (0, 1)]
    t = fig4.collect(recs, {2: 6.0, 4: 6.0})
    row = t[(t.model == "xavier") & (t.depth == 4)].iloc[0]
    assert row["mean"] == pytest.approx(60) and row["std"] == pytest.approx(20) and row["n"] == 2
    assert t[t.model == "2-shortcut"]["theorem2"].tolist() == [6.0, 6.0]
    assert t[t.model == "xavier"]["theorem2"].isna().all()
    assert fig4.numbers(t)["theory_gap"] == "25%"  # mean 7.5 against 6


def test_jobs_name_their_data():
    P = SimpleNamespace(n_samples=100, models=["xavier"], depths=[2], seeds=1, eps=1e-4)
    assert fig4.jobs(P)[0] == {"dataset": "mnist", "n_samples": 100, "model": "xavier", "depth": 2, "seed": 0,
                               "eps": 1e-4}
    fashion = fig4.jobs(SimpleNamespace(**vars(P), dataset="fashion-mnist", data_dir="/d"))[0]
    assert fashion["dataset"] == "fashion-mnist" and fashion["data_dir"] == "/d"


def test_run_end_to_end_writes_under_the_chapter_s_folder(tmp_path, one_thread):
    P = SimpleNamespace(chapter="initial_point_fork", results_dir=tmp_path, device="cpu", dataset="mnist",
                        data_dir=None, n_samples=200, depths=[2, 4], seeds=1, models=["xavier", "2-shortcut"],
                        eps=1e-4, executor="inline", workers=None)
    result = fig4.run(P)
    assert len(list((tmp_path / "initial_point_fork").glob("*.json"))) == 4
    assert result.label == "Figure 4" and len(result.checks) == 4 and result.figure is not None
    assert result.scale["data"].startswith("MNIST") and result.numbers["shallow"] == 2
    # at the zero point the 2-shortcut net sits within a few per cent of Theorem 2's prediction
    assert float(result.numbers["theory_gap"].rstrip("%")) < 5


def test_curves_that_coincide_stay_told_apart_by_their_markers():
    same = {**HOLDS, "1-shortcut": HOLDS["orthogonal"]}  # as at the paper's scale: one line on the other
    fig = fig4.draw(table(same), order=["xavier", "orthogonal", "1-shortcut", "2-shortcut"])
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert lines["orthogonal"].get_marker() != lines["1-shortcut"].get_marker()
    assert len({lines[m].get_marker() for m in same}) >= 3
    assert fig4.numbers(table(same))["one_orth_gap"] == "0%"
    near = {**HOLDS, "1-shortcut": (10.5, 30, 60)}
    assert fig4.numbers(table(near))["one_orth_gap"] == "5%"
    assert fig4.numbers(table())["one_orth_gap"] == "n/a"  # no 1-shortcut line
