"""Patch dynamics for u_t = (a(x/eps) u_x)_x against the homogenized equation.

a(y) = 1 / (2 + sin 2 pi y) has harmonic mean exactly 1/2 (and arithmetic mean 1/sqrt 3).
The homogenized solution of u0 = sin 2 pi x on [0, 1) is exp(-4 pi^2 a* t) sin 2 pi x; the
macro scheme's own discretisation (forward Euler on the 3-point Laplacian) has the
closed-form mode factor 1 - Dt a* (2 / Dx^2)(1 - cos 2 pi Dx) per step, so the micro
estimator's error is isolated against that product.
"""

import numpy as np
import pytest

from fe2.timescales import harmonic_mean, patch_dynamics

N, T = 10, 0.05
X = (np.arange(N) + 0.5) / N
U0 = np.sin(2 * np.pi * X)


def _coef(eps):
    return lambda x: 1.0 / (2.0 + np.sin(2 * np.pi * x / eps))


def _discrete(tr, abar):
    mu = 2 * N ** 2 * (1 - np.cos(2 * np.pi / N))
    return np.prod(1 - np.diff(tr.t) * abar * mu) * U0


def test_harmonic_mean_closed_form():
    assert harmonic_mean(_coef(0.01), 0.01) == pytest.approx(0.5, rel=1e-12)


def _run(eps, patch=0.02, buffer=0.03):
    return patch_dynamics(_coef(eps), U0, T, 0.0025, patch, buffer, eps / 32, eps ** 2 / 20,
                          20, 20)


def test_patch_dynamics_converges_to_harmonic_mean_solution():
    errs = []
    for eps in (0.01, 0.005):
        tr = _run(eps)
        errs.append(np.abs(tr.U[-1] - _discrete(tr, 0.5)).max())
    assert errs[-1] < 1e-3 < errs[0]  # error falls as eps shrinks at fixed patch and buffer
    tr = _run(0.005)
    exact = np.exp(-4 * np.pi ** 2 * 0.5 * T) * U0
    assert np.abs(tr.U[-1] - exact).max() < 0.01  # macro O(Dx^2) + O(Dt) error only
    arith = _discrete(tr, 1 / np.sqrt(3))
    assert np.abs(tr.U[-1] - arith).max() > 30 * errs[-1]  # not the arithmetic mean


def test_patch_dynamics_error_falls_with_patch_size():
    e = []
    for h in (0.01, 0.04):
        tr = _run(0.01, patch=h)
        e.append(np.abs(tr.U[-1] - _discrete(tr, 0.5)).max())
    assert e[1] < e[0] / 2


@pytest.mark.parametrize("kw, match", [
    ({"patch": 0.2}, "patch width 0.2 must be below the macro spacing"),
    ({"U0": [1.0, 2.0]}, "at least 3 patch averages"),
    ({"a": lambda x: -1.0 + 0 * x}, "finite positive values"),
    ({"n_burst": 0}, "n_burst must be finite and > 0"),
    ({"dt_micro": float("nan")}, "dt_micro must be finite"),
])
def test_bad_input_one_line_errors(kw, match):
    args = {"a": _coef(0.01), "U0": U0, "t_end": T, "Dt": 0.01, "patch": 0.02,
            "buffer": 0.03, "dx_micro": 0.01 / 32, "dt_micro": 1e-5, "n_heal": 2,
            "n_burst": 2} | kw
    with pytest.raises(ValueError, match=match) as e:
        patch_dynamics(**args)
    assert "\n" not in str(e.value)
