"""Definitions of community phase-field benchmarks (PFHub, NIST).

PFHub benchmark 1, spinodal decomposition (Jokisaari, Voorhees, Guyer, Warren, Heinonen,
"Benchmark problems for numerical implementations of phase field models", Comput. Mater.
Sci. 126 (2017) 139-151; https://pages.nist.gov/pfhub/benchmarks/benchmark1.ipynb):
Cahn–Hilliard with ``psi = rho (c - ca)^2 (cb - c)^2``, ``rho = 5``, ``ca = 0.3``,
``cb = 0.7``, ``kappa = 2``, ``M = 5`` on ``[0, 200]^2`` (variant a: periodic, variant
b: no-flux), from

    c0 = 0.5 + 0.01 (cos(0.105 x) cos(0.11 y) + [cos(0.13 x) cos(0.087 y)]^2
                     + cos(0.025 x - 0.15 y) cos(0.07 x - 0.02 y)).
"""

from __future__ import annotations

import numpy as np

from fe2.phasefield.energies import FreeEnergy, polynomial

__all__ = ["PFHUB1", "pfhub1_initial", "pfhub1_gradient", "pfhub1_free_energy"]

#: Parameters of PFHub benchmark 1.
PFHUB1 = {"rho": 5.0, "ca": 0.3, "cb": 0.7, "kappa": 2.0, "mobility": 5.0, "size": 200.0,
          "c0": 0.5, "epsilon": 0.01}


def pfhub1_free_energy() -> FreeEnergy:
    """``5 (c - 0.3)^2 (0.7 - c)^2``."""
    return polynomial(PFHUB1["rho"], PFHUB1["ca"], PFHUB1["cb"])


def pfhub1_initial(x: np.ndarray) -> np.ndarray:
    """The published initial concentration at points ``x (2, ...)`` -> ``(...)``."""
    X, Y = x[0], x[1]
    e = PFHUB1["epsilon"]
    return PFHUB1["c0"] + e * (np.cos(0.105 * X) * np.cos(0.11 * Y)
                               + (np.cos(0.13 * X) * np.cos(0.087 * Y)) ** 2
                               + np.cos(0.025 * X - 0.15 * Y) * np.cos(0.07 * X - 0.02 * Y))


def pfhub1_gradient(x: np.ndarray) -> np.ndarray:
    """Exact gradient ``(2, ...)`` of :func:`pfhub1_initial` at ``x (2, ...)``."""
    X, Y = x[0], x[1]
    e = PFHUB1["epsilon"]
    a = np.cos(0.13 * X) * np.cos(0.087 * Y)
    u, v = 0.025 * X - 0.15 * Y, 0.07 * X - 0.02 * Y
    gx = (-0.105 * np.sin(0.105 * X) * np.cos(0.11 * Y)
          + 2 * a * (-0.13 * np.sin(0.13 * X) * np.cos(0.087 * Y))
          - 0.025 * np.sin(u) * np.cos(v) - 0.07 * np.cos(u) * np.sin(v))
    gy = (-0.11 * np.cos(0.105 * X) * np.sin(0.11 * Y)
          + 2 * a * (-0.087 * np.cos(0.13 * X) * np.sin(0.087 * Y))
          + 0.15 * np.sin(u) * np.cos(v) + 0.02 * np.cos(u) * np.sin(v))
    return e * np.asarray([gx, gy])
