"""Tests for shortcut.science.theorem1: Theorem 1's proof executed (Lemma 1 units, Lemma 2 paths, two stages)."""

import math

import numpy as np
import pytest
import torch

from shortcut.science import theorem1 as T
from shortcut.science.data import one_hot
from shortcut.science.fit import loglog_fit
from shortcut.science.models import theorem1_forward


def sphere(d, m, seed=0):
    X = np.random.default_rng(seed).standard_normal((d, m))
    return X / np.linalg.norm(X, axis=0)


@pytest.fixture(scope="module")
def data():
    X = sphere(10, 30, seed=1)
    labels = np.random.default_rng(2).integers(0, 4, 30)  # 4 classes: many repeated labels
    return X, labels


@pytest.fixture(scope="module")
def built(data):
    X, labels = data
    return T.construct(X, labels, delta=0.05)


def single_unit(u, beta, w):
    d = u.size
    W1 = torch.zeros(1, d, d, dtype=torch.float64)
    W1[0, 0] = torch.as_tensor(u)
    b = torch.zeros(1, d, dtype=torch.float64)
    b[0, 0] = beta
    W2 = torch.zeros(1, d, d, dtype=torch.float64)
    W2[0, :, 0] = torch.as_tensor(w)
    return W1, b, W2


# ----------------------------------------------------------------------------- Lemma 1


def test_lemma1_moves_one_point_and_no_other():
    P = sphere(10, 25, seed=3)
    v, others = P[:, 0], P[:, 1:]
    v_new = v + 0.05 * np.random.default_rng(4).standard_normal(10)
    v_new /= np.linalg.norm(v_new)
    u, beta, w, rho_v = T.lemma1_unit(v, v_new, others)
    gap = np.linalg.norm(others - v[:, None], axis=0).min()
    assert rho_v == pytest.approx(0.99 * gap)
    W1, b, W2 = single_unit(u, beta, w)
    H = torch.as_tensor(P)
    out = theorem1_forward(W1, b, W2, H)
    assert torch.allclose(out[:, 0], torch.as_tensor(v_new), atol=1e-14, rtol=0)
    assert torch.equal(out[:, 1:], H[:, 1:])  # bit for bit
    # the weights of the lemma: ‖W1‖ = ‖v‖ = 1, ‖W2‖ = 2‖v' − v‖/ρ_v²
    prod = T.weight_products(W1, W2).item()
    assert prod == pytest.approx(2 * np.linalg.norm(v_new - v) / rho_v**2, rel=1e-12)


def test_lemma1_rejects_a_point_that_is_not_alone():
    P = sphere(5, 4)
    with pytest.raises(ValueError, match="coincides"):
        T.lemma1_unit(P[:, 0], P[:, 1], np.concatenate([P[:, :1], P[:, 2:]], axis=1))


LAYOUTS = ["C", "F", "transposed view", "strided slice", "reversed view", "float32", "float32 F",
           "torch", "torch transposed"]


def in_layout(A, layout):
    """The (d, k) array ``A`` in another memory layout or dtype, same points (exactly)."""
    A = np.asarray(A, dtype=np.float64)
    if layout == "C":
        return np.ascontiguousarray(A)
    if layout == "F":
        return np.asfortranarray(A)
    if layout == "transposed view":  # the transpose of a C-contiguous (k, d) array
        return np.ascontiguousarray(A.T).T
    if layout == "strided slice":  # every other row and every third column of a larger array
        big = np.full((2 * A.shape[0], 3 * A.shape[1]), np.nan)
        big[::2, ::3] = A
        return big[::2, ::3]
    if layout == "reversed view":
        return np.ascontiguousarray(A[:, ::-1])[:, ::-1]
    if layout == "float32":
        return A.astype(np.float32)
    if layout == "float32 F":
        return np.asfortranarray(A.astype(np.float32))
    if layout == "torch":
        return torch.as_tensor(A)
    if layout == "torch transposed":
        return torch.as_tensor(np.ascontiguousarray(A.T)).T
    raise AssertionError(layout)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("scale", [1.0, 1e-3, 1e3])
def test_lemma1_rejects_a_duplicate_in_any_memory_layout(layout, scale):
    # A duplicate must be rejected whatever the layout, dtype or scale: with |a|² + |b|² − 2a·b the
    # distance of a point to itself came out 0 or 4e-16 depending on the BLAS kernel and the layout.
    P = scale * sphere(7, 12, seed=11)
    P = P.astype(np.float32).astype(np.float64) if layout.startswith("float32") else P
    for j in (0, 5, 11):
        O = in_layout(P, layout)
        v = O[:, j]  # a strided view into the others
        with pytest.raises(ValueError, match="coincides"):
            T.lemma1_unit(v, P[:, (j + 1) % 12], O)
    # ... while the same points without the duplicate are fine
    O = in_layout(np.delete(P, 5, axis=1), layout)
    u, beta, w, rho_v = T.lemma1_unit(P[:, 5], P[:, 6], O)
    gap = np.linalg.norm(np.delete(P, 5, axis=1) - P[:, 5:6], axis=0).min()
    assert rho_v == pytest.approx(0.99 * gap, rel=1e-12) and np.all(np.isfinite(w))


def test_lemma1_rejects_a_point_closer_than_float64_resolves():
    P = sphere(5, 4, seed=12)
    v = P[:, 0]
    for eps in (1e-15, 1e-12, 1e-9):  # its unit's activation ρ_v²/2 would be lost in round-off of ‖v‖²
        near = v + eps * P[:, 1]
        with pytest.raises(ValueError, match="coincides"):
            T.lemma1_unit(v, P[:, 2], np.column_stack([near, P[:, 3]]))
    near = v + 1e-5 * P[:, 1]  # resolvable: a unit with huge but exact-enough weights
    u, beta, w, rho_v = T.lemma1_unit(v, P[:, 2], np.column_stack([near, P[:, 3]]))
    assert rho_v == pytest.approx(0.99 * np.linalg.norm(near - v), rel=1e-9)
    assert (v @ u + beta) == pytest.approx(rho_v**2 / 2, rel=1e-3)


def test_lipschitz_lower_bound_is_exact_for_close_and_coincident_inputs_in_any_layout():
    # g(x) = 0.5·Q x with Q orthogonal: every pair's ratio ‖g_i − g_j‖/‖h_i − h_j‖ is 0.5 exactly, a
    # coincident pair is skipped. From |a|² + |b|² − 2a·b a pair 1e-6 apart came out 0.50006
    # (round-off of order 1e-16 on a squared distance of 1e-12) and a coincident pair divided round-off by round-off.
    Q, _ = np.linalg.qr(np.random.default_rng(14).standard_normal((6, 6)))
    for gap in (1e-6, 1e-7):
        H = sphere(6, 40, seed=13)
        H[:, 17] = H[:, 3]
        H[:, 25] = H[:, 8] + gap * H[:, 9]
        out = H + 0.5 * (Q @ H)
        out[:, 17] = out[:, 3]  # the same input gives the same output, bit for bit
        for layout in ("C", "F", "transposed view", "strided slice", "torch transposed"):
            lip = T.lipschitz_lower_bound(in_layout(H, layout), in_layout(out, layout))
            assert abs(lip - 0.5) <= 1e-8, (gap, layout, lip)


def test_anchors_do_not_depend_on_round_off(monkeypatch):
    # Most anchor candidates are nearest to their label itself, all at distance η: a tie. Another
    # BLAS, thread count or layout rounds their distances differently; the choice must not change.
    X = sphere(8, 40, seed=16)
    labels = np.random.default_rng(17).integers(0, 3, 40)
    ref, _ = T._anchors(X, labels, 0.5, 0)
    exact, noise = T._sqdist, np.random.default_rng(18)
    monkeypatch.setattr(T, "_sqdist", lambda A, B: exact(A, B) * (1 + 4e-16 * noise.standard_normal((len(A), len(B)))))
    for _ in range(3):
        assert np.array_equal(T._anchors(X, labels, 0.5, 0)[0], ref)


@pytest.mark.parametrize("layout", ["C", "F", "transposed view", "strided slice", "torch transposed"])
def test_construction_does_not_depend_on_the_memory_layout(layout):
    X = sphere(6, 12, seed=15)
    labels = np.array([0, 1, 2] * 4)
    ref = T.construct(X, labels, delta=0.2)
    c = T.construct(in_layout(X, layout), labels, delta=0.2)
    assert np.array_equal(c.anchors, ref.anchors)  # the anchors' ties are broken by index, not round-off
    assert c.L == ref.L and np.allclose(c.products, ref.products, rtol=1e-12, atol=0)
    Xd = X.copy()
    Xd[:, 9] = Xd[:, 4]
    with pytest.raises(ValueError, match="columns 4 and 9 of X coincide"):
        T.construct(in_layout(Xd, layout), labels)
    assert T.min_distance(in_layout(Xd, layout)) == 0.0  # an exact duplicate: exactly 0


# ----------------------------------------------------------------------------- Lemma 2


def test_path_detours_around_an_obstacle_on_the_arc():
    p, q = np.eye(3)[0], np.eye(3)[1]
    o = (p + q) / math.sqrt(2)
    r, delta = 0.2, 0.03
    P = T.sphere_path(p, q, o[:, None], clearance=r, delta=delta)
    assert np.array_equal(P[0], p) and np.array_equal(P[-1], q)
    assert np.allclose(np.linalg.norm(P, axis=1), 1, atol=1e-14)
    assert np.linalg.norm(P - o, axis=1).min() >= r * (1 - 1e-12)
    assert np.linalg.norm(np.diff(P, axis=0), axis=1).max() <= delta
    straight = T.sphere_path(p, q, np.zeros((3, 0)), clearance=r, delta=delta)
    assert np.linalg.norm(straight - o, axis=1).min() < delta  # without the obstacle it goes through


def test_path_keeps_clearance_among_many_obstacles_and_antipodes():
    rng = np.random.default_rng(5)
    O = sphere(4, 40, seed=6)
    p, q = sphere(4, 2, seed=7).T
    rho = T.min_distance(np.concatenate([O, p[:, None], q[:, None]], axis=1))
    r = 0.45 * rho
    P = T.sphere_path(p, q, O, clearance=r, delta=0.01)
    D = np.sqrt(((P[:, :, None] - O[None]) ** 2).sum(1))
    assert D.min() >= r * (1 - 1e-12)
    assert np.linalg.norm(np.diff(P, axis=0), axis=1).max() <= 0.01
    a = rng.standard_normal(4)
    a /= np.linalg.norm(a)
    P = T.sphere_path(a, -a, np.zeros((4, 0)), clearance=0.1, delta=0.1)  # antipodal: any great circle
    assert np.array_equal(P[-1], -a) and len(P) == math.ceil(math.pi / 0.1) + 1
    assert np.allclose(np.linalg.norm(P, axis=1), 1, atol=1e-14)


# ----------------------------------------------------------------------------- the construction


def test_construction_fits_every_label_via_theorem1_forward(data, built):
    X, labels = data
    c = built
    Y = one_hot(labels, 10).T
    W1, b, W2 = c.W1, c.b, c.W2
    assert W1.shape == (c.L, 10, 10) and b.shape == (c.L, 10) and W2.shape == (c.L, 10, 10)
    out = theorem1_forward(W1, b, W2, torch.as_tensor(X))
    assert torch.allclose(out, torch.as_tensor(Y), atol=1e-9, rtol=0)
    assert T.verify(c, X, Y, method="forward") < 1e-9
    assert T.verify(c, X, Y, method="fast") < 1e-9
    assert c.L == c.n_walk + c.n_merge
    assert set(np.unique(c.stage)) == {"walk", "merge"}
    assert np.all(c.stage[: c.n_walk] == "walk")  # walk first, then merge


def test_walk_units_obey_the_lemma_bounds(built):
    c = built
    walk = c.stage == "walk"
    assert np.all(c.gap[walk] >= c.clearance * (1 - 1e-12))
    assert c.walk_products.max() <= 2 * c.delta / (c.margin * c.clearance) ** 2 * (1 + 1e-9)
    assert c.walk_products.max() <= c.walk_bound * (1 + 1e-9)
    steps = c.products * (c.margin * c.gap) ** 2 / 2 / np.linalg.norm(c.u, axis=1)
    assert steps[walk].max() <= c.delta * (1 + 1e-12)
    assert c.clearance < c.rho_walk / 2 and c.rho > 0


def test_products_are_spectral_norm_products(built):
    c = built
    W1, _, W2 = c.tensors()
    assert np.allclose(T.weight_products(W1, W2).numpy(), c.products, rtol=1e-12)


def test_merge_stage_is_fixed_size_and_anchors_are_distinct(data):
    X, labels = data
    c1 = T.construct(X, labels, delta=0.1)
    c2 = T.construct(X, labels, delta=0.025)
    n_classes = len(np.unique(labels))
    assert c1.n_merge == c2.n_merge == len(labels) - n_classes
    assert np.allclose(c1.merge_products, c2.merge_products)
    assert T.min_distance(c1.anchors) > 0
    # first sample of each class anchors at its label, the others at distance eta from it
    E = np.eye(10)[:, labels]
    dist = np.linalg.norm(c1.anchors - E, axis=0)
    first = np.array([np.flatnonzero(labels == k)[0] == i for i, k in enumerate(labels)])
    assert np.all(dist[first] == 0) and np.allclose(dist[~first], 0.5)


def test_one_sample_per_class_needs_no_merge():
    X = sphere(10, 6, seed=8)
    labels = np.arange(6)
    c = T.construct(X, labels, delta=0.1)
    assert c.n_merge == 0 and T.verify(c, X, one_hot(labels, 10).T) < 1e-12
    c1 = T.construct(X[:, :1], labels[:1], delta=0.1)
    assert c1.n_merge == 0 and T.verify(c1, X[:, :1], one_hot(labels[:1], 10).T) < 1e-12


# ----------------------------------------------------------------------------- scaling


def test_scaling_products_fall_like_one_over_L(data):
    X, labels = data
    rows = T.scaling(X, labels, [0.08, 0.04, 0.02])
    L = np.array([r["L"] for r in rows])
    p = np.array([r["max_walk_product"] for r in rows])
    assert np.all(L[1:] / L[:-1] > 1.8) and np.all(L[1:] / L[:-1] < 2.2)
    assert np.all(p[1:] / p[:-1] > 0.4) and np.all(p[1:] / p[:-1] < 0.6)
    fit = loglog_fit(L, p)
    assert -1.15 <= fit["slope"] <= -0.85 and fit["r2"] > 0.99
    assert len({r["n_merge"] for r in rows}) == 1
    assert len({round(r["max_merge_product"], 12) for r in rows}) == 1
    assert all(r["max_error"] < 1e-9 for r in rows)
    assert all(np.isfinite(r["max_sensitivity"]) for r in rows)


# ----------------------------------------------------------------------------- injectivity


def test_merge_units_have_product_at_least_one(data, built):
    X, labels = data
    c = built
    assert np.all(c.merge_products >= 1)
    l = int(np.flatnonzero(c.stage == "merge")[0])
    H_in = T.apply_units(c.u[:l], c.beta[:l], c.w[:l], X)
    H_out = T.apply_units(c.u[l:l + 1], c.beta[l:l + 1], c.w[l:l + 1], H_in)
    assert T.min_distance(H_in) > 0 and T.min_distance(H_out) < 1e-12  # two points merged
    lip = T.lipschitz_lower_bound(H_in, H_out)
    assert 1 - 1e-9 <= lip <= c.products[l] * (1 + 1e-9)
    W1, _, W2 = c.tensors()
    cert = T.certified_injective(W1, W2).numpy()
    assert not cert[c.stage == "merge"].any()
    assert np.array_equal(cert, c.products < 1)


def test_unit_with_product_below_one_is_injective():
    rng = np.random.default_rng(9)
    d, k = 10, 10
    W1 = torch.as_tensor(rng.standard_normal((1, k, d)))
    W2 = torch.as_tensor(rng.standard_normal((1, d, k)))
    W2 *= 0.9 / T.weight_products(W1, W2)
    b = torch.as_tensor(rng.standard_normal((1, k)))
    assert T.certified_injective(W1, W2).item()
    P = torch.as_tensor(sphere(d, 200, seed=10))
    out = theorem1_forward(W1, b, W2, P)
    din = torch.cdist(P.T, P.T)
    dout = torch.cdist(out.T, out.T)
    off = ~torch.eye(200, dtype=torch.bool)
    assert (dout[off] >= (1 - 0.9) * din[off] * (1 - 1e-9)).all()
    assert T.lipschitz_lower_bound(P, out) <= 0.9 + 1e-9


# ----------------------------------------------------------------------------- bad inputs


def test_rejects_non_unit_columns():
    X = sphere(10, 8)
    X[:, 5] *= 1.5
    with pytest.raises(ValueError, match=r"unit-norm.*column 5 has norm 1\.5"):
        T.construct(X, np.zeros(8, dtype=int))


def test_rejects_duplicate_samples():
    X = sphere(10, 8)
    X[:, 6] = X[:, 2]
    with pytest.raises(ValueError, match="columns 2 and 6 of X coincide"):
        T.construct(X, np.zeros(8, dtype=int))


def test_rejects_a_sample_equal_to_a_label():
    X = sphere(10, 4)
    X[:, 3] = np.eye(10)[1]
    with pytest.raises(ValueError, match="column 3 of X equals the label e_1"):
        T.construct(X, np.array([1, 1, 0, 0]))


def test_rejects_bad_labels_and_parameters():
    X = sphere(10, 4)
    with pytest.raises(ValueError, match=r"labels\[2\] = 10 is out of range"):
        T.construct(X, np.array([0, 1, 10, 3]))
    with pytest.raises(ValueError, match=r"labels\[0\] = -1"):
        T.construct(X, np.array([-1, 1, 2, 3]))
    with pytest.raises(ValueError, match="integers"):
        T.construct(X, np.array([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="4 columns"):
        T.construct(X, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="delta"):
        T.construct(X, np.arange(4), delta=0.0)
    with pytest.raises(ValueError, match="clearance"):
        T.construct(X, np.arange(4), clearance=10.0)
    with pytest.raises(ValueError, match="d >= 3"):
        T.construct(sphere(2, 4), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="method"):
        c = T.construct(X, np.arange(4), delta=0.2)
        T.verify(c, X, one_hot(np.arange(4), 10).T, method="exact")
