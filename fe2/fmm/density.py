"""Oscillating densities and the averaging estimators of FMM-HMM.

An :class:`OscillatingDensity` is ``q(y, y/eps)`` on a box, with ``q(y, z)`` 1-periodic in
each component of the fast variable ``z`` (period cell ``[0, 1]^3``). Its average over
the fast variable, ``<q>(y) = integral_{[0,1]^3} q(y, z) dz``, is what the macro
quadrature of FMM-HMM needs; two estimators give it:

- ``"cell"``: the midpoint (periodic trapezoidal) rule with ``n^3`` points in the unit
  cell, applied to the two-scale function ``q(y, z)``; exact for trigonometric
  polynomials of degree below ``n`` in ``z``, spectrally accurate for smooth ``q``.
- ``"kernel"`` (HMM style: only the resolved density ``q_eps(y) = q(y, y/eps)`` is
  sampled): a weighted mean of ``q_eps`` on a grid of spacing ``eps / n`` about ``y``,
  with the tensor-product kernel made of ``m`` convolved one-period box filters (a
  B-spline of order ``m`` spanning ``m`` periods; ``n`` samples per period). A single box
  filter averages the fast part out only where the slow factor is constant: its
  transform has simple zeros at the fast wave numbers, which leaves an
  ``O(eps |grad <q>|)`` error, and the macro rule cannot integrate that oscillating error
  away. ``m`` convolved boxes have zeros of order ``m``, so the fast part leaves
  ``O(eps^m |grad^m <q>|)``, for trigonometric polynomials of degree below ``n`` in
  ``z``. The slow part leaves the filter error ``m (n^2 - 1) eps^2 lap<q>(y) / (24 n^2)
  + O(eps^4)``. The samples reach ``m eps / 2`` beyond the point, so ``q`` must be
  defined that far outside the box.

Both cost a number of samples per macro point that does not depend on ``eps``.

Examples
--------
>>> import numpy as np
>>> d = OscillatingDensity(lambda y, z: 1 + np.cos(2 * np.pi * z[0]), 0.01, [[0, 1]] * 3)
>>> float(d.averaged(np.array([[0.5], [0.5], [0.5]]))[0])
1.0
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np

from .reference import _points

__all__ = ["OscillatingDensity", "Estimator"]

log = logging.getLogger(__name__)

Estimator = Literal["cell", "kernel"]


def _midpoints(n: int) -> np.ndarray:
    """``n^3`` midpoints of the unit cube, shape (3, n^3)."""
    s = (np.arange(n) + 0.5) / n
    return np.array(np.meshgrid(s, s, s, indexing="ij")).reshape(3, -1)


class OscillatingDensity:
    """The density ``q(y, y/eps)`` on ``box``, ``q`` 1-periodic in its second argument.

    Parameters
    ----------
    q : callable ``(y, z) -> values``
        ``y``, ``z`` arrays (3, n) (slow position, length; fast variable, dimensionless),
        returns (n,) (charge per volume). Must be 1-periodic in each component of ``z``.
    eps : float
        Period of the fast scale (length), > 0.
    box : array-like (3, 2)
        ``[[x0, x1], [y0, y1], [z0, z1]]``: the support of the density (the integral is
        taken over this box; ``q`` is taken as zero outside).
    """

    def __init__(self, q: Callable[[np.ndarray, np.ndarray], np.ndarray], eps: float, box):
        if not callable(q):
            raise TypeError(f"q: expected a callable q(y, z), got {type(q).__name__}")
        if not (isinstance(eps, int | float | np.floating) and np.isfinite(eps) and eps > 0):
            raise ValueError(f"eps: expected a positive finite period, got {eps!r}")
        b = np.asarray(box, dtype=float)
        if b.shape != (3, 2) or not np.all(np.isfinite(b)) or not np.all(b[:, 1] > b[:, 0]):
            raise ValueError(f"box: expected [[x0, x1], [y0, y1], [z0, z1]] with x0 < x1, "
                             f"got {box!r}")
        self.q = q
        self.eps = float(eps)
        self.box = b

    def __repr__(self) -> str:
        return f"OscillatingDensity(eps={self.eps:g}, box={self.box.tolist()})"

    def _call(self, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        v = np.asarray(self.q(y, z), dtype=float)
        if v.shape != (y.shape[1],):
            raise ValueError(f"q(y, z) returned shape {v.shape} for {y.shape[1]} points; "
                             f"expected ({y.shape[1]},)")
        return v

    def resolved(self, y) -> np.ndarray:
        """``q(y, y/eps)`` at points ``y`` (3, n) -> (n,)."""
        y = _points(y, "y")
        return self._call(y, y / self.eps)

    def averaged(self, y, estimator: Estimator = "cell", n: int = 4,
                 periods: int = 3) -> np.ndarray:
        """Estimate ``<q>(y)`` at points ``y`` (3, n_pts) -> (n_pts,).

        Parameters
        ----------
        y : array (3, n_pts)
            Macro points (length).
        estimator : ``"cell"`` or ``"kernel"``
            See the module docstring.
        n : int
            Midpoint samples per period and direction (``n^3`` per period cell).
        periods : int
            ``"kernel"`` only: the number ``m`` of convolved one-period boxes (the kernel
            spans ``m`` periods); 3 leaves an ``O(eps^3)`` fast-part error.
        """
        y = _points(y, "y")
        if not (isinstance(n, int | np.integer) and n >= 1):
            raise ValueError(f"n: expected a positive number of samples, got {n!r}")
        if not (isinstance(periods, int | np.integer) and periods >= 1):
            raise ValueError(f"periods: expected a positive integer, got {periods!r}")
        npt = y.shape[1]
        if estimator == "cell":
            z = _midpoints(n)
            out = np.empty(npt)
            chunk = max(1, 2**20 // z.shape[1])
            for i in range(0, npt, chunk):
                yi = y[:, i:i + chunk]
                m = yi.shape[1]
                vals = self._call(np.repeat(yi, z.shape[1], axis=1), np.tile(z, m))
                out[i:i + chunk] = vals.reshape(m, -1).mean(axis=1)
            return out
        if estimator == "kernel":
            w1 = np.ones(1)
            for _ in range(periods):
                w1 = np.convolve(w1, np.full(n, 1.0 / n))
            o1 = (np.arange(w1.size) - 0.5 * (w1.size - 1)) * (self.eps / n)
            s = np.array(np.meshgrid(o1, o1, o1, indexing="ij")).reshape(3, -1)
            kern = np.einsum("i,j,k->ijk", w1, w1, w1).ravel()
            out = np.empty(npt)
            chunk = max(1, 2**20 // s.shape[1])
            for i in range(0, npt, chunk):
                yi = y[:, i:i + chunk]
                m = yi.shape[1]
                pts = (yi[:, :, None] + s[:, None, :]).reshape(3, -1)
                vals = self._call(pts, pts / self.eps)
                out[i:i + chunk] = vals.reshape(m, -1) @ kern
            return out
        raise ValueError(f"estimator: expected 'cell' or 'kernel', got {estimator!r}")
