"""Potentials of oscillating densities: FMM-HMM, FMM on the resolved density, direct sums.

All three approximate ``phi(x) = integral_box q(y, y/eps) / |x - y| dy`` (kernel ``1/r``,
no ``1/(4 pi)``) at targets ``x`` by a sum over quadrature sources ``y_j`` with charges
``c_j = w_j * density(y_j)``:

- :func:`fmm_hmm_potential`: macro tensor Gauss–Legendre quadrature (``macro_cells``
  cells per direction, ``macro_order`` points each) on the box, charges from the averaged
  density ``<q>(y_j)`` (an estimator of :meth:`OscillatingDensity.averaged`), summed by
  the fast multipole method. Number of sources and cost do not depend on ``eps``.
- :func:`resolved_potential`: the resolved density ``q(y, y/eps)`` on a quadrature fine
  enough for ``eps`` (one cell per period, ``order`` points per cell and
  direction: ``(L / eps)^3 order^3`` sources), summed by the FMM.
- :func:`direct_potential`: the same resolved quadrature summed directly (``O(N M)``).

The sums use fmm3dpy (Flatiron Institute FMM3D: ``lfmm3d`` and ``l3ddir``), imported when
called. fmm3dpy 2.x sums ``c_j / (4 pi |x - y_j|)`` and 1.x ``c_j / |x - y_j|``; the
normalisation is measured on one source at each call (:func:`laplace_sum`) so either
gives ``1/r``.

The quadrature is a point rule: accurate for targets away from the sources (spectrally
for smooth densities), poor where a target sits among the sources (the kernel is singular
there). For such targets :func:`fmm_hmm_potential` applies a local correction (Ewald
split, ``near_field=True``): with ``1/r = erf(r/s)/r + erfc(r/s)/r`` and ``s`` two
quadrature spacings, the point rule is accurate for the smooth first part (aliasing error
``~exp(-pi^2 s^2 / h^2)``), and the short-range second part is integrated in spherical
coordinates about the target, where it is smooth (``r erfc(r/s) dr dw``, 16 Gauss points
in ``r`` on ``[0, 6 s]``, 10 in ``cos theta``, 20 in the azimuth, with ``<q>`` from the
estimator)::

    phi(x) ~ FMM(x) - sum_{|x - y_j| < 6 s} c_j erfc(|x - y_j|/s) / |x - y_j|
                    + integral_{|y - x| < 6 s} <q>(y) erfc(|x - y|/s) / |x - y| dy.

It needs ``<q>`` smooth within ``~6 s`` of the target (a jump at the box faces there
spoils it) and costs 3200 estimator calls per such target.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .density import Estimator, OscillatingDensity
from .quadrature import Rule, tensor_gauss
from .reference import _points

__all__ = ["PotentialResult", "laplace_sum", "fmm_hmm_potential", "resolved_potential",
           "direct_potential"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PotentialResult:
    """Potential at the targets and what it cost.

    Attributes
    ----------
    phi : array (m,)
        Potential at the targets (charge / length).
    method : str
        ``"fmm-hmm"``, ``"fmm-resolved"`` or ``"direct"``.
    n_sources : int
        Quadrature sources fed to the sum.
    seconds : float
        Wall time of the whole evaluation (quadrature, density, sum).
    sum_seconds : float
        Wall time of the sum alone.
    params : dict
        The parameters of the run (eps, orders, tolerance, estimator).
    """

    phi: np.ndarray
    method: str
    n_sources: int
    seconds: float
    sum_seconds: float
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Scalars and parameters (not ``phi``) as a JSON-ready dict."""
        return {"method": self.method, "n_sources": self.n_sources,
                "seconds": self.seconds, "sum_seconds": self.sum_seconds,
                "params": dict(self.params)}


def _fmm3dpy():
    try:
        import fmm3dpy
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("fe2.fmm needs fmm3dpy: pip install fmm3dpy "
                          "(or the project's 'fmm' extra)") from err
    return fmm3dpy


def _kernel_scale(fmm3dpy) -> float:
    """``1 / (what fmm3dpy returns for a unit charge at unit distance)``."""
    s = np.zeros((3, 1))
    t = np.array([[1.0], [0.0], [0.0]])
    v = float(np.ravel(fmm3dpy.l3ddir(sources=s, charges=np.ones(1), targets=t,
                                      pgt=1).pottarg)[0])
    return 1.0 / v


def laplace_sum(sources, charges, targets, method: Literal["fmm", "direct"] = "fmm",
                fmm_eps: float = 1e-9) -> np.ndarray:
    """``phi(x_i) = sum_j c_j / |x_i - y_j|`` by fmm3dpy (FMM or direct).

    Parameters
    ----------
    sources : array (3, n)
        Source points (length).
    charges : array (n,)
        Charges.
    targets : array (3, m)
        Target points (length).
    method : ``"fmm"`` (``lfmm3d``, relative precision ``fmm_eps``) or ``"direct"``
        (``l3ddir``; a target closer than 1e-16 to a source skips that source).
    fmm_eps : float
        Requested precision of the FMM, in (0, 0.1].

    Returns
    -------
    array (m,)
    """
    sources = _points(sources, "sources")
    targets = _points(targets, "targets")
    charges = np.asarray(charges, dtype=float)
    if charges.shape != (sources.shape[1],):
        raise ValueError(f"charges: expected shape ({sources.shape[1]},), got {charges.shape}")
    if not (isinstance(fmm_eps, int | float | np.floating) and 0 < fmm_eps <= 0.1):
        raise ValueError(f"fmm_eps: expected a precision in (0, 0.1], got {fmm_eps!r}")
    f = _fmm3dpy()
    scale = _kernel_scale(f)
    s = np.asfortranarray(sources)
    t = np.asfortranarray(targets)
    if method == "fmm":
        out = f.lfmm3d(eps=float(fmm_eps), sources=s, charges=charges, targets=t, pgt=1)
    elif method == "direct":
        out = f.l3ddir(sources=s, charges=charges, targets=t, pgt=1)
    else:
        raise ValueError(f"method: expected 'fmm' or 'direct', got {method!r}")
    return scale * np.asarray(out.pottarg, dtype=float).reshape(-1)


def _check_density(density) -> OscillatingDensity:
    if not isinstance(density, OscillatingDensity):
        raise TypeError(f"density: expected an OscillatingDensity, got "
                        f"{type(density).__name__}")
    return density


def _resolved_rule(density: OscillatingDensity, order: int, rule: Rule):
    lengths = density.box[:, 1] - density.box[:, 0]
    cells = np.maximum(1, np.ceil(lengths / density.eps - 1e-9)).astype(int)
    return tensor_gauss(density.box, cells, order, rule), cells


def fmm_hmm_potential(density: OscillatingDensity, targets, macro_order: int = 6,
                      macro_cells: int = 4, fmm_eps: float = 1e-9,
                      estimator: Estimator = "cell", samples: int = 4,
                      periods: int = 3, macro_rule: Rule = "gauss", near_field: bool = True,
                      split: float = 2.0,
                      summation: Literal["fmm", "direct"] = "fmm") -> PotentialResult:
    """FMM-HMM: macro quadrature with charges from the averaged density, summed by FMM.

    Parameters
    ----------
    density : OscillatingDensity
        The density, its ``eps`` and box.
    targets : array (3, m)
        Evaluation points (length).
    macro_order : int
        Gauss points per macro cell and direction.
    macro_cells : int
        Macro cells per direction (``(macro_cells macro_order)^3`` sources in all).
    fmm_eps : float
        FMM precision.
    estimator : ``"cell"`` or ``"kernel"``
        Averaging estimator (:meth:`OscillatingDensity.averaged`).
    samples : int
        Samples per period and direction of the estimator.
    periods : int
        Periods spanned by the ``"kernel"`` estimator (its B-spline order).
    macro_rule : ``"gauss"`` or ``"midpoint"``
        Macro quadrature (:func:`~fe2.fmm.tensor_gauss`).
    near_field : bool
        Apply the local (Ewald split) correction for targets among the sources (module
        docstring); it changes nothing for targets farther than ``6 s`` from every
        source and outside the box.
    split : float
        ``s = split * h`` with ``h`` the largest macro cell side over ``macro_order``
        (times ``pi/2`` for Gauss points, whose widest gap is that much larger).
    summation : ``"fmm"`` or ``"direct"``
        How the macro sources are summed: the FMM, or directly (``O(N M)``, cheaper
        when the targets are few).

    Returns
    -------
    PotentialResult
        ``method = "fmm-hmm"``; ``n_sources`` independent of ``eps``.
    """
    density = _check_density(density)
    targets = _points(targets)
    t0 = time.perf_counter()
    y, w = tensor_gauss(density.box, macro_cells, macro_order, macro_rule)
    charges = w * density.averaged(y, estimator, samples, periods)
    t1 = time.perf_counter()
    phi = laplace_sum(y, charges, targets, summation, fmm_eps)
    if near_field:
        if not (isinstance(split, int | float) and split > 0):
            raise ValueError(f"split: expected a positive factor, got {split!r}")
        h = float(np.max(density.box[:, 1] - density.box[:, 0])) / (macro_cells * macro_order)
        if macro_rule == "gauss":
            h *= np.pi / 2  # the widest gap of Gauss-Legendre points, mid-cell
        phi = phi + _near_correction(density, y, charges, targets, split * h,
                                     estimator, samples, periods)
    t2 = time.perf_counter()
    log.debug("fmm-hmm: %d sources, eps=%g, %.3g s", y.shape[1], density.eps, t2 - t0)
    return PotentialResult(phi, "fmm-hmm", int(y.shape[1]), t2 - t0, t2 - t1,
                           {"eps": density.eps, "macro_order": macro_order,
                            "macro_cells": macro_cells, "fmm_eps": fmm_eps,
                            "estimator": estimator, "samples": samples,
                            "periods": periods, "macro_rule": macro_rule,
                            "summation": summation})


def _near_correction(density, y, charges, targets, s, estimator, samples, periods):
    """Ewald-split correction (module docstring) at targets (3, m) -> (m,)."""
    from scipy.spatial import cKDTree
    from scipy.special import erfc

    out = np.zeros(targets.shape[1])
    tree = cKDTree(y.T)
    for i, idx in enumerate(tree.query_ball_point(targets.T, 6.0 * s)):
        if not idx:
            continue
        r = np.linalg.norm(y[:, idx] - targets[:, [i]], axis=0)
        c = charges[idx]
        far = r > 1e-12 * s  # coincident sources are left out of the FMM sum
        out[i] = (-np.sum(c[far] * erfc(r[far] / s) / r[far])
                  + np.sum(c[~far]) * 2.0 / (np.sqrt(np.pi) * s))
    # short-range part: integral <q>(x + r w) r erfc(r/s) dr dw on the ball of radius 6 s,
    # Gauss-Legendre in r and cos(theta), uniform in the azimuth (all smooth integrands)
    rr, wr = np.polynomial.legendre.leggauss(16)
    rr, wr = 3.0 * s * (rr + 1.0), 3.0 * s * wr * np.pi / 10  # the pi/10: azimuth weight
    ct, wt = np.polynomial.legendre.leggauss(10)
    az = 2 * np.pi * (np.arange(20) + 0.5) / 20
    st = np.sqrt(1.0 - ct**2)
    dirs = np.stack([np.outer(st, np.cos(az)), np.outer(st, np.sin(az)),
                     np.outer(ct, np.ones(20))]).reshape(3, -1)  # (3, 200)
    wd = np.repeat(wt, 20)
    offs = (rr[None, :, None] * dirs[:, None, :]).reshape(3, -1)  # (3, 16 * 200)
    wo = (wr * rr * erfc(rr / s))[:, None] * wd[None, :]
    wo = wo.ravel()
    lo, hi = density.box[:, :1], density.box[:, 1:]
    for i in np.flatnonzero(out != 0.0):
        p = targets[:, [i]] + offs
        ok = np.all((p >= lo) & (p <= hi), axis=0)
        if np.any(ok):
            out[i] += np.sum(wo[ok] * density.averaged(p[:, ok], estimator, samples, periods))
    return out


def resolved_potential(density: OscillatingDensity, targets, order: int = 4,
                       fmm_eps: float = 1e-9, rule: Rule = "midpoint") -> PotentialResult:
    """FMM on the resolved density: one quadrature cell per period, ``order``^3 points each.

    Parameters
    ----------
    density : OscillatingDensity
        The density, its ``eps`` and box.
    targets : array (3, m)
        Evaluation points (length).
    order : int
        Points per period and direction (``~ (L/eps)^3 order^3`` sources).
    fmm_eps : float
        FMM precision.
    rule : ``"midpoint"`` or ``"gauss"``
        Rule per period cell. The midpoint rule (the default) integrates every whole
        period of a trigonometric polynomial of degree below ``order`` exactly and is
        spectrally accurate for densities that vanish smoothly at the box faces; Gauss
        is the safer choice for densities that do not.

    Returns
    -------
    PotentialResult
        ``method = "fmm-resolved"``.
    """
    return _resolved(density, targets, order, "fmm", fmm_eps, rule)


def direct_potential(density: OscillatingDensity, targets, order: int = 4,
                     rule: Rule = "midpoint") -> PotentialResult:
    """Direct summation (``O(N M)``, fmm3dpy's ``l3ddir``) over the resolved quadrature.

    Same quadrature as :func:`resolved_potential`; affordable for moderate ``eps`` and a
    modest number of targets (3, m).
    """
    return _resolved(density, targets, order, "direct", 1e-9, rule)


def _resolved(density, targets, order, method, fmm_eps, rule) -> PotentialResult:
    density = _check_density(density)
    targets = _points(targets)
    if not (isinstance(order, int | np.integer) and order >= 1):
        raise ValueError(f"order: expected a positive number of points, got {order!r}")
    t0 = time.perf_counter()
    (y, w), cells = _resolved_rule(density, order, rule)
    n = y.shape[1]
    if n > 2**27:
        raise ValueError(f"eps={density.eps:g}: the resolved quadrature needs {n} sources "
                         f"({cells.tolist()} cells x {order}^3); use fmm_hmm_potential")
    charges = w * density.resolved(y)
    t1 = time.perf_counter()
    phi = laplace_sum(y, charges, targets, method, fmm_eps)
    t2 = time.perf_counter()
    name = "fmm-resolved" if method == "fmm" else "direct"
    log.debug("%s: %d sources, eps=%g, %.3g s", name, n, density.eps, t2 - t0)
    return PotentialResult(phi, name, int(n), t2 - t0, t2 - t1,
                           {"eps": density.eps, "order": order, "rule": rule,
                            "fmm_eps": fmm_eps if method == "fmm" else math.nan,
                            "cells": cells.tolist()})
