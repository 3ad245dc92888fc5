"""The Crank–Nicolson SAV scheme of SpectralCahnHilliard: energy stability, order, mass."""

from __future__ import annotations

import numpy as np
import pytest

from fe2.phasefield import SpectralCahnHilliard
from fe2.phasefield.benchmarks import PFHUB1, pfhub1_initial


def _smooth(p):
    return 0.5 + 0.05 * np.cos(2 * np.pi * p[0] / 32) * np.sin(4 * np.pi * p[1] / 32)


@pytest.mark.parametrize("relaxation", [None, 0.95])
def test_modified_energy_never_increases_at_huge_fixed_steps(relaxation):
    # unconditional stability (Shen, Xu & Yang 2018): the SAV energy falls at every step
    # for any dt, here dt = 100 and 1e4 from the PFHub 1a initial state (stable-step
    # limit of an explicit scheme: ~1e-3); mass is conserved to round-off
    ch = SpectralCahnHilliard((64, 64), PFHUB1["size"], PFHUB1["kappa"], PFHUB1["mobility"],
                              scheme="sav", relaxation=relaxation)
    for dt, t_end in ((100.0, 3000.0), (1e4, 3e5)):
        r = ch.solve(pfhub1_initial, t_end, dt=dt, adaptive=False)
        E = r.modified_energy
        assert r.steps == 30 and E.shape == r.energy.shape
        assert np.all(np.diff(E) <= 1e-12 * np.abs(E[:-1]))
        assert np.all(np.diff(E) < 0)  # strict: M |grad mu|^2 > 0 away from equilibrium
        assert abs(r.energy[0] - E[0]) < 1e-12 * E[0]  # r(0) = sqrt(E_1(c0) + C_0)
        assert np.all(np.abs(r.mass - r.mass[0]) < 1e-12 * r.mass[0])


def test_second_order_in_time_against_fine_steps():
    ch = SpectralCahnHilliard((32, 32), 32.0, 2.0, 5.0, scheme="sav")
    ref = ch.solve(_smooth, 20.0, dt=0.005, adaptive=False).field
    err = [np.abs(ch.solve(_smooth, 20.0, dt=dt, adaptive=False).field - ref).max()
           for dt in (0.2, 0.1, 0.05)]
    orders = np.log2(np.asarray(err[:-1]) / err[1:])
    assert np.all((orders > 1.8) & (orders < 2.3)), orders  # 1.96, 2.01 measured
    # the stabilised scheme (first order) is 100x less accurate at the same step
    st = SpectralCahnHilliard((32, 32), 32.0, 2.0, 5.0).solve(_smooth, 20.0, dt=0.05,
                                                              adaptive=False).field
    assert np.abs(st - ref).max() > 30 * err[-1]


def test_growth_rate_matches_linear_stability_at_second_order():
    # omega = M k^2 (-psi''(c0) - kappa k^2), psi''(0.5) = -0.8 (PFHub polynomial); the
    # rate error of a second-order scheme falls 4x per halving of dt
    kappa, M, k2 = 2.0, 5.0, 0.2
    k = np.sqrt(k2)
    L = 2 * np.pi / k
    omega = M * k2 * (0.8 - kappa * k2)
    T = 2.0 / omega
    ch = SpectralCahnHilliard((64, 4), (L, L / 16), kappa, M, scheme="sav")
    x = ch.points[0].ravel()
    errs = []
    for n in (20, 40, 80):
        r = ch.solve(lambda p: 0.5 + 1e-4 * np.cos(k * p[0]), T, dt=T / n, adaptive=False)
        rate = np.log((r.field - 0.5) @ np.cos(k * x) / ((r.saved[0] - 0.5) @ np.cos(k * x))) / T
        errs.append(abs(rate - omega))
    assert errs[-1] < 5e-3 * omega  # 3.5e-3 measured
    assert errs[0] / errs[1] > 3.4 and errs[1] / errs[2] > 3.6  # 3.67, 3.87 measured


def test_agrees_with_the_stabilized_and_implicit_schemes_at_small_steps():
    # three different schemes of the same equation converge to each other as dt -> 0 (the
    # two others first order: their difference to SAV about halves with dt)
    grid = ((16, 16), 32.0, 2.0, 5.0)
    change = np.abs(SpectralCahnHilliard(*grid, scheme="sav").solve(
        _smooth, 10.0, dt=0.02, adaptive=False).field
        - _smooth(SpectralCahnHilliard(*grid).points).ravel()).max()
    for other in ("stabilized", "implicit"):
        diffs = []
        for dt in (0.1, 0.05):
            a, b = (SpectralCahnHilliard(*grid, scheme=s).solve(
                _smooth, 10.0, dt=dt, adaptive=False).field for s in ("sav", other))
            diffs.append(np.abs(a - b).max())
        assert diffs[1] < 0.6 * diffs[0] and diffs[1] < 0.03 * change, (other, diffs)


def test_adaptive_long_coarsening_run():
    rng = np.random.default_rng(1)
    c0 = 0.5 + 0.01 * rng.standard_normal((32, 32))
    ch = SpectralCahnHilliard((32, 32), 64.0, 2.0, 5.0, scheme="sav")
    r = ch.solve(c0, 1e5, norm="rms", error_tol=3e-3)
    assert r.steps < 400
    assert np.all(np.diff(r.modified_energy) <= 0)
    assert abs(r.mass[-1] - r.mass[0]) < 1e-10 * r.mass[0]
    assert r.energy[-1] < 0.3 * r.energy[0]  # it did coarsen
    # the true and the SAV energies stay together (relaxation); rises of the true F are
    # held below energy_rise |F| by step rejection
    assert np.abs(r.energy - r.modified_energy).max() < 0.01 * r.energy[0]
    assert np.all(np.diff(r.energy) <= 1e-4 * r.energy[1:])


def test_bad_sav_options():
    with pytest.raises(ValueError, match="relaxation must be"):
        SpectralCahnHilliard((8, 8), 8.0, 2.0, 5.0, scheme="sav", relaxation=1.5)
    with pytest.raises(ValueError, match="sav_stabilizer must be"):
        SpectralCahnHilliard((8, 8), 8.0, 2.0, 5.0, scheme="sav", sav_stabilizer=-1.0)
    with pytest.raises(ValueError, match="sav_constant must be"):
        SpectralCahnHilliard((8, 8), 8.0, 2.0, 5.0, scheme="sav", sav_constant=0.0)
    with pytest.raises(ValueError, match="energy_rise must be"):
        SpectralCahnHilliard((8, 8), 8.0, 2.0, 5.0, scheme="sav", energy_rise=-1.0)
    ch = SpectralCahnHilliard((8, 8), 8.0, 2.0, 5.0, scheme="sav")
    with pytest.raises(ValueError, match="unknown option"):
        ch.solve(np.full((8, 8), 0.5), 1.0, tolerance=1e-3)


def test_allen_cahn_sav_energy_order_and_agreement():
    from fe2.phasefield import SpectralAllenCahn

    def phi0(p):
        return 0.6 * np.cos(2 * np.pi * p[0] / 16) * np.cos(2 * np.pi * p[1] / 16)

    ac = SpectralAllenCahn((32, 32), 16.0, epsilon=1.0, scheme="sav")
    # unconditionally stable in the SAV energy: dt = 10 (explicit limit ~ h^2 / 4 = 0.06)
    r = ac.solve(phi0, 200.0, dt=10.0, adaptive=False)
    assert np.all(np.diff(r.modified_energy) < 0)
    ref = ac.solve(phi0, 4.0, dt=0.002, adaptive=False).field
    err = [np.abs(ac.solve(phi0, 4.0, dt=dt, adaptive=False).field - ref).max()
           for dt in (0.1, 0.05, 0.025)]
    orders = np.log2(np.asarray(err[:-1]) / err[1:])
    assert np.all((orders > 1.8) & (orders < 2.3)), orders  # 2.04, 2.02 measured
    st = SpectralAllenCahn((32, 32), 16.0, epsilon=1.0).solve(phi0, 4.0, dt=0.0025,
                                                             adaptive=False).field
    # the first-order stabilised scheme at a small step: 7e-4 of a change of 0.44
    assert np.abs(st - ref).max() < 0.01 * np.abs(ref - phi0(ac.points).ravel()).max()
    with pytest.raises(ValueError, match="scheme must be one of"):
        SpectralAllenCahn((8, 8), 8.0, epsilon=1.0, scheme="implicit")
