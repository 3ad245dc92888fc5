"""Published Lennard-Jones equations of state against independent references."""

import math

import numpy as np
import pytest
from scipy.integrate import quad

from fe2.atomistic.eos import JZG_COEFFICIENTS, LennardJonesEOS, tail_corrections

# supercritical states of the shock-tube verification and the MD checks
STATES = [(0.1, 1.5), (0.3, 3.0), (0.5, 2.0), (0.6, 3.0), (0.7, 2.0), (0.8, 1.5), (0.9, 4.0)]


def b2_lj(T):
    """Second virial coefficient of the full LJ potential by quadrature, reduced units."""
    def f(r):
        phi = 4.0 * (r**-12 - r**-6)
        return (math.exp(-phi / T) - 1.0) * r * r
    val = quad(f, 1e-6, 1.0, limit=200)[0] + quad(f, 1.0, 50.0, limit=200)[0]
    return -2.0 * math.pi * val


@pytest.mark.parametrize("model", ["jzg", "kn"])
@pytest.mark.parametrize("T", [1.5, 2.0, 4.0])
def test_low_density_limit_is_the_second_virial_coefficient(model, T):
    eos = LennardJonesEOS(model)
    rho = 1e-4
    z = eos.pressure(rho, T) / (rho * T)
    assert abs((z - 1.0) / rho - b2_lj(T)) < 0.03 * abs(b2_lj(T)) + 0.02


def jzg_pressure_closed_form(rho, T):
    """JZG's pressure, eq. (5) of the paper, written from the coefficient tables."""
    x = np.concatenate([[0.0], JZG_COEFFICIENTS])
    a = [x[1] * T + x[2] * math.sqrt(T) + x[3] + x[4] / T + x[5] / T**2,
         x[6] * T + x[7] + x[8] / T + x[9] / T**2,
         x[10] * T + x[11] + x[12] / T,
         x[13],
         x[14] / T + x[15] / T**2,
         x[16] / T,
         x[17] / T + x[18] / T**2,
         x[19] / T**2]
    b = [x[20] / T**2 + x[21] / T**3,
         x[22] / T**2 + x[23] / T**4,
         x[24] / T**2 + x[25] / T**3,
         x[26] / T**2 + x[27] / T**4,
         x[28] / T**2 + x[29] / T**3,
         x[30] / T**2 + x[31] / T**3 + x[32] / T**4]
    F = math.exp(-3.0 * rho**2)
    return (rho * T + sum(a[i] * rho ** (i + 2) for i in range(8))
            + F * sum(b[i] * rho ** (2 * i + 3) for i in range(6)))


@pytest.mark.parametrize("rho, T", STATES)
def test_jzg_helmholtz_route_matches_the_closed_form_pressure(rho, T):
    p = float(LennardJonesEOS("jzg").pressure(rho, T))
    assert p == pytest.approx(jzg_pressure_closed_form(rho, T), rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("rho, T", STATES)
def test_the_two_published_fits_agree(rho, T):
    j, k = LennardJonesEOS("jzg"), LennardJonesEOS("kn")
    assert float(j.pressure(rho, T)) == pytest.approx(float(k.pressure(rho, T)), rel=0.02,
                                                      abs=0.01)
    u_conf = float(k.energy(rho, T)) - 1.5 * T  # configurational part, where they differ
    assert abs(float(j.energy(rho, T)) - float(k.energy(rho, T))) < 0.03 * abs(u_conf) + 0.01
    assert float(j.sound_speed(rho, T)) == pytest.approx(float(k.sound_speed(rho, T)),
                                                         rel=0.02)


@pytest.mark.parametrize("rho, T", STATES)
def test_sound_speed_by_the_energy_route(rho, T):
    """c^2 = (dp/drho)_e + p / rho^2 (dp/de)_rho, by differences through temperature()."""
    eos = LennardJonesEOS("jzg")
    e = float(eos.energy(rho, T))

    def p(r, en):
        return float(eos.pressure(r, eos.temperature(r, en)))

    h, k = 1e-4 * rho, 1e-4
    dp_drho = (p(rho + h, e) - p(rho - h, e)) / (2 * h)
    dp_de = (p(rho, e + k) - p(rho, e - k)) / (2 * k)
    c2 = dp_drho + p(rho, e) / rho**2 * dp_de
    assert float(eos.sound_speed(rho, T)) ** 2 == pytest.approx(c2, rel=1e-5)


def test_dilute_limit_is_the_monatomic_ideal_gas():
    eos = LennardJonesEOS("kn")
    T = 2.5
    assert float(eos.energy(1e-7, T)) == pytest.approx(1.5 * T, rel=1e-6)
    assert float(eos.sound_speed(1e-7, T)) == pytest.approx(math.sqrt(5.0 / 3.0 * T), rel=1e-6)


def test_units_scale_as_the_reduced_variables():
    eps, sig, m = 2.0, 0.5, 3.0
    eos, red = LennardJonesEOS("jzg", eps, sig, m), LennardJonesEOS("jzg")
    rho_star, T_star = 0.6, 2.0
    rho, T = rho_star * m / sig**3, T_star * eps
    assert float(eos.pressure(rho, T)) == pytest.approx(
        float(red.pressure(rho_star, T_star)) * eps / sig**3, rel=1e-12)
    assert float(eos.energy(rho, T)) == pytest.approx(
        float(red.energy(rho_star, T_star)) * eps / m, rel=1e-12)
    assert float(eos.temperature(rho, eos.energy(rho, T))) == pytest.approx(T, rel=1e-10)


def test_temperature_inverts_energy_on_arrays():
    eos = LennardJonesEOS("jzg")
    rho = np.array([[0.2, 0.5], [0.8, 0.9]])
    T = np.array([[1.4, 2.0], [1.5, 5.0]])
    assert np.allclose(eos.temperature(rho, eos.energy(rho, T)), T, rtol=1e-10)


def test_tail_corrections_by_quadrature():
    rho, rc = 0.7, 2.5
    u, p = tail_corrections(rho, rc)

    def phi(r):
        return 4 * (r**-12 - r**-6)

    def dphi(r):
        return 4 * (-12 * r**-13 + 6 * r**-7)

    u_q = 2 * math.pi * rho * quad(lambda r: phi(r) * r * r, rc, np.inf)[0]
    p_q = -2 * math.pi / 3 * rho**2 * quad(lambda r: dphi(r) * r**3, rc, np.inf)[0]
    assert u == pytest.approx(u_q, rel=1e-10)
    assert p == pytest.approx(p_q, rel=1e-10)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="model must be one of"):
        LennardJonesEOS("pr")
    with pytest.raises(ValueError, match="sigma must be a finite number > 0"):
        LennardJonesEOS("jzg", sigma=-1.0)
    eos = LennardJonesEOS("jzg")
    with pytest.raises(ValueError, match="density and temperature must be > 0"):
        eos.pressure(-0.1, 1.0)
    with pytest.raises(ValueError, match=r"e = -20 is not reached at rho = 0.5"):
        eos.temperature(0.5, -20.0)
