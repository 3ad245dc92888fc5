"""Tensor quadrature on a box split into cells: Gauss–Legendre or midpoint.

``"gauss"``: ``order`` Gauss–Legendre points per cell and direction, exact for
polynomials of degree ``2 order - 1`` per cell. ``"midpoint"``: ``order`` equally spaced
midpoints per cell and direction, i.e. the uniform midpoint rule with ``cells * order``
points per direction: second order in general, but spectrally accurate for smooth
integrands that vanish (with their derivatives) at the box faces, and exact on every
whole period for trigonometric polynomials of degree below ``order`` per cell, which is
what a density oscillating with one period per cell needs.

>>> import numpy as np
>>> y, w = tensor_gauss([[0, 1], [0, 2], [0, 3]], cells=2, order=2)
>>> y.shape, round(float(w.sum()), 12)
((3, 64), 6.0)
"""

from __future__ import annotations

from typing import Literal

import numpy as np

__all__ = ["tensor_gauss", "Rule"]

Rule = Literal["gauss", "midpoint"]


def _count(v, name: str) -> np.ndarray:
    a = np.broadcast_to(np.asarray(v), (3,))
    if not np.all(a == np.round(a)) or np.any(a < 1):
        raise ValueError(f"{name}: expected a positive integer (or 3 of them), got {v!r}")
    return a.astype(int)


def tensor_gauss(box, cells, order, rule: Rule = "gauss") -> tuple[np.ndarray, np.ndarray]:
    """Points and weights of an ``order``-point rule in each of ``cells`` cells.

    Parameters
    ----------
    box : array-like (3, 2)
        ``[[x0, x1], [y0, y1], [z0, z1]]`` (length).
    cells : int or 3 ints
        Cells per direction.
    order : int or 3 ints
        Points per cell and direction.
    rule : ``"gauss"`` or ``"midpoint"``
        Gauss–Legendre or equally spaced midpoints (see the module docstring).

    Returns
    -------
    points : array (3, n)
        ``n = prod(cells * order)``.
    weights : array (n,)
        Volume weights (length^3), summing to the box volume.
    """
    b = np.asarray(box, dtype=float)
    if b.shape != (3, 2) or not np.all(b[:, 1] > b[:, 0]):
        raise ValueError(f"box: expected [[x0, x1], [y0, y1], [z0, z1]] with x0 < x1, "
                         f"got {box!r}")
    cells, order = _count(cells, "cells"), _count(order, "order")
    axes, wts = [], []
    if rule not in ("gauss", "midpoint"):
        raise ValueError(f"rule: expected 'gauss' or 'midpoint', got {rule!r}")
    for d in range(3):
        if rule == "gauss":
            xg, wg = np.polynomial.legendre.leggauss(int(order[d]))
        else:
            xg = (2 * np.arange(order[d]) + 1) / order[d] - 1
            wg = np.full(order[d], 2.0 / order[d])
        h = (b[d, 1] - b[d, 0]) / cells[d]
        left = b[d, 0] + h * np.arange(cells[d])
        axes.append((left[:, None] + 0.5 * h * (xg + 1)).ravel())
        wts.append(np.tile(0.5 * h * wg, cells[d]))
    pts = np.array(np.meshgrid(*axes, indexing="ij")).reshape(3, -1)
    w = np.einsum("i,j,k->ijk", *wts).ravel()
    return pts, w
