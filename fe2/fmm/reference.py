"""Closed-form potentials: a Gaussian density and a Gaussian modulated by plane waves.

The kernel is ``1 / |x - y|`` throughout fe2.fmm (no ``1/(4 pi)``): the potential of a
density ``rho`` is ``phi(x) = integral rho(y) / |x - y| dy`` and ``-lap phi = 4 pi rho``.

For ``rho(y) = (a/pi)^{3/2} exp(-a |y - c|^2)`` (``a = 1 / (2 sigma^2)``, unit mass) and a
wave vector ``k``, with ``d = x - c``, ``r = |d|``, ``beta = |k|^2 / (4 a)`` and
``gamma = a r^2 - beta - i k.d``, writing ``1/|x-y|`` as ``(2/sqrt(pi)) int_0^inf
exp(-s^2 |x-y|^2) ds`` makes the ``y`` integral Gaussian and the ``s`` integral an error
function of complex argument::

    Phi_k(x) = integral rho(y) exp(i k.y) / |x - y| dy
             = sqrt(a) exp(i k.c) erf(sqrt(gamma)) exp(-beta) / sqrt(gamma)
             = sqrt(a) [exp(i k.c - beta) - exp(i k.x - a r^2) w(i sqrt(gamma))] / sqrt(gamma),

with ``w`` the Faddeeva function (:func:`scipy.special.wofz`, bounded in the upper half
plane, so the second form neither overflows nor cancels for large ``|k| sigma``). For
``k = 0`` this is ``erf(sqrt(a) r) / r``. For ``|k| sigma >> 1``,
``Phi_k(x) ~ 4 pi rho(x) exp(i k.x) / |k|^2``: the local corrector of homogenization.

Examples
--------
>>> import numpy as np
>>> x = np.array([[0.3], [0.0], [0.0]])
>>> float(gaussian_potential(x, (0, 0, 0), 1.0)[0] * 0.3)  # erf(0.3 / sqrt 2)
0.23582284437790513
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import erf, wofz

__all__ = ["gaussian_potential", "gaussian_wave_potential", "ModulatedGaussian"]


def _points(x, name: str = "targets") -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] != 3:
        raise ValueError(f"{name}: expected an array of shape (3, n), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: contains non-finite coordinates")
    return x


def _center_sigma(center, sigma) -> tuple[np.ndarray, float]:
    c = np.asarray(center, dtype=float).reshape(-1)
    if c.shape != (3,) or not np.all(np.isfinite(c)):
        raise ValueError(f"center: expected 3 finite coordinates, got {center!r}")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma: expected a positive width, got {sigma!r}")
    return c, float(sigma)


def gaussian_potential(x, center: Sequence[float], sigma: float) -> np.ndarray:
    """Potential of the unit-mass Gaussian of width ``sigma`` at ``center``.

    Parameters
    ----------
    x : array (3, n)
        Targets.
    center : 3 floats
        Centre of the density.
    sigma : float
        Standard deviation of the density (length).

    Returns
    -------
    array (n,)
        ``erf(r / (sqrt 2 sigma)) / r`` (``sqrt(2/pi) / sigma`` at ``r = 0``).
    """
    x = _points(x)
    c, sigma = _center_sigma(center, sigma)
    r = np.linalg.norm(x - c[:, None], axis=0)
    out = np.empty_like(r)
    small = r < 1e-8 * sigma
    out[small] = np.sqrt(2.0 / np.pi) / sigma
    rs = r[~small]
    out[~small] = erf(rs / (np.sqrt(2.0) * sigma)) / rs
    return out


def gaussian_wave_potential(x, center: Sequence[float], sigma: float,
                            k: Sequence[float]) -> np.ndarray:
    """``Phi_k(x) = integral rho(y) exp(i k.y) / |x - y| dy`` for the unit-mass Gaussian.

    Parameters
    ----------
    x : array (3, n)
        Targets.
    center, sigma
        The Gaussian ``rho`` (see :func:`gaussian_potential`).
    k : 3 floats
        Wave vector (1/length).

    Returns
    -------
    complex array (n,)
        The potential; its real part is the potential of ``rho(y) cos(k.y)``.
    """
    x = _points(x)
    c, sigma = _center_sigma(center, sigma)
    k = np.asarray(k, dtype=float).reshape(-1)
    if k.shape != (3,) or not np.all(np.isfinite(k)):
        raise ValueError(f"k: expected 3 finite components, got {k!r}")
    if not np.any(k):
        return gaussian_potential(x, c, sigma).astype(complex)
    a = 0.5 / sigma**2
    d = x - c[:, None]
    r2 = np.sum(d * d, axis=0)
    beta = float(k @ k) / (4.0 * a)
    kd = k @ d
    gamma = a * r2 - beta - 1j * kd
    sg = np.sqrt(gamma)
    out = np.empty(r2.shape, dtype=complex)
    small = np.abs(gamma) < 1e-6
    big = ~small
    out[big] = np.sqrt(a) * (np.exp(1j * (k @ c) - beta)
                             - np.exp(1j * (k @ x[:, big]) - a * r2[big]) * wofz(1j * sg[big])
                             ) / sg[big]
    # erf(z)/z = 2/sqrt(pi) (1 - z^2/3 + z^4/10 - ...) near gamma = 0
    g = gamma[small]
    out[small] = (np.sqrt(a) * np.exp(1j * (k @ c) - beta) * 2 / np.sqrt(np.pi)
                  * (1 - g / 3 + g * g / 10))
    return out


@dataclass(frozen=True)
class ModulatedGaussian:
    """A Gaussian modulated by periodic waves, with closed-form potentials.

    ``q(y, z) = rho(y) (1 + sum_m a_m cos(2 pi n_m . z + theta_m))`` with ``rho`` the
    unit-mass Gaussian of width ``sigma`` at ``center`` and integer vectors ``n_m``:
    ``q`` is 1-periodic in ``z`` and its cell average is ``<q>(y) = rho(y)``. With
    ``z = y / eps`` the wave vectors are ``k_m = 2 pi n_m / eps``.

    Attributes
    ----------
    center : tuple of 3 floats
    sigma : float
    modes : tuple of (amplitude, (n1, n2, n3), phase)
        Amplitudes (dimensionless), integer wave numbers, phases (radians).
    """

    center: tuple[float, float, float] = (0.5, 0.5, 0.5)
    sigma: float = 0.1
    modes: tuple = ((0.5, (1, 0, 0), 0.0), (0.3, (0, 1, 1), 0.7))

    def __post_init__(self):
        _center_sigma(self.center, self.sigma)
        for i, m in enumerate(self.modes):
            try:
                amp, n, theta = m
                n = np.asarray(n)
                ok = (np.isfinite(amp) and np.isfinite(theta) and n.shape == (3,)
                      and np.all(n == np.round(n)) and np.any(n))
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ValueError(f"modes[{i}]: expected (amplitude, (n1, n2, n3) nonzero "
                                 f"integers, phase), got {m!r}")

    def rho(self, y) -> np.ndarray:
        """The averaged density ``<q>(y)`` at points ``y`` (3, n) -> (n,) (1/length^3)."""
        y = _points(y, "y")
        c = np.asarray(self.center, dtype=float)[:, None]
        r2 = np.sum((y - c) ** 2, axis=0)
        return np.exp(-0.5 * r2 / self.sigma**2) / (2 * np.pi * self.sigma**2) ** 1.5

    def q(self, y, z) -> np.ndarray:
        """The two-scale density ``q(y, z)``; ``y``, ``z`` (3, n) -> (n,)."""
        z = np.asarray(z, dtype=float)
        mod = np.ones(z.shape[1])
        for amp, n, theta in self.modes:
            mod = mod + amp * np.cos(2 * np.pi * (np.asarray(n, dtype=float) @ z) + theta)
        return self.rho(y) * mod

    def averaged_potential(self, x) -> np.ndarray:
        """Potential of ``<q> = rho`` at targets ``x`` (3, n) -> (n,)."""
        return gaussian_potential(x, self.center, self.sigma)

    def potential(self, x, eps: float) -> np.ndarray:
        """Exact potential of the resolved density ``q(y, y/eps)`` at ``x`` (3, n) -> (n,)."""
        if not (np.isfinite(eps) and eps > 0):
            raise ValueError(f"eps: expected a positive period, got {eps!r}")
        out = self.averaged_potential(x)
        for amp, n, theta in self.modes:
            k = 2 * np.pi * np.asarray(n, dtype=float) / eps
            out = out + amp * np.real(np.exp(1j * theta)
                                      * gaussian_wave_potential(x, self.center, self.sigma, k))
        return out

    def corrector(self, x, eps: float) -> np.ndarray:
        """Leading homogenization error ``eps^2 rho(x) sum a cos(k.x + th) / (pi |n|^2)``.

        The two-scale expansion ``phi = phi_0 + eps phi_1 + eps^2 phi_2(x, x/eps) + ...``
        of ``-lap phi = 4 pi q(x, x/eps)`` gives ``lap_z phi_1 = 0`` (so ``phi_1 = 0``)
        and ``-lap_z phi_2 = 4 pi (q - <q>)``; this is ``eps^2 phi_2``. Targets (3, n).
        """
        x = _points(x)
        out = np.zeros(x.shape[1])
        for amp, n, theta in self.modes:
            n = np.asarray(n, dtype=float)
            out += amp * np.cos(2 * np.pi * (n @ x) / eps + theta) / (np.pi * (n @ n))
        return eps**2 * self.rho(x) * out
