"""fe2.uq propagation and sensitivity: surrogates against closed forms and direct solves.

References: the exact effective tensor of a laminate (harmonic/arithmetic means), the
series law of a layered bar, analytic Sobol indices (Ishigami, a linear model), the
Hashin–Shtrikman bounds, and direct RVE solves at held-out points.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fe2.homogenization import hashin_shtrikman
from fe2.uq import (
    RandomConductivityCell,
    TensorSurrogate,
    layered_bar_flux,
    sample_inputs,
    sobol_indices,
)
from fe2.uq.reference import ishigami, ishigami_indices


def _laminate(p, seed=0):
    """Exact effective tensor of a 50/50 laminate of conductivities a, b."""
    a, b = p["a"], p["b"]
    return np.diag([2.0 / (1.0 / a + 1.0 / b), 0.5 * (a + b)])


LAM = {"a": stats.uniform(1.0, 4.0), "b": stats.uniform(5.0, 10.0)}
BOX = stats.uniform(-np.pi, 2 * np.pi)


def test_surrogate_of_the_laminate_tensor_and_its_held_out_error():
    s = TensorSurrogate.fit(_laminate, LAM, 32, seed=0)
    v = s.validate(_laminate, LAM, 50, seed=1)
    assert v.relative_rms < 2e-3 and v.relative_max < 1e-2
    assert v.coverage >= 0.9
    K, sd = s.predict(np.array([[2.0, 7.0]]))
    assert np.allclose(K[0], _laminate({"a": 2.0, "b": 7.0}), rtol=5e-3, atol=1e-3)
    assert K[0, 0, 1] == K[0, 1, 0] and sd.shape == (1, 2, 2)
    assert np.allclose(s({"a": 2.0, "b": 7.0}), K[0])


def test_propagation_to_a_layered_bar_matches_the_closed_form():
    s = TensorSurrogate.fit(_laminate, LAM, 32, seed=0)
    # two layers (thickness 0.6 and 0.4), each with its own random phase conductivities
    X = sample_inputs({**{f"{k}1": d for k, d in LAM.items()},
                       **{f"{k}2": d for k, d in LAM.items()}}, 4096, "sobol", seed=3)
    Ks = np.stack([s.predict(X[:, :2])[0], s.predict(X[:, 2:])[0]])  # (2, n, 2, 2)
    q = layered_bar_flux(Ks[..., 0, 0], [0.6, 0.4])
    exact = np.stack([[_laminate({"a": a, "b": b})[0, 0] for a, b in X[:, 2 * i:2 * i + 2]]
                      for i in range(2)])
    q_exact = 1.0 / (0.6 / exact[0] + 0.4 / exact[1])
    assert np.mean(q) == pytest.approx(np.mean(q_exact), rel=1e-3)
    assert np.std(q) == pytest.approx(np.std(q_exact), rel=2e-2)
    # one homogeneous layer: q = k dT / L
    assert layered_bar_flux(np.array([[2.0]]), [0.5], dT=3.0)[0] == pytest.approx(12.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="positive thicknesses"):
        layered_bar_flux(np.ones((2, 3)), [0.5])
    with pytest.raises(ValueError, match="components must be"):
        TensorSurrogate(["a"], (2, 2), components="diag")
    s = TensorSurrogate.fit(_laminate, LAM, 8)
    with pytest.raises(ValueError, match="missing parameter 'b'"):
        s({"a": 1.0})
    with pytest.raises(ValueError, match="power of two"):
        sobol_indices(ishigami, {"x1": BOX, "x2": BOX, "x3": BOX}, n=1000)


def test_sobol_indices_of_ishigami_and_of_a_linear_model():
    r = sobol_indices(ishigami, {"x1": BOX, "x2": BOX, "x3": BOX}, n=2**11, seed=0,
                      confidence=0.95, n_resamples=49)
    s1, st = ishigami_indices()
    assert np.allclose(r.first_order[0], s1, atol=0.02)
    assert np.allclose(r.total_order[0], st, atol=0.02)
    lo, hi = r.total_order_ci[:, 0]
    assert np.mean((lo - 0.01 <= st) & (st <= hi + 0.01)) == 1.0
    # f = x1 + 2 x2 + 3 x3, independent standard normals: S_i = S_Ti = c_i^2 / 14
    c = np.array([1.0, 2.0, 3.0])
    n01 = stats.norm(0.0, 1.0)
    r = sobol_indices(lambda X: X @ c, {"x1": n01, "x2": n01, "x3": n01}, n=2**11, seed=1)
    assert np.allclose(r.first_order[0], c**2 / 14, atol=0.03)
    assert np.allclose(r.total_order[0], c**2 / 14, atol=0.03)


def test_surrogate_of_random_cells_against_direct_solves_and_bounds():
    ks = (1.0, 1.0)  # matrix conductivity 1; the inclusion's is an input
    cell = RandomConductivityCell(16, ks, fixed={"correlation_length": 0.06})
    inputs = {"volume_fraction": stats.uniform(0.1, 0.25),
              "inclusion_conductivity": stats.loguniform(2.0, 10.0)}
    s = TensorSurrogate.fit(cell, inputs, 24, seed=0, components="isotropic")
    v = s.validate(cell, inputs, 10, seed=5, realizations=2)
    assert v.relative_rms < 0.05
    # the surrogate mean stays within the Hashin-Shtrikman bounds over the box, up to
    # three predictive standard deviations
    X = sample_inputs(inputs, 64, "sobol", seed=9)
    K, sd = s.predict(X)
    for (f, k1), k, e in zip(X, K[:, 0, 0], sd[:, 0, 0], strict=True):
        hs = hashin_shtrikman([1.0, k1], [1 - f, f], dim=2)
        assert hs.lower - 3 * e <= k <= hs.upper + 3 * e
    # Sobol indices of the homogenized conductivity through the surrogate
    r = sobol_indices(lambda X: s.predict(X)[0][:, 0, 0], inputs, n=2**10, seed=0)
    assert r.first_order.sum() <= 1.05 and np.all(r.total_order >= r.first_order - 0.05)
