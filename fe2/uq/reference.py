"""Test functions with closed-form answers: Ishigami (Sobol indices), Forrester (two fidelities).

* :func:`ishigami` ``f(x) = sin x1 + a sin^2 x2 + b x3^4 sin x1`` on ``[-pi, pi]^3``
  (Ishigami & Homma 1990), whose variance decomposition is known in closed form
  (:func:`ishigami_indices`; Sobol' & Levitan 1999; Saltelli et al. 2008, *Global
  Sensitivity Analysis: The Primer*, with a = 7, b = 0.1)::

      V   = a^2 / 8 + b pi^4 / 5 + b^2 pi^8 / 18 + 1 / 2
      V1  = (1 + b pi^4 / 5)^2 / 2,   V2 = a^2 / 8,   V3 = 0,
      V13 = b^2 pi^8 (1 / 18 - 1 / 50)

  first-order ``S_i = V_i / V``, total ``S_T1 = (V1 + V13) / V``, ``S_T2 = V2 / V``,
  ``S_T3 = V13 / V``.
* :func:`forrester_high`, :func:`forrester_low`: the two-fidelity pair of Forrester,
  Sóbester & Keane (2007, Proc. R. Soc. A 463, 3251), on ``[0, 1]``::

      f_high(x) = (6 x - 2)^2 sin(12 x - 4)
      f_low(x)  = A f_high(x) + B (x - 1/2) - C,   A = 0.5, B = 10, C = -5

  so that ``f_high = rho f_low + delta(x)`` exactly with ``rho = 1 / A = 2`` and the linear
  discrepancy ``delta(x) = -(B (x - 1/2) - C) / A = -20 x`` (:data:`FORRESTER_RHO`,
  :func:`forrester_delta`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "FORRESTER_RHO",
    "forrester_delta",
    "forrester_high",
    "forrester_low",
    "ishigami",
    "ishigami_indices",
]

_A, _B, _C = 0.5, 10.0, -5.0
#: exact scale factor between the Forrester fidelities, ``f_high = rho f_low + delta``
FORRESTER_RHO: float = 1.0 / _A


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """Ishigami function of ``x (n, 3)`` (inputs uniform on ``[-pi, pi]``), shape ``(n,)``."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    if x.shape[1] != 3:
        raise ValueError(f"ishigami: x must have shape (n, 3), got {x.shape}")
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Exact first-order and total Sobol indices ``(3,)``, ``(3,)`` of :func:`ishigami`."""
    pi4 = np.pi**4
    V = a**2 / 8 + b * pi4 / 5 + b**2 * pi4**2 / 18 + 0.5
    V1 = 0.5 * (1 + b * pi4 / 5) ** 2
    V2 = a**2 / 8
    V13 = b**2 * pi4**2 * (1 / 18 - 1 / 50)
    return np.array([V1, V2, 0.0]) / V, np.array([V1 + V13, V2, V13]) / V


def forrester_high(x: np.ndarray) -> np.ndarray:
    """High-fidelity Forrester function ``(6 x - 2)^2 sin(12 x - 4)``, same shape as ``x``."""
    x = np.asarray(x, dtype=float)
    return (6 * x - 2) ** 2 * np.sin(12 * x - 4)


def forrester_low(x: np.ndarray) -> np.ndarray:
    """Low-fidelity Forrester function ``0.5 f_high + 10 (x - 1/2) + 5``."""
    x = np.asarray(x, dtype=float)
    return _A * forrester_high(x) + _B * (x - 0.5) - _C


def forrester_delta(x: np.ndarray) -> np.ndarray:
    """Exact discrepancy ``f_high - rho f_low = -20 x``."""
    x = np.asarray(x, dtype=float)
    return -(_B * (x - 0.5) - _C) / _A
