"""Tests of the RVE micro oracle against closed forms, bounds and finite differences.

References used (never the code's own earlier output):

- homogeneous cells: the phase law itself;
- laminates: arithmetic / harmonic means and the layered (Backus-type)
  formulas, written here independently;
- 2D checkerboard: Keller–Dykhne ``sqrt(k1 k2)`` and the corner-singularity
  rate ``2 alpha``, ``alpha = (2/pi) arccos((c - 1)/(c + 1))``;
- Hill–Mandel: averages recomputed from the micro fields;
- ordering Voigt >= KUBC >= periodic >= TUBC >= Reuss and Hashin–Shtrikman;
- hexagonal fibre arrays: transverse isotropy;
- tangents: central differences of the averaged flux (fe2.verify.check_tangent).
"""

from __future__ import annotations

import math
import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import meshio
import numpy as np
import pytest
import skfem

import fe2.homogenization as micro
from fe2.homogenization import (
    RVE,
    cells,
    hashin_shtrikman,
    hashin_shtrikman_elastic,
    isotropic_moduli,
    reuss_bound,
    voigt_bound,
)
from fe2.linalg import scipy_direct
from fe2.materials import (
    J2Plasticity,
    LinearConductivity,
    LinearElastic,
    NeoHookean,
    NonlinearConductivity,
    SaintVenantKirchhoff,
)
from fe2.oracle import OracleError, QuadratureState
from fe2.oracle import evaluate as batch_evaluate
from fe2.tensors import tensor4_to_mandel
from fe2.verify import check_tangent, observed_rate
from verification.exact_cells import layered_stiffness

BCS = ("periodic", "kubc", "tubc")


@pytest.fixture(scope="module")
def disk_cell():
    """Coarse two-phase cell with a curved interface (gmsh), for nonlinear tests."""
    return cells.circular_inclusion(0.3, mesh_size=0.15)


@pytest.fixture(scope="module")
def random_cell():
    return cells.random_inclusions(0.3, 6, seed=3, mesh_size=0.05)


def _mandel(C: np.ndarray) -> np.ndarray:
    return C if C.ndim == 2 else tensor4_to_mandel(C)


def _min_eig(D: np.ndarray) -> float:
    D = _mandel(D)
    return float(np.linalg.eigvalsh(0.5 * (D + D.T)).min())


def test_public_names_exist():
    for name in micro.__all__:
        assert hasattr(micro, name), name
    assert micro.cells is cells


# ---------------------------------------------------------------- homogeneous cells


@pytest.mark.parametrize("bc", BCS)
@pytest.mark.parametrize("kind, order", [("voxel", 1), ("mesh", 1), ("voxel", 2), ("mesh", 2)])
def test_homogeneous_cell_reproduces_the_phase_tensor(bc, kind, order):
    cell = (
        cells.from_image(np.array([[0, 1, 1], [1, 0, 0], [0, 0, 1]]), size=(1.0, 2.0))
        if kind == "voxel"
        else cells.circular_inclusion(0.25, mesh_size=0.2)
    )
    K = np.array([[2.0, 0.7], [0.7, 1.5]])
    rve = RVE(cell, [LinearConductivity(K), LinearConductivity(K)], bc=bc, order=order)
    np.testing.assert_allclose(rve.effective_tensor(), K, rtol=0, atol=1e-10 * 2.0)
    steel = LinearElastic(200.0, 0.3, plane="strain")
    rve = RVE(cell, [steel, steel], bc=bc, order=order)
    np.testing.assert_allclose(rve.effective_tensor(), steel.stiffness(), rtol=0, atol=1e-10 * 270)


@pytest.mark.parametrize("bc", BCS)
def test_homogeneous_3d_and_finite_strain(bc):
    img = np.zeros((3, 3, 3), dtype=int)
    img[1, 1, 1] = 1
    cell = cells.from_image(img, size=(1.0, 1.0, 2.0))
    mat = LinearElastic(3.0, 0.25)
    C = RVE(cell, [mat, mat], bc=bc).effective_tensor()
    np.testing.assert_allclose(C, mat.stiffness(), rtol=0, atol=1e-10 * 3.6)
    # finite strain: the affine field solves the homogeneous cell, so flux and tangent are
    # the material's P(F) and dP/dF
    neo = NeoHookean(2.0, 0.3, dim=2)
    rve = RVE(cells.circular_inclusion(0.2, mesh_size=0.25), [neo, neo], bc=bc)
    F = np.array([[1.2, 0.15], [-0.1, 0.9]])[:, :, None]
    r = rve.evaluate(F)
    ref = neo.evaluate(F)
    np.testing.assert_allclose(r.flux, ref.flux, rtol=0, atol=1e-10)
    np.testing.assert_allclose(r.tangent, ref.tangent, rtol=0, atol=1e-10 * 4)
    np.testing.assert_allclose(rve.effective_tensor(), neo.evaluate(np.eye(2)).tangent,
                               rtol=0, atol=1e-10)


@pytest.mark.parametrize("bc", BCS)
def test_homogeneous_j2_cell_follows_the_material_along_a_load_path(bc):
    """Load, unload with committed history: the cell answers exactly like one J2 point."""
    j2 = J2Plasticity(100.0, 0.3, 0.2, H_iso=5.0, H_kin=3.0, dim=2)
    rve = RVE(cells.checkerboard(2), [j2, j2], bc=bc)
    path = [np.array([[0.003, 0.001], [0.001, -0.001]]) * s for s in (0.5, 1.5, 2.5, 1.0, -1.0)]
    qs = QuadratureState.for_oracle(rve, (1,))
    mat_state = j2.initial_state((1,))
    for eps in path:
        r = rve.evaluate(eps[:, :, None], state=qs.committed)
        ref = j2.evaluate(eps[:, :, None], state=mat_state)
        assert r.info["converged"].all()
        np.testing.assert_allclose(r.flux, ref.flux, rtol=0, atol=1e-10 * 0.3)
        np.testing.assert_allclose(r.tangent, ref.tangent, rtol=0, atol=1e-10 * 150)
        np.testing.assert_allclose(
            r.state["eps_p"][..., 0], np.broadcast_to(
                ref.state["eps_p"][:, :, None, None, 0], r.state["eps_p"].shape[:-1]),
            rtol=0, atol=1e-12)
        qs.set_trial(r.state)
        qs.commit()
        mat_state = ref.state
    assert float(np.max(qs.committed["alpha"])) > 0.0  # the path did yield


# ---------------------------------------------------------------- laminates


@pytest.mark.parametrize("dim, normal, order", [(2, 0, 1), (2, 1, 1), (3, 2, 1), (2, 1, 2)])
def test_laminate_conductivity_means(dim, normal, order):
    fr = [0.3, 0.7]
    k = [1.0, 8.0]
    cell = cells.laminate(fr, normal=normal, dim=dim, resolution=3)
    K = RVE(cell, [LinearConductivity(v, dim=dim) for v in k], order=order).effective_tensor()
    harmonic = 1.0 / (fr[0] / k[0] + fr[1] / k[1])
    arithmetic = fr[0] * k[0] + fr[1] * k[1]
    expected = np.diag([harmonic if a == normal else arithmetic for a in range(dim)])
    np.testing.assert_allclose(K, expected, rtol=0, atol=1e-10 * arithmetic)


@pytest.mark.parametrize("bc", BCS)
def test_laminate_image_in_a_shifted_box(bc):
    """Voxel laminate in a box of size (2, 3) at origin (5, -7): the means, whatever the box."""
    img = np.zeros((5, 4), dtype=int)
    img[2:, :] = 1  # layers normal to x: fractions 0.4, 0.6
    cell = cells.from_image(img, size=(2.0, 3.0), origin=(5.0, -7.0))
    K = RVE(cell, [LinearConductivity(2.0), LinearConductivity(7.0)], bc=bc).effective_tensor()
    harmonic = 1.0 / (0.4 / 2.0 + 0.6 / 7.0)
    arithmetic = 0.4 * 2.0 + 0.6 * 7.0
    if bc == "periodic":
        np.testing.assert_allclose(K, np.diag([harmonic, arithmetic]), atol=1e-10 * arithmetic)
    else:  # KUBC and TUBC are not exact for laminates, but stay between the means
        assert harmonic - 1e-10 <= np.linalg.eigvalsh(K).min()
        assert np.linalg.eigvalsh(K).max() <= arithmetic + 1e-10


def test_laminate_elasticity_backus_2d():
    """Plane strain, normal e1: the explicit Backus averages."""
    mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(12.0, 0.15, plane="strain"),
            LinearElastic(4.0, 0.45, plane="strain")]
    f = np.array([0.25, 0.35, 0.4])
    C = RVE(cells.laminate(f, normal=0, resolution=2), mats).effective_tensor()
    lam = np.array([m.lam for m in mats])
    mu = np.array([m.mu for m in mats])
    M = lam + 2 * mu

    def avg(x):
        return float(np.sum(f * x))

    c11 = 1.0 / avg(1.0 / M)
    c12 = avg(lam / M) * c11
    c22 = avg(M - lam**2 / M) + avg(lam / M) ** 2 * c11
    c66 = 1.0 / avg(1.0 / mu)
    got = [C[0, 0, 0, 0], C[0, 0, 1, 1], C[1, 1, 1, 1], C[0, 1, 0, 1], C[0, 0, 0, 1]]
    np.testing.assert_allclose(got, [c11, c12, c22, c66, 0.0], rtol=0, atol=1e-8 * c22)


@pytest.mark.parametrize("dim, normal", [(2, 1), (3, 0), (3, 2)])
def test_laminate_elasticity_layered_formula(dim, normal):
    plane = "strain" if dim == 2 else None
    mats = [LinearElastic(2.0, 0.2, plane=plane), LinearElastic(30.0, 0.35, plane=plane)]
    f = [0.6, 0.4]
    cell = cells.laminate(f, normal=normal, dim=dim, resolution=2, size=(1.0, 2.0, 0.5)[:dim])
    C = RVE(cell, mats).effective_tensor()
    ref = layered_stiffness([m.stiffness() for m in mats], f, np.eye(dim)[normal])
    np.testing.assert_allclose(C, ref, rtol=0, atol=1e-8 * np.abs(ref).max())


# ---------------------------------------------------------------- checkerboard


def test_checkerboard_keller_dykhne_and_rate():
    """Periodic 2D checkerboard, k = 1 and 10: error vs h with the corner-singularity rate."""
    c = 10.0
    exact = math.sqrt(c)
    ns = np.array([16, 32, 64, 128])
    errors = []
    for n in ns:
        rve = RVE(cells.checkerboard(int(n)), [LinearConductivity(1.0), LinearConductivity(c)])
        K = rve.effective_tensor()
        np.testing.assert_allclose(K, K[0, 0] * np.eye(2), atol=1e-9 * exact)
        errors.append(K[0, 0] / exact - 1.0)
    errors = np.array(errors)
    assert np.all(errors > 0)  # conforming FE: stiffer than the exact medium
    assert errors[-1] < 0.01  # within 1 % at n = 128 voxels per square
    alpha = 2.0 / math.pi * math.acos((c - 1.0) / (c + 1.0))
    rate = observed_rate(1.0 / ns, errors)
    assert abs(rate - 2.0 * alpha) < 0.05, (rate, 2 * alpha, errors)


@pytest.mark.slow
def test_checkerboard_richardson_extrapolation():
    c = 10.0
    alpha = 2.0 / math.pi * math.acos((c - 1.0) / (c + 1.0))
    ks = []
    for n in (64, 128, 256):
        rve = RVE(cells.checkerboard(n), [LinearConductivity(1.0), LinearConductivity(c)])
        ks.append(rve.effective_tensor()[0, 0])
    q = 2.0 ** (2 * alpha)
    extrapolated = ks[-1] - (ks[-2] - ks[-1]) / (q - 1.0)
    assert abs(extrapolated / math.sqrt(c) - 1.0) < 1e-3
    assert ks[-1] / math.sqrt(c) - 1.0 < 0.006


# ---------------------------------------------------------------- Hill–Mandel


def _hill_mandel_check(sol, g):
    """Recompute the averages from the micro fields."""
    dx, V = sol.dx, sol.volume
    assert abs(dx.sum() - V) < 1e-12 * V
    mean_g = np.einsum("...eq,eq->...", sol.measure, dx) / V
    mean_q = np.einsum("...eq,eq->...", sol.flux, dx) / V
    work = float(np.sum(sol.flux * sol.measure * dx)) / V
    np.testing.assert_allclose(mean_q, sol.macro_flux, rtol=0, atol=1e-12 * np.abs(mean_q).max())
    np.testing.assert_allclose(mean_g, 0.5 * (g + g.T) if g.ndim == 2 else g, atol=1e-12)
    scale = np.linalg.norm(mean_q) * np.linalg.norm(mean_g)
    residual = abs(work - float(np.sum(mean_q * mean_g)))
    assert residual < 1e-10 * scale, residual / scale
    assert sol.hill_mandel < 1e-10 * scale


@pytest.mark.parametrize("bc", BCS)
def test_hill_mandel_scalar_and_elastic(bc, random_cell):
    rve = RVE(random_cell, [LinearConductivity(1.0), LinearConductivity(10.0)], bc=bc)
    g = np.array([0.7, -1.3])
    _hill_mandel_check(rve.solve(g), g)
    mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
    rve = RVE(random_cell, mats, bc=bc)
    eps = np.array([[0.01, 0.004], [0.004, -0.003]])
    _hill_mandel_check(rve.solve(eps), eps)
    # the oracle's own per-point residual, batched
    r = rve.evaluate(np.stack([eps, -2 * eps.T], axis=-1))
    assert np.all(r.info["hill_mandel"] < 1e-10 * np.abs(r.flux).max() * 0.02)


@pytest.mark.parametrize("bc", BCS)
def test_hill_mandel_nonlinear(bc, disk_cell):
    j2 = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2), LinearElastic(10.0, 0.2, plane="strain")]
    rve = RVE(disk_cell, j2, bc=bc)
    eps = np.array([[0.01, 0.003], [0.003, -0.004]])
    sol = rve.solve(eps)
    assert sol.converged and sol.state["alpha"].max() > 0
    _hill_mandel_check(sol, eps)
    neo = [NeoHookean(1.0, 0.3, dim=2), NeoHookean(8.0, 0.4, dim=2)]
    rve = RVE(disk_cell, neo, bc=bc)
    F = np.array([[1.15, 0.1], [-0.05, 0.92]])
    sol = rve.solve(F)
    mean_F = np.einsum("ijeq,eq->ij", sol.measure, sol.dx) / sol.volume
    np.testing.assert_allclose(mean_F, F, atol=1e-12)
    mean_P = sol.average(sol.flux)
    work = float(np.sum(sol.flux * sol.measure * sol.dx)) / sol.volume
    assert abs(work - np.sum(mean_P * mean_F)) < 1e-10 * np.linalg.norm(mean_P)


# ---------------------------------------------------------------- ordering and bounds


@pytest.mark.parametrize("physics", ["conductivity", "elasticity"])
def test_ordering_voigt_kubc_periodic_tubc_reuss(physics, random_cell):
    if physics == "conductivity":
        mats = [LinearConductivity(1.0), LinearConductivity(10.0)]
        tensors = [m.K for m in mats]
    else:
        mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
        tensors = [m.stiffness() for m in mats]
    f = random_cell.volume_fractions()
    C = {bc: RVE(random_cell, mats, bc=bc).effective_tensor() for bc in BCS}
    chain = [voigt_bound(tensors, f), C["kubc"], C["periodic"], C["tubc"], reuss_bound(tensors, f)]
    scale = np.abs(_mandel(chain[0])).max()
    for upper, lower in zip(chain[:-1], chain[1:], strict=True):
        assert _min_eig(upper - lower) > -1e-10 * scale
    # the gaps are real, not round-off
    assert _min_eig(C["kubc"] - C["periodic"]) > 1e-3 * scale
    assert _min_eig(C["periodic"] - C["tubc"]) > 1e-3 * scale


def test_voxel_random_ordering():
    rng = np.random.default_rng(4)
    img = (rng.random((10, 10)) < 0.4).astype(int)
    mats = [LinearConductivity(1.0), LinearConductivity(20.0)]
    C = {bc: RVE(cells.from_image(img), mats, bc=bc).effective_tensor() for bc in BCS}
    f = cells.from_image(img).volume_fractions()
    chain = [voigt_bound([m.K for m in mats], f), C["kubc"], C["periodic"], C["tubc"],
             reuss_bound([m.K for m in mats], f)]
    for upper, lower in zip(chain[:-1], chain[1:], strict=True):
        assert _min_eig(upper - lower) > -1e-10 * 20


def test_kubc_tubc_gap_narrows_with_more_inclusions():
    mats = [LinearConductivity(1.0), LinearConductivity(10.0)]

    def gap(cell):
        C = {bc: RVE(cell, mats, bc=bc).effective_tensor() for bc in BCS}
        return np.trace(C["kubc"] - C["tubc"]) / np.trace(C["periodic"]), C["periodic"]

    # regular k x k arrays of the same disk: the periodic answer is the same medium
    r = math.sqrt(0.3 / math.pi)
    regular = []
    for k in (1, 2, 4):
        centers = [[(i + 0.5) / k, (j + 0.5) / k] for i in range(k) for j in range(k)]
        cell = cells.inclusions(centers, r / k, 1.0, mesh_size=0.12 / k)
        regular.append(gap(cell))
    gaps = [g for g, _ in regular]
    assert gaps[0] > 1.5 * gaps[1] > 1.5 * 1.5 * gaps[2], gaps
    for _, Cp in regular[1:]:
        np.testing.assert_allclose(Cp, regular[0][1], rtol=0, atol=0.01 * regular[0][1][0, 0])
    # random cells with more inclusions
    random_gaps = [gap(cells.random_inclusions(0.3, n, seed=5, mesh_size=0.1 / math.sqrt(n)))[0]
                   for n in (1, 4, 16)]
    assert random_gaps[0] > random_gaps[1] > random_gaps[2], random_gaps


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hashin_shtrikman_random_isotropic_cells(seed):
    cell = cells.random_inclusions(0.3, 8, seed=seed, mesh_size=0.04)
    f = cell.volume_fractions()
    # stiff inclusions in a soft matrix: conductivity (isotropic part = mean eigenvalue)
    k = [1.0, 10.0]
    K = RVE(cell, [LinearConductivity(v) for v in k]).effective_tensor()
    b = hashin_shtrikman(k, f, dim=2)
    assert b.contains(np.trace(K) / 2), (b, np.trace(K) / 2)
    assert voigt_bound(k, f) > b.upper and reuss_bound(k, f) < b.lower
    mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
    C = RVE(cell, mats).effective_tensor()
    kb, gb = hashin_shtrikman_elastic([m.lam + m.mu for m in mats], [m.mu for m in mats], f, 2)
    bulk, shear = isotropic_moduli(C)
    assert kb.contains(bulk), (kb, bulk)
    assert gb.contains(shear), (gb, shear)


def test_hashin_shtrikman_soft_inclusions():
    cell = cells.random_inclusions(0.3, 8, seed=2, mesh_size=0.02)
    f = cell.volume_fractions()
    k = [10.0, 1.0]
    K = RVE(cell, [LinearConductivity(v) for v in k]).effective_tensor()
    assert hashin_shtrikman(k, f, dim=2).contains(np.trace(K) / 2)
    mats = [LinearElastic(10.0, 0.3, plane="strain"), LinearElastic(1.0, 0.2, plane="strain")]
    bulk, shear = isotropic_moduli(RVE(cell, mats).effective_tensor())
    kb, gb = hashin_shtrikman_elastic([m.lam + m.mu for m in mats], [m.mu for m in mats], f, 2)
    assert kb.contains(bulk) and gb.contains(shear), (kb, bulk, gb, shear)


def test_bounds_closed_forms():
    # two-phase HS in 3D against the textbook two-phase expressions
    k1, k2, f2 = 1.0, 5.0, 0.3
    b = hashin_shtrikman([k1, k2], [1 - f2, f2], dim=3)
    assert b.lower == pytest.approx(k1 + f2 / (1 / (k2 - k1) + (1 - f2) / (3 * k1)))
    assert b.upper == pytest.approx(k2 + (1 - f2) / (1 / (k1 - k2) + f2 / (3 * k2)))
    K1, G1, K2, G2 = 2.0, 1.0, 20.0, 9.0
    kb, gb = hashin_shtrikman_elastic([K1, K2], [G1, G2], [1 - f2, f2], dim=3)
    assert kb.lower == pytest.approx(K1 + f2 / (1 / (K2 - K1) + 3 * (1 - f2) / (3 * K1 + 4 * G1)))
    assert gb.lower == pytest.approx(
        G1 + f2 / (1 / (G2 - G1) + 6 * (1 - f2) * (K1 + 2 * G1) / (5 * G1 * (3 * K1 + 4 * G1)))
    )
    # plane strain (Hashin 1965) lower bounds
    kb, gb = hashin_shtrikman_elastic([K1, K2], [G1, G2], [1 - f2, f2], dim=2)
    assert kb.lower == pytest.approx(K1 + f2 / (1 / (K2 - K1) + (1 - f2) / (K1 + G1)))
    assert gb.lower == pytest.approx(
        G1 + f2 / (1 / (G2 - G1) + (1 - f2) * (K1 + 2 * G1) / (2 * G1 * (K1 + G1)))
    )
    C = LinearElastic(3.0, 0.2).stiffness()
    bulk, shear = isotropic_moduli(C)
    assert bulk == pytest.approx(3.0 / (3 * (1 - 0.4))) and shear == pytest.approx(3.0 / 2.4)
    with pytest.raises(ValueError, match="sum to 1"):
        voigt_bound([1.0, 2.0], [0.5, 0.6])


# ---------------------------------------------------------------- symmetry


def test_hexagonal_fibre_array_is_transversely_isotropic():
    a, H = 1.0, math.sqrt(3.0)
    r = math.sqrt(0.4 * math.sqrt(3.0) / (2 * math.pi))  # fibre fraction 0.4
    mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(20.0, 0.2, plane="strain")]
    hexa = cells.inclusions([[a / 4, H / 4], [3 * a / 4, 3 * H / 4]], r, (a, H), mesh_size=0.05)
    C = RVE(hexa, mats).effective_tensor()
    ti = (C[0, 0, 0, 0] - C[0, 0, 1, 1]) / (2 * C[0, 1, 0, 1]) - 1.0
    assert abs(ti) < 1e-3, ti
    assert abs(C[0, 0, 0, 0] / C[1, 1, 1, 1] - 1.0) < 1e-3
    # a square array of the same fibres is far from isotropic in the plane
    square = cells.circular_inclusion(0.4, mesh_size=0.05)
    Cs = RVE(square, mats).effective_tensor()
    assert abs((Cs[0, 0, 0, 0] - Cs[0, 0, 1, 1]) / (2 * Cs[0, 1, 0, 1]) - 1.0) > 0.1


# ---------------------------------------------------------------- nonlinear tangents


@pytest.mark.parametrize("bc", BCS)
def test_nonlinear_conductivity_tangent_matches_fd(bc, disk_cell):
    mats = [NonlinearConductivity(1.0, 3.0), NonlinearConductivity(5.0, 1.5, reg=0.1)]
    rve = RVE(disk_cell, mats, bc=bc)
    g = np.array([[0.5, 1.0, 0.0], [-0.3, 0.2, 2.0]])
    st = rve.initial_state((3,))
    assert check_tangent(rve, g, state=st) < 1e-7
    r = rve.evaluate(g, state=st)
    assert r.info["converged"].all() and np.all(r.info["iterations"] >= 2)


@pytest.mark.parametrize("bc", BCS)
def test_j2_tangent_matches_fd(bc, disk_cell):
    mats = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2),
            LinearElastic(10.0, 0.2, plane="strain")]
    rve = RVE(disk_cell, mats, bc=bc)
    e = np.array([[0.01, 0.003], [0.003, -0.004]])[:, :, None]
    st = rve.initial_state((1,))
    r = rve.evaluate(e, state=st)
    assert r.state["alpha"].max() > 0  # plastic micro points
    assert check_tangent(rve, e, state=st, delta=1e-5) < 1e-6
    # from a committed plastic state, reversed loading
    assert check_tangent(rve, -0.5 * e, state=r.state, delta=1e-5) < 1e-6


@pytest.mark.parametrize("bc", BCS)
@pytest.mark.parametrize("law", [NeoHookean, SaintVenantKirchhoff])
def test_finite_strain_tangent_matches_fd(bc, law, disk_cell):
    rve = RVE(disk_cell, [law(1.0, 0.3, dim=2), law(10.0, 0.2, dim=2)], bc=bc)
    F = np.array([[1.1, 0.05], [0.02, 0.95]])[:, :, None]
    assert check_tangent(rve, F, state=rve.initial_state((1,))) < 1e-7


def test_quadratic_elements_tangent(disk_cell):
    rve = RVE(disk_cell, [SaintVenantKirchhoff(1.0, 0.3, dim=2),
                          SaintVenantKirchhoff(10.0, 0.2, dim=2)], bc="tubc", order=2)
    F = np.array([[1.1, 0.05], [0.02, 0.95]])[:, :, None]
    assert check_tangent(rve, F, state=rve.initial_state((1,))) < 1e-7


def test_finite_strain_3d_tangent():
    cell = cells.circular_inclusion(0.2, dim=3, mesh_size=0.3)
    rve = RVE(cell, [NeoHookean(1.0, 0.3), NeoHookean(10.0, 0.2)], bc="periodic")
    F = np.eye(3) + 0.05 * np.random.default_rng(0).standard_normal((3, 3))
    assert check_tangent(rve, F[:, :, None], state=rve.initial_state((1,))) < 1e-7


def test_warm_start_from_committed_state(disk_cell):
    mats = [NeoHookean(1.0, 0.3, dim=2), NeoHookean(10.0, 0.2, dim=2)]
    rve = RVE(disk_cell, mats)
    F = np.array([[1.2, 0.1], [0.0, 0.9]])[:, :, None, None] * np.ones((1, 1, 2, 3))
    r = rve.evaluate(F, state=rve.initial_state((2, 3)))
    assert r.flux.shape == (2, 2, 2, 3) and r.state["fluctuation"].shape[1:] == (2, 3)
    assert np.all(r.info["iterations"] >= 3)
    again = rve.evaluate(F, state=r.state)
    assert np.all(again.info["iterations"] == 0)
    np.testing.assert_allclose(again.flux, r.flux, atol=1e-12)


def test_large_step_falls_back_to_substeps(disk_cell):
    mats = [NeoHookean(1.0, 0.45, dim=2), NeoHookean(50.0, 0.2, dim=2)]
    rve = RVE(disk_cell, mats, max_iter=6)
    F = np.array([[1.8, 0.5], [0.0, 0.6]])[:, :, None]
    r = rve.evaluate(F, state=rve.initial_state((1,)))
    assert r.info["converged"].all()
    np.testing.assert_allclose(r.state["macro_input"][..., 0], F[..., 0])


# ---------------------------------------------------------------- mixed control


def test_mixed_uniaxial_stress_closed_form():
    mat = LinearElastic(7.0, 0.3, plane="strain")
    mask = np.ones((2, 2), dtype=bool)
    mask[0, 0] = False
    rve = RVE(cells.checkerboard(2), [mat, mat], mixed=mask)
    e = np.zeros((2, 2, 2))
    e[0, 0] = [0.01, -0.02]
    e[1, 1] = 0.5  # ignored: the 22 stress is prescribed
    r = rve.evaluate(e)
    # plane strain uniaxial stress: sigma11 = E / (1 - nu^2) eps11
    np.testing.assert_allclose(r.flux[0, 0], 7.0 / (1 - 0.09) * e[0, 0], rtol=1e-10)
    assert np.abs(r.flux[mask]).max() < 1e-10 * 0.1
    np.testing.assert_allclose(r.tangent[0, 0, 0, 0], 7.0 / (1 - 0.09), rtol=1e-10)
    assert np.all(r.tangent[:, :, mask] == 0)
    # 3D: sigma11 = E eps11 and the lateral strain -nu eps11
    mat3 = LinearElastic(7.0, 0.3)
    mask3 = np.ones((3, 3), dtype=bool)
    mask3[0, 0] = False
    rve3 = RVE(cells.checkerboard(1, dim=3), [mat3, mat3], mixed=mask3)
    sol = rve3.solve(np.diag([0.01, 0.0, 0.0]))
    np.testing.assert_allclose(sol.macro_flux[0, 0], 0.07, rtol=1e-10)
    np.testing.assert_allclose(np.diag(sol.macro_input), [0.01, -0.003, -0.003], rtol=1e-9)


def test_mixed_control_nonlinear_tangent_and_prescribed_values(disk_cell):
    mats = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2),
            LinearElastic(10.0, 0.2, plane="strain")]
    mask = np.array([[False, True], [True, True]])
    target = np.array([[0.0, 0.001], [0.001, -0.002]])
    rve = RVE(disk_cell, mats, mixed=mask, mixed_flux=target)
    e = np.zeros((2, 2, 1))
    e[0, 0] = 0.012
    st = rve.initial_state((1,))
    r = rve.evaluate(e, state=st)
    assert r.info["converged"].all()
    np.testing.assert_allclose(r.flux[mask], target[mask][:, None], atol=1e-10 * 0.01)
    assert check_tangent(rve, e, state=st, delta=1e-5) < 1e-6
    # the linear limit: tangent = 1 / S_1111 of the effective compliance
    lin = RVE(disk_cell, [LinearElastic(1.0, 0.3, plane="strain"),
                          LinearElastic(10.0, 0.2, plane="strain")], mixed=mask)
    S = np.linalg.inv(tensor4_to_mandel(RVE(disk_cell, lin.phases).effective_tensor()))
    np.testing.assert_allclose(lin.evaluate(e).tangent[0, 0, 0, 0, 0], 1 / S[0, 0], rtol=1e-10)


# ---------------------------------------------------------------- efficiency and plumbing


def test_effective_tensor_uses_one_factorization(random_cell):
    mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
    for bc in BCS:
        rve = RVE(random_cell, mats, bc=bc)
        C = rve.effective_tensor()
        assert rve._micro().solver.stats.factorizations == 1
        # any solver factory of the project works the same
        other = RVE(random_cell, mats, bc=bc, solver=scipy_direct).effective_tensor()
        np.testing.assert_allclose(other, C, rtol=0, atol=1e-10 * np.abs(C).max())


@pytest.mark.parametrize("bc", BCS)
def test_cholesky_and_superlu_micro_solvers_agree(bc, disk_cell):
    """The nonlinear RVE answers the same (to the Newton and GMRES tolerances) whichever
    factorization its micro solver uses, and the Cholesky one is used when it applies."""
    from functools import partial

    from fe2.linalg import FactorKrylov

    mats = [NeoHookean(1.0, 0.3, dim=2), NeoHookean(10.0, 0.2, dim=2)]
    F = np.array([[1.08, 0.05], [-0.02, 0.95]])[:, :, None]
    res = {}
    for chol in (True, False):
        rve = RVE(disk_cell, mats, bc=bc, solver=partial(FactorKrylov, cholesky=chol))
        res[chol] = rve.evaluate(F, state=rve.initial_state((1,)))
        used = rve._micro().solver.stats.cholesky
        assert (used > 0) == (chol and bc != "tubc"), (bc, chol, used)
    a, b = res[True], res[False]
    np.testing.assert_allclose(a.flux, b.flux, rtol=0, atol=1e-9 * np.abs(b.flux).max())
    np.testing.assert_allclose(a.tangent, b.tangent, rtol=0, atol=1e-9 * np.abs(b.tangent).max())


def test_pickle_and_process_pool_match_serial(disk_cell):
    mats = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2),
            LinearElastic(10.0, 0.2, plane="strain")]
    rve = RVE(disk_cell, mats)
    e = np.zeros((2, 2, 4))
    e[0, 0] = [0.002, 0.006, 0.01, -0.01]
    e[0, 1] = e[1, 0] = 0.002
    st = rve.initial_state((4,))
    serial = rve.evaluate(e, state=st)
    clone = pickle.loads(pickle.dumps(rve))
    np.testing.assert_array_equal(clone.evaluate(e, state=st).flux, serial.flux)
    with ProcessPoolExecutor(max_workers=2) as pool:
        par = batch_evaluate(rve, e, state=st, executor=pool, chunk_size=1)
        pooled = RVE(disk_cell, mats, executor=pool, chunk_size=2).evaluate(e, state=st)
    with ThreadPoolExecutor(max_workers=3) as pool:  # thread-local solver caches
        threaded = RVE(disk_cell, mats, executor=pool, chunk_size=1).evaluate(e, state=st)
    for r in (par, pooled, threaded):
        np.testing.assert_allclose(r.flux, serial.flux, rtol=0, atol=1e-14)
        np.testing.assert_allclose(r.tangent, serial.tangent, rtol=0, atol=1e-12)
        np.testing.assert_allclose(r.state["eps_p"], serial.state["eps_p"], atol=1e-15)


def test_write_vtu_round_trip(tmp_path, disk_cell):
    mats = [LinearElastic(1.0, 0.3, plane="strain"), LinearElastic(10.0, 0.2, plane="strain")]
    rve = RVE(disk_cell, mats)
    eps = np.array([[0.01, 0.0], [0.0, -0.005]])
    batch = np.stack([eps, 2 * eps], axis=-1)
    paths = rve.write_vtu(tmp_path / "cell.vtu", batch, points=[(1,)])
    assert [p.name for p in paths] == ["cell_1.vtu"]
    m = meshio.read(paths[0])
    sol = rve.solve(2 * eps)
    mesh = sol.basis.mesh
    np.testing.assert_allclose(m.points[:, :2], mesh.p.T)
    disp = m.point_data["displacement"]
    np.testing.assert_allclose(disp[:, :2], sol.u[sol.basis.nodal_dofs].T, atol=1e-14)
    np.testing.assert_array_equal(m.cell_data["phase"][0], sol.phase)
    stress = m.cell_data["stress"][0].reshape(-1, 3, 3)
    np.testing.assert_allclose(
        np.einsum("e,eij->ij", skfem_area(mesh), stress[:, :2, :2]), sol.macro_flux, atol=1e-12
    )
    # scalar field, single point
    cond = RVE(disk_cell, [LinearConductivity(1.0), LinearConductivity(3.0)])
    (p,) = cond.write_vtu(tmp_path / "t.vtu", np.array([1.0, 0.0]))
    assert meshio.read(p).point_data["u"].shape == (mesh.p.shape[1],)


def skfem_area(mesh):
    return np.asarray(skfem.Basis(mesh, skfem.ElementTriP0()).dx).sum(axis=1)


# ---------------------------------------------------------------- errors


def test_errors_name_the_problem():
    k = LinearConductivity(1.0)
    board = cells.checkerboard(2)
    with pytest.raises(ValueError, match="phase id 1 .* phases has 1 materials"):
        RVE(board, [k])
    with pytest.raises(ValueError, match="bc must be one of .*'periodic'.*got 'dirichlet'"):
        RVE(board, [k, k], bc="dirichlet")
    with pytest.raises(ValueError, match="share one measure.*LinearConductivity.*LinearElastic"):
        RVE(board, [k, LinearElastic(1.0, 0.3, plane="strain")])
    with pytest.raises(ValueError, match="has dim 3, but the cell is 2D"):
        RVE(board, [k, LinearConductivity(1.0, dim=3)])
    with pytest.raises(ValueError, match="mixed must be a bool mask of shape"):
        RVE(board, [k, k], mixed=np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="symmetric"):
        RVE(board, [LinearElastic(1, 0.3, plane="strain")] * 2,
            mixed=np.array([[False, True], [False, False]]))
    # a mesh whose right boundary nodes do not match the left ones
    mesh = skfem.MeshTri1.init_tensor(np.linspace(0, 1, 4), np.linspace(0, 1, 4))
    p = mesh.p.copy()
    moved = int(np.flatnonzero((np.abs(p[0] - 1.0) < 1e-12) & (np.abs(p[1] - 1 / 3) < 1e-12))[0])
    p[1, moved] = 0.4
    bad = cells.from_mesh(skfem.MeshTri1(p, mesh.t))
    with pytest.raises(ValueError, match=rf"mesh node {moved} at \(1, 0.4\) has no partner"):
        RVE(bad, [k], bc="periodic")
    RVE(bad, [k], bc="kubc")  # fine without periodicity
    rve = RVE(cells.circular_inclusion(0.2, mesh_size=0.3), [NeoHookean(1.0, 0.3, dim=2)] * 2)
    with pytest.raises(OracleError, match="lacks field"):
        rve.evaluate(np.eye(2)[:, :, None], state={"macro_input": np.eye(2)[:, :, None]})
    with pytest.raises(OracleError, match="expects input of shape"):
        rve.evaluate(np.ones((3, 3, 1)))
