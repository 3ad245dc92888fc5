"""fe2.timescales: micro models, the coarse time stepper and projective integration.

References: Taylor expansion orders of the one-step methods, the exact stationary variance
of Euler–Maruyama on an Ornstein–Uhlenbeck process, the closed-form projective Euler
amplification factor [(M+1) rho - M] rho^k (Gear and Kevrekidis 2003), matrix
exponentials and eigenvalues of linear systems, and a tightly resolved SciPy solution of
the Michaelis–Menten system.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from fe2.timescales import (
    CoarseStepper,
    ODEModel,
    SDEModel,
    as_model,
    choose_steps,
    estimate_spectrum,
    projective_ab2,
    projective_euler,
    projective_integrate,
)

# ---------------------------------------------------------------- micro models


@pytest.mark.parametrize("method, order", [("euler", 1), ("heun", 2), ("rk4", 4)])
def test_ode_model_local_error_order(method, order):
    """One step on y' = -y has local error ~ h^(p+1) against exp(-h)."""
    hs = np.array([0.2, 0.1, 0.05, 0.025])
    m = ODEModel(lambda t, y: -y, method=method)
    err = [abs(m.step(np.array([1.0]), 0.0, h)[0] - np.exp(-h)) for h in hs]
    rate = np.polyfit(np.log(hs), np.log(err), 1)[0]
    assert abs(rate - (order + 1)) < 0.15
    assert m.evaluations == len(hs) * {"euler": 1, "heun": 2, "rk4": 4}[method]


def test_sde_model_ou_stationary_variance():
    """Euler–Maruyama on dY = -theta Y dt + s dW has the stationary variance
    s^2 / (theta (2 - theta dt)) (the AR(1) recursion), within a few standard errors."""
    theta, s, dt, runs = 2.0, 0.7, 0.05, 40_000
    m = SDEModel(lambda t, y: -theta * y, s)
    rng = np.random.default_rng(3)
    y = np.zeros((1, runs))
    for j in range(200):  # 200 steps: (1 - theta dt)^400 ~ 1e-18 of the initial variance left
        y = m.step(y, j * dt, dt, rng)
    exact = s ** 2 / (theta * (2 - theta * dt))
    var = y.var()
    se = exact * np.sqrt(2.0 / runs)
    assert abs(var - exact) < 4 * se
    assert abs(y.mean()) < 4 * np.sqrt(exact / runs)


def test_sde_model_seeded_runs_repeat():
    m = SDEModel(lambda t, y: -y, lambda t, y: 0.5 + 0 * y)
    a = m.step(np.zeros((1, 5)), 0.0, 0.1, np.random.default_rng(7))
    b = m.step(np.zeros((1, 5)), 0.0, 0.1, np.random.default_rng(7))
    c = m.step(np.zeros((1, 5)), 0.0, 0.1, np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_coarse_stepper_lift_restrict_ensemble():
    """An ensemble micro model: lift draws runs around the macro mean, restrict averages;
    y' = -y per member, so the restricted burst is the mean times (1 - h)^j."""
    def lift(U, rng):
        return U[:, None] + rng.normal(0.0, 0.1, (1, 1000))

    cs = CoarseStepper(lambda t, y: -y, dt=0.1, lift=lift,
                       restrict=lambda u: u.mean(axis=1), seed=1)
    coarse, u = cs.burst(np.array([2.0]), 0.0, 3)
    assert u.shape == (1, 1000) and coarse.shape == (4, 1)
    np.testing.assert_allclose(coarse[1:, 0] / coarse[0, 0], 0.9 ** np.arange(1, 4),
                               rtol=1e-12)
    assert cs.micro_steps == 3


class _Decay:
    """A stepping object (not an ODEModel): exact decay over dt."""

    def step(self, state, t, dt, rng, args=()):
        return state * np.exp(-dt)


def test_any_stepping_object_plugs_in():
    cs = CoarseStepper(_Decay(), dt=0.01)
    tr = projective_euler(cs, [1.0], (0.0, 1.0), k=1, M=3)
    # exact inner steps: the projective Euler factor per outer step is ((M+1) r - M) r^k,
    # r = exp(-h)
    r = np.exp(-0.01)
    assert tr.U[-1, 0] == pytest.approx((((3 + 1) * r - 3) * r) ** 20, rel=1e-12)


@pytest.mark.parametrize("make, match", [
    (lambda: CoarseStepper(lambda t, y: -y, dt=-1.0), "CoarseStepper dt must be finite and > 0"),
    (lambda: CoarseStepper(lambda t, y: -y, dt=0.1, lift=3), "lift must be callable"),
    (lambda: ODEModel(3), "rhs must be callable"),
    (lambda: ODEModel(lambda t, y: y, method="rk45"), "method must be one of"),
    (lambda: as_model(5), "micro model must have a step"),
    (lambda: SDEModel(lambda t, y: y, -1.0), "diffusion must be finite and >= 0"),
    (lambda: SDEModel(lambda t, y: y, 1.0).step(np.zeros(2), 0, 0.1, None), "needs rng"),
    (lambda: ODEModel(lambda t, y: y[:1]).step(np.zeros(2), 0, 0.1), r"shape \(1,\)"),
    (lambda: CoarseStepper(lambda t, y: -y, dt=0.1).burst([1.0, np.nan], 0, 2),
     "non-finite entry nan at index"),
    (lambda: projective_euler(CoarseStepper(lambda t, y: -y, dt=0.1), [1.0], (0, 1), -1, 2),
     "k .* must be finite and >= 0"),
    (lambda: projective_euler(CoarseStepper(lambda t, y: -y, dt=0.1), [1.0], (1, 0), 1, 2),
     "t0 < t_end"),
    (lambda: projective_integrate(CoarseStepper(lambda t, y: -y, dt=0.1), [1.0], (0, 1), 1,
                                  2, "rk2"), "scheme must be"),
    (lambda: choose_steps([-1.0, -2.0]), "no spectral gap"),
    (lambda: choose_steps([-1.0, 5.0, -100.0]), "positive real part"),
])
def test_bad_input_one_line_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match) as e:
        make()
    assert "\n" not in str(e.value)


# ---------------------------------------------------------------- projective integration


def test_amplification_factor_and_both_stability_regions():
    """Projective Euler on y' = lambda y: the observed one-step factor equals
    [(M+1) rho - M] rho^k, rho = 1 + h lambda, and |sigma| <= 1 both near rho = 0 and
    near rho = 1 with an unstable gap between them."""
    k, M = 1, 10
    lam_h = np.linspace(-2.1, 0.05, 87)
    observed = []
    for z in lam_h:
        cs = CoarseStepper(lambda t, y, z=z: z * y, dt=1.0)
        tr = projective_euler(cs, [1.0], (0.0, k + 1 + M), k, M)
        assert tr.info["outer_steps"] == 1
        observed.append(tr.U[-1, 0])
    observed = np.array(observed)
    rho = 1 + lam_h
    np.testing.assert_allclose(observed, ((M + 1) * rho - M) * rho ** k, atol=1e-12, rtol=1e-12)
    stable = np.abs(observed) <= 1
    near0 = np.abs(rho) < 0.09  # |(M+1) rho - M| |rho| <= 10.99 * 0.09
    near1 = (rho > 1 - 1.0 / (M + 1)) & (rho <= 1)
    assert stable[near0].all() and stable[near1].all()
    between = (rho > 0.2) & (rho < 0.75)
    assert not stable[between].any()


def test_estimate_spectrum_linear_system_exact():
    A = np.array([[-1.0, 0.5, 0.0], [0.0, -200.0, 10.0], [0.0, 0.0, -50.0]])
    exact = np.sort(np.linalg.eigvals(A).real)
    for method in ("jacobian", "dmd"):
        cs = CoarseStepper(lambda t, y: A @ y, dt=1e-3)
        est = estimate_spectrum(cs, [1.0, 1.0, 1.0], n=6, method=method)
        np.testing.assert_allclose(np.sort(est.real), exact, rtol=1e-5)


def test_choose_steps_damps_fast_and_keeps_slow_stable():
    lam = [-0.5, -1.0, -200.0, -400.0]
    ch = choose_steps(lam, accuracy=0.2, damping=1e-3)
    assert ch.h == pytest.approx(2.0 / 600.0, rel=0.02)  # minimax for forward Euler
    for z in (-200.0, -400.0):
        rho = 1 + ch.h * z
        assert abs(((ch.M + 1) * rho - ch.M) * rho ** ch.k) <= 1e-3
    for z in (-0.5, -1.0):
        rho = 1 + ch.h * z
        assert abs(((ch.M + 1) * rho - ch.M) * rho ** ch.k) <= 1
    assert ch.Dt == pytest.approx((ch.k + 1 + ch.M) * ch.h)
    assert ch.Dt <= 0.2 + 1e-12 and ch.speedup > 3


def _rates(scheme, method, Ms, eps=1e-3, h=1e-3, k=8):
    A = np.array([[-1.0, 0.0], [1.0 / eps, -1.0 / eps]])  # eigenvalues -1, -1/eps
    y0 = np.array([1.0, 0.0])
    errs, dts = [], []
    for M in Ms:
        Dt = (k + 1 + M) * h
        T = Dt * round(2.0 / Dt)
        tr = projective_integrate(CoarseStepper(lambda t, y: A @ y, dt=h, method=method),
                                  y0, (0.0, T), k, M, scheme)
        ex = expm(A * T) @ y0
        errs.append(abs(tr.U[-1, 0] - ex[0]) / abs(ex[0]))
        dts.append(Dt)
    return np.diff(np.log(errs)) / np.diff(np.log(dts)), errs


def test_projective_orders_in_outer_step():
    """Stiff linear system (eigenvalues -1 and -1000): projective Euler converges at order
    1 in the outer step, projective AB2 with Heun inner steps at order 2."""
    r1, e1 = _rates("euler", "heun", [160, 320, 640])
    r2, e2 = _rates("ab2", "heun", [160, 320, 640])
    assert 0.9 < r1[-1] < 1.3
    assert 1.8 < r2[-1] < 2.6
    assert max(e2) < min(e1)


def _mm(t, y, eps=0.05, kappa=1.0, lam=0.5):
    s, c = y
    return np.array([-s + (s + kappa - lam) * c, (s - (s + kappa) * c) / eps])


def test_michaelis_menten_against_resolved_solution():
    """Michaelis–Menten, eps = 0.05: steps chosen from the spectral gap estimated at the
    start and the end of the slow manifold; projective Euler and AB2 against Radau at
    rtol 1e-12 (errors bounded by the outer-step truncation, AB2 more accurate)."""
    T = 5.0
    ref = solve_ivp(_mm, (0, T), [1.0, 0.0], method="Radau", rtol=1e-12, atol=1e-13).y[:, -1]
    probe = CoarseStepper(_mm, dt=1e-3)
    lam = np.r_[estimate_spectrum(probe, [1.0, 0.0]), estimate_spectrum(probe, [0.0, 0.0])]
    # Jacobian at (1, 0): trace -41, determinant 10; at (0, 0): trace -21, determinant 10
    np.testing.assert_allclose(np.sort(lam.real)[[0, 1]],
                               [(-41 - np.sqrt(41 ** 2 - 40)) / 2,
                                (-21 - np.sqrt(21 ** 2 - 40)) / 2],
                               rtol=1e-3)
    ch = choose_steps(lam, accuracy=0.4)
    assert ch.speedup > 1.5
    e = {}
    for name, fun, meth in (("pfe", projective_euler, "euler"), ("pab2", projective_ab2, "euler"),
                            ("pab2-heun", projective_ab2, "heun")):
        c = choose_steps(lam, accuracy=0.4, method=meth)
        tr = fun(CoarseStepper(_mm, dt=c.h, method=meth), [1.0, 0.0], (0, T), c.k, c.M)
        assert tr.t[-1] == pytest.approx(T)
        e[name] = np.abs(tr.U[-1] - ref).max()
    assert e["pfe"] < 0.03
    assert e["pab2"] < e["pfe"] / 3
    assert e["pab2-heun"] < e["pab2"] / 3


class _BirthDeathSSA:
    """Exact SSA of 0 -> X (rate k), X -> 0 (rate gamma x) for every replica in the
    state (1, runs): the stepping protocol an SSA ensemble offers to the coarse stepper."""

    def __init__(self, k, gamma):
        self.k, self.gamma = k, gamma

    def step(self, state, t, dt, rng, args=()):
        x = state[0].copy()
        clock = np.zeros_like(x)
        active = np.ones(x.size, bool)
        while active.any():
            a1 = np.full(active.sum(), self.k)
            a2 = self.gamma * x[active]
            a0 = a1 + a2
            clock[active] += rng.exponential(1.0 / a0)
            fire = clock[active] <= dt
            idx = np.flatnonzero(active)[fire]
            birth = rng.random(idx.size) * a0[fire] < a1[fire]
            x[idx] += np.where(birth, 1.0, -1.0)
            active[np.flatnonzero(active)[~fire]] = False
        return x[None, :]


def test_ssa_ensemble_coarse_projective_mean():
    """Equation-free projective Euler on an SSA ensemble (lift: Poisson draws with the
    macro mean, restrict: the sample mean). The mean of a birth–death process obeys
    m' = k - gamma m exactly, so in expectation every outer step multiplies m - k/gamma
    by ((M+1) r - M) r^k, r = exp(-gamma h); the average over seeds agrees within 4
    standard errors."""
    k_rate, gamma, h, k, M, runs = 100.0, 1.0, 0.05, 1, 4, 4000
    model = _BirthDeathSSA(k_rate, gamma)
    finals = []
    for seed in range(8):
        cs = CoarseStepper(model, dt=h, lift=lambda U, rng: rng.poisson(U[0], (1, runs)) * 1.0,
                           restrict=lambda u: u.mean(axis=1), seed=seed)
        tr = projective_euler(cs, [20.0], (0.0, 1.8), k, M)
        finals.append(tr.U[-1, 0])
    n_outer = tr.info["outer_steps"]
    assert n_outer == 6
    r = np.exp(-gamma * h)
    sigma = ((M + 1) * r - M) * r ** k
    expected = k_rate / gamma + (20.0 - k_rate / gamma) * sigma ** n_outer
    finals = np.array(finals)
    se = finals.std(ddof=1) / np.sqrt(finals.size)
    assert abs(finals.mean() - expected) < 4 * se + 1e-9
    # and the projective mean is far from the start and from the fully relaxed value
    assert 30 < expected < 90
