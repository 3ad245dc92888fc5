"""Volume averages over micro quadrature points and the Hill–Mandel condition.

Micro fields live at the quadrature points of a cell, tensor indices first:
``field (*idx, n_el, n_qp)``, with the quadrature weights times Jacobians
``dx (n_el, n_qp)``. The average over the cell ``Y`` is
``<f> = (1/|Y|) int_Y f = sum(f dx) / |Y|``.

Hill–Mandel macro-homogeneity: for a micro flux ``q`` in equilibrium and a micro
measure ``g`` (gradient, strain or ``F``) compatible with an admissible boundary
condition (KUBC, periodic, TUBC), the average work equals the work of the
averages, ``<q : g> = <q> : <g>``. :func:`hill_mandel` measures the residual of
one micro solve; :func:`hill_mandel_form` the bilinear form
``<q_a : g_b> - <q_a> : <g_b>`` of several load cases (for linear cells, the
residual at any input is a quadratic form of the input). These are the only
Hill–Mandel computations of fe2: the RVE's ``info["hill_mandel"]``,
:func:`fe2.verify.hill_mandel` and the ``hill_mandel`` verification study use them.

>>> import numpy as np
>>> dx = np.full((4, 1), 0.25)                      # four equal elements, |Y| = 1
>>> g = np.array([[[1.0], [1.0], [3.0], [3.0]]])    # (1, 4, 1): a piecewise gradient
>>> q = 2.0 * g                 # its flux in a homogeneous conductor: not in equilibrium
>>> hm = hill_mandel(q, g, dx)                      # <q g> = 10, <q> <g> = 8
>>> float(hm.mean_flux[0]), float(hm.mean_measure[0]), float(hm.residual)
(4.0, 2.0, 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["HillMandel", "volume_average", "hill_mandel", "hill_mandel_form"]


@dataclass(frozen=True)
class HillMandel:
    """Hill–Mandel averages of one micro field pair (from :func:`hill_mandel`).

    Attributes
    ----------
    mean_flux, mean_measure : ndarray (*idx,)
        ``<q>`` and ``<g>``.
    residual : float
        ``|<q : g> - <q> : <g>|`` (flux units times measure units, e.g. J/m^3).
    relative : float
        ``residual / (|<q>| |<g>|)`` (Frobenius norms; ``residual`` when a mean is zero).
    """

    mean_flux: np.ndarray
    mean_measure: np.ndarray
    residual: float
    relative: float


def _volume(dx: np.ndarray, volume: float | None) -> float:
    return float(np.sum(dx)) if volume is None else float(volume)


def volume_average(field: np.ndarray, dx: np.ndarray, volume: float | None = None) -> np.ndarray:
    """``<field> (*idx,)`` of a quadrature field ``(*idx, n_el, n_qp)``.

    ``dx (n_el, n_qp)``: weights times Jacobians; ``volume`` defaults to ``sum(dx)``
    (give the box volume when the mesh does not fill the box).
    """
    dx = np.asarray(dx, dtype=float)
    return np.einsum("...eq,eq->...", np.asarray(field, dtype=float), dx) / _volume(dx, volume)


def hill_mandel_form(
    flux: np.ndarray, measure: np.ndarray, dx: np.ndarray, volume: float | None = None
) -> np.ndarray:
    """Bilinear Hill–Mandel form ``M[a, b] = <q_a : g_b> - <q_a> : <g_b>``.

    Parameters
    ----------
    flux : ndarray (k, *idx, n_el, n_qp)
        Micro fluxes ``q_a`` of ``k`` load cases.
    measure : ndarray (l, *idx, n_el, n_qp)
        Micro measures ``g_b`` of ``l`` load cases.
    dx : ndarray (n_el, n_qp)
        Quadrature weights times Jacobians.
    volume : float, optional
        Cell volume ``|Y|`` (default ``sum(dx)``).

    Returns
    -------
    ndarray (k, l)
        Zero to round-off for fluxes in equilibrium and measures of admissible
        fluctuations.
    """
    dx = np.asarray(dx, dtype=float)
    V = _volume(dx, volume)
    q = np.asarray(flux, dtype=float)
    g = np.asarray(measure, dtype=float)
    q = q.reshape(q.shape[0], -1, *dx.shape)
    g = g.reshape(g.shape[0], -1, *dx.shape)
    if q.shape[1:] != g.shape[1:]:
        raise ValueError(
            f"hill_mandel_form: flux {flux.shape} and measure {measure.shape} do not match "
            f"(expected (k, *idx, {dx.shape[0]}, {dx.shape[1]}) for both)"
        )
    work = np.einsum("aieq,bieq,eq->ab", q, g, dx) / V
    return work - volume_average(q, dx, V) @ volume_average(g, dx, V).T


def hill_mandel(
    flux: np.ndarray, measure: np.ndarray, dx: np.ndarray, volume: float | None = None
) -> HillMandel:
    """Hill–Mandel residual ``|<q : g> - <q> : <g>|`` of one micro solve.

    ``flux``, ``measure``: ``(*idx, n_el, n_qp)`` micro flux and measure; ``dx (n_el,
    n_qp)``; ``volume`` the cell volume (default ``sum(dx)``).
    """
    q = np.asarray(flux, dtype=float)
    g = np.asarray(measure, dtype=float)
    V = _volume(np.asarray(dx), volume)
    residual = abs(float(hill_mandel_form(q[None], g[None], dx, V)[0, 0]))
    mq, mg = volume_average(q, dx, V), volume_average(g, dx, V)
    scale = float(np.linalg.norm(mq) * np.linalg.norm(mg))
    return HillMandel(mq, mg, residual, residual / scale if scale > 0 else residual)
