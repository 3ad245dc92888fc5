"""A series laminate of power-law conductors: a small micro model with an exact effective law.

Layers of volume fractions ``f_i`` and power-law phases ``q = K_i |g|^(n-1) g`` (``n > 0``;
``n = p - 1`` of :class:`fe2.materials.NonlinearConductivity` with ``reg = 0``) stacked
normal to the gradient. Flux continuity gives the same ``q`` in every layer, so
``g_i = sign(q) (|q| / K_i)^(1/n)`` and the mean gradient ``G = sum f_i g_i`` gives the
exact effective law::

    q = K_eff |G|^(n-1) G,   K_eff = (sum_i f_i K_i^(-1/n))^(-n),

with tangent ``dq/dG = n K_eff |G|^(n-1)``. :class:`SeriesLaminate` does not use it: it
solves flux continuity point by point with Brent's method and differentiates the
converged solution implicitly, so it plays the part of a micro solve whose answer the
closed form :func:`series_power_law` checks.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from ..oracle import OracleBase, Response

__all__ = ["SeriesLaminate", "series_power_law"]


def _check(k, f, n):
    k = np.asarray(k, dtype=float).ravel()
    f = np.asarray(f, dtype=float).ravel()
    if k.shape != f.shape or k.size < 1 or np.any(k <= 0) or np.any(f < 0) \
            or not np.isclose(f.sum(), 1.0):
        raise ValueError(f"SeriesLaminate: need conductivities K_i > 0 and fractions f_i >= 0 "
                         f"summing to 1, of one length; got K={k.tolist()}, f={f.tolist()}")
    if not (np.isfinite(n) and n > 0):
        raise ValueError(f"SeriesLaminate: power-law exponent n must be > 0, got {n!r}")
    return k, f, float(n)


def series_power_law(G: np.ndarray, k, f, n: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact flux ``q`` and tangent ``dq/dG`` of the laminate at mean gradients ``G`` (any shape).

    Parameters as :class:`SeriesLaminate`; ``G`` in K/m, ``q`` in W/m^2.
    """
    k, f, n = _check(k, f, n)
    keff = np.sum(f * k ** (-1.0 / n)) ** (-n)
    G = np.asarray(G, dtype=float)
    a = np.abs(G)
    return keff * a ** (n - 1.0) * G, n * keff * a ** (n - 1.0)


class SeriesLaminate(OracleBase):
    """Oracle (measure ``gradient``, ``dim = 1``) of the series power-law laminate.

    Parameters
    ----------
    k : array_like (N,)
        Phase coefficients ``K_i`` > 0 [W/(m K) (m/K)^(n-1)].
    f : array_like (N,)
        Volume fractions, summing to 1.
    n : float
        Power-law exponent ``n > 0`` (``n = 1``: linear conductors).

    Notes
    -----
    ``evaluate(g)`` takes ``g (1, *pts)`` and returns flux ``(1, *pts)`` and tangent
    ``(1, 1, *pts)`` from a numerical solve of flux continuity (Brent, relative tolerance
    1e-14); ``info["iterations"]`` holds Brent's function evaluations. No history.
    """

    measure = "gradient"
    dim = 1

    def __init__(self, k, f, n: float):
        self.k, self.f, self.n = _check(k, f, n)

    def __repr__(self) -> str:
        return f"SeriesLaminate(k={self.k.tolist()}, f={self.f.tolist()}, n={self.n})"

    def _mean_gradient(self, q: float) -> float:
        return float(np.sum(self.f * np.sign(q) * (abs(q) / self.k) ** (1.0 / self.n)))

    def evaluate(self, g: np.ndarray, x: np.ndarray | None = None,
                 state: dict | None = None) -> Response:
        """Flux ``(1, *pts)``, tangent ``(1, 1, *pts)`` by a per-point solve."""
        pts = self.check_input(g)
        G = np.asarray(g, dtype=float).reshape(-1)
        q = np.zeros_like(G)
        dq = np.zeros_like(G)
        its = np.zeros(G.size, dtype=int)
        kmax = self.k.max()
        for i, Gi in enumerate(G):
            if Gi == 0.0:
                dq[i] = 0.0 if self.n > 1 else (1.0 / np.sum(self.f / self.k) if self.n == 1
                                                 else np.inf)
                continue
            hi = kmax * abs(Gi) ** self.n * (1 + 1e-12)  # |q| <= K_max |G|^n
            qa, r = brentq(lambda s, Gi=Gi: self._mean_gradient(s) - Gi,
                           0.0, np.sign(Gi) * hi, xtol=1e-300, rtol=1e-14,
                           full_output=True)
            q[i], its[i] = qa, r.function_calls
            # implicit differentiation: dG/dq = sum f_i (1/n) |q|^(1/n - 1) K_i^(-1/n)
            dGdq = np.sum(self.f / self.n * abs(qa) ** (1.0 / self.n - 1.0)
                          * self.k ** (-1.0 / self.n))
            dq[i] = 1.0 / dGdq
        return Response(flux=q.reshape((1,) + pts), tangent=dq.reshape((1, 1) + pts),
                        info={"iterations": its.reshape(pts)})
