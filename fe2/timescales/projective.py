"""Projective integration (Gear and Kevrekidis, SIAM J. Sci. Comput. 24, 2003).

One outer step of size ``Dt = (k + 1 + M) h`` from the macro state ``U_n``:

1. lift ``U_n`` and take ``k + 1`` inner (micro) steps of size ``h`` with the
   :class:`~fe2.timescales.CoarseStepper`, restricting after each: ``U^0 ... U^{k+1}``;
   the first ``k`` steps damp the fast modes, the last pair gives the chord slope
   ``s_n = (U^{k+1} - U^k) / h``;
2. extrapolate over the remaining ``L = M h``:

   - **projective forward Euler** (``scheme="euler"``): ``U_{n+1} = U^{k+1} + L s_n``;
   - **projective Adams–Bashforth 2** (``scheme="ab2"``, Rico-Martinez, Gear and
     Kevrekidis, J. Comput. Phys. 196, 2004): the chord slopes are second-order
     estimates of ``dU/dt`` at the chord midpoints ``tau_n = t_n + (k + 1/2) h``;
     ``s(t)`` is extrapolated linearly through ``(tau_{n-1}, s_{n-1})`` and
     ``(tau_n, s_n)`` and integrated exactly over ``[t_n + (k+1) h, t_{n+1}]``::

         U_{n+1} = U^{k+1} + L s_n + (s_n - s_{n-1}) L (L + h) / (2 (tau_n - tau_{n-1}))

     The first step is projective forward Euler. Second order in ``Dt`` when the inner
     method is at least second order (``"heun"``, ``"rk4"``); with forward Euler inside
     the inner steps' own O(h) error remains.

With forward-Euler inner steps on ``y' = lambda y`` the projective Euler amplification
factor is ``sigma = [(M + 1) rho - M] rho^k``, ``rho = 1 + h lambda``
(:func:`amplification_factor`); ``|sigma| <= 1`` holds in two regions: near ``rho = 0``
(fast modes, damped by the inner steps) and near ``rho = 1`` (slow modes, a disc of
radius about ``1/M`` in ``rho``). :func:`choose_steps` picks ``h, k, M`` from eigenvalue
estimates so that every fast mode lands in the first and every slow one in the second;
:func:`estimate_spectrum` estimates those eigenvalues from short bursts (finite-difference
Jacobian of the one-step coarse map, or dynamic mode decomposition of a burst).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from fe2.io import Progress

from .models import CoarseStepper, Trajectory, check_positive, check_state

__all__ = ["amplification_factor", "projective_integrate", "projective_euler",
           "projective_ab2", "estimate_spectrum", "choose_steps", "StepChoice"]

log = logging.getLogger(__name__)

Scheme = Literal["euler", "ab2"]


def _stability(z: np.ndarray, method: str) -> np.ndarray:
    if method == "euler":
        return 1 + z
    if method == "heun":
        return 1 + z + z ** 2 / 2
    if method == "rk4":
        return 1 + z + z ** 2 / 2 + z ** 3 / 6 + z ** 4 / 24
    raise ValueError(f"inner method must be 'euler', 'heun' or 'rk4', got {method!r}")


def amplification_factor(lam_h: Any, k: int, M: float, method: str = "euler") -> np.ndarray:
    """Projective forward Euler amplification factor on ``y' = lambda y``.

    Parameters
    ----------
    lam_h : complex or array
        ``h lambda`` (inner step times eigenvalue).
    k : int
        Damping inner steps (``k + 1`` inner steps per outer step).
    M : float
        Projection length in inner steps.
    method : {"euler", "heun", "rk4"}
        Inner method; ``rho = R(h lambda)`` is its stability function.

    Returns
    -------
    ndarray, shape of ``lam_h``
        ``sigma = [(M + 1) rho - M] rho^k``.
    """
    rho = _stability(np.asarray(lam_h, dtype=complex), method)
    s = ((M + 1) * rho - M) * rho ** k
    return s.real if np.all(np.isreal(lam_h)) else s


def _inner_method(stepper: CoarseStepper) -> str:
    return getattr(stepper.model, "method", "euler")


def projective_integrate(stepper: CoarseStepper, U0: Any, t_span: tuple[float, float],
                         k: int, M: float, scheme: Scheme = "euler",
                         progress: bool = False) -> Trajectory:
    """Projective integration of the coarse dynamics of ``stepper`` over ``t_span``.

    Parameters
    ----------
    stepper : CoarseStepper
        Lift, micro model and restriction; its ``dt`` is the inner step ``h``.
    U0 : array ``(m,)``
        Initial macro state.
    t_span : (float, float)
        ``(t0, t_end)``.
    k : int
        Damping inner steps per outer step (>= 0); ``k + 1`` inner steps are taken.
    M : float
        Projection over ``M h`` (>= 0); the outer step is ``(k + 1 + M) h``. The last
        step is shortened (fractional ``M``, or inner steps only) to land on ``t_end``.
    scheme : {"euler", "ab2"}
        Projective forward Euler or projective Adams–Bashforth 2 (module docstring).
    progress : bool
        Show a progress bar over the outer steps.

    Returns
    -------
    Trajectory
        ``t`` ``(n_outer + 1,)``, ``U`` ``(n_outer + 1, m)``; ``info`` holds ``h, k, M,
        Dt``, ``outer_steps`` and the scheme.
    """
    if not isinstance(stepper, CoarseStepper):
        raise TypeError(f"stepper must be a CoarseStepper, got {type(stepper).__name__}")
    if scheme not in ("euler", "ab2"):
        raise ValueError(f"projective scheme must be 'euler' or 'ab2', got {scheme!r}")
    k = check_positive("k (damping inner steps)", k, integer=True, zero=True)
    M = check_positive("M (projection length in inner steps)", M, zero=True)
    try:
        t0, t_end = (float(v) for v in t_span)
    except (TypeError, ValueError):
        raise ValueError(f"t_span must be (t0, t_end), got {t_span!r}") from None
    if not (math.isfinite(t0) and math.isfinite(t_end) and t_end > t0):
        raise ValueError(f"t_span must have finite t0 < t_end, got {t_span!r}")
    U = check_state("U0", U0)
    h = stepper.dt
    Dt = (k + 1 + M) * h
    n_outer = math.ceil((t_end - t0) / Dt - 1e-12)
    ts, Us = [t0], [U.copy()]
    t = t0
    prev: tuple[float, np.ndarray] | None = None  # (tau, slope) of the previous step
    with Progress(total=n_outer, desc=f"projective {scheme}", unit="step",
                  enabled=progress) as bar:
        while t < t_end - 1e-12 * Dt:
            rest = t_end - t
            if rest >= (k + 1 + M) * h * (1 - 1e-12):
                hh, L = h, M * h
            elif rest >= (k + 1) * h:
                hh, L = h, rest - (k + 1) * h
            else:  # only inner steps left, shortened
                hh, L = rest / (k + 1), 0.0
            coarse, _ = stepper.burst(U, t, k + 1, hh)
            slope = (coarse[-1] - coarse[-2]) / hh
            tau = t + (k + 0.5) * hh
            U = coarse[-1] + L * slope
            if scheme == "ab2" and prev is not None and L > 0:
                tau0, s0 = prev
                U = U + (slope - s0) * L * (L + hh) / (2.0 * (tau - tau0))
            prev = (tau, slope)
            t = t + (k + 1) * hh + L
            if not np.all(np.isfinite(U)):
                raise FloatingPointError(
                    f"projective {scheme}: macro state not finite at t={t:.6g} "
                    f"(h={h:g}, k={k}, M={M:g}: outer step outside the stability region?)")
            ts.append(t)
            Us.append(U.copy())
            bar.advance(1)
    return Trajectory(np.array(ts), np.array(Us), stepper.micro_steps, f"projective_{scheme}",
                      {"h": h, "k": k, "M": M, "Dt": Dt, "outer_steps": len(ts) - 1,
                       "inner_method": _inner_method(stepper)})


def projective_euler(stepper: CoarseStepper, U0: Any, t_span: tuple[float, float], k: int,
                     M: float, progress: bool = False) -> Trajectory:
    """Projective forward Euler: :func:`projective_integrate` with ``scheme="euler"``."""
    return projective_integrate(stepper, U0, t_span, k, M, "euler", progress)


def projective_ab2(stepper: CoarseStepper, U0: Any, t_span: tuple[float, float], k: int,
                   M: float, progress: bool = False) -> Trajectory:
    """Projective Adams–Bashforth 2: :func:`projective_integrate` with ``scheme="ab2"``."""
    return projective_integrate(stepper, U0, t_span, k, M, "ab2", progress)


def estimate_spectrum(stepper: CoarseStepper, U: Any, t: float = 0.0, n: int = 8,
                      dt: float | None = None, method: Literal["jacobian", "dmd"] = "jacobian",
                      delta: float = 1e-7, rtol: float = 1e-10) -> np.ndarray:
    """Eigenvalue estimates of the coarse dynamics near ``U`` from short bursts.

    ``method="jacobian"``: one-step bursts from ``U`` and from ``U + delta |U| e_i``
    (``i = 1..m``) give the Jacobian of the coarse one-step map ``G`` by finite
    differences (deterministic micro models); ``method="dmd"``: the differences
    ``d_j = U^{j+1} - U^j`` of one ``n``-step burst span a Krylov space of ``G`` and
    its Ritz values (exact dynamic mode decomposition, rank cut at ``rtol``) are used
    (exact for linear models when ``n`` exceeds the number of excited modes; a
    nonlinear burst far from equilibrium biases it). The multipliers ``mu`` of ``G``
    become ``lambda = (mu - 1) / h`` for forward-Euler inner steps, ``log(mu) / h`` for
    other inner methods.

    Parameters
    ----------
    stepper : CoarseStepper
        Micro model, lift and restriction.
    U : array ``(m,)``
        Macro state.
    t : float
        Time of ``U``.
    n : int
        Burst length of ``"dmd"`` (>= 2).
    dt : float, optional
        Inner step of the estimation bursts (default ``stepper.dt``).
    method : {"jacobian", "dmd"}
        Estimator (see above).
    delta : float
        Relative finite-difference increment (``"jacobian"``).
    rtol : float
        Relative singular-value cut-off (``"dmd"``).

    Returns
    -------
    ndarray (complex)
        Eigenvalue estimates sorted by modulus.
    """
    if method not in ("jacobian", "dmd"):
        raise ValueError(f"estimate_spectrum method must be 'jacobian' or 'dmd', got {method!r}")
    n = check_positive("burst length n", n, integer=True)
    h = stepper.dt if dt is None else check_positive("dt", dt)
    U = check_state("U", U)
    if method == "jacobian":
        base = stepper.burst(U, t, 1, h)[0][-1].ravel()
        cols = []
        for i in range(U.size):
            dU = np.zeros_like(U).ravel()
            step = delta * max(float(np.abs(U).max()), 1.0)
            dU[i] = step
            cols.append((stepper.burst(U + dU.reshape(U.shape), t, 1, h)[0][-1].ravel()
                         - base) / step)
        mu = np.linalg.eigvals(np.array(cols).T)
    else:
        if n < 2:
            raise ValueError(f"estimate_spectrum needs a burst of n >= 2 steps, got {n}")
        coarse, _ = stepper.burst(U, t, n, h)
        D = np.diff(coarse.reshape(n + 1, -1), axis=0).T  # (m, n)
        X, Y = D[:, :-1], D[:, 1:]
        u, s, vh = np.linalg.svd(X, full_matrices=False)
        if s.size == 0 or s[0] == 0:
            raise ValueError("estimate_spectrum: the burst does not move (zero differences); "
                             "start off equilibrium")
        r = int(np.sum(s > rtol * s[0]))
        mu = np.linalg.eigvals(u[:, :r].conj().T @ Y @ vh[:r].conj().T / s[:r])
    if _inner_method(stepper) == "euler":
        lam = (mu - 1) / h
    else:
        lam = np.log(mu.astype(complex)) / h
    return lam[np.argsort(np.abs(lam))]


@dataclass(frozen=True)
class StepChoice:
    """Inner step, burst length and projection chosen from the spectral gap.

    Attributes
    ----------
    h : float
        Inner step.
    k : int
        Damping inner steps.
    M : int
        Projection length in inner steps.
    Dt : float
        Outer step ``(k + 1 + M) h``.
    fast, slow : ndarray
        The eigenvalues treated as fast / slow.
    sigma_fast, sigma_slow : float
        Largest ``|sigma|`` over the fast / slow eigenvalues.
    speedup : float
        ``(k + 1 + M) / (k + 1)``: inner steps saved against resolved stepping with ``h``.
    """

    h: float
    k: int
    M: int
    Dt: float
    fast: np.ndarray
    slow: np.ndarray
    sigma_fast: float
    sigma_slow: float
    speedup: float


def choose_steps(eigenvalues: Any, accuracy: float = 0.1, damping: float = 1e-3,
                 gap: float = 10.0, method: str = "euler", max_k: int = 10_000) -> StepChoice:
    """Inner step ``h``, burst ``k`` and projection ``M`` from eigenvalue estimates.

    The eigenvalues (negative real parts) are split at the largest ratio between
    consecutive moduli (it must exceed ``gap``). Then

    - ``h`` minimises ``max |R(h lambda)|`` over the fast band
      (``h = 2 / (|lambda|_min + |lambda|_max)`` for forward Euler, real band),
    - the outer step is ``Dt = accuracy / max |lambda_slow|``,
    - ``k`` is the smallest burst with ``|sigma| <= damping`` on every fast eigenvalue
      for ``M = floor(Dt / h) - k - 1``; every slow eigenvalue must have
      ``|sigma| <= 1``.

    Parameters
    ----------
    eigenvalues : array
        Estimates of the eigenvalues (e.g. from :func:`estimate_spectrum`), complex or real.
    accuracy : float
        ``Dt |lambda_slow|_max`` (relative change of the slowest-scale mode per step).
    damping : float
        Target ``|sigma|`` of the fast modes per outer step.
    gap : float
        Minimum ratio ``|lambda_fast|_min / |lambda_slow|_max``.
    method : {"euler", "heun", "rk4"}
        Inner method.
    max_k : int
        Largest burst tried.

    Returns
    -------
    StepChoice
    """
    lam = np.asarray(eigenvalues, dtype=complex).ravel()
    if lam.size < 2:
        raise ValueError(f"choose_steps needs at least two eigenvalues (fast and slow), "
                         f"got {lam.size}")
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"choose_steps: eigenvalues must be finite, got {lam}")
    if np.any(lam.real > 0):
        raise ValueError(f"choose_steps: eigenvalues with positive real part "
                         f"{lam[lam.real > 0]} (the coarse dynamics must be stable)")
    accuracy = check_positive("accuracy", accuracy)
    damping = check_positive("damping", damping)
    _stability(np.zeros(1), method)
    a = np.sort(np.abs(lam))
    a_nz = np.maximum(a, 1e-300)
    ratios = a_nz[1:] / a_nz[:-1]
    i = int(np.argmax(ratios))
    if ratios[i] < gap:
        raise ValueError(f"choose_steps: no spectral gap: largest ratio of consecutive "
                         f"|eigenvalues| is {ratios[i]:.3g} < gap={gap:g} ({a})")
    order = np.argsort(np.abs(lam))
    slow, fast = lam[order[: i + 1]], lam[order[i + 1:]]
    fmin, fmax = np.abs(fast).min(), np.abs(fast).max()
    # h minimising the largest |R(h lambda)| over the fast modes (scan around the Euler value)
    h0 = 2.0 / (fmin + fmax)
    cand = h0 * np.geomspace(0.05, 4.0, 400)
    worst = np.array([np.max(np.abs(_stability(c * fast, method))) for c in cand])
    h = float(cand[int(np.argmin(worst))])
    if worst.min() >= 1:
        raise ValueError(f"choose_steps: no inner step damps all fast modes {fast} with "
                         f"method {method!r}")
    Dt = accuracy / float(np.abs(slow).max()) if np.abs(slow).max() > 0 else 1e3 * h
    for k in range(max_k + 1):
        M = max(int(math.floor(Dt / h)) - k - 1, 0)
        sf = float(np.max(np.abs(amplification_factor(h * fast, k, M, method))))
        if sf <= damping:
            break
    else:
        raise ValueError(f"choose_steps: fast modes not damped to {damping:g} within "
                         f"k <= {max_k} inner steps")
    ss = float(np.max(np.abs(amplification_factor(h * slow, k, M, method))))
    if ss > 1 + 1e-12:
        raise ValueError(f"choose_steps: slow modes unstable (|sigma| = {ss:.4g}) for "
                         f"accuracy={accuracy:g}; lower it")
    choice = StepChoice(h, k, M, (k + 1 + M) * h, fast, slow, sf, ss,
                        (k + 1 + M) / (k + 1))
    log.info("choose_steps: h=%.3g k=%d M=%d Dt=%.3g (|sigma| fast %.2g, slow %.4f)",
             h, k, M, choice.Dt, sf, ss)
    return choice
