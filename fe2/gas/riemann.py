"""Exact solution of the Riemann problem for the 1D Euler equations of an ideal gas.

Toro, *Riemann Solvers and Numerical Methods for Fluid Dynamics*, ch. 4: the star
pressure ``p*`` is the root of ``f_L(p) + f_R(p) + u_R - u_L = 0`` (Newton iteration
from the two-rarefaction guess), ``u*`` follows, and the self-similar solution is
sampled at ``(x - x0) / t`` for every wave pattern (shock or rarefaction on each side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["StarState", "exact_riemann", "star_state"]


@dataclass(frozen=True)
class StarState:
    """Pressure, velocity and the two densities of the star region.

    Attributes
    ----------
    p, u : float
        Star pressure and velocity.
    rho_left, rho_right : float
        Density left and right of the contact.
    left_shock, right_shock : bool
        Whether the left / right wave is a shock (else a rarefaction).
    iterations : int
        Newton iterations used.
    """

    p: float
    u: float
    rho_left: float
    rho_right: float
    left_shock: bool
    right_shock: bool
    iterations: int


def _check_state(name: str, state, gamma: float) -> tuple[float, float, float]:
    try:
        rho, u, p = (float(v) for v in state)
    except (TypeError, ValueError):
        raise ValueError(
            f"exact_riemann: {name} must be a (rho, u, p) triple, got {state!r}"
        ) from None
    if not (np.isfinite(rho) and np.isfinite(u) and np.isfinite(p)) or rho <= 0 or p < 0:
        raise ValueError(
            f"exact_riemann: {name} state needs rho > 0, p >= 0 finite, got "
            f"(rho, u, p) = ({rho}, {u}, {p})"
        )
    return rho, u, p


def _f(p: float, rho: float, pk: float, ck: float, g: float) -> tuple[float, float]:
    """Toro's f_K(p) and its derivative (eqs. 4.6, 4.7, 4.37)."""
    if p > pk:  # shock
        A = 2.0 / ((g + 1.0) * rho)
        B = (g - 1.0) / (g + 1.0) * pk
        q = np.sqrt(A / (p + B))
        return (p - pk) * q, q * (1.0 - 0.5 * (p - pk) / (B + p))
    # rarefaction
    r = (p / pk) ** ((g - 1.0) / (2.0 * g))
    return 2.0 * ck / (g - 1.0) * (r - 1.0), 1.0 / (rho * ck) * (p / pk) ** (-(g + 1.0) / (2 * g))


def star_state(left, right, gamma: float = 1.4, tol: float = 1e-12,
               max_iter: int = 100) -> StarState:
    """Star-region state of the Riemann problem ``left | right`` (each ``(rho, u, p)``).

    Raises
    ------
    ValueError
        For invalid states, ``gamma <= 1``, or data that generate vacuum
        (``2 (c_L + c_R) / (gamma - 1) <= u_R - u_L``).
    """
    g = float(gamma)
    if not np.isfinite(g) or g <= 1.0:
        raise ValueError(f"exact_riemann: gamma must be > 1, got {gamma!r}")
    rl, ul, pl = _check_state("left", left, g)
    rr, ur, pr = _check_state("right", right, g)
    cl, cr = np.sqrt(g * pl / rl), np.sqrt(g * pr / rr)
    du = ur - ul
    if 2.0 * (cl + cr) / (g - 1.0) <= du:
        raise ValueError(
            f"exact_riemann: the data generate vacuum (pressure positivity condition fails: "
            f"2 (c_L + c_R) / (gamma - 1) = {2 * (cl + cr) / (g - 1):.6g} <= u_R - u_L = {du:.6g})"
        )
    # two-rarefaction initial guess (Toro eq. 4.46), floored
    z = (g - 1.0) / (2.0 * g)
    p = ((cl + cr - 0.5 * (g - 1.0) * du) / (cl / pl**z + cr / pr**z)) ** (1.0 / z) \
        if pl > 0 and pr > 0 else 0.5 * (pl + pr)
    p = max(p, 1e-10 * max(pl, pr, 1e-300))
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - reported
        fl, dl = _f(p, rl, pl, cl, g)
        fr, dr = _f(p, rr, pr, cr, g)
        pn = p - (fl + fr + du) / (dl + dr)
        if pn <= 0:
            pn = 0.5 * p
        change = 2.0 * abs(pn - p) / (pn + p)
        p = pn
        if change < tol:
            break
    else:
        raise ValueError(f"exact_riemann: Newton for p* did not converge in {max_iter} iterations")
    fl, _ = _f(p, rl, pl, cl, g)
    fr, _ = _f(p, rr, pr, cr, g)
    u = 0.5 * (ul + ur) + 0.5 * (fr - fl)
    gm = (g - 1.0) / (g + 1.0)

    def rho_star(rk: float, pk: float, shock: bool) -> float:
        if shock:
            q = p / pk
            return rk * (q + gm) / (gm * q + 1.0)
        return rk * (p / pk) ** (1.0 / g)

    return StarState(p=float(p), u=float(u), rho_left=float(rho_star(rl, pl, p > pl)),
                     rho_right=float(rho_star(rr, pr, p > pr)), left_shock=bool(p > pl),
                     right_shock=bool(p > pr), iterations=it)


def exact_riemann(left, right, x, t: float, gamma: float = 1.4, x0: float = 0.5):
    """Exact solution of the 1D Euler Riemann problem sampled at points ``x`` and time ``t``.

    Parameters
    ----------
    left, right : tuple of float
        ``(rho, u, p)`` left and right of ``x0`` at ``t = 0``.
    x : array_like
        Positions, any shape.
    t : float
        Time (> 0; at ``t = 0`` the initial data are returned).
    gamma : float
        Ratio of specific heats.
    x0 : float
        Position of the initial discontinuity.

    Returns
    -------
    rho, u, p : ndarray
        Density, velocity and pressure, each shaped like ``x``.

    Raises
    ------
    ValueError
        Bad states or time, or vacuum generation (not handled).
    """
    s = star_state(left, right, gamma)
    g = float(gamma)
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"exact_riemann: t must be >= 0, got {t!r}")
    x = np.asarray(x, dtype=float)
    rl, ul, pl = (float(v) for v in left)
    rr, ur, pr = (float(v) for v in right)
    cl, cr = np.sqrt(g * pl / rl), np.sqrt(g * pr / rr)
    if t == 0:
        lft = x < x0
        return (np.where(lft, rl, rr), np.where(lft, ul, ur), np.where(lft, pl, pr))
    xi = (x - x0) / t
    rho = np.empty_like(xi)
    u = np.empty_like(xi)
    p = np.empty_like(xi)
    g1 = (g - 1.0) / (g + 1.0)
    lside = xi <= s.u

    def fill(mask, r, v, q):
        rho[mask], u[mask], p[mask] = r, v, q

    # left of the contact
    if s.left_shock:
        sl = ul - cl * np.sqrt((g + 1) / (2 * g) * s.p / pl + (g - 1) / (2 * g))
        fill(lside & (xi < sl), rl, ul, pl)
        fill(lside & (xi >= sl), s.rho_left, s.u, s.p)
    else:
        cstar = cl * (s.p / pl) ** ((g - 1) / (2 * g))
        head, tail = ul - cl, s.u - cstar
        fill(lside & (xi < head), rl, ul, pl)
        fill(lside & (xi > tail), s.rho_left, s.u, s.p)
        fan = lside & (xi >= head) & (xi <= tail)
        f = 2 / (g + 1) + g1 / cl * (ul - xi[fan])
        rho[fan] = rl * f ** (2 / (g - 1))
        u[fan] = 2 / (g + 1) * (cl + 0.5 * (g - 1) * ul + xi[fan])
        p[fan] = pl * f ** (2 * g / (g - 1))
    rside = ~lside
    if s.right_shock:
        sr = ur + cr * np.sqrt((g + 1) / (2 * g) * s.p / pr + (g - 1) / (2 * g))
        fill(rside & (xi > sr), rr, ur, pr)
        fill(rside & (xi <= sr), s.rho_right, s.u, s.p)
    else:
        cstar = cr * (s.p / pr) ** ((g - 1) / (2 * g))
        head, tail = ur + cr, s.u + cstar
        fill(rside & (xi > head), rr, ur, pr)
        fill(rside & (xi < tail), s.rho_right, s.u, s.p)
        fan = rside & (xi >= tail) & (xi <= head)
        f = 2 / (g + 1) - g1 / cr * (ur - xi[fan])
        rho[fan] = rr * f ** (2 / (g - 1))
        u[fan] = 2 / (g + 1) * (-cr + 0.5 * (g - 1) * ur + xi[fan])
        p[fan] = pr * f ** (2 * g / (g - 1))
    return rho, u, p
