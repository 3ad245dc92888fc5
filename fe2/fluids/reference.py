"""Reference solutions: published cavity tables and closed forms for channel and shear flows.

Nothing here calls the solver; these are the independent references of the tests
and of ``verification/fluids.py``.

Sources
-------
* U. Ghia, K. N. Ghia, C. T. Shin, "High-Re solutions for incompressible flow using
  the Navier–Stokes equations and a multigrid method", J. Comput. Phys. 48 (1982)
  387–411, Tables I (``u`` on the vertical centreline) and II (``v`` on the horizontal
  centreline), 129 x 129 (Re 100, 400, 1000) multigrid solutions. The values were
  taken from several public copies of the tables, which agree digit for digit
  (one copy prints Re 1000, x = 0.9063 as -0.51500 against -0.51550 in all others;
  the latter is used). Re 400, x = 0.9063, v = -0.23827 is non-monotone against its
  neighbours in every copy (a misprint of the original): :data:`GHIA_SUSPECT`.
* Oldroyd-B start-up of simple shear (Bird, Armstrong, Hassager, Dynamics of
  Polymeric Liquids vol. 1, 2nd ed., 1987): with ``Wi = lam * rate``,
  ``tau_xy = eta_s rate + eta_p rate (1 - exp(-t/lam))`` and
  ``N1 = 2 eta_p lam rate^2 [1 - (1 + t/lam) exp(-t/lam)]``.
* Shear viscosity of the Lennard-Jones truncated-shifted fluid (cutoff 2.5 sigma), the
  correlation of S. Lautenschläger et al. (2019) as transcribed in public code
  (``eta = b rho exp(c rho + (d rho^4 - rho)/T) + 0.1786 + 0.06529 T - 1.158 rho
  + 1.347 rho^2 + 0.3194 rho / T``, ``b, c, d = 0.5736, 1.38, 2.438``; reduced units);
  the coefficients were not checked against the paper itself.
* Start-up Couette flow between a fixed wall ``y = 0`` and a wall moving at ``U`` from
  ``t = 0`` at ``y = h``: ``u = U y/h - (2U/pi) sum_k (1/k) sin(k pi (1 - y/h))...``
  written here as ``U [y/h - sum_k 2/(k pi) (-1)^(k+1) sin(k pi y/h) exp(-k^2 pi^2 nu t/h^2)]``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "GHIA_SUSPECT",
    "GHIA_U",
    "GHIA_V",
    "GHIA_X",
    "GHIA_Y",
    "couette_startup",
    "ljts_viscosity",
    "oldroyd_b_start_up",
    "poiseuille",
]

#: y of the vertical-centreline points (Ghia Table I), top to bottom.
GHIA_Y = np.array([1.0000, 0.9766, 0.9688, 0.9609, 0.9531, 0.8516, 0.7344, 0.6172, 0.5000,
                   0.4531, 0.2813, 0.1719, 0.1016, 0.0703, 0.0625, 0.0547, 0.0000])
#: u(0.5, y) by Reynolds number.
GHIA_U = {
    100: np.array([1.00000, 0.84123, 0.78871, 0.73722, 0.68717, 0.23151, 0.00332, -0.13641,
                   -0.20581, -0.21090, -0.15662, -0.10150, -0.06434, -0.04775, -0.04192,
                   -0.03717, 0.00000]),
    400: np.array([1.00000, 0.75837, 0.68439, 0.61756, 0.55892, 0.29093, 0.16256, 0.02135,
                   -0.11477, -0.17119, -0.32726, -0.24299, -0.14612, -0.10338, -0.09266,
                   -0.08186, 0.00000]),
    1000: np.array([1.00000, 0.65928, 0.57492, 0.51117, 0.46604, 0.33304, 0.18719, 0.05702,
                    -0.06080, -0.10648, -0.27805, -0.38289, -0.29730, -0.22220, -0.20196,
                    -0.18109, 0.00000]),
}
#: x of the horizontal-centreline points (Ghia Table II), right to left.
GHIA_X = np.array([1.0000, 0.9688, 0.9609, 0.9531, 0.9453, 0.9063, 0.8594, 0.8047, 0.5000,
                   0.2344, 0.2266, 0.1563, 0.0938, 0.0781, 0.0703, 0.0625, 0.0000])
#: v(x, 0.5) by Reynolds number.
GHIA_V = {
    100: np.array([0.00000, -0.05906, -0.07391, -0.08864, -0.10313, -0.16914, -0.22445,
                   -0.24533, 0.05454, 0.17527, 0.17507, 0.16077, 0.12317, 0.10890, 0.10091,
                   0.09233, 0.00000]),
    400: np.array([0.00000, -0.12146, -0.15663, -0.19254, -0.22847, -0.23827, -0.44993,
                   -0.38598, 0.05186, 0.30174, 0.30203, 0.28124, 0.22965, 0.20920, 0.19713,
                   0.18360, 0.00000]),
    1000: np.array([0.00000, -0.21388, -0.27669, -0.33714, -0.39188, -0.51550, -0.42665,
                    -0.31966, 0.02526, 0.32235, 0.33075, 0.37095, 0.32627, 0.30353, 0.29012,
                    0.27485, 0.00000]),
}
#: (Reynolds, table, index) of printed values inconsistent with their neighbours.
GHIA_SUSPECT = {(400, "v", 5)}


def poiseuille(y: np.ndarray, gradient: float, viscosity: float, height: float = 1.0):
    """Plane Poiseuille profile ``u(y) = G y (h - y) / (2 eta)`` for ``-dp/dx = G``."""
    y = np.asarray(y, float)
    return gradient * y * (height - y) / (2.0 * viscosity)


def couette_startup(y: np.ndarray, t: float, speed: float, nu: float, height: float = 1.0,
                    terms: int = 2000) -> np.ndarray:
    """Start-up Couette velocity ``u(y, t)`` (top wall at ``speed`` from ``t = 0``), series."""
    y = np.asarray(y, float) / height
    k = np.arange(1, terms + 1)[:, None]
    s = (2.0 / (k * np.pi)) * (-1.0) ** (k + 1) * np.sin(k * np.pi * y[None]) * np.exp(
        -(k * np.pi) ** 2 * nu * t / height**2
    )
    return speed * (y - s.sum(axis=0))


def oldroyd_b_start_up(t: np.ndarray, rate: float, eta_s: float, eta_p: float, lam: float):
    """Oldroyd-B start-up of simple shear: ``(tau_xy(t), N1(t))`` (Pa), fluid at rest before 0."""
    t = np.asarray(t, float)
    e = np.exp(-t / lam)
    tau = eta_s * rate + eta_p * rate * (1.0 - e)
    n1 = 2.0 * eta_p * lam * rate**2 * (1.0 - (1.0 + t / lam) * e)
    return tau, n1


def ljts_viscosity(temperature: float, density: float) -> float:
    """Zero-shear viscosity of the LJTS fluid (rc = 2.5), reduced units (Lautenschläger 2019)."""
    T, r = float(temperature), float(density)
    eta = 0.5736 * r * np.exp(1.38 * r + (2.438 * r**4 - r) / T)
    return float(eta + 0.1786 + 0.06529 * T - 1.158 * r + 1.347 * r**2 + 0.3194 * r / T)
