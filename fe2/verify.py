"""Verification helpers shared by the tests and the studies in ``verification/``.

* :func:`observed_rate`: least-squares slope of ``log e`` against ``log h``.
* :func:`check_tangent`: finite-difference check of an oracle's tangent.
* :func:`manufactured_source`: the body load ``f = -div q(grad u*)`` that makes a
  chosen ``u*`` the exact solution, for *any* oracle (by central differences of
  the oracle's flux in space, accurate to ``O(h^2)``).
* :func:`field_errors`: L2 and H1-seminorm errors of a finite-element field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import skfem

__all__ = [
    "observed_rate",
    "check_tangent",
    "manufactured_source",
    "measure_from_gradient",
    "field_errors",
]


def observed_rate(h: np.ndarray, errors: np.ndarray) -> float:
    """Slope of ``log(errors)`` against ``log(h)`` by least squares."""
    h = np.asarray(h, dtype=float)
    e = np.asarray(errors, dtype=float)
    if h.shape != e.shape or h.size < 2:
        raise ValueError(f"need at least two (h, error) pairs, got {h.shape} and {e.shape}")
    if np.any(h <= 0) or np.any(e <= 0):
        raise ValueError("h and errors must be positive to take logarithms")
    return float(np.polyfit(np.log(h), np.log(e), 1)[0])


def _perturb_eval(oracle: Any, g: np.ndarray, state: Any, x: Any) -> np.ndarray:
    return np.asarray(oracle.evaluate(g, x=x, state=state).flux)


def check_tangent(
    oracle: Any,
    g: np.ndarray,
    state: dict | None = None,
    delta: float = 1e-6,
    x: np.ndarray | None = None,
) -> float:
    """Max relative difference between the oracle's tangent and central differences.

    Parameters
    ----------
    oracle : Oracle
        Any oracle returning a tangent.
    g : ndarray
        Input ``(*idx, *pts)``.
    state : dict, optional
        Committed history passed to every evaluation.
    delta : float
        Perturbation, relative to ``max(1, |g|_inf)``.
    x : ndarray, optional
        Point coordinates for oracles that need them.

    Returns
    -------
    float
        ``max |T - T_fd| / max |T|`` over all points and components.
    """
    g = np.asarray(g, dtype=float)
    resp = oracle.evaluate(g, x=x, state=state)
    tangent = np.asarray(resp.tangent)
    nidx = len(oracle.input_shape)
    ishape = g.shape[:nidx]
    step = delta * max(1.0, float(np.max(np.abs(g))))
    fd = np.zeros_like(tangent)
    fshape = resp.flux.shape[: resp.flux.ndim - (g.ndim - nidx)]
    for idx in np.ndindex(*ishape):
        gp = g.copy()
        gm = g.copy()
        gp[idx] += step
        gm[idx] -= step
        fp = _perturb_eval(oracle, gp, state, x)
        dq = (fp - _perturb_eval(oracle, gm, state, x)) / (2 * step)
        fd[(slice(None),) * len(fshape) + idx] = dq
    scale = max(float(np.max(np.abs(tangent))), 1e-300)
    return float(np.max(np.abs(tangent - fd)) / scale)


def measure_from_gradient(measure: str, grad: np.ndarray) -> np.ndarray:
    """Oracle input from a displacement/temperature gradient ``(ncomp?, d, *pts)``."""
    if measure == "gradient":
        return grad
    if measure == "strain":
        return 0.5 * (grad + np.swapaxes(grad, 0, 1))
    if measure == "deformation_gradient":
        d = grad.shape[0]
        return grad + np.eye(d).reshape((d, d) + (1,) * (grad.ndim - 2))
    raise ValueError(f"no gradient-based input for measure {measure!r}")


def manufactured_source(
    oracle: Any,
    grad_exact: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    h: float = 1e-4,
) -> np.ndarray:
    """Body load ``f = -div q(grad u*)`` at points ``x`` ``(d, *pts)``.

    ``grad_exact(x)`` returns ``grad u*``: ``(d, *pts)`` for a scalar field,
    ``(d, d, *pts)`` (``[i, j] = d u_i / d x_j``) for a vector field. The
    divergence is taken by central differences of the oracle's flux with step
    ``h``, so the source is exact to ``O(h^2)`` for any (history-free) oracle.
    Returns ``(*pts,)`` for scalar problems and ``(d, *pts)`` for vector ones.
    """
    d = x.shape[0]
    div = None
    for j in range(d):
        xp = x.copy()
        xm = x.copy()
        xp[j] += h
        xm[j] -= h
        qp = oracle.evaluate(measure_from_gradient(oracle.measure, grad_exact(xp))).flux
        qm = oracle.evaluate(measure_from_gradient(oracle.measure, grad_exact(xm))).flux
        dq = (np.asarray(qp) - np.asarray(qm)) / (2 * h)
        term = dq[j] if oracle.measure == "gradient" else dq[:, j]
        div = term if div is None else div + term
    return -div


def field_errors(
    basis: skfem.CellBasis,
    u: np.ndarray,
    exact: Callable[[np.ndarray], np.ndarray],
    grad_exact: Callable[[np.ndarray], np.ndarray],
    intorder: int | None = None,
) -> tuple[float, float]:
    """L2 error and H1-seminorm error of the finite-element field ``u``.

    ``exact(x)`` returns ``(*pts)`` (scalar) or ``(d, *pts)``; ``grad_exact`` as
    in :func:`manufactured_source`. Integrated with a quadrature of order
    ``intorder`` (default: twice the element order plus 3).
    """
    if intorder is None:
        intorder = 2 * basis.elem.maxdeg + 3
    b = skfem.Basis(basis.mesh, basis.elem, intorder=intorder)
    uh = b.interpolate(u)
    x = b.global_coordinates().value
    ev = np.asarray(uh.value) - np.asarray(exact(x))
    eg = np.asarray(uh.grad) - np.asarray(grad_exact(x))
    nidx_v = ev.ndim - 2
    nidx_g = eg.ndim - 2
    l2 = np.sum(ev**2, axis=tuple(range(nidx_v))) if nidx_v else ev**2
    h1 = np.sum(eg**2, axis=tuple(range(nidx_g)))
    return float(np.sqrt(np.sum(l2 * b.dx))), float(np.sqrt(np.sum(h1 * b.dx)))
