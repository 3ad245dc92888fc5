"""Seamless HMM (E, Ren and Vanden-Eijnden 2009) and HMM with re-initialisation.

Both treat slow–fast systems ``x' = f(t, x, y)`` (macro ``x``, fast micro state ``y``);
reference: W. E, W. Ren, E. Vanden-Eijnden, J. Comput. Phys. 228 (2009) 5437.

**Seamless.** The micro state is never re-initialised. Each micro step advances the
micro model by its own step ``dt_micro`` (resolving the fast scale ``eps``) with the macro
state frozen, then the macro state by ``Dt / M`` with the force evaluated on the new micro
state::

    y_{j+1} = step(y_j, dt_micro; x_j)
    x_{j+1} = x_j + (Dt / M) f(t_j, x_j, y_{j+1}),     t_{j+1} = t_j + Dt / M

so one macro step ``Dt`` takes ``M`` micro steps. For an ODE ``y' = g(x, y) / eps`` this is
a splitting scheme for the same system with ``eps`` replaced by the boosted
``eps' = eps (Dt / M) / dt_micro`` (:func:`boosted_eps`): the error against the averaged
equation is ``O(eps')`` plus the splitting error ``O(Dt / M)``, at a cost independent of
``eps``.

**HMM with re-initialisation** (:func:`hmm`): every macro step lifts a fresh micro state
from the macro one, relaxes it for ``n_relax`` micro steps, averages the force over the
next ``n_avg`` steps with a kernel and takes a forward-Euler macro step ``Dt``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from fe2.io import Progress

from .models import Trajectory, as_model, check_positive, check_state

__all__ = ["seamless", "hmm", "boosted_eps"]

log = logging.getLogger(__name__)

Kernel = Literal["uniform", "cosine"]


def boosted_eps(eps: float, dt_macro: float, M: int, dt_micro: float) -> float:
    """The effective ``eps' = eps (Dt / M) / dt_micro`` of a seamless run."""
    return float(eps) * (float(dt_macro) / int(M)) / float(dt_micro)


def _span(t_span: Any) -> tuple[float, float]:
    try:
        t0, t1 = (float(v) for v in t_span)
    except (TypeError, ValueError):
        raise ValueError(f"t_span must be (t0, t_end), got {t_span!r}") from None
    if not (math.isfinite(t0) and math.isfinite(t1) and t1 > t0):
        raise ValueError(f"t_span must have finite t0 < t_end, got {t_span!r}")
    return t0, t1


def _force(f: Callable, t: float, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    F = np.asarray(f(t, X, y), dtype=float)
    if F.shape != X.shape:
        raise ValueError(f"macro_rhs returned shape {F.shape} for a macro state of shape "
                         f"{X.shape}; expected the same shape")
    return F


def _check_callable(name: str, f: Any) -> None:
    if not callable(f):
        raise TypeError(f"{name} must be callable, got {type(f).__name__}")


def seamless(macro_rhs: Callable, micro: Any, X0: Any, y0: Any, t_span: tuple[float, float],
             dt_macro: float, M: int, dt_micro: float, seed: Any = None,
             method: str = "rk4", progress: bool = False) -> Trajectory:
    """Seamless HMM: macro stepped by ``dt_macro / M`` after every micro step.

    Parameters
    ----------
    macro_rhs : callable
        ``macro_rhs(t, X, y) -> dX/dt``, shape of ``X``; ``y`` is the current micro state.
    micro : MicroModel or callable
        Micro model; stepped as ``micro.step(y, s, dt_micro, rng, (X,))`` (a bare
        right-hand side ``g(s, y, X)`` is wrapped in an :class:`ODEModel` with ``method``).
    X0 : array ``(m, ...)``
        Initial macro state (trailing axes: ensemble members).
    y0 : array ``(n, ...)``
        Initial micro state; never re-initialised.
    t_span : (float, float)
        Macro time interval ``(t0, t_end)``.
    dt_macro : float
        Macro step ``Dt``; the macro state is recorded every ``Dt`` (the last macro step
        is shortened to land on ``t_end``).
    M : int
        Micro steps per macro step.
    dt_micro : float
        Micro step (micro time units).
    seed : int or numpy.random.Generator, optional
        Random stream of stochastic micro models.
    method : {"euler", "heun", "rk4"}
        Method of a bare micro right-hand side.
    progress : bool
        Progress bar over the macro steps.

    Returns
    -------
    Trajectory
        ``U`` ``(n_macro + 1, *X0.shape)``; ``info``: ``dt_macro, M, dt_micro``, ``boost``
        ``= (Dt / M) / dt_micro`` (``eps' = eps * boost``), the final micro state ``y``.
    """
    _check_callable("macro_rhs", macro_rhs)
    model = as_model(micro, method)
    t0, t1 = _span(t_span)
    Dt = check_positive("dt_macro", dt_macro)
    M = check_positive("M (micro steps per macro step)", M, integer=True)
    dt = check_positive("dt_micro", dt_micro)
    X = check_state("X0", X0)
    y = check_state("y0", y0)
    rng = np.random.default_rng(seed)
    n_macro = math.ceil((t1 - t0) / Dt - 1e-9)
    tau = Dt / M  # macro time per micro step; the last macro step is cut to land on t_end
    ts, Us = [t0], [X.copy()]
    t, s, steps = t0, 0.0, 0
    with Progress(total=n_macro, desc="seamless HMM", unit="step", enabled=progress) as bar:
        for i in range(n_macro):
            t_next = t1 if i == n_macro - 1 else t0 + (i + 1) * Dt
            n = max(math.ceil((t_next - t) / tau - 1e-9), 1)
            for j in range(n):
                step = tau if j < n - 1 else t_next - t
                y = model.step(y, s, dt, rng, (X,))
                X = X + step * _force(macro_rhs, t, X, y)
                s += dt
                t += step
            steps += n
            t = t_next
            if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
                raise FloatingPointError(f"seamless HMM: state not finite at t={t:.6g}; "
                                         f"reduce dt_micro or dt_macro / M")
            ts.append(t)
            Us.append(X.copy())
            bar.advance(1)
    return Trajectory(np.array(ts), np.array(Us), steps, "seamless",
                      {"dt_macro": Dt, "M": M, "dt_micro": dt,
                       "boost": tau / dt, "y": y})


def _weights(n: int, kernel: Kernel) -> np.ndarray:
    if kernel == "uniform":
        return np.ones(n)
    if kernel == "cosine":
        s = (np.arange(n) + 0.5) / n
        return 1.0 - np.cos(2 * np.pi * s)
    raise ValueError(f"HMM kernel must be 'uniform' or 'cosine', got {kernel!r}")


def hmm(macro_rhs: Callable, micro: Any, X0: Any, lift: Callable, t_span: tuple[float, float],
        dt_macro: float, dt_micro: float, n_relax: int, n_avg: int,
        kernel: Kernel = "cosine", seed: Any = None, method: str = "rk4",
        progress: bool = False) -> Trajectory:
    """HMM with re-initialisation: lift, relax, average, forward-Euler macro step.

    Parameters
    ----------
    macro_rhs : callable
        ``macro_rhs(t, X, y) -> dX/dt``, shape of ``X``.
    micro : MicroModel or callable
        Micro model, stepped with ``args=(X,)`` (X frozen over the burst).
    X0 : array ``(m, ...)``
        Initial macro state.
    lift : callable
        ``lift(X, rng) -> y``: the fresh micro state of every macro step.
    t_span : (float, float)
        ``(t0, t_end)``.
    dt_macro : float
        Macro step ``Dt`` (the last one shortened to land on ``t_end``).
    dt_micro : float
        Micro step.
    n_relax : int
        Micro steps discarded before averaging (>= 0).
    n_avg : int
        Micro steps averaged (>= 1).
    kernel : {"uniform", "cosine"}
        Averaging weights over the window (cosine: ``1 - cos 2 pi s``, smooth at both
        ends, so the average of a periodic force converges faster in the window length).
    seed : int or numpy.random.Generator, optional
        Random stream (micro model and ``lift``).
    method : {"euler", "heun", "rk4"}
        Method of a bare micro right-hand side.
    progress : bool
        Progress bar over the macro steps.

    Returns
    -------
    Trajectory
        ``micro_steps = n_macro (n_relax + n_avg)``.
    """
    _check_callable("macro_rhs", macro_rhs)
    _check_callable("lift", lift)
    model = as_model(micro, method)
    t0, t1 = _span(t_span)
    Dt = check_positive("dt_macro", dt_macro)
    dt = check_positive("dt_micro", dt_micro)
    n_relax = check_positive("n_relax", n_relax, integer=True, zero=True)
    n_avg = check_positive("n_avg", n_avg, integer=True)
    w = _weights(n_avg, kernel)
    w = w / w.sum()
    X = check_state("X0", X0)
    rng = np.random.default_rng(seed)
    n_macro = math.ceil((t1 - t0) / Dt - 1e-9)
    ts, Us = [t0], [X.copy()]
    t = t0
    with Progress(total=n_macro, desc="HMM", unit="step", enabled=progress) as bar:
        for i in range(n_macro):
            h = min(Dt, t1 - t)
            y = check_state("lifted micro state", lift(X, rng))
            s = 0.0
            for _ in range(n_relax):
                y = model.step(y, s, dt, rng, (X,))
                s += dt
            F = np.zeros_like(X)
            for j in range(n_avg):
                y = model.step(y, s, dt, rng, (X,))
                s += dt
                F += w[j] * _force(macro_rhs, t, X, y)
            X = X + h * F
            t = t0 + (i + 1) * Dt if i < n_macro - 1 else t1
            if not np.all(np.isfinite(X)):
                raise FloatingPointError(f"HMM: macro state not finite at t={t:.6g}")
            ts.append(t)
            Us.append(X.copy())
            bar.advance(1)
    return Trajectory(np.array(ts), np.array(Us), n_macro * (n_relax + n_avg), "hmm",
                      {"dt_macro": Dt, "dt_micro": dt, "n_relax": n_relax, "n_avg": n_avg,
                       "kernel": kernel})
