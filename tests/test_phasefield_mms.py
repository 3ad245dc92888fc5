"""PFHub benchmark 7 (manufactured-solution Allen–Cahn): source term and observed orders."""

from __future__ import annotations

import numpy as np
import pytest
import skfem

from fe2.phasefield import AllenCahn
from fe2.phasefield.benchmarks import PFHUB7, pfhub7_run, pfhub7_solution, pfhub7_source


def test_source_is_the_residual_of_the_manufactured_solution():
    # S = eta_t + 4 eta (eta - 1)(eta - 1/2) - kappa lap eta by central differences of eta_sol
    rng = np.random.default_rng(0)
    x = np.array([rng.uniform(0, 1, 50), rng.uniform(0.15, 0.35, 50)])
    t, h, k = 3.7, 1e-4, PFHUB7["kappa"]
    e = pfhub7_solution(x, t)
    et = (pfhub7_solution(x, t + h) - pfhub7_solution(x, t - h)) / (2 * h)
    lap = sum((pfhub7_solution(x + h * d[:, None], t) - 2 * e
               + pfhub7_solution(x - h * d[:, None], t)) / h ** 2 for d in np.eye(2))
    residual = et + 4 * e * (e - 1) * (e - 0.5) - k * lap
    assert np.abs(pfhub7_source(x, t) - residual).max() < 1e-4 * np.abs(residual).max()


def test_spatial_order_is_two_for_q1():
    # temporal error removed by Richardson extrapolation; finest pair (theory 2, +-0.2)
    a, b = (pfhub7_run(n, 0.02, t_end=0.2, extrapolate=True) for n in (64, 128))
    assert np.log(a.l2 / b.l2) / np.log(2) == pytest.approx(2.0, abs=0.2)
    assert b.l2 < 5e-3


def test_temporal_order_is_one():
    # convex splitting is first order: error against a same-mesh run with tiny steps
    ref = pfhub7_run(32, 0.025, t_end=1.0, extrapolate=True).field
    e = [pfhub7_run(32, dt, t_end=1.0, reference=ref).l2_reference for dt in (0.2, 0.1, 0.05)]
    assert np.polyfit(np.log([0.2, 0.1, 0.05]), np.log(e), 1)[0] == pytest.approx(1.0, abs=0.2)


def test_periodic_axes_and_dirichlet_errors():
    m = skfem.MeshQuad.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
    with pytest.raises(ValueError, match="periodic_axes"):
        AllenCahn(m, 0.1, periodic_axes=[0])
    with pytest.raises(ValueError, match="periodic_axes"):
        AllenCahn(m, 0.1, bc="periodic", periodic_axes=[2])
    with pytest.raises(ValueError, match="dirichlet boundary 'top'"):
        AllenCahn(m, 0.1, dirichlet={"top": 1.0})
    with pytest.raises(ValueError, match="finite number"):
        AllenCahn(m, 0.1, dirichlet={lambda x: x[1] < 1e-9: "one"})
    with pytest.raises(ValueError, match="source"):
        AllenCahn(m, 0.1, source=3.0)
    with pytest.raises(ValueError, match="n must be an even"):
        pfhub7_run(7, 0.1)


def test_dirichlet_values_hold_and_periodic_partners_match():
    m = skfem.MeshTri.init_tensor(np.linspace(0, 1, 9), np.linspace(0, 0.5, 5))
    ac = AllenCahn(m, 0.1, bc="periodic", periodic_axes=[0],
                   dirichlet={lambda x: x[1] < 1e-9: 1.0, lambda x: x[1] > 0.5 - 1e-9: -1.0})
    r = ac.solve(lambda x: np.cos(3 * x[0]) * np.sin(7 * x[1]), t_end=0.1, dt=0.01,
                 adaptive=False)
    X = ac.basis.doflocs
    assert np.all(r.field[X[1] < 1e-9] == 1.0) and np.all(r.field[X[1] > 0.5 - 1e-9] == -1.0)
    left, right = np.flatnonzero(X[0] < 1e-9), np.flatnonzero(X[0] > 1 - 1e-9)
    left, right = left[np.argsort(X[1, left])], right[np.argsort(X[1, right])]
    assert np.array_equal(r.field[left], r.field[right])
