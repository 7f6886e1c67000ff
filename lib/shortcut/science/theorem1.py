"""Theorem 1, executed: a network of the form (Eq. 3) that fits every label exactly, built by the proof
(Section 4.1, Theorem 1; its proof in Appendix A.1, Lemmas 1 and 2).

The network (Section 4.1, Eq. 3, "a simplified ResNet") is
``h_l = h_{l-1} + W2[l] ReLU(W1[l] h_{l-1} + b[l])``, ``f(x) = h_L``, run by
:func:`shortcut.science.models.theorem1_forward`. The data (Assumption 1) are unit-norm columns of
``X`` (d, m) with one-hot labels ``y_i = e_{c_i}``; Assumption 2 asks that samples and labels are distinct.

**Lemma 1 unit** (:func:`lemma1_unit`; Appendix A.1, Lemma 1). To move one current point ``v`` to
``v'`` and leave every other current point ``o`` where it is: ``W1`` has one active row ``vᵀ``, the
bias on that row is ``-(‖v‖² − ρ_v²/2)`` and ``W2`` has one active column ``(v' − v)/(ρ_v²/2)``,
where ``ρ_v`` is ``margin`` (0.99) times the distance from ``v`` to the nearest other current point.
On the sphere ``⟨v, o⟩ = 1 − ‖v − o‖²/2``, so the ReLU is ``ρ_v²/2`` at ``v`` and exactly 0 at every
other point: the other points are not moved at all (bit for bit). Its weight product is ``‖W2‖·‖W1‖
= 2‖v' − v‖·‖v‖/ρ_v²`` (spectral norms; rank one). Hidden width is ``d`` (the other rows are zero),
so all matrices are d × d as in the paper; row/column 0 is the active one.

**Lemma 2 paths** (:func:`sphere_path`; Appendix A.1, Lemma 2). A point walks along the minor
great-circle arc to its destination in steps of length ≤ ``delta``; where the arc would pass closer
than the clearance ``r`` to another current point ``o``, the piece inside the cap ``{‖u − o‖ < r}``
is replaced by an arc of the small circle ``{‖u − o‖ = r}`` (Appendix A.1, Fig. 10). With all points
at mutual distance ≥ ρ and ``r < ρ/2`` the caps are disjoint and every point of the path stays ≥
``r`` from every other point, so each step's unit has product ≤ ``2δ/(margin·r)²``. The path length
is bounded (≤ π plus one detour per obstacle), so ``L`` walk units give ``δ = O(1/L)`` and products
``O(1/L)``.

**Shared labels and injectivity** (:func:`lipschitz_lower_bound`, :func:`certified_injective`).
A residual unit ``F(x) = x + g(x)`` with ``Lip(g) < 1`` is injective: ``‖F(x) − F(x')‖ ≥
(1 − Lip(g))‖x − x'‖``. For Eq. 3, ``Lip(g) ≤ ‖W2‖·‖W1‖`` (ReLU is 1-Lipschitz). A composition of
injective maps is injective, so **any unit that sends two distinct points to the same point has
``‖W2‖·‖W1‖ ≥ 1``** (from ``g(x) − g(x') = x' − x``). Hence exact interpolation with repeated labels
cannot have *all* units ``O(1/L)``: the literal statement of Theorem 1 fails once ``C/L < 1`` whenever
two samples share a label. The honest version built here has two stages:

1. **walk** — every sample walks (one at a time, the others fixed) to its own distinct anchor ``a_i``:
   the first sample of class ``c`` to ``e_c`` itself, the others to points at distance ``eta`` from
   ``e_c`` chosen to be far from every sample, label and other anchor (greedy farthest-point choice).
   All walk units have products ``O(1/L)``; this is the stage the theorem's ``O(1/L)`` is about.
2. **merge** — one Lemma 1 unit per sample that is not the first of its class moves its anchor onto
   ``e_c``. The number of merge units (``m − #classes``) and their products (≈ ``2η/ρ_a²``, and ≥ 1 by
   the injectivity fact) do not depend on ``L``.

The distance condition of Lemma 1 is only needed for the *moving* point, so merging onto an occupied
``e_c`` is fine: the merging unit is the last one that touches the sample.

**Conditioning** (:func:`sensitivity`). In exact arithmetic the network fits every label for any
``delta``. In float64 the rounding errors are amplified by the network's Jacobian at ``x_i``, which is
the product of the ``I + w uᵀ`` of the units that move sample i: a radial error ``e`` shifts the
activation by ``e`` and the step by ``e·2s/ρ_v²`` — summed over a path that is ``2·length/ρ_v²``,
independent of ``delta`` — and where the path turns, that shift feeds back into the radial direction
and compounds. So the amplification does *not* go to 1 as ``delta → 0``: it is set by the paths and
the gaps. Measured: ~10²–10⁴ for 30–500 points in d = 10 (errors ~1e-14), but ~10¹⁹ for 60 random
points in d = 3 (crowded), where float64 cannot check the construction. :func:`scaling` reports it
next to the error.

Everything is float64 numpy inside; :class:`Construction` exposes ``W1``, ``b``, ``W2`` as torch
tensors (built on demand: ``L × d × d`` each). :func:`verify` runs the network through
``models.theorem1_forward`` (or, for long networks, the same recurrence written for rank-one units).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.spatial.distance import cdist

from .data import one_hot
from .models import theorem1_forward

__all__ = [
    "Construction",
    "construct",
    "lemma1_unit",
    "sphere_path",
    "min_distance",
    "weight_products",
    "lipschitz_lower_bound",
    "certified_injective",
    "apply_units",
    "sensitivity",
    "verify",
    "scaling",
]

NORM_TOL = 1e-8  # how far from 1 a column norm may be (Assumption 1)
RESOLUTION = 64 * np.finfo(np.float64).eps  # smallest Lemma 1 activation ρ_v²/2, relative to ‖v‖², not lost in round-off
TIE_RTOL = 1e-9  # anchor candidates this close (relatively) to the farthest one are tied with it


# ---------------------------------------------------------------------------------------------
# small helpers


def _as_numpy(A, name: str) -> np.ndarray:
    if isinstance(A, torch.Tensor):
        A = A.detach().cpu().numpy()
    A = np.asarray(A)
    if A.dtype.kind not in "fiu" or A.dtype == bool:
        raise ValueError(f"{name} must be a real numeric array, got dtype {A.dtype}")
    return A.astype(np.float64, copy=False)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x)


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared distances between the rows of A (n, d) and of B (k, d), (n, k), summed from the
    differences: exactly 0 for a point and itself, and no cancellation for close points, whatever
    the memory layout or the BLAS. (The expanded ``|a|² + |b|² − 2a·b`` leaves round-off of order
    ``eps·|a|²``: 4e-16 for a unit vector and itself, i.e. a "distance" of 2e-8.)"""
    return cdist(A, B, "sqeuclidean")


def min_distance(V) -> float:
    """Definition 3: ``ρ({v}) = min_{i≠j} ‖v_i − v_j‖`` over the COLUMNS of ``V`` (d, n); inf if n < 2."""
    V = _as_numpy(V, "V")
    if V.ndim != 2:
        raise ValueError(f"V must be 2-D (d, n) with points as columns, got shape {V.shape}")
    return math.sqrt(_closest_pair(V.T)[0])


def _closest_pair(P: np.ndarray) -> tuple[float, int, int]:
    """(squared distance, i, j) of the closest pair of rows of P; (inf, -1, -1) for < 2 rows.

    Exact duplicates are found first (the first pair by index, distance 0); otherwise the
    distances come from :func:`_sqdist` (differences, no cancellation)."""
    n = P.shape[0]
    if n < 2:
        return math.inf, -1, -1
    _, first, inverse = np.unique(P, axis=0, return_index=True, return_inverse=True)
    dup = np.flatnonzero(first[inverse.ravel()] != np.arange(n))
    if dup.size:
        j = int(dup[0])
        return 0.0, int(first[inverse.ravel()[j]]), j
    best, bi, bj = math.inf, -1, -1
    for s in range(0, n, 1024):
        D = _sqdist(P[s:s + 1024], P)
        rows = np.arange(D.shape[0])
        D[rows, s + rows] = np.inf
        i, j = divmod(int(np.argmin(D)), n)
        dij = float(D[i, j])
        if dij < best:
            best, bi, bj = dij, min(s + i, j), max(s + i, j)
    return best, bi, bj


def _check_labels(labels, d: int, m: int | None) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels must be a 1-D integer array, got shape {lab.shape}")
    if lab.size and lab.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers (class indices), got dtype {lab.dtype}")
    if m is not None and lab.size != m:
        raise ValueError(f"labels has {lab.size} entries but X has {m} columns (samples)")
    if lab.size and (lab.min() < 0 or lab.max() >= d):
        bad = int(np.flatnonzero((lab < 0) | (lab >= d))[0])
        raise ValueError(f"labels must be in 0..{d - 1} (one-hot targets e_1..e_d in R^{d}); "
                         f"labels[{bad}] = {int(lab[bad])} is out of range")
    return lab.astype(np.int64)


def _check_data(X, labels) -> tuple[np.ndarray, np.ndarray]:
    """Assumptions 1 and 2, with ValueErrors that say what is wrong and where."""
    X = _as_numpy(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (d, m) with samples as columns, got shape {X.shape}")
    d, m = X.shape
    if d < 3:
        raise ValueError(f"X must have d >= 3 rows: Lemma 2's detours need room (on a circle, d = 2, "
                         f"points cannot pass each other); got d = {d}")
    if m < 1:
        raise ValueError("X has no columns (samples)")
    if not np.all(np.isfinite(X)):
        raise ValueError("X has non-finite entries")
    lab = _check_labels(labels, d, m)
    norms = np.linalg.norm(X, axis=0)
    worst = int(np.argmax(np.abs(norms - 1.0)))
    if abs(norms[worst] - 1.0) > NORM_TOL:
        raise ValueError(f"X must have unit-norm columns (Assumption 1: samples on the unit sphere); "
                         f"column {worst} has norm {norms[worst]:.6g} (tolerance {NORM_TOL:g}); "
                         f"normalise with shortcut.science.data.unit_sphere")
    d2, i, j = _closest_pair(X.T)
    if d2 == 0.0:
        raise ValueError(f"samples must be distinct (Assumption 2: minimum distance > 0); "
                         f"columns {i} and {j} of X coincide")
    for c in np.unique(lab):
        same = np.flatnonzero(np.all(X.T == np.eye(d)[c], axis=1))
        if same.size:
            raise ValueError(f"samples and labels must be distinct (Assumption 2); column {int(same[0])} "
                             f"of X equals the label e_{int(c)} (add tiny noise)")
    return X, lab


# ---------------------------------------------------------------------------------------------
# Lemma 1: one unit moves one point


def lemma1_unit(v, v_new, others, margin: float = 0.99) -> tuple[np.ndarray, float, np.ndarray, float]:
    """The Lemma 1 unit that moves ``v`` to ``v_new`` and leaves every column of ``others`` fixed.

    ``v``, ``v_new`` (d,), ``others`` (d, k) — points on the unit sphere, none equal to ``v``.
    Returns ``(u, beta, w, rho_v)``: the active row of ``W1`` (``u = v``), the bias on that row, the
    active column of ``W2`` and ``ρ_v = margin · min_o ‖v − o‖``. As d × d matrices:
    ``W1 = e_0 uᵀ``, ``b = beta·e_0``, ``W2 = w e_0ᵀ``; product ``‖W2‖‖W1‖ = ‖w‖‖u‖ = 2‖v_new − v‖/ρ_v``².
    """
    if not 0.0 < margin < 1.0:
        raise ValueError(f"margin must be in (0, 1), got {margin}")
    v = _as_numpy(v, "v").ravel()
    v_new = _as_numpy(v_new, "v_new").ravel()
    O = _as_numpy(others, "others").reshape(v.size, -1)
    dist = math.sqrt(float(_sqdist(v[None], O.T).min())) if O.shape[1] else 2.0
    # The unit's activation at v is ‖v‖² + beta = ρ_v²/2, computed in float64 next to ‖v‖²: below
    # RESOLUTION·‖v‖² it is round-off, and the unit's weights (∝ 1/ρ_v²) are meaningless.
    too_close = math.sqrt(2.0 * RESOLUTION) * float(np.linalg.norm(v)) / margin
    if not dist > too_close:
        raise ValueError(f"v coincides with one of the other points (distance {dist:.3g}, not above "
                         f"{too_close:.3g}, what float64 resolves at |v| = {np.linalg.norm(v):.3g}): "
                         f"no unit can move it alone")
    u, beta, w, rho = _lemma1_batch(v[None], v_new[None], np.array([dist]), margin)
    return u[0], float(beta[0]), w[0], float(rho[0])


def _lemma1_batch(V: np.ndarray, Vn: np.ndarray, dist: np.ndarray, margin: float):
    """Lemma 1 units for the rows of V → Vn, ``dist`` = distance of each to the nearest other point."""
    rho = margin * dist
    sq = (V * V).sum(1)
    beta = -(sq - rho ** 2 / 2)
    act = sq + beta  # = ρ_v²/2, computed as the network will compute it at v
    w = (Vn - V) / act[:, None]
    return V.copy(), beta, w, rho


# ---------------------------------------------------------------------------------------------
# Lemma 2: a path on the sphere that keeps its distance


def _orthonormal_to(vectors: list[np.ndarray], d: int) -> np.ndarray:
    """A unit vector orthogonal to every vector given (Gram–Schmidt on the best standard basis vector)."""
    Q = []
    for v in vectors:
        for q in Q:
            v = v - (v @ q) * q
        Q.append(_unit(v))
    Q = np.array(Q)
    E = np.eye(d) - (np.eye(d) @ Q.T) @ Q
    return _unit(E[int(np.argmax(np.linalg.norm(E, axis=1)))])


def sphere_path(p, q, obstacles, clearance: float, delta: float) -> np.ndarray:
    """Lemma 2: waypoints from ``p`` to ``q`` on the unit sphere, consecutive ones ≤ ``delta`` apart.

    The path follows the minor great-circle arc and goes around every obstacle (column of
    ``obstacles``, d × k) that the arc would pass closer than ``clearance``, along the small circle
    at distance ``clearance`` from it. Needs ``p`` and ``q`` at distance > clearance from every
    obstacle and obstacles at mutual distance > 2·clearance (then every waypoint is ≥ clearance from
    every obstacle). Returns an (n+1, d) array, rows ``p, …, q``.
    """
    p = _as_numpy(p, "p").ravel()
    q = _as_numpy(q, "q").ravel()
    O = _as_numpy(obstacles, "obstacles").reshape(p.size, -1).T
    return _path(p, q, O, float(clearance), float(delta))


def _path(p: np.ndarray, q: np.ndarray, O: np.ndarray, r: float, delta: float) -> np.ndarray:
    d = p.size
    theta = 2.0 * math.asin(min(1.0, float(np.linalg.norm(q - p)) / 2.0))
    if theta == 0.0:
        return np.array([p, q])
    t_raw = q - (p @ q) * p
    nt = float(np.linalg.norm(t_raw))
    t_hat = t_raw / nt if nt > 1e-6 else _orthonormal_to([p], d)  # antipodal: any great circle will do

    def gamma(t):
        t = np.asarray(t, dtype=np.float64)
        return np.cos(t)[:, None] * p + np.sin(t)[:, None] * t_hat

    cos_a = 1.0 - r * r / 2.0  # ⟨u, o⟩ on the circle ‖u − o‖ = r
    sin_a = math.sqrt(max(0.0, 1.0 - cos_a * cos_a))
    detours = []
    if O.shape[0]:
        A, B = O @ p, O @ t_hat
        R = np.hypot(A, B)
        hit = np.flatnonzero(R > cos_a)
        if hit.size:
            phi = np.arctan2(B[hit], A[hit])
            psi = np.arccos(np.minimum(1.0, cos_a / R[hit]))
            lo, hi = phi - psi, phi + psi
            keep = (hi > 0.0) & (lo < theta)
            for k in np.argsort(lo[keep]):
                detours.append((max(lo[keep][k], 0.0), min(hi[keep][k], theta), O[hit[keep][k]]))

    pts = [p[None]]
    t0 = 0.0
    for t_in, t_out, o in detours:
        if t_in > t0:
            n = max(1, math.ceil((t_in - t0) / delta))
            pts.append(gamma(t0 + (t_in - t0) * np.arange(1, n + 1) / n))
        e_in, e_out = gamma([t_in, t_out])
        w_in = _unit(e_in - (e_in @ o) * o)
        w_out = _unit(e_out - (e_out @ o) * o)
        c = float(np.clip(w_in @ w_out, -1.0, 1.0))
        n_hat = w_out - c * w_in
        if np.linalg.norm(n_hat) > 1e-9:
            n_hat = _unit(n_hat)
            ang = math.acos(c)
        else:  # the obstacle sits on the arc: go round either way, half a turn
            n_hat = _orthonormal_to([o, w_in], d)
            ang = math.pi
        n = max(1, math.ceil(sin_a * ang / delta))
        tau = ang * np.arange(1, n + 1) / n
        W = np.cos(tau)[:, None] * w_in + np.sin(tau)[:, None] * n_hat
        C = cos_a * o + sin_a * W
        C /= np.linalg.norm(C, axis=1, keepdims=True)
        C[-1] = e_out
        pts.append(C)
        t0 = t_out
    n = max(1, math.ceil((theta - t0) / delta))
    tail = gamma(t0 + (theta - t0) * np.arange(1, n + 1) / n)
    tail[-1] = q
    pts.append(tail)
    P = np.concatenate(pts)
    P[1:-1] /= np.linalg.norm(P[1:-1], axis=1, keepdims=True)
    return P


# ---------------------------------------------------------------------------------------------
# anchors


def _anchors(X: np.ndarray, lab: np.ndarray, eta: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's destination of the walk stage (d, m) and whether it is the first of its class."""
    d, m = X.shape
    rng = np.random.default_rng(seed)
    classes = np.unique(lab)
    E = np.eye(d)
    anchors = np.zeros((d, m))
    first = np.zeros(m, dtype=bool)
    fixed = [X.T, E[classes]]  # every anchor keeps away from every sample and every label point
    for c in classes:
        members = np.flatnonzero(lab == c)
        first[members[0]] = True
        anchors[:, members[0]] = E[c]
        rest = members[1:]
        if not rest.size:
            continue
        # candidates on the ring {‖a − e_c‖ = η} of the sphere, then greedy farthest-point choice
        n_cand = max(512, 64 * rest.size)
        Z = rng.standard_normal((n_cand, d))
        Z[:, c] = 0.0
        Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        C = (1.0 - eta * eta / 2.0) * E[c] + eta * math.sqrt(1.0 - eta * eta / 4.0) * Z
        C /= np.linalg.norm(C, axis=1, keepdims=True)
        F = np.concatenate(fixed)
        best = _sqdist(C, F).min(1)
        for i in rest:
            # most candidates are nearest to e_c itself, all at η: a tie, which the first of them
            # wins (np.argmax would let the last bit of round-off pick, differently on each machine)
            k = int(np.flatnonzero(best >= best.max() * (1.0 - TIE_RTOL))[0])
            anchors[:, i] = C[k]
            best = np.minimum(best, ((C - C[k]) ** 2).sum(1))
        fixed.append(anchors[:, rest].T)
    return anchors, first


def _walk_rho(X: np.ndarray, anchors: np.ndarray) -> float:
    """Minimum distance of samples ∪ anchors, except each sample with its own anchor (never both present)."""
    m = X.shape[1]
    P = np.concatenate([X.T, anchors.T])
    best = math.inf
    for s in range(0, 2 * m, 1024):
        D = _sqdist(P[s:s + 1024], P)
        idx = np.arange(s, min(s + 1024, 2 * m))
        D[idx - s, idx] = np.inf
        D[idx - s, (idx + m) % (2 * m)] = np.inf  # x_i with a_i
        best = min(best, float(D.min()))
    return math.sqrt(best)


# ---------------------------------------------------------------------------------------------
# the construction


@dataclass(frozen=True, eq=False)
class Construction:
    """Theorem 1's network, unit by unit, in rank-one form (unit l: ``W1 = e_0 u_lᵀ``,
    ``b = beta_l e_0``, ``W2 = w_l e_0ᵀ``, all d × d); ``W1``, ``b``, ``W2`` give the torch tensors.

    ``stage[l]`` is ``'walk'`` or ``'merge'``, ``mover[l]`` the sample unit l moves, ``products[l]``
    ``= ‖W2[l]‖·‖W1[l]‖`` (spectral norms), ``gap[l]`` the distance from the moving point to the
    nearest other point when unit l acts (Lemma 1's ``ρ_v = margin·gap``). ``rho``: Assumption 2's minimum distance of samples ∪
    labels; ``rho_walk``: that of samples ∪ anchors (what the walk must keep apart); ``clearance``:
    the detour radius r; ``delta``: the maximal step; ``anchors`` (d, m): each sample's walk target;
    ``path_length`` (m,): length of each sample's path.
    """

    u: np.ndarray
    beta: np.ndarray
    w: np.ndarray
    stage: np.ndarray
    mover: np.ndarray
    products: np.ndarray
    gap: np.ndarray
    rho: float
    rho_walk: float
    clearance: float
    delta: float
    eta: float
    margin: float
    anchors: np.ndarray
    path_length: np.ndarray

    @property
    def L(self) -> int:
        """Total number of units (walk + merge)."""
        return int(self.u.shape[0])

    @property
    def d(self) -> int:
        return int(self.u.shape[1])

    @property
    def n_walk(self) -> int:
        return int(np.count_nonzero(self.stage == "walk"))

    @property
    def n_merge(self) -> int:
        return int(np.count_nonzero(self.stage == "merge"))

    @property
    def walk_products(self) -> np.ndarray:
        return self.products[self.stage == "walk"]

    @property
    def merge_products(self) -> np.ndarray:
        return self.products[self.stage == "merge"]

    @property
    def walk_bound(self) -> float:
        """Lemma 1 + 2's bound on every walk unit's product: ``2δ/(margin·r)²`` (for ‖x‖ = 1)."""
        return 2.0 * self.delta / (self.margin * self.clearance) ** 2

    def tensors(self, dtype: torch.dtype = torch.float64, device=None):
        """``(W1, b, W2)`` as torch tensors of shapes (L, d, d), (L, d), (L, d, d)."""
        return self._W1(dtype, device), self._b(dtype, device), self._W2(dtype, device)

    def _W1(self, dtype=torch.float64, device=None) -> torch.Tensor:
        W1 = torch.zeros(self.L, self.d, self.d, dtype=dtype, device=device)
        W1[:, 0, :] = torch.as_tensor(self.u, dtype=dtype, device=device)
        return W1

    def _b(self, dtype=torch.float64, device=None) -> torch.Tensor:
        b = torch.zeros(self.L, self.d, dtype=dtype, device=device)
        b[:, 0] = torch.as_tensor(self.beta, dtype=dtype, device=device)
        return b

    def _W2(self, dtype=torch.float64, device=None) -> torch.Tensor:
        W2 = torch.zeros(self.L, self.d, self.d, dtype=dtype, device=device)
        W2[:, :, 0] = torch.as_tensor(self.w, dtype=dtype, device=device)
        return W2

    @property
    def W1(self) -> torch.Tensor:
        """(L, d, d) float64, built on demand: row 0 of unit l is ``u[l]``."""
        return self._W1()

    @property
    def b(self) -> torch.Tensor:
        """(L, d) float64, built on demand: entry 0 of unit l is ``beta[l]``."""
        return self._b()

    @property
    def W2(self) -> torch.Tensor:
        """(L, d, d) float64, built on demand: column 0 of unit l is ``w[l]``."""
        return self._W2()

    def __repr__(self) -> str:
        wp, mp = self.walk_products, self.merge_products
        return (f"Construction(d={self.d}, m={self.anchors.shape[1]}, walk units={self.n_walk} "
                f"(max product {wp.max() if wp.size else 0:.3g}), merge units={self.n_merge} "
                f"(max product {mp.max() if mp.size else 0:.3g}), delta={self.delta:g}, rho={self.rho:.3g}, "
                f"rho_walk={self.rho_walk:.3g}, clearance={self.clearance:.3g})")


def construct(X, labels, delta: float = 0.05, eta: float = 0.5, clearance: float | None = None,
              margin: float = 0.99, seed: int = 0) -> Construction:
    """Build Theorem 1's network for samples ``X`` (d, m; unit columns) and ``labels`` (m,) in 0..d−1.

    ``delta``: longest step of a walk unit (``n_walk ≈ total path length / delta``). ``eta``: distance
    of the extra anchors from their label (samples after the first of a class). ``clearance``: detour
    radius r, default ``0.45·rho_walk`` (must be < rho_walk/2). ``margin``: Lemma 1's safety factor on
    ρ_v. ``seed``: for the anchors' candidate directions. Samples walk one at a time, in index order.
    """
    X, lab = _check_data(X, labels)
    for name, val, lo, hi in (("delta", delta, 0.0, 2.0), ("eta", eta, 0.0, 2.0), ("margin", margin, 0.0, 1.0)):
        if not (isinstance(val, (int, float)) and math.isfinite(val) and lo < val < hi):
            raise ValueError(f"{name} must be a number in ({lo:g}, {hi:g}), got {val!r}")
    d, m = X.shape
    classes = np.unique(lab)
    rho = min_distance(np.concatenate([X, np.eye(d)[:, classes]], axis=1))
    anchors, first = _anchors(X, lab, float(eta), seed)
    rho_walk = _walk_rho(X, anchors)
    if clearance is None:
        clearance = 0.45 * rho_walk if math.isfinite(rho_walk) else 0.5  # one sample: nothing to avoid
    if not (math.isfinite(clearance) and 0.0 < clearance < rho_walk / 2):
        raise ValueError(f"clearance must be in (0, rho_walk/2) = (0, {rho_walk / 2:.6g}) so that the "
                         f"detour caps are disjoint; got {clearance!r}")

    pos = X.T.copy()  # current (ideal) positions, rows
    U, Bt, Wc, G, stage, mover, lengths = [], [], [], [], [], [], np.zeros(m)
    others = np.ones(m, dtype=bool)
    for i in range(m):
        others[i] = False
        O = pos[others]
        P = _path(pos[i], anchors[:, i], O, clearance, delta)
        dist = np.sqrt(_sqdist(P[:-1], O).min(1)) if O.size else np.full(P.shape[0] - 1, 2.0)
        u, beta, w, _ = _lemma1_batch(P[:-1], P[1:], dist, margin)
        U.append(u), Bt.append(beta), Wc.append(w), G.append(dist)
        stage.append(np.full(len(beta), "walk")), mover.append(np.full(len(beta), i))
        lengths[i] = float(np.linalg.norm(np.diff(P, axis=0), axis=1).sum())
        pos[i] = anchors[:, i]
        others[i] = True
    for i in np.flatnonzero(~first):  # merge: anchor → label, one Lemma 1 unit each
        others[i] = False
        target = np.eye(d)[lab[i]]
        dist = np.sqrt(_sqdist(pos[i][None], pos[others]).min(1)) if m > 1 else np.array([2.0])
        u, beta, w, _ = _lemma1_batch(pos[i][None], target[None], dist, margin)
        U.append(u), Bt.append(beta), Wc.append(w), G.append(dist)
        stage.append(np.array(["merge"])), mover.append(np.array([i]))
        pos[i] = target
        others[i] = True
    U, Wc = np.concatenate(U), np.concatenate(Wc)
    return Construction(
        u=U, beta=np.concatenate(Bt), w=Wc, stage=np.concatenate(stage).astype(str),
        mover=np.concatenate(mover), products=np.linalg.norm(U, axis=1) * np.linalg.norm(Wc, axis=1),
        gap=np.concatenate(G),
        rho=rho, rho_walk=rho_walk, clearance=float(clearance), delta=float(delta), eta=float(eta),
        margin=float(margin), anchors=anchors, path_length=lengths)


# ---------------------------------------------------------------------------------------------
# weights, injectivity, verification


def weight_products(W1, W2) -> torch.Tensor:
    """``‖W2[l]‖₂·‖W1[l]‖₂`` per unit (spectral norms), for W1 (L, k, d) and W2 (L, d, k)."""
    W1 = torch.as_tensor(W1)
    W2 = torch.as_tensor(W2)
    return torch.linalg.matrix_norm(W2, ord=2) * torch.linalg.matrix_norm(W1, ord=2)


def certified_injective(W1, W2) -> torch.Tensor:
    """Per unit: True where ``‖W2‖‖W1‖ < 1``, which proves ``x ↦ x + W2 ReLU(W1 x + b)`` injective
    (``‖F(x) − F(x')‖ ≥ (1 − ‖W2‖‖W1‖)‖x − x'‖``) — such a unit can never merge two points."""
    return weight_products(W1, W2) < 1


def lipschitz_lower_bound(H_in, H_out) -> float:
    """A lower bound on ``Lip(g)`` for a unit ``F = id + g`` seen on points: columns of ``H_in``
    (d, n) go to the columns of ``H_out``. It is ``max_{i≠j} ‖g_i − g_j‖/‖h_i − h_j‖`` with
    ``g = H_out − H_in``; a unit that merges two distinct points has it ≥ 1, hence
    ``‖W2‖‖W1‖ ≥ Lip(g) ≥ 1``. Coincident input pairs are skipped."""
    H_in = _as_numpy(H_in, "H_in")
    G = _as_numpy(H_out, "H_out") - H_in
    if H_in.ndim != 2 or H_in.shape != G.shape:
        raise ValueError(f"H_in and H_out must be (d, n) of the same shape, got {H_in.shape}, {G.shape}")
    num = np.sqrt(_sqdist(G.T, G.T))
    den = np.sqrt(_sqdist(H_in.T, H_in.T))
    mask = den > 0
    return float((num[mask] / den[mask]).max()) if mask.any() else 0.0


def apply_units(u: np.ndarray, beta: np.ndarray, w: np.ndarray, H) -> np.ndarray:
    """Eq. 3 for rank-one units, ``h ← h + w_l ReLU(⟨u_l, h⟩ + beta_l)``, on every column of ``H`` (d, n).

    The same recurrence as ``models.theorem1_forward`` with ``W1 = e_0 uᵀ``, ``b = beta e_0``,
    ``W2 = w e_0ᵀ`` (the zero rows contribute exact zeros); every unit is applied to every point.
    """
    H = _as_numpy(H, "H").copy()
    with np.errstate(over="ignore", invalid="ignore"):
        for l in range(u.shape[0]):
            a = u[l] @ H + beta[l]
            act = np.flatnonzero(a > 0)
            if act.size:
                H[:, act] += np.outer(w[l], a[act])
    return H


def sensitivity(construction: Construction) -> np.ndarray:
    """Per sample, ``‖∂f/∂x (x_i)‖₂``: the spectral norm of the network's Jacobian at ``x_i``.

    At ``x_i`` only the units that move sample i are active (every other unit's ReLU is strictly
    negative there), so the Jacobian is the product of their ``I + w_l u_lᵀ``. It is the factor by
    which an error in ``x_i`` — or a rounding error early on the path — reaches ``f(x_i)``. Each step
    multiplies it by about ``1 + s_l²/ρ_l²`` (s the step, ρ_l = margin·gap), so it stays O(1) once
    ``δ ≲ r²`` (walk products ≲ 1), and explodes for coarse steps: there the construction is exact
    in exact arithmetic but not computable in float64.
    """
    c = construction
    m = c.anchors.shape[1]
    order = np.argsort(c.mover, kind="stable")  # units of each sample, in network order
    counts = np.bincount(c.mover, minlength=m)
    K = int(counts.max())
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    J = np.broadcast_to(np.eye(c.d), (m, c.d, c.d)).copy()
    for k in range(K):
        live = np.flatnonzero(counts > k)
        idx = order[starts[live] + k]
        uJ = np.einsum("nd,nde->ne", c.u[idx], J[live])
        J[live] += c.w[idx][:, :, None] * uJ[:, None, :]
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.linalg.norm(J, ord=2, axis=(1, 2)) if np.all(np.isfinite(J)) else np.array(
            [np.linalg.norm(j, ord=2) if np.all(np.isfinite(j)) else np.inf for j in J])
    return out


def verify(construction: Construction, X, Y, method: str = "auto") -> float:
    """``max_i ‖f(x_i) − y_i‖_∞`` for the constructed network.

    ``method``: ``'forward'`` runs ``models.theorem1_forward`` on the d × d tensors; ``'fast'`` runs
    :func:`apply_units` (same recurrence, rank-one form, ~100× faster); ``'auto'`` uses 'forward' up
    to 2,000 units.
    """
    if method == "auto":
        method = "forward" if construction.L <= 2000 else "fast"
    Xn = _as_numpy(X, "X")
    Yn = _as_numpy(Y, "Y")
    if Xn.shape != Yn.shape or Xn.shape[0] != construction.d:
        raise ValueError(f"X and Y must both be (d, m) with d = {construction.d}; got {Xn.shape}, {Yn.shape}")
    if method == "forward":
        W1, b, W2 = construction.tensors()
        out = theorem1_forward(W1, b, W2, torch.as_tensor(Xn, dtype=torch.float64)).numpy()
    elif method == "fast":
        out = apply_units(construction.u, construction.beta, construction.w, Xn)
    else:
        raise ValueError(f"method must be 'auto', 'forward' or 'fast', got {method!r}")
    err = np.abs(out - Yn)
    return float(err.max()) if np.all(np.isfinite(err)) else math.inf


# ---------------------------------------------------------------------------------------------
# scaling: max product against depth


def scaling(X, labels, deltas, method: str = "fast", **kwargs) -> list[dict]:
    """One :func:`construct` per ``delta``; a row per delta with the numbers for the log-log plot.

    Keys: ``delta``, ``L`` (walk units), ``n_merge``, ``L_total``, ``max_walk_product``,
    ``walk_bound`` (``2δ/(margin·r)²``), ``max_merge_product`` (NaN without merge units), ``max_product``
    (every unit), ``max_error`` (:func:`verify`; inf
    if float64 overflowed), ``max_sensitivity`` (:func:`sensitivity`), ``seconds`` (construction +
    verification). ``method`` goes to :func:`verify`, ``kwargs`` to :func:`construct`.
    """
    X, lab = _check_data(X, labels)
    Y = one_hot(lab, X.shape[0]).T  # the paper's targets: column i is e_{labels[i]}
    rows = []
    for delta in deltas:
        t0 = time.perf_counter()
        c = construct(X, lab, delta=float(delta), **kwargs)
        err = verify(c, X, Y, method=method)
        mp = c.merge_products
        rows.append(dict(delta=float(delta), L=c.n_walk, n_merge=c.n_merge, L_total=c.L,
                         max_walk_product=float(c.walk_products.max()), walk_bound=c.walk_bound,
                         max_merge_product=float(mp.max()) if mp.size else float("nan"),
                         max_product=float(c.products.max()),
                         max_error=err, max_sensitivity=float(sensitivity(c).max()),
                         seconds=time.perf_counter() - t0))
    return rows

