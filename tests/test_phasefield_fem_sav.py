"""The Crank–Nicolson SAV scheme of the finite-element CahnHilliard: stability, mass,
agreement with the spectral SAV, order in time."""

from __future__ import annotations

import numpy as np
import pytest
import skfem

from fe2.phasefield import CahnHilliard, SpectralCahnHilliard
from fe2.phasefield.benchmarks import PFHUB1, pfhub1_initial


def quads(n: int, L: float) -> skfem.MeshQuad:
    x = np.linspace(0.0, L, n + 1)
    return skfem.MeshQuad.init_tensor(x, x)


def _smooth(p):
    return 0.5 + 0.05 * np.cos(2 * np.pi * p[0] / 32) * np.sin(4 * np.pi * p[1] / 32)


@pytest.mark.parametrize(("bc", "relaxation"), [("periodic", None), ("no-flux", 0.95)])
def test_modified_energy_never_increases_at_huge_fixed_steps(bc, relaxation):
    # unconditional stability (Shen, Xu & Yang 2018): E~_{n+1} - E~_n = -tau mu^T K mu
    # for any dt, here dt = 100 and 1e4 from the PFHub 1a initial state on a 32^2 mesh;
    # one factorisation per step size; mass conserved to round-off (1^T K = 0)
    ch = CahnHilliard(quads(32, PFHUB1["size"]), PFHUB1["kappa"], PFHUB1["mobility"],
                      bc=bc, scheme="sav", relaxation=relaxation)
    for k, (dt, t_end) in enumerate(((100.0, 3000.0), (1e4, 3e5))):
        r = ch.solve(pfhub1_initial, t_end, dt=dt, adaptive=False)
        E = r.modified_energy
        assert r.steps == 30 and E.shape == r.energy.shape
        assert np.all(np.diff(E) < 0)  # strict: tau mu^T K mu > 0 away from equilibrium
        assert abs(r.energy[0] - E[0]) < 1e-12 * E[0]  # r(0) = sqrt(E_1(c0) + C_0)
        assert np.all(np.abs(r.mass - r.mass[0]) < 1e-12 * r.mass[0])
        assert ch.sav_factorizations == k + 1


def test_agrees_with_the_spectral_sav_on_a_periodic_problem():
    # the same periodic problem and scheme by P1 quads and by Fourier on the same nodes;
    # the difference is the space discretisation error (h = 0.5, interface width ~ 2)
    L, T, n = 16.0, 30.0, 32
    init = lambda x: (0.5 + 0.02 * np.cos(2 * np.pi * x[0] / L)  # noqa: E731
                      * np.cos(4 * np.pi * x[1] / L) + 0.02 * np.sin(2 * np.pi * x[1] / L))
    fe = CahnHilliard(quads(n, L), kappa=2.0, mobility=5.0, bc="periodic", scheme="sav")
    spc = SpectralCahnHilliard((n, n), L, kappa=2.0, mobility=5.0, scheme="sav")
    rf = fe.solve(init, t_end=T, dt=0.25, adaptive=False)
    rs = spc.solve(init, t_end=T, dt=0.25, adaptive=False)
    grid = spc.points.reshape(2, -1)
    X = fe.basis.doflocs
    idx = np.lexsort(np.round(X / (L / n)).astype(int)[::-1])
    keep = idx[(X[0, idx] < L - 1e-9) & (X[1, idx] < L - 1e-9)]
    assert np.allclose(X[:, keep], grid)
    cf, cs = rf.field[keep], rs.field
    assert np.abs(cs - 0.5).max() > 0.1  # the perturbation grew 5x: a nonlinear regime
    rel = np.linalg.norm(cf - cs) / np.linalg.norm(cs - 0.5)
    assert rel < 0.01  # 1.5e-3 measured
    assert rf.energy[-1] == pytest.approx(rs.energy[-1], rel=0.01)  # 1.8e-3
    assert rf.modified_energy[-1] == pytest.approx(rs.modified_energy[-1], rel=0.01)


def test_second_order_in_time_against_fine_steps():
    ch = CahnHilliard(quads(16, 32.0), 2.0, 5.0, bc="periodic", scheme="sav")
    ref = ch.solve(_smooth, 20.0, dt=0.005, adaptive=False).field
    err = [np.abs(ch.solve(_smooth, 20.0, dt=dt, adaptive=False).field - ref).max()
           for dt in (0.2, 0.1, 0.05)]
    orders = np.log2(np.asarray(err[:-1]) / err[1:])
    assert np.all((orders > 1.8) & (orders < 2.3)), orders  # 1.94, 2.01 measured
    # convex splitting (first order) is far less accurate at the same step
    cs = CahnHilliard(quads(16, 32.0), 2.0, 5.0, bc="periodic").solve(
        _smooth, 20.0, dt=0.05, adaptive=False).field
    assert np.abs(cs - ref).max() > 30 * err[-1]  # 56x measured


def test_bad_sav_options():
    m = quads(4, 8.0)
    with pytest.raises(ValueError, match="scheme must be 'convex' or 'implicit' or 'sav'"):
        CahnHilliard(m, 2.0, 5.0, scheme="cn")
    with pytest.raises(ValueError, match="relaxation must be"):
        CahnHilliard(m, 2.0, 5.0, scheme="sav", relaxation=1.5)
    with pytest.raises(ValueError, match="sav_stabilizer must be"):
        CahnHilliard(m, 2.0, 5.0, scheme="sav", sav_stabilizer=-1.0)
    with pytest.raises(ValueError, match="sav_constant must be"):
        CahnHilliard(m, 2.0, 5.0, scheme="sav", sav_constant=0.0)


def test_adaptive_steps_reuse_factorisations():
    # adaptive SAV steps are powers of 2^(1/4) (but the last), so the block LU of each
    # step size is reused: far fewer factorisations than steps; E~ still never rises
    rng = np.random.default_rng(1)
    ch = CahnHilliard(quads(16, 64.0), 2.0, 5.0, bc="periodic", scheme="sav")
    c0 = 0.5 + 0.01 * rng.standard_normal(ch.basis.N)
    r = ch.solve(c0, 1e4, norm="rms", error_tol=3e-3)
    k = np.log(r.dt[:-1]) / np.log(2.0 ** 0.25)
    assert np.allclose(k, np.round(k), atol=1e-6)
    assert ch.sav_factorizations < 0.4 * (r.steps + r.rejected)  # 66 of 236 measured
    assert np.all(np.diff(r.modified_energy) <= 0)
    assert abs(r.mass[-1] - r.mass[0]) < 1e-12 * r.mass[0]
    assert r.energy[-1] < 0.6 * r.energy[0]  # it did coarsen (0.45 measured)
