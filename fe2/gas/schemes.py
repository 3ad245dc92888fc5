"""Central finite-volume schemes on staggered grids: Lax–Friedrichs and Nessyahu–Tadmor.

The schemes need flux values only (no Riemann solver, no Jacobian), so the flux can
come from any oracle with measure ``"conserved"``. A step maps cell averages on the
primary grid (cells centred at ``x_j``) to averages on the staggered grid (centred at
``x_{j+1/2}``) and back; steps come in pairs with one time step ``dt``, so results are
always on the primary cells. One pair consumes three ghost cells per side, filled by the
boundary conditions before the pair (ghost data of the intermediate grid are computed by
the scheme itself; with periodic or mirror ghosts this is exactly the scheme on the
periodic / mirror-extended domain, so it conserves to round-off).

Staggered Lax–Friedrichs (``lambda = dt / dx``)::

    U_{j+1/2} = (U_j + U_{j+1}) / 2 - lambda (F(U_{j+1}) - F(U_j))

Nessyahu–Tadmor (undivided limited slopes ``U'``, ``F'``)::

    U_j^{n+1/2} = U_j - lambda / 2 F'_j
    U_{j+1/2}   = (U_j + U_{j+1}) / 2 + (U'_j - U'_{j+1}) / 8
                  - lambda (F(U_{j+1}^{n+1/2}) - F(U_j^{n+1/2}))

Courant number convention: ``cfl = a_max dt / (dx / 2)`` with ``a_max`` the oracle's
``info["wave_speed"]`` bound and ``dx`` the cell width: waves from the faces of the
primary cells must not reach the staggered cell's ends, so both schemes need ``cfl <= 1``.
Defaults: 0.45 for NT, 0.9 for LF.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np

from fe2.io import Progress
from fe2.oracle import evaluate

from .ideal import IdealGas, conserved, fluid_of, primitive

__all__ = [
    "BOUNDARIES",
    "LIMITERS",
    "SCHEMES",
    "FlowResult",
    "advance_in_pairs",
    "check_limiter_and_flux",
    "check_max_dt",
    "ShockTubeResult",
    "evolve",
    "limited_slope",
    "riemann_cells",
    "shock_tube",
]

log = logging.getLogger(__name__)

SCHEMES = ("nt", "lf")
LIMITERS = ("mc", "minmod", "none")
BOUNDARIES = ("periodic", "reflecting", "outflow", "inflow")
DEFAULT_CFL = {"nt": 0.45, "lf": 0.9}
_GHOST = 3


def limited_slope(d_minus: np.ndarray, d_plus: np.ndarray, limiter: str) -> np.ndarray:
    """Limited undivided slope from backward and forward differences (same shapes).

    ``"minmod"``: ``minmod(a, b)``; ``"mc"`` (monotonized central):
    ``minmod(2a, (a + b)/2, 2b)``; ``"none"``: the central difference ``(a + b)/2``.
    """
    a, b = d_minus, d_plus
    if limiter == "none":
        return 0.5 * (a + b)
    same = (a * b) > 0
    s = np.sign(a)
    if limiter == "minmod":
        return np.where(same, s * np.minimum(np.abs(a), np.abs(b)), 0.0)
    if limiter == "mc":
        m = np.minimum(np.minimum(2 * np.abs(a), 2 * np.abs(b)), 0.5 * np.abs(a + b))
        return np.where(same, s * m, 0.0)
    raise ValueError(f"limiter must be one of {', '.join(map(repr, LIMITERS))}, got {limiter!r}")


def check_limiter_and_flux(limiter: str, flux, dim: int) -> None:
    """Check the limiter and the flux oracle of a run, in 1D and 2D alike.

    ValueError unless ``limiter`` is one of :data:`LIMITERS` and ``flux`` is an oracle
    with measure ``"conserved"`` and ``dim`` space dimensions.
    """
    if limiter not in LIMITERS:
        raise ValueError(
            f"limiter must be one of {', '.join(map(repr, LIMITERS))}, got {limiter!r}")
    if getattr(flux, "measure", None) != "conserved" or getattr(flux, "dim", None) != dim:
        raise ValueError(
            f"flux must be an oracle with measure 'conserved' and dim {dim}, got {flux!r}")


def advance_in_pairs(
    U: np.ndarray,
    t_end: float,
    h: float,
    cfl: float,
    fill: Callable[[np.ndarray], np.ndarray],
    fluxes: Callable[[np.ndarray], tuple],
    step: Callable[[np.ndarray, object, float], np.ndarray],
    total: Callable[[np.ndarray], np.ndarray],
    max_steps: int,
    progress: bool | Progress | Callable[[float, float], None] | None = None,
    finish: Callable[[np.ndarray], np.ndarray] | None = None,
    name: str = "evolve",
    max_dt: float | None = None,
) -> tuple[np.ndarray, float, int, np.ndarray, np.ndarray]:
    """Time loop of the staggered central schemes, in pairs of steps with one ``dt``.

    Each pair fills the ghost cells of ``U`` (``fill``), evaluates its fluxes
    (``fluxes(V) -> (F, a_max)``, one batched oracle call), takes the staggered step
    ``W = step(V, F, dt)`` and the step back onto the original cells
    ``step(W, fluxes(W)[0], dt)`` (then ``finish``, e.g. a crop). ``dt = min(cfl (h/2) /
    a_max, max_dt, (t_end - t) / 2)``: the CFL step, capped by ``max_dt`` and cut to land
    on ``t_end``; a pair whose staggered state is faster than that bound allows is redone
    with the smaller ``dt``. ``total(U)`` gives the conserved totals recorded at the start
    and after each pair.

    ``max_dt`` (> 0, finite, or None) makes runs whose oracles have different wave-speed
    bounds take the same steps: with ``max_dt`` below both CFL steps, ``t_end`` is
    reached in ``ceil(t_end / (2 max_dt))`` pairs of steps whatever the bound.

    ``progress``: None / False (quiet), True (a :class:`fe2.io.Progress` bar over the
    simulated time ``[0, t_end]`` on a terminal, one log line per pair otherwise), a
    ``Progress`` (advanced by the time of each pair and left open) or a callable
    ``progress(t, t_end)`` called after each pair. It never changes the results.

    Returns
    -------
    tuple
        ``(U, t, steps, times (n_pairs + 1,), totals (n_pairs + 1, m))``.
    """
    max_dt = check_max_dt(max_dt, name)
    report, bar, own = _progress_callback(progress, t_end, name)
    try:
        return _pairs(U, t_end, h, cfl, fill, fluxes, step, total, max_steps, report, finish,
                      name, max_dt)
    finally:
        if own:
            bar.close()


def check_max_dt(max_dt: float | None, name: str = "max_dt") -> float:
    """Validate a time-step cap: None (no cap, returns ``inf``) or a finite number > 0.

    Raises
    ------
    ValueError
        One line naming ``name``, the value and what was expected.
    """
    if max_dt is None:
        return math.inf
    if (isinstance(max_dt, bool) or not isinstance(max_dt, int | float | np.integer
                                                   | np.floating)
            or not np.isfinite(max_dt) or not max_dt > 0):
        raise ValueError(f"{name}: max_dt must be a finite number > 0 or None, got {max_dt!r}")
    return float(max_dt)


def _progress_callback(progress, t_end: float, name: str):
    """``(callback(t, t_end, dt, steps) or None, Progress or None, owned)`` for ``progress``."""
    if progress is None or progress is False:
        return None, None, False
    if isinstance(progress, Progress):
        bar, own = progress, False
    elif progress is True or isinstance(progress, np.bool_):
        bar = Progress(total=float(t_end), desc=name, unit="time", enabled=bool(progress),
                       integer=False)
        own = True
    elif callable(progress):
        return (lambda t, te, dt, steps: progress(t, te)), None, False
    else:
        raise ValueError(
            f"{name}: progress must be a bool, a fe2.io.Progress or a callable "
            f"progress(t, t_end), got {progress!r}")
    last = [0.0]

    def report(t, te, dt, steps):
        bar.advance(t - last[0], f"t={t:.4g} after {steps} steps", steps=steps, dt=dt)
        last[0] = t

    return report, bar, own


def _pairs(U, t_end, h, cfl, fill, fluxes, step, total, max_steps, report, finish, name,
           max_dt):
    t = 0.0
    steps = 0
    times, totals = [0.0], [total(U)]
    while t < t_end * (1 - 1e-14):
        if steps >= max_steps:
            raise RuntimeError(f"{name}: max_steps={max_steps} reached at t={t:.6g} < {t_end}")
        V = fill(U)
        FV, a = fluxes(V)
        if not a > 0:
            raise ValueError(f"{name}: wave speed bound must be > 0, got {a!r} at t={t:.6g}")
        dt = min(cfl * 0.5 * h / a, max_dt, 0.5 * (t_end - t))
        for _ in range(50):
            W = step(V, FV, dt)
            FW, aw = fluxes(W)
            if aw * dt / (0.5 * h) <= 1.0:
                break
            dt = cfl * 0.5 * h / aw  # the staggered state is faster: redo the pair
            log.debug("%s: staggered wave speed %.4g exceeds the CFL bound; dt -> %.4g",
                      name, aw, dt)
        else:
            raise RuntimeError(f"{name}: no stable time step found at t={t:.6g}")
        U = step(W, FW, dt)
        if finish is not None:
            U = finish(U)
        t = t + 2 * dt if 2 * dt < t_end - t else t_end
        steps += 2
        times.append(t)
        totals.append(total(U))
        if report is not None:
            report(t, t_end, dt, steps)
    return U, t, steps, np.array(times), np.array(totals)


@dataclass(frozen=True)
class FlowResult:
    """Cell averages after :func:`evolve` (1D).

    Attributes
    ----------
    x : ndarray, shape ``(n,)``
        Cell centres.
    U : ndarray, shape ``(3, n)``
        Conserved variables ``(rho, rho u, E)`` at ``t``.
    t : float
        Final time (the requested ``t_end``).
    steps : int
        Staggered steps taken (always even).
    times : ndarray, shape ``(n_pairs + 1,)``
        Times at which totals were recorded (start and after each pair of steps).
    mass, momentum, energy : ndarray, shape ``(n_pairs + 1,)``
        ``sum(U[k]) * dx`` over the cells at those times.
    flux_calls : int
        Batched oracle calls made.
    """

    x: np.ndarray
    U: np.ndarray
    t: float
    steps: int
    times: np.ndarray
    mass: np.ndarray
    momentum: np.ndarray
    energy: np.ndarray
    flux_calls: int


def _check_bc(bc) -> tuple[str, str]:
    pair = (bc, bc) if isinstance(bc, str) else tuple(bc)
    if len(pair) != 2 or any(b not in BOUNDARIES for b in pair):
        raise ValueError(
            f"bc must be one of {', '.join(map(repr, BOUNDARIES))} or a (left, right) pair of "
            f"them, got {bc!r}"
        )
    if ("periodic" in pair) and pair[0] != pair[1]:
        raise ValueError(f"bc: 'periodic' must be used on both sides, got {bc!r}")
    return pair


def _fill_ghosts(U: np.ndarray, bc: tuple[str, str], inflow) -> np.ndarray:
    """Pad ``U`` ``(m, n)`` with ``_GHOST`` ghost cells per side -> ``(m, n + 2 g)``."""
    g = _GHOST
    m, n = U.shape
    out = np.empty((m, n + 2 * g))
    out[:, g : g + n] = U
    if bc[0] == "periodic":
        out[:, :g] = U[:, n - g :]
        out[:, g + n :] = U[:, :g]
        return out
    sign = np.ones(m)
    sign[1:-1] = -1.0  # momentum is odd under reflection
    for side, kind in enumerate(bc):
        ghost = slice(0, g) if side == 0 else slice(g + n, n + 2 * g)
        if kind == "outflow":
            out[:, ghost] = U[:, [0]] if side == 0 else U[:, [n - 1]]
        elif kind == "inflow":
            out[:, ghost] = np.asarray(inflow[side], dtype=float)[:, None]
        else:  # reflecting: mirror images
            mirror = U[:, g - 1 :: -1] if side == 0 else U[:, n - 1 : n - 1 - g : -1]
            out[:, ghost] = sign[:, None] * mirror
    return out


def evolve(
    U0: np.ndarray,
    dx: float,
    t_end: float,
    flux,
    scheme: str = "nt",
    limiter: str = "mc",
    bc="outflow",
    inflow: Sequence[np.ndarray] | None = None,
    cfl: float | None = None,
    x_left: float = 0.0,
    executor: Executor | None = None,
    max_steps: int = 1_000_000,
    progress: bool | Progress | Callable[[float, float], None] | None = None,
    max_dt: float | None = None,
) -> FlowResult:
    """Advance 1D cell averages ``U0`` ``(3, n)`` to ``t_end`` with a staggered central scheme.

    Parameters
    ----------
    U0 : ndarray, shape ``(m, n)``
        Initial cell averages of the ``m = flux.n_conserved`` conserved variables on
        ``n`` uniform cells of width ``dx`` starting at ``x_left``.
    dx : float
        Cell width (> 0).
    t_end : float
        Final time (>= 0).
    flux : oracle
        Measure ``"conserved"``, ``dim = 1``: ``evaluate(U (m, N)) -> Response`` with
        ``flux (1, m, N)`` and ``info["wave_speed"] (N,)``.
    scheme : {"nt", "lf"}
        Nessyahu–Tadmor (second order) or staggered Lax–Friedrichs (first order).
    limiter : {"mc", "minmod", "none"}
        Slope limiter of NT (ignored by LF); ``"none"``: unlimited central slopes.
    bc : str or (str, str)
        ``"periodic"``, ``"reflecting"`` (walls), ``"outflow"`` (zero gradient) or
        ``"inflow"`` (the given state ``inflow[side]`` in the ghost cells), per side.
    inflow : pair of ndarray ``(m,)``, optional
        Conserved ghost states for ``"inflow"`` sides.
    cfl : float, optional
        ``a_max dt / (dx / 2)`` in ``(0, 1]`` (default 0.45 NT, 0.9 LF).
    x_left : float
        Left end of the grid (for the returned cell centres).
    executor : concurrent.futures.Executor, optional
        Where the batched flux calls run (:func:`fe2.oracle.evaluate`); the result does
        not depend on it.
    max_steps : int
        Safety bound on the number of staggered steps.
    progress : bool, fe2.io.Progress or callable, optional
        Default quiet. True: a :class:`fe2.io.Progress` bar over the simulated time
        (terminal) or one log line per pair of steps; a ``Progress`` is advanced by
        the time of each pair and left open; a callable is called as
        ``progress(t, t_end)`` after each pair. Never changes the results.
    max_dt : float, optional
        Cap on the time step (> 0, finite): ``dt = min(cfl (dx/2) / a_max, max_dt)``.
        Two oracles with different wave-speed bounds take the same steps when ``max_dt``
        is below both CFL steps (``ceil(t_end / (2 max_dt))`` pairs).

    Returns
    -------
    FlowResult
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(map(repr, SCHEMES))}, got {scheme!r}")
    check_limiter_and_flux(limiter, flux, 1)
    bcs = _check_bc(bc)
    U = np.array(U0, dtype=float)
    m = int(getattr(flux, "n_conserved", U.shape[0]))
    if U.ndim != 2 or U.shape[0] != m or U.shape[1] < _GHOST:
        raise ValueError(f"U0 must have shape ({m}, n) with n >= {_GHOST}, got {U.shape}")
    if "inflow" in bcs:
        if inflow is None or len(inflow) != 2:
            raise ValueError("bc 'inflow' needs inflow=(U_left, U_right), conserved (m,) each")
        inflow = [np.asarray(s, dtype=float).reshape(m) for s in inflow]
    dx = float(dx)
    t_end = float(t_end)
    if not dx > 0 or not np.isfinite(dx):
        raise ValueError(f"dx must be > 0, got {dx!r}")
    if not t_end >= 0 or not np.isfinite(t_end):
        raise ValueError(f"t_end must be >= 0, got {t_end!r}")
    cfl = DEFAULT_CFL[scheme] if cfl is None else float(cfl)
    if not 0 < cfl <= 1:
        raise ValueError(f"cfl (a_max dt / (dx/2)) must be in (0, 1], got {cfl!r}")

    calls = 0

    def fluxes(V: np.ndarray) -> tuple[np.ndarray, float]:
        nonlocal calls
        calls += 1
        r = evaluate(flux, V, executor=executor)
        return np.asarray(r.flux)[0], float(np.max(r.info["wave_speed"]))

    def step(V: np.ndarray, FV: np.ndarray, dt: float) -> np.ndarray:
        """One staggered step from ``V`` (m, k) with fluxes ``FV`` -> (m, k - 3) (NT) / k - 1."""
        lam = dt / dx
        if scheme == "lf":
            return 0.5 * (V[:, :-1] + V[:, 1:]) - lam * (FV[:, 1:] - FV[:, :-1])
        dU = limited_slope(V[:, 1:-1] - V[:, :-2], V[:, 2:] - V[:, 1:-1], limiter)
        dF = limited_slope(FV[:, 1:-1] - FV[:, :-2], FV[:, 2:] - FV[:, 1:-1], limiter)
        Vc = V[:, 1:-1]
        half = Vc - 0.5 * lam * dF
        Fh, _ = fluxes(half)
        return (0.5 * (Vc[:, :-1] + Vc[:, 1:]) + 0.125 * (dU[:, :-1] - dU[:, 1:])
                - lam * (Fh[:, 1:] - Fh[:, :-1]))

    n = U.shape[1]
    x = x_left + dx * (np.arange(n) + 0.5)
    # LF consumes one cell per step; the ghost width is that of NT
    crop = (lambda V: V[:, _GHOST - 1 : _GHOST - 1 + n]) if scheme == "lf" else None
    U, t, steps, times, tot = advance_in_pairs(
        U, t_end, dx, cfl, lambda V: _fill_ghosts(V, bcs, inflow), fluxes, step,
        lambda V: V.sum(axis=1) * dx, max_steps, progress, finish=crop, name="evolve",
        max_dt=max_dt)
    return FlowResult(x=x, U=U, t=t, steps=steps, times=times, mass=tot[:, 0],
                      momentum=tot[:, 1], energy=tot[:, -1], flux_calls=calls)


@dataclass(frozen=True)
class ShockTubeResult:
    """Primitive profiles of a 1D run (:func:`shock_tube`).

    Attributes
    ----------
    x : ndarray, shape ``(n,)``
        Cell centres.
    rho, u, p : ndarray, shape ``(n,)``
        Density, velocity and pressure from the cell averages at ``t``.
    t : float
        Final time.
    steps : int
        Staggered steps taken (even).
    times : ndarray, shape ``(n_pairs + 1,)``
        Times of the recorded totals (start, then after every pair of steps).
    mass, momentum, energy : ndarray, shape ``(n_pairs + 1,)``
        Totals ``sum(U_k) dx`` at ``times``.
    U : ndarray, shape ``(3, n)``
        Conserved cell averages at ``t``.
    """

    x: np.ndarray
    rho: np.ndarray
    u: np.ndarray
    p: np.ndarray
    t: float
    steps: int
    times: np.ndarray
    mass: np.ndarray
    momentum: np.ndarray
    energy: np.ndarray
    U: np.ndarray


def _triple(name: str, state) -> tuple[float, float, float]:
    try:
        rho, u, p = (float(v) for v in state)
    except (TypeError, ValueError):
        raise ValueError(
            f"shock_tube: {name} must be a (rho, u, p) triple, got {state!r}"
        ) from None
    if not (rho > 0 and p >= 0 and np.isfinite(u) and np.isfinite(rho * p)):
        raise ValueError(f"shock_tube: {name} needs rho > 0 and p >= 0, got {state!r}")
    return rho, u, p


def riemann_cells(left, right, n_cells: int, x0: float = 0.5,
                  domain: tuple[float, float] = (0.0, 1.0), gamma: float = 1.4
                  ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Cell averages of the Riemann data ``left | right`` at ``x0`` (what :func:`shock_tube` runs).

    Parameters
    ----------
    left, right : tuple of float
        ``(rho, u, p)`` on either side of ``x0`` (``rho > 0``, ``p >= 0``).
    n_cells : int
        Number of uniform cells of ``domain`` (>= 3).
    x0 : float
        Initial discontinuity, inside ``domain``.
    domain : (float, float)
        Interval ``[a, b]``, ``b > a``.
    gamma : float or fluid
        Ratio of specific heats converting the primitive states, or a real fluid
        (:func:`fe2.gas.fluid_of`).

    Returns
    -------
    (float, ndarray, ndarray, ndarray)
        ``dx``, ``U0`` ``(3, n_cells)`` (the cell holding ``x0`` gets the exact average of
        the two states) and the conserved states ``UL``, ``UR`` ``(3,)``.
    """
    L, R = _triple("left", left), _triple("right", right)
    if isinstance(n_cells, bool) or not isinstance(n_cells, int | np.integer) or n_cells < 3:
        raise ValueError(f"shock_tube: n_cells must be an integer >= 3, got {n_cells!r}")
    a, b = (float(v) for v in domain)
    if not b > a:
        raise ValueError(f"shock_tube: domain must be (a, b) with b > a, got {domain!r}")
    if not a <= x0 <= b:
        raise ValueError(f"shock_tube: x0={x0} lies outside the domain {domain}")
    dx = (b - a) / n_cells
    edges = a + dx * np.arange(n_cells + 1)
    frac = np.clip((x0 - edges[:-1]) / dx, 0.0, 1.0)  # fraction of each cell left of x0
    UL = conserved(L[0], L[1], L[2], gamma)
    UR = conserved(R[0], R[1], R[2], gamma)
    U0 = frac[None] * UL[:, None] + (1 - frac[None]) * UR[:, None]
    return dx, U0, UL, UR


def shock_tube(
    left,
    right,
    n_cells: int,
    t_end: float,
    flux=None,
    scheme: str = "nt",
    x0: float = 0.5,
    limiter: str = "mc",
    bc="outflow",
    executor: Executor | None = None,
    cfl: float | None = None,
    domain: tuple[float, float] = (0.0, 1.0),
    gamma: float | None = None,
    max_dt: float | None = None,
    progress: bool | Progress | Callable[[float, float], None] | None = None,
) -> ShockTubeResult:
    """Riemann problem ``left | right`` at ``x0`` on ``n_cells`` uniform cells of ``domain``.

    Parameters
    ----------
    left, right : tuple of float
        ``(rho, u, p)`` on either side of ``x0`` at ``t = 0``.
    n_cells : int
        Number of cells (>= 3).
    t_end : float
        Final time.
    flux : oracle, optional
        Flux oracle (measure ``"conserved"``, dim 1); default ``IdealGas(1.4)``.
    scheme, limiter, bc, executor, cfl, max_dt, progress
        As in :func:`evolve`; ``"inflow"`` sides hold the initial ``left`` / ``right`` state.
    x0 : float
        Position of the initial discontinuity.
    domain : (float, float)
        Interval ``[a, b]``.
    gamma : float, optional
        Ratio of specific heats used to convert the primitive states (default: the
        flux's own conversion for a real fluid (:func:`fe2.gas.fluid_of`), else
        ``flux.gamma``, else 1.4).

    Returns
    -------
    ShockTubeResult
        The cell holding ``x0`` starts from the exact average of the two states.
    """
    flux = IdealGas(1.4) if flux is None else flux
    gamma = fluid_of(flux, gamma)
    dx, U0, UL, UR = riemann_cells(left, right, n_cells, x0, domain, gamma)
    a = float(domain[0])
    r = evolve(U0, dx, t_end, flux, scheme=scheme, limiter=limiter, bc=bc, inflow=(UL, UR),
               cfl=cfl, x_left=a, executor=executor, max_dt=max_dt, progress=progress)
    rho, u, p = primitive(r.U, gamma)
    return ShockTubeResult(x=r.x, rho=rho, u=u[0], p=p, t=r.t, steps=r.steps, times=r.times,
                           mass=r.mass, momentum=r.momentum, energy=r.energy, U=r.U)
