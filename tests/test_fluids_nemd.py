"""fe2.fluids.LennardJonesNEMD: SLLOD molecular dynamics with Lees–Edwards boundaries.

References: the shear viscosity correlation of the Lennard-Jones truncated-shifted fluid
(Lautenschläger et al. 2019, :func:`fe2.fluids.reference.ljts_viscosity`), with the
expected shear thinning of the LJ fluid at reduced shear rates ~0.5; isotropy of the
stress at rest; momentum conservation of the SLLOD pair forces.
"""

import numpy as np
import pytest

from fe2.fluids import LennardJonesNEMD, start_up_shear
from fe2.fluids.kernels import le_forces
from fe2.fluids.reference import ljts_viscosity
from fe2.oracle import OracleError


def steady_viscosity(o, rate, t_end=60.0):
    t, txy, _ = start_up_shear(o, rate, t_end, 1.0)
    k = len(t) // 4
    w = txy[k:] / rate  # 1-tau windows: much longer than the stress correlation time
    return w.mean(), w.std(ddof=1) / np.sqrt(w.size)


def test_viscosity_against_ljts_correlation():
    eta0 = ljts_viscosity(1.0, 0.8)
    eta_lo, se_lo = steady_viscosity(LennardJonesNEMD(0.8, 1.0, 108, seed=1), 0.2)
    eta_hi, se_hi = steady_viscosity(LennardJonesNEMD(0.8, 1.0, 108, seed=1), 0.5)
    # near-Newtonian rate: the correlation within 4 standard errors (plus its own ~3 %)
    assert abs(eta_lo - eta0) < 4 * se_lo + 0.03 * eta0, (eta_lo, se_lo, eta0)
    # shear thinning at rate 0.5, by less than 20 %
    assert 0.8 * eta0 < eta_hi < eta0 - 2 * se_hi, (eta_hi, se_hi, eta0)


def test_stress_at_rest_is_isotropic():
    o = LennardJonesNEMD(0.8, 1.0, 108, seed=3)
    g = np.zeros((2, 2, 1))
    st = o.initial_state((1,))
    vals = []
    for _ in range(20):
        r = o.evaluate(g, state=st, dt=1.0)
        st = r.state
        vals.append(r.flux[0, 1, 0])
    vals = np.array(vals)
    assert abs(vals.mean()) < 4 * vals.std(ddof=1) / np.sqrt(vals.size)


def test_lees_edwards_forces_conserve_momentum_and_match_images():
    rng = np.random.default_rng(0)
    L, off = 5.0, 1.7
    x = rng.uniform(0, L, (30, 3))
    o = LennardJonesNEMD(0.8, 1.0, 108)
    f, vir = np.empty((30, 3)), np.empty(4)
    le_forces(x, L, off, o.potential.kind, np.ascontiguousarray(o.potential.params), f, vir)
    np.testing.assert_allclose(f.sum(axis=0), 0.0, atol=1e-9 * np.abs(f).max())
    # moving one atom by a Lees–Edwards image (y + L, x + offset) changes nothing
    x2 = x.copy()
    x2[4, 1] += L
    x2[4, 0] += off
    f2 = np.empty_like(f)
    le_forces(x2, L, off, o.potential.kind, np.ascontiguousarray(o.potential.params), f2, vir)
    np.testing.assert_allclose(f2, f, rtol=1e-10, atol=1e-12)


def test_refuses_non_shear_gradients_and_bad_sizes():
    o = LennardJonesNEMD(0.8, 1.0, 108, equilibration=0)
    g = np.zeros((2, 2, 2))
    g[0, 1] = 0.1
    g[0, 0, 1], g[1, 1, 1] = 0.05, -0.05
    with pytest.raises(OracleError, match="need simple shear"):
        o.evaluate(g, dt=0.01)
    with pytest.raises(ValueError, match="4 k\\^3"):
        LennardJonesNEMD(0.8, 1.0, 100)
    with pytest.raises(ValueError, match="twice the cutoff"):
        LennardJonesNEMD(0.8, 1.0, 32)


# ------------------------------------------------ deforming box (general planar L)

def _deviatoric(o, L, t_end, win=1.0, skip=0.25):
    """Mean and naive SE of the window-averaged stress ``(2, 2)`` under constant ``L``."""
    g = np.asarray(L, float).reshape(2, 2, 1)
    st, out, reinit = o.initial_state((1,)), [], 0.0
    for _ in range(int(round(t_end / win))):
        r = o.evaluate(g, state=st, dt=win)
        st = r.state
        out.append(r.flux[..., 0])
        reinit += r.info["md_reinit"][0]
    out = np.array(out)[int(skip * len(out)):]
    return out.mean(axis=0), out.std(axis=0, ddof=1) / np.sqrt(len(out)), reinit


def test_box_forces_match_lees_edwards_and_are_invariant_under_remap():
    from fe2.fluids.kernels import box_forces, reduce_basis

    rng = np.random.default_rng(2)
    L, off = 6.0, 2.3
    o = LennardJonesNEMD(0.8, 1.0, 108, equilibration=0)
    prm = np.ascontiguousarray(o.potential.params)
    x = rng.uniform(0, L, (40, 3))
    f_le, v_le = np.empty((40, 3)), np.empty(4)
    le_forces(x, L, off, o.potential.kind, prm, f_le, v_le)
    # the Lees–Edwards images are the lattice of a = (L, 0), b = (offset, L)
    h = np.array([[L, off], [0.0, L]])
    f, v = np.empty_like(f_le), np.empty(4)
    box_forces(x, h, L, o.potential.kind, prm, f, v)
    np.testing.assert_allclose(f, f_le, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(v, v_le, rtol=1e-10, atol=1e-10)
    # a skewed basis of the same lattice (b + 3a), reduced: same lattice, same forces
    hs = np.array([[L, off + 3 * L], [0.0, L]])
    assert reduce_basis(hs) > 0
    assert abs(hs[0, 0] * hs[0, 1] + hs[1, 0] * hs[1, 1]) <= 0.5 * (hs[:, 0] @ hs[:, 0]) + 1e-12
    assert np.linalg.det(hs) == pytest.approx(L * L)
    box_forces(x, hs, L, o.potential.kind, prm, f, v)
    np.testing.assert_allclose(f, f_le, rtol=1e-10, atol=1e-10)


def test_deforming_box_follows_lees_edwards_in_simple_shear():
    # same SLLOD algebra for L = simple shear: the two cells give the same momenta and
    # stress over 300 steps at rate 1 (strain 1.5: the box is remapped once, as LE wraps)
    le = LennardJonesNEMD(0.8, 1.0, 108, seed=4, micro_steps=300)
    de = LennardJonesNEMD(0.8, 1.0, 108, seed=4, micro_steps=300, cell="deforming")
    g = np.array([[0.0, 1.0], [0.0, 0.0]]).reshape(2, 2, 1)
    r1 = le.evaluate(g, dt=1.0)
    r2 = de.evaluate(g, dt=1.0)
    assert r2.info["md_remap"][0] >= 1 and r2.info["md_reinit"][0] == 0
    np.testing.assert_allclose(r2.state["p"], r1.state["p"], atol=1e-6)
    np.testing.assert_allclose(r2.flux, r1.flux, atol=1e-6)


def test_rotation_gives_isotropic_stress():
    o = LennardJonesNEMD(0.8, 1.0, 108, seed=5, cell="deforming")
    m, se, reinit = _deviatoric(o, [[0.0, 0.5], [-0.5, 0.0]], 16.0)
    assert reinit == 0
    assert abs(m[0, 1]) < 4 * se[0, 1], (m, se)
    assert abs(m[0, 0] - m[1, 1]) < 4 * np.hypot(se[0, 0], se[1, 1]), (m, se)


def test_planar_elongation_trouton_ratio_and_reinit_count():
    # Newtonian regime: sigma_xx - sigma_yy = 4 eta rate in planar elongation, with eta
    # from simple shear at the same state (rc = 2 so that 108 atoms can be stretched)
    kw = dict(n_particles=108, cutoff=2.0, cell="deforming", reinit_warmup=40)
    rate = 0.1
    ms, ss, _ = _deviatoric(LennardJonesNEMD(0.8, 1.0, seed=6, **kw), [[0, 2 * rate], [0, 0]],
                            24.0)
    me, se, reinit = _deviatoric(LennardJonesNEMD(0.8, 1.0, seed=6, **kw),
                                 [[rate, 0], [0, -rate]], 24.0)
    eta, eta_se = ms[0, 1] / (2 * rate), ss[0, 1] / (2 * rate)
    n1, n1_se = me[0, 0] - me[1, 1], np.hypot(se[0, 0], se[1, 1])
    assert abs(n1 - 4 * eta * rate) < 4 * np.hypot(n1_se, 4 * rate * eta_se), (n1, eta)
    # the square box's short side L exp(-rate t) reaches 2 rc at t = ln(L / 2 rc) / rate;
    # each re-initialisation restarts that clock (lifetime rounded up to whole MD steps)
    box = (108 / 0.8) ** (1 / 3)
    life = np.ceil(np.log(box / 4.0) / rate / 0.005) * 0.005
    assert reinit == np.floor(24.0 / life)


def test_kraynik_reinelt_start_needs_no_reinitialisation():
    # the KR lattice is time-periodic under planar elongation (along x or y): remapped
    # once per Hencky strain ln((3 + sqrt 5)/2), never re-initialised; the stress is the
    # same fluid's (Trouton ratio 4 against simple shear, as in the test above)
    kw = dict(n_particles=108, cutoff=2.0, cell="deforming", orientation="kraynik-reinelt")
    rate, t_end = 0.1, 24.0
    ms, ss, _ = _deviatoric(LennardJonesNEMD(0.8, 1.0, seed=8, **kw), [[0, 2 * rate], [0, 0]],
                            t_end)
    o = LennardJonesNEMD(0.8, 1.0, seed=8, **kw)
    me, se, reinit = _deviatoric(o, [[-rate, 0], [0, rate]], t_end)
    assert reinit == 0
    eta, eta_se = ms[0, 1] / (2 * rate), ss[0, 1] / (2 * rate)
    n2 = me[1, 1] - me[0, 0]
    assert abs(n2 - 4 * eta * rate) < 4 * np.hypot(np.hypot(se[0, 0], se[1, 1]),
                                                    4 * rate * eta_se), (n2, eta)
    # after exactly one period the reduced box is the start lattice again
    from fe2.fluids.kernels import reduce_basis

    h0 = o.start_box()[2]
    ep = np.log((3 + np.sqrt(5)) / 2)
    h = np.ascontiguousarray(np.diag([np.exp(-ep), np.exp(ep)]) @ h0)
    reduce_basis(h)
    k = np.linalg.solve(h0, h)  # integer, unimodular: the same lattice
    np.testing.assert_allclose(k, np.round(k), atol=1e-9)
    assert abs(round(np.linalg.det(k))) == 1
    with pytest.raises(ValueError, match="orientation must be"):
        LennardJonesNEMD(0.8, 1.0, 108, orientation="KR")


def test_deforming_refuses_compressible_gradients():
    o = LennardJonesNEMD(0.8, 1.0, 108, equilibration=0, cell="deforming")
    g = np.zeros((2, 2, 2))
    g[0, 0, 1] = 0.1
    with pytest.raises(OracleError, match="traceless"):
        o.evaluate(g, dt=0.01)
    with pytest.raises(ValueError, match="cell must be"):
        LennardJonesNEMD(0.8, 1.0, 108, cell="sheared")


def test_cavity_with_md_stress_matches_navier_stokes_with_md_viscosity():
    """Quick tier: a 4 x 4 cavity (regularised lid, Re ~ 2) whose stress comes from SLLOD
    boxes (108 atoms, rc = 2, deforming cells) against Navier–Stokes with the viscosity
    of the same fluid measured in simple shear (Lees–Edwards), through the same solver."""
    from fe2.fluids import MACGrid, NavierStokes2D, Newtonian, run, time_average

    rate, tu, dt = 0.2, 0.05, 0.1
    kw = dict(n_particles=108, cutoff=2.0, seed=1)
    eta_md, eta_se = steady_viscosity(LennardJonesNEMD(0.8, 1.0, **kw), rate, t_end=24.0)
    su = 1.0 / (tu * 2.0)  # stress unit: macro viscosity ~1 for eta_md ~ 2
    eta = eta_md * tu * su  # the MD fluid's viscosity in macro units
    o = LennardJonesNEMD(0.8, 1.0, **kw, cell="deforming", micro_steps=40, time_unit=tu,
                         stress_unit=su, viscosity_estimate=eta, reinit_warmup=40)
    grid = MACGrid(4, 4, wall_speed=(0.0, lambda x: 16.0 * x**2 * (1.0 - x) ** 2))
    with NavierStokes2D(grid, density=2.0, stress=o, dt=dt) as ns:
        md = time_average(run(ns, t_end=3.0, snapshots=30), t_from=1.0)
    with NavierStokes2D(grid, density=2.0, viscosity=0.0, stress=Newtonian(eta),
                        stabilization=eta, dt=dt) as ns:
        ref = run(ns, t_end=3.0)
    _, u_ref = ref.centerline_u()
    _, v_ref = ref.centerline_v()
    inner = slice(1, -1)
    assert np.all(np.abs(md["u"] - u_ref)[inner] < 4 * md["u_se"][inner] + 1e-3), (md, u_ref)
    assert np.all(np.abs(md["v"] - v_ref)[inner] < 4 * md["v_se"][inner] + 1e-3), (md, v_ref)
    # the lid drag measures the viscosity itself (the profiles hardly depend on it at Re ~ 2)
    tau_ref = ref.tau[0, 1, :, -1].mean()
    tol = 4 * np.hypot(md["tau_xy_top_se"], tau_ref * eta_se / eta_md)
    assert abs(md["tau_xy_top"] - tau_ref) < tol, (md["tau_xy_top"], tau_ref, tol)


def test_md_boxes_through_a_process_pool_equal_serial():
    # the boxes (positions, momenta, deformed cell) go to the workers and back with the
    # macro step; MD is deterministic, so the pool reproduces the serial run exactly
    from fe2.oracle import evaluate
    from fe2.parallel import make_executor

    o = LennardJonesNEMD(0.8, 1.0, 108, cutoff=2.0, seed=2, cell="deforming", micro_steps=20,
                         equilibration=200)
    g = np.zeros((2, 2, 2, 2))
    g[0, 1] = [[0.3, -0.2], [0.1, 0.0]]
    g[0, 0], g[1, 1] = 0.1, -0.1
    st = o.initial_state((2, 2))
    serial = evaluate(o, g, state=st, dt=1.0)
    with make_executor("process", workers=2) as pool:
        par = evaluate(o, g, state=st, dt=1.0, executor=pool, chunk_size=1)
        par2 = evaluate(o, g, state=par.state, dt=1.0, executor=pool, chunk_size=3)
    serial2 = evaluate(o, g, state=serial.state, dt=1.0)
    for a, b in ((serial, par), (serial2, par2)):
        np.testing.assert_array_equal(a.flux, b.flux)
        for k in a.state:
            np.testing.assert_array_equal(a.state[k], b.state[k])
