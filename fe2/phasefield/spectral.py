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

``SpectralCahnHilliard(scheme="sav")`` is the second-order, linear, unconditionally
energy-stable scalar auxiliary variable scheme (Shen, Xu & Yang, J. Comput. Phys. 353
(2018) 407-416; SIAM Rev. 61 (2019) 474-506) in its Crank–Nicolson form with variable
steps. With a stabiliser ``S`` (``sav_stabilizer``, default ``lipschitz / 2``) the
energy is split as ``F = kappa |grad c|^2 / 2 + S c^2 / 2`` (implicit) ``+ E_1(c)``,
``E_1 = int psi(c) - S c^2 / 2 dV``, and ``r = sqrt(E_1 + C_0)`` (``C_0 > 0``,
``sav_constant``). With ``c_bar = c_n + (dt_n / 2 dt_{n-1}) (c_n - c_{n-1})`` (the
second-order extrapolation to ``t_{n+1/2}`` for any step ratio; ``c_0`` on the first
step) and ``b = (psi'(c_bar) - S c_bar) / sqrt(E_1(c_bar) + C_0)``::

    (c_{n+1} - c_n) / dt = M lap mu,  r_{n+1} - r_n = (b, c_{n+1} - c_n) / 2,
    mu = (-kappa lap + S)(c_{n+1} + c_n) / 2 + b (r_{n+1} + r_n) / 2.

Testing with ``mu`` and ``c_{n+1} - c_n`` gives, for every step size and step ratio,
``E~_{n+1} - E~_n = -dt M |grad mu|^2 <= 0`` for the modified energy ``E~ = kappa |grad
c|^2 / 2 + S |c|^2 / 2 + r^2 - C_0`` (equal to ``F`` when ``r = sqrt(E_1 + C_0)``). The
step is one FFT solve for ``c = p + g q`` and a scalar equation for ``g``; the mean is
untouched (mass conserved to round-off). ``relaxation = eta`` (default 0.95; None = the
plain scheme) applies the relaxed SAV of Jiang, Zhang & Zhao (SIAM J. Sci. Comput. 44
(2022) A2541): after the step, ``r`` is moved towards ``sqrt(E_1(c_{n+1}) + C_0)`` as far
as ``E~`` still falls by at least ``(1 - eta) dt M |grad mu|^2``, so ``E~`` stays close
to ``F``. The modified energy is recorded as ``PhaseFieldResult.modified_energy``; the
true ``F`` (what PFHub compares) may rise at a step, and does at large steps near
equilibrium (where the dissipation no longer pins ``r``) and after step changes
(Crank–Nicolson does not damp stiff modes: their errors ring). So with adaptive steps
this scheme grows the step by at most 1.25 per step and rejects (halves) a step that
raises ``F`` by more than ``energy_rise |F|`` (default 1e-4); together with
``norm="rms"`` this takes PFHub 1a to ``t = 1e6`` in several hundred steps of one FFT
solve each (``bench/phasefield.py --long``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
import scipy.sparse.linalg as spla

from fe2.phasefield.energies import FreeEnergy, double_well, polynomial, positive_number
from fe2.phasefield.stepping import PhaseFieldResult, StepFailed, integrate

__all__ = ["SCHEMES", "SpectralAllenCahn", "SpectralCahnHilliard"]

#: Time schemes of :class:`SpectralCahnHilliard`.
SCHEMES = ("stabilized", "implicit", "sav")


@dataclass(frozen=True, eq=False)
class _SAVState:
    """State of the CN-SAV scheme: field, auxiliary variable, previous field and step."""

    c: np.ndarray
    r: float
    c_prev: np.ndarray | None = None
    h_prev: float = 0.0


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


    # --- scalar auxiliary variable scheme (module docs), shared by CH and AC ---------

    def _setup_sav(self, relaxation, sav_constant, sav_stabilizer, energy_rise,
                   scale: float) -> None:
        if relaxation is not None and not (isinstance(relaxation, int | float)
                                           and 0.0 <= relaxation <= 1.0):
            raise ValueError(f"{self.name}: relaxation must be None or a number in [0, 1], "
                             f"got {relaxation!r}")
        self.relaxation = None if relaxation is None else float(relaxation)
        self.sav_stabilizer = (0.5 * self.free_energy.lipschitz if sav_stabilizer is None
                               else float(sav_stabilizer))
        if not (np.isfinite(self.sav_stabilizer) and self.sav_stabilizer >= 0):
            raise ValueError(f"{self.name}: sav_stabilizer must be a finite number >= 0, "
                             f"got {sav_stabilizer!r}")
        self._sav_scale = scale  # E_1 = scale int psi - S c^2 / 2 dV
        if sav_constant is None:
            # E_1 + C_0 >= 0.1 V (range of psi over sample) while the field stays in sample
            lo, hi = self.free_energy.sample
            x = np.linspace(lo, hi, 2001)
            p = self.free_energy.psi(x) - 0.5 * self.sav_stabilizer * x * x
            sav_constant = scale * self.volume * (max(0.0, -float(p.min()))
                                                  + 0.1 * float(p.max() - p.min()))
        self.sav_constant = positive_number(self.name, "sav_constant", sav_constant)
        self.energy_rise = (None if energy_rise is None
                            else positive_number(self.name, "energy_rise", energy_rise))

    def _sav_symbols(self) -> tuple[np.ndarray, np.ndarray]:
        """Fourier symbols ``(G, Lambda)``: mobility operator / M and linear energy."""
        raise NotImplementedError

    @property
    def max_step_growth(self) -> float:
        """Largest ratio of consecutive adaptive steps: 1.25 for SAV (module docs), else 2."""
        return 1.25 if self.scheme == "sav" else 2.0

    @property
    def has_modified_energy(self) -> bool:
        """True for ``scheme="sav"``: results then carry ``modified_energy``."""
        return self.scheme == "sav"

    def _sav_e1(self, c: np.ndarray) -> float:
        """``E_1(c) + C_0`` (the SAV ``r^2``); must be > 0."""
        e = self._sav_scale * float((self.free_energy.psi(c) - 0.5 * self.sav_stabilizer
                                     * c * c).sum() * self.cell) + self.sav_constant
        if not e > 0:
            raise StepFailed(f"{self.name} SAV: E_1 + C_0 = {e:.4g} <= 0 (raise sav_constant)")
        return e

    @staticmethod
    def _field(state: Any) -> np.ndarray:
        return state.c if isinstance(state, _SAVState) else state

    def order_parameter(self, state: Any) -> np.ndarray:
        """The grid values flattened ``(prod(shape),)``."""
        return self._field(state).ravel()

    def mass(self, state: Any) -> float:
        """``int phi dV`` (exact for the trigonometric interpolant)."""
        return float(self._field(state).sum() * self.cell)

    def _quadratic(self, C: np.ndarray, symbol: np.ndarray) -> float:
        """``int u (symbol u) dV`` of the field with spectrum ``C`` (Parseval)."""
        n = float(np.prod(self.shape))
        return float(np.sum(self._weights * symbol * np.abs(C) ** 2)) * self.volume / n ** 2

    def modified_energy(self, state: Any) -> float:
        """SAV energy ``(u, Lambda u) / 2 + r^2 - C_0`` (``F`` for other states)."""
        if not isinstance(state, _SAVState):
            return self.energy(state)
        return float(0.5 * self._quadratic(self._fft(state.c), self._sav_symbols()[1])
                     + state.r ** 2 - self.sav_constant)

    def _sav_solve(self, phi0: Any, t_end: float, dt: float | None, callback: Callable | None,
                   save_every: int | None, options: dict) -> PhaseFieldResult:
        c = self._initial(phi0)
        lo, hi = self.free_energy.sample
        tol = options.pop("change_tol", None)
        tol = 0.025 * (hi - lo) if tol is None else tol
        args = {k: options.pop(k, v) for k, v in (
            ("error_tol", None), ("dt_max", None), ("adaptive", True), ("progress", False),
            ("norm", "max"))}
        if options:
            raise ValueError(f"{self.name}.solve: unknown option(s) {sorted(options)}")
        state = _SAVState(c, float(np.sqrt(self._sav_e1(c))))
        return integrate(self, state, t_end, dt, callback, save_every, tol, args["dt_max"],
                         args["adaptive"], args["progress"], self.name, args["error_tol"],
                         args["norm"])

    def _sav_step(self, s: _SAVState, dt: float) -> _SAVState:
        """One Crank–Nicolson SAV step (module docs), relaxed if ``relaxation`` is set."""
        c, r, tau = s.c, s.r, self.mobility * dt
        G, Lam = self._sav_symbols()
        # second-order extrapolation to t + dt/2 of the explicit argument; first step c_n
        cbar = c if s.c_prev is None else c + (0.5 * dt / s.h_prev) * (c - s.c_prev)
        S = self.sav_stabilizer
        b = self._sav_scale * (self.free_energy.dpsi(cbar) - S * cbar) / np.sqrt(
            self._sav_e1(cbar))
        B, C = self._fft(b), self._fft(c)
        lin = 0.5 * tau * G * Lam
        A = 1.0 + lin
        p = self._ifft((1.0 - lin) * C / A)  # c_{n+1} = p + g q, g = (r_{n+1} + r_n) / 2
        q = self._ifft(-tau * G * B / A)
        dot = self.cell
        g = (r + 0.25 * dot * float(np.sum(b * (p - c)))) / (
            1.0 - 0.25 * dot * float(np.sum(b * q)))
        c_new = p + g * q
        r_new = r + 0.5 * dot * float(np.sum(b * (c_new - c)))
        if self.relaxation is not None:
            # relaxed SAV (Jiang, Zhang & Zhao 2022): pull r towards sqrt(E_1(c) + C_0)
            # as far as the modified energy still falls by (1 - eta) dt M (mu, G mu)
            R = np.sqrt(self._sav_e1(c_new))
            diss = tau * self._quadratic(0.5 * Lam * (self._fft(c_new) + C) + g * B, G)
            qa, qb = (r_new - R) ** 2, 2.0 * R * (r_new - R)
            qc = R * R - r_new * r_new - self.relaxation * diss
            if qc <= 0.0:
                r_new = R
            elif qa > 0.0:
                xi = (-qb - np.sqrt(max(qb * qb - 4.0 * qa * qc, 0.0))) / (2.0 * qa)
                xi = min(max(xi, 0.0), 1.0)
                r_new = xi * r_new + (1.0 - xi) * R
        return _SAVState(c_new, float(r_new), c, dt)


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
    scheme : {"stabilized", "implicit", "sav"}
        ``"stabilized"`` (default): the linear scheme of Shen & Yang, energy stable, one
        FFT pair per step. ``"implicit"``: backward Euler by Newton-Krylov (module docs),
        for long coarsening runs with large steps. ``"sav"``: second-order Crank–Nicolson
        scalar auxiliary variable scheme, linear, unconditionally stable in its modified
        energy (module docs); long coarsening runs in hundreds of cheap steps.
    newton_tol : float
        Implicit scheme: Newton stops when the largest update is below this.
    relaxation : float in [0, 1] or None
        SAV: relaxation ``eta`` of ``r`` towards ``sqrt(E_1 + C_0)`` (None: plain SAV).
    sav_constant : float, optional
        SAV: ``C_0 > 0`` [energy] (default: the box volume times ``0.1 x`` the range of
        ``psi - S c^2 / 2`` over ``free_energy.sample``, plus its negative part).
    sav_stabilizer : float, optional
        SAV: ``S >= 0`` [energy / volume] treated implicitly (default ``lipschitz / 2``).
    energy_rise : float or None
        SAV, adaptive steps: a step that raises the true ``F`` by more than
        ``energy_rise |F|`` is rejected and retried at half the step (None: no check).

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
                 newton_tol: float = 1e-9, max_newton: int = 12,
                 relaxation: float | None = 0.95, sav_constant: float | None = None,
                 sav_stabilizer: float | None = None, energy_rise: float | None = 1e-4):
        super().__init__(shape, size, free_energy, polynomial(), origin)
        self.kappa = positive_number(self.name, "kappa", kappa)
        self.mobility = positive_number(self.name, "mobility", mobility)
        if scheme not in SCHEMES:
            raise ValueError(f"{self.name}: scheme must be one of {SCHEMES}, got {scheme!r}")
        self.scheme = scheme
        self.newton_tol = positive_number(self.name, "newton_tol", newton_tol)
        self.max_newton = int(max_newton)
        self._setup_sav(relaxation, sav_constant, sav_stabilizer, energy_rise, 1.0)

    def _sav_symbols(self) -> tuple[np.ndarray, np.ndarray]:
        return self.k2, self.kappa * self.k2 + self.sav_stabilizer

    def solve(self, phi0: Any, t_end: float, dt: float | None = None,
              callback: Callable | None = None, save_every: int | None = None,
              **options: Any) -> PhaseFieldResult:
        """Integrate from ``phi0`` to ``t_end``; options as :meth:`_Spectral.solve`.

        With ``scheme="sav"`` the result's ``modified_energy`` is the SAV energy
        ``(kappa |grad c|^2 + S c^2) / 2 + r^2 - C_0`` that the scheme keeps
        non-increasing; ``energy`` is the true ``F(c)``.
        """
        if self.scheme != "sav":
            return super().solve(phi0, t_end, dt, callback, save_every, **options)
        return self._sav_solve(phi0, t_end, dt, callback, save_every, options)

    def energy(self, c: Any) -> float:
        """``F = int psi(c) + kappa |grad c|^2 / 2 dV``."""
        c = self._field(c)
        return float(self.free_energy.psi(c).sum() * self.cell
                     + 0.5 * self.kappa * self._gradient_energy(c))

    def rate(self, c: Any) -> float:
        """``max |dc/dt|`` of the explicit right-hand side."""
        c = self._field(c)
        C = self._fft(c)
        mu = self._fft(self.free_energy.dpsi(c)) + self.kappa * self.k2 * C
        return float(np.abs(self._ifft(-self.mobility * self.k2 * mu)).max())

    def step(self, c: np.ndarray, dt: float) -> tuple[np.ndarray, int]:
        """One step: ``(c, 0)`` (stabilised) or ``(c, Newton iterations)`` (implicit)."""
        if self.scheme == "implicit":
            return self._implicit_step(c, dt)
        if self.scheme == "sav":
            return self._sav_step(c, dt), 0
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
    scheme : {"stabilized", "sav"}
        ``"stabilized"`` (default): first-order stabilised linear scheme. ``"sav"``:
        the second-order Crank–Nicolson SAV scheme of the module docs with ``G = 1``,
        ``Lambda = k^2 + S / eps^2`` and ``E_1 = int (psi - S phi^2 / 2) / eps^2 dV``.
    relaxation, sav_constant, sav_stabilizer, energy_rise
        SAV options as :class:`SpectralCahnHilliard` (``sav_constant`` [energy]).
    """

    name = "SpectralAllenCahn"

    def __init__(self, shape: Sequence[int], size: float | Sequence[float], epsilon: float,
                 mobility: float = 1.0, free_energy: FreeEnergy | None = None, *,
                 origin: Sequence[float] | None = None, scheme: str = "stabilized",
                 relaxation: float | None = 0.95, sav_constant: float | None = None,
                 sav_stabilizer: float | None = None, energy_rise: float | None = 1e-4):
        super().__init__(shape, size, free_energy, double_well(), origin)
        self.epsilon = positive_number(self.name, "epsilon", epsilon)
        self.mobility = positive_number(self.name, "mobility", mobility)
        if scheme not in ("stabilized", "sav"):
            raise ValueError(f"{self.name}: scheme must be one of ('stabilized', 'sav'), "
                             f"got {scheme!r}")
        self.scheme = scheme
        self._setup_sav(relaxation, sav_constant, sav_stabilizer, energy_rise,
                        1.0 / self.epsilon ** 2)

    def _sav_symbols(self) -> tuple[np.ndarray, np.ndarray]:
        return np.ones_like(self.k2), self.k2 + self.sav_stabilizer / self.epsilon ** 2

    def solve(self, phi0: Any, t_end: float, dt: float | None = None,
              callback: Callable | None = None, save_every: int | None = None,
              **options: Any) -> PhaseFieldResult:
        """Integrate from ``phi0`` to ``t_end``; options as :meth:`_Spectral.solve`."""
        if self.scheme != "sav":
            return super().solve(phi0, t_end, dt, callback, save_every, **options)
        return self._sav_solve(phi0, t_end, dt, callback, save_every, options)

    def energy(self, u: Any) -> float:
        """``F = int |grad phi|^2 / 2 + psi(phi) / eps^2 dV``."""
        u = self._field(u)
        return float(self.free_energy.psi(u).sum() * self.cell / self.epsilon ** 2
                     + 0.5 * self._gradient_energy(u))

    def rate(self, u: Any) -> float:
        """``max |d phi/dt|`` of the explicit right-hand side."""
        u = self._field(u)
        lap = self._ifft(-self.k2 * self._fft(u))
        return float(np.abs(self.mobility * (lap - self.free_energy.dpsi(u)
                                             / self.epsilon ** 2)).max())

    def step(self, u: Any, dt: float) -> tuple[Any, int]:
        """One stabilised semi-implicit (or SAV) step; returns ``(phi, 0)``."""
        if self.scheme == "sav":
            return self._sav_step(u, dt), 0
        S, a = self.stabilizer, self.mobility * dt / self.epsilon ** 2
        rhs = self._fft(u) - a * self._fft(self.free_energy.dpsi(u) - S * u)
        return self._ifft(rhs / (1.0 + self.mobility * dt * self.k2 + a * S)), 0
