"""fe2.fluids macro solver: MAC projection method against closed forms and Ghia et al.

References (independent of the solver): the plane Poiseuille profile, the start-up
Couette series solution (both second order in space on the MAC grid), the centreline
tables of Ghia, Ghia & Shin (1982) for the lid-driven cavity at Re = 100, and the
Oldroyd-B steady channel flow (Poiseuille with the zero-shear viscosity).
"""

import numpy as np
import pytest

from fe2.fluids import MACGrid, NavierStokes2D, Newtonian, OldroydB, channel, lid_driven_cavity
from fe2.fluids.reference import GHIA_U, GHIA_V, GHIA_X, GHIA_Y, couette_startup, poiseuille


def rate(ns, errs):
    return -np.polyfit(np.log(ns), np.log(errs), 1)[0]


def test_poiseuille_second_order():
    ns, errs = [8, 16, 32], []
    for n in ns:
        r = channel(n, 3.0, gradient=8.0, viscosity=1.0, dt=0.01)
        errs.append(np.abs(r.u[0] - poiseuille(r.grid.yc, 8.0, 1.0)).max())
        assert np.abs(r.v).max() < 1e-12
    assert 1.9 < rate(ns, errs) < 2.1, errs
    assert errs[-1] < 2e-3


def test_startup_couette_second_order():
    ns, errs = [8, 16, 32], []
    for n in ns:
        r = channel(n, 0.05, gradient=0.0, viscosity=1.0, wall_speed=(0.0, 1.0), dt=2.5e-4)
        errs.append(np.abs(r.u[0] - couette_startup(r.grid.yc, r.t, 1.0, 1.0)).max())
    assert 1.8 < rate(ns, errs) < 2.2, errs


def test_explicit_viscous_matches_closed_form():
    r = channel(8, 0.05, gradient=0.0, viscosity=1.0, wall_speed=(0.0, 1.0), viscous="explicit",
                cfl=0.5)
    assert np.abs(r.u[0] - couette_startup(r.grid.yc, r.t, 1.0, 1.0)).max() < 0.02


def test_cavity_re100_against_ghia():
    r = lid_driven_cavity(100, 32, steady_tol=1e-4)
    assert r.converged
    y, u = r.centerline_u()
    x, v = r.centerline_v()
    eu = np.abs(np.interp(GHIA_Y[::-1], y, u) - GHIA_U[100][::-1]).max()
    ev = np.abs(np.interp(GHIA_X[::-1], x, v) - GHIA_V[100][::-1]).max()
    # 32 x 32 against the 129 x 129 multigrid tables: within 1.5 % of the lid speed
    assert eu < 0.015 and ev < 0.015, (eu, ev)
    g = r.grid
    div = (r.u[1:] - r.u[:-1]) / g.hx + (r.v[:, 1:] - r.v[:, :-1]) / g.hy
    assert np.abs(div).max() < 1e-10


def test_newtonian_oracle_is_the_plain_solver():
    """A Newtonian stress oracle puts all its viscosity into the Laplacian (no explicit part)."""
    a = lid_driven_cavity(100, 16, t_end=0.5)
    b = lid_driven_cavity(100, 16, t_end=0.5, stress=Newtonian(0.01))
    np.testing.assert_allclose(b.u, a.u, atol=1e-12)


def test_oldroyd_b_channel_steady_is_poiseuille_with_zero_shear_viscosity():
    r = channel(16, 6.0, gradient=8.0, stress=OldroydB(0.2, 0.8, 0.5), nx=3, dt=0.01)
    exact = poiseuille(r.grid.yc, 8.0, 1.0)
    newt = channel(16, 6.0, gradient=8.0, viscosity=1.0, nx=3, dt=0.01)
    # same discretisation error as the Newtonian run with eta_0 (the polymer stress
    # divergence is consistent with the Laplacian at steady state), both O(h^2)
    assert np.abs(r.u[0] - exact).max() < 1.05 * np.abs(newt.u[0] - exact).max() + 1e-4
    # polymer shear stress = eta_p du/dy (steady Oldroyd-B)
    tau_xy = r.tau[0, 1, 0]
    assert np.abs(tau_xy - 8.0 * (0.5 - r.grid.yc)).max() < 0.05


def test_bad_input_one_line_errors():
    with pytest.raises(ValueError, match="nx must be an integer >= 3"):
        MACGrid(2, 8)
    with pytest.raises(ValueError, match="reynolds must be > 0"):
        lid_driven_cavity(-1, 8)
    with pytest.raises(ValueError, match="measure 'velocity_gradient'"):
        from fe2.materials import LinearElastic

        NavierStokes2D(MACGrid(4, 4), stress=LinearElastic(1.0, 0.3, plane="strain"))
    with pytest.raises(ValueError, match="pressure_solver must be"):
        NavierStokes2D(MACGrid(4, 4), viscosity=1.0, pressure_solver="magic")


def test_outputs_round_trip(tmp_path):
    import json

    import pyvista as pv

    from fe2.fluids import (
        HookeanDumbbells,
        plot_centerlines,
        plot_streamlines,
        write_profiles,
        write_series,
    )
    from fe2.io import read_pvd

    r = lid_driven_cavity(100, 8, t_end=0.2, snapshots=2,
                          stress=HookeanDumbbells(20, 0.1, 0.005, seed=0, eta_s=0.005))
    assert len(r.snapshots) == 2 and r.snapshots[-1].t == pytest.approx(0.2)
    pvd = write_series(r.snapshots, tmp_path, "cavity")
    entries = read_pvd(pvd)
    assert [t for t, _ in entries] == pytest.approx([0.1, 0.2])
    img = pv.read(entries[-1][1])
    uc = r.cell_velocity()
    # VTK cells run x fastest: cell (i, j) is i + nx j
    np.testing.assert_allclose(img.cell_data["velocity"][3 + 8 * 5, :2], uc[:, 3, 5])
    np.testing.assert_allclose(img.cell_data["tau_xy"][2 + 8 * 7], r.tau[0, 1, 2, 7])
    assert "tau_xy_se" in img.cell_data and "vorticity" in img.cell_data
    files = write_profiles(r, tmp_path, "cavity", extra={"reynolds": 100})
    y, u = np.loadtxt(files["u"], delimiter=",", skiprows=1).T
    np.testing.assert_allclose(u, r.centerline_u()[1])
    assert json.loads(files["summary"].read_text())["reynolds"] == 100
    assert plot_centerlines(r, tmp_path / "c.png", reynolds=100).stat().st_size > 1000
    assert plot_streamlines(r, tmp_path / "s.png").stat().st_size > 1000


def test_pressure_solvers_agree():
    """CHOLMOD, SuperLU and PETSc CG + GAMG (rtol 1e-10) give the same flow."""
    runs = [lid_driven_cavity(100, 16, t_end=0.5, pressure_solver=s)
            for s in ("cholesky", "superlu", "petsc")]
    np.testing.assert_allclose(runs[1].u, runs[0].u, atol=1e-12)
    np.testing.assert_allclose(runs[2].u, runs[0].u, atol=1e-9)


@pytest.mark.parametrize("nx", [1, 2])
def test_short_periodic_channels(nx):
    """One or two cells along a periodic channel give the discrete Poiseuille solution.

    The three-point Laplacian is exact for the parabola; the ghost-cell wall condition
    (mean of the two cells around the wall = 0) shifts the whole profile by
    ``G h^2 / (8 eta)``: the steady discrete solution is ``u_exact + G h^2 / (8 eta)``.
    """
    r = channel(16, 6.0, gradient=8.0, viscosity=1.0, dt=0.01, nx=nx)
    shift = 8.0 * (1 / 16) ** 2 / 8.0
    np.testing.assert_allclose(r.u[0], poiseuille(r.grid.yc, 8.0, 1.0) + shift, rtol=1e-9)


def test_wall_speed_profile_callable():
    """A wall speed given as a function of x (here constant) drives start-up Couette flow."""
    r = channel(16, 0.05, gradient=0.0, viscosity=1.0, wall_speed=(0.0, lambda x: 1.0 + 0 * x),
                dt=2.5e-4)
    assert np.abs(r.u[0] - couette_startup(r.grid.yc, r.t, 1.0, 1.0)).max() < 4e-3
    g = MACGrid(8, 8, wall_speed=(0.0, lambda x: 16 * x**2 * (1 - x) ** 2))
    np.testing.assert_allclose(g.wall_u(1, np.array([0.0, 0.5, 1.0])), [0.0, 1.0, 0.0])
