"""The adaptive time loop shared by the finite-element and spectral phase-field solvers.

A solver provides one step ``step(state, dt) -> (state, newton_iterations)`` (or
``step(state, dt, t)`` when its attribute ``needs_time`` is true: time-dependent sources
or boundary values) (raising
:class:`StepFailed` when its nonlinear solve does not converge), the order parameter of a
state, its free energy and its mass. :func:`integrate` steps from ``t = 0`` to ``t_end``:

* the step size is driven by the change per step: after a step that changed the field by
  ``delta = max |phi_new - phi_old|``, with the change of the change ``e = max |phi_new -
  phi_old - r (phi_old - phi_older)| / (max phi_new - min phi_new)`` (relative to the
  spread of the field, so that the growth of small perturbations is followed as closely
  as the motion of developed interfaces) (``r`` the ratio of the steps; ``e ~ dt^2 |phi_tt|``
  estimates the local error of a first-order scheme; on stiff interfaces it grows more like
  ``dt`` than ``dt^2``, so it is used linearly) the next step is ``dt * clip(min(0.9
  change_tol / delta, 0.9 error_tol / e), 0.2, 2)``; a step with ``delta > 2
  change_tol`` or ``e > 2 error_tol``, or a failed nonlinear solve, is rejected and retried
  smaller (a solver may lower the growth limit 2 by an attribute ``max_step_growth``:
  the Crank–Nicolson SAV scheme, whose stiff modes ring after a large step change;
  a solver stable only in a modified energy (``has_modified_energy``) may also set
  ``energy_rise``: a step raising the true ``F`` by more than ``energy_rise |F|`` is
  rejected and retried at half the step; a solver that factorises a matrix per step
  size may set ``step_ladder = q > 1``: adaptive steps are then rounded down to powers of
  ``q``, so that few distinct steps occur and their factorisations are reused).
  Energy-stable schemes stay stable at any step, so the step grows as the dynamics
  slow down (coarsening to ``t = 1e6`` takes hundreds of steps);
* ``norm="rms"`` measures both by their root mean square instead of their maximum
  (long coarsening runs: local topological events then limit the step less);
* with ``adaptive=False`` the step is fixed (the last one shortened to land on
  ``t_end``).

The free energy and the mass are recorded after every accepted step; fields every
``save_every`` steps (and the first and last).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from fe2.io import Progress

__all__ = ["NORMS", "PhaseFieldResult", "StepFailed", "integrate"]

#: Norms of the change per step: largest value, or root mean square.
NORMS = ("max", "rms")

log = logging.getLogger(__name__)

_GROW, _SHRINK, _SAFETY, _REJECT = 2.0, 0.2, 0.9, 2.0
_ERROR_TOL = 1e-3  # default error estimate per step relative to the spread of the field


class StepFailed(RuntimeError):
    """The nonlinear solve of one time step did not converge (the step is retried smaller)."""


@dataclass(frozen=True, eq=False)
class PhaseFieldResult:
    """A phase-field run.

    Attributes
    ----------
    times : ndarray (n + 1,)
        Time at the start and after every accepted step.
    energy : ndarray (n + 1,)
        Free energy ``F`` at those times [energy].
    mass : ndarray (n + 1,)
        ``int phi dV`` at those times.
    dt : ndarray (n,)
        Accepted step sizes.
    saved_times : ndarray (k,)
    saved : ndarray (k, N)
        Order parameter (dof values, or grid values flattened for the spectral solvers)
        at ``saved_times``.
    field : ndarray (N,)
        Final order parameter.
    rejected : int
        Rejected steps (too large a change, or no nonlinear convergence).
    newton_iterations : int
        Nonlinear iterations summed over accepted steps (0 for linear schemes).
    modified_energy : ndarray (n + 1,) or None
        The energy the scheme keeps non-increasing when it is not ``F`` itself (the SAV
        energy of ``SpectralCahnHilliard(scheme="sav")``), at ``times``; else None.
    """

    times: np.ndarray
    energy: np.ndarray
    mass: np.ndarray
    dt: np.ndarray
    saved_times: np.ndarray
    saved: np.ndarray
    field: np.ndarray
    rejected: int
    newton_iterations: int
    modified_energy: np.ndarray | None = None

    @property
    def steps(self) -> int:
        """Accepted steps."""
        return int(self.dt.size)

    def energy_increases(self, rtol: float = 1e-12) -> int:
        """Steps whose free energy rose by more than ``rtol * |F|`` (0 for a stable run)."""
        dF = np.diff(self.energy)
        return int(np.sum(dF > rtol * np.abs(self.energy[1:]).clip(1e-300)))

    def to_csv(self, path) -> None:
        """Write ``t, F, mass`` (one row per recorded time) as CSV."""
        np.savetxt(path, np.column_stack([self.times, self.energy, self.mass]), delimiter=",",
                   header="t,free_energy,mass", comments="", fmt="%.17g")


def integrate(
    solver: Any, state: Any, t_end: float, dt: float | None, callback: Callable | None,
    save_every: int | None, change_tol: float, dt_max: float, adaptive: bool, progress: bool,
    owner: str, error_tol: float | None = None, norm: str = "max",
) -> PhaseFieldResult:
    """Run ``solver`` (see the module docs) from ``state`` to ``t_end``.

    ``callback(t, phi, info) -> bool | None`` is called after every accepted step with the
    order parameter ``phi (N,)`` and ``info`` (``dt``, ``change``, ``energy``, ``mass``,
    ``step``); returning False stops the run. ``norm``: ``"max"`` measures the change
    and the error estimate by their largest value, ``"rms"`` by their root mean square
    over the dofs (grid points): local events (a particle vanishing, a neck pinching off)
    then limit the step much less, so that long coarsening runs take hundreds of steps
    (with a scheme that follows slow dynamics at large steps, e.g.
    ``SpectralCahnHilliard(scheme="implicit")``).
    """
    if norm not in NORMS:
        raise ValueError(f"{owner}.solve: norm must be one of {NORMS}, got {norm!r}")
    size = _rms if norm == "rms" else _max
    t_end = _check_positive(owner, "t_end", t_end)
    change_tol = _check_positive(owner, "change_tol", change_tol)
    error_tol = (_ERROR_TOL if error_tol is None
                 else _check_positive(owner, "error_tol", error_tol))
    dt_max = math.inf if dt_max is None else _check_positive(owner, "dt_max", dt_max)
    if save_every is not None and (isinstance(save_every, bool)
                                   or not isinstance(save_every, int | np.integer)
                                   or save_every < 1):
        raise ValueError(f"{owner}.solve: save_every must be an integer >= 1 (steps), "
                         f"got {save_every!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"{owner}.solve: callback must be callable, got {callback!r}")
    phi = solver.order_parameter(state)
    if dt is None:
        if not adaptive:
            raise ValueError(f"{owner}.solve: adaptive=False needs a step dt")
        rate = solver.rate(state)
        dt = min(dt_max, 0.1 * change_tol / rate if rate > 0 else t_end)
    dt = min(_check_positive(owner, "dt", dt), t_end)
    times, energy, mass, steps = [0.0], [solver.energy(state)], [solver.mass(state)], []
    # schemes stable in an energy other than F (SAV) say so by has_modified_energy
    modified = solver.modified_energy if getattr(solver, "has_modified_energy", False) \
        else None
    mod_energy = [] if modified is None else [modified(state)]
    energy_rise = getattr(solver, "energy_rise", None)
    saved_t, saved = [0.0], [phi.copy()]
    t, n, rejected, newton, dt_min = 0.0, 0, 0, 0, 1e-14 * t_end
    last_change, h_prev = None, None  # phi_old - phi_older and its step
    timed = bool(getattr(solver, "needs_time", False))  # step(state, dt, t): sources, g(t)
    grow = float(getattr(solver, "max_step_growth", _GROW))  # largest dt_new / dt
    # solvers that factorise a matrix per step size (CahnHilliard SAV) round adaptive
    # steps down to powers of step_ladder, so that factorisations are reused
    ladder = getattr(solver, "step_ladder", None) if adaptive else None
    with Progress(total=t_end, desc=owner, unit="t", enabled=progress, integer=False) as bar:
        while t < t_end * (1 - 1e-12):
            h = min(dt, dt_max, t_end - t)
            if ladder is not None and h < t_end - t:
                h = ladder ** math.floor(math.log(h) / math.log(ladder) + 1e-9)
            try:
                new, its = (solver.step(state, h, t) if timed else solver.step(state, h))
            except StepFailed as err:
                if not adaptive or h <= dt_min:
                    raise StepFailed(f"{owner}: step {n + 1} at t = {t:.6g} with dt = {h:.3e} "
                                     f"failed: {err}") from err
                rejected += 1
                dt = h / 4
                log.debug("%s: t=%.4g dt=%.3e rejected (%s)", owner, t, h, err)
                continue
            phi_new = solver.order_parameter(new)
            change = size(phi_new - phi)
            if not np.isfinite(change):
                raise StepFailed(f"{owner}: step {n + 1} at t = {t:.6g} with dt = {h:.3e} gave "
                                 "non-finite values")
            factor = _SAFETY * change_tol / max(change, 1e-300)
            err = 0.0
            if last_change is not None:
                # relative to the spread (floored: a uniform field is not all error)
                err = size(phi_new - phi - (h / h_prev) * last_change) / max(
                    float(phi_new.max() - phi_new.min()), 1e-3 * change_tol)
                factor = min(factor, _SAFETY * error_tol / max(err, 1e-300))
            F_new = solver.energy(new)
            rise = False
            if modified is not None and energy_rise is not None:
                # schemes stable only in a modified energy: a rise of the true F by more
                # than energy_rise |F| rejects the step (and halves it)
                rise = F_new - energy[-1] > energy_rise * abs(energy[-1])
                if rise:
                    factor = min(factor, 0.5)
            if adaptive and h > dt_min and (change > _REJECT * change_tol
                                            or err > _REJECT * error_tol or rise):
                rejected += 1
                dt = h * max(_SHRINK, min(factor, 1.0))
                continue
            last_change, h_prev = phi_new - phi, h
            state, phi, t, n = new, phi_new, t + h, n + 1
            newton += its
            steps.append(h)
            times.append(t)
            energy.append(F_new)
            mass.append(solver.mass(state))
            if modified is not None:
                mod_energy.append(modified(state))
            if adaptive:
                dt = h * min(grow, max(_SHRINK, factor))
            last = t >= t_end * (1 - 1e-12)
            if last or (save_every is not None and n % save_every == 0):
                saved_t.append(t)
                saved.append(phi.copy())
            bar.advance(h, F=energy[-1], dt=h)
            if callback is not None:
                info = {"dt": h, "change": change, "energy": energy[-1], "mass": mass[-1],
                        "step": n}
                if callback(t, phi, info) is False:
                    if not last:
                        saved_t.append(t)
                        saved.append(phi.copy())
                    break
    log.debug("%s: %d steps (%d rejected) to t = %.6g, F = %.8g", owner, n, rejected, t,
             energy[-1])
    return PhaseFieldResult(
        times=np.asarray(times), energy=np.asarray(energy), mass=np.asarray(mass),
        dt=np.asarray(steps), saved_times=np.asarray(saved_t), saved=np.asarray(saved),
        field=phi, rejected=rejected, newton_iterations=newton,
        modified_energy=None if modified is None else np.asarray(mod_energy),
    )


def _max(u: np.ndarray) -> float:
    return float(np.abs(u).max())


def _rms(u: np.ndarray) -> float:
    return float(np.sqrt(np.mean(u * u)))


def _check_positive(owner: str, what: str, value: object) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = float("nan")
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{owner}.solve: {what} must be a finite number > 0, got {value!r}")
    return v
