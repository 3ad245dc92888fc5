"""Bulk free-energy densities ``psi(c)`` of phase-field models, with their derivatives.

A :class:`FreeEnergy` carries ``psi``, ``dpsi = psi'`` and ``d2psi = psi''`` as
vectorised callables (numpy ufunc-style or ``numba.vectorize``), and two constants the
time steppers need:

* ``convexify`` ``L >= max(0, -min psi'')``: ``psi + L c^2 / 2`` is convex, so the
  convex splitting ``psi = (psi + L c^2/2) - L c^2/2`` of the finite-element solvers
  (implicit convex part, explicit concave part) is unconditionally energy stable
  (Eyre 1998);
* ``lipschitz`` ``max |psi''|`` over the range ``sample`` of values the field takes:
  the stabilisation ``S = lipschitz / 2`` of the linear semi-implicit spectral scheme
  (Shen & Yang 2010), energy stable while the field stays in that range.

==========================  ====================================================
:func:`double_well`         ``psi = (c^2 - 1)^2 / 4`` (wells at -1, +1)
:func:`polynomial`          ``psi = rho (c - c_a)^2 (c_b - c)^2`` (PFHub benchmarks)
:func:`free_energy`         user callables; derivatives checked by finite differences
==========================  ====================================================

>>> f = polynomial(rho=5.0, ca=0.3, cb=0.7)
>>> round(float(f.psi(0.5)), 12), round(float(f.convexify), 12)
(0.008, 0.8)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["FreeEnergy", "double_well", "polynomial", "free_energy", "positive_number"]

_FD_RTOL = 1e-4  # finite-difference check of user derivatives


@dataclass(frozen=True, eq=False)
class FreeEnergy:
    """A bulk free-energy density and its first two derivatives.

    Attributes
    ----------
    name : str
    psi, dpsi, d2psi : callable
        ``f(c: ndarray) -> ndarray`` of the shape of ``c`` [energy / volume].
    convexify : float
        ``L >= 0`` with ``psi'' + L >= 0`` for every ``c`` (see the module docs).
    lipschitz : float
        ``max |psi''|`` over ``sample``.
    sample : (float, float)
        Range of field values the constants were taken over.
    """

    name: str
    psi: Callable[[np.ndarray], np.ndarray]
    dpsi: Callable[[np.ndarray], np.ndarray]
    d2psi: Callable[[np.ndarray], np.ndarray]
    convexify: float
    lipschitz: float
    sample: tuple[float, float]


def double_well(height: float = 0.25) -> FreeEnergy:
    """``psi = height (c^2 - 1)^2`` (default ``(c^2 - 1)^2 / 4``), wells at ``c = -1, 1``.

    ``psi'' = height (12 c^2 - 4) >= -4 height``, so ``L = 4 height``.
    """
    h = positive_number("double_well", "height", height)
    lo, hi = -1.25, 1.25
    return FreeEnergy(
        name=f"double well {h:g} (c^2 - 1)^2",
        psi=lambda c: h * (c * c - 1.0) ** 2,
        dpsi=lambda c: 4.0 * h * c * (c * c - 1.0),
        d2psi=lambda c: h * (12.0 * c * c - 4.0),
        convexify=4.0 * h,
        lipschitz=h * (12.0 * hi * hi - 4.0),
        sample=(lo, hi),
    )


def polynomial(rho: float = 5.0, ca: float = 0.3, cb: float = 0.7) -> FreeEnergy:
    """``psi = rho (c - ca)^2 (cb - c)^2``: the chemical free energy of PFHub benchmarks 1-2.

    With ``m = (ca + cb)/2``, ``d = (cb - ca)/2``, ``u = c - m``: ``psi = rho (u^2 -
    d^2)^2``, ``psi'' = rho (12 u^2 - 4 d^2) >= -4 rho d^2 = L``. ``lipschitz`` is taken
    over ``[ca - d/2, cb + d/2]``.

    Reference: Jokisaari et al., "Benchmark problems for numerical implementations of
    phase field models", Comput. Mater. Sci. 126 (2017) 139-151, eq. (2).
    """
    r = positive_number("polynomial", "rho", rho)
    ca, cb = float(ca), float(cb)
    if not (np.isfinite(ca) and np.isfinite(cb) and cb > ca):
        raise ValueError(f"polynomial: need finite ca < cb, got ca={ca!r}, cb={cb!r}")
    m, d = 0.5 * (ca + cb), 0.5 * (cb - ca)
    uh = 1.5 * d
    return FreeEnergy(
        name=f"{r:g} (c - {ca:g})^2 ({cb:g} - c)^2",
        psi=lambda c: r * (c - ca) ** 2 * (cb - c) ** 2,
        dpsi=lambda c: 2.0 * r * (c - ca) * (cb - c) * (cb + ca - 2.0 * c),
        d2psi=lambda c: r * (12.0 * (c - m) ** 2 - 4.0 * d * d),
        convexify=4.0 * r * d * d,
        lipschitz=r * max(12.0 * uh * uh - 4.0 * d * d, 4.0 * d * d),
        sample=(m - uh, m + uh),
    )


def free_energy(
    psi: Callable, dpsi: Callable, d2psi: Callable, *, sample: tuple[float, float] = (-1.5, 1.5),
    convexify: float | None = None, name: str = "user",
) -> FreeEnergy:
    """A user free energy from vectorised callables (numpy or ``numba.vectorize``).

    Parameters
    ----------
    psi, dpsi, d2psi : callable
        ``psi(c)``, ``psi'(c)``, ``psi''(c)`` on float arrays of any shape.
    sample : (float, float)
        Range of values the field takes; the derivatives are checked against central
        differences of ``psi`` and ``dpsi`` at 41 points in it, and ``convexify`` /
        ``lipschitz`` are the extrema of ``psi''`` over 2001 points in it.
    convexify : float, optional
        ``L`` with ``psi'' + L >= 0`` everywhere (give it when ``psi''`` is lower outside
        ``sample`` than inside); default ``max(0, -min psi'')`` over ``sample``.
    name : str
        Label for messages and output.

    Raises
    ------
    ValueError
        A derivative that does not match the finite difference (naming it, the point
        and both values), a non-finite value, or a bad ``sample``.
    """
    lo, hi = (float(v) for v in sample)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise ValueError(f"free_energy: sample must be a finite range lo < hi, got {sample!r}")
    for nm, f in (("psi", psi), ("dpsi", dpsi), ("d2psi", d2psi)):
        if not callable(f):
            raise ValueError(f"free_energy: {nm} must be callable, got {f!r}")
    c = np.linspace(lo, hi, 41)
    h = 1e-5 * max(1.0, hi - lo)
    for nm, f, F in (("dpsi", dpsi, psi), ("d2psi", d2psi, dpsi)):
        exact = np.asarray(f(c), dtype=float)
        fd = (np.asarray(F(c + h), dtype=float) - np.asarray(F(c - h), dtype=float)) / (2 * h)
        if exact.shape != c.shape or not np.all(np.isfinite(exact)):
            raise ValueError(f"free_energy: {nm}(c) must return finite values of c's shape")
        scale = max(float(np.abs(fd).max()), 1e-300)
        bad = np.abs(exact - fd) > _FD_RTOL * scale + 1e-8
        if np.any(bad):
            i = int(np.argmax(bad))
            raise ValueError(
                f"free_energy: {nm} is not the derivative of "
                f"{'psi' if nm == 'dpsi' else 'dpsi'}: at c = {c[i]:.6g} {nm} = {exact[i]:.6g}, "
                f"central difference {fd[i]:.6g}"
            )
    s = np.asarray(d2psi(np.linspace(lo, hi, 2001)), dtype=float)
    L = max(0.0, -float(s.min())) if convexify is None else float(convexify)
    if not (np.isfinite(L) and L >= max(0.0, -float(s.min())) - 1e-12):
        raise ValueError(
            f"free_energy: convexify = {convexify!r} must be >= max(0, -min psi'') = "
            f"{max(0.0, -float(s.min())):.6g} over sample {sample!r}"
        )
    return FreeEnergy(name=name, psi=psi, dpsi=dpsi, d2psi=d2psi, convexify=L,
                      lipschitz=float(np.abs(s).max()), sample=(lo, hi))


def positive_number(owner: str, what: str, value: object) -> float:
    """``value`` as a float, finite and > 0, else a ValueError naming ``owner`` and ``what``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{owner}: {what} must be a finite number > 0, got {value!r}")
    return v
