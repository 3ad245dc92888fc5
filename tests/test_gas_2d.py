"""fe2.gas 2D: Jiang–Tadmor scheme vs the 1D NT scheme, conservation, order, cylindrical blast."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fe2.gas import IdealGas, conserved, primitive, shock_tube
from fe2.gas.schemes2d import evolve2d

GAS2 = IdealGas(1.4, dim=2)


def _sod_2d(n: int, ny: int) -> np.ndarray:
    """Sod data along x (uniform in y) as :func:`shock_tube` builds it, shape (4, n, ny)."""
    dx = 1.0 / n
    edges = dx * np.arange(n + 1)
    frac = np.clip((0.5 - edges[:-1]) / dx, 0.0, 1.0)
    UL = conserved(1.0, [0.0, 0.0], 1.0)
    UR = conserved(0.125, [0.0, 0.0], 0.1)
    U0 = frac[None] * UL[:, None] + (1 - frac[None]) * UR[:, None]
    return np.repeat(U0[:, :, None], ny, axis=2)


@pytest.mark.parametrize("limiter", ["mc", "minmod", "none"])
def test_sod_along_x_and_y_equals_1d_nt_bitwise(limiter):
    # With data uniform in y every y term of the JT step is an exact zero and the x terms
    # are evaluated in the floating-point order of the 1D NT step (and the 2D wave speed
    # max(|u|,|v|) + c equals |u| + c for v = 0), so the runs agree bitwise, not just to
    # a tolerance.
    n, ny = 64, 4
    ref = shock_tube((1.0, 0.0, 1.0), (0.125, 0.0, 0.1), n, 0.2, limiter=limiter)
    U0 = _sod_2d(n, ny)
    rx = evolve2d(U0, 1.0 / n, 1.0 / n, 0.2, GAS2, limiter=limiter,
                  bc=("outflow", "periodic"))
    assert rx.steps == ref.steps and rx.t == ref.t
    np.testing.assert_array_equal(rx.U[[0, 1, 3]], np.repeat(ref.U[:, :, None], ny, axis=2))
    assert np.all(rx.U[2] == 0.0)
    assert np.all(rx.U == rx.U[:, :, :1])  # exactly uniform in y
    # the same problem along y (transposed data, momenta swapped, bc swapped)
    U0y = U0.transpose(0, 2, 1)[[0, 2, 1, 3]]
    ry = evolve2d(U0y, 1.0 / n, 1.0 / n, 0.2, GAS2, limiter=limiter,
                  bc=("periodic", "outflow"))
    np.testing.assert_array_equal(ry.U, rx.U.transpose(0, 2, 1)[[0, 2, 1, 3]])
    np.testing.assert_array_equal(ry.y, rx.x)


def _smooth_random_state(nx, ny, rng):
    x = (np.arange(nx) + 0.5) / nx
    y = (np.arange(ny) + 0.5) / ny
    X, Y = np.meshgrid(x, y, indexing="ij")

    def field(mean, amp):
        f = np.full_like(X, mean)
        for kx in range(3):
            for ky in range(3):
                a, ph = rng.uniform(-1, 1), rng.uniform(0, 2 * np.pi)
                f += amp / 9 * a * np.sin(2 * np.pi * (kx * X + ky * Y) + ph)
        return f

    return conserved(field(1.0, 0.5), np.stack([field(0.3, 0.5), field(-0.2, 0.5)]),
                     field(1.0, 0.5))


@pytest.mark.parametrize("bc", ["periodic", ("reflecting", "periodic")])
def test_conservation_to_round_off(bc):
    rng = np.random.default_rng(7)
    nx, ny = 40, 28
    U0 = _smooth_random_state(nx, ny, rng)
    r = evolve2d(U0, 1.0 / nx, 1.5 / ny, 0.15, GAS2, bc=bc)
    assert r.steps >= 10
    scale = np.abs(U0).sum(axis=(1, 2)) / (nx * ny) * (1.5)  # |U| totals over the domain
    assert np.all(np.abs(r.mass - r.mass[0]) <= 1e-12 * scale[0])
    assert np.all(np.abs(r.energy - r.energy[0]) <= 1e-12 * scale[3])
    if bc == "periodic":
        assert np.all(np.abs(r.momentum - r.momentum[0]) <= 1e-12 * scale[1:3].max())
    else:  # walls in x: only y-momentum is conserved (periodic in y, no wall force)
        assert np.all(np.abs(r.momentum[:, 1] - r.momentum[0, 1]) <= 1e-12 * scale[2])
        assert np.abs(r.momentum[-1, 0] - r.momentum[0, 0]) > 1e-6


def _wave_average(n, t):
    """Cell averages of rho = 1 + 0.2 sin(2 pi (x + y - 2 t)) on n x n cells of [0, 1]^2."""
    h = 1.0 / n
    c = (np.arange(n) + 0.5) * h
    X, Y = np.meshgrid(c, c, indexing="ij")
    damp = (np.sin(np.pi * h) / (np.pi * h)) ** 2
    return 1.0 + 0.2 * damp * np.sin(2 * np.pi * (X + Y - 2 * t))


def test_smooth_advection_second_order():
    t_end = 0.2
    errs = []
    ns = (32, 64, 128)
    for n in ns:
        rho = _wave_average(n, 0.0)
        U0 = conserved(rho, np.ones((2, n, n)), np.ones((n, n)))
        r = evolve2d(U0, 1.0 / n, 1.0 / n, t_end, GAS2, limiter="none", bc="periodic")
        errs.append(np.mean(np.abs(r.U[0] - _wave_average(n, t_end))))
    rates = np.log2(np.array(errs[:-1]) / np.array(errs[1:]))
    assert np.all((rates > 1.8) & (rates < 2.3)), (errs, rates)


def _radial_reference(t_end, n=2000, R=1.2, gamma=1.4, cfl=0.4):
    """Cylindrical blast by an independent 1D method: r-weighted finite volumes,
    Rusanov flux with minmod-limited (MUSCL) primitive states, Heun time stepping.

    Semi-discrete: dU_i/dt = -(r_{i+1/2} F_{i+1/2} - r_{i-1/2} F_{i-1/2}) / (r_i dr)
    + (0, p_i / r_i, 0) with U = (rho, rho u, E); mirror ghost at r = 0, outflow at R.
    """
    dr = R / n
    r = (np.arange(n) + 0.5) * dr
    rf = np.arange(n + 1) * dr
    rho = np.where(r < 0.4, 1.0, 0.125)
    p = np.where(r < 0.4, 1.0, 0.1)
    U = np.stack([rho, 0 * rho, p / (gamma - 1)])

    def prim(U):
        u = U[1] / U[0]
        return U[0], u, (gamma - 1) * (U[2] - 0.5 * U[0] * u * u)

    def flux(rho, u, p):
        E = p / (gamma - 1) + 0.5 * rho * u * u
        return np.stack([rho * u, rho * u * u + p, (E + p) * u]), np.abs(u) + np.sqrt(
            gamma * p / rho)

    def rhs(U):
        rho, u, p = prim(U)
        W = np.stack([rho, u, p])
        Wg = np.concatenate([W[:, 1::-1] * np.array([[1], [-1], [1]]), W,
                             W[:, -1:], W[:, -1:]], axis=1)
        a, b = Wg[:, 1:-1] - Wg[:, :-2], Wg[:, 2:] - Wg[:, 1:-1]
        s = np.where(a * b > 0, np.sign(a) * np.minimum(np.abs(a), np.abs(b)), 0.0)
        Wc = Wg[:, 1:-1]
        WL, WR = (Wc + 0.5 * s)[:, :-1], (Wc - 0.5 * s)[:, 1:]  # faces 0..n
        FL, aL = flux(*WL)
        FR, aR = flux(*WR)
        UL = np.stack([WL[0], WL[0] * WL[1], WL[2] / (gamma - 1) + 0.5 * WL[0] * WL[1] ** 2])
        UR = np.stack([WR[0], WR[0] * WR[1], WR[2] / (gamma - 1) + 0.5 * WR[0] * WR[1] ** 2])
        F = 0.5 * (FL + FR) - 0.5 * np.maximum(aL, aR) * (UR - UL)
        rF = rf * F
        out = -(rF[:, 1:] - rF[:, :-1]) / (r * dr)
        out[1] += p / r
        return out, np.max(np.abs(u) + np.sqrt(gamma * p / rho))

    t = 0.0
    while t < t_end:
        k1, a = rhs(U)
        dt = min(cfl * dr / a, t_end - t)
        U1 = U + dt * k1
        k2, _ = rhs(U1)
        U = U + 0.5 * dt * (k1 + k2)
        t += dt
    return r, U[0]


def _blast(n):
    """Cylindrical explosion on n x n cells of [-1, 1]^2 (reflecting walls) at t = 0.25."""
    h = 2.0 / n
    c = -1.0 + (np.arange(n) + 0.5) * h
    # initial cell averages by 4 x 4 subsampling (symmetric about both axes and x = y)
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    inside = np.zeros((n, n))
    for sx in sub:
        for sy in sub:
            X, Y = np.meshgrid(c + sx * h, c + sy * h, indexing="ij")
            inside += (X**2 + Y**2 < 0.4**2) / 16
    U0 = conserved(0.125 + 0.875 * inside, np.zeros((2, n, n)), 0.1 + 0.9 * inside)
    return evolve2d(U0, h, h, 0.25, GAS2, limiter="mc", bc="reflecting", origin=(-1.0, -1.0))


def test_cylindrical_explosion_symmetric_and_matches_radial_reference():
    r = _blast(100)
    U = r.U
    scale = np.abs(U).max(axis=(1, 2))[:, None, None]
    # the scheme is equivariant under the box's symmetries up to the order of floating-point
    # sums: x -> -x (rho u odd), y -> -y (rho v odd), x <-> y (momenta swap)
    sym_x = U[:, ::-1, :] * np.array([1, -1, 1, 1])[:, None, None]
    sym_y = U[:, :, ::-1] * np.array([1, 1, -1, 1])[:, None, None]
    sym_d = U.transpose(0, 2, 1)[[0, 2, 1, 3]]
    for S in (sym_x, sym_y, sym_d):
        assert np.max(np.abs(S - U) / scale) < 1e-12
    assert np.all(primitive(U, 1.4)[2] > 0)
    # radial density profile vs the fine 1D reference (2000 cells; 1000 vs 2000 cells
    # differ by 0.3 % in this norm, so the reference error is negligible here)
    rr, rho_ref = _radial_reference(0.25)
    # the shock has left r = 0.7 and not yet reached r = 0.88 (inside the compared disk)
    assert np.interp(0.7, rr, rho_ref) > 0.2 and np.interp(0.88, rr, rho_ref) == 0.125

    def l1(res):
        X, Y = np.meshgrid(res.x, res.y, indexing="ij")
        R = np.hypot(X, Y)
        disk = R < 0.9
        ref = np.interp(R[disk], rr, rho_ref)
        return np.sum(np.abs(res.U[0][disk] - ref)) / np.sum(ref)

    # relative L1 over r < 0.9: observed 0.086 (50^2), 0.042 (100^2), 0.020 (200^2) --
    # first order, as the shock and contact allow; the bound leaves 40 % margin on 100^2
    e100, e50 = l1(r), l1(_blast(50))
    assert e100 < 0.06, e100
    assert e50 / e100 > 1.6, (e50, e100)


def test_executor_bitwise_and_bad_options():
    rng = np.random.default_rng(3)
    U0 = _smooth_random_state(12, 10, rng)
    a = evolve2d(U0, 0.1, 0.1, 0.05, GAS2)
    with ThreadPoolExecutor(2) as ex:
        b = evolve2d(U0, 0.1, 0.1, 0.05, GAS2, executor=ex)
    np.testing.assert_array_equal(a.U, b.U)
    assert a.U.shape == (4, 12, 10) and a.x.shape == (12,) and a.y.shape == (10,)
    with pytest.raises(ValueError, match="limiter"):
        evolve2d(U0, 0.1, 0.1, 0.05, GAS2, limiter="superbee")
    with pytest.raises(ValueError, match="periodic"):
        evolve2d(U0, 0.1, 0.1, 0.05, GAS2, bc=("periodic", "outflow", "outflow", "outflow"))
    with pytest.raises(ValueError, match="bc must be"):
        evolve2d(U0, 0.1, 0.1, 0.05, GAS2, bc="wall")
    with pytest.raises(ValueError, match="dim 2"):
        evolve2d(U0, 0.1, 0.1, 0.05, IdealGas(1.4))
    with pytest.raises(ValueError, match="shape"):
        evolve2d(U0[:, :2], 0.1, 0.1, 0.05, GAS2)
    with pytest.raises(ValueError, match="cfl"):
        evolve2d(U0, 0.1, 0.1, 0.05, GAS2, cfl=1.5)


def test_max_dt_caps_the_step_in_2d_and_equals_1d_bitwise():
    # max_dt below the CFL step: ceil(t / (2 max_dt)) pairs, and the y-uniform run still
    # equals the 1D NT run with the same cap bitwise (the cap reaches both through one loop)
    n, ny, t, max_dt = 32, 3, 0.1, 0.002
    ref = shock_tube((1.0, 0.0, 1.0), (0.125, 0.0, 0.1), n, t, max_dt=max_dt)
    r = evolve2d(_sod_2d(n, ny), 1.0 / n, 1.0 / n, t, GAS2, bc=("outflow", "periodic"),
                 max_dt=max_dt)
    assert r.steps == ref.steps == 2 * int(np.ceil(t / (2 * max_dt)))
    np.testing.assert_array_equal(r.U[[0, 1, 3]], np.repeat(ref.U[:, :, None], ny, axis=2))
    with pytest.raises(ValueError, match="evolve2d: max_dt must be a finite number > 0"):
        evolve2d(_sod_2d(n, ny), 1.0 / n, 1.0 / n, t, GAS2, max_dt=-1.0)


def test_inflow_sides_equal_the_1d_inflow_run_bitwise():
    """A state entering through x_low (and held at x_high) in 2D equals the 1D run."""
    from fe2.gas import evolve

    n, ny = 40, 3
    U1 = conserved(1.0, [0.5, 0.0], 1.0)
    U2 = conserved(2.0, [1.0, 0.0], 2.5)  # a denser, faster state pushed in from the left
    U0 = np.repeat(np.repeat(U1[:, None, None], n, axis=1), ny, axis=2)
    r2 = evolve2d(U0, 1.0 / n, 1.0 / n, 0.15, GAS2, bc=(("inflow", "inflow"), "periodic"),
                  inflow={"x_low": U2, "x_high": U1})
    one = lambda U: np.asarray(U)[[0, 1, 3]]  # noqa: E731
    r1 = evolve(one(U0[:, :, 0]), 1.0 / n, 0.15, IdealGas(1.4), bc="inflow",
                inflow=(one(U2), one(U1)))
    assert r2.steps == r1.steps
    np.testing.assert_array_equal(r2.U[[0, 1, 3]], np.repeat(r1.U[:, :, None], ny, axis=2))
    assert r2.U[0, 0, 0] > 1.5  # the inflow state has entered
    with pytest.raises(ValueError, match="side 'x_low' has bc 'inflow' but no state"):
        evolve2d(U0, 0.1, 0.1, 0.1, GAS2, bc="inflow", inflow={"x_high": U1})
    with pytest.raises(ValueError, match="unknown side"):
        evolve2d(U0, 0.1, 0.1, 0.1, GAS2, bc="outflow", inflow={"left": U1})
