"""fe2.uq.TwoLevelGP: the Forrester pair against its closed form, coarse/fine voxel RVEs.

References: the exact relation ``f_high = 2 f_low - 20 x`` of the Forrester functions and
their closed forms; direct fine-resolution RVE solves at held-out points.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from fe2.surrogate import GaussianProcess
from fe2.uq import RandomConductivityCell, TwoLevelGP, evaluate_model, sample_inputs
from fe2.uq.reference import FORRESTER_RHO, forrester_delta, forrester_high, forrester_low

XC = np.linspace(0.0, 1.0, 11)
XF = np.array([0.0, 0.4, 0.6, 1.0])  # Forrester et al. (2007): 4 fine, 11 coarse points
XT = np.linspace(0.0, 1.0, 201)


def test_forrester_pair_against_the_closed_form():
    m = TwoLevelGP().fit(XC, forrester_low(XC), XF, forrester_high(XF))
    assert m.rho[0] == pytest.approx(FORRESTER_RHO, rel=0.05)
    mean, std = m.predict(XT)
    span = np.ptp(forrester_high(XT))
    err = np.abs(mean[:, 0] - forrester_high(XT))
    assert err.max() < 0.05 * span
    # the discrepancy GP recovers the exact delta(x) = -20 x where it has data
    d = m.deltas[0].predict(XF[:, None]).mean[:, 0]
    assert np.allclose(d, forrester_high(XF) - m.rho[0] * m.coarse.predict(
        XF[:, None]).mean[:, 0], atol=1e-3 * span)
    assert np.abs(forrester_delta(XT) - (forrester_high(XT) - 2 * forrester_low(XT))).max() \
        < 1e-12
    # 95 % intervals cover most of the exact curve
    assert np.mean(err <= 1.96 * std[:, 0] + 1e-9) >= 0.8
    # the same four fine points alone give a far worse fit
    single = GaussianProcess().fit(XF[:, None], forrester_high(XF)[:, None])
    err1 = np.abs(single.predict(XT[:, None]).mean[:, 0] - forrester_high(XT))
    assert err.max() < 0.2 * err1.max()


def test_fixed_and_least_squares_rho_and_bad_input():
    m = TwoLevelGP(rho=2.0).fit(XC, forrester_low(XC), XF, forrester_high(XF))
    assert m.rho[0] == 2.0
    assert np.isfinite(TwoLevelGP(rho="ls").fit(XC, forrester_low(XC), XF,
                                                 forrester_high(XF)).rho[0])
    with pytest.raises(ValueError, match="rho must be"):
        TwoLevelGP(rho="max")
    with pytest.raises(ValueError, match="X_fine must be a finite array"):
        TwoLevelGP().fit(XC, forrester_low(XC), np.ones((3, 2)), np.ones(3))
    with pytest.raises(RuntimeError, match="call fit first"):
        TwoLevelGP().predict(XT)


def test_coarse_and_fine_voxel_cells_beat_a_single_level_gp():
    inputs = {"volume_fraction": stats.uniform(0.15, 0.3),
              "inclusion_conductivity": stats.loguniform(2.0, 20.0)}
    names = list(inputs)
    fine = RandomConductivityCell(32, field_resolution=32, microstructure_seed=3)
    coarse = RandomConductivityCell(8, field_resolution=32, microstructure_seed=3,
                                    coarsening="mixed")

    def diag(Y):
        return Y.reshape(len(Y), -1)[:, [0, 3]]

    Xc = sample_inputs(inputs, 64, "sobol", seed=0)
    Yc = diag(evaluate_model(coarse, names, Xc))
    Xf = Xc[:5]  # nested design: 5 fine solves
    Yf = diag(evaluate_model(fine, names, Xf))
    Xt = sample_inputs(inputs, 20, "mc", seed=1)
    Yt = diag(evaluate_model(fine, names, Xt))

    def rel(Y):
        return np.linalg.norm(Y - Yt) / np.linalg.norm(Yt)

    two = rel(TwoLevelGP().fit(Xc, Yc, Xf, Yf).predict(Xt)[0])
    one = rel(GaussianProcess().fit(Xf, Yf).predict(Xt).mean)
    coarse_only = rel(GaussianProcess().fit(Xc, Yc).predict(Xt).mean)
    assert two < 0.5 * one
    assert two < coarse_only
