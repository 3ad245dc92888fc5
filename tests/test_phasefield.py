"""fe2.phasefield against closed forms, linear stability theory, PFHub 1 and each other."""

from __future__ import annotations

import numpy as np
import pytest
import skfem

from fe2.phasefield import (
    AllenCahn,
    CahnHilliard,
    SpectralAllenCahn,
    SpectralCahnHilliard,
    double_well,
    free_energy,
    polynomial,
)
from fe2.phasefield.benchmarks import pfhub1_free_energy, pfhub1_gradient, pfhub1_initial


def quads(n0, n1, L0, L1):
    return skfem.MeshQuad.init_tensor(np.linspace(0, L0, n0 + 1), np.linspace(0, L1, n1 + 1))


def nagumo(a):
    """psi' = u (u - 1)(u - a): the bistable (Nagumo) equation, wells 0 and 1."""
    return free_energy(
        lambda u: u ** 4 / 4 - (1 + a) * u ** 3 / 3 + a * u ** 2 / 2,
        lambda u: u * (u - 1) * (u - a),
        lambda u: 3 * u ** 2 - 2 * (1 + a) * u + a,
        sample=(-0.25, 1.25), name="nagumo")


def front_position(basis, u, level=0.5):
    """x where u crosses ``level`` along the bottom edge (linear interpolation)."""
    x = basis.doflocs
    on = np.flatnonzero(np.abs(x[1]) < 1e-12)
    on = on[np.argsort(x[0, on])]
    xs, us = x[0, on], u[on]
    i = int(np.flatnonzero((us[:-1] - level) * (us[1:] - level) <= 0)[0])
    return xs[i] + (level - us[i]) * (xs[i + 1] - xs[i]) / (us[i + 1] - us[i])


def test_travelling_front_moves_at_the_nagumo_speed():
    # u_t = M (u_xx - u (u-1)(u-a) / eps^2): U = 1 / (1 + exp((x - c t)/(sqrt 2 eps))),
    # c = sqrt(2) (1/2 - a) M / eps (closed form); user free energy. The scheme is first
    # order in time: the speed error halves with the step, and the Richardson value
    # 2 c(dt/2) - c(dt) matches c
    a, eps, M = 0.25, 1.0, 1.0
    mesh = quads(160, 1, 40.0, 0.25)
    ac = AllenCahn(mesh, epsilon=eps, mobility=M, free_energy=nagumo(a))
    exact = np.sqrt(2) * (0.5 - a) * M / eps
    speeds = []
    for dt in (0.2, 0.1):
        pos = []
        res = ac.solve(lambda x: 1 / (1 + np.exp((x[0] - 10) / (np.sqrt(2) * eps))),
                       t_end=30.0, dt=dt, adaptive=False,
                       callback=lambda t, u, info, pos=pos: pos.append(
                           (t, front_position(ac.basis, u))))
        t, x = np.array(pos).T
        speeds.append(np.polyfit(t[t >= 10], x[t >= 10], 1)[0])
        assert res.energy_increases() == 0
    err = np.abs(np.array(speeds) - exact) / exact
    assert err[1] < 0.03 and 1.7 < err[0] / err[1] < 2.3
    assert 2 * speeds[1] - speeds[0] == pytest.approx(exact, rel=3e-3)


def test_shrinking_circle_follows_curvature_flow():
    # R^2 = R0^2 - 2 M t in 2D (sharp-interface limit of d phi/dt = M (lap phi - psi'/eps^2));
    # a quarter disk at the corner of a no-flux square (mirror symmetry). First order in
    # time: the Richardson slope 2 s(dt/2) - s(dt) is -2
    eps, R0 = 0.02, 0.3
    ac = AllenCahn(quads(32, 32, 0.4, 0.4), epsilon=eps)
    X = ac.basis.doflocs
    phi0 = np.tanh((R0 - np.hypot(X[0], X[1])) / (np.sqrt(2) * eps))
    slopes = []
    for dt in (0.4 * eps ** 2, 0.2 * eps ** 2):
        radii = []

        def area(t, phi, info, radii=radii):
            A = float(ac.disc.lumped @ ((1 + phi) / 2))  # int (1 + phi)/2 = quarter disk
            radii.append((t, np.sqrt(4 * A / np.pi)))

        res = ac.solve(phi0, t_end=0.02, callback=area, dt=dt, adaptive=False)
        t, R = np.array(radii).T
        slopes.append(np.polyfit(t[t > 0.003], R[t > 0.003] ** 2, 1)[0])
        assert res.energy_increases() == 0
    assert 2 * slopes[1] - slopes[0] == pytest.approx(-2.0, rel=0.03)


@pytest.mark.parametrize("solver", ["fe", "spectral"])
def test_cahn_hilliard_growth_rate_matches_linear_stability(solver):
    # c = c0 + d cos(k x): growth rate omega = -M k^2 (psi''(c0) + kappa k^2); fastest mode
    # k^2 = -psi''/(2 kappa) = 0.2 for PFHub 1 (psi''(0.5) = -0.8): omega = 0.4
    kappa, M = 2.0, 5.0
    k = np.sqrt(0.2)
    L = 2 * np.pi / k
    omega = M * k ** 2 * (0.8 - kappa * k ** 2)
    amp = 1e-4
    T = 5.0
    if solver == "fe":
        ch = CahnHilliard(quads(64, 1, L, L / 64), kappa, M, bc="periodic")
        x = ch.basis.doflocs[0]
        res = ch.solve(0.5 + amp * np.cos(k * x), t_end=T, dt=0.01, adaptive=False)
        grow = (res.field - 0.5) @ np.cos(k * x) / ((res.saved[0] - 0.5) @ np.cos(k * x))
    else:
        ch = SpectralCahnHilliard((64, 4), (L, L / 16), kappa, M)
        x = ch.points[0].ravel()
        res = ch.solve(lambda p: 0.5 + amp * np.cos(k * p[0]), t_end=T, dt=0.002,
                       adaptive=False)
        grow = (res.field - 0.5) @ np.cos(k * x) / ((res.saved[0] - 0.5) @ np.cos(k * x))
    assert np.log(grow) / T == pytest.approx(omega, rel=0.015)


@pytest.mark.parametrize("mesh_kind, order", [("tri", 2), ("quad", 1), ("tet", 1)])
def test_cahn_hilliard_conserves_mass_and_decreases_energy(mesh_kind, order):
    rng = np.random.default_rng(7)
    if mesh_kind == "tri":
        mesh = skfem.MeshTri.init_tensor(np.linspace(0, 30, 13), np.linspace(0, 30, 13))
    elif mesh_kind == "quad":
        mesh = quads(24, 24, 30.0, 30.0)
    else:
        g = np.linspace(0, 12, 7)
        mesh = skfem.MeshTet.init_tensor(g, g, g)
    ch = CahnHilliard(mesh, kappa=2.0, mobility=5.0, order=order)
    c0 = 0.5 + 0.05 * rng.standard_normal(ch.basis.N)
    res = ch.solve(c0, t_end=60.0, error_tol=1e-2)
    assert res.energy_increases() == 0
    assert res.energy[-1] < 0.7 * res.energy[0]  # it did separate
    assert np.abs(res.mass - res.mass[0]).max() <= 1e-12 * res.mass[0]
    # the mass is the integral of the finite-element field: check against quadrature
    q = ch.basis.interpolate(res.field)
    assert res.mass[-1] == pytest.approx(skfem.Functional(lambda w: w.c).assemble(
        ch.basis, c=q), rel=1e-12)


def test_allen_cahn_energy_decreases_on_p2_triangles_and_hexes():
    for mesh, order in ((skfem.MeshTri.init_tensor(*(np.linspace(0, 1, 9),) * 2), 2),
                        (skfem.MeshHex.init_tensor(*(np.linspace(0, 1, 6),) * 3), 1)):
        ac = AllenCahn(mesh, epsilon=0.05, order=order, bc="periodic")
        x = ac.basis.doflocs
        res = ac.solve(lambda x: np.cos(2 * np.pi * x[0]) * np.cos(2 * np.pi * x[1]) * 0.5,
                       t_end=0.05)
        assert res.energy_increases() == 0 and res.energy[-1] < res.energy[0]
        # periodic: partners on opposite faces keep equal values
        lo, hi = np.isclose(x[0], 0), np.isclose(x[0], 1)
        ilo, ihi = np.lexsort(x[1:, lo]), np.lexsort(x[1:, hi])
        assert np.allclose(res.field[lo][ilo], res.field[hi][ihi], atol=1e-12)


def test_fe_and_spectral_agree_on_a_periodic_problem():
    # the same periodic Cahn-Hilliard run by P1 quads (convex splitting) and by Fourier
    # (stabilised semi-implicit) on the same nodes: they agree to the discretization error
    L, T, n = 16.0, 30.0, 32
    init = lambda x: (0.5 + 0.02 * np.cos(2 * np.pi * x[0] / L)  # noqa: E731
                      * np.cos(4 * np.pi * x[1] / L) + 0.02 * np.sin(2 * np.pi * x[1] / L))
    fe = CahnHilliard(quads(n, n, L, L), kappa=2.0, mobility=5.0, bc="periodic")
    sp = SpectralCahnHilliard((n, n), L, kappa=2.0, mobility=5.0)
    rf = fe.solve(init, t_end=T, dt=0.1, adaptive=False)
    rs = sp.solve(init, t_end=T, dt=0.1, adaptive=False)
    grid = sp.points.reshape(2, -1)
    X = fe.basis.doflocs
    idx = np.lexsort(np.round(X / (L / n)).astype(int)[::-1])
    keep = idx[(X[0, idx] < L - 1e-9) & (X[1, idx] < L - 1e-9)]
    assert np.allclose(X[:, keep], grid)
    cf, cs = rf.field[keep], rs.field
    assert np.abs(cs - 0.5).max() > 0.1  # the perturbation grew 5x: a nonlinear regime
    rel = np.linalg.norm(cf - cs) / np.linalg.norm(cs - 0.5)
    assert rel < 0.01
    assert np.interp([20, 30], rf.times, rf.energy) == pytest.approx(
        np.interp([20, 30], rs.times, rs.energy), rel=0.01)


def test_pfhub1_initial_free_energy():
    # reference: F(c0) by 8-point Gauss-Legendre on 50 x 50 panels with the exact gradient
    g, w = np.polynomial.legendre.leggauss(8)
    e = np.linspace(0, 200, 51)
    x = ((e[:-1, None] + e[1:, None]) / 2 + 2.0 * g[None]).ravel()
    wx = np.tile(2.0 * w, 50)
    P = np.array(np.meshgrid(x, x, indexing="ij"))
    grad = pfhub1_gradient(P)
    h = 1e-5  # the exact gradient against central differences of the initial condition
    fd = (pfhub1_initial(P + [[[h]], [[0]]]) - pfhub1_initial(P - [[[h]], [[0]]])) / (2 * h)
    assert np.abs(fd - grad[0]).max() < 1e-8
    ref = float(np.sum(wx[:, None] * wx[None] * (pfhub1_free_energy().psi(pfhub1_initial(P))
                                                  + (grad ** 2).sum(0))))
    errs = []
    for n in (50, 100):
        ch = CahnHilliard(quads(n, n, 200.0, 200.0), kappa=2.0, mobility=5.0)
        errs.append(abs(ch.energy(ch._initial_state(ch.disc.initial("t", pfhub1_initial)))
                        - ref) / ref)
    assert errs[1] < 1e-4 and 3.0 < errs[0] / errs[1] < 5.0  # second order in h
    assert ref == pytest.approx(319.0433, abs=1e-3)


def test_spectral_allen_cahn_energy_and_pfhub_energy_defaults():
    ac = SpectralAllenCahn((32, 32), 1.0, epsilon=0.05)
    res = ac.solve(lambda x: 0.5 * np.cos(2 * np.pi * x[0]), t_end=0.02)
    assert res.energy_increases() == 0
    assert polynomial().convexify == pytest.approx(0.8)  # 4 rho ((cb - ca)/2)^2
    assert double_well().convexify == 1.0


def test_bad_input_gets_one_line_errors():
    mesh = quads(4, 4, 1.0, 1.0)
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0, got -1"):
        AllenCahn(mesh, epsilon=-1)
    with pytest.raises(ValueError, match="bc must be one of"):
        CahnHilliard(mesh, 1.0, 1.0, bc="dirichlet")
    with pytest.raises(ValueError, match="order must be 1 or 2, got 3"):
        AllenCahn(mesh, 0.1, order=3)
    with pytest.raises(ValueError, match=r"phi0 must have one value per dof, shape \(25,\)"):
        AllenCahn(mesh, 0.1).solve(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="dpsi is not the derivative of psi"):
        free_energy(lambda c: c ** 2, lambda c: c, lambda c: 2 + 0 * c)
    with pytest.raises(ValueError, match="t_end must be a finite number > 0"):
        AllenCahn(mesh, 0.1).solve(np.zeros(25), -1.0)
    with pytest.raises(ValueError, match="periodic bc: boundary nodes do not match"):
        m = skfem.MeshTri.init_tensor(np.linspace(0, 1, 4), np.linspace(0, 1, 4))
        m = skfem.MeshTri(m.p + 0.01 * np.sin(7 * m.p[::-1]) * (m.p > 0) * (m.p < 1), m.t)
        AllenCahn(m, 0.1, bc="periodic")


def test_progress_lines_callback_stop_and_saved_fields(caplog):
    import logging

    mesh = quads(8, 8, 1.0, 1.0)
    ac = AllenCahn(mesh, epsilon=0.1)
    with caplog.at_level(logging.INFO, logger="fe2.progress"):
        res = ac.solve(lambda x: np.cos(np.pi * x[0]), t_end=1.0, dt=0.01, adaptive=False,
                       save_every=3, progress=True,
                       callback=lambda t, u, info: info["step"] < 7)  # stop after step 7
    assert res.steps == 7 and res.times[-1] == pytest.approx(0.07)
    assert list(res.saved_times) == pytest.approx([0.0, 0.03, 0.06, 0.07])
    assert any("AllenCahn" in r.getMessage() for r in caplog.records)


def test_mixed_direct_solver_and_schur_gmres_give_the_same_steps():
    # the whole mixed Newton system by SuperLU against the mu Schur complement by GMRES
    mesh = quads(12, 12, 24.0, 24.0)
    x0 = lambda x: 0.5 + 0.05 * np.cos(0.5 * x[0]) * np.sin(0.3 * x[1])  # noqa: E731
    a = CahnHilliard(mesh, 2.0, 5.0, bc="periodic").solve(x0, 20.0, dt=0.5, adaptive=False)
    b = CahnHilliard(mesh, 2.0, 5.0, bc="periodic", solver="scipy").solve(
        x0, 20.0, dt=0.5, adaptive=False)
    assert np.abs(a.field - b.field).max() < 1e-8
    assert np.abs(b.mass - b.mass[0]).max() <= 1e-12 * b.mass[0]


def test_uniform_field_is_stationary_and_takes_one_step():
    # psi'(c0) is constant and the Laplacian vanishes: c = c0 exactly, in one step
    ch = SpectralCahnHilliard((16, 16), 16.0, kappa=2.0, mobility=5.0)
    res = ch.solve(np.full((16, 16), 0.5), 1000.0)
    assert res.steps == 1 and np.all(res.field == 0.5)
