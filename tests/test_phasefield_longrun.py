"""Long coarsening runs: the implicit spectral Cahn–Hilliard scheme and the RMS step control."""

from __future__ import annotations

import numpy as np
import pytest

from fe2.phasefield import SpectralCahnHilliard


def test_implicit_scheme_growth_rate_matches_linear_stability():
    # omega = -M k^2 (psi''(c0) + kappa k^2), psi''(0.5) = -0.8 (PFHub polynomial);
    # backward Euler is first order: Richardson of n and 2n steps
    kappa, M, k2 = 2.0, 5.0, 0.2
    k = np.sqrt(k2)
    L = 2 * np.pi / k
    omega = M * k2 * (0.8 - kappa * k2)
    T = 2.0 / omega
    ch = SpectralCahnHilliard((64, 4), (L, L / 16), kappa, M, scheme="implicit")
    x = ch.points[0].ravel()
    rates = []
    for n in (100, 200):
        r = ch.solve(lambda p: 0.5 + 1e-4 * np.cos(k * p[0]), T, dt=T / n, adaptive=False)
        rates.append(np.log((r.field - 0.5) @ np.cos(k * x)
                            / ((r.saved[0] - 0.5) @ np.cos(k * x))) / T)
    assert abs(2 * rates[1] - rates[0] - omega) < 5e-3 * omega


def test_implicit_and_stabilized_schemes_converge_to_each_other():
    # two different first-order schemes of the same equation: their difference falls
    # like dt
    c0 = lambda p: 0.5 + 0.05 * np.cos(2 * np.pi * p[0] / 32) * np.sin(4 * np.pi * p[1] / 32)  # noqa: E731
    diffs = []
    for dt in (0.2, 0.1):
        a = SpectralCahnHilliard((32, 32), 32.0, 2.0, 5.0).solve(c0, 20.0, dt=dt,
                                                                  adaptive=False)
        b = SpectralCahnHilliard((32, 32), 32.0, 2.0, 5.0, scheme="implicit").solve(
            c0, 20.0, dt=dt, adaptive=False)
        diffs.append(np.abs(a.field - b.field).max())
    assert diffs[1] < 0.6 * diffs[0] and diffs[1] < 2e-3


def test_rms_control_takes_a_long_coarsening_run_in_few_steps():
    rng = np.random.default_rng(1)
    c0 = 0.5 + 0.01 * rng.standard_normal((32, 32))
    ch = SpectralCahnHilliard((32, 32), 64.0, 2.0, 5.0, scheme="implicit")
    r = ch.solve(c0, 1e5, norm="rms", error_tol=1e-2)
    assert r.steps < 250  # 130 measured; the max norm takes about 390
    assert r.energy_increases() == 0
    assert abs(r.mass[-1] - r.mass[0]) < 1e-10 * r.mass[0]
    assert r.energy[-1] < 0.3 * r.energy[0]  # it did coarsen (0.23 measured)


def test_bad_scheme_and_norm():
    with pytest.raises(ValueError, match="scheme must be"):
        SpectralCahnHilliard((8, 8), 8.0, 2.0, 5.0, scheme="crank")
    ch = SpectralCahnHilliard((8, 8), 8.0, 2.0, 5.0)
    with pytest.raises(ValueError, match="norm must be one of"):
        ch.solve(np.full((8, 8), 0.5), 1.0, norm="l1")


def test_fe_implicit_scheme_growth_rate_and_agreement_with_convex_splitting():
    import skfem

    from fe2.phasefield import CahnHilliard

    # backward Euler on the finite elements: the linear growth rate (Richardson in dt),
    # and the same field as convex splitting as dt -> 0 (difference falls like dt)
    kappa, M, k2 = 2.0, 5.0, 0.2
    k = np.sqrt(k2)
    L = 2 * np.pi / k
    omega = M * k2 * (0.8 - kappa * k2)
    T = 2.0 / omega
    g = np.linspace(0, L, 65)
    mesh = skfem.MeshQuad.init_tensor(g, np.linspace(0, L / 64, 2))
    ch = CahnHilliard(mesh, kappa, M, bc="periodic", scheme="implicit")
    x = ch.basis.doflocs[0]
    rates = []
    for n in (100, 200):
        r = ch.solve(0.5 + 1e-4 * np.cos(k * x), T, dt=T / n, adaptive=False)
        rates.append(np.log((r.field - 0.5) @ np.cos(k * x)
                            / ((r.saved[0] - 0.5) @ np.cos(k * x))) / T)
    assert abs(2 * rates[1] - rates[0] - omega) < 5e-3 * omega
    m2 = skfem.MeshQuad.init_tensor(*(np.linspace(0, 24, 13),) * 2)
    c0 = lambda p: 0.5 + 0.05 * np.cos(0.5 * p[0]) * np.sin(0.3 * p[1])  # noqa: E731
    diffs = []
    for dt in (0.5, 0.25):
        a = CahnHilliard(m2, 2.0, 5.0, bc="periodic").solve(c0, 10.0, dt=dt, adaptive=False)
        b = CahnHilliard(m2, 2.0, 5.0, bc="periodic", scheme="implicit").solve(
            c0, 10.0, dt=dt, adaptive=False)
        diffs.append(np.abs(a.field - b.field).max())
        assert abs(b.mass[-1] - b.mass[0]) < 1e-12 * b.mass[0]
    assert diffs[1] < 0.6 * diffs[0]
    with pytest.raises(ValueError, match="scheme must be 'convex' or 'implicit'"):
        CahnHilliard(m2, 2.0, 5.0, scheme="bdf2")
