"""FFT-preconditioned voxel RVEs (``RVE(..., method="fft")``, :mod:`fe2.homogenization.fft`).

References independent of the FFT solver: the sparse FE path on the same voxel cells
(assembled matrix, direct solver), closed-form laminate tensors (harmonic / arithmetic
means, the layered formula of :mod:`verification.exact_cells`), Keller–Dykhne for the
checkerboard, Hill–Mandel averages computed here from the micro fields, central
differences of the tangent.
"""

from __future__ import annotations

import math
import pickle
from concurrent.futures import ThreadPoolExecutor

import meshio
import numpy as np
import pytest

from fe2.homogenization import RVE, cells
from fe2.homogenization.fft import VoxelFFT, reference_tangent
from fe2.materials import (
    J2Plasticity,
    LinearConductivity,
    LinearElastic,
    NeoHookean,
    NonlinearConductivity,
    SaintVenantKirchhoff,
)
from fe2.verify import check_tangent, observed_rate
from verification.exact_cells import layered_stiffness


def _image(shape, fractions, seed):
    """Random voxel image with phases drawn with the given probabilities."""
    rng = np.random.default_rng(seed)
    return rng.choice(len(fractions), size=shape, p=fractions)


def _pair(cell, mats, **kw):
    return RVE(cell, mats, **kw), RVE(cell, mats, method="fft", **kw)


LINEAR_CASES = {
    "2d-conductivity": (
        lambda: cells.from_image(_image((16, 16), [0.5, 0.3, 0.2], 0), size=(1.0, 1.5)),
        lambda: [LinearConductivity(1.0), LinearConductivity(25.0),
                 LinearConductivity([[4.0, 1.0], [1.0, 2.0]])],
    ),
    "2d-elasticity": (
        lambda: cells.from_image(_image((16, 12), [0.6, 0.4], 1)),
        lambda: [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(30.0, 0.2,
                                                                        plane="strain")],
    ),
    "3d-conductivity": (
        lambda: cells.from_image(_image((6, 5, 4), [0.5, 0.5], 2), size=(1.0, 2.0, 0.7),
                                 origin=(3.0, -1.0, 0.5)),
        lambda: [LinearConductivity(1.0, dim=3), LinearConductivity(10.0, dim=3)],
    ),
    "3d-elasticity": (
        lambda: cells.from_image(_image((8, 8, 8), [0.7, 0.3], 3)),
        lambda: [LinearElastic(1.0, 0.3), LinearElastic(20.0, 0.25)],
    ),
}


# ---------------------------------------------------------------- linear: same answer


@pytest.mark.parametrize("case", list(LINEAR_CASES))
def test_fft_equals_sparse_fe_linear(case):
    """Effective tensor, Hill–Mandel and micro fields equal the sparse FE path's."""
    make_cell, make_mats = LINEAR_CASES[case]
    cell, mats = make_cell(), make_mats()
    sparse, fft = _pair(cell, mats)
    C_s, C_f = sparse.effective_tensor(), fft.effective_tensor()
    scale = np.abs(C_s).max()
    np.testing.assert_allclose(C_f, C_s, rtol=0, atol=1e-8 * scale)
    # one macro input: fields on the same mesh
    d = cell.dim
    rng = np.random.default_rng(7)
    g = rng.normal(size=(d,) if mats[0].measure == "gradient" else (d, d))
    if mats[0].measure == "strain":
        g = 0.5 * (g + g.T)
    s, f = sparse.solve(g), fft.solve(g)
    np.testing.assert_allclose(f.macro_flux, s.macro_flux, rtol=0, atol=1e-8 * scale)
    # total fields agree up to a rigid translation (sparse: one node pinned; fft: zero mean)
    nodal = np.asarray(s.basis.nodal_dofs)
    du = f.u[nodal] - s.u[nodal]  # (c, n_vertices)
    assert np.ptp(du, axis=1).max() < 1e-7 * np.abs(s.u).max()
    np.testing.assert_allclose(f.average(f.flux), s.average(s.flux), atol=1e-8 * scale)
    # element-averaged flux at every voxel (same mesh and element order)
    fe = np.einsum("...eq->...e", f.flux * f.dx) / f.dx.sum(axis=1)
    se = np.einsum("...eq->...e", s.flux * s.dx) / s.dx.sum(axis=1)
    # the sparse path sorts elements by phase: compare by element centroid
    cf = np.asarray(f.basis.mesh.p[:, f.basis.mesh.t].mean(axis=1))
    cs = np.asarray(s.basis.mesh.p[:, s.basis.mesh.t].mean(axis=1))
    kf, ks = np.lexsort(cf[::-1]), np.lexsort(cs[::-1])
    np.testing.assert_allclose(fe[..., kf], se[..., ks], rtol=0,
                               atol=1e-7 * np.abs(se).max())
    # Hill–Mandel from the fields: <q : g> = <q> : <g>
    k = len(g.shape)
    qg = f.average(np.sum(f.flux * f.measure, axis=tuple(range(k))))
    qm, gm = f.average(f.flux), f.average(f.measure)
    assert abs(qg - np.sum(qm * gm)) < 1e-8 * abs(qg)
    np.testing.assert_allclose(gm, g if mats[0].measure != "strain" else 0.5 * (g + g.T),
                               atol=1e-12)
    r = fft.evaluate(np.stack([g, 2 * g], axis=-1))
    assert np.all(r.info["hill_mandel"] < 1e-8 * np.abs(r.flux).max() * np.abs(g).max())
    assert np.all(r.info["krylov_iterations"] > 0) and r.info["converged"].all()


@pytest.mark.parametrize("dim", [2, 3])
def test_homogeneous_cell_is_exact(dim):
    """One anisotropic phase (conductivity) / isotropic elasticity: the phase tensor exactly."""
    Kp = np.diag([3.0, 1.0, 2.0][:dim]) + 0.5 * (np.ones((dim, dim)) - np.eye(dim))
    img = np.zeros((4, 6, 5)[:dim], dtype=int)
    K = RVE(cells.from_image(img), [LinearConductivity(Kp)], method="fft").effective_tensor()
    np.testing.assert_allclose(K, Kp, rtol=0, atol=1e-13)
    mat = LinearElastic(3.0, 0.2, plane="strain" if dim == 2 else None)
    C = RVE(cells.from_image(img), [mat, mat], method="fft").effective_tensor()
    np.testing.assert_allclose(C, mat.stiffness(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_conductivity_means(dim):
    """Voxel laminate normal to x_1: harmonic mean across, arithmetic along."""
    img = np.zeros((4, 10, 6)[:dim], dtype=int)
    img[:, 3:] = 1  # fractions 0.3, 0.7 along axis 1
    k = [1.5, 40.0]
    cell = cells.from_image(img, size=(2.0, 1.0, 3.0)[:dim])
    K = RVE(cell, [LinearConductivity(v, dim=dim) for v in k], method="fft").effective_tensor()
    harmonic = 1.0 / (0.3 / k[0] + 0.7 / k[1])
    arithmetic = 0.3 * k[0] + 0.7 * k[1]
    expected = np.diag([harmonic if a == 1 else arithmetic for a in range(dim)])
    np.testing.assert_allclose(K, expected, rtol=0, atol=1e-9 * arithmetic)


@pytest.mark.parametrize("dim", [2, 3])
def test_laminate_elasticity_layered_formula(dim):
    plane = "strain" if dim == 2 else None
    mats = [LinearElastic(2.0, 0.2, plane=plane), LinearElastic(30.0, 0.35, plane=plane)]
    img = np.zeros((5, 4, 3)[:dim], dtype=int)
    img[3:] = 1  # fractions 0.6, 0.4 along axis 0
    C = RVE(cells.from_image(img), mats, method="fft").effective_tensor()
    ref = layered_stiffness([m.stiffness() for m in mats], [0.6, 0.4], np.eye(dim)[0])
    np.testing.assert_allclose(C, ref, rtol=0, atol=1e-8 * np.abs(ref).max())


def test_checkerboard_converges_to_keller_dykhne():
    """Periodic 2D checkerboard, k = 1 and 10: K -> sqrt(10) I from above at the corner rate."""
    c = 10.0
    exact = math.sqrt(c)
    ns = np.array([8, 16, 32, 64, 128])
    errors, its = [], []
    for n in ns:
        rve = RVE(cells.checkerboard(int(n)), [LinearConductivity(1.0), LinearConductivity(c)],
                  method="fft")
        K = rve.effective_tensor()
        np.testing.assert_allclose(K, K[0, 0] * np.eye(2), atol=1e-9 * exact)
        errors.append(K[0, 0] / exact - 1.0)
        its.append(int(rve.evaluate(np.ones((2, 1))).info["krylov_iterations"][0]))
    errors = np.array(errors)
    assert np.all(errors > 0) and np.all(np.diff(errors) < 0)
    assert errors[-1] < 0.01  # within 1 % at n = 128 voxels per square
    alpha = 2.0 / math.pi * math.acos((c - 1.0) / (c + 1.0))
    rate = observed_rate(1.0 / ns, errors)
    assert abs(rate - 2.0 * alpha) < 0.1, (rate, 2 * alpha, errors)
    # CG iterations bounded under refinement at fixed contrast
    assert max(its) <= 1.5 * min(its) + 4, its
    print("checkerboard errors", errors, "CG iterations", its)


def test_iterations_bounded_under_refinement_and_grow_with_contrast():
    """3D random two-phase conduction: counts stay flat from 4^3 to 16^3 and grow with contrast.

    (bench/fft.py part C has the elastic table up to 64^3.)
    """
    counts = {}
    for contrast in (10.0, 1000.0):
        for n in (4, 8, 16):
            img = np.kron(_image((4, 4, 4), [0.6, 0.4], 5), np.ones((n // 4,) * 3, dtype=int))
            rve = RVE(cells.from_image(img), [LinearConductivity(1.0, dim=3),
                                              LinearConductivity(contrast, dim=3)], method="fft")
            rve.effective_tensor()
            counts[contrast, n] = rve.evaluate(np.zeros((3, 1))).info["krylov_iterations"][0]
    for contrast in (10.0, 1000.0):
        c = [counts[contrast, n] for n in (4, 8, 16)]
        assert max(c) <= 1.5 * min(c) + 6, counts
    assert counts[1000.0, 16] > counts[10.0, 16], counts


# ---------------------------------------------------------------- reference medium, errors


def test_reference_medium_and_porous_phase():
    k = [LinearConductivity(2.0).K, LinearConductivity(8.0).K]
    np.testing.assert_allclose(reference_tangent(k, "gradient", 2), 4.0 * np.eye(2))
    soft = LinearConductivity(1.0)
    soft.K = np.zeros((2, 2))  # a pore
    with pytest.raises(ValueError, match="phase 1 has a tangent that is not positive definite"):
        RVE(cells.checkerboard(2), [LinearConductivity(1.0), soft], method="fft")


def test_errors_name_the_problem():
    k = LinearConductivity(1.0)
    board = cells.checkerboard(2)
    with pytest.raises(ValueError, match="method must be one of 'sparse', 'fft', got 'fast'"):
        RVE(board, [k, k], method="fast")
    with pytest.raises(ValueError, match="method='fft' needs a voxel cell"):
        RVE(cells.laminate([0.5, 0.5]), [k, k], method="fft")
    with pytest.raises(ValueError, match="method='fft' needs bc='periodic', got 'kubc'"):
        RVE(board, [k, k], bc="kubc", method="fft")
    with pytest.raises(ValueError, match="method='fft' needs order=1"):
        RVE(board, [k, k], order=2, method="fft")
    with pytest.raises(ValueError, match="no solver factory"):
        RVE(board, [k, k], solver=lambda: None, method="fft")


# ---------------------------------------------------------------- oracle plumbing


def test_executor_pickle_and_write_vtu(tmp_path):
    mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
    cell = cells.from_image(_image((8, 8), [0.5, 0.5], 4))
    rve = RVE(cell, mats, method="fft")
    rng = np.random.default_rng(0)
    g = rng.normal(size=(2, 2, 5)) * 0.01
    serial = rve.evaluate(g)
    with ThreadPoolExecutor(2) as ex:
        par = RVE(cell, mats, method="fft", executor=ex, chunk_size=2).evaluate(g)
    np.testing.assert_allclose(par.flux, serial.flux, rtol=0, atol=1e-15)
    clone = pickle.loads(pickle.dumps(rve))
    np.testing.assert_allclose(clone.evaluate(g).flux, serial.flux, rtol=0, atol=1e-15)
    assert clone.fingerprint() == rve.fingerprint() != RVE(cell, mats).fingerprint()
    # VTU: the element-averaged stress matches the sparse path's file
    eps = np.array([[0.01, 0.002], [0.002, -0.005]])
    (pf,) = rve.write_vtu(tmp_path / "fft.vtu", eps)
    (ps,) = RVE(cell, mats).write_vtu(tmp_path / "sparse.vtu", eps)
    mf, ms = meshio.read(pf), meshio.read(ps)
    np.testing.assert_allclose(mf.points, ms.points)
    sf, ss = mf.cell_data["stress"][0], ms.cell_data["stress"][0]
    cf = mf.points[mf.cells[0].data].mean(axis=1)
    cs = ms.points[ms.cells[0].data].mean(axis=1)
    kf, ks = np.lexsort(cf.T[::-1]), np.lexsort(cs.T[::-1])
    np.testing.assert_allclose(sf[kf], ss[ks], rtol=0, atol=1e-9)


# ---------------------------------------------------------------- nonlinear phases


def _disk_image(n, dim=2):
    x = (np.indices((n,) * dim) + 0.5) / n - 0.5
    return (np.sum(x**2, axis=0) < 0.3**2).astype(int)


NONLINEAR = {
    "j2": (lambda: [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2),
                    LinearElastic(10.0, 0.2, plane="strain")],
           np.array([[0.01, 0.003], [0.003, -0.004]])),
    "neo-hookean": (lambda: [NeoHookean(1.0, 0.3, dim=2), NeoHookean(10.0, 0.2, dim=2)],
                    np.array([[1.1, 0.05], [0.02, 0.95]])),
    "svk": (lambda: [SaintVenantKirchhoff(1.0, 0.3, dim=2),
                     SaintVenantKirchhoff(10.0, 0.2, dim=2)],
            np.array([[1.05, 0.05], [0.0, 0.97]])),
    "nonlinear-conductor": (lambda: [NonlinearConductivity(1.0, 3.0),
                                     NonlinearConductivity(5.0, 1.5, reg=0.1)],
                            np.array([0.5, 1.0])),
}


@pytest.mark.parametrize("law", list(NONLINEAR))
def test_fft_equals_sparse_nonlinear_and_tangent_matches_fd(law):
    make, g = NONLINEAR[law]
    cell = cells.from_image(_disk_image(12))
    sparse, fft = _pair(cell, make())
    zero = np.eye(2) if g.shape == (2, 2) and law in ("neo-hookean", "svk") else 0.0 * g
    G = np.stack([g, 0.5 * (g + zero)], axis=-1)
    rs = sparse.evaluate(G, state=sparse.initial_state((2,)))
    rf = fft.evaluate(G, state=fft.initial_state((2,)))
    assert rf.info["converged"].all() and np.all(rf.info["iterations"] >= 2)
    scale = np.abs(rs.tangent).max()
    np.testing.assert_allclose(rf.flux, rs.flux, rtol=0, atol=1e-8 * np.abs(rs.flux).max())
    np.testing.assert_allclose(rf.tangent, rs.tangent, rtol=0, atol=1e-7 * scale)
    assert np.all(rf.info["hill_mandel"] < 1e-8 * np.abs(rf.flux).max())
    for k in rs.state or {}:
        if k not in ("fluctuation", "macro_input"):  # history: same values, element order aside
            np.testing.assert_allclose(np.sort(rf.state[k], axis=None),
                                       np.sort(rs.state[k], axis=None), atol=1e-9)
    assert check_tangent(fft, G[..., :1], state=fft.initial_state((1,)), delta=1e-5) < 1e-6
    if law == "j2":
        assert rf.state["alpha"].max() > 0  # plastic micro points
        # from the committed plastic state, reversed loading
        back = -0.5 * G[..., :1]
        rs2 = sparse.evaluate(back, state={k: v[..., :1] for k, v in rs.state.items()})
        rf2 = fft.evaluate(back, state={k: v[..., :1] for k, v in rf.state.items()})
        np.testing.assert_allclose(rf2.flux, rs2.flux, rtol=0, atol=1e-8 * np.abs(rs2.flux).max())
        st = {k: v[..., :1] for k, v in rf.state.items()}
        assert check_tangent(fft, back, state=st, delta=1e-5) < 1e-6


def _element_means_by_centroid(sol):
    """Element averages of measure and flux ``(*idx, n_el)``, elements sorted by centroid."""
    mesh = sol.basis.mesh
    key = np.lexsort(np.asarray(mesh.p[:, mesh.t].mean(axis=1))[::-1])
    w = sol.dx / sol.dx.sum(axis=1, keepdims=True)
    return [np.einsum("...eq,eq->...e", f, w)[..., key] for f in (sol.measure, sol.flux)]


@pytest.mark.parametrize("law", ["j2", "neo-hookean"])
def test_fft_fields_equal_sparse_nonlinear(law):
    """Micro fields of solve(): displacement up to a translation, element stress and strain."""
    make, g = NONLINEAR[law]
    cell = cells.from_image(_disk_image(10))
    sparse, fft = _pair(cell, make())
    s, f = sparse.solve(g), fft.solve(g)
    assert f.converged and f.iterations == s.iterations
    nodal = np.asarray(s.basis.nodal_dofs)
    du = f.u[nodal] - s.u[nodal]
    assert np.ptp(du, axis=1).max() < 1e-8 * np.abs(s.u).max()
    for a, b in zip(_element_means_by_centroid(f), _element_means_by_centroid(s), strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-8 * np.abs(b).max())
    np.testing.assert_allclose(f.tangent, s.tangent, rtol=0, atol=1e-7 * np.abs(s.tangent).max())


def test_fft_j2_3d_and_mixed_control():
    """3D J2 cell equals the sparse path; uniaxial stress (mixed control) too."""
    mats = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1), LinearElastic(10.0, 0.2)]
    cell = cells.from_image(_disk_image(6, dim=3))
    e = np.array([[0.01, 0.002, 0.0], [0.002, -0.003, 0.001], [0.0, 0.001, 0.0]])[..., None]
    sparse, fft = _pair(cell, mats)
    rs = sparse.evaluate(e, state=sparse.initial_state((1,)))
    rf = fft.evaluate(e, state=fft.initial_state((1,)))
    np.testing.assert_allclose(rf.flux, rs.flux, rtol=0, atol=1e-8 * np.abs(rs.flux).max())
    np.testing.assert_allclose(rf.tangent, rs.tangent, rtol=0,
                               atol=1e-7 * np.abs(rs.tangent).max())
    mask = np.ones((3, 3), dtype=bool)
    mask[0, 0] = False
    sparse, fft = _pair(cell, mats, mixed=mask)
    rs = sparse.evaluate(e, state=sparse.initial_state((1,)))
    rf = fft.evaluate(e, state=fft.initial_state((1,)))
    np.testing.assert_allclose(rf.flux, rs.flux, rtol=0, atol=1e-8 * np.abs(rs.flux).max())
    assert np.abs(rf.flux[mask]).max() < 1e-8 * np.abs(rf.flux).max()


@pytest.mark.parametrize("fractions, varying", [([0.8, 0.2], False), ([0.34, 0.33, 0.33], False),
                                               ([0.7, 0.3], True)])
def test_voxelfft_operator_is_the_assembled_stiffness(fractions, varying):
    """The matrix-free operator equals the sparse path's assembled K on periodic nodes.

    A majority phase (>= half the voxels) goes through its Fourier symbol, no majority
    through element matrices; ``varying``: phase 1 with a tangent that differs per voxel.
    """
    import skfem

    from fe2.fem import GradientOperator, element_for

    mats = [LinearElastic(1.0, 0.3), LinearElastic(5.0, 0.1), LinearElastic(2.0, 0.4)]
    cell = cells.from_image(_image((3, 4, 5), fractions, 9), size=(0.3, 1.0, 0.5))
    v = VoxelFFT(cell, mats[: len(fractions)], "strain")
    mesh, phase = cell.to_mesh()
    Tel = np.stack([mats[p].stiffness() for p in phase], axis=-1)  # (3, 3, 3, 3, n_el)
    tangents = [m.stiffness().reshape(9, 9) for m in mats[: len(fractions)]]
    if varying:  # scale phase 1's stiffness by a factor per voxel
        rng = np.random.default_rng(1)
        factor = 1.0 + rng.random(v.index[1].size)
        tangents[1] = np.broadcast_to(
            (mats[1].stiffness()[..., None] * factor)[..., None], (3,) * 4 + (factor.size, 8))
        # the same factors on the mesh elements: voxel of every mesh element
        cen = mesh.p[:, mesh.t].mean(axis=1)
        vox = np.ravel_multi_index(tuple(np.floor(cen / v.h[:, None]).astype(int)), v.n)
        where = np.full(v.nel, -1)
        where[v.index[1]] = np.arange(v.index[1].size)
        one = phase == 1
        Tel[..., one] *= factor[where[vox[one]]]
    v.set_tangent(tangents)
    majority = max(i.size for i in v.index) >= v.nel // 2
    assert majority == (fractions[0] > 0.5), "the cases cover both operator paths"
    basis = skfem.Basis(mesh, element_for(mesh, 1, True), intorder=2)
    op = GradientOperator(basis, "strain")
    K = op.stiffness(np.broadcast_to(Tel[..., None], Tel.shape + (op.nqp,)))
    # periodic node of every basis dof, and its component
    node = np.rint(np.asarray(basis.doflocs) / v.h[:, None]).astype(int) % np.array(v.n)[:, None]
    comp = np.empty(basis.N, dtype=int)
    for i, idx in enumerate(basis.split_indices()):
        comp[idx] = i
    P = np.zeros((basis.N, v.N))
    P[np.arange(basis.N), comp * v.nel + np.ravel_multi_index(tuple(node), v.n)] = 1.0
    Kp = P.T @ K.toarray() @ P
    w = np.random.default_rng(0).normal(size=v.N)
    np.testing.assert_allclose(v.apply(w), Kp @ w, rtol=0, atol=1e-12 * np.abs(Kp).max())


def test_docstring_example_runs():
    import doctest

    import fe2.homogenization.fft as fft_module

    res = doctest.testmod(fft_module)
    assert res.attempted > 0 and res.failed == 0
