"""Pair potentials, lattices, the Cauchy–Born oracle and the full atomistic reference.

References: finite differences, closed-form elastic constants of spring networks,
the Cauchy relations, frame indifference, and the energy of a homogeneously
deformed periodic crystal summed atom by atom.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from fe2.atomistic.lattice import LATTICES, CauchyBorn, get_lattice
from fe2.atomistic.neighbours import build_pairs
from fe2.atomistic.potentials import HarmonicSpring, LennardJones, Morse
from fe2.atomistic.system import AtomisticSystem
from fe2.oracle import OracleError
from fe2.verify import check_tangent

LJ = LennardJones(1.0, 1.0, 2.5)


def rotation(d, rng):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q


def random_F(d, n, rng, scale=0.04):
    return np.eye(d)[:, :, None] + scale * rng.standard_normal((d, d, n))


# ---------------------------------------------------------------- potentials

POTENTIALS = [
    LennardJones(1.0, 1.0, 2.5, shift="none"),
    LennardJones(0.7, 1.3, 3.0, shift="energy"),
    LennardJones(1.0, 1.0, 2.5, shift="force"),
    Morse(0.8, 3.0, 1.2, 2.5),
    Morse(1.0, 2.0, 1.0, 3.0, shift="force"),
    HarmonicSpring(2.0, 1.1),
]


@pytest.mark.parametrize("pot", POTENTIALS, ids=repr)
def test_potential_derivatives_fd_and_twin(pot):
    r = np.linspace(0.85, 2.3, 40)
    phi, d1, d2 = pot.evaluate(r)
    h = 1e-6
    fd1 = (pot.energy(r + h) - pot.energy(r - h)) / (2 * h)
    fd2 = (pot.derivative(r + h) - pot.derivative(r - h)) / (2 * h)
    np.testing.assert_allclose(d1, fd1, rtol=1e-7, atol=1e-7 * np.abs(d1).max())
    np.testing.assert_allclose(d2, fd2, rtol=1e-7, atol=1e-7 * np.abs(d2).max())
    for a, b in zip(pot.evaluate(r), pot.evaluate(r, backend="numpy"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)


def test_potential_closed_forms():
    lj = LennardJones(2.0, 1.5, 4.0, shift="none")
    assert lj.energy(2 ** (1 / 6) * 1.5) == pytest.approx(-2.0, rel=1e-14)
    assert lj.derivative(2 ** (1 / 6) * 1.5) == pytest.approx(0.0, abs=1e-13)
    assert lj.energy(1.5) == pytest.approx(0.0, abs=1e-14)
    mo = Morse(0.5, 2.0, 1.3, 3.0, shift="none")
    assert mo.energy(1.3) == pytest.approx(-0.5, rel=1e-14)
    assert mo.second_derivative(1.3) == pytest.approx(2 * 0.5 * 2.0**2, rel=1e-14)
    hs = HarmonicSpring(3.0, 1.2)
    assert hs.energy(1.5) == pytest.approx(0.5 * 3.0 * 0.3**2, rel=1e-14)
    # shifted potentials are continuous at the cutoff, zero beyond
    for shift in ("energy", "force"):
        p = LennardJones(1.0, 1.0, 2.5, shift=shift)
        assert abs(p.energy(2.5 - 1e-12)) < 1e-10
        assert p.energy(2.6) == 0 and p.derivative(2.6) == 0 and p.second_derivative(2.6) == 0
    assert abs(LennardJones(1.0, 1.0, 2.5, shift="force").derivative(2.5 - 1e-12)) < 1e-10
    # the shift is a constant: derivatives inside are those of the raw potential
    raw = LennardJones(1.0, 1.0, 2.5, shift="none")
    r = np.linspace(0.9, 2.4, 7)
    np.testing.assert_allclose(LennardJones(1.0, 1.0, 2.5).derivative(r), raw.derivative(r))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LennardJones(1.0, 1.0, cutoff=0.0), "cutoff"),
        (lambda: LennardJones(1.0, 1.0, cutoff=-2.0), "cutoff"),
        (lambda: LennardJones(1.0, 1.0, cutoff=0.9), "cutoff must be > sigma"),
        (lambda: LennardJones(-1.0, 1.0, 2.5), "epsilon"),
        (lambda: LennardJones(1.0, 1.0, 2.5, shift="smooth"), "shift"),
        (lambda: Morse(1.0, 2.0, 1.0, cutoff=0.5), "cutoff must be > r0"),
        (lambda: Morse(1.0, float("nan"), 1.0, 2.0), "alpha"),
        (lambda: HarmonicSpring(0.0, 1.0), "k"),
        (lambda: HarmonicSpring(1.0, "x"), "r0"),
    ],
)
def test_potential_bad_input(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---------------------------------------------------------------- lattices


@pytest.mark.parametrize(
    "name, z, nc",
    [("square", 4, 1), ("triangular", 6, 1), ("honeycomb", 3, 2), ("sc", 6, 1), ("fcc", 12, 4),
     ("bcc", 8, 2), ("diamond", 4, 8)],
)
def test_lattice_coordination_and_crystal(name, z, nc):
    lat = get_lattice(name)
    assert lat.coordination == z
    cr = lat.crystal(3, 2.0)
    assert cr.n_atoms == nc * 3**lat.dim
    # the crystal has the lattice's density
    density = cr.n_atoms / abs(np.linalg.det(cr.box))
    assert density == pytest.approx(lat.n_basis / (lat.volume * 2.0**lat.dim), rel=1e-12)


def test_lattice_bad_input():
    with pytest.raises(ValueError, match="unknown lattice 'hcp'.*'triangular'.*'fcc'"):
        get_lattice("hcp")
    with pytest.raises(ValueError, match="n_cells"):
        get_lattice("fcc").crystal(0)
    with pytest.raises(ValueError, match="lattice_constant"):
        get_lattice("fcc").crystal(2, lattice_constant=-1.0)
    with pytest.raises(ValueError, match="potential must be"):
        CauchyBorn("fcc", "lj")
    with pytest.raises(ValueError, match="lattice_constant must be > 0"):
        CauchyBorn("fcc", LJ, lattice_constant=0.0)
    with pytest.raises(ValueError, match="min_stretch"):
        CauchyBorn("fcc", LJ, min_stretch=1.5)
    with pytest.raises(ValueError, match="backend"):
        CauchyBorn("fcc", LJ, backend="cuda")


# ---------------------------------------------------------------- Cauchy–Born


def test_lj_fcc_lattice_constant_published():
    """LJ FCC with rc = 2.5 sigma (energy-shifted): a = 1.5496 sigma (zero pressure)."""
    assert CauchyBorn("fcc", LJ).lattice_constant == pytest.approx(1.5496, abs=5e-5)


@pytest.mark.parametrize("name", LATTICES)
@pytest.mark.parametrize("pot", [LJ, Morse(1.0, 3.0, 1.1, 2.3), HarmonicSpring(1.5, 1.05)],
                         ids=["lj", "morse", "spring"])
def test_cb_stress_and_tangent_fd_zero_stress(name, pot):
    cb = CauchyBorn(name, pot)
    d = cb.dim
    rng = np.random.default_rng(7)
    F = random_F(d, 3, rng)
    # P = dW/dF by central differences of W
    r = cb.evaluate(F)
    h = 1e-6
    fdP = np.zeros_like(r.flux)
    for i in range(d):
        for j in range(d):
            Fp, Fm = F.copy(), F.copy()
            Fp[i, j] += h
            Fm[i, j] -= h
            fdP[i, j] = (cb.energy(Fp) - cb.energy(Fm)) / (2 * h)
    assert np.max(np.abs(fdP - r.flux)) <= 1e-7 * np.max(np.abs(r.flux))
    # A = dP/dF (with the inner-shift condensation for multilattices)
    assert check_tangent(cb, F) < 2e-8
    # zero stress at the equilibrium lattice constant
    P0 = cb.evaluate(np.eye(d)[:, :, None]).flux
    C = cb.elastic_constants()
    assert np.max(np.abs(P0)) <= 1e-11 * np.max(np.abs(C))
    np.testing.assert_allclose(r.info["energy"], cb.energy(F), rtol=1e-14)


@pytest.mark.parametrize("name", LATTICES)
def test_cb_frame_indifference_and_numpy_twin(name):
    cb = CauchyBorn(name, LJ)
    d = cb.dim
    rng = np.random.default_rng(3)
    # small strains: diamond with LJ has several inner-shift equilibria at large shear, and
    # the numpy twin (plain Newton) may find another one than the damped numba Newton
    F = random_F(d, 4, rng, scale=0.02)
    QF = np.stack([rotation(d, rng) @ F[..., k] for k in range(4)], axis=-1)
    W, WQ = cb.energy(F), cb.energy(QF)
    np.testing.assert_allclose(WQ, W, rtol=1e-12, atol=1e-12 * np.abs(W).max())
    twin = CauchyBorn(name, LJ, cb.lattice_constant, backend="numpy")
    a, b = cb.evaluate(F), twin.evaluate(F)
    np.testing.assert_allclose(a.flux, b.flux, atol=1e-11 * np.abs(a.flux).max())
    np.testing.assert_allclose(a.tangent, b.tangent, atol=1e-11 * np.abs(a.tangent).max())
    np.testing.assert_allclose(a.info["energy"], b.info["energy"], rtol=1e-12)


@pytest.mark.parametrize("name", ["fcc", "bcc", "sc"])
@pytest.mark.parametrize("pot", [LJ, Morse(1.0, 3.0, 1.1, 2.3)], ids=["lj", "morse"])
def test_cauchy_relation_cubic(name, pot):
    """Pair potentials at zero stress: C12 = C44 (cubic symmetry: C11 = C22, C12 = C13)."""
    C = CauchyBorn(name, pot).elastic_constants()
    s = np.max(np.abs(C))
    assert abs(C[0, 1] - C[3, 3]) <= 1e-12 * s
    assert abs(C[0, 0] - C[1, 1]) <= 1e-12 * s and abs(C[0, 1] - C[0, 2]) <= 1e-12 * s
    np.testing.assert_allclose(C, C.T, atol=1e-12 * s)


@pytest.mark.parametrize("pot", [LJ, Morse(1.0, 3.0, 1.1, 2.3)], ids=["lj", "morse"])
def test_triangular_isotropy_c11_is_3c12(pot):
    C = CauchyBorn("triangular", pot).elastic_constants()
    s = C[0, 0]
    assert abs(C[0, 0] - 3 * C[0, 1]) <= 1e-12 * s
    assert abs(C[2, 2] - C[0, 1]) <= 1e-12 * s  # Cauchy relation, C66 = (C11 - C12)/2


def test_spring_networks_closed_forms():
    """NN springs k: triangular lambda = mu = sqrt3 k / 4; fcc C11 = 2k/a, C12 = C44 = k/a;
    honeycomb with relaxed shifts C11 = C12 = k / (2 sqrt3), C66 = 0 (floppy in shear);
    diamond with relaxed shifts C11 = C12, C44 = 0."""
    k = 1.7
    C = CauchyBorn("triangular", HarmonicSpring(k, 1.0)).elastic_constants()
    lam = mu = math.sqrt(3) * k / 4
    np.testing.assert_allclose(C, [[lam + 2 * mu, lam, 0], [lam, lam + 2 * mu, 0], [0, 0, mu]],
                               atol=1e-13)
    cb = CauchyBorn("fcc", HarmonicSpring(k, 1.0))
    a = cb.lattice_constant
    assert a == pytest.approx(math.sqrt(2), rel=1e-12)
    C = cb.elastic_constants()
    np.testing.assert_allclose(np.diag(C), [2 * k / a] * 3 + [k / a] * 3, rtol=1e-12)
    assert C[0, 1] == pytest.approx(k / a, rel=1e-12)
    C = CauchyBorn("honeycomb", HarmonicSpring(k, 1.0)).elastic_constants()
    np.testing.assert_allclose(C, [[k / (2 * math.sqrt(3))] * 2 + [0]] * 2 + [[0, 0, 0]],
                               atol=1e-12)
    C = CauchyBorn("diamond", HarmonicSpring(k, 1.0)).elastic_constants()
    assert abs(C[0, 0] - C[0, 1]) < 1e-12 * C[0, 0] and abs(C[3, 3]) < 1e-12 * C[0, 0]


def test_multilattice_shift_relaxation_matters():
    """Honeycomb under shear: the relaxed shift is nonzero and lowers W; A differs from W_FF."""
    cb = CauchyBorn("honeycomb", LJ)
    F = np.array([[1.0, 0.05], [0.0, 1.0]])[:, :, None]
    p = cb.inner_shifts(F)
    assert np.linalg.norm(p[1, :, 0]) > 1e-3 * cb.lattice_constant
    assert np.all(p[0] == 0)
    r = cb.evaluate(F)
    assert r.info["converged"].all()
    # the unrelaxed lattice x = F X (energy summed atom by atom) has a higher energy
    cr = cb.lattice.crystal(3, cb.lattice_constant)
    E_affine = AtomisticSystem.from_crystal(cr, LJ, F[..., 0]).energy(cr.positions @ F[..., 0].T)
    assert cb.energy(F)[0] * abs(np.linalg.det(cr.box)) < E_affine - 1e-6


def test_cb_shells_entering_cutoff_match_atomistics():
    """Strong compression and tension bring new shells into / out of the cutoff: CB energy
    equals the atom-by-atom energy of the deformed periodic crystal."""
    cb = CauchyBorn("fcc", LJ, min_stretch=0.7)
    cr = cb.lattice.crystal(3, cb.lattice_constant)
    for F in (0.8 * np.eye(3), np.diag([1.3, 0.9, 1.0]), np.array([[1, 0.4, 0], [0, 1, 0],
                                                                     [0, 0, 1.0]])):
        sysm = AtomisticSystem.from_crystal(cr, LJ, F)
        E = sysm.energy(cr.positions @ F.T)
        W = cb.energy(F[:, :, None])[0] * abs(np.linalg.det(cr.box))
        assert E == pytest.approx(W, rel=1e-11)  # strong compression: large cancellation


def test_cb_compression_beyond_shells_raises():
    cb = CauchyBorn("triangular", LJ, min_stretch=0.8)
    F = np.stack([np.eye(2), 0.7 * np.eye(2)], axis=-1)
    with pytest.raises(OracleError, match=r"min_stretch.*point index \(1,\)"):
        cb.evaluate(F)
    # inside the covered range it evaluates
    cb.evaluate(0.85 * np.eye(2)[:, :, None])


@pytest.mark.parametrize(
    "name, n, pot",
    [("triangular", 5, LJ), ("square", 4, Morse(1.0, 3.0, 1.1, 2.3)), ("fcc", 2, LJ),
     ("bcc", 3, HarmonicSpring(1.0, 1.0)), ("honeycomb", 4, LJ), ("diamond", 2, LJ),
     ("honeycomb", 3, HarmonicSpring(1.0, 1.0))],
)
def test_cb_energy_equals_periodic_atomistics(name, n, pot):
    """W(F) V = energy of the periodic crystal deformed by F; for multilattices the crystal
    with the Cauchy–Born inner shifts applied is an equilibrium of the atomistic energy.

    The atomistic side is evaluated at the Cauchy–Born configuration (forces, energy)
    rather than found by a minimizer: the LJ honeycomb and diamond are unstable in
    supercells, so a true minimizer leaves the Cauchy–Born state for lower energies
    (tests/test_qc.py shows it), while Cauchy–Born's inner-shift Newton finds the
    stationary point of the primitive-cell kinematics.
    """
    cb = CauchyBorn(name, pot)
    cr = cb.lattice.crystal(n, cb.lattice_constant)
    d = cb.dim
    F = np.eye(d) + 0.04 * np.random.default_rng(11).standard_normal((d, d))
    sysm = AtomisticSystem.from_crystal(cr, pot, F)
    x = cr.positions @ F.T
    V = abs(np.linalg.det(cr.box))
    W = cb.energy(F[:, :, None])[0]
    if cb.lattice.n_basis > 1:
        shifts = cb.inner_shifts(F[:, :, None])[:, :, 0]  # (n_basis, d), sublattice 0 fixed
        x = x + shifts[_sublattice(cb.lattice)[cr.basis_index]]
    E = sysm.energy(x)
    assert np.max(np.abs(sysm.forces(x))) < 1e-10
    assert E == pytest.approx(W * V, rel=1e-12, abs=1e-12 * np.abs(W * V))


def _sublattice(lat):
    """Sublattice of each atom of the conventional cell: index of the primitive basis atom."""
    out = []
    for x in lat.cell_basis:
        for k, xb in enumerate(lat.basis):
            s = np.linalg.solve(lat.primitive.T, x - xb)
            if np.allclose(s, np.round(s)):
                out.append(k)
                break
    return np.array(out)


def test_cb_process_pool_and_problem_compatibility():
    """The oracle pickles and runs through fe2.oracle.evaluate in chunks."""
    from fe2.oracle import evaluate

    cb = CauchyBorn("triangular", LJ)
    F = random_F(2, 10, np.random.default_rng(0)).reshape(2, 2, 5, 2)
    a = cb.evaluate(F)
    b = evaluate(cb, F, chunk_size=3)
    np.testing.assert_allclose(a.tangent, b.tangent, rtol=0, atol=0)
    c = pickle.loads(pickle.dumps(cb)).evaluate(F)
    np.testing.assert_array_equal(a.flux, c.flux)
    assert a.flux.shape == (2, 2, 5, 2) and a.tangent.shape == (2, 2, 2, 2, 5, 2)


# ---------------------------------------------------------------- atomistics


def _brute_pairs(x, box, radius, nimg=3):
    d = x.shape[1]
    out = set()
    import itertools

    for m in itertools.product(range(-nimg, nimg + 1), repeat=d):
        sh = box @ np.array(m)
        for a in range(len(x)):
            r = np.linalg.norm(x + sh - x[a], axis=1)
            for b in np.where(r < radius)[0]:
                if (b, m) != (a, (0,) * d):
                    key = (a, int(b), m) if (b > a or (b == a and m > (0,) * d)) else None
                    if key:
                        out.add(key)
    return out


def test_neighbour_list_against_brute_force_small_skewed_box():
    rng = np.random.default_rng(5)
    box = np.array([[3.0, 1.2], [0.0, 2.5]])
    x = rng.uniform(-1, 4, size=(9, 2))  # some atoms outside the box: unwrapped positions
    pi, pj, pm = build_pairs(x, 2.7, box, (True, True))
    got = {(int(a), int(b), tuple(int(t) for t in m)) for a, b, m in zip(pi, pj, pm, strict=True)}
    assert got == _brute_pairs(x, box, 2.7, nimg=4)
    r = np.linalg.norm(x[pj] - x[pi] + pm @ box.T, axis=1)
    assert r.max() < 2.7


def test_atomistic_gradient_and_hessian_fd():
    cr = get_lattice("triangular").crystal(4, 1.1)
    x = cr.positions + 0.05 * np.random.default_rng(2).standard_normal(cr.positions.shape)
    sysm = AtomisticSystem(LJ, cr.box, True)
    E, g = sysm.energy_and_gradient(x)
    H = sysm.hessian(x).toarray()
    h = 1e-6
    for dof in [0, 5, 17, 30]:
        xp, xm = x.copy().ravel(), x.copy().ravel()
        xp[dof] += h
        xm[dof] -= h
        Ep, gp = sysm.energy_and_gradient(xp.reshape(x.shape))
        Em, gm = sysm.energy_and_gradient(xm.reshape(x.shape))
        assert (Ep - Em) / (2 * h) == pytest.approx(g.ravel()[dof], abs=1e-7)
        np.testing.assert_allclose((gp - gm).ravel() / (2 * h), H[:, dof], atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_relax_vacancy_newton_and_lbfgs_agree():
    cb = CauchyBorn("triangular", LJ)
    cr = cb.lattice.crystal(8, cb.lattice_constant).without([27])
    sysm = AtomisticSystem.from_crystal(cr, LJ)
    a = sysm.relax(cr.positions, method="newton", gtol=1e-10)
    b = sysm.relax(cr.positions, method="lbfgs", gtol=1e-7)
    assert a.converged and b.converged
    assert a.energy == pytest.approx(b.energy, rel=1e-11)
    assert a.energy < sysm.energy(cr.positions)
    assert np.max(np.abs(a.positions - b.positions)) < 1e-5
