"""What Figs 2 and 9 share (shortcut.figures.cifar_runs): the runs, a failed run counted, the stand-in named,
the table of networks."""

from types import SimpleNamespace

import pytest

from shortcut.figures import cifar_runs


def params(tmp_path, **kw) -> SimpleNamespace:
    base = dict(dataset="standin", data_dir=None, n_train=20, n_test=10, width=0.25, batch_size=10,
                depths=[14, 38], ns=[1, 2, 3, 4], seeds=1, epochs=1, fig2_depths=[8, 14], fig2_seeds=1, fig2_epochs=1,
                executor="inline", workers=None, address=None, device="cpu", chapter="cifar10", results_dir=tmp_path)
    return SimpleNamespace(**{**base, **kw})


def test_the_standin_warning_names_the_data_and_says_there_is_no_verdict():
    box = cifar_runs.standin_warning("standin", "the test errors of Figure 9")
    assert "NOT CIFAR-10" in repr(box) and "'not tested'" in repr(box)
    assert 'class="admonition warning"' in box._repr_html_() and repr(box).startswith("NOT CIFAR-10: The test errors")
    assert cifar_runs.standin_warning("cifar10") is None
    with pytest.raises(Exception, match="unknown dataset='mnist'"):
        cifar_runs.standin_warning("mnist")


def test_networks_lists_units_per_stage_for_the_n_each_depth_admits_and_one_parameter_count(tmp_path):
    table, note = cifar_runs.networks(params(tmp_path))
    assert list(table.index) == [8, 14, 38]
    assert table.loc[14, "n=1: units per stage"] == 4 and table.loc[14, "n=3: units per stage"] == "—"
    assert table.loc[38, "n=3: units per stage"] == 4 and ", " not in table.loc[38, "parameters"]   # one count for every n
    assert table.loc[8, "used in"] == "Figure 2" and table.loc[14, "used in"] == "Figure 9 & Figure 2"
    assert "channels (4, 8, 16)" in note and "up to 38: [38]" in note


@pytest.mark.usefixtures("one_thread")
def test_a_failed_run_is_counted_and_the_others_kept(tmp_path, monkeypatch):
    real = cifar_runs.train_job

    def flaky(job, **kw):
        if job["depth"] == 14:
            raise RuntimeError("out of memory")
        return real(job, **kw)

    monkeypatch.setattr(cifar_runs, "train_job", flaky)
    P = params(tmp_path)
    jobs = [{**cifar_runs.base_job(P), "n": 2, "depth": d, "seed": 0, "epochs": 1, "milestones": [2, 3]} for d in (8, 14)]
    records, excluded = cifar_runs.run(P, jobs, desc="test")
    assert [r.key["depth"] for r in records] == [8]
    assert len(excluded) == 1 and excluded[0].startswith("1 of 2 runs have no record") and "out of memory" in excluded[0]
    monkeypatch.setattr(cifar_runs, "train_job", lambda job, **kw: (_ for _ in ()).throw(RuntimeError("no")))
    with pytest.raises(RuntimeError, match="no run has a record"):
        cifar_runs.run(P, jobs[1:], desc="test")


def test_scale_says_the_data_are_the_standin(tmp_path):
    assert cifar_runs.scale(params(tmp_path), [])["data"].startswith("stand-in, MNIST digits")
    assert cifar_runs.scale(params(tmp_path, dataset="cifar10"), [])["data"] == "CIFAR-10"
    assert cifar_runs.scale_line({"depths": [8, 14], "runs": 2}) == "depths [8, 14]; runs 2"


def test_observed_is_labelled_on_the_standin(tmp_path):
    from shortcut.figures.checks import check
    found = [check("a", True), check("b", False)]
    assert cifar_runs.observed(found, params(tmp_path)) == "partly (on the stand-in, not CIFAR-10)"
    assert cifar_runs.observed(found, params(tmp_path, dataset="cifar10")) == "partly"
