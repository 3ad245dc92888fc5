"""fe2.surrogate.pinn_conductivity: deep Ritz cell problem against the laminate closed form.

A two-layer laminate (layers normal to y_1, fractions 1/2, k = 1 and 10) has the exact
effective conductivity diag(harmonic mean, arithmetic mean) = diag(20/11, 5.5). The
energy of any periodic fluctuation bounds K_11 from above, so a small, short training
(600 Adam steps on 16^2 stratified points, seconds) must land in [harmonic, 1.10 harmonic]
(up to the 1 % sampling error of the final average); K_22 needs no fluctuation (1 %).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch  # the torch extra (make install); a missing extra fails, never skips

from fe2.surrogate import pinn_conductivity  # noqa: E402

HARMONIC, ARITHMETIC = 1.0 / (0.5 / 1.0 + 0.5 / 10.0), 0.5 * (1.0 + 10.0)


def _laminate(y):
    return np.where(y[0] < 0.5, 1.0, 10.0)


def test_laminate_k_eff_against_harmonic_and_arithmetic_means():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        r = pinn_conductivity(_laminate, dim=2, n_grid=16, iterations=600, seed=0)
    finally:
        torch.set_num_threads(n)
    K = r.k_eff
    assert 0.99 * HARMONIC <= K[0, 0] <= 1.10 * HARMONIC, K
    assert abs(K[1, 1] - ARITHMETIC) < 1e-2 * ARITHMETIC, K
    assert abs(K[0, 1]) < 1e-2 * HARMONIC, K


def test_bad_conductivity_is_refused_with_the_point():
    with pytest.raises(ValueError, match="finite values > 0.*first bad at y"):
        pinn_conductivity(lambda y: np.where(y[0] < 0.5, 1.0, -1.0), n_grid=4, iterations=1)
    with pytest.raises(ValueError, match="n_grid must be an integer >= 1"):
        pinn_conductivity(_laminate, n_grid=0)
