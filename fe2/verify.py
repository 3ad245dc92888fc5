"""Verification helpers shared by the tests and the studies in ``verification/``.

* :func:`observed_rate`: least-squares slope of ``log e`` against ``log h``.
* :func:`check_tangent`: finite-difference check of an oracle's tangent.
* :func:`manufactured_source`: the body load ``f = -div q(grad u*)`` that makes a
  chosen ``u*`` the exact solution, for *any* oracle (by central differences of
  the oracle's flux in space, accurate to ``O(h^2)``). It tests the discretization
  only, never the law (a wrong law gives a consistent wrong source): use it for
  laws with no closed form, and a closed-form source for the others
  (``verification/mms.py`` derives them with sympy).
* :func:`field_errors`: L2 and H1-seminorm errors of a finite-element field.
* :func:`newton_orders`: observed convergence orders of a Newton residual history.
* :func:`hill_mandel`: the Hill–Mandel macro-homogeneity residual of an RVE solve,
  recomputed from the micro fields.
* :func:`apparent_ordering`: the ordering ``T_1 >= T_2 >= ...`` of apparent tensors in
  the sense of quadratic forms (e.g. Voigt >= KUBC >= periodic >= TUBC >= Reuss).
* Bounds, re-exported from :mod:`fe2.homogenization.bounds`: :func:`voigt_bound`,
  :func:`reuss_bound`, :func:`hashin_shtrikman` (conductivity, 2D/3D),
  :func:`hashin_shtrikman_elastic` (bulk and shear, 2D/3D), :func:`isotropic_moduli`.

>>> round(observed_rate([0.5, 0.25, 0.125], [0.1, 0.025, 0.00625]), 12)
2.0
>>> apparent_ordering([3.0, 2.0, 1.0]).holds
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import skfem

from fe2.tensors import tensor4_to_mandel

if TYPE_CHECKING:  # re-exported lazily by __getattr__ (fe2.homogenization is heavy to import)
    from fe2.homogenization.bounds import (
        Bounds,
        hashin_shtrikman,
        hashin_shtrikman_elastic,
        isotropic_moduli,
        reuss_bound,
        voigt_bound,
    )

__all__ = [
    "observed_rate",
    "check_tangent",
    "manufactured_source",
    "measure_from_gradient",
    "field_errors",
    "newton_orders",
    "HillMandel",
    "hill_mandel",
    "Ordering",
    "apparent_ordering",
    "Bounds",
    "voigt_bound",
    "reuss_bound",
    "hashin_shtrikman",
    "hashin_shtrikman_elastic",
    "isotropic_moduli",
]


_BOUNDS = (
    "Bounds",
    "voigt_bound",
    "reuss_bound",
    "hashin_shtrikman",
    "hashin_shtrikman_elastic",
    "isotropic_moduli",
)


def __getattr__(name: str) -> Any:
    """Re-export the bounds of :mod:`fe2.homogenization.bounds`, imported on first use."""
    if name in _BOUNDS:
        from fe2.homogenization import bounds

        return getattr(bounds, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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

    Because the source comes from the oracle itself, a manufactured solution
    built with it cannot detect a wrong constitutive law; keep it for laws with
    no closed form (RVE and other micro oracles) and derive the source of a
    closed-form law independently (e.g. with sympy).
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
    x = np.asarray(b.global_coordinates())
    ev = np.asarray(uh) - np.asarray(exact(x))
    eg = np.asarray(uh.grad) - np.asarray(grad_exact(x))
    nidx_v = ev.ndim - 2
    nidx_g = eg.ndim - 2
    l2 = np.sum(ev**2, axis=tuple(range(nidx_v))) if nidx_v else ev**2
    h1 = np.sum(eg**2, axis=tuple(range(nidx_g)))
    return float(np.sqrt(np.sum(l2 * b.dx))), float(np.sqrt(np.sum(h1 * b.dx)))


def newton_orders(residuals: Sequence[float], floor: float = 1e-10) -> np.ndarray:
    """Observed orders ``q_k = log(r_{k+1} / r_k) / log(r_k / r_{k-1})`` of a Newton history.

    Only residuals above ``floor * r_0`` enter (round-off at the end of a
    converged history says nothing about the order). Quadratic convergence
    shows as ``q_k -> 2``, linear as ``q_k -> 1``.

    Parameters
    ----------
    residuals : sequence of float
        Residual norms ``r_0, r_1, ...`` (same units).
    floor : float
        Relative cut-off.

    Returns
    -------
    ndarray
        ``(m,)`` orders, ``m = (number of residuals kept) - 2`` (may be empty).

    >>> newton_orders([1e-1, 1e-2, 1e-4, 1e-8]).round(6).tolist()
    [2.0, 2.0]
    """
    r = np.asarray(residuals, dtype=float)
    if r.ndim != 1 or r.size == 0 or np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError(f"residuals must be a 1D sequence of finite norms >= 0, got {r!r}")
    tail = r[r > floor * r[0]]
    if tail.size < 3:
        return np.zeros(0)
    return np.log(tail[2:] / tail[1:-1]) / np.log(tail[1:-1] / tail[:-2])


@dataclass(frozen=True)
class HillMandel:
    """Hill–Mandel check of one micro solve (from :func:`hill_mandel`).

    Attributes
    ----------
    residual : float
        ``|<q : g> - <q> : <g>|`` (flux units times input units, e.g. W/m^3 or
        J/m^3), with ``q`` the micro flux and ``g`` the micro measure.
    relative : float
        ``residual / (|<q>| |<g>|)`` (Frobenius norms).
    input_error : float
        ``|<g> - G| / |G|``: the volume average of the micro input against the
        imposed macro input ``G`` (small strain: its symmetric part).
    flux_error : float
        ``|<q> - Q| / |Q|``: the recomputed average flux against the oracle's.
    """

    residual: float
    relative: float
    input_error: float
    flux_error: float


def hill_mandel(rve: Any, g: np.ndarray, state: dict | None = None) -> HillMandel:
    """Hill–Mandel macro-homogeneity of an RVE solve, recomputed from the micro fields.

    Solves the cell at the macro input ``g`` (``rve.input_shape``) with
    :meth:`fe2.homogenization.RVE.solve` and integrates ``q``, ``g_micro`` and
    ``q : g_micro`` over the micro quadrature points
    (:func:`fe2.homogenization.averages.hill_mandel`, the computation behind the
    RVE's ``info["hill_mandel"]`` too). Every admissible
    boundary condition (KUBC, periodic, TUBC) gives ``<q : g> = <q> : <g>``
    up to the solver tolerance.

    Parameters
    ----------
    rve : fe2.homogenization.RVE
        The cell oracle.
    g : ndarray
        One macro input ``(*idx,)``: gradient ``(d,)``, strain or ``F``
        ``(d, d)``.
    state : dict, optional
        Committed history of this point (see :meth:`fe2.homogenization.RVE.solve`).
    """
    from fe2.homogenization.averages import hill_mandel as averages

    g = np.asarray(g, dtype=float)
    sol = rve.solve(g, state=state)
    hm = averages(sol.flux, sol.measure, sol.dx, sol.volume)
    mean_g, mean_q = hm.mean_measure, hm.mean_flux
    G = np.asarray(sol.macro_input, dtype=float)
    if rve.measure == "strain":
        G = 0.5 * (G + G.T)
    ierr = float(np.linalg.norm(mean_g - G) / max(np.linalg.norm(G), 1e-300))
    Q = np.asarray(sol.macro_flux, dtype=float)
    ferr = float(np.linalg.norm(mean_q - Q) / max(np.linalg.norm(Q), 1e-300))
    return HillMandel(hm.residual, hm.relative, ierr, ferr)


@dataclass(frozen=True)
class Ordering:
    """Result of :func:`apparent_ordering`.

    Attributes
    ----------
    gaps : ndarray (n - 1,)
        ``min eig(T_i - T_{i+1})`` (Mandel form for fourth-order tensors),
        relative to the largest entry of the tensors.
    holds : bool
        Every gap ``>= -tol``.
    """

    gaps: np.ndarray
    holds: bool


def _as_matrix(T: np.ndarray) -> np.ndarray:
    T = np.asarray(T, dtype=float)
    if T.ndim == 0:
        return T.reshape(1, 1)
    if T.ndim == 2:
        return T
    if T.ndim == 4:
        return tensor4_to_mandel(T)
    raise ValueError(f"tensors must be scalars, (d, d) or (d, d, d, d), got shape {T.shape}")


def apparent_ordering(tensors: Sequence[Any], tol: float = 1e-10) -> Ordering:
    """Check ``T_1 >= T_2 >= ... >= T_n`` in the sense of quadratic forms.

    Parameters
    ----------
    tensors : sequence
        Scalars, conductivities ``(d, d)`` or stiffnesses ``(d, d, d, d)``
        (minor-symmetric; compared in Mandel form), in the expected
        descending order, e.g. ``[Voigt, KUBC, periodic, TUBC, Reuss]``.
    tol : float
        Round-off allowance, relative to the largest entry.

    Returns
    -------
    Ordering
        Relative gaps ``min eig(T_i - T_{i+1}) / max |T|`` and whether all are
        ``>= -tol``.
    """
    mats = [_as_matrix(t) for t in tensors]
    if len(mats) < 2:
        raise ValueError(f"apparent_ordering needs at least two tensors, got {len(mats)}")
    if len({m.shape for m in mats}) != 1:
        raise ValueError(f"tensors differ in shape: {[m.shape for m in mats]}")
    scale = max(max(float(np.abs(m).max()) for m in mats), 1e-300)
    gaps = np.array([
        float(np.linalg.eigvalsh(0.5 * (a - b + (a - b).T)).min()) / scale
        for a, b in zip(mats[:-1], mats[1:], strict=True)
    ])
    return Ordering(gaps, bool(np.all(gaps >= -tol)))
