"""Fourier pseudo-spectral Allen–Cahn and Cahn–Hilliard on periodic boxes.

The same equations and free energies as :mod:`fe2.phasefield.fem`, on a uniform periodic
grid ``x_i = origin + i h`` (``h = size / n`` per axis), 2D or 3D, with real FFTs
(:func:`scipy.fft.rfftn`). Time stepping: the first-order stabilised linear semi-implicit
scheme (Shen & Yang, Discrete Contin. Dyn. Syst. 28 (2010) 1669-1691), the linear terms
implicit, ``psi'`` explicit with the stabiliser ``S (phi^{n+1} - phi^n)``,
``S = free_energy.lipschitz`` (``max |psi''|``):

* Cahn–Hilliard: ``(1 + tau k^2 (S + kappa k^2)) c^_{n+1} = c^_n - tau k^2 F[psi'(c_n) - S
  c_n]``, ``tau = M dt``; the mean (``k = 0``) is untouched, so the mass is conserved to
  round-off;
* Allen–Cahn: ``(1 + M dt (k^2 + S / eps^2)) phi^_{n+1} = phi^_n - (M dt / eps^2) F[psi'(phi_n)
  - S phi_n]``.

Energy stable for every step while the field stays where ``|psi''| <= 2 S`` (the
``sample`` range of the free energy; Shen & Yang need ``S >= max |psi''| / 2``, the
double value also damps the period-two oscillation of the stiff modes at large steps);
one FFT pair per step and no linear solve. The
step adapts to the change per step as in the finite-element solvers
(:mod:`fe2.phasefield.stepping`).

The stabiliser slows the dynamics at large steps: the update of a mode ``k`` is divided
by ``1 + tau k^2 S``, and interfaces (``k ~ 1/width``) then move a bounded distance per
step whatever its size, so a long coarsening run must keep its steps small (PFHub 1a to
``t = 1e6``: 23,000 steps at the default ``error_tol``; with larger tolerances the
coarsening stalls). ``SpectralCahnHilliard(scheme="implicit")`` is the backward Euler
step instead, ``c + tau (-lap)(psi'(c) - kappa lap c) = c_n``, solved by Newton with
GMRES preconditioned by the constant-coefficient operator ``1 + tau k^2 (w + kappa
k^2)`` (``w`` the mean of ``psi''``, floored at 0) in Fourier space: no lag at large
steps. It is not energy stable by construction (unique solvability needs ``tau``
below about ``4 kappa / L^2``); the time loop rejects a step whose Newton solve fails
and the result records any energy increase (:meth:`PhaseFieldResult.energy_increases`).
With ``norm="rms"`` it takes PFHub 1a to ``t = 1e6`` in a few hundred steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.fft
import scipy.sparse.linalg as spla

from fe2.phasefield.energies import FreeEnergy, double_well, polynomial, positive_number
from fe2.phasefield.stepping import PhaseFieldResult, StepFailed, integrate

__all__ = ["SpectralAllenCahn", "SpectralCahnHilliard"]


class _Spectral:
    name = "spectral"

    def __init__(self, shape: Sequence[int], size: float | Sequence[float],
                 free_energy: FreeEnergy | None, default: FreeEnergy,
                 origin: Sequence[float] | None):
        shp = tuple(int(n) for n in np.atleast_1d(shape))
        if len(shp) not in (2, 3) or any(n < 2 for n in shp) or \
                any(int(n) != n for n in np.atleast_1d(shape)):
            raise ValueError(f"{self.name}: shape must be 2 or 3 integers >= 2, got {shape!r}")
        L = np.broadcast_to(np.asarray(size, dtype=float), (len(shp),)).copy()
        if not np.all(np.isfinite(L) & (L > 0)):
            raise ValueError(f"{self.name}: size must be finite and > 0, got {size!r}")
        self.shape, self.size = shp, tuple(float(v) for v in L)
        self.origin = (np.zeros(len(shp)) if origin is None
                       else np.asarray(origin, dtype=float).reshape(len(shp)))
        self.h = L / np.asarray(shp)
        self.volume = float(np.prod(L))
        self.cell = float(np.prod(self.h))
        if free_energy is None:
            free_energy = default
        if not isinstance(free_energy, FreeEnergy):
            raise ValueError(f"{self.name}: free_energy must be a fe2.phasefield FreeEnergy, "
                             f"got {free_energy!r}")
        self.free_energy = free_energy
        self.stabilizer = free_energy.lipschitz
        ks = [2 * np.pi * np.fft.fftfreq(n, d=h)
              for n, h in zip(shp[:-1], self.h[:-1], strict=True)]
        ks.append(2 * np.pi * np.fft.rfftfreq(shp[-1], d=self.h[-1]))
        self.k2 = sum(np.meshgrid(*ks, indexing="ij")[a] ** 2 for a in range(len(shp)))
        # Parseval weights of the half spectrum: interior modes of the last axis twice
        w = np.full(self.k2.shape[-1], 2.0)
        w[0] = 1.0
        if shp[-1] % 2 == 0:
            w[-1] = 1.0
        self._weights = w

    @property
    def points(self) -> np.ndarray:
        """Grid coordinates ``(d, *shape)`` [length]."""
        axes = [o + h * np.arange(n)
                for o, h, n in zip(self.origin, self.h, self.shape, strict=True)]
        return np.asarray(np.meshgrid(*axes, indexing="ij"))

    def _fft(self, u):
        return scipy.fft.rfftn(u, workers=1)

    def _ifft(self, u):
        return scipy.fft.irfftn(u, s=self.shape, workers=1)

    def _gradient_energy(self, u: np.ndarray) -> float:
        """``int |grad u|^2 dV`` (exact for the trigonometric interpolant)."""
        U = self._fft(u)
        n = float(np.prod(self.shape))
        return float(np.sum(self._weights * self.k2 * np.abs(U) ** 2) * self.volume / n ** 2)

    def order_parameter(self, state: np.ndarray) -> np.ndarray:
        """The grid values flattened ``(prod(shape),)``."""
        return state.ravel()

    def mass(self, u: np.ndarray) -> float:
        """``int phi dV`` (exact for the trigonometric interpolant)."""
        return float(u.sum() * self.cell)

    def _initial(self, phi0: Any) -> np.ndarray:
        if callable(phi0):
            phi0 = phi0(self.points)
        u = np.asarray(phi0, dtype=float)
        if u.shape != self.shape and u.shape != (int(np.prod(self.shape)),):
            raise ValueError(f"{self.name}.solve: phi0 must have the grid shape {self.shape}, "
                             f"got {u.shape}")
        u = u.reshape(self.shape).copy()
        if not np.all(np.isfinite(u)):
            i = np.argwhere(~np.isfinite(u))[0]
            raise ValueError(f"{self.name}.solve: phi0 is not finite at grid point {tuple(i)}")
        return u

    def solve(self, phi0: Any, t_end: float, dt: float | None = None,
              callback: Callable | None = None, save_every: int | None = None, *,
              change_tol: float | None = None, error_tol: float | None = None,
              dt_max: float | None = None, adaptive: bool = True,
              progress: bool = False, norm: str = "max") -> PhaseFieldResult:
        """Integrate from ``phi0`` (array of the grid shape, or ``f(points)``) to ``t_end``.

        The options are those of :meth:`fe2.phasefield.CahnHilliard.solve`; saved fields
        are the grid values flattened (``.reshape(shape)`` restores them).
        """
        lo, hi = self.free_energy.sample
        tol = 0.025 * (hi - lo) if change_tol is None else change_tol
        return integrate(self, self._initial(phi0), t_end, dt, callback, save_every, tol,
                         dt_max, adaptive, progress, self.name, error_tol, norm)


class SpectralCahnHilliard(_Spectral):
    """Cahn–Hilliard ``dc/dt = M lap(psi'(c) - kappa lap c)`` on a periodic grid.

    Parameters
    ----------
    shape : sequence of int
        Grid points per axis ``(n_0, n_1[, n_2])``.
    size : float or sequence of float
        Box edge lengths [length].
    kappa, mobility : float
        As :class:`fe2.phasefield.CahnHilliard`.
    free_energy : FreeEnergy, optional
        Default PFHub benchmark 1's ``polynomial(5, 0.3, 0.7)``.
    origin : sequence of float, optional
        Lower box corner (default zeros).
    scheme : {"stabilized", "implicit"}
        ``"stabilized"`` (default): the linear scheme of Shen & Yang, energy stable, one
        FFT pair per step. ``"implicit"``: backward Euler by Newton-Krylov (module docs),
        for long coarsening runs with large steps.
    newton_tol : float
        Implicit scheme: Newton stops when the largest update is below this.

    Examples
    --------
    >>> import numpy as np
    >>> ch = SpectralCahnHilliard((32, 32), 40.0, kappa=2.0, mobility=5.0)
    >>> res = ch.solve(lambda x: 0.5 + 0.01 * np.cos(2 * np.pi * x[0] / 40), t_end=50.0)
    >>> bool(abs(res.mass[-1] - res.mass[0]) < 1e-12 * res.mass[0])
    True
    """

    name = "SpectralCahnHilliard"

    def __init__(self, shape: Sequence[int], size: float | Sequence[float], kappa: float,
                 mobility: float, free_energy: FreeEnergy | None = None, *,
                 origin: Sequence[float] | None = None, scheme: str = "stabilized",
                 newton_tol: float = 1e-9, max_newton: int = 12):
        super().__init__(shape, size, free_energy, polynomial(), origin)
        self.kappa = positive_number(self.name, "kappa", kappa)
        self.mobility = positive_number(self.name, "mobility", mobility)
        if scheme not in ("stabilized", "implicit"):
            raise ValueError(f"{self.name}: scheme must be 'stabilized' or 'implicit', got "
                             f"{scheme!r}")
        self.scheme = scheme
        self.newton_tol = positive_number(self.name, "newton_tol", newton_tol)
        self.max_newton = int(max_newton)

    def energy(self, c: np.ndarray) -> float:
        """``F = int psi(c) + kappa |grad c|^2 / 2 dV``."""
        return float(self.free_energy.psi(c).sum() * self.cell
                     + 0.5 * self.kappa * self._gradient_energy(c))

    def rate(self, c: np.ndarray) -> float:
        """``max |dc/dt|`` of the explicit right-hand side."""
        C = self._fft(c)
        mu = self._fft(self.free_energy.dpsi(c)) + self.kappa * self.k2 * C
        return float(np.abs(self._ifft(-self.mobility * self.k2 * mu)).max())

    def step(self, c: np.ndarray, dt: float) -> tuple[np.ndarray, int]:
        """One step: ``(c, 0)`` (stabilised) or ``(c, Newton iterations)`` (implicit)."""
        if self.scheme == "implicit":
            return self._implicit_step(c, dt)
        S, tau, k2 = self.stabilizer, self.mobility * dt, self.k2
        rhs = self._fft(c) - tau * k2 * self._fft(self.free_energy.dpsi(c) - S * c)
        return self._ifft(rhs / (1.0 + tau * k2 * (S + self.kappa * k2))), 0


    def _implicit_step(self, c: np.ndarray, dt: float) -> tuple[np.ndarray, int]:
        """Backward Euler by Newton; each update by GMRES with a Fourier preconditioner."""
        f, tau, k2, kap = self.free_energy, self.mobility * dt, self.k2, self.kappa
        shape, n = self.shape, c.size
        cn = self._fft(c)
        x = c.copy()
        for it in range(1, self.max_newton + 1):
            X = self._fft(x)
            G = self._ifft(X - cn + tau * k2 * (self._fft(f.dpsi(x)) + kap * k2 * X))
            d2 = f.d2psi(x)
            P = 1.0 + tau * k2 * (max(float(d2.mean()), 0.0) + kap * k2)

            def jac(v, d2=d2):
                V = self._fft(v.reshape(shape))
                return self._ifft(V + tau * k2 * (self._fft(d2 * v.reshape(shape))
                                                  + kap * k2 * V)).ravel()

            A = spla.LinearOperator((n, n), matvec=jac, dtype=float)
            M = spla.LinearOperator((n, n), dtype=float,
                                    matvec=lambda v, P=P: self._ifft(
                                        self._fft(v.reshape(shape)) / P).ravel())
            dx, info = spla.gmres(A, -G.ravel(), M=M, rtol=1e-8, atol=0.0, restart=50,
                                  maxiter=4)
            if info != 0 or not np.all(np.isfinite(dx)):
                raise StepFailed(f"{self.name} implicit step: GMRES did not converge "
                                 f"(info {info})")
            x = x + dx.reshape(shape)
            if float(np.abs(dx).max()) <= self.newton_tol:
                return x, it
        raise StepFailed(f"{self.name} implicit step: Newton did not converge in "
                         f"{self.max_newton} iterations")


class SpectralAllenCahn(_Spectral):
    """Allen–Cahn ``d phi/dt = M (lap phi - psi'(phi)/eps^2)`` on a periodic grid.

    Parameters
    ----------
    shape, size, origin
        As :class:`SpectralCahnHilliard`.
    epsilon, mobility : float
        As :class:`fe2.phasefield.AllenCahn`.
    free_energy : FreeEnergy, optional
        Default :func:`~fe2.phasefield.energies.double_well`.
    """

    name = "SpectralAllenCahn"

    def __init__(self, shape: Sequence[int], size: float | Sequence[float], epsilon: float,
                 mobility: float = 1.0, free_energy: FreeEnergy | None = None, *,
                 origin: Sequence[float] | None = None):
        super().__init__(shape, size, free_energy, double_well(), origin)
        self.epsilon = positive_number(self.name, "epsilon", epsilon)
        self.mobility = positive_number(self.name, "mobility", mobility)

    def energy(self, u: np.ndarray) -> float:
        """``F = int |grad phi|^2 / 2 + psi(phi) / eps^2 dV``."""
        return float(self.free_energy.psi(u).sum() * self.cell / self.epsilon ** 2
                     + 0.5 * self._gradient_energy(u))

    def rate(self, u: np.ndarray) -> float:
        """``max |d phi/dt|`` of the explicit right-hand side."""
        lap = self._ifft(-self.k2 * self._fft(u))
        return float(np.abs(self.mobility * (lap - self.free_energy.dpsi(u)
                                             / self.epsilon ** 2)).max())

    def step(self, u: np.ndarray, dt: float) -> tuple[np.ndarray, int]:
        """One stabilised semi-implicit step; returns ``(phi, 0)``."""
        S, a = self.stabilizer, self.mobility * dt / self.epsilon ** 2
        rhs = self._fft(u) - a * self._fft(self.free_energy.dpsi(u) - S * u)
        return self._ifft(rhs / (1.0 + self.mobility * dt * self.k2 + a * S)), 0


