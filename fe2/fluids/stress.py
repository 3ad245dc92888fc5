"""Closed-form stress oracles: Newtonian, Oldroyd-B and FENE-P (measure ``velocity_gradient``).

Every stress oracle takes the velocity gradient ``L[i, j] = du_i/dx_j`` ``(2, 2, *pts)``
(1/s) and returns the extra stress ``tau = 2 eta_s D + tau_p`` ``(2, 2, *pts)`` (Pa),
``D = (L + L^T) / 2``. Models with memory carry the dimensionless conformation tensor
``A = <Q Q>`` (components ``xx, xy, yy`` in ``state["A"]``, ``(3, *pts)``) and advance it
by the macro step ``dt``:

* Oldroyd-B (Hookean dumbbells, exact closure):
  ``dA/dt = L A + A L^T - (A - I) / lam``, ``tau_p = eta_p / lam (A - I)``;
* FENE-P (Peterlin closure of FENE dumbbells, extensibility ``b``):
  ``dA/dt = L A + A L^T - (f A - I) / lam``, ``f = 1 / (1 - tr A / b)``,
  ``tau_p = eta_p / lam (f A - I)``.

The ODE is integrated with classical RK4 on sub-steps no longer than ``0.05 lam`` and
``0.05 / |L|``, so the time error is far below any macro discretisation error.
All oracles expose ``solvent_viscosity`` (the part the macro solver treats implicitly)
and ``zero_shear_viscosity``.
"""

from __future__ import annotations

import numpy as np

from fe2.oracle import OracleBase, OracleError, Response

__all__ = ["FENEP", "Newtonian", "OldroydB"]


def _positive(owner: str, **values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not np.isfinite(v) or v <= 0:
            raise ValueError(f"{owner}: {name} must be a positive number, got {v!r}")


def _nonneg(owner: str, **values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not np.isfinite(v) or v < 0:
            raise ValueError(f"{owner}: {name} must be >= 0, got {v!r}")


def symmetric_part(L: np.ndarray) -> np.ndarray:
    """``D = (L + L^T) / 2`` for ``L`` ``(2, 2, *pts)``."""
    return 0.5 * (L + np.swapaxes(L, 0, 1))


class Newtonian(OracleBase):
    """``tau = 2 eta D``; static (ignores ``dt``).

    Parameters
    ----------
    viscosity : float
        ``eta`` (Pa s).
    """

    measure = "velocity_gradient"
    dim = 2

    def __init__(self, viscosity: float):
        _nonneg("Newtonian", viscosity=viscosity)
        self.viscosity = float(viscosity)

    @property
    def solvent_viscosity(self) -> float:
        """All of the viscosity is handled by the macro Laplacian."""
        return self.viscosity

    @property
    def zero_shear_viscosity(self) -> float:
        """``eta``."""
        return self.viscosity

    def evaluate(self, g, x=None, state=None, dt=None) -> Response:
        """Stress ``(2, 2, *pts)`` and tangent ``d tau_ij / d L_kl`` ``(2, 2, 2, 2, *pts)``."""
        pts = self.check_input(g)
        g = np.asarray(g, float)
        e = self.viscosity
        t = np.zeros((2, 2, 2, 2) + pts)
        for i in range(2):
            for j in range(2):
                t[i, j, i, j] += e
                t[i, j, j, i] += e
        return Response(flux=2 * e * symmetric_part(g), tangent=t, state=state)


def _unpack(A: np.ndarray) -> np.ndarray:
    """``(3, n)`` -> ``(2, 2, n)``."""
    return np.stack([np.stack([A[0], A[1]]), np.stack([A[1], A[2]])])


def _pack(A: np.ndarray) -> np.ndarray:
    return np.stack([A[0, 0], 0.5 * (A[0, 1] + A[1, 0]), A[1, 1]])


class _Conformation(OracleBase):
    """Shared machinery: a conformation ODE per point, RK4 over ``dt``."""

    measure = "velocity_gradient"
    dim = 2

    def __init__(self, eta_s: float, eta_p: float, lam: float,
                 micro_steps: int | None = None, micro_dt: float | None = None):
        name = type(self).__name__
        _nonneg(name, eta_s=eta_s)
        _positive(name, eta_p=eta_p, lam=lam)
        if (micro_steps is None) != (micro_dt is None):
            raise ValueError(f"{name}: give both micro_steps and micro_dt (seamless) or neither")
        if micro_steps is not None:
            if isinstance(micro_steps, bool) or not isinstance(micro_steps, int | np.integer) \
                    or micro_steps < 1:
                raise ValueError(f"{name}: micro_steps must be an integer >= 1, got "
                                 f"{micro_steps!r}")
            _positive(name, micro_dt=micro_dt)
        self.eta_s, self.eta_p, self.lam = float(eta_s), float(eta_p), float(lam)
        self.micro_steps = None if micro_steps is None else int(micro_steps)
        self.micro_dt = None if micro_dt is None else float(micro_dt)

    def micro_time(self, dt: float) -> float:
        """Micro time advanced per macro step ``dt``.

        ``dt`` (time-accurate), or ``micro_steps * micro_dt`` whatever ``dt`` (seamless,
        with the time-scale ratio ``dt / (micro_steps micro_dt)``).
        """
        if self.micro_steps is None:
            return dt
        return self.micro_steps * self.micro_dt if dt > 0 else 0.0

    @property
    def solvent_viscosity(self) -> float:
        """``eta_s``."""
        return self.eta_s

    def _spring(self, A: np.ndarray) -> np.ndarray:
        """Spring factor ``f`` ``(n,)`` (1 for Hookean)."""
        return np.ones(A.shape[-1])

    def equilibrium(self) -> np.ndarray:
        """Conformation at rest, components ``(xx, xy, yy)``."""
        return np.array([1.0, 0.0, 1.0])

    def initial_state(self, pts):
        """Conformation at rest at every point: ``{"A": (3, *pts)}``."""
        A = np.empty((3,) + tuple(pts))
        A[...] = self.equilibrium().reshape((3,) + (1,) * len(pts))
        return {"A": A}

    def _rhs(self, A: np.ndarray, L: np.ndarray) -> np.ndarray:
        M = _unpack(A)
        f = self._spring(A)
        LA = np.einsum("ijn,jkn->ikn", L, M)
        d = LA + np.swapaxes(LA, 0, 1) - (f * M - np.eye(2)[:, :, None]) / self.lam
        return _pack(d)

    def _advance(self, A: np.ndarray, L: np.ndarray, dt: float) -> np.ndarray:
        if dt <= 0:
            return A
        rate = max(1.0 / self.lam, float(np.abs(L).max(initial=0.0)))
        if not np.isfinite(rate) or dt * rate > 1e5:
            raise OracleError(
                f"{type(self).__name__}: velocity gradient |L| = {rate:.3g} over dt = {dt:.3g} "
                "needs more than 2e6 RK4 sub-steps; the macro flow is unstable (reduce dt)"
            )
        n = max(1, int(np.ceil(dt * rate / 0.05)))
        h = dt / n
        for _ in range(n):
            k1 = self._rhs(A, L)
            k2 = self._rhs(A + 0.5 * h * k1, L)
            k3 = self._rhs(A + 0.5 * h * k2, L)
            k4 = self._rhs(A + h * k3, L)
            A = A + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        return A

    def polymer_stress(self, A: np.ndarray) -> np.ndarray:
        """``tau_p`` ``(2, 2, n)`` from the conformation ``(3, n)``."""
        f = self._spring(A)
        return self.eta_p / self.lam * (f * _unpack(A) - np.eye(2)[:, :, None])

    def evaluate(self, g, x=None, state=None, dt=None) -> Response:
        """Advance the conformation by ``dt`` under ``g``; stress at the end of the step.

        ``g`` ``(2, 2, *pts)``; ``state["A"]`` ``(3, *pts)`` (default: rest);
        ``dt`` (s, default 0: the stress of the committed state).
        """
        pts = self.check_input(g)
        n = int(np.prod(pts)) if pts else 1
        L = np.asarray(g, float).reshape(2, 2, n)
        if state is None or "A" not in state:
            state = self.initial_state(pts)
        A0 = np.asarray(state["A"], float).reshape(3, n)
        A = self._advance(A0, L, self.micro_time(0.0 if dt is None else float(dt)))
        if not np.all(np.isfinite(A)):
            bad = int(np.argmax(~np.all(np.isfinite(A), axis=0)))
            raise OracleError(
                f"{type(self).__name__}: conformation blew up at point {bad} "
                f"(|L| = {np.abs(L[..., bad]).max():.3g}, dt = {dt}); reduce dt"
            )
        tau = 2 * self.eta_s * symmetric_part(L) + self.polymer_stress(A)
        return Response(flux=tau.reshape((2, 2) + pts), state={"A": A.reshape((3,) + pts)})


class OldroydB(_Conformation):
    """Oldroyd-B fluid: the macro closure of Hookean dumbbells.

    Parameters
    ----------
    eta_s : float
        Solvent viscosity (Pa s).
    eta_p : float
        Polymer viscosity (Pa s).
    lam : float
        Relaxation time (s).
    micro_steps, micro_dt : optional
        Seamless coupling: each macro step advances the conformation by
        ``micro_steps * micro_dt`` of its own time, whatever the macro step (the micro
        relaxation then appears ``dt / (micro_steps micro_dt)`` times slower in macro
        time). Default: by ``dt`` (time-accurate).
    """

    @property
    def zero_shear_viscosity(self) -> float:
        """``eta_s + eta_p``."""
        return self.eta_s + self.eta_p


class FENEP(_Conformation):
    """FENE-P fluid (Peterlin closure of FENE dumbbells), 2D conformation.

    Parameters
    ----------
    b : float
        Squared maximum extension in units of ``kT/H`` (> 2).
    eta_s, eta_p, lam, micro_steps, micro_dt
        As for :class:`OldroydB` (``eta_p = n k T lam``).
    """

    def __init__(self, b: float, eta_s: float, eta_p: float, lam: float,
                 micro_steps: int | None = None, micro_dt: float | None = None):
        _positive("FENEP", b=b)
        if b <= 2:
            raise ValueError(f"FENEP: b must exceed 2 (the 2D rest extension), got {b!r}")
        self.b = float(b)
        super().__init__(eta_s, eta_p, lam, micro_steps, micro_dt)

    def _spring(self, A: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 - (A[0] + A[2]) / self.b)

    def equilibrium(self) -> np.ndarray:
        """``A = I / f_eq`` with ``f_eq = 1 + 2 / b``."""
        return np.array([1.0, 0.0, 1.0]) / (1.0 + 2.0 / self.b)

    @property
    def zero_shear_viscosity(self) -> float:
        """``eta_s + eta_p b / (b + 2)`` (2D)."""
        return self.eta_s + self.eta_p * self.b / (self.b + 2.0)
