"""Concurrent use: a macro heat problem whose points carry evolving phase-field RVEs.

:class:`CoarseningConductor` is an oracle (measure ``"gradient"``): at every macro point
the microstructure is a periodic Cahn–Hilliard field ``c (n, n)`` (Fourier solver) whose
thresholded image is a two-phase conducting RVE; the flux is ``q = K(c) g`` with ``K`` the
periodic effective conductivity of the current snapshot. The micro state is advanced in
time by :meth:`CoarseningConductor.advance`, with a mobility set by the local macro
temperature (``mobility(T)``, e.g. Arrhenius), so hotter points coarsen faster.

:func:`coarsening_heat` steps the two scales in turn (staggered, one micro advance per
macro step): solve the steady macro problem ``-div(K(x) grad T) = f`` with Dirichlet
values, with ``K`` from the committed micro states at the quadrature points; then advance
every micro state by ``dt`` at its temperature and re-homogenize.

State layout (oracle contract, point axes last): ``"c"`` ``(n, n, *pts)`` and ``"K"``
``(2, 2, *pts)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import skfem

from fe2.homogenization import RVE
from fe2.homogenization.cells import from_image
from fe2.materials import LinearConductivity
from fe2.oracle import Response
from fe2.phasefield.energies import FreeEnergy
from fe2.phasefield.spectral import SpectralCahnHilliard

__all__ = ["CoarseningConductor", "CoarseningRun", "coarsening_heat"]


class CoarseningConductor:
    """Oracle: conductivity of a coarsening two-phase microstructure at each point.

    Parameters
    ----------
    n : int
        Micro grid points per axis (2D periodic box).
    size : float
        Micro box edge [length].
    kappa : float
        Gradient energy coefficient of the micro Cahn–Hilliard model.
    mobility : callable
        ``mobility(T: ndarray) -> ndarray``: micro mobility at macro temperature ``T``.
    conductivities : (float, float)
        Conductivity of the phase below and above ``threshold``.
    free_energy : FreeEnergy, optional
        Default PFHub 1's ``polynomial(5, 0.3, 0.7)``.
    threshold : float, optional
        Default the middle of the free energy's ``sample`` range.
    """

    measure = "gradient"

    def __init__(self, n: int, size: float, kappa: float, mobility: Callable,
                 conductivities: Sequence[float], free_energy: FreeEnergy | None = None,
                 threshold: float | None = None):
        if not callable(mobility):
            raise ValueError(f"CoarseningConductor: mobility must be callable mobility(T), "
                             f"got {mobility!r}")
        k = [float(v) for v in conductivities]
        if len(k) != 2 or min(k) <= 0:
            raise ValueError(f"CoarseningConductor: need two conductivities > 0, got "
                             f"{conductivities!r}")
        self.n, self.size, self.kappa, self.mobility, self.k = int(n), float(size), kappa, \
            mobility, k
        probe = SpectralCahnHilliard((self.n, self.n), self.size, kappa, 1.0, free_energy)
        self.free_energy = probe.free_energy
        lo, hi = self.free_energy.sample
        self.threshold = 0.5 * (lo + hi) if threshold is None else float(threshold)
        self.dim = 2

    def conductivity(self, c: np.ndarray) -> np.ndarray:
        """Periodic effective conductivity ``(2, 2)`` of one micro field ``c (n, n)``."""
        img = (c > self.threshold).astype(np.int64)
        f = float(img.mean())
        if f in (0.0, 1.0):
            return self.k[int(f)] * np.eye(2)
        rve = RVE(from_image(img, size=self.size),
                  [LinearConductivity(self.k[0]), LinearConductivity(self.k[1])],
                  method="fft")
        return rve.effective_tensor()

    def initial_state(self, pts: tuple[int, ...], c0: float = 0.5, noise: float = 0.02,
                      rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
        """Micro fields ``c0 + noise * N(0, 1)`` (one seeded stream) and their ``K``."""
        rng = np.random.default_rng(0) if rng is None else rng
        c = c0 + noise * rng.standard_normal((self.n, self.n, *pts))
        return {"c": c, "K": self._tensors(c)}

    def _tensors(self, c: np.ndarray) -> np.ndarray:
        pts = c.shape[2:]
        K = np.empty((2, 2, *pts))
        for idx in np.ndindex(*pts):
            K[(slice(None), slice(None), *idx)] = self.conductivity(c[(..., *idx)])
        return K

    def evaluate(self, g: np.ndarray, x: Any = None, state: dict | None = None) -> Response:
        """``q = K g`` ``(2, *pts)`` and tangent ``K`` ``(2, 2, *pts)`` of the committed state."""
        if state is None:
            raise ValueError("CoarseningConductor.evaluate needs the micro state "
                             "(initial_state(pts))")
        K = state["K"]
        return Response(flux=np.einsum("ij...,j...->i...", K, g), tangent=K.copy(),
                        state=state, info={})

    def advance(self, state: dict, dt: float, temperature: np.ndarray) -> dict:
        """Micro states advanced by ``dt`` at temperatures ``(*pts)``; ``K`` recomputed."""
        c = state["c"].copy()
        T = np.asarray(temperature, dtype=float)
        M = np.broadcast_to(np.asarray(self.mobility(T), dtype=float), c.shape[2:])
        for idx in np.ndindex(*c.shape[2:]):
            sol = SpectralCahnHilliard((self.n, self.n), self.size, self.kappa, float(M[idx]),
                                       self.free_energy)
            r = sol.solve(c[(..., *idx)], dt)
            c[(..., *idx)] = r.field.reshape(self.n, self.n)
        return {"c": c, "K": self._tensors(c)}


@dataclass(frozen=True)
class CoarseningRun:
    """Macro temperatures and micro conductivities after each macro step.

    Attributes
    ----------
    times : ndarray (s,)
    temperature : ndarray (s, N)
        Macro temperature dofs (solved with the micro state at the start of the step).
    conductivity : ndarray (s, 2, 2, n_el, n_qp)
        Effective conductivity at the quadrature points at the end of each step.
    state : dict
        Final micro state.
    """

    times: np.ndarray
    temperature: np.ndarray
    conductivity: np.ndarray
    state: dict


def coarsening_heat(basis: skfem.CellBasis, oracle: CoarseningConductor, dirichlet: dict,
                    source: float, t_end: float, steps: int,
                    state: dict | None = None) -> CoarseningRun:
    """Staggered macro heat / micro coarsening run (see the module docs).

    Parameters
    ----------
    basis : skfem.CellBasis
        Scalar macro basis (2D).
    oracle : CoarseningConductor
        The micro model at every quadrature point of ``basis``.
    dirichlet : dict
        ``{boundary name: temperature}`` (names of ``basis.mesh.boundaries``).
    source : float
        Uniform heat source ``f``.
    t_end : float
        Final time.
    steps : int
        Equal macro steps (one micro advance each).
    state : dict, optional
        Initial micro state (default ``oracle.initial_state``).
    """
    pts = (basis.nelems, basis.X.shape[-1])
    state = oracle.initial_state(pts) if state is None else state
    if state["c"].shape[2:] != pts or state["K"].shape[2:] != pts:
        raise ValueError(f"coarsening_heat: the micro state must have point axes {pts} "
                         f"(elements, quadrature points), got c {state['c'].shape}, "
                         f"K {state['K'].shape}")
    for name in dirichlet:
        if name not in basis.mesh.boundaries:
            raise ValueError(f"coarsening_heat: unknown boundary {name!r}; the mesh has "
                             f"{sorted(basis.mesh.boundaries)}")
    D = np.concatenate([basis.get_dofs(name).all() for name in dirichlet])
    Tb = np.zeros(basis.N)
    for name, value in dirichlet.items():
        Tb[basis.get_dofs(name).all()] = float(value)
    f = skfem.asm(skfem.LinearForm(lambda v, w: source * v), basis)
    dt = float(t_end) / int(steps)
    times, temps, Ks = [], [], []
    for k in range(int(steps)):
        K = state["K"]
        A = skfem.asm(skfem.BilinearForm(
            lambda u, v, w: sum(w.K[i, j] * u.grad[j] * v.grad[i]
                                for i in range(2) for j in range(2))), basis, K=K)
        T = skfem.solve(*skfem.condense(A, f, x=Tb.copy(), D=D))
        state = oracle.advance(state, dt, np.asarray(basis.interpolate(T)))
        times.append((k + 1) * dt)
        temps.append(T)
        Ks.append(state["K"])
    return CoarseningRun(np.asarray(times), np.asarray(temps), np.asarray(Ks), state)
