"""Full-batch GD with many models at once: agreement with a one-model loop, divergence, records."""

import numpy as np
import pytest
import torch

from shortcut.experiments.zoo import make_net, gd_job, initial_spectrum_job
from shortcut.science.init import initialize
from shortcut.science.loss import make_loss
from shortcut.science.models import Net
from shortcut.experiments.gd import log_grid, train_gd

f64 = torch.float64


def toy(net, m=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(net.d, m, generator=g, dtype=f64)
    return make_loss(net, X, torch.eye(net.d, dtype=f64)[:, torch.randint(0, net.d, (m,), generator=g)])


@pytest.mark.parametrize("net", [Net(d=3, n=2, L=2), Net(d=3, n=2, L=2, mid="relu", shortcut=False)], ids=str)
def test_vmapped_grid_equals_one_model_at_a_time(net):
    loss = toy(net)
    theta0 = initialize(net, "xavier", seed=0)
    lrs = [0.01, 0.05, 0.1]
    hist = train_gd(loss, theta0, lrs, epochs=20, progress=False)
    for b, lr in enumerate(lrs):
        theta = theta0.clone()
        losses = []
        for _ in range(20):
            value = loss(theta)
            losses.append(float(value))
            theta = theta - lr * torch.func.grad(loss)(theta)
        losses.append(float(loss(theta)))
        np.testing.assert_allclose(hist.loss[b], losses, rtol=1e-12)
    assert hist.loss.shape == (3, 21) and np.all(hist.diverged_at == -1)


def test_divergence_is_recorded_not_raised():
    net = Net(d=3, n=1, L=4, shortcut=False)
    loss = toy(net)
    hist = train_gd(loss, initialize(net, "xavier", seed=1), [1e-3, 1e3], epochs=30, progress=False)
    assert hist.diverged_at[0] == -1 and np.isfinite(hist.loss[0]).all()
    assert hist.diverged_at[1] > 0
    assert np.isnan(hist.loss[1, hist.diverged_at[1]:]).all()
    assert np.isfinite(hist.loss[1, :hist.diverged_at[1]]).all()


def test_hessian_every_k_epochs():
    net = Net(d=3, n=2, L=2)
    loss = toy(net)
    hist = train_gd(loss, initialize(net, "zero", seed=0), [0.1], epochs=10, hessian_every=4, progress=False)
    assert hist.hessian_epochs == [0, 4, 8, 10]
    assert hist.hessian["max_abs"].shape == (1, 4) and np.isfinite(hist.hessian["cond"]).all()
    run = hist.run(0)
    assert run["hessian_epochs"] == [0, 4, 8, 10] and len(run["hessian_index"]) == 4


def test_bad_arguments_are_named():
    net = Net(d=3, n=2, L=1)
    loss = toy(net)
    with pytest.raises(ValueError, match="epochs must be"):
        train_gd(loss, torch.zeros(net.num_params, dtype=f64), [0.1], epochs=-1)
    with pytest.raises(ValueError, match="lrs must be"):
        train_gd(loss, torch.zeros(net.num_params, dtype=f64), [0.0], epochs=1)
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        make_net("resnet", 4)


def test_log_grid():
    grid = log_grid(1e-3, 1e-1, 3)
    assert grid == pytest.approx([1e-3, 1e-2, 1e-1])


def test_model_zoo():
    net, scheme = make_net("2-shortcut", 8, mid="relu")
    assert (net.n, net.L, net.shortcut, scheme) == (2, 4, True, "zero")
    net, scheme = make_net("orthogonal", 8, mid="relu")
    assert (net.n, net.mid, net.shortcut, scheme) == (2, "relu", False, "orthogonal")
    net, _ = make_net("xavier", 7)
    assert net.depth == 7


def test_jobs_are_reproducible_on_real_digits():
    job = {"model": "2-shortcut", "depth": 4, "seed": 3, "lrs": [0.01, 0.1], "epochs": 5, "n_samples": 200,
           "hessian_every": 5}
    a, b = gd_job(job, device="cpu"), gd_job(job, device="cpu")
    assert a == b
    assert a["runs"][0]["loss"][0] > a["runs"][0]["loss"][-1]
    s = initial_spectrum_job({"model": "xavier", "depth": 4, "seed": 0, "n_samples": 200}, device="cpu")
    assert s["size"] == 400 and s["cond"] > 1


def test_data_keys_name_the_data():
    from types import SimpleNamespace

    from shortcut.experiments.zoo import data_keys

    assert data_keys(SimpleNamespace(), 100) == {"dataset": "mnist", "n_samples": 100}
    assert data_keys(SimpleNamespace(dataset="mnist", data_dir="/d"), None) == {
        "dataset": "mnist", "n_samples": None, "data_dir": "/d", "source": "idx"}
    assert data_keys(SimpleNamespace(dataset="fashion-mnist", data_dir=None), 5) == {
        "dataset": "fashion-mnist", "n_samples": 5}
