"""Dumbbell ensembles under fe2.timescales' coarse steppers: projective integration of
start-up shear against the Oldroyd-B conformation equation (the exact closure of Hookean
dumbbells), written here independently of fe2.fluids."""

import numpy as np
import pytest

from fe2.fluids import DumbbellModel, FENEDumbbells, HookeanDumbbells
from fe2.timescales import CoarseStepper, projective_euler

LAM, RATE = 1.0, 1.0
L = np.array([[0.0, RATE], [0.0, 0.0]])


def oldroyd_b(t, U):
    """A' = L A + A L^T - (A - I) / lam as (A_xx, A_xy, A_yy)."""
    A = np.array([[U[0], U[1]], [U[1], U[2]]])
    dA = L @ A + A @ L.T - (A - np.eye(2)) / LAM
    return np.array([dA[0, 0], dA[0, 1], dA[1, 1]])


def exact(t):
    """Start-up shear of an Oldroyd-B fluid from rest (closed form)."""
    e = np.exp(-t / LAM)
    wi = LAM * RATE
    return np.array([1 + 2 * wi**2 * (1 - e * (1 + t / LAM)), wi * (1 - e), 1.0])


def test_lift_and_restrict_are_consistent():
    m = DumbbellModel(HookeanDumbbells(40000, lam=LAM, eta_p=1.0), L)
    U = np.array([2.0, 0.7, 1.0])
    Q = m.lift(U, np.random.default_rng(1))
    # sample second moments of 40000 Gaussian vectors: standard error ~ sqrt(2) A / 200
    np.testing.assert_allclose(m.restrict(Q), U, atol=4 * np.sqrt(2) * 2.0 / 200)


def test_projective_euler_on_dumbbells_follows_oldroyd_b():
    h, k, M, t_end = 0.01, 2, 5, 1.6
    det = projective_euler(CoarseStepper(oldroyd_b, h, method="heun"), [1.0, 0.0, 1.0],
                           (0.0, t_end), k=k, M=M)
    runs = []
    for seed in range(6):
        m = DumbbellModel(HookeanDumbbells(2000, lam=LAM, eta_p=1.0, seed=seed,
                                           micro_dt=h), L)
        tr = projective_euler(m.stepper(h, seed=100 + seed), [1.0, 0.0, 1.0], (0.0, t_end),
                              k=k, M=M)
        runs.append(tr.U[-1])
    runs = np.array(runs)
    mean, se = runs.mean(0), runs.std(0, ddof=1) / np.sqrt(len(runs))
    # the same projective scheme on the exact closure, within 4 standard errors
    assert np.all(np.abs(mean - det.U[-1]) <= 4 * se + 1e-12), (mean, det.U[-1], se)
    # and the exact start-up solution, within the scheme's own error plus 4 standard errors
    scheme = np.abs(det.U[-1] - exact(t_end))
    assert scheme[1] < 0.05 * exact(t_end)[1]
    assert np.all(np.abs(mean - exact(t_end)) <= scheme + 4 * se + 1e-12)
    # the micro work is a fraction of a resolved run: (k + 1) of (k + 1 + M) steps
    assert m.micro_steps == pytest.approx(t_end / h * (k + 1) / (k + 1 + M), rel=0.1)


@pytest.mark.parametrize("make, message", [
    (lambda: DumbbellModel(HookeanDumbbells(10, 1.0, 1.0), [[1.0, 0.0], [0.0, 1.0]]),
     "traceless"),
    (lambda: DumbbellModel(HookeanDumbbells(10, 1.0, 1.0), np.zeros(3)), r"\(2, 2\)"),
    (lambda: DumbbellModel(FENEDumbbells(50.0, 10, 1.0, 1.0, control_variate=True), L),
     "control_variate"),
    (lambda: DumbbellModel(HookeanDumbbells(10, 1.0, 1.0), L).lift(
        [1.0, 2.0, 1.0], np.random.default_rng(0)), "not positive definite"),
    (lambda: DumbbellModel(FENEDumbbells(5.0, 10, 1.0, 1.0), L).lift(
        [3.0, 0.0, 3.0], np.random.default_rng(0)), "extensibility"),
])
def test_bad_input_is_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_fene_lift_stays_inside_the_extensibility():
    m = DumbbellModel(FENEDumbbells(6.0, 5000, 1.0, 1.0), L)
    Q = m.lift([2.0, 0.5, 1.0], np.random.default_rng(2))
    assert np.all((Q * Q).sum(axis=0) < 6.0)
    Q2 = m.step(Q, 0.0, 0.01, None)
    assert Q2.shape == Q.shape and np.all((Q2 * Q2).sum(axis=0) < 6.0)
