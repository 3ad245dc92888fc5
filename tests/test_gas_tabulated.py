"""TabulatedFlux: on-the-fly tabulation of a micro equation of state (fe2.gas.tabulated)."""

import numpy as np
import pytest

from fe2.gas import IdealGas, conserved, shock_tube
from fe2.gas.tabulated import TabulatedFlux
from fe2.oracle import OracleBase, Response


class StiffenedRestGas(OracleBase):
    """Closed-form non-ideal gas p = (g - 1) rho e + a rho^2 (log p not linear in logs).

    Sound speed c^2 = (dp/drho)_e + p / rho^2 (dp/de)_rho = (g-1) e + 2 a rho + (g-1) p / rho.
    """

    measure = "conserved"
    dim = 1
    ncons = 3

    def __init__(self, g=1.4, a=0.5):
        self.g, self.a = g, a

    def pressure(self, rho, e):
        return (self.g - 1) * rho * e + self.a * rho**2

    def evaluate(self, U, x=None, state=None):
        U = np.asarray(U, dtype=float)
        rho, u = U[0], U[1] / U[0]
        e = U[2] / rho - 0.5 * u * u
        p = self.pressure(rho, e)
        flux = np.stack([U[1], U[1] * u + p, (U[2] + p) * u])[None]
        c = np.sqrt((self.g - 1) * e + 2 * self.a * rho + (self.g - 1) * p / rho)
        return Response(flux=flux, tangent=None, info={"wave_speed": np.abs(u) + c})


def _random_states(n, seed):
    rng = np.random.default_rng(seed)
    rho = rng.uniform(0.1, 2.0, n)
    u = rng.uniform(-2.0, 2.0, n)
    p = rng.uniform(0.05, 2.0, n)
    return conserved(rho, u, p)


def test_ideal_gas_flux_within_tol():
    tol = 1e-4
    ideal = IdealGas()
    tab = TabulatedFlux(IdealGas(), tol=tol)
    for seed in range(3):  # several batches: later ones reuse the table
        U = _random_states(500, seed)
        ref = ideal.evaluate(U)
        got = tab.evaluate(U)
        scale = np.abs(ref.flux) + np.abs(U[None])  # per-component magnitude
        assert np.max(np.abs(got.flux - ref.flux) / scale) < tol
        np.testing.assert_allclose(got.info["wave_speed"], ref.info["wave_speed"], rtol=tol)
    # 1500 queries, the table holds only a handful of states (log p is linear for ideal gas)
    assert tab.stats["queries"] == 1500
    assert tab.stats["micro_states"] < 50, tab.stats


def test_nonideal_gas_refines_and_meets_tol():
    tol = 1e-4
    micro = StiffenedRestGas()
    tab = TabulatedFlux(micro, tol=tol)
    U = _random_states(400, 7)
    got = tab.evaluate(U)
    ref = micro.evaluate(U)
    rho, u = U[0], U[1] / U[0]
    e = U[2] / rho - 0.5 * u * u
    p_ref = micro.pressure(rho, e)
    p_got = got.flux[0, 1] - U[1] * u
    assert np.max(np.abs(p_got / p_ref - 1)) < 2 * tol
    assert tab.stats["refined"] > 0  # the error estimate did trigger micro calls
    np.testing.assert_allclose(got.info["wave_speed"], ref.info["wave_speed"], rtol=0.05)
    # a second, nearby batch mostly reuses the table
    before = tab.stats["micro_states"]
    U2 = U * (1 + 1e-7)
    tab.evaluate(U2)
    assert tab.stats["micro_states"] - before < 40


@pytest.mark.parametrize("micro", [IdealGas(), StiffenedRestGas()], ids=["ideal", "stiffened"])
def test_sod_matches_direct_run_with_few_micro_states(micro):
    # observed (200 cells, tol 1e-4): ideal 24 micro states for 78000 cell-steps (ratio 3250,
    # L1 ~ 1e-15); stiffened 734 states for 90800 cell-steps (ratio 124, L1 ~ 4e-6)
    tol = 1e-4
    left, right = (1.0, 0.0, 1.0), (0.125, 0.0, 0.1)
    n = 200
    ref = shock_tube(left, right, n, 0.2, flux=micro, gamma=1.4)
    tab = TabulatedFlux(micro, tol=tol)
    run = shock_tube(left, right, n, 0.2, flux=tab, gamma=1.4)
    l1 = np.sum(np.abs(run.rho - ref.rho)) / n
    assert l1 < 10 * tol * np.mean(ref.rho), l1
    cell_steps = n * run.steps
    ratio = cell_steps / tab.stats["micro_states"]
    assert ratio > 20, (ratio, tab.stats)
    assert tab.stats["queries"] >= cell_steps  # every cell of every step went through the table
    # conservation is the scheme's, independent of the tabulated pressure
    assert abs(run.mass[-1] - run.mass[0]) < 1e-12


def test_deterministic():
    left, right = (1.0, 0.0, 1.0), (0.125, 0.0, 0.1)
    micro = StiffenedRestGas()
    runs = []
    for _ in range(2):
        tab = TabulatedFlux(micro, tol=1e-4)
        runs.append((shock_tube(left, right, 100, 0.1, flux=tab, gamma=1.4), dict(tab.stats)))
    np.testing.assert_array_equal(runs[0][0].U, runs[1][0].U)
    assert runs[0][1] == runs[1][1]


@pytest.mark.parametrize("tol", [0.0, -1e-3, 1.0, float("nan"), "abc", None, True])
def test_bad_tol(tol):
    with pytest.raises(ValueError, match="tol"):
        TabulatedFlux(IdealGas(), tol=tol)
