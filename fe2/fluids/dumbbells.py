"""Brownian-dynamics stress oracles: Hookean and FENE dumbbell ensembles per macro point.

Each macro point carries ``n_dumbbells`` connector vectors ``Q`` (2D, in units of
``sqrt(kT/H)``) obeying the Itô SDE

``dQ = [L Q - F(Q) / (2 lam)] dt + sqrt(1 / lam) dW``,

``F(Q) = Q`` (Hookean) or ``Q / (1 - |Q|^2 / b)`` (FENE), with the polymer stress by the
Kramers formula ``tau_p = eta_p / lam (<Q F(Q)> - I)`` (``eta_p = n k T lam``). The
ensemble is the oracle's state (``state["Q"]``, ``(2, n_dumbbells, *pts)``): it is never
re-initialised, and each call advances it by the macro step ``dt`` in the velocity
gradient of that step (the seamless coupling), in a fixed number of micro steps.

Time stepping: Heun's predictor–corrector with additive noise for Hookean springs (weak
order 2; the same Wiener increment in predictor and corrector); for FENE springs
Öttinger's semi-implicit predictor–corrector (H. C. Öttinger, Stochastic Processes in
Polymeric Fluids, 1996, sec. 4.3), which keeps ``|Q|^2 < b`` by solving a cubic for the
corrected length. FENE steps that would still leave the ball
``|Q|^2 < b`` are clipped to ``|Q|^2 = (1 - 1e-6) b`` and counted per point over the
macro step (``info["clipped"]``); keep ``micro_dt`` small against ``lam`` at high
Weissenberg number.

Variance reduction
------------------
* **Correlated noise across points** (both models): every point uses the same initial
  ensemble and the same Wiener increments (drawn from ``numpy.random.default_rng([seed,
  k])`` for micro step ``k``), so the sampling error varies smoothly in space (it is a
  smooth function of the local flow history) and does not feed grid-scale noise into
  the momentum balance. The draw depends only on the seed and the step, so serial,
  chunked and process-pool runs give identical results.
* **Control variate from the Oldroyd-B closure** (FENE, ``control_variate=True``):
  a Hookean ensemble driven by the same noise (its initial sample mapped from the
  same uniforms) and the exact Oldroyd-B conformation integrated alongside give
  ``tau_FENE - (tau_Hookean,MC - tau_OldroydB)``, whose error is that of the
  *difference* between the two models — small where the FENE springs are far from
  their limit.

``info`` carries the standard errors ``tau_xy_se`` and ``n1_se`` of the returned
``tau_xy`` and ``N1`` (from the ensemble spread, of the control-variate difference
when that is used).
"""

from __future__ import annotations

import numpy as np

from fe2.oracle import OracleBase, Response

from . import kernels
from .stress import OldroydB, _nonneg, _positive, symmetric_part

__all__ = ["FENEDumbbells", "HookeanDumbbells"]


class _Dumbbells(OracleBase):
    measure = "velocity_gradient"
    dim = 2

    def __init__(self, n_dumbbells, lam, eta_p, seed, eta_s, micro_dt, micro_steps,
                 backend="numba"):
        name = type(self).__name__
        if backend not in ("numba", "numpy"):
            raise ValueError(f"{name}: backend must be 'numba' or 'numpy', got {backend!r}")
        self.backend = backend
        if isinstance(n_dumbbells, bool) or not isinstance(n_dumbbells, int | np.integer) \
                or n_dumbbells < 2:
            raise ValueError(f"{name}: n_dumbbells must be an integer >= 2, got {n_dumbbells!r}")
        _positive(name, lam=lam, eta_p=eta_p)
        _nonneg(name, eta_s=eta_s)
        if micro_dt is not None:
            _positive(name, micro_dt=micro_dt)
        if micro_steps is not None and (
            isinstance(micro_steps, bool) or not isinstance(micro_steps, int | np.integer)
            or micro_steps < 1
        ):
            raise ValueError(f"{name}: micro_steps must be an integer >= 1, got {micro_steps!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise ValueError(f"{name}: seed must be an integer >= 0, got {seed!r}")
        self.n_dumbbells = int(n_dumbbells)
        self.lam, self.eta_p, self.eta_s = float(lam), float(eta_p), float(eta_s)
        self.seed = int(seed)
        self.micro_dt = None if micro_dt is None else float(micro_dt)
        self.micro_steps = None if micro_steps is None else int(micro_steps)

    @property
    def solvent_viscosity(self) -> float:
        """``eta_s``."""
        return self.eta_s

    # ---------------------------------------------------------------- schedule
    def schedule(self, dt: float) -> tuple[int, float]:
        """``(micro steps, micro step)`` for one macro step ``dt``.

        ``micro_steps`` and ``micro_dt`` both given: that many steps of that size
        whatever ``dt`` is (micro time ``micro_steps * micro_dt`` per macro step: the
        seamless time-scale ratio). Only ``micro_steps``: ``dt / micro_steps``. Otherwise
        steps of at most ``micro_dt`` (default ``lam / 50``) filling ``dt``.
        """
        if self.micro_steps is not None and self.micro_dt is not None:
            return self.micro_steps, self.micro_dt
        if dt <= 0:
            return 0, 0.0
        if self.micro_steps is not None:
            return self.micro_steps, dt / self.micro_steps
        h = self.micro_dt if self.micro_dt is not None else self.lam / 50.0
        n = max(1, int(np.ceil(dt / h - 1e-9)))
        return n, dt / n

    # ---------------------------------------------------------------- sampling
    def _uniforms(self) -> np.ndarray:
        return np.random.default_rng([self.seed, 2**31 - 1]).random((2, self.n_dumbbells))

    def _gaussian_sample(self, u: np.ndarray) -> np.ndarray:
        """Equilibrium Hookean ensemble ``(2, N)`` from uniforms (``|Q|^2 ~ Exp(mean 2)``)."""
        r = np.sqrt(-2.0 * np.log1p(-u[0]))
        return np.stack([r * np.cos(2 * np.pi * u[1]), r * np.sin(2 * np.pi * u[1])])

    def _noise(self, k: int, h: float) -> np.ndarray:
        """Wiener increments ``(2, N)`` of micro step ``k`` (same at every point)."""
        return np.sqrt(h / self.lam) * np.random.default_rng([self.seed, k]).standard_normal(
            (2, self.n_dumbbells)
        )

    @staticmethod
    def _drift_lin(L: np.ndarray, Q: np.ndarray) -> np.ndarray:
        return np.einsum("ijp,jnp->inp", L, Q)

    def _hookean_step(self, Q, L, h, dW):
        a = self._drift_lin(L, Q) - Q / (2 * self.lam)
        Qp = Q + a * h + dW[:, :, None]
        ap = self._drift_lin(L, Qp) - Qp / (2 * self.lam)
        return Q + 0.5 * (a + ap) * h + dW[:, :, None]

    @staticmethod
    def _stats(xx: np.ndarray, xy: np.ndarray, yy: np.ndarray):
        """Kramers averages ``(2, 2, n)`` and standard errors of ``xy``, ``xx - yy``.

        From the per-dumbbell terms ``Q_i F_j`` ``(N, n)``.
        """
        N = xx.shape[0]
        mean = np.stack([np.stack([xx.mean(0), xy.mean(0)]), np.stack([xy.mean(0), yy.mean(0)])])
        se = np.sqrt(N)
        return mean, xy.std(axis=0, ddof=1) / se, (xx - yy).std(axis=0, ddof=1) / se

    def _kramers(self, Q: np.ndarray, b: float):
        """Means and standard errors of ``Q F(Q)`` (``b <= 0``: Hookean)."""
        if self.backend == "numba":
            n = Q.shape[2]
            mean, se = np.empty((3, n)), np.empty((2, n))
            kernels.kramers(np.ascontiguousarray(Q), b, mean, se)
            M = np.stack([np.stack([mean[0], mean[1]]), np.stack([mean[1], mean[2]])])
            return M, se[0], se[1]
        s = 1.0 if b <= 0 else 1.0 / (1.0 - (Q * Q).sum(axis=0) / b)
        return self._stats(s * Q[0] * Q[0], s * Q[0] * Q[1], s * Q[1] * Q[1])


class HookeanDumbbells(_Dumbbells):
    """Hookean dumbbells by Brownian dynamics; the exact closure is :class:`OldroydB`.

    Parameters
    ----------
    n_dumbbells : int
        Ensemble size per point.
    lam : float
        Relaxation time (s).
    eta_p : float
        Polymer viscosity ``n k T lam`` (Pa s).
    seed : int
        Seed of the (point-shared) noise.
    eta_s : float
        Solvent viscosity added as ``2 eta_s D`` (Pa s).
    micro_dt, micro_steps
        Micro time stepping, see :meth:`schedule`.
    backend : {"numba", "numpy"}
        Compiled kernels (:mod:`fe2.fluids.kernels`) or the numpy reference steps.
    """

    def __init__(self, n_dumbbells: int, lam: float, eta_p: float, seed: int = 0,
                 eta_s: float = 0.0, micro_dt: float | None = None,
                 micro_steps: int | None = None, backend: str = "numba"):
        super().__init__(n_dumbbells, lam, eta_p, seed, eta_s, micro_dt, micro_steps, backend)

    @property
    def zero_shear_viscosity(self) -> float:
        """``eta_s + eta_p``."""
        return self.eta_s + self.eta_p

    def initial_state(self, pts):
        """Equilibrium ensemble ``Q`` ``(2, N, *pts)`` (the same at every point), step 0."""
        q = self._gaussian_sample(self._uniforms())
        Q = np.broadcast_to(q.reshape((2, self.n_dumbbells) + (1,) * len(pts)),
                            (2, self.n_dumbbells) + tuple(pts)).copy()
        return {"Q": Q, "step": np.zeros(pts)}

    def evaluate(self, g, x=None, state=None, dt=None) -> Response:
        """Advance every point's ensemble by ``dt`` under ``g`` ``(2, 2, *pts)``.

        Returns the stress ``(2, 2, *pts)`` at the end of the step, the advanced state,
        and ``info`` with ``tau_xy_se``, ``n1_se`` (Pa).
        """
        pts = self.check_input(g)
        n = int(np.prod(pts)) if pts else 1
        L = np.asarray(g, float).reshape(2, 2, n)
        if state is None:
            state = self.initial_state(pts)
        Q = np.asarray(state["Q"], float).reshape(2, self.n_dumbbells, n).copy()
        k0 = _common_step(state["step"], type(self).__name__)
        m, h = self.schedule(0.0 if dt is None else float(dt))
        if self.backend == "numba" and m:
            noise = kernels.noise_block(self.seed, k0, m, self.n_dumbbells, np.sqrt(h / self.lam))
            kernels.hookean_steps(Q, np.ascontiguousarray(L), noise, h, self.lam)
        else:
            for k in range(m):
                Q = self._hookean_step(Q, L, h, self._noise(k0 + k, h))
        mean, se_xy, se_n1 = self._kramers(Q, 0.0)
        c = self.eta_p / self.lam
        tau = 2 * self.eta_s * symmetric_part(L) + c * (mean - np.eye(2)[:, :, None])
        return Response(
            flux=tau.reshape((2, 2) + pts),
            state={"Q": Q.reshape((2, self.n_dumbbells) + pts),
                   "step": np.full(pts, float(k0 + m))},
            info={"tau_xy_se": (c * se_xy).reshape(pts), "n1_se": (c * se_n1).reshape(pts)},
        )


def _cubic_length(r: np.ndarray, b: float, c: float) -> np.ndarray:
    """Root ``l`` in ``[0, sqrt(b))`` of ``l (1 + c / (1 - l^2 / b)) = r`` (elementwise).

    Equivalently ``l^3 - r l^2 - b (1 + c) l + b r = 0``, which has one negative root,
    one in ``[0, sqrt(b))`` and one above ``sqrt(b)``; the middle one is taken from the
    trigonometric solution.
    """
    a2, a1, a0 = -r, -b * (1.0 + c), b * r
    p = a1 - a2**2 / 3.0
    q = 2.0 * a2**3 / 27.0 - a2 * a1 / 3.0 + a0
    m = 2.0 * np.sqrt(-p / 3.0)
    arg = np.clip(3.0 * q / (p * m), -1.0, 1.0)
    theta = np.arccos(arg) / 3.0
    roots = np.stack([m * np.cos(theta - 2.0 * np.pi * k / 3.0) for k in range(3)]) - a2 / 3.0
    return np.sort(roots, axis=0)[1]


def _common_step(step, who: str) -> int:
    s = np.asarray(step).ravel()
    if s.size and not np.all(s == s[0]):
        raise ValueError(
            f"{who}: points are at different micro steps ({s.min():.0f}..{s.max():.0f}); "
            "all points of a batch must be advanced together"
        )
    return int(s[0]) if s.size else 0


class FENEDumbbells(_Dumbbells):
    """FENE dumbbells by Brownian dynamics (closure reference: :class:`fe2.fluids.FENEP`).

    Parameters
    ----------
    b : float
        Squared maximum extension in units of ``kT/H`` (> 2).
    n_dumbbells, lam, eta_p, seed, eta_s, micro_dt, micro_steps, backend
        As for :class:`HookeanDumbbells`.
    control_variate : bool
        Subtract a Hookean ensemble driven by the same noise and add back its exact
        Oldroyd-B mean (see the module notes). Doubles the micro cost.
    """

    def __init__(self, b: float, n_dumbbells: int, lam: float, eta_p: float, seed: int = 0,
                 eta_s: float = 0.0, micro_dt: float | None = None,
                 micro_steps: int | None = None, control_variate: bool = False,
                 backend: str = "numba"):
        _positive("FENEDumbbells", b=b)
        if b <= 2:
            raise ValueError(f"FENEDumbbells: b must exceed 2, got {b!r}")
        self.b = float(b)
        self.control_variate = bool(control_variate)
        super().__init__(n_dumbbells, lam, eta_p, seed, eta_s, micro_dt, micro_steps, backend)
        self._closure = OldroydB(0.0, self.eta_p, self.lam)

    @property
    def zero_shear_viscosity(self) -> float:
        """``eta_s + eta_p b / (b + 4)`` (FENE in 2D; exact, from the rest distribution)."""
        return self.eta_s + self.eta_p * self.b / (self.b + 4.0)

    def _fene_sample(self, u: np.ndarray) -> np.ndarray:
        """Rest ensemble: ``|Q|^2 / b ~ Beta(1, b/2 + 1)`` by inversion, uniform angle."""
        s = -np.expm1(np.log1p(-u[0]) / (0.5 * self.b + 1.0))
        r = np.sqrt(self.b * s)
        return np.stack([r * np.cos(2 * np.pi * u[1]), r * np.sin(2 * np.pi * u[1])])

    def initial_state(self, pts):
        """Rest ensembles (FENE ``Q``; with the control variate also Hookean ``QH`` and ``A``)."""
        u = self._uniforms()
        shape = (2, self.n_dumbbells) + tuple(pts)
        ones = (1,) * len(pts)

        def spread(q):
            return np.broadcast_to(q.reshape((2, self.n_dumbbells) + ones), shape).copy()

        st = {"Q": spread(self._fene_sample(u)), "step": np.zeros(pts)}
        if self.control_variate:
            st["QH"] = spread(self._gaussian_sample(u))
            st.update(self._closure.initial_state(pts))
        return st

    def _force(self, Q: np.ndarray) -> np.ndarray:
        return Q / (1.0 - (Q * Q).sum(axis=0) / self.b)

    def _clip(self, Q: np.ndarray) -> np.ndarray:
        """Pull ``|Q|^2`` back inside the ball in place; clipped dumbbells per point ``(n,)``."""
        q2 = (Q * Q).sum(axis=0)
        lim = (1.0 - 1e-6) * self.b
        bad = q2 >= lim
        if bad.any():
            Q[:, bad] *= np.sqrt(lim / q2[bad])
        return bad.sum(axis=0)

    def _fene_step(self, Q, L, h, dW):
        """Öttinger's semi-implicit predictor–corrector (numpy reference).

        The spring force is implicit in the corrector, whose length equation is a cubic
        with one root in ``[0, sqrt(b))``.
        """
        dWp = dW[:, :, None]
        LQ = self._drift_lin(L, Q)
        Qp = Q + (LQ - self._force(Q) / (2 * self.lam)) * h + dWp
        R = Q + 0.5 * (LQ + self._drift_lin(L, Qp)) * h - h / (4 * self.lam) * self._force(Q) + dWp
        r = np.sqrt((R * R).sum(axis=0))
        length = _cubic_length(r, self.b, h / (4 * self.lam))
        Qn = R * (length / np.where(r > 0, r, 1.0))
        return Qn, self._clip(Qn)

    def evaluate(self, g, x=None, state=None, dt=None) -> Response:
        """As :meth:`HookeanDumbbells.evaluate`; ``info["clipped"]`` counts clipped steps."""
        pts = self.check_input(g)
        n = int(np.prod(pts)) if pts else 1
        L = np.asarray(g, float).reshape(2, 2, n)
        if state is None:
            state = self.initial_state(pts)
        N = self.n_dumbbells
        Q = np.asarray(state["Q"], float).reshape(2, N, n).copy()
        cv = self.control_variate
        if cv:
            QH = np.asarray(state["QH"], float).reshape(2, N, n).copy()
        k0 = _common_step(state["step"], type(self).__name__)
        dtf = 0.0 if dt is None else float(dt)
        m, h = self.schedule(dtf)
        clipped = np.zeros(n)
        if self.backend == "numba" and m:
            noise = kernels.noise_block(self.seed, k0, m, N, np.sqrt(h / self.lam))
            Lc = np.ascontiguousarray(L)
            kernels.fene_steps(Q, Lc, noise, h, self.lam, self.b, clipped)
            if cv:
                kernels.hookean_steps(QH, Lc, noise, h, self.lam)
        else:
            for k in range(m):
                dW = self._noise(k0 + k, h)
                Q, c = self._fene_step(Q, L, h, dW)
                clipped += c
                if cv:
                    QH = self._hookean_step(QH, L, h, dW)
        new = {"Q": Q.reshape((2, N) + pts), "step": np.full(pts, float(k0 + m))}
        if cv:
            s_ = 1.0 / (1.0 - (Q * Q).sum(axis=0) / self.b)
            mean, se_xy, se_n1 = self._stats(
                s_ * Q[0] * Q[0] - QH[0] * QH[0], s_ * Q[0] * Q[1] - QH[0] * QH[1],
                s_ * Q[1] * Q[1] - QH[1] * QH[1],
            )
            A = self._closure._advance(np.asarray(state["A"], float).reshape(3, n), L, m * h)
            new["QH"] = QH.reshape((2, N) + pts)
            new["A"] = A.reshape((3,) + pts)
        else:
            mean, se_xy, se_n1 = self._kramers(Q, self.b)
        c = self.eta_p / self.lam
        if cv:
            tau_p = c * mean + self._closure.polymer_stress(A)
        else:
            tau_p = c * (mean - np.eye(2)[:, :, None])
        tau = 2 * self.eta_s * symmetric_part(L) + tau_p
        return Response(
            flux=tau.reshape((2, 2) + pts), state=new,
            info={"tau_xy_se": (c * se_xy).reshape(pts), "n1_se": (c * se_n1).reshape(pts),
                  "clipped": clipped.reshape(pts)},
        )
