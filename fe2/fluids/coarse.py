"""Dumbbell ensembles as micro models of the coarse time steppers of :mod:`fe2.timescales`.

:class:`DumbbellModel` has the stepping protocol of :class:`fe2.timescales.MicroModel`
for a homogeneous flow with a prescribed velocity gradient ``L(t)`` ``(2, 2)`` (1/s): its
micro state is one ensemble of connector vectors ``Q`` ``(2, N)`` (components first,
ensemble last), advanced by the Brownian dynamics of the wrapped
:class:`~fe2.fluids.HookeanDumbbells` or :class:`~fe2.fluids.FENEDumbbells`
(their ``evaluate`` with ``dt``; the Wiener increments are theirs, seeded by the
oracle's ``seed`` and a running micro-step count, so the stepper's ``rng`` only draws
the lifted ensembles).

The coarse variables are the conformation tensor ``A = <Q Q>`` (dimensionless, ``Q`` in
units of ``sqrt(kT/H)``) as ``U = (A_xx, A_xy, A_yy)``; the polymer stress is
``eta_p / lam (A - I)`` for Hookean dumbbells:

- **restrict** ``Q -> (mean Q_x^2, mean Q_x Q_y, mean Q_y^2)``;
- **lift** ``U -> Q = chol(A) z`` with ``z`` standard normal ``(2, N)``: exact in law for
  Hookean dumbbells (their ensemble stays Gaussian under a linear flow); for FENE
  dumbbells a Gaussian with the same second moment, samples with ``|Q|^2 >= b`` drawn
  again (an approximation of the FENE-P kind, stated here).

:meth:`DumbbellModel.stepper` returns the :class:`fe2.timescales.CoarseStepper`, ready for
:func:`fe2.timescales.projective_euler` and the other coarse integrators. For Hookean
dumbbells the coarse dynamics is the Oldroyd-B conformation equation
``A' = L A + A L^T - (A - I) / lam``, the independent reference of the tests.

Examples
--------
>>> import numpy as np
>>> from fe2.fluids import DumbbellModel, HookeanDumbbells
>>> m = DumbbellModel(HookeanDumbbells(500, lam=1.0, eta_p=1.0), [[0.0, 1.0], [0.0, 0.0]])
>>> Q = m.lift(np.array([1.0, 0.0, 1.0]), np.random.default_rng(0))
>>> Q.shape
(2, 500)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from fe2.timescales import CoarseStepper

from .dumbbells import FENEDumbbells, HookeanDumbbells

__all__ = ["DumbbellModel"]


class DumbbellModel:
    """One dumbbell ensemble in a homogeneous flow, as a coarse-stepper micro model.

    Parameters
    ----------
    dumbbells : HookeanDumbbells or FENEDumbbells
        The micro model; its ``n_dumbbells`` is the ensemble size ``N``, its ``seed`` seeds
        the Wiener increments, and its ``micro_dt`` (default ``lam / 50``) caps the
        Brownian step inside one stepper step.
    velocity_gradient : array (2, 2) or callable ``t -> (2, 2)``
        ``L_ij = du_i/dx_j`` (1/s), traceless.

    Attributes
    ----------
    micro_steps : int
        Brownian steps taken so far (the cost measure, per ensemble).
    """

    def __init__(self, dumbbells: HookeanDumbbells | FENEDumbbells,
                 velocity_gradient: Any):
        if not isinstance(dumbbells, HookeanDumbbells | FENEDumbbells):
            raise TypeError(f"DumbbellModel: dumbbells must be HookeanDumbbells or "
                            f"FENEDumbbells, got {type(dumbbells).__name__}")
        if getattr(dumbbells, "control_variate", False):
            raise ValueError("DumbbellModel: FENEDumbbells(control_variate=True) carries a "
                             "Hookean twin ensemble that a conformation cannot lift; use "
                             "control_variate=False")
        self.dumbbells = dumbbells
        if callable(velocity_gradient):
            self._L: Callable[[float], Any] = velocity_gradient
        else:
            L = self._check_L(velocity_gradient, "velocity_gradient")
            self._L = lambda t: L
        self._check_L(self._L(0.0), "velocity_gradient(0)")
        self.micro_steps = 0

    @staticmethod
    def _check_L(L: Any, what: str) -> np.ndarray:
        L = np.asarray(L, dtype=float)
        if L.shape != (2, 2) or not np.all(np.isfinite(L)):
            raise ValueError(f"DumbbellModel: {what} must be a finite (2, 2) array, got "
                             f"shape {L.shape}")
        if abs(L[0, 0] + L[1, 1]) > 1e-12 * max(1.0, float(np.abs(L).max())):
            raise ValueError(f"DumbbellModel: {what} must be traceless (incompressible), got "
                             f"trace {L[0, 0] + L[1, 1]:.6g}")
        return L

    @property
    def n(self) -> int:
        """Ensemble size ``N``."""
        return self.dumbbells.n_dumbbells

    def lift(self, U: Any, rng: np.random.Generator) -> np.ndarray:
        """Ensemble ``Q`` ``(2, N)`` with conformation ``U = (A_xx, A_xy, A_yy)``."""
        U = np.asarray(U, dtype=float).reshape(-1)
        if U.shape != (3,) or not np.all(np.isfinite(U)):
            raise ValueError(f"DumbbellModel.lift: expected 3 finite coarse values (A_xx, "
                             f"A_xy, A_yy), got {U.tolist()}")
        A = np.array([[U[0], U[1]], [U[1], U[2]]])
        try:
            C = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise ValueError(f"DumbbellModel.lift: the conformation {A.tolist()} is not "
                             "positive definite") from None
        Q = C @ rng.standard_normal((2, self.n))
        b = getattr(self.dumbbells, "b", None)
        if b is not None:
            if np.trace(A) >= b:
                raise ValueError(f"DumbbellModel.lift: tr A = {np.trace(A):.6g} must be "
                                 f"below the FENE extensibility b = {b:.6g}")
            for _ in range(100):
                bad = (Q * Q).sum(axis=0) >= b
                if not bad.any():
                    break
                Q[:, bad] = C @ rng.standard_normal((2, int(bad.sum())))
            else:
                raise ValueError("DumbbellModel.lift: could not draw a FENE ensemble "
                                 f"inside |Q|^2 < b = {b:.6g} for A = {A.tolist()}")
        return Q

    @staticmethod
    def restrict(Q: np.ndarray) -> np.ndarray:
        """Conformation ``(A_xx, A_xy, A_yy)`` of the ensemble ``Q`` ``(2, N)``."""
        Q = np.asarray(Q, dtype=float)
        return np.array([np.mean(Q[0] * Q[0]), np.mean(Q[0] * Q[1]), np.mean(Q[1] * Q[1])])

    def step(self, state: np.ndarray, t: float, dt: float, rng: Any = None,
             args: tuple = ()) -> np.ndarray:
        """The ensemble ``state`` ``(2, N)`` advanced by ``dt`` (s) under ``L(t)``."""
        if not (math.isfinite(dt) and dt > 0):
            raise ValueError(f"DumbbellModel.step: dt must be finite and > 0, got {dt!r}")
        Q = np.asarray(state, dtype=float)
        if Q.shape != (2, self.n):
            raise ValueError(f"DumbbellModel.step: expected an ensemble of shape "
                             f"(2, {self.n}), got {Q.shape}")
        L = self._check_L(self._L(t), f"velocity_gradient({t:g})")
        m, _ = self.dumbbells.schedule(dt)
        r = self.dumbbells.evaluate(L[:, :, None], state={
            "Q": Q[:, :, None].copy(), "step": np.array([float(self.micro_steps)])}, dt=dt)
        self.micro_steps += m
        return np.asarray(r.state["Q"])[:, :, 0]

    def stepper(self, dt: float, seed: Any = None) -> CoarseStepper:
        """The coarse stepper (lift, Brownian steps of ``dt``, restrict to the conformation)."""
        return CoarseStepper(self, dt, lift=self.lift, restrict=self.restrict, seed=seed)
