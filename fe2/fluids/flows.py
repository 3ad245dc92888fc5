"""Ready-made flows: lid-driven cavity, periodic channel, homogeneous start-up shear.

Units are the user's (SI or dimensionless); the cavity is the unit square with lid
speed 1, so ``Re = rho / eta_0``.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fe2.oracle import QuadratureState, evaluate

from .grid import MACGrid
from .solver import FlowState, NavierStokes2D

__all__ = ["FlowResult", "channel", "lid_driven_cavity", "run", "start_up_shear", "time_average"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlowResult:
    """A MAC-grid flow at one time.

    Attributes
    ----------
    grid : MACGrid
    u : ndarray
        ``u`` on the x-faces ``(nx + 1, ny)`` (walls included).
    v : ndarray
        ``v`` on the y-faces ``(nx, ny + 1)``.
    p : ndarray
        Pressure at cell centres ``(nx, ny)``, mean zero.
    t : float
    steps : int
    tau : ndarray or None
        Extra stress at cell centres ``(2, 2, nx, ny)`` from the stress oracle.
    history : dict of str to ndarray
        Per-step series: ``"t"``, ``"change"`` (max ``|u^{n+1} - u^n| / dt``) and any
        recorded probes.
    converged : bool
        Steady state reached (runs with a steady tolerance).
    micro : dict
        Committed micro history at the cell centres (arrays ``(..., nx, ny)``).
    info : dict
        Last per-point oracle diagnostics ``(nx, ny)`` (e.g. ``tau_xy_se``).
    snapshots : tuple of FlowResult
        Intermediate results kept by :func:`run` (``snapshots=k``), last one included.
    """

    grid: MACGrid
    u: np.ndarray
    v: np.ndarray
    p: np.ndarray
    t: float
    steps: int
    tau: np.ndarray | None = None
    history: dict = field(default_factory=dict)
    converged: bool = False
    micro: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    snapshots: tuple = ()

    def cell_velocity(self) -> np.ndarray:
        """Velocity averaged to cell centres ``(2, nx, ny)``."""
        return np.stack([0.5 * (self.u[1:] + self.u[:-1]), 0.5 * (self.v[:, 1:] + self.v[:, :-1])])

    def vorticity(self) -> np.ndarray:
        """``dv/dx - du/dy`` at the cell centres ``(nx, ny)`` (central differences)."""
        g = self.grid
        uc, vc = self.cell_velocity()
        return np.gradient(vc, g.hx, axis=0) - np.gradient(uc, g.hy, axis=1)

    def centerline_u(self) -> tuple[np.ndarray, np.ndarray]:
        """``(y, u)`` on the vertical line ``x = lx/2``, walls included: ``(ny + 2,)`` each."""
        g = self.grid
        xm = 0.5 * g.lx / g.hx
        i = int(np.floor(xm))
        w = xm - i
        col = self.u[i] if w == 0 else (1 - w) * self.u[i] + w * self.u[min(i + 1, g.nx)]
        y = np.concatenate([[0.0], g.yc, [g.ly]])
        walls = [float(g.wall_u(k, np.array([0.5 * g.lx]))[0]) for k in (0, 1)]
        return y, np.concatenate([[walls[0]], col, [walls[1]]])

    def centerline_v(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, v)`` on the horizontal line ``y = ly/2``, side walls included."""
        g = self.grid
        ym = 0.5 * g.ly / g.hy
        j = int(np.floor(ym))
        w = ym - j
        row = self.v[:, j] if w == 0 else (1 - w) * self.v[:, j] + w * self.v[:, min(j + 1, g.ny)]
        x = np.concatenate([[0.0], g.xc, [g.lx]])
        return x, np.concatenate([[0.0], row, [0.0]])

    def to_dict(self) -> dict[str, Any]:
        """Scalars for a ``summary.json``."""
        return {
            "nx": self.grid.nx, "ny": self.grid.ny, "t": self.t, "steps": self.steps,
            "converged": self.converged,
            "max_u": float(np.abs(self.u).max()), "max_v": float(np.abs(self.v).max()),
        }


def run(
    solver: NavierStokes2D,
    t_end: float | None = None,
    steady_tol: float | None = None,
    max_steps: int = 1_000_000,
    state: FlowState | None = None,
    progress: bool = False,
    snapshots: int = 0,
) -> FlowResult:
    """Advance ``solver`` to ``t_end`` or until ``max |du/dt| < steady_tol``.

    Parameters
    ----------
    solver : NavierStokes2D
        The configured solver.
    t_end : float, optional
        End time (the last step is shortened to land on it).
    steady_tol : float, optional
        Stop when the largest velocity change per unit time falls below this.
    max_steps : int
        Safety cap on macro steps.
    state : FlowState, optional
        Continue from this state (default: fluid at rest).
    progress : bool
        Show a progress bar over macro steps (tqdm).
    snapshots : int
        Keep this many results at ``t_end k / snapshots`` (the steps are shortened to
        land on those times; needs ``t_end``) in ``FlowResult.snapshots`` (for
        :func:`fe2.fluids.write_series`).
    """
    if t_end is None and steady_tol is None:
        raise ValueError("run: give t_end, steady_tol or both")
    if t_end is not None and not (np.isfinite(t_end) and t_end > 0):
        raise ValueError(f"run: t_end must be > 0, got {t_end!r}")
    g = solver.grid
    s = state if state is not None else solver.initial_state()
    ts, changes = [], []
    converged = False
    kept: list[FlowResult] = []
    marks = list(np.linspace(0.0, t_end, snapshots + 1)[1:]) if (snapshots and t_end) else []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=t_end, unit="t", desc="macro steps") if t_end else tqdm(desc="macro")
    try:
        while s.steps < max_steps:
            dt = solver.dt_fixed if solver.dt_fixed is not None else solver.stable_dt(s)
            if t_end is not None:
                if s.t >= t_end * (1 - 1e-12):
                    break
                dt = min(dt, t_end - s.t)
            if marks and marks[0] > s.t:
                dt = min(dt, marks[0] - s.t)  # land on the snapshot times
            u0 = g.u_block(s.U).copy()
            v0 = g.v_block(s.V).copy()
            solver.step(s, dt)
            change = max(np.abs(g.u_block(s.U) - u0).max(), np.abs(g.v_block(s.V) - v0).max()) / dt
            ts.append(s.t)
            changes.append(change)
            if marks and s.t >= marks[0] * (1 - 1e-12):
                while marks and s.t >= marks[0] * (1 - 1e-12):
                    marks.pop(0)
                kept.append(_result(solver, s, {}, False, ()))
            if bar is not None:
                bar.update(dt if t_end else 1)
                bar.set_postfix(change=f"{change:.2e}")
            if steady_tol is not None and change < steady_tol:
                converged = True
                break
    finally:
        if bar is not None:
            bar.close()
    if steady_tol is not None and not converged:
        log.warning("run: not steady after %d steps (t = %.4g): change %.3g > %.3g",
                    s.steps, s.t, changes[-1] if changes else np.nan, steady_tol)
    history = {"t": np.array(ts), "change": np.array(changes)}
    return _result(solver, s, history, converged, tuple(kept))


def time_average(result: FlowResult, t_from: float, batches: int = 5) -> dict[str, np.ndarray]:
    """Time averages of a noisy (particle-stress) run over its snapshots with ``t > t_from``.

    The snapshots (``run(..., snapshots=k)``) after ``t_from`` are split into ``batches``
    consecutive batches; the standard errors are those of the batch means (batch means
    absorb the time correlation of the noise when the batches are longer than it).

    Returns
    -------
    dict
        ``y, u, u_se`` (vertical centreline, ``(ny + 2,)``), ``x, v, v_se`` (horizontal
        centreline, ``(nx + 2,)``), ``tau_xy_top, tau_xy_top_se`` (mean shear stress of the
        top row of cells: the lid drag per length), ``samples`` (snapshots averaged).
    """
    snaps = [s for s in result.snapshots if s.t > t_from * (1 + 1e-12)]
    if len(snaps) < 2 * batches:
        raise ValueError(f"time_average: {len(snaps)} snapshots after t = {t_from}; need at "
                         f"least {2 * batches} (run with more snapshots or an earlier t_from)")
    U = np.array([s.centerline_u()[1] for s in snaps])
    V = np.array([s.centerline_v()[1] for s in snaps])
    T = np.array([s.tau[0, 1, :, -1].mean() if s.tau is not None else np.nan for s in snaps])

    def mean_se(a):
        m = np.array([b.mean(axis=0) for b in np.array_split(a, batches)])
        return a.mean(axis=0), m.std(axis=0, ddof=1) / np.sqrt(batches)

    out: dict[str, Any] = {"y": snaps[0].centerline_u()[0], "x": snaps[0].centerline_v()[0],
                           "samples": len(snaps)}
    out["u"], out["u_se"] = mean_se(U)
    out["v"], out["v_se"] = mean_se(V)
    out["tau_xy_top"], out["tau_xy_top_se"] = mean_se(T)
    return out


def _result(solver: NavierStokes2D, s: FlowState, history: dict, converged: bool,
            kept: tuple) -> FlowResult:
    g = solver.grid
    return FlowResult(
        grid=g, u=g.u_block(s.U).copy(), v=g.v_block(s.V).copy(), p=s.p.copy(), t=s.t,
        steps=s.steps, tau=None if s.tau is None else s.tau.copy(), history=history,
        converged=converged, micro=s.micro.as_arrays() if s.micro is not None else {},
        info={k: np.array(v) for k, v in s.info.items()}, snapshots=kept,
    )


def _zero_shear(stress: Any) -> float:
    eta0 = getattr(stress, "zero_shear_viscosity", None)
    if eta0 is None:
        raise ValueError(
            f"stress oracle {type(stress).__name__} has no zero_shear_viscosity; "
            "give density= explicitly"
        )
    return float(eta0)


def lid_driven_cavity(
    reynolds: float,
    n: int,
    stress: Any = None,
    t_end: float | None = None,
    steady_tol: float | None = 1e-5,
    cfl: float = 0.5,
    dt: float | None = None,
    density: float | None = None,
    viscous: str = "implicit",
    pressure_solver: str = "auto",
    executor: Executor | None = None,
    progress: bool = False,
    max_steps: int = 1_000_000,
    snapshots: int = 0,
    lid: str = "uniform",
) -> FlowResult:
    """Flow in the unit square driven by the lid ``y = 1`` moving at speed 1.

    Parameters
    ----------
    reynolds : float
        ``Re = rho U L / eta_0`` with ``U = L = 1``.
    n : int
        Cells per side.
    stress : oracle, optional
        Extra-stress oracle (measure ``"velocity_gradient"``); default Newtonian with
        ``eta = 1 / Re`` and ``rho = 1``. With an oracle, ``rho = Re * eta_0`` (its
        ``zero_shear_viscosity``) unless ``density`` is given.
    t_end, steady_tol
        Stop at ``t_end`` or at steady state (``max |du/dt| < steady_tol``).
    cfl, dt, viscous, pressure_solver, executor
        See :class:`NavierStokes2D`.
    density : float, optional
        Overrides the density implied by ``reynolds``.
    progress : bool
        Progress bar over macro steps.
    max_steps : int
        Safety cap on macro steps.
    snapshots : int
        Intermediate results to keep (with ``t_end``), see :func:`run`.
    lid : {"uniform", "regularized"}
        Lid speed 1 everywhere (Ghia et al.), or ``16 x^2 (1 - x)^2`` (speed 1 at the
        centre, zero at the corners: no corner singularity, the usual choice for
        viscoelastic cavities, whose extensional stresses would grow without bound there).

    Returns
    -------
    FlowResult
        With ``centerline_u()`` and ``centerline_v()`` for comparison with Ghia et al.

    Examples
    --------
    >>> r = lid_driven_cavity(100, 16, t_end=0.05)
    >>> y, u = r.centerline_u()
    >>> float(u[-1])
    1.0
    """
    if not (np.isfinite(reynolds) and reynolds > 0):
        raise ValueError(f"lid_driven_cavity: reynolds must be > 0, got {reynolds!r}")
    if lid not in ("uniform", "regularized"):
        raise ValueError(f"lid_driven_cavity: lid must be 'uniform' or 'regularized', got {lid!r}")
    top = 1.0 if lid == "uniform" else (lambda x: 16.0 * x**2 * (1.0 - x) ** 2)
    grid = MACGrid(n, n, wall_speed=(0.0, top))
    if stress is None:
        rho = 1.0 if density is None else float(density)
        solver = NavierStokes2D(grid, density=rho, viscosity=rho / reynolds, viscous=viscous,
                                cfl=cfl, dt=dt, pressure_solver=pressure_solver)
    else:
        rho = reynolds * _zero_shear(stress) if density is None else float(density)
        solver = NavierStokes2D(grid, density=rho, stress=stress, viscous=viscous, cfl=cfl,
                                dt=dt, pressure_solver=pressure_solver, executor=executor)
    with solver:
        return run(solver, t_end=t_end, steady_tol=steady_tol if t_end is None else None,
                   max_steps=max_steps, progress=progress, snapshots=snapshots)


def channel(
    ny: int,
    t_end: float,
    gradient: float = 1.0,
    viscosity: float | None = None,
    stress: Any = None,
    density: float = 1.0,
    wall_speed: tuple[float, float] = (0.0, 0.0),
    nx: int = 4,
    length: float | None = None,
    dt: float | None = None,
    cfl: float = 0.5,
    dt_max: float = np.inf,
    viscous: str = "implicit",
    executor: Executor | None = None,
    progress: bool = False,
    snapshots: int = 0,
) -> FlowResult:
    """Periodic channel ``0 <= y <= 1`` from rest.

    Driven by ``-dp/dx = gradient`` and/or sliding walls (start-up Couette:
    ``gradient=0, wall_speed=(0, U)``).

    Parameters
    ----------
    ny : int
        Cells across the channel.
    t_end : float
        End time.
    gradient : float
        Pressure drop per length (Pa/m), applied as the body force ``gradient / rho``.
    viscosity : float, optional
        Newtonian viscosity; or give a ``stress`` oracle.
    stress : oracle, optional
        Extra-stress oracle (see :class:`NavierStokes2D`).
    density : float
        ``rho``.
    wall_speed : (float, float)
        Speeds of the walls ``y = 0`` and ``y = 1``.
    nx, length
        Cells along the period and its length (default square cells).
    dt, cfl, dt_max, viscous, executor
        See :class:`NavierStokes2D`.
    progress : bool
        Progress bar over macro steps.
    snapshots : int
        Intermediate results to keep, see :func:`run`.
    """
    if length is None:
        length = nx / ny
    grid = MACGrid(nx, ny, lx=length, ly=1.0, periodic_x=True, wall_speed=tuple(wall_speed))
    solver = NavierStokes2D(
        grid, density=density, viscosity=viscosity, stress=stress,
        body_force=(gradient / density, 0.0), viscous=viscous, cfl=cfl, dt=dt, dt_max=dt_max,
        executor=executor,
    )
    with solver:
        return run(solver, t_end=t_end, progress=progress, snapshots=snapshots)


def start_up_shear(
    oracle: Any,
    shear_rate: float,
    t_end: float,
    dt: float,
    with_errors: bool = False,
):
    """Start-up of homogeneous simple shear ``u = (rate y, 0)`` from rest at ``t = 0``.

    The oracle is evaluated at one point with ``L = [[0, rate], [0, 0]]`` and advanced by
    ``dt`` per call (its state committed each step).

    Parameters
    ----------
    oracle : oracle
        Stress oracle (measure ``"velocity_gradient"``, dim 2).
    shear_rate : float
        ``rate`` (1/s).
    t_end, dt : float
        End time and step (``round(t_end / dt)`` steps).
    with_errors : bool
        Also return the oracle's standard errors of ``tau_xy`` and ``N1``
        (``info["tau_xy_se"]``, ``info["n1_se"]``; zeros for deterministic oracles).

    Returns
    -------
    t : ndarray ``(m,)``
        ``dt, 2 dt, ..., t_end``.
    tau_xy, n1 : ndarray ``(m,)``
        Shear stress and first normal-stress difference ``tau_xx - tau_yy`` (Pa).
    tau_xy_se, n1_se : ndarray ``(m,)``
        Only with ``with_errors``.
    """
    if getattr(oracle, "measure", None) != "velocity_gradient":
        raise ValueError(
            f"start_up_shear: oracle {type(oracle).__name__} has measure "
            f"{getattr(oracle, 'measure', None)!r}, expected 'velocity_gradient'"
        )
    for name, v in (("t_end", t_end), ("dt", dt)):
        if not (np.isfinite(v) and v > 0):
            raise ValueError(f"start_up_shear: {name} must be > 0, got {v!r}")
    m = max(1, int(round(t_end / dt)))
    g = np.zeros((2, 2, 1))
    g[0, 1] = shear_rate
    qs = QuadratureState.for_oracle(oracle, (1,))
    out = np.zeros((4, m))
    for k in range(m):
        r = evaluate(oracle, g, state=qs.committed, dt=dt)
        qs.set_trial(r.state)
        qs.commit()
        out[0, k] = r.flux[0, 1, 0]
        out[1, k] = r.flux[0, 0, 0] - r.flux[1, 1, 0]
        out[2, k] = np.asarray(r.info.get("tau_xy_se", np.zeros(1)))[0]
        out[3, k] = np.asarray(r.info.get("n1_se", np.zeros(1)))[0]
    t = dt * np.arange(1, m + 1)
    if with_errors:
        return t, out[0], out[1], out[2], out[3]
    return t, out[0], out[1]
