"""Tests of fe2.materials: tangents, numpy/numba twins, closed forms, errors."""

from __future__ import annotations

import math
import pickle
import re
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import fe2.materials as mat
from fe2.materials import (
    J2Plasticity,
    LinearConductivity,
    LinearElastic,
    NeoHookean,
    NonlinearConductivity,
    SaintVenantKirchhoff,
    from_dict,
)
from fe2.oracle import OracleError, QuadratureState
from fe2.oracle import evaluate as batch_evaluate

PTS = (3, 4)
E_STEEL, NU_STEEL, SY_STEEL = 200e3, 0.3, 250.0  # MPa


def _fd_tangent_error(oracle, g, state=None, delta=1e-6) -> float:
    """Max over points of max|A_fd - A| / max|A| with central differences of the flux.

    The step is ``delta * max|g|`` so that strains of order 1e-3 and deformation
    gradients of order 1 are both differenced at a relative step ``delta``.
    """
    g = np.asarray(g, dtype=float)
    ishape = tuple(oracle.input_shape)
    pts = g.shape[len(ishape) :]
    r = oracle.evaluate(g, state=state)
    A = np.asarray(r.tangent)
    nflux = r.flux.ndim - len(pts)
    h = delta * max(float(np.abs(g).max()), 1.0e-12)
    fd = np.empty(A.shape)
    for idx in np.ndindex(*ishape):
        gp = g.copy()
        gm = g.copy()
        gp[idx] += h
        gm[idx] -= h
        dq = (oracle.evaluate(gp, state=state).flux - oracle.evaluate(gm, state=state).flux) / (
            2.0 * h
        )
        fd[(slice(None),) * nflux + idx] = dq
    axes = tuple(range(A.ndim - len(pts)))
    err = np.abs(fd - A).max(axis=axes)
    scale = np.abs(A).max(axis=axes)
    return float(np.max(err / scale))


def _sym(a):
    return 0.5 * (a + np.swapaxes(a, 0, 1))


def _sample(oracle, rng, pts=PTS):
    """Random admissible input for ``oracle`` from its declared sizes."""
    shape = tuple(oracle.input_shape) + pts
    if oracle.measure == "gradient":
        return rng.standard_normal(shape)
    if oracle.measure == "strain":
        return 1e-3 * _sym(rng.standard_normal(shape))
    d = oracle.dim
    return np.eye(d).reshape((d, d) + (1,) * len(pts)) + 0.15 * rng.standard_normal(shape)


def _rotation(rng, d):
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1.0
    return q


LAWS = {
    "cond-iso-2d": lambda be: LinearConductivity(2.0),
    "cond-aniso-2d": lambda be: LinearConductivity([[2.0, 0.5], [0.5, 1.0]]),
    "cond-iso-3d": lambda be: LinearConductivity(1.5, dim=3),
    "plaw-p1.5-2d": lambda be: NonlinearConductivity(1.5, 1.5, dim=2, reg=0.1, backend=be),
    "plaw-p3-3d": lambda be: NonlinearConductivity(0.7, 3.0, dim=3, backend=be),
    "elastic-3d": lambda be: LinearElastic(E_STEEL, NU_STEEL),
    "elastic-pstrain": lambda be: LinearElastic(E_STEEL, NU_STEEL, plane="strain"),
    "elastic-pstress": lambda be: LinearElastic(E_STEEL, NU_STEEL, plane="stress"),
    "svk-3d": lambda be: SaintVenantKirchhoff(10.0, 0.3, dim=3, backend=be),
    "svk-2d": lambda be: SaintVenantKirchhoff(10.0, 0.3, dim=2, backend=be),
    "neohooke-3d": lambda be: NeoHookean(10.0, 0.3, dim=3, backend=be),
    "neohooke-2d": lambda be: NeoHookean(10.0, 0.45, dim=2, backend=be),
}
NONLINEAR = [k for k in LAWS if k.split("-")[0] in ("plaw", "svk", "neohooke")]


# ---------------------------------------------------------------- tangents


@pytest.mark.parametrize(
    "key, backend",
    [(k, "numba") for k in LAWS] + [(k, "numpy") for k in NONLINEAR],  # linear laws: one backend
)
def test_tangent_matches_finite_differences(key, backend):
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    oracle = LAWS[key](backend)
    g = _sample(oracle, rng)
    r = oracle.evaluate(g)
    assert r.flux.shape == tuple(oracle.input_shape) + PTS
    assert r.tangent.shape == tuple(oracle.input_shape) * 2 + PTS
    assert _fd_tangent_error(oracle, g) < 1e-6


def _j2_inputs(m, rng, eps_y):
    """Strains at PTS: the first row elastic (0.2-0.6 eps_y), the others plastic (2-4 eps_y)."""
    d = m.dim
    dirs = _sym(rng.standard_normal((d, d) + PTS))
    dirs /= np.sqrt(np.einsum("ij...,ij...->...", dirs, dirs))
    amp = rng.uniform(2.0, 4.0, PTS)
    amp[0] = rng.uniform(0.2, 0.6, PTS[1])
    return eps_y * amp * dirs


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dim", [3, 2])
def test_j2_tangent_virgin_and_committed_state(dim, backend):
    rng = np.random.default_rng(7 + dim)
    m = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, H_iso=2e3, H_kin=5e3, dim=dim, backend=backend)
    eps_y = SY_STEEL / E_STEEL
    eps0 = _j2_inputs(m, rng, eps_y)
    r0 = m.evaluate(eps0)
    assert r0.info["plastic"][0].sum() == 0 and r0.info["plastic"][1:].all()
    assert _fd_tangent_error(m, eps0) < 1e-6
    # from a committed plastic state: continue loading (plastic) or unload (elastic)
    factor = np.where(rng.uniform(size=PTS) < 0.5, 1.4, 0.6)
    factor[0] = 1.0
    eps1 = factor * eps0 + 0.1 * eps_y * _sym(rng.standard_normal(eps0.shape))
    r1 = m.evaluate(eps1, state=r0.state)
    plastic = r1.info["plastic"]
    assert plastic.any() and (~plastic[1:]).any()
    assert _fd_tangent_error(m, eps1, state=r0.state) < 1e-6
    # the committed state was not modified
    assert np.all(r0.state["alpha"][1:] > 0.0)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_j2_return_is_on_the_yield_surface(backend):
    rng = np.random.default_rng(11)
    m = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, H_iso=1e3, H_kin=3e3, backend=backend)
    eps0 = _j2_inputs(m, rng, SY_STEEL / E_STEEL)
    r0 = m.evaluate(eps0)
    eps1 = eps0[:, :, ::-1] * 1.3
    r1 = m.evaluate(eps1, state=r0.state)
    for r in (r0, r1):
        f = m.yield_function(r.flux, r.state)
        p = r.info["plastic"]
        assert p.any()
        assert np.abs(f[p]).max() < 1e-10 * SY_STEEL
        assert f[~p].max() <= 1e-10 * SY_STEEL
    # plane strain: same with the out-of-plane stress from info
    m2 = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, H_iso=1e3, H_kin=3e3, dim=2, backend=backend)
    r2 = m2.evaluate(eps0[:2, :2])
    f2 = m2.yield_function(r2.flux, r2.state, r2.info["sigma33"])
    p2 = r2.info["plastic"]
    assert p2.any() and np.abs(f2[p2]).max() < 1e-10 * SY_STEEL


# ---------------------------------------------------------------- numpy vs numba


def _assert_twins(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12 * float(np.abs(b).max()))


@pytest.mark.parametrize("key", NONLINEAR)
def test_numba_twin_matches_numpy(key):
    rng = np.random.default_rng(3)
    fast, ref = LAWS[key]("numba"), LAWS[key]("numpy")
    g = _sample(ref, rng)
    a, b = fast.evaluate(g), ref.evaluate(g)
    _assert_twins(a.flux, b.flux)
    _assert_twins(a.tangent, b.tangent)
    assert a.info.keys() == b.info.keys()
    for k in b.info:
        _assert_twins(a.info[k], b.info[k])


@pytest.mark.parametrize("dim", [3, 2])
def test_j2_numba_twin_matches_numpy(dim):
    rng = np.random.default_rng(5)
    kw = dict(H_iso=2e3, H_kin=4e3, dim=dim)
    fast = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, backend="numba", **kw)
    ref = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, backend="numpy", **kw)
    eps0 = _j2_inputs(ref, rng, SY_STEEL / E_STEEL)
    state = ref.evaluate(eps0).state
    eps1 = eps0 * rng.uniform(-0.5, 1.5, PTS)
    a, b = fast.evaluate(eps1, state=state), ref.evaluate(eps1, state=state)
    np.testing.assert_array_equal(a.info["plastic"], b.info["plastic"])
    _assert_twins(a.flux, b.flux)
    _assert_twins(a.tangent, b.tangent)
    for k in b.state:
        _assert_twins(a.state[k], b.state[k])


# ---------------------------------------------------------------- closed forms: elasticity


def test_linear_elastic_uniaxial_stress_3d():
    E, nu, e = 70e3, 0.33, 1e-3
    m = LinearElastic(E, nu)
    eps = np.diag([e, -nu * e, -nu * e])[:, :, None]
    sig = m.evaluate(eps).flux[:, :, 0]
    expected = np.zeros((3, 3))
    expected[0, 0] = E * e
    np.testing.assert_allclose(sig, expected, atol=1e-12 * E * e)
    assert m.lam == pytest.approx(E * nu / ((1 + nu) * (1 - 2 * nu)))
    assert m.mu == pytest.approx(E / (2 * (1 + nu)))


def test_linear_elastic_plane_stress_and_strain_match_3d():
    rng = np.random.default_rng(2)
    E, nu = 3.0, 0.25
    m3 = LinearElastic(E, nu)
    eps2 = 1e-3 * _sym(rng.standard_normal((2, 2) + PTS))
    # plane stress: choose eps33 so that sigma33 = 0 in 3D; in-plane stresses agree
    lam, mu = m3.lam, m3.mu
    eps3 = np.zeros((3, 3) + PTS)
    eps3[:2, :2] = eps2
    eps3[2, 2] = -lam / (lam + 2 * mu) * (eps2[0, 0] + eps2[1, 1])
    s3 = m3.evaluate(eps3).flux
    ps = LinearElastic(E, nu, plane="stress")
    np.testing.assert_allclose(np.abs(s3[2]).max(), 0.0, atol=1e-15)
    np.testing.assert_allclose(ps.evaluate(eps2).flux, s3[:2, :2], rtol=1e-12, atol=1e-15)
    assert ps.lam == pytest.approx(E * nu / (1 - nu**2))
    # plane strain: the 2x2 block of 3D with eps_i3 = 0
    eps3[2, 2] = 0.0
    pe = LinearElastic(E, nu, plane="strain")
    np.testing.assert_allclose(
        pe.evaluate(eps2).flux, m3.evaluate(eps3).flux[:2, :2], rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(pe.stiffness(), m3.stiffness()[:2, :2, :2, :2])


def test_linear_conductivity_flux():
    K = np.array([[2.0, 0.5], [0.5, 1.0]])
    g = np.random.default_rng(0).standard_normal((2,) + PTS)
    r = LinearConductivity(K).evaluate(g)
    np.testing.assert_allclose(r.flux, np.einsum("ij,j...->i...", K, g))
    assert r.tangent.shape == (2, 2) + PTS


def test_power_law_is_homogeneous_and_linear_at_p2():
    g = np.random.default_rng(1).standard_normal((3,) + PTS)
    m = NonlinearConductivity(2.0, 3.0, dim=3, reg=0.0)
    # q(t g) = t^(p-1) q(g) without regularisation
    np.testing.assert_allclose(m.evaluate(2.0 * g).flux, 4.0 * m.evaluate(g).flux, rtol=1e-13)
    lin = NonlinearConductivity(2.0, 2.0, dim=3)
    np.testing.assert_allclose(lin.evaluate(g).flux, 2.0 * g, rtol=1e-14)
    # g = 0 is admissible
    z = m.evaluate(np.zeros((3, 2)))
    assert np.all(np.isfinite(z.tangent)) and np.all(z.flux == 0.0)


# ---------------------------------------------------------------- closed forms: hyperelasticity


HYPER = [SaintVenantKirchhoff, NeoHookean]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("cls", HYPER)
@pytest.mark.parametrize("dim", [3, 2])
def test_hyperelastic_linearises_to_hooke(cls, dim, backend):
    E, nu = 5.0, 0.3
    m = cls(E, nu, dim=dim, backend=backend)
    F = np.broadcast_to(np.eye(dim)[:, :, None, None], (dim, dim) + PTS)
    r = m.evaluate(F)
    assert np.abs(r.flux).max() < 1e-14
    np.testing.assert_allclose(m.energy(F), 0.0, atol=1e-14)
    C = LinearElastic(E, nu, plane=None if dim == 3 else "strain").stiffness()
    np.testing.assert_allclose(r.tangent[..., 2, 3], C, rtol=1e-13, atol=1e-13 * E)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("cls", HYPER)
@pytest.mark.parametrize("dim", [3, 2])
def test_hyperelastic_frame_indifference(cls, dim, backend):
    rng = np.random.default_rng(dim)
    m = cls(5.0, 0.3, dim=dim, backend=backend)
    F = _sample(m, rng)
    Q = _rotation(rng, dim)
    QF = np.einsum("ij,jK...->iK...", Q, F)
    np.testing.assert_allclose(m.energy(QF), m.energy(F), rtol=1e-12)
    P, QP = m.evaluate(F).flux, m.evaluate(QF).flux
    np.testing.assert_allclose(QP, np.einsum("ij,jK...->iK...", Q, P), rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("cls", HYPER)
@pytest.mark.parametrize("dim", [3, 2])
def test_hyperelastic_stress_is_energy_derivative(cls, dim):
    rng = np.random.default_rng(10 + dim)
    m = cls(5.0, 0.3, dim=dim)
    F = _sample(m, rng)
    P = m.evaluate(F).flux
    h = 1e-6
    for idx in np.ndindex(dim, dim):
        Fp, Fm = F.copy(), F.copy()
        Fp[idx] += h
        Fm[idx] -= h
        dW = (m.energy(Fp) - m.energy(Fm)) / (2 * h)
        np.testing.assert_allclose(dW, P[idx], rtol=1e-6, atol=1e-7 * np.abs(P).max())


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_neo_hookean_rejects_non_positive_J(backend):
    m = NeoHookean(1.0, 0.3, backend=backend)
    F = np.broadcast_to(np.eye(3)[:, :, None, None], (3, 3) + PTS).copy()
    F[:, :, 1, 2] = np.diag([1.0, 1.0, -1.0])
    F[:, :, 2, 0] = np.diag([1.0, 0.0, 1.0])
    for call in (m.evaluate, m.energy):
        with pytest.raises(OracleError, match=r"2 of 12 points.*\(1, 2\).*J = -1"):
            call(F)


# ---------------------------------------------------------------- closed forms: plasticity


def _uniaxial_stress_path(m, strains):
    """Drive eps11 through ``strains`` with sigma22 = sigma33 = 0 (Newton on eps22, eps33)."""
    state, lateral, out = None, np.zeros(2), []
    for e11 in strains:
        for _ in range(25):
            eps = np.diag([e11, lateral[0], lateral[1]])[:, :, None]
            r = m.evaluate(eps, state=state)
            res = np.array([r.flux[1, 1, 0], r.flux[2, 2, 0]])
            if np.abs(res).max() < 1e-11 * m.sigma_y:
                break
            jac = np.array([[r.tangent[a, a, b, b, 0] for b in (1, 2)] for a in (1, 2)])
            lateral = lateral - np.linalg.solve(jac, res)
        else:  # pragma: no cover - failure path
            raise AssertionError(f"lateral Newton did not converge at eps11 = {e11}")
        state = r.state
        out.append((r.flux[:, :, 0].copy(), {k: v[..., 0].copy() for k, v in state.items()}))
    return out


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("H_iso,H_kin", [(10e3, 0.0), (0.0, 10e3), (4e3, 6e3)])
def test_j2_uniaxial_monotonic_closed_form(H_iso, H_kin, backend):
    E, nu, sy = E_STEEL, NU_STEEL, SY_STEEL
    m = J2Plasticity(E, nu, sy, H_iso=H_iso, H_kin=H_kin, backend=backend)
    H = H_iso + H_kin
    Et = E * H / (E + H)
    eps_y = sy / E
    strains = np.linspace(0.0, 6.0 * eps_y, 13)[1:]
    for e11, (sig, st) in zip(strains, _uniaxial_stress_path(m, strains), strict=True):
        expected = E * e11 if e11 <= eps_y else sy + Et * (e11 - eps_y)
        assert sig[0, 0] == pytest.approx(expected, rel=1e-10)
        off = sig - np.diag(np.diag(sig))
        assert np.abs(off).max() < 1e-9 * sy and abs(sig[1, 1]) < 1e-9 * sy
        # uniaxial: equivalent plastic strain = eps_p11 = e11 - sigma11 / E
        assert st["alpha"] == pytest.approx(max(e11 - expected / E, 0.0), abs=1e-13)
        assert st["eps_p"][0, 0] == pytest.approx(st["alpha"], abs=1e-13)
        assert st["beta"][0, 0] == pytest.approx(2.0 / 3.0 * H_kin * st["alpha"], abs=1e-9)


def _shear(gamma):
    eps = np.zeros((3, 3, 1))
    eps[0, 1] = eps[1, 0] = 0.5 * gamma
    return eps


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_j2_cyclic_shear_bauschinger(backend):
    E, nu, sy, H = E_STEEL, NU_STEEL, SY_STEEL, 12e3
    mu = E / (2 * (1 + nu))
    tau_y = sy / math.sqrt(3.0)
    Gt = mu * (H / 3.0) / (mu + H / 3.0)  # shear tangent modulus with hardening H
    gamma_max = 5.0 * tau_y / mu
    tau_max = tau_y + Gt * (gamma_max - tau_y / mu)
    d = 0.05 * tau_y / mu
    results = {}
    for kind, kw in (("kin", {"H_kin": H}), ("iso", {"H_iso": H})):
        m = J2Plasticity(E, nu, sy, backend=backend, **kw)
        qs = QuadratureState.for_oracle(m, (1,))
        for gamma in np.linspace(0.0, gamma_max, 5)[1:]:
            r = m.evaluate(_shear(gamma), state=qs.committed)
            qs.set_trial(r.state)
            qs.commit()
        # same monotonic curve for both hardening kinds
        assert r.flux[0, 1, 0] == pytest.approx(tau_max, rel=1e-11)
        assert abs(r.flux[0, 0, 0]) < 1e-9 * sy
        results[kind] = (m, qs.committed)
    # kinematic: reverse yield at tau_max - 2 tau_y (Bauschinger effect)
    m, st = results["kin"]
    gamma_rev = gamma_max - 2.0 * tau_y / mu
    before = m.evaluate(_shear(gamma_rev + d), state=st)
    assert not before.info["plastic"][0]
    assert before.flux[0, 1, 0] == pytest.approx(tau_max - mu * (gamma_max - gamma_rev - d))
    after = m.evaluate(_shear(gamma_rev - d), state=st)
    assert after.info["plastic"][0]
    assert after.flux[0, 1, 0] == pytest.approx(tau_max - 2.0 * tau_y - Gt * d, rel=1e-10)
    # isotropic: still elastic there, reverse yield only at -tau_max
    m, st = results["iso"]
    assert not m.evaluate(_shear(gamma_rev - d), state=st).info["plastic"][0]
    gamma_rev_iso = gamma_max - 2.0 * tau_max / mu
    assert not m.evaluate(_shear(gamma_rev_iso + d), state=st).info["plastic"][0]
    r = m.evaluate(_shear(gamma_rev_iso - d), state=st)
    assert r.info["plastic"][0]
    assert r.flux[0, 1, 0] == pytest.approx(-tau_max - Gt * d, rel=1e-10)


def test_j2_plane_strain_is_3d_block():
    rng = np.random.default_rng(4)
    m3 = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, H_iso=1e3, backend="numpy")
    m2 = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, H_iso=1e3, dim=2)
    eps2 = _j2_inputs(m2, rng, SY_STEEL / E_STEEL)
    eps3 = np.zeros((3, 3) + PTS)
    eps3[:2, :2] = eps2
    r3, r2 = m3.evaluate(eps3), m2.evaluate(eps2)
    _assert_twins(r2.flux, r3.flux[:2, :2])
    _assert_twins(r2.info["sigma33"], r3.flux[2, 2])
    _assert_twins(r2.tangent, r3.tangent[:2, :2, :2, :2])
    assert set(r2.state) == {"eps_p", "alpha", "beta"}
    assert r2.state["eps_p"].shape == (3, 3) + PTS and r2.state["alpha"].shape == PTS


def test_j2_state_layout_and_errors():
    m = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL)
    st = m.initial_state(PTS)
    assert st["eps_p"].shape == (3, 3) + PTS and st["beta"].shape == (3, 3) + PTS
    assert st["alpha"].shape == PTS and not any(v.any() for v in st.values())
    g = 1e-4 * np.ones((3, 3) + PTS)
    r_none, r_zero = m.evaluate(g), m.evaluate(g, state=st)
    np.testing.assert_array_equal(r_none.flux, r_zero.flux)
    assert r_none.info["plastic"].dtype == bool and r_none.info["plastic"].shape == PTS
    with pytest.raises(OracleError, match="'alpha' has shape"):
        m.evaluate(g, state={**st, "alpha": np.zeros(5)})
    with pytest.raises(OracleError, match="lacks field 'beta'"):
        m.evaluate(g, state={"eps_p": st["eps_p"], "alpha": st["alpha"]})


# ---------------------------------------------------------------- contract, pickling, batching


@pytest.mark.parametrize("key", list(LAWS))
def test_input_checks_and_single_point(key):
    m = LAWS[key]("numba")
    with pytest.raises(OracleError, match="expects input of shape"):
        m.evaluate(np.zeros((4,) + PTS))
    g = _sample(m, np.random.default_rng(0))
    g[(0,) * len(m.input_shape) + (1, 1)] = np.nan
    with pytest.raises(OracleError, match=r"non-finite .* first at point index \(1, 1\)"):
        m.evaluate(g)
    one = _sample(m, np.random.default_rng(0), pts=())
    r = m.evaluate(one)
    assert r.flux.shape == tuple(m.input_shape) and r.tangent.shape == tuple(m.input_shape) * 2


def _all_materials():
    return [LAWS[k]("numba") for k in LAWS] + [
        J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, H_iso=1e3, H_kin=1e3, dim=2)
    ]


def test_pickle_round_trip_and_chunked_batches():
    rng = np.random.default_rng(8)
    for m in _all_materials():
        m2 = pickle.loads(pickle.dumps(m))
        assert vars(m2).keys() == vars(m).keys() and repr(m2) == repr(m)
        g = _sample(m, rng)
        if isinstance(m, J2Plasticity):
            g *= 3.0
        st = m.initial_state(PTS)
        whole = m.evaluate(g, state=st)
        chunked = batch_evaluate(m2, g, state=st, chunk_size=5)
        np.testing.assert_allclose(chunked.flux, whole.flux, rtol=1e-14)
        np.testing.assert_allclose(chunked.tangent, whole.tangent, rtol=1e-14)
        for k in whole.info:
            np.testing.assert_array_equal(chunked.info[k], whole.info[k])


def test_process_pool():
    m = J2Plasticity(E_STEEL, NU_STEEL, SY_STEEL, H_iso=1e3, H_kin=1e3)
    g = 3e-3 * _sym(np.random.default_rng(9).standard_normal((3, 3) + PTS))
    serial = m.evaluate(g)
    with ProcessPoolExecutor(max_workers=2) as ex:
        par = batch_evaluate(m, g, executor=ex)
    np.testing.assert_array_equal(par.flux, serial.flux)
    np.testing.assert_array_equal(par.state["alpha"], serial.state["alpha"])


# ---------------------------------------------------------------- parameters


BAD = [
    (lambda: LinearElastic(-1.0, 0.3), "Young's modulus E must be > 0, got -1.0"),
    (lambda: LinearElastic(1.0, 0.5), "nu must be in (-1, 0.5), got 0.5"),
    (lambda: LinearElastic(1.0, -1.0), "nu must be in (-1, 0.5), got -1.0"),
    (lambda: LinearElastic(1.0, 0.3, plane="membrane"), "plane must be one of"),
    (lambda: LinearConductivity(0.0), "conductivity k must be > 0, got 0.0"),
    (lambda: LinearConductivity(-2), "conductivity k must be > 0, got -2"),
    (lambda: LinearConductivity([[1.0, 2.0], [2.0, 1.0]]), "k must be symmetric positive"),
    (lambda: LinearConductivity([[1.0, 0.5], [0.0, 1.0]]), "k must be symmetric positive"),
    (lambda: LinearConductivity(np.eye(3), dim=2), "but dim=2"),
    (lambda: NonlinearConductivity(-1.0, 3.0), "k0 must be > 0, got -1.0"),
    (lambda: NonlinearConductivity(1.0, 1.0), "exponent p must be > 1, got 1.0"),
    (lambda: NonlinearConductivity(1.0, 1.5, reg=0.0), "reg must be > 0 when p < 2"),
    (lambda: NonlinearConductivity(1.0, 3.0, backend="cuda"), "backend must be one of"),
    (lambda: SaintVenantKirchhoff(1.0, 0.3, dim=4), "dim must be one of 2, 3, got 4"),
    (lambda: NeoHookean(0.0, 0.3), "Young's modulus E must be > 0, got 0.0"),
    (lambda: NeoHookean(1.0, 0.7), "nu must be in (-1, 0.5), got 0.7"),
    (lambda: J2Plasticity(1.0, 0.3, 0.0), "yield stress sigma_y must be > 0, got 0.0"),
    (lambda: J2Plasticity(1.0, 0.3, 1.0, H_iso=-1.0), "H_iso must be >= 0, got -1.0"),
    (lambda: J2Plasticity(1.0, 0.3, 1.0, H_kin=-2.0), "H_kin must be >= 0, got -2.0"),
    (lambda: J2Plasticity(1.0, 0.3, "x"), "sigma_y must be a real number, got 'x'"),
]


@pytest.mark.parametrize("make,message", BAD)
def test_bad_parameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=re.escape(message)) as exc:
        make()
    assert not isinstance(exc.value, OracleError)
    assert "\n" not in str(exc.value)


def test_from_dict():
    m = from_dict({"type": "LinearElastic", "E": 1.0, "nu": 0.3, "plane": "stress"}, dim=2)
    assert isinstance(m, LinearElastic) and m.plane == "stress"
    assert from_dict({"type": "LinearElastic", "E": 1.0, "nu": 0.3}, dim=2).plane == "strain"
    assert from_dict({"type": "LinearElastic", "E": 1.0, "nu": 0.3}, dim=3).dim == 3
    j2 = from_dict({"type": "J2Plasticity", "E": 1.0, "nu": 0.3, "sigma_y": 0.01}, dim=2)
    assert j2.dim == 2 and j2.backend == "numba"
    k = from_dict({"type": "LinearConductivity", "k": [[1.0, 0.0], [0.0, 2.0]]}, dim=2)
    assert k.dim == 2
    spec = {"type": "NeoHookean", "E": 1.0, "nu": 0.3, "backend": "numpy"}
    assert from_dict(spec, dim=3).dim == 3 and spec["type"] == "NeoHookean"
    with pytest.raises(ValueError, match="unknown material type 'Steel'.*LinearElastic"):
        from_dict({"type": "Steel"}, dim=3)
    with pytest.raises(ValueError, match="unknown parameter.*'Young'.*valid names are type, E"):
        from_dict({"type": "LinearElastic", "Young": 1.0, "nu": 0.3}, dim=3)
    with pytest.raises(ValueError, match="missing parameter.*'sigma_y'"):
        from_dict({"type": "J2Plasticity", "E": 1.0, "nu": 0.3}, dim=3)
    with pytest.raises(ValueError, match="needs a 'type' key"):
        from_dict({"E": 1.0}, dim=3)
    with pytest.raises(ValueError, match="needs dim 2"):
        from_dict({"type": "LinearElastic", "E": 1.0, "nu": 0.3, "plane": "strain"}, dim=3)
    with pytest.raises(ValueError, match="does not match"):
        from_dict({"type": "NeoHookean", "E": 1.0, "nu": 0.3, "dim": 2}, dim=3)
    with pytest.raises(ValueError, match="but dim=3"):
        from_dict({"type": "LinearConductivity", "k": [[1.0, 0.0], [0.0, 2.0]]}, dim=3)


def test_all_names_exist():
    for name in mat.__all__:
        assert hasattr(mat, name), name
    assert set(mat.MATERIALS) <= set(mat.__all__)
