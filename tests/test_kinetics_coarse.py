"""fe2.kinetics.SSAModel as the micro model of fe2.timescales' coarse time steppers.

Reference: the network S1 <-> S2 (fast, c = 100 each way), S2 -> S3 (slow, c = 1) is
first order, so the ensemble-mean counts obey the linear ODE xbar' = A xbar exactly and
the mean of an SSA burst of length h is exp(A h) applied to the mean at its start
(computed with scipy.linalg.expm, independently of the SSA code).
"""

import math

import numpy as np
import pytest
from scipy.linalg import expm

from fe2.kinetics import NetworkError, Reaction, ReactionNetwork, SSAModel
from fe2.timescales import projective_euler

Z = 4.0  # tolerance in standard errors

NET = ReactionNetwork(["S1", "S2", "S3"],
                      [Reaction(100.0, {"S1": 1}, {"S2": 1}),
                       Reaction(100.0, {"S2": 1}, {"S1": 1}),
                       Reaction(1.0, {"S2": 1}, {"S3": 1})])
A = np.array([[-100.0, 100.0, 0.0], [100.0, -101.0, 0.0], [0.0, 1.0, 0.0]])
C = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])  # slow variables y = S1 + S2, S3


def test_lift_restrict_and_bursts_follow_the_mean_ode():
    m = SSAModel(NET, runs=4000, coarse=C)
    rng = np.random.default_rng(1)
    U = np.array([101.0, 7.5])
    u = m.lift(U, rng)
    # pinv lift: S1 = S2 = y/2 = 50.5 (stochastic rounding, no bias), S3 = 7.5
    assert u.shape == (3, 4000) and set(np.unique(u[0])) <= {50.0, 51.0}
    se = math.sqrt(0.25 / 4000)
    assert abs(u[0].mean() - 50.5) <= Z * se and abs(u[2].mean() - 7.5) <= Z * se
    # a burst of length h: the mean of every species against expm(A h) xbar0
    h = 0.02
    x0 = u.mean(axis=1)
    v = m.step(u, 0.0, h, rng)
    exact = expm(A * h) @ x0
    se = v.std(axis=1, ddof=1) / math.sqrt(v.shape[1])
    assert np.all(np.abs(v.mean(axis=1) - exact) <= Z * se + 1e-12), (v.mean(1), exact, se)
    assert m.events > 0 and np.all(v.sum(axis=0) == u.sum(axis=0))  # mass conserved


def test_projective_euler_of_an_ssa_ensemble_matches_the_exact_mean():
    """Projective forward Euler (h = 0.01, k = 2, M = 7: Dt = 0.1) on y = S1 + S2 and S3
    from y = 200, S3 = 0 to t = 1. Because everything is linear in expectation, the mean
    of the scheme equals the same scheme applied to exact means,
    U_{n+1} = C [(M + 1) P^{k+1} - M P^k] L U_n with P = expm(A h), L = pinv(C); checked
    within a few standard errors over K independent runs; that deterministic scheme is
    itself within 1 % of the exact mean C expm(A t) L U_0 (its O(Dt) bias, 0.7 %; slow rate
    1/2, fast rate 201)."""
    h, k, M, T = 0.01, 2, 7, 1.0
    U0 = np.array([200.0, 0.0])
    L = np.linalg.pinv(C)
    P = expm(A * h)
    G = C @ ((M + 1) * np.linalg.matrix_power(P, k + 1) - M * np.linalg.matrix_power(P, k)) @ L
    n_out = int(round(T / ((k + 1 + M) * h)))
    scheme = np.linalg.matrix_power(G, n_out) @ U0
    exact = C @ expm(A * T) @ L @ U0
    assert np.all(np.abs(scheme - exact) <= 1e-2 * np.abs(exact).max())

    K = 6
    ends = []
    for s in range(K):
        cs = SSAModel(NET, runs=200, coarse=C).stepper(h, seed=100 + s)
        tr = projective_euler(cs, U0, (0.0, T), k, M)
        assert tr.t[-1] == pytest.approx(T) and len(tr.t) == n_out + 1
        ends.append(tr.U[-1])
    ends = np.array(ends)
    se = ends.std(axis=0, ddof=1) / math.sqrt(K)
    assert np.all(np.abs(ends.mean(axis=0) - scheme) <= Z * se), (ends.mean(0), scheme, se)
    assert np.all(np.abs(ends.mean(axis=0) - exact) <= Z * se + np.abs(scheme - exact))
    assert np.all(se < 0.02 * np.abs(exact).max())  # the check has teeth: se ~ 1 % or less


def test_ssa_model_errors():
    with pytest.raises(NetworkError, match="runs must be an integer"):
        SSAModel(NET, runs=0)
    with pytest.raises(NetworkError, match="unknown species"):
        SSAModel(NET, runs=2, coarse=["S9"])
    with pytest.raises(NetworkError, match=r"shape \(m, 3\)"):
        SSAModel(NET, runs=2, coarse=np.ones((2, 2)))
    with pytest.raises(NetworkError, match="right inverse"):
        SSAModel(NET, runs=2, coarse=C, lift=np.ones((3, 2)))
    with pytest.raises(ValueError, match="'S3' is -1 < 0"):
        SSAModel(NET, runs=2, coarse=C).lift([4.0, -1.0], np.random.default_rng(0))
