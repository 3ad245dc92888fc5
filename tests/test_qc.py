"""Quasicontinuum against full atomistics: patch tests, ghost forces, the fully refined limit,
derivatives by finite differences, and a vacancy cluster in a triangular LJ crystal."""

from __future__ import annotations

import numpy as np
import pytest

from fe2.atomistic.lattice import CauchyBorn
from fe2.atomistic.potentials import LennardJones, Morse
from fe2.atomistic.qc import (
    ClusterQC,
    LocalQC,
    adaptive_qc,
    compare,
    defect_atoms,
    initial_rep_atoms,
    lattice_mesh,
    refine,
)
from fe2.atomistic.system import AtomisticSystem
from fe2.macro import NewtonOptions

LJ = LennardJones(1.0, 1.0, 2.5)
F_PATCH = np.array([[1.02, 0.015], [-0.01, 0.985]])


@pytest.fixture(scope="module")
def tri():
    return CauchyBorn("triangular", LJ)


def vacancy_crystal(cb, n, radius=1.01):
    cr = cb.lattice.crystal(n, cb.lattice_constant)
    center = cr.box @ np.full(cb.dim, 0.5)
    return cr.without(cr.within(center, radius * cb.lattice_constant))


# ---------------------------------------------------------------- patch tests


@pytest.mark.parametrize("spacing", [1, 4])
def test_local_qc_patch_equals_atomistics(tri, spacing):
    """Affine boundary displacement: FE solution is affine, no ghost forces, energy V W(F)
    equals the energy of the periodic crystal summed atom by atom."""
    n = 8
    lq = LocalQC(tri, n, spacing=spacing).prescribe_affine(F_PATCH)
    assert lq.n_rep_atoms == (n // spacing + 1) ** 2
    lq.problem.solve(NewtonOptions(rtol=1e-12))
    X = lq.mesh.p
    U = lq.problem.vertex_values().T
    np.testing.assert_allclose(U, (F_PATCH - np.eye(2)) @ X, atol=1e-12)
    cr = tri.lattice.crystal(n, tri.lattice_constant)
    E_atom = AtomisticSystem.from_crystal(cr, LJ, F_PATCH).energy(cr.positions @ F_PATCH.T)
    assert lq.volume() == pytest.approx(abs(np.linalg.det(cr.box)), rel=1e-13)
    assert lq.energy() == pytest.approx(E_atom, rel=1e-13)
    # interior nodes carry no force (no ghost forces in local QC)
    r = lq.problem._last_fint
    interior = np.setdiff1d(np.arange(lq.problem.basis.N), lq.problem.fixed_dofs())
    assert np.max(np.abs(r[interior]), initial=0.0) < 1e-11


def test_local_qc_patch_3d_fcc():
    cb = CauchyBorn("fcc", LJ)
    F = np.eye(3) + 0.01 * np.random.default_rng(0).standard_normal((3, 3))
    lq = LocalQC(cb, 2).prescribe_affine(F)
    lq.problem.solve()
    cr = cb.lattice.crystal(2, cb.lattice_constant)
    E_atom = AtomisticSystem.from_crystal(cr, LJ, F).energy(cr.positions @ F.T)
    assert lq.energy() == pytest.approx(E_atom, rel=1e-13)
    np.testing.assert_allclose(lq.problem.vertex_values().T, (F - np.eye(3)) @ lq.mesh.p,
                               atol=1e-12)


def test_local_qc_multilattice_patch_equals_relaxed_atomistics():
    """Honeycomb: local QC with inner-shift relaxation = relaxed periodic atomistics.

    Cauchy–Born with inner shifts has the kinematics of the periodic primitive cell
    (36 of them in the 6 x 6 patch). The LJ honeycomb is unstable at F_PATCH: the
    Hessian of the 6 x 6 supercell has negative eigenvalues, and a true minimizer
    (the trust-region Newton) leaves the Cauchy–Born saddle for lower energies there.
    """
    cb = CauchyBorn("honeycomb", LJ)
    lq = LocalQC(cb, 6, spacing=2).prescribe_affine(F_PATCH)
    lq.problem.solve()
    cr = cb.lattice.crystal(1, cb.lattice_constant)
    res = AtomisticSystem.from_crystal(cr, LJ, F_PATCH).relax(cr.positions @ F_PATCH.T,
                                                              gtol=1e-12)
    assert res.converged
    assert lq.energy() == pytest.approx(36 * res.energy, rel=1e-13)
    big = cb.lattice.crystal(6, cb.lattice_constant)
    system = AtomisticSystem.from_crystal(big, LJ, F_PATCH)
    x0 = big.positions @ F_PATCH.T
    assert np.linalg.eigvalsh(system.hessian(x0).toarray())[0] < -1.0
    assert system.relax(x0, max_iter=30).energy < lq.energy() - 1.0


@pytest.mark.parametrize("weights", ["exact", "lumped"])
@pytest.mark.parametrize("rc", [0.0, 1.5, 100.0])
def test_cluster_qc_patch_energy_and_ghost_forces(tri, rc, weights):
    """Homogeneous F on a periodic crystal, graded mesh: E_QC = E_atom = V W(F) to round-off.
    Ghost forces (rep-atom forces at the homogeneous state) vanish only when every atom is
    summed with unit weight: exact weights with clusters covering the elements."""
    a = tri.lattice_constant
    cr = tri.lattice.crystal(16, a)
    reps = np.union1d(initial_rep_atoms(cr, 4), cr.within(cr.positions[100], 3 * a))
    qc = ClusterQC(cr, LJ, reps, F_PATCH, cluster_radius=rc * a, weights=weights)
    E, g = qc.energy_and_gradient()
    E_atom = AtomisticSystem.from_crystal(cr, LJ, F_PATCH).energy(cr.positions @ F_PATCH.T)
    W = tri.energy(F_PATCH[:, :, None])[0] * abs(np.linalg.det(cr.box))
    assert E == pytest.approx(E_atom, rel=1e-13)
    assert E == pytest.approx(W, rel=1e-13)
    ghost = np.max(np.abs(g))
    if rc == 100.0:
        assert qc.n_sampling_atoms == cr.n_atoms
    if rc == 100.0 and weights == "exact":
        np.testing.assert_allclose(qc.atom_weight, 1.0, atol=1e-12)
        assert ghost < 1e-11
    else:
        assert ghost > 1e-3  # the summation rule's spurious forces (reported, not hidden)


def test_cluster_qc_free_boundaries_patch(tri):
    """Free boundaries, all atoms sampled: E_QC equals the free crystal's energy."""
    a = tri.lattice_constant
    cr = tri.lattice.crystal(12, a, periodic=False)
    reps = initial_rep_atoms(cr, 4)
    qc = ClusterQC(cr, LJ, reps, F_PATCH, cluster_radius=100 * a, fixed=reps)
    E_atom = AtomisticSystem(LJ).energy(cr.positions @ F_PATCH.T)
    assert qc.energy() == pytest.approx(E_atom, rel=1e-13)


def test_cluster_qc_patch_3d_fcc():
    """3D: tetrahedral rep-atom mesh of a periodic FCC crystal, homogeneous F."""
    cb = CauchyBorn("fcc", LJ)
    a = cb.lattice_constant
    cr = cb.lattice.crystal(4, a)
    F = np.eye(3) + 0.01 * np.random.default_rng(0).standard_normal((3, 3))
    reps = np.union1d(initial_rep_atoms(cr, 2), cr.within(cr.positions[50], a))
    W = cb.energy(F[:, :, None])[0] * abs(np.linalg.det(cr.box))
    for rc in (0.0, 100.0):
        qc = ClusterQC(cr, LJ, reps, F, cluster_radius=rc)
        E, g = qc.energy_and_gradient()
        assert E == pytest.approx(W, rel=1e-13)
    assert np.max(np.abs(g)) < 1e-11


def test_free_boundary_qc_fully_refined_equals_atomistics(tri):
    """Free boundaries, hull atoms held at F X: QC with every atom a rep atom is atomistics."""
    a = tri.lattice_constant
    cr = tri.lattice.crystal(8, a, periodic=False)
    cr = cr.without(cr.within(cr.positions[27], 0.1 * a))
    F = np.diag([1.02, 0.99])
    hull = initial_rep_atoms(cr, 100)  # the hull atoms only
    ref = AtomisticSystem(LJ, fixed=hull).relax(cr.positions @ F.T, gtol=1e-10)
    qc = ClusterQC(cr, LJ, np.arange(cr.n_atoms), F, cluster_radius=0.0, fixed=hull)
    res = qc.relax(gtol=1e-10)
    assert res.energy == pytest.approx(ref.energy, rel=1e-13)
    assert np.max(np.abs(res.positions - ref.positions)) < 1e-9
    np.testing.assert_array_equal(res.positions[hull], cr.positions[hull] @ F.T)


def test_cluster_qc_derivatives_fd(tri):
    a = tri.lattice_constant
    cr = vacancy_crystal(tri, 12)
    reps = initial_rep_atoms(cr, 4, 2 * a)
    qc = ClusterQC(cr, LJ, reps, F_PATCH, cluster_radius=1.5 * a)
    w = 0.03 * np.random.default_rng(1).standard_normal((qc.n_rep, 2))
    E, g = qc.energy_and_gradient(w)
    K = qc.hessian(w).toarray()
    h = 1e-6
    for dof in [3, 17, 40, 2 * qc.n_rep - 1]:
        wp, wm = w.copy().ravel(), w.copy().ravel()
        wp[dof] += h
        wm[dof] -= h
        Ep, gp = qc.energy_and_gradient(wp.reshape(w.shape))
        Em, gm = qc.energy_and_gradient(wm.reshape(w.shape))
        assert (Ep - Em) / (2 * h) == pytest.approx(g.ravel()[dof], abs=1e-6)
        np.testing.assert_allclose((gp - gm).ravel() / (2 * h), K[:, dof], atol=1e-5)


def test_cluster_qc_fully_refined_equals_atomistics(tri):
    """Every atom a rep atom: QC is full atomistics (any cluster radius)."""
    cr = vacancy_crystal(tri, 10)
    F = np.diag([1.02, 0.99])
    ref = AtomisticSystem.from_crystal(cr, LJ, F).relax(cr.positions @ F.T, gtol=1e-10)
    for rc in (0.0, 2.0):
        qc = ClusterQC(cr, LJ, np.arange(cr.n_atoms), F, cluster_radius=rc)
        res = qc.relax(gtol=1e-10)
        assert res.energy == pytest.approx(ref.energy, rel=1e-13)
        assert np.max(np.abs(res.positions - ref.positions)) < 1e-9


def test_morse_square_lattice_qc_patch():
    cb = CauchyBorn("square", Morse(1.0, 3.0, 1.0, 2.2))
    cr = cb.lattice.crystal(12, cb.lattice_constant)
    F = np.array([[1.01, 0.0], [0.02, 1.0]])
    qc = ClusterQC(cr, cb.potential, initial_rep_atoms(cr, 3), F, cluster_radius=0.0)
    W = cb.energy(F[:, :, None])[0] * abs(np.linalg.det(cr.box))
    assert qc.energy() == pytest.approx(W, rel=1e-13)


# ---------------------------------------------------------------- defect study


def test_defect_detection_and_initial_reps(tri):
    cr = vacancy_crystal(tri, 16)
    assert cr.n_atoms == 16 * 16 - 7
    assert len(defect_atoms(cr)) == 12  # the ring around a 7-vacancy hexagon
    reps = initial_rep_atoms(cr, 8, 2.0 * tri.lattice_constant)
    assert 0 in reps and len(reps) < cr.n_atoms / 4


@pytest.fixture(scope="module")
def vacancy_problem(tri):
    cr = vacancy_crystal(tri, 32)
    F = np.array([[1.03, 0.0], [0.0, 1.0]])
    ref = AtomisticSystem.from_crystal(cr, LJ, F).relax(cr.positions @ F.T, gtol=1e-9)
    return cr, F, ref


def test_defect_error_decreases_with_cluster_radius(tri, vacancy_problem):
    cr, F, ref = vacancy_problem
    a = tri.lattice_constant
    reps = initial_rep_atoms(cr, 8, 2.5 * a)
    errs = []
    for rc in (0.0, 2.0, 100.0):
        res = ClusterQC(cr, LJ, reps, F, cluster_radius=rc * a).relax()
        errs.append(compare(res, ref.positions, ref.energy))
    du = [e["max_displacement_error"] for e in errs]
    assert du[0] > du[1] > du[2]
    # the summation error (against the exactly summed QC energy) falls with the radius
    dE = [abs(e["energy_error"] - errs[2]["energy_error"]) for e in errs]
    assert dE[0] > dE[1] > 10 * dE[2]
    # exact summation: QC minimizes the true energy over a subspace, so E_QC >= E_atom
    assert errs[2]["energy_error"] > 0
    assert errs[2]["n_dofs"] < 0.1 * 2 * cr.n_atoms


def test_defect_adaptivity_reduces_error(tri, vacancy_problem):
    cr, F, ref = vacancy_problem
    a = tri.lattice_constant
    reps = initial_rep_atoms(cr, 8, 2.5 * a)
    out = []
    for tol in (1e-2, 1e-3):
        qc, res = adaptive_qc(cr, LJ, reps, F, tol=tol, cluster_radius=100 * a)[-1]
        out.append(compare(res, ref.positions, ref.energy))
        assert refine(qc, res.w, tol)[1] == 0 or len(refine(qc, res.w, tol)[0]) == qc.n_rep
    assert out[1]["energy_error"] < out[0]["energy_error"]
    assert out[1]["max_displacement_error"] < out[0]["max_displacement_error"]
    assert out[1]["n_dofs"] < 0.5 * 2 * cr.n_atoms


@pytest.mark.slow
def test_defect_study_table_64(tri):
    """64 x 64 periodic crystal, 7 vacancies: exact-summation QC error falls with adaptivity."""
    cr = vacancy_crystal(tri, 64)
    F = np.array([[1.03, 0.0], [0.0, 1.0]])
    ref = AtomisticSystem.from_crystal(cr, LJ, F).relax(cr.positions @ F.T, gtol=1e-9)
    a = tri.lattice_constant
    reps = initial_rep_atoms(cr, 16, 2.5 * a)
    prev = None
    for tol in (1e-2, 3e-3, 1e-3):
        _, res = adaptive_qc(cr, LJ, reps, F, tol=tol, cluster_radius=100 * a)[-1]
        e = compare(res, ref.positions, ref.energy)
        assert e["energy_error"] > 0
        if prev is not None:
            assert e["energy_error"] < prev["energy_error"]
            assert e["max_displacement_error"] < prev["max_displacement_error"]
        prev = e
    assert prev["n_dofs"] < 0.2 * 2 * cr.n_atoms


# ---------------------------------------------------------------- errors


def test_qc_bad_input(tri):
    a = tri.lattice_constant
    cr = tri.lattice.crystal(8, a)
    with pytest.raises(ValueError, match="cluster_radius must be >= 0"):
        ClusterQC(cr, LJ, [0, 5], cluster_radius=-1.0)
    with pytest.raises(ValueError, match="weights must be 'exact' or 'lumped'"):
        ClusterQC(cr, LJ, initial_rep_atoms(cr, 4), weights="uniform")
    with pytest.raises(ValueError, match=r"rep_atoms must be atom indices in \[0, 64\)"):
        ClusterQC(cr, LJ, [0, 64])
    honey = CauchyBorn("honeycomb", LJ)
    with pytest.raises(ValueError, match="simple lattices only"):
        ClusterQC(honey.lattice.crystal(4, honey.lattice_constant), LJ, [0])
    with pytest.raises(ValueError, match="spacing must be a positive divisor"):
        lattice_mesh(tri, 8, spacing=3)
    with pytest.raises(ValueError, match="outside the rep-atom mesh"):
        free = tri.lattice.crystal(8, a, periodic=False)
        ClusterQC(free, LJ, np.arange(0, 30))
    with pytest.raises(ValueError, match="tol must be > 0"):
        qc = ClusterQC(cr, LJ, initial_rep_atoms(cr, 4))
        refine(qc, None, 0.0)
