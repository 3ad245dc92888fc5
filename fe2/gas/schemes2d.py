"""Jiang–Tadmor staggered central scheme in 2D (second order, flux values only).

The 2D extension of Nessyahu–Tadmor (Jiang & Tadmor, SIAM J. Sci. Comput. 19, 1998) on a
uniform structured grid: a step maps cell averages on the primary cells (centred at
``(x_i, y_j)``) to averages on the dual cells centred at the corners
``(x_{i+1/2}, y_{j+1/2})``; steps come in pairs with one ``dt``, so results are always on
the primary cells (as in :func:`fe2.gas.evolve`). With ``lambda = dt/dx``, ``mu = dt/dy``,
limited undivided slopes ``U^x, U^y`` of the state and ``F^x, G^y`` of the fluxes::

    U_ij^{n+1/2} = U_ij - lambda/2 F^x_ij - mu/2 G^y_ij                       (predictor)
    U_{i+1/2,j+1/2} = 1/4 (U_ij + U_i+1,j + U_i,j+1 + U_i+1,j+1)
        + 1/16 (U^x_ij - U^x_i+1,j + U^x_i,j+1 - U^x_i+1,j+1)
        + 1/16 (U^y_ij - U^y_i,j+1 + U^y_i+1,j - U^y_i+1,j+1)
        - lambda/2 (F_i+1,j - F_ij + F_i+1,j+1 - F_i,j+1)
        - mu/2     (G_i,j+1 - G_ij + G_i+1,j+1 - G_i+1,j)                      (corrector)

with ``F, G`` the x / y fluxes of the predicted states at the four corners of the dual cell.
For data uniform in ``y`` every ``y`` term is an exact zero and the ``x`` terms are
evaluated in the same floating-point order as the 1D NT step, so the result equals
:func:`fe2.gas.evolve` bitwise (and likewise for data uniform in ``x``).

Ghost cells (three per side, corners included) are filled before each pair: periodic,
reflecting (mirror images, normal momentum negated) or outflow (zero gradient), per side.
All cell fluxes of a stage go to the oracle in one batched call
(:func:`fe2.oracle.evaluate`, optionally through an executor).

Courant number: ``cfl = a_max dt / (min(dx, dy) / 2)`` with ``a_max`` the largest
``info["wave_speed"]`` (``max_k |u_k| + c`` for :class:`fe2.gas.IdealGas`); it must be
``<= 1``; default 0.45.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from fe2.io import Progress
from fe2.oracle import evaluate

from .schemes import advance_in_pairs, check_limiter_and_flux, limited_slope

__all__ = ["BOUNDARIES_2D", "FlowResult2D", "evolve2d"]

BOUNDARIES_2D = ("periodic", "reflecting", "outflow", "inflow")
SIDES_2D = ("x_low", "x_high", "y_low", "y_high")
DEFAULT_CFL_2D = 0.45
_GHOST = 3


@dataclass(frozen=True)
class FlowResult2D:
    """Cell averages after :func:`evolve2d`.

    Attributes
    ----------
    x : ndarray, shape ``(nx,)``
        Cell centres in ``x``.
    y : ndarray, shape ``(ny,)``
        Cell centres in ``y``.
    U : ndarray, shape ``(4, nx, ny)``
        Conserved variables ``(rho, rho u, rho v, E)`` at ``t``.
    t : float
        Final time (the requested ``t_end``).
    steps : int
        Staggered steps taken (always even).
    times : ndarray, shape ``(n_pairs + 1,)``
        Times of the recorded totals (start and after each pair of steps).
    mass : ndarray, shape ``(n_pairs + 1,)``
        ``sum(rho) dx dy`` at ``times``.
    momentum : ndarray, shape ``(n_pairs + 1, 2)``
        ``sum(rho u) dx dy`` and ``sum(rho v) dx dy``.
    energy : ndarray, shape ``(n_pairs + 1,)``
        ``sum(E) dx dy``.
    flux_calls : int
        Batched oracle calls made.
    """

    x: np.ndarray
    y: np.ndarray
    U: np.ndarray
    t: float
    steps: int
    times: np.ndarray
    mass: np.ndarray
    momentum: np.ndarray
    energy: np.ndarray
    flux_calls: int


def _check_bc(bc) -> tuple[tuple[str, str], tuple[str, str]]:
    """``bc`` -> ``((x_low, x_high), (y_low, y_high))``.

    Accepts one string (all sides), a pair ``(bc_x, bc_y)`` of strings or pairs, or four
    strings ``(x_low, x_high, y_low, y_high)``.
    """
    msg = (f"bc must be one of {', '.join(map(repr, BOUNDARIES_2D))}, a pair (bc_x, bc_y) or "
           f"four sides (x_low, x_high, y_low, y_high), got {bc!r}")
    if isinstance(bc, str):
        sides = (bc,) * 4
    else:
        try:
            parts = tuple(bc)
        except TypeError:
            raise ValueError(msg) from None
        if len(parts) == 2:
            sides = ()
            for p in parts:
                sides += (p, p) if isinstance(p, str) else tuple(p)
        else:
            sides = parts
    if len(sides) != 4 or any(not isinstance(s, str) or s not in BOUNDARIES_2D for s in sides):
        raise ValueError(msg)
    out = ((sides[0], sides[1]), (sides[2], sides[3]))
    for axis, pair in zip("xy", out, strict=True):
        if "periodic" in pair and pair[0] != pair[1]:
            raise ValueError(f"bc: 'periodic' must be used on both {axis} sides, got {bc!r}")
    return out


def _check_inflow(bcs, inflow, m: int) -> dict[str, np.ndarray]:
    """The inflow states ``{side: (m,)}`` of the ``"inflow"`` sides of ``bcs``."""
    need = [name for name, kind in zip(SIDES_2D, (*bcs[0], *bcs[1]), strict=True)
            if kind == "inflow"]
    given = {} if inflow is None else dict(inflow)
    unknown = sorted(set(given) - set(SIDES_2D))
    if unknown:
        raise ValueError(f"inflow: unknown side(s) {unknown}; the sides are "
                         f"{', '.join(SIDES_2D)}")
    out = {}
    for name in need:
        if name not in given:
            raise ValueError(f"inflow: side {name!r} has bc 'inflow' but no state; give "
                             f"inflow={{{name!r}: U ({m},)}}")
        state = np.asarray(given[name], dtype=float)
        if state.shape != (m,) or not np.all(np.isfinite(state)):
            raise ValueError(f"inflow: the state of side {name!r} must be {m} finite "
                             f"conserved values, got {given[name]!r}")
        out[name] = state
    return out


def _fill_ghosts(U: np.ndarray, bcs, inflow: dict | None = None) -> np.ndarray:
    """Pad ``U`` ``(4, nx, ny)`` with ``_GHOST`` cells per side (corners included)."""
    g = _GHOST
    out = U
    for axis, pair in ((1, bcs[0]), (2, bcs[1])):
        if pair[0] == "periodic":
            width = [(0, 0)] * 3
            width[axis] = (g, g)
            out = np.pad(out, width, mode="wrap")
            continue
        for side, kind in enumerate(pair):
            width = [(0, 0)] * 3
            width[axis] = (g, 0) if side == 0 else (0, g)
            out = np.pad(out, width, mode="symmetric" if kind == "reflecting" else "edge")
            idx = [slice(None), slice(None), slice(None)]
            idx[axis] = slice(0, g) if side == 0 else slice(-g, None)
            if kind == "reflecting":  # normal momentum (row = axis) is odd under the mirror
                out[(axis, *idx[1:])] *= -1.0
            elif kind == "inflow":  # the given state in every ghost cell of this side
                state = inflow[SIDES_2D[2 * (axis - 1) + side]]
                out[tuple(idx)] = state[(slice(None),) + (None,) * 2]
    return out


def evolve2d(
    U0: np.ndarray,
    dx: float,
    dy: float,
    t_end: float,
    flux,
    scheme: str = "nt",
    limiter: str = "mc",
    bc="periodic",
    cfl: float | None = None,
    origin: tuple[float, float] = (0.0, 0.0),
    executor: Executor | None = None,
    max_steps: int = 1_000_000,
    progress: bool | Progress | Callable[[float, float], None] | None = None,
    max_dt: float | None = None,
    inflow: dict | None = None,
) -> FlowResult2D:
    """Advance 2D cell averages ``U0`` ``(4, nx, ny)`` to ``t_end`` (Jiang–Tadmor).

    Parameters
    ----------
    U0 : ndarray, shape ``(4, nx, ny)``
        Initial cell averages ``(rho, rho u, rho v, E)`` on ``nx x ny`` uniform cells
        (``nx, ny >= 3``); axis 1 is ``x``, axis 2 is ``y``.
    dx, dy : float
        Cell widths (> 0).
    t_end : float
        Final time (>= 0).
    flux : oracle
        Measure ``"conserved"``, ``dim = 2``: ``evaluate(U (4, N))`` returns ``flux``
        ``(2, 4, N)`` (x and y fluxes) and ``info["wave_speed"]`` ``(N,)``.
    scheme : {"nt"}
        Only the Jiang–Tadmor extension of Nessyahu–Tadmor (``"nt"``).
    limiter : {"mc", "minmod", "none"}
        Slope limiter (:func:`fe2.gas.limited_slope`), applied in ``x`` and ``y``.
    bc : str or sequence
        ``"periodic"``, ``"reflecting"``, ``"outflow"`` or ``"inflow"``: one for all
        sides, a pair ``(bc_x, bc_y)`` (each a string or a ``(low, high)`` pair) or four
        strings ``(x_low, x_high, y_low, y_high)``.
    cfl : float, optional
        ``a_max dt / (min(dx, dy) / 2)`` in ``(0, 1]``; default 0.45.
    origin : (float, float)
        Lower-left corner of the grid (for the returned cell centres).
    executor : concurrent.futures.Executor, optional
        Where the batched flux calls run; the result does not depend on it.
    max_steps : int
        Safety bound on the number of staggered steps.
    progress : bool, fe2.io.Progress or callable, optional
        Default quiet; True shows a bar over the simulated time (as in
        :func:`fe2.gas.evolve`); a callable is called as ``progress(t, t_end)``.
    max_dt : float, optional
        Cap on the time step (> 0, finite): ``dt = min(cfl (min(dx, dy)/2) / a_max,
        max_dt)``.
    inflow : dict, optional
        ``{side: U (4,)}`` for every ``"inflow"`` side (``"x_low"``, ``"x_high"``,
        ``"y_low"``, ``"y_high"``): the conserved state held in its ghost cells.

    Returns
    -------
    FlowResult2D
    """
    if scheme != "nt":
        raise ValueError(f"scheme must be 'nt' (Jiang-Tadmor) in 2D, got {scheme!r}")
    check_limiter_and_flux(limiter, flux, 2)
    bcs = _check_bc(bc)
    U = np.array(U0, dtype=float)
    m = int(getattr(flux, "n_conserved", 4))
    if U.ndim != 3 or U.shape[0] != m or U.shape[1] < _GHOST or U.shape[2] < _GHOST:
        raise ValueError(
            f"U0 must have shape ({m}, nx, ny) with nx, ny >= {_GHOST}, got {U.shape}")
    states = _check_inflow(bcs, inflow, m)
    dx, dy, t_end = float(dx), float(dy), float(t_end)
    for name, v in (("dx", dx), ("dy", dy)):
        if not v > 0 or not np.isfinite(v):
            raise ValueError(f"{name} must be > 0, got {v!r}")
    if not t_end >= 0 or not np.isfinite(t_end):
        raise ValueError(f"t_end must be >= 0, got {t_end!r}")
    cfl = DEFAULT_CFL_2D if cfl is None else float(cfl)
    if not 0 < cfl <= 1:
        raise ValueError(f"cfl (a_max dt / (min(dx, dy)/2)) must be in (0, 1], got {cfl!r}")
    h = min(dx, dy)

    calls = 0

    def fluxes(V: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], float]:
        """The x and y fluxes of ``V`` ``(m, a, b)`` in one batched call, and ``a_max``."""
        nonlocal calls
        calls += 1
        shape = V.shape
        r = evaluate(flux, V.reshape(m, -1), executor=executor)
        F = np.asarray(r.flux).reshape((2,) + shape)
        return (F[0], F[1]), float(np.max(r.info["wave_speed"]))

    def slopes(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Limited x and y slopes of ``A`` ``(m, a, b)`` on its interior ``(m, a-2, b-2)``."""
        Ax = A[:, :, 1:-1]
        sx = limited_slope(Ax[:, 1:-1] - Ax[:, :-2], Ax[:, 2:] - Ax[:, 1:-1], limiter)
        Ay = A[:, 1:-1, :]
        sy = limited_slope(Ay[:, :, 1:-1] - Ay[:, :, :-2], Ay[:, :, 2:] - Ay[:, :, 1:-1],
                           limiter)
        return sx, sy

    def step(V, FG, dt):
        """One staggered step ``(m, a, b)`` -> ``(m, a - 3, b - 3)``; ``FG`` the x, y fluxes."""
        FV, GV = FG
        lam, mu = dt / dx, dt / dy
        dUx, dUy = slopes(V)
        dFx, _ = slopes(FV)
        _, dGy = slopes(GV)
        Vc = V[:, 1:-1, 1:-1]
        half = Vc - 0.5 * lam * dFx - 0.5 * mu * dGy
        (Fh, Gh), _ = fluxes(half)
        # the floating-point order below reduces to that of the 1D NT step when the
        # y (or x) terms are exact zeros
        avg = 0.5 * (0.5 * (Vc[:, :-1, :-1] + Vc[:, 1:, :-1])
                     + 0.5 * (Vc[:, :-1, 1:] + Vc[:, 1:, 1:]))
        sx = 0.125 * (0.5 * ((dUx[:, :-1, :-1] - dUx[:, 1:, :-1])
                             + (dUx[:, :-1, 1:] - dUx[:, 1:, 1:])))
        sy = 0.125 * (0.5 * ((dUy[:, :-1, :-1] - dUy[:, :-1, 1:])
                             + (dUy[:, 1:, :-1] - dUy[:, 1:, 1:])))
        fx = lam * (0.5 * ((Fh[:, 1:, :-1] - Fh[:, :-1, :-1])
                           + (Fh[:, 1:, 1:] - Fh[:, :-1, 1:])))
        gy = mu * (0.5 * ((Gh[:, :-1, 1:] - Gh[:, :-1, :-1])
                          + (Gh[:, 1:, 1:] - Gh[:, 1:, :-1])))
        return avg + sx + sy - fx - gy

    _, nx, ny = U.shape
    x = float(origin[0]) + dx * (np.arange(nx) + 0.5)
    y = float(origin[1]) + dy * (np.arange(ny) + 0.5)
    area = dx * dy
    U, t, steps, times, tot = advance_in_pairs(
        U, t_end, h, cfl, lambda V: _fill_ghosts(V, bcs, states), fluxes, step,
        lambda V: V.sum(axis=(1, 2)) * area, max_steps, progress, name="evolve2d",
        max_dt=max_dt)
    return FlowResult2D(x=x, y=y, U=U, t=t, steps=steps, times=times,
                        mass=tot[:, 0], momentum=tot[:, 1:3], energy=tot[:, 3],
                        flux_calls=calls)
