"""Seamless HMM and HMM with re-initialisation against averaged equations derived by hand.

1. x' = 1 + y, y' = -z/eps, z' = y/eps (the example of E, Ren and Vanden-Eijnden): the
   fast rotation averages to <y> = 0, so X(t) = x0 + t; with eps boosted to eps' the
   exact solution is x0 + t + eps' sin(t/eps'), error O(eps').
2. x' = -x + y, y' = (x - 2y)/eps: the slow eigenvalue of [[-1, 1], [1/eps', -2/eps']] is
   lambda(eps') = (-(eps' + 2) + sqrt((eps' + 2)^2 - 4 eps')) / (2 eps'), tending to the
   averaged rate -1/2 (y -> x/2).
3. x' = -x + y^2 with y an Ornstein–Uhlenbeck process dy = -y/eps dt + sqrt(2/eps) s dW
   started stationary: the averaged drift is -X + <y^2>; Euler–Maruyama with a = dt/eps
   keeps the stationary variance s^2 / (1 - a/2), so E x(T) = x0 e^-T + s^2/(1 - a/2)
   (1 - e^-T) exactly for every eps' (x is linear in y^2), and Var x(T) ~ s^4 eps'
   (1 - e^-2T) for small eps'.
"""

import numpy as np
import pytest

from fe2.timescales import SDEModel, boosted_eps, hmm, seamless

EPS = 1e-4


def _rotation(s, y, X):
    return np.array([-y[1], y[0]]) / EPS


def _one_plus_y(t, X, y):
    return 1.0 + y[0:1]


def test_seamless_rotation_error_is_order_eps_prime():
    dt = EPS * 2 * np.pi / 32  # 32 micro steps per fast period (RK4)
    M = 8
    eps_p = np.array([0.1, 0.05, 0.025, 0.0125])
    errs = []
    for ep in eps_p:
        Dt = ep * dt / EPS * M
        assert boosted_eps(EPS, Dt, M, dt) == pytest.approx(ep)
        tr = seamless(_one_plus_y, _rotation, [0.0], [1.0, 0.0], (0.0, 1.0), Dt, M, dt)
        assert tr.info["boost"] * EPS == pytest.approx(ep)
        errs.append(np.abs(tr.U[:, 0] - tr.t).max())  # averaged solution X = t
    errs = np.array(errs)
    rate = np.polyfit(np.log(eps_p), np.log(errs), 1)[0]
    assert 0.9 < rate < 1.1
    assert np.all(errs <= 1.2 * eps_p)  # |eps' sin(t/eps')| <= eps' plus splitting error


def test_hmm_reinitialised_rotation_two_periods_cosine_kernel():
    """A cosine kernel over two fast periods annihilates the rotation's mean force error."""
    dt = EPS * 2 * np.pi / 32
    tr = hmm(_one_plus_y, _rotation, [0.0], lambda X, rng: np.array([1.0, 0.0]), (0.0, 1.0),
             0.1, dt, 0, 64)
    assert np.abs(tr.U[:, 0] - tr.t).max() < 1e-4
    assert tr.micro_steps == 10 * 64


def _slow_rate(ep):
    return (-(ep + 2) + np.sqrt((ep + 2) ** 2 - 4 * ep)) / (2 * ep)


def test_seamless_linear_slow_rate_matches_eps_prime_eigenvalue():
    dt, M = EPS / 40, 10
    for ep in (0.4, 0.1):
        Dt = ep * dt / EPS * M
        tr = seamless(lambda t, X, y: -X + y, lambda s, y, X: (X - 2 * y) / EPS,
                      [1.0], [0.0], (0.0, 4.0), Dt, M, dt)
        sel = tr.t >= 1.0
        rate = np.polyfit(tr.t[sel], np.log(tr.U[sel, 0]), 1)[0]
        exact = _slow_rate(ep)
        assert abs(rate / exact - 1) < 0.006
        # the boosted system, not the averaged one: much closer to lambda(eps') than to -1/2
        assert abs(rate - exact) < 0.1 * abs(exact + 0.5)


def test_seamless_sde_ou_fast_variable_mean_and_variance():
    s, runs, T, x0 = 1.0, 4000, 1.0, 2.0
    dt = EPS / 20
    a = dt / EPS
    var_y = s ** 2 / (1 - a / 2)  # Euler–Maruyama stationary variance
    rng = np.random.default_rng(5)
    y0 = rng.normal(0.0, np.sqrt(var_y), (1, runs))
    model = SDEModel(lambda t, y, X: -y / EPS, np.sqrt(2 / EPS) * s)
    M, ep = 10, 0.05
    tr = seamless(lambda t, X, y: -X + y[0] ** 2, model, np.full(runs, x0), y0, (0.0, T),
                  ep * dt / EPS * M, M, dt, seed=6)
    xT = tr.U[-1]
    exact = x0 * np.exp(-T) + var_y * (1 - np.exp(-T))
    se = xT.std(ddof=1) / np.sqrt(runs)
    assert abs(xT.mean() - exact) < 4 * se
    var_exact = s ** 4 * ep * (1 - np.exp(-2 * T))
    assert abs(xT.var(ddof=1) / var_exact - 1) < 4 * np.sqrt(2 / runs) + 0.05


@pytest.mark.parametrize("call, match", [
    (lambda: seamless(3, _rotation, [0.0], [1.0, 0.0], (0, 1), 0.1, 4, 1e-5),
     "macro_rhs must be callable"),
    (lambda: seamless(_one_plus_y, _rotation, [0.0], [1.0, 0.0], (0, 1), 0.1, 0, 1e-5),
     r"M \(micro steps per macro step\) must be finite and > 0"),
    (lambda: seamless(_one_plus_y, _rotation, [0.0], [1.0, 0.0], (0, 1), 0.1, 2.5, 1e-5),
     "must be an integer"),
    (lambda: seamless(_one_plus_y, _rotation, [0.0], [], (0, 1), 0.1, 4, 1e-5), "y0 is empty"),
    (lambda: seamless(lambda t, X, y: y, _rotation, [0.0], [1.0, 0.0], (0, 1), 0.1, 4, 1e-5),
     r"macro_rhs returned shape \(2,\)"),
    (lambda: hmm(_one_plus_y, _rotation, [0.0], lambda X, r: np.ones(2), (0, 1), 0.1, 1e-5, 0,
                 0), "n_avg must be finite and > 0"),
    (lambda: hmm(_one_plus_y, _rotation, [0.0], lambda X, r: np.ones(2), (0, 1), 0.1, 1e-5, 0,
                 4, kernel="gauss"), "kernel must be"),
    (lambda: hmm(_one_plus_y, _rotation, [0.0], None, (0, 1), 0.1, 1e-5, 0, 4),
     "lift must be callable"),
])
def test_bad_input_one_line_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match) as e:
        call()
    assert "\n" not in str(e.value)


def test_micro_rhs_without_the_macro_argument_is_named():
    with pytest.raises(TypeError, match=r"called as f\(t, y, arg0\).*signature is \(s, y\)"):
        seamless(_one_plus_y, lambda s, y: -y, [0.0], [1.0, 0.0], (0, 1), 0.1, 2, 1e-3)
