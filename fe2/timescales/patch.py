"""Patch dynamics (gap-tooth scheme + projective step) for 1D diffusion.

The micro model ``u_t = (a(x) u_x)_x`` with a rapidly oscillating coefficient
(``a(x) = A(x / eps)``) is solved only in small patches around the macro points
``x_i = (i + 1/2) L / N`` of a periodic domain ``[0, L)`` (Gear, Li and Kevrekidis 2003;
Samaey, Roose and Kevrekidis, Multiscale Model. Simul. 4, 2005). Each macro step:

1. **lift**: in patch ``i`` (inner width ``h``, buffers of width ``b`` on each side) the
   quadratic ``p(x) = U_i + D1 xi + D2 (xi^2 / 2 - h^2 / 24)``, ``xi = x - x_i``, with
   ``D1, D2`` the central differences of the patch averages ``U`` (its average over the
   inner patch is ``U_i``); Dirichlet values ``p(x_i +- (h/2 + b))`` at the buffer ends;
2. **evolve**: finite volumes on a fine grid (``dx_micro``, the coefficient sampled at the
   cell faces) with implicit Euler steps ``dt_micro`` (one sparse LU for the run);
   ``n_heal`` steps let the oscillating corrector form, ``n_burst`` more steps measure;
3. **restrict**: the average over the inner patch; its chord slope over the burst
   estimates ``dU_i/dt``, and a projective forward-Euler step ``Dt`` updates ``U``.

In 1D the flux ``a u_x`` of the healed micro solution is the homogenized flux
``a* U_x`` with ``a*`` the harmonic mean of ``a`` (:func:`harmonic_mean`), so the
estimated slope is ``a* D2`` and the scheme approximates ``U_t = a* U_xx``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from fe2.io import Progress

from .models import Trajectory, check_positive, check_state

__all__ = ["patch_dynamics", "harmonic_mean"]

log = logging.getLogger(__name__)


def harmonic_mean(a: Callable[[np.ndarray], np.ndarray], period: float, n: int = 4096) -> float:
    """Harmonic mean ``(<1/a>)^-1`` of a periodic coefficient over one period.

    Midpoint rule with ``n`` points (spectrally accurate for smooth periodic ``a``).
    """
    period = check_positive("period", period)
    x = (np.arange(n) + 0.5) * period / n
    return float(1.0 / np.mean(1.0 / np.asarray(a(x), dtype=float)))


def patch_dynamics(a: Callable[[np.ndarray], np.ndarray], U0: Any, t_end: float, Dt: float,
                   patch: float, buffer: float, dx_micro: float, dt_micro: float,
                   n_heal: int, n_burst: int, length: float = 1.0,
                   progress: bool = False) -> Trajectory:
    """Patch dynamics for ``u_t = (a(x) u_x)_x`` on a periodic interval.

    Parameters
    ----------
    a : callable
        ``a(x) -> a`` (> 0), vectorised over physical positions ``x`` (e.g.
        ``lambda x: 1 / (2 + sin(2 pi x / eps))``).
    U0 : array ``(N,)``
        Initial patch averages at ``x_i = (i + 1/2) length / N`` (N >= 3).
    t_end : float
        Final time.
    Dt : float
        Macro (projective) step; the last one is shortened to land on ``t_end``. Forward
        Euler on ``a* U_xx``: stable for ``Dt <= Dx^2 / (2 a*)``.
    patch : float
        Inner patch width ``h`` (restriction window), ``< length / N``.
    buffer : float
        Buffer width on each side of the inner patch.
    dx_micro : float
        Target micro cell width (resolve ``eps``); rounded so the inner patch and the
        buffers hold whole cells.
    dt_micro : float
        Implicit-Euler micro step.
    n_heal, n_burst : int
        Micro steps before the first restriction (>= 0) and between the two (>= 1).
    length : float
        Period of the macro domain.
    progress : bool
        Progress bar over the macro steps.

    Returns
    -------
    Trajectory
        ``U`` ``(n_steps + 1, N)``; ``micro_steps`` counts patch-steps (one implicit step
        of all patches counts N); ``info``: ``x`` (patch centres), ``cells_per_patch``,
        ``micro_cell_steps`` (cells times steps, the work), ``dx_micro``.
    """
    if not callable(a):
        raise TypeError(f"coefficient a must be callable a(x), got {type(a).__name__}")
    U = check_state("U0", U0)
    if U.ndim != 1 or U.size < 3:
        raise ValueError(f"U0 must be 1D with at least 3 patch averages, got shape {U.shape}")
    N = U.size
    L = check_positive("length", length)
    t_end = check_positive("t_end", t_end)
    Dt = check_positive("Dt", Dt)
    h = check_positive("patch", patch)
    b = check_positive("buffer", buffer, zero=True)
    dxm = check_positive("dx_micro", dx_micro)
    dtm = check_positive("dt_micro", dt_micro)
    n_heal = check_positive("n_heal", n_heal, integer=True, zero=True)
    n_burst = check_positive("n_burst", n_burst, integer=True)
    Dx = L / N
    if h + 2 * b >= Dx * (1 + 1e-12):
        log.info("patches with buffers (%.3g) overlap the macro spacing %.3g", h + 2 * b, Dx)
    if h >= Dx:
        raise ValueError(f"patch width {h:g} must be below the macro spacing L/N = {Dx:g}")
    n_in = max(int(round(h / dxm)), 1)
    dx = h / n_in
    n_b = int(round(b / dx))
    n = n_in + 2 * n_b
    H = n * dx
    x = (np.arange(N) + 0.5) * Dx
    xi = (np.arange(n) + 0.5) * dx - H / 2  # cell centres relative to the patch centre
    faces = np.arange(n + 1) * dx - H / 2   # n + 1 faces, ends are the Dirichlet faces
    af = np.asarray(a(x[:, None] + faces[None, :]), dtype=float)  # (N, n + 1)
    if af.shape != (N, n + 1) or not np.all(af > 0) or not np.all(np.isfinite(af)):
        raise ValueError("coefficient a(x) must return finite positive values of the shape "
                         f"of x; got shape {af.shape}, min {np.min(af):.3g}")
    # implicit Euler matrix (I - dt A) of all patches (block tridiagonal, blocks uncoupled)
    w = af / dx ** 2
    w[:, 0] *= 2.0   # boundary faces: distance dx/2 to the Dirichlet value
    w[:, -1] *= 2.0
    diag = 1 + dtm * (w[:, :-1] + w[:, 1:])
    lower = -dtm * w[:, 1:-1]
    off = np.zeros((N, n))
    off[:, :-1] = lower            # coupling j -> j+1 inside a patch, zero across patches
    up = off.ravel()[:-1]
    A = sp.diags([diag.ravel(), up, up], [0, 1, -1], format="csc")
    lu = splu(A)
    inner = slice(n_b, n_b + n_in)
    n_steps = math.ceil(t_end / Dt - 1e-9)
    ts, Us = [0.0], [U.copy()]
    t = 0.0
    with Progress(total=n_steps, desc="patch dynamics", unit="step", enabled=progress) as bar:
        for k in range(n_steps):
            Up, Um = np.roll(U, -1), np.roll(U, 1)
            D1 = (Up - Um) / (2 * Dx)
            D2 = (Up - 2 * U + Um) / Dx ** 2

            def p(z, D1=D1, D2=D2, U=U):
                return U[:, None] + D1[:, None] * z + D2[:, None] * (z ** 2 / 2 - h ** 2 / 24)

            u = p(xi[None, :])
            bc = np.zeros((N, n))
            bc[:, 0] = dtm * w[:, 0] * p(np.array([faces[0]]))[:, 0]
            bc[:, -1] = dtm * w[:, -1] * p(np.array([faces[-1]]))[:, 0]
            bc = bc.ravel()
            v = u.ravel()
            for _ in range(n_heal):
                v = lu.solve(v + bc)
            r1 = v.reshape(N, n)[:, inner].mean(axis=1)
            for _ in range(n_burst):
                v = lu.solve(v + bc)
            r2 = v.reshape(N, n)[:, inner].mean(axis=1)
            slope = (r2 - r1) / (n_burst * dtm)
            step = min(Dt, t_end - t)
            U = U + step * slope
            t = (k + 1) * Dt if k < n_steps - 1 else t_end
            ts.append(t)
            Us.append(U.copy())
            bar.advance(1)
    steps = n_steps * (n_heal + n_burst)
    return Trajectory(np.array(ts), np.array(Us), steps * N, "patch_dynamics",
                      {"x": x, "cells_per_patch": n, "micro_cell_steps": steps * N * n,
                       "dx_micro": dx, "patch": h, "buffer": n_b * dx, "Dt": Dt})
