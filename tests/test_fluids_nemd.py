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
