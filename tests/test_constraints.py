"""Tests of the shared micro boundary conditions and the Hill–Mandel computation.

Each boundary condition of :mod:`fe2.homogenization.constraints` is checked against a
fact computed here independently of it:

- periodic: the expanded field takes equal values at nodes paired by coordinates on
  opposite faces (pairs found here by rounding coordinates), zero at the pinned corner;
- KUBC: the fluctuation vanishes at every node on the box faces (found by coordinates);
- TUBC: ``int grad w`` of the solved fluctuation, integrated here with scikit-fem's
  interpolation, is zero to round-off, and so is its boundary mean;
- the constrained system equals ``[[P^T K P, P^T C^T], [C P, 0]]`` formed densely here;
- a homogeneous cell gives zero fluctuation under every condition (the affine field is
  the exact solution), with the stiffness assembled by scikit-fem, not by fe2;
- Voigt >= KUBC >= periodic >= TUBC >= Reuss, for the RVE and for FE-HMM boxes
  (Voigt and Reuss from the volume fractions);
- Hill–Mandel: ``<q : g> = <q> : <g>`` for the three conditions to round-off, against a
  closed-form residual for a field that is not in equilibrium, and clearly violated when
  the fluctuation leaves the admissible space.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from skfem.helpers import ddot, dot, grad, sym_grad, trace

from fe2.homogenization import RVE, HMMSampler, cells, reuss_bound, voigt_bound
from fe2.homogenization.averages import hill_mandel, hill_mandel_form, volume_average
from fe2.homogenization.constraints import (
    ALIASES,
    KINDS,
    ConstrainedSystem,
    micro_constraints,
)
from fe2.homogenization.hmm import random_checkerboard
from fe2.materials import LinearConductivity, LinearElastic
from fe2.tensors import tensor4_to_mandel

BOX_LO = np.array([0.2, -0.5])
BOX_L = np.array([1.5, 1.0])


def _mesh(kind: str = "quad", n: int = 6, jitter: float = 0.2, seed: int = 0) -> skfem.Mesh:
    """Box ``BOX_LO + [0, BOX_L]`` with interior nodes moved at random (boundary nodes match)."""
    axes = [np.linspace(lo, lo + L, n + 1) for lo, L in zip(BOX_LO, BOX_L, strict=True)]
    m = (skfem.MeshQuad if kind == "quad" else skfem.MeshTri).init_tensor(*axes)
    p = m.p.copy()
    inner = np.all((np.abs(p - BOX_LO[:, None]) > 1e-9) & (np.abs(p - (BOX_LO + BOX_L)[:, None])
                                                               > 1e-9), axis=0)
    h = BOX_L / n
    rng = np.random.default_rng(seed)
    p[:, inner] += jitter * h[:, None] * (rng.random((2, int(inner.sum()))) - 0.5)
    return type(m)(p, m.t)


def _basis(kind="quad", order=1, vector=False, **kw) -> skfem.CellBasis:
    m = _mesh(kind, **kw)
    e = {("quad", 1): skfem.ElementQuad1, ("quad", 2): skfem.ElementQuad2,
         ("tri", 1): skfem.ElementTriP1, ("tri", 2): skfem.ElementTriP2}[(kind, order)]()
    return skfem.Basis(m, skfem.ElementVector(e) if vector else e)


def _on_face(X: np.ndarray, a: int, hi: bool) -> np.ndarray:
    target = BOX_LO[a] + (BOX_L[a] if hi else 0.0)
    return np.abs(X[a] - target) < 1e-9


def _components(basis) -> list[np.ndarray]:
    vector = isinstance(basis.elem, skfem.ElementVector)
    return list(basis.split_indices()) if vector else [np.arange(basis.N)]


def _affine(basis, H: np.ndarray) -> np.ndarray:
    """Dofs of ``u = H (x - x0)``: ``H (d,)`` scalar or ``(d, d)`` vector."""
    X = np.asarray(basis.doflocs)
    u = np.zeros(basis.N)
    comps = _components(basis)
    for c, idx in enumerate(comps):
        row = H if len(comps) == 1 else H[c]
        u[idx] = row @ (X[:, idx] - BOX_LO[:, None])
    return u


def _stiffness(basis, k_el: np.ndarray | None = None, lam=1.0, mu=0.7) -> sp.csr_matrix:
    """scikit-fem stiffness: conduction with element conductivity ``k_el`` or elasticity."""
    nq = basis.X.shape[-1]
    k = np.ones((basis.nelems, nq)) if k_el is None else np.repeat(k_el[:, None], nq, axis=1)
    if isinstance(basis.elem, skfem.ElementVector):

        @skfem.BilinearForm
        def form(u, v, w):
            e_u, e_v = sym_grad(u), sym_grad(v)
            return w.k * (lam * trace(e_u) * trace(e_v) + 2 * mu * ddot(e_u, e_v))
    else:

        @skfem.BilinearForm
        def form(u, v, w):
            return w.k * dot(grad(u), grad(v))

    return skfem.asm(form, basis, k=k).tocsr()


def _solve(basis, kind, K, u_aff):
    """Fluctuation of the constrained problem ``K (u_aff + w) = 0`` (shared code under test)."""
    cons = micro_constraints(basis, kind, origin=BOX_LO, size=BOX_L)
    if cons.C is not None:
        cons = cons.scaled(float(np.abs(K.diagonal()).mean()))
    system = ConstrainedSystem.for_matrix(cons, K)
    x = spla.spsolve(system.matrix(K).tocsc(), system.rhs(K @ u_aff, None))
    return system.expand(x), system


# ---------------------------------------------------------------- the maps


@pytest.mark.parametrize("vector", [False, True])
@pytest.mark.parametrize("kind,order", [("quad", 1), ("quad", 2), ("tri", 2)])
def test_periodic_map_makes_fields_periodic(kind, order, vector):
    basis = _basis(kind, order, vector)
    pc = micro_constraints(basis, "periodic", origin=BOX_LO, size=BOX_L)
    assert pc.m == 0
    w = pc.expand(np.random.default_rng(1).standard_normal(pc.n_red))
    X = np.asarray(basis.doflocs)
    pairs = 0
    for idx in _components(basis):
        key = {tuple(np.round(X[:, i], 9)): i for i in idx}
        for a in range(2):
            for i in idx[_on_face(X[:, idx], a, hi=True)]:
                partner = X[:, i].copy()
                partner[a] -= BOX_L[a]
                assert w[i] == w[key[tuple(np.round(partner, 9))]]
                pairs += 1
        corner = idx[_on_face(X[:, idx], 0, False) & _on_face(X[:, idx], 1, False)]
        assert corner.size == 1 and w[corner[0]] == 0.0
    assert pairs > 0
    # one unknown per dof off the upper faces (the dofs of the torus) but the pinned corner
    off_hi = ~(_on_face(X, 0, True) | _on_face(X, 1, True))
    assert pc.n_red == sum(int(off_hi[idx].sum()) - 1 for idx in _components(basis))


@pytest.mark.parametrize("vector", [False, True])
def test_kubc_map_fixes_the_boundary(vector):
    basis = _basis("tri", 2, vector)
    kc = micro_constraints(basis, "kubc")
    w = kc.expand(np.random.default_rng(2).standard_normal(kc.n_red))
    X = np.asarray(basis.doflocs)
    on_boundary = np.zeros(basis.N, dtype=bool)
    for a in range(2):
        on_boundary |= _on_face(X, a, False) | _on_face(X, a, True)
    assert np.all(w[on_boundary] == 0.0)
    assert np.all(w[~on_boundary] != 0.0)
    np.testing.assert_array_equal(kc.P.toarray() @ np.arange(kc.n_red), kc.expand(
        np.arange(kc.n_red)))


@pytest.mark.parametrize("vector", [False, True])
def test_tubc_multipliers_give_zero_mean_gradient(vector):
    basis = _basis("quad", 2, vector)
    rng = np.random.default_rng(3)
    k_el = np.where(rng.random(basis.nelems) < 0.4, 10.0, 1.0)
    K = _stiffness(basis, k_el)  # two phases, contrast 10
    H = np.array([0.7, -1.3]) if not vector else np.array([[0.01, 0.004], [-0.002, -0.003]])
    w, system = _solve(basis, "tubc", K, _affine(basis, H))
    assert system.m == (3 if not vector else 6)  # every component of int grad w, and the mean
    gw = basis.interpolate(w).grad  # (d,) or (d, d) x (n_el, n_qp)
    mean_grad = np.einsum("...eq,eq->...", np.asarray(gw), basis.dx)
    assert np.abs(mean_grad).max() < 1e-12 * np.abs(w).max()
    fb = skfem.FacetBasis(basis.mesh, basis.elem)
    wb = np.asarray(fb.interpolate(w))
    assert np.abs(np.einsum("...eq,eq->...", wb, fb.dx)).max() < 1e-12 * np.abs(w).max()
    # the fluctuation is real: a heterogeneous cell deviates from the affine field
    assert np.abs(w).max() > 1e-2 * np.abs(_affine(basis, H)).max()


@pytest.mark.parametrize("kind", KINDS)
def test_system_is_the_bordered_reduced_matrix(kind):
    basis = _basis("tri", 1, True, n=3)
    K = _stiffness(basis, np.linspace(1.0, 3.0, basis.nelems))
    cons = micro_constraints(basis, kind).scaled(2.5)
    P = np.zeros((basis.N, cons.n_red))
    for i, r in enumerate(cons.rmap):
        if r >= 0:
            P[i, r] = 1.0
    Kd = K.toarray()
    top = P.T @ Kd @ P
    if cons.C is not None:
        CP = cons.C @ P
        ref = np.block([[top, CP.T], [CP, np.zeros((cons.m, cons.m))]])
        assert np.allclose(np.abs(cons.C).max(axis=1), 2.5)
    else:
        ref = top
    by_matrix = ConstrainedSystem.for_matrix(cons, K)
    np.testing.assert_allclose(by_matrix.matrix(K).toarray(), ref, atol=1e-13)
    # the element route (FE-HMM) gives the same system from element matrices
    op_dofs = np.asarray(basis.element_dofs)
    nb = op_dofs.shape[0]
    ke = np.zeros((basis.nelems, nb, nb))
    # element matrices of the same form: assemble each element alone
    k_el = np.linspace(1.0, 3.0, basis.nelems)
    for e in range(basis.nelems):
        only = np.zeros(basis.nelems)
        only[e] = k_el[e]
        Ke = _stiffness(basis, only).toarray()
        ke[e] = Ke[np.ix_(op_dofs[:, e], op_dofs[:, e])]
    by_elements = ConstrainedSystem.for_elements(cons, op_dofs)
    np.testing.assert_allclose(by_elements.matrix(ke.ravel()).toarray(), ref,
                               atol=1e-12 * np.abs(ref).max())
    # element loads map to [P^T F; 0]
    fe = np.random.default_rng(4).standard_normal((basis.nelems, nb))
    F = np.zeros(basis.N)
    np.add.at(F, op_dofs.T, fe)
    want = np.concatenate([P.T @ F, np.zeros(cons.m)])
    np.testing.assert_allclose(by_elements.element_loads @ fe.ravel(), want, atol=1e-13)
    np.testing.assert_allclose(-by_matrix.rhs(F, None), want, atol=1e-13)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("vector", [False, True])
def test_homogeneous_cell_has_no_fluctuation(kind, vector):
    basis = _basis("quad", 2, vector, jitter=0.3)
    K = _stiffness(basis)
    H = np.array([0.7, -1.3]) if not vector else np.array([[0.01, 0.004], [-0.002, -0.003]])
    u_aff = _affine(basis, H)
    w, system = _solve(basis, kind, K, u_aff)
    assert np.abs(w).max() < 1e-12 * np.abs(u_aff).max()
    # the same constrained system is not trivially zero: a heterogeneous cell fluctuates
    w_het, _ = _solve(basis, kind, _stiffness(basis, np.linspace(1, 5, basis.nelems)), u_aff)
    assert np.abs(w_het).max() > 1e-3 * np.abs(u_aff).max()


def test_bad_input_is_named():
    basis = _basis("quad", 1)
    with pytest.raises(ValueError, match="kind must be one of 'periodic', 'kubc', 'tubc'.*"
                                         "got 'robin'"):
        micro_constraints(basis, "robin")
    m = skfem.MeshQuad.init_tensor(np.linspace(0, 1, 4), np.array([0.0, 0.3, 1.0]))
    p = m.p.copy()
    moved = int(np.flatnonzero((p[0] == 1.0) & (p[1] == 0.3))[0])
    p[1, moved] = 0.4
    with pytest.raises(ValueError, match=rf"mesh node {moved} at \(1, 0.4\) has no partner"):
        micro_constraints(skfem.Basis(type(m)(p, m.t), skfem.ElementQuad1()), "periodic")
    assert {ALIASES["dirichlet"], ALIASES["neumann"]} == {"kubc", "tubc"}


# ---------------------------------------------------------------- ordering, RVE and HMM


def _mandel(C):
    return C if C.ndim == 2 else tensor4_to_mandel(C)


def _min_eig(D):
    D = _mandel(D)
    return float(np.linalg.eigvalsh(0.5 * (D + D.T)).min())


@pytest.mark.parametrize("physics", ["conductivity", "elasticity"])
def test_rve_ordering_voigt_kubc_periodic_tubc_reuss(physics):
    img = (np.random.default_rng(11).random((8, 8)) < 0.45).astype(int)
    cell = cells.from_image(img)
    if physics == "conductivity":
        mats = [LinearConductivity(1.0), LinearConductivity(10.0)]
        tensors = [m.K for m in mats]
    else:
        mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
        tensors = [m.stiffness() for m in mats]
    f = np.bincount(img.ravel(), minlength=2) / img.size
    C = {bc: RVE(cell, mats, bc=bc).effective_tensor() for bc in KINDS}
    chain = [voigt_bound(tensors, f), C["kubc"], C["periodic"], C["tubc"], reuss_bound(tensors, f)]
    scale = np.abs(_mandel(chain[0])).max()
    for upper, lower in zip(chain[:-1], chain[1:], strict=True):
        assert _min_eig(upper - lower) > 1e-4 * scale  # strict: a random cell is no laminate


def test_hmm_ordering_voigt_dirichlet_periodic_neumann_reuss():
    eps = 0.05
    a = random_checkerboard(eps, values=[1.0, 8.0], seed=5)
    x = np.array([[0.3, 0.75], [0.45, 0.1]])  # box corners on the eps lattice (delta = 4 eps)
    A = {c: HMMSampler(a, eps=eps, delta=4 * eps, coupling=c, micro_h=eps / 4)
         .effective_tensor(x) for c in ("dirichlet", "periodic", "neumann")}
    for p in range(x.shape[1]):
        # the 16 squares of the box, sampled at their centres: the exact volume fractions
        c = (np.arange(4) - 1.5) * eps
        centres = x[:, p, None, None] + np.stack(np.meshgrid(c, c, indexing="ij"))
        vals = np.asarray(a(centres.reshape(2, -1)))
        voigt, reuss = vals.mean() * np.eye(2), np.eye(2) / np.mean(1.0 / vals)
        chain = [voigt, A["dirichlet"][..., p], A["periodic"][..., p], A["neumann"][..., p], reuss]
        for upper, lower in zip(chain[:-1], chain[1:], strict=True):
            assert _min_eig(upper - lower) > 1e-4


def test_rve_and_hmm_box_agree_on_the_same_periodic_cell():
    """The same 4 x 4 checkerboard as an RVE cell and as an FE-HMM box: equal tensors."""
    from fe2.homogenization.hmm import isotropic_elasticity, voxel_coefficient

    cell = cells.checkerboard(4)
    phases = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
    values = [isotropic_elasticity(p.lam, p.mu) for p in phases]
    for bc, coupling in (("kubc", "dirichlet"), ("periodic", "periodic"), ("tubc", "neumann")):
        ref = RVE(cell, phases, bc=bc, order=2).effective_tensor()
        hmm = HMMSampler(voxel_coefficient(cell.image, values, size=0.1), eps=0.1, delta=0.1,
                         coupling=coupling, micro_h=0.1 / 8, order=2, measure="strain")
        A = hmm.effective_tensor(np.array([[0.35], [0.25]]))[..., 0]
        np.testing.assert_allclose(A, ref, atol=1e-11 * np.abs(ref).max())


# ---------------------------------------------------------------- Hill–Mandel


def test_hill_mandel_closed_form():
    """A field that is not in equilibrium: residual = <k g^2> - <k g> <g> by hand."""
    dx = np.array([[0.1, 0.2], [0.3, 0.4]])
    g = np.array([[[1.0, 2.0], [3.0, 4.0]]])  # (1, 2, 2)
    q = 2.0 * g
    hm = hill_mandel(q, g, dx)
    mean_g = (0.1 + 0.4 + 0.9 + 1.6)  # sum g dx, |Y| = 1
    work = 2 * (0.1 + 0.8 + 2.7 + 6.4)
    assert hm.residual == pytest.approx(abs(work - 2 * mean_g**2), rel=1e-14)
    assert hm.mean_measure == pytest.approx([mean_g], rel=1e-14)
    assert hm.relative == pytest.approx(hm.residual / (2 * mean_g**2), rel=1e-14)
    assert volume_average(g, dx, volume=2.0) == pytest.approx([mean_g / 2], rel=1e-14)
    M = hill_mandel_form(np.stack([q[0], g[0]])[:, None], np.stack([g[0], q[0]])[:, None], dx)
    assert M.shape == (2, 2) and M[0, 0] == pytest.approx(work - 2 * mean_g**2, rel=1e-14)
    assert M[0, 1] == pytest.approx(2 * M[1, 1], rel=1e-14)


@pytest.mark.parametrize("bc", KINDS)
@pytest.mark.parametrize("physics", ["conductivity", "elasticity"])
def test_hill_mandel_every_bc_to_round_off(bc, physics):
    img = (np.random.default_rng(12).random((6, 6)) < 0.45).astype(int)
    cell = cells.from_image(img)
    if physics == "conductivity":
        mats = [LinearConductivity(1.0), LinearConductivity(10.0)]
        G = np.array([0.7, -1.3])
    else:
        mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
        G = np.array([[0.01, 0.004], [0.004, -0.003]])
    rve = RVE(cell, mats, bc=bc, order=2)
    sol = rve.solve(G)
    hm = hill_mandel(sol.flux, sol.measure, sol.dx, sol.volume)
    assert hm.relative < 1e-12
    np.testing.assert_allclose(hm.mean_measure, G, atol=1e-13)
    # the oracle reports the same residual, also through the linear-cell quadratic form
    scale = np.linalg.norm(hm.mean_flux) * np.linalg.norm(hm.mean_measure)
    assert sol.hill_mandel < 1e-12 * scale
    assert rve.evaluate(G[..., None]).info["hill_mandel"][0] < 1e-12 * scale
    # scikit-fem's interpolation of the solved field reproduces the oracle's micro measure
    np.testing.assert_allclose(basis_measure(sol.basis, sol.w, G), sol.measure,
                               atol=1e-12 * np.abs(sol.measure).max())
    # the identity is no tautology: it fails visibly outside the admissible pairs
    if bc != "tubc":
        # a fluctuation that is neither zero nor periodic on the boundary
        X = np.asarray(sol.basis.doflocs)
        bump = np.sin(np.pi * X[0]) ** 2 * (1.0 + X[1])  # nonzero on y = 0 and y = 1
        dw = np.zeros_like(sol.w)
        comps = sol.basis.split_indices() if G.ndim == 2 else [np.arange(sol.w.size)]
        dw[comps[0]] = np.abs(sol.w).max() * bump[comps[0]] / np.abs(bump).max()
        bad = hill_mandel(sol.flux, basis_measure(sol.basis, sol.w + dw, G), sol.dx, sol.volume)
    else:
        # uniform tractions make <q : g> = <q> : <g> hold for *any* g, but not for a flux
        # out of equilibrium
        x = np.asarray(sol.basis.global_coordinates())  # (d, n_el, n_qp)
        dq = np.zeros_like(sol.flux)
        dq[(0,) * (sol.flux.ndim - 2)] = np.abs(sol.flux).max() * np.sin(2 * np.pi * x[0])
        bad = hill_mandel(sol.flux + dq, sol.measure, sol.dx, sol.volume)
    assert bad.relative > 1e-3


def basis_measure(basis, w, G):
    """Micro measure ``G + grad w`` (sym for strains) by scikit-fem interpolation."""
    gw = np.asarray(basis.interpolate(w).grad)
    if G.ndim == 2:
        gw = 0.5 * (gw + np.swapaxes(gw, 0, 1))
    return G.reshape(G.shape + (1, 1)) + gw
