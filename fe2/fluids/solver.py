"""Incompressible Navier–Stokes on the MAC grid by Chorin's projection method.

``rho (u_t + div(u u)) + grad p = eta_s lap u + div tau_p + rho f``, ``div u = 0``.

One step from ``t`` to ``t + dt``:

1. the polymer (extra) stress: the stress oracle is evaluated at the cell centres
   with the velocity gradient of ``u^n`` and the macro step ``dt`` (measure
   ``"velocity_gradient"``, :func:`fe2.oracle.evaluate`); time-dependent micro models
   advance their committed state by ``dt`` (seamless coupling: never re-initialised)
   and the returned state is committed with the step;
2. predictor: advection by second-order Adams–Bashforth (variable step), the solvent
   viscosity explicit or Crank–Nicolson (``viscous="implicit"``, one sparse Cholesky
   factor per ``dt``), ``div tau_p`` explicit;
3. projection: ``-lap phi = -div u* / dt`` with one factorization for the whole run
   (CHOLMOD simplicial when available, else SuperLU; PETSc CG + GAMG with
   ``pressure_solver="petsc"``),
   ``u = u* - dt grad phi``, ``p = phi`` (first order in time, second order in space).

Time steps follow a CFL limit on the advective and (explicit) viscous terms, capped
by ``dt_max``; ``dt`` may also be fixed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from fe2.linalg import SparseCholesky, cholmod_available, factorize, make_solver
from fe2.oracle import QuadratureState, evaluate

from .grid import MACGrid

__all__ = ["FlowState", "NavierStokes2D"]

log = logging.getLogger(__name__)


@dataclass
class FlowState:
    """Velocity, pressure and micro history at time ``t``.

    Attributes
    ----------
    U, V : ndarray
        Padded face velocities ``(nx + 3, ny + 2)`` and ``(nx + 2, ny + 3)``.
    p : ndarray
        Pressure ``(nx, ny)`` (mean zero).
    t : float
        Time.
    steps : int
        Macro steps taken.
    tau : ndarray or None
        Last extra stress from the oracle ``(2, 2, nx, ny)``.
    micro : QuadratureState or None
        Committed micro history at the cell centres.
    info : dict
        Last oracle diagnostics (``pts`` arrays).
    """

    U: np.ndarray
    V: np.ndarray
    p: np.ndarray
    t: float = 0.0
    steps: int = 0
    tau: np.ndarray | None = None
    micro: QuadratureState | None = None
    info: dict = field(default_factory=dict)


class _PetscSolve:
    """``b -> x`` with a PETSc CG + GAMG solver kept for the run; :meth:`destroy` frees it."""

    def __init__(self, A):
        self._A = A
        self._solver = make_solver("petsc", prefix="fluids_", ksp_type="cg")

    def __call__(self, b):
        return self._solver(self._A, b)

    def destroy(self):
        self._solver.destroy()


def _factor(A, solver: str) -> Callable[[np.ndarray], np.ndarray]:
    if solver == "petsc":
        return _PetscSolve(A)
    if solver == "cholesky" or (solver == "auto" and cholmod_available()):
        return SparseCholesky(A, mode="simplicial").factor(A).solve  # 2D: faster, no threads
    if solver in ("superlu", "auto"):
        return factorize(A, residual_check=None).solve
    raise ValueError(
        f"pressure_solver must be 'auto', 'cholesky', 'superlu' or 'petsc', got {solver!r}"
    )


class NavierStokes2D:
    """Projection-method solver on a :class:`MACGrid`.

    Parameters
    ----------
    grid : MACGrid
        Geometry and wall speeds.
    density : float
        ``rho``.
    viscosity : float
        Solvent viscosity ``eta_s`` treated by the Laplacian. Default: the oracle's
        ``solvent_viscosity`` when a stress oracle is given, else required.
    stress : oracle, optional
        Measure ``"velocity_gradient"``, ``dim = 2``: its ``flux`` is the extra stress
        ``2 eta_s D + tau_p`` (Pa); the solver uses ``tau_p = flux - 2 eta_s D``
        explicitly and the solvent part through the Laplacian.
    body_force : (float, float)
        Acceleration ``f`` (a pressure drop per length over ``rho`` drives a channel).
    viscous : {"implicit", "explicit"}
        Crank–Nicolson or forward Euler for ``eta_s lap u``.
    cfl : float
        Courant number for the advective limit ``dt <= cfl h / |u|_max``.
    dt : float, optional
        Fixed step (the CFL limit is then only checked, with a warning).
    dt_max : float
        Cap on adaptive steps.
    pressure_solver : {"auto", "cholesky", "superlu", "petsc"}
        Factorization of the pressure Laplacian (built once).
    executor, chunk_size
        Passed to :func:`fe2.oracle.evaluate` for the stress oracle.
    stabilization : float, optional
        Viscosity ``eta_a`` of the both-sides diffusion that keeps the explicit polymer
        stress stable when it is nearly viscous (``lam`` small against ``dt``):
        ``eta_a lap u`` implicit in the predictor, ``eta_a lap u^n`` subtracted
        explicitly, so steady states are unchanged and the transient error is
        ``O(dt eta_a)``. With a stress oracle the explicit part is
        ``eta_a div(grad u^n + grad u^n^T)`` on the oracle's own stencil (velocity
        gradient at cell centres, shear stress averaged to the corners): it removes the
        checkerboard modes that stencil cannot see (they are otherwise undamped, and a
        noisy particle stress drives them), the steady state changes by
        ``eta_a (lap_5 - lap_c) u = O(h^2)``, and a Newtonian oracle with viscosity
        ``eta_a`` gives exactly the five-point Navier–Stokes steady state. Default: the
        oracle's polymer viscosity
        ``zero_shear_viscosity - solvent_viscosity`` (0 without an oracle).
    """

    def __init__(
        self,
        grid: MACGrid,
        density: float = 1.0,
        viscosity: float | None = None,
        stress: Any = None,
        body_force: tuple[float, float] = (0.0, 0.0),
        viscous: Literal["implicit", "explicit"] = "implicit",
        cfl: float = 0.5,
        dt: float | None = None,
        dt_max: float = np.inf,
        pressure_solver: str = "auto",
        executor: Executor | None = None,
        chunk_size: int | None = None,
        stabilization: float | None = None,
    ):
        if stress is not None:
            if getattr(stress, "measure", None) != "velocity_gradient" or getattr(
                stress, "dim", None
            ) != 2:
                raise ValueError(
                    f"stress oracle {type(stress).__name__} must have measure "
                    f"'velocity_gradient' and dim 2, got {getattr(stress, 'measure', None)!r} "
                    f"and {getattr(stress, 'dim', None)!r}"
                )
            if viscosity is None:
                viscosity = float(getattr(stress, "solvent_viscosity", 0.0))
        if viscosity is None:
            raise ValueError("NavierStokes2D: give a viscosity or a stress oracle")
        for name, val, low in (("density", density, 0.0), ("cfl", cfl, 0.0)):
            if not (np.isfinite(val) and val > low):
                raise ValueError(f"NavierStokes2D: {name} must be > 0, got {val!r}")
        if not (np.isfinite(viscosity) and viscosity >= 0):
            raise ValueError(f"NavierStokes2D: viscosity must be >= 0, got {viscosity!r}")
        if viscous not in ("implicit", "explicit"):
            raise ValueError(f"viscous must be 'implicit' or 'explicit', got {viscous!r}")
        if dt is not None and not (np.isfinite(dt) and dt > 0):
            raise ValueError(f"NavierStokes2D: dt must be > 0, got {dt!r}")
        self.grid = grid
        self.rho = float(density)
        self.eta_s = float(viscosity)
        self.nu = self.eta_s / self.rho
        self.oracle = stress
        self.force = (float(body_force[0]), float(body_force[1]))
        if stabilization is None:
            eta0 = getattr(stress, "zero_shear_viscosity", None) if stress is not None else None
            stabilization = max(float(eta0) - self.eta_s, 0.0) if eta0 is not None else 0.0
        if not (np.isfinite(stabilization) and stabilization >= 0):
            raise ValueError(f"NavierStokes2D: stabilization must be >= 0, got {stabilization!r}")
        self.nu_a = float(stabilization) / self.rho
        self.viscous = viscous if self.nu > 0 else "explicit"
        self.cfl = float(cfl)
        self.dt_fixed = dt
        self.dt_max = float(dt_max)
        self.executor = executor
        self.chunk_size = chunk_size
        self._solve_p = _factor(grid.pressure_matrix(), pressure_solver)
        self._Lu, self._Lv = grid.viscous_matrices()
        self._helm: tuple[float, Any, Any] | None = None
        self._adv_old: tuple[np.ndarray, np.ndarray, float] | None = None
        # boundary part of the discrete Laplacian (walls are steady)
        U, V = grid.zeros_u(), grid.zeros_v()
        grid.fill(U, V)
        lu, lv = grid.laplacian(U, V)
        self._bu = lu[grid.u_faces].ravel()
        self._bv = lv[:, grid.v_faces].ravel()

    def close(self) -> None:
        """Free PETSc objects (``pressure_solver="petsc"``); a no-op otherwise."""
        if hasattr(self._solve_p, "destroy"):
            self._solve_p.destroy()

    def __enter__(self) -> NavierStokes2D:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ state
    def initial_state(self) -> FlowState:
        """Fluid at rest (walls set), micro models at their initial state."""
        g = self.grid
        U, V = g.zeros_u(), g.zeros_v()
        g.fill(U, V)
        micro = None
        if self.oracle is not None:
            micro = QuadratureState.for_oracle(self.oracle, (g.nx, g.ny))
        return FlowState(U=U, V=V, p=np.zeros((g.nx, g.ny)), micro=micro)

    def stable_dt(self, s: FlowState) -> float:
        """Largest step allowed by the CFL and explicit-viscous limits and ``dt_max``."""
        g = self.grid
        umax = max(np.abs(g.u_block(s.U)).max(), np.abs(g.wall_u(0)).max(),
                   np.abs(g.wall_u(1)).max())
        vmax = np.abs(g.v_block(s.V)).max()
        rate = umax / g.hx + vmax / g.hy
        dt = self.cfl / rate if rate > 0 else np.inf
        if self.viscous == "explicit" and self.nu > 0:
            dt = min(dt, 0.25 / (self.nu * (1 / g.hx**2 + 1 / g.hy**2)))
        dt = min(dt, self.dt_max)
        if not np.isfinite(dt):
            raise ValueError("NavierStokes2D: no velocity scale; give dt or dt_max")
        # keep the previous step while it stays within [0.7, 1] of the limit, else take
        # 0.9 of the limit: the Crank-Nicolson factors are then rarely refactorized
        last = self._adv_old[2] if self._adv_old is not None else None
        if last is not None and 0.7 * dt <= last <= dt:
            return last
        return 0.9 * dt if dt < self.dt_max else dt

    def _helmholtz(self, dt: float):
        """Factors of ``I - c L`` for u and v.

        ``c = dt nu / 2`` (Crank–Nicolson; 0 when explicit) plus ``dt nu_a``
        (both-sides diffusion).
        """
        if self._helm is None or self._helm[0] != dt:
            import scipy.sparse as sp

            a = (0.5 * dt * self.nu if self.viscous == "implicit" else 0.0) + dt * self.nu_a
            Au = (sp.identity(self._Lu.shape[0]) - a * self._Lu).tocsr()
            Av = (sp.identity(self._Lv.shape[0]) - a * self._Lv).tocsr()
            self._helm = (dt, _factor(Au, "auto"), _factor(Av, "auto"))
        return self._helm[1], self._helm[2]

    # ------------------------------------------------------------------ one step
    def step(self, s: FlowState, dt: float | None = None) -> FlowState:
        """Advance ``s`` by one macro step (in place) and return it."""
        g = self.grid
        if dt is None:
            dt = self.dt_fixed if self.dt_fixed is not None else self.stable_dt(s)
        g.fill(s.U, s.V)
        fu = np.full((g.nx + 1, g.ny), self.force[0])
        fv = np.full((g.nx, g.ny + 1), self.force[1])
        wide = None
        if self.oracle is not None:
            L = g.velocity_gradient(s.U, s.V)
            if self.nu_a > 0:  # the oracle's stencil applied to a unit Newtonian stress
                wide = g.stress_divergence(L + L.transpose(1, 0, 2, 3))
            r = evaluate(
                self.oracle, L, state=s.micro.committed, dt=dt,
                executor=self.executor, chunk_size=self.chunk_size,
            )
            tau_p = np.asarray(r.flux) - self.eta_s * (L + L.transpose(1, 0, 2, 3))
            if not np.all(np.isfinite(tau_p)):
                raise FloatingPointError(
                    f"stress oracle {type(self.oracle).__name__} returned non-finite stress at "
                    f"step {s.steps + 1} (t = {s.t:.6g}); reduce dt"
                )
            du, dv = g.stress_divergence(tau_p)
            fu += du / self.rho
            fv += dv / self.rho
            s.micro.set_trial(r.state)
            s.tau = np.asarray(r.flux)
            s.info = r.info
        au, av = g.advection(s.U, s.V)
        if self._adv_old is None:
            cu, cv = au, av
        else:
            r_ = dt / self._adv_old[2]
            cu = (1 + 0.5 * r_) * au - 0.5 * r_ * self._adv_old[0]
            cv = (1 + 0.5 * r_) * av - 0.5 * r_ * self._adv_old[1]
        self._adv_old = (au, av, dt)
        lu, lv = g.laplacian(s.U, s.V)
        ub, vb = g.u_block(s.U), g.v_block(s.V)
        iu, iv = g.u_faces, g.v_faces
        ru = ub[iu] + dt * (fu[iu] - cu[iu])
        rv = vb[:, iv] + dt * (fv[:, iv] - cv[:, iv])
        if self.viscous == "explicit":
            ru += dt * self.nu * lu[iu]
            rv += dt * self.nu * lv[:, iv]
            a = 0.0
        else:
            a = 0.5 * dt * self.nu
            ru += a * lu[iu]
            rv += a * lv[:, iv]
        if a > 0 or self.nu_a > 0:
            c = dt * self.nu_a
            if wide is None:
                # both-sides diffusion: + dt nu_a (L u* - L u^n); the wall terms cancel
                ru -= c * (lu[iu] - self._bu.reshape(ru.shape))
                rv -= c * (lv[:, iv] - self._bv.reshape(rv.shape))
            else:
                # + dt nu_a (lap_5 u* - div_c (grad_c u^n + grad_c u^n^T)): the compact
                # Laplacian implicit, the oracle's cell-centred stencil explicit
                ru += c * (self._bu.reshape(ru.shape) - wide[0][iu])
                rv += c * (self._bv.reshape(rv.shape) - wide[1][:, iv])
            hu, hv = self._helmholtz(dt)
            ru = hu(ru.ravel() + a * self._bu).reshape(ru.shape)
            rv = hv(rv.ravel() + a * self._bv).reshape(rv.shape)
        ub[iu] = ru
        vb[:, iv] = rv
        g.fill(s.U, s.V)
        # projection
        div = g.divergence(s.U, s.V)
        phi = self._solve_p(-(div / dt).ravel()).reshape(g.nx, g.ny)
        phi -= phi.mean()
        px, py = g.gradient(phi)
        ub[iu] -= dt * px
        vb[:, iv] -= dt * py
        g.fill(s.U, s.V)
        s.p = self.rho * phi
        s.t += dt
        s.steps += 1
        if s.micro is not None:
            s.micro.commit()
        if not (np.all(np.isfinite(ub)) and np.all(np.isfinite(vb))):
            raise FloatingPointError(
                f"NavierStokes2D: velocity not finite at step {s.steps} (t = {s.t:.6g}, "
                f"dt = {dt:.3g}); reduce cfl or dt"
            )
        return s
