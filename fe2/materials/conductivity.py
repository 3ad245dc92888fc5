"""Heat conduction (or any scalar diffusion): linear and power-law conductivities.

Measure ``"gradient"``: the input is ``g = grad u`` of shape ``(d, *pts)``, the
flux ``q = K(g) g`` of shape ``(d, *pts)`` with the sign convention of
:mod:`fe2.oracle` (the macro problem solves ``-div q = f``), and the tangent
``dq_i/dg_j`` of shape ``(d, d, *pts)``.
"""

from __future__ import annotations

import numba
import numpy as np

from fe2.materials import common as c
from fe2.oracle import OracleBase, Response

__all__ = ["LinearConductivity", "NonlinearConductivity"]


class LinearConductivity(OracleBase):
    """Linear (Fourier) conduction ``q = K g``.

    Parameters
    ----------
    k : float or array_like (d, d)
        Conductivity [W/(m K)]: a positive scalar (isotropic, ``K = k I``) or a
        symmetric positive definite tensor.
    dim : int, optional
        Space dimension (1, 2 or 3) for a scalar ``k`` (default 2); for a
        tensor it must match ``k.shape`` when given.

    Notes
    -----
    ``evaluate(g)`` with ``g = grad u`` [K/m] of shape ``(d, *pts)`` returns
    ``flux = K g`` [W/m^2] of shape ``(d, *pts)`` and ``tangent = K`` broadcast
    to ``(d, d, *pts)`` (a read-only view). No history.

    Attributes
    ----------
    K : ndarray (d, d)
        Conductivity tensor.
    """

    measure = "gradient"

    def __init__(self, k: float | np.ndarray, dim: int | None = None):
        name = type(self).__name__
        ka = np.asarray(k, dtype=float) if not isinstance(k, str) else None
        if ka is None or ka.ndim == 0:
            kk = c.positive(name, "conductivity", "k", k)
            self.dim = c.dimension(name, 2 if dim is None else dim, (1, 2, 3))
            self.K = kk * np.eye(self.dim)
            return
        if ka.ndim != 2 or ka.shape[0] != ka.shape[1] or ka.shape[0] not in (1, 2, 3):
            raise ValueError(
                f"{name}: conductivity tensor k must be a scalar or a square (d, d) array "
                f"with d in 1..3, got shape {ka.shape}"
            )
        if dim is not None and c.dimension(name, dim, (1, 2, 3)) != ka.shape[0]:
            raise ValueError(f"{name}: conductivity tensor k has shape {ka.shape} but dim={dim!r}")
        if not np.all(np.isfinite(ka)):
            raise ValueError(f"{name}: conductivity tensor k must be finite, got {ka.tolist()}")
        scale = float(np.abs(ka).max())
        eig = np.linalg.eigvalsh(0.5 * (ka + ka.T))
        if not np.allclose(ka, ka.T, rtol=0.0, atol=1e-12 * scale) or not eig.min() > 0.0:
            raise ValueError(
                f"{name}: conductivity tensor k must be symmetric positive definite, got "
                f"{ka.tolist()} (eigenvalues of the symmetric part {eig.tolist()})"
            )
        self.dim = int(ka.shape[0])
        self.K = 0.5 * (ka + ka.T)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(k={self.K.tolist()})"

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: dict | None = None
    ) -> Response:
        """Flux ``K g`` ``(d, *pts)`` and tangent ``K`` ``(d, d, *pts)`` at ``g (d, *pts)``."""
        pts = self.check_input(g)
        g = np.asarray(g, dtype=float)
        d = self.dim
        flux = np.einsum("ij,j...->i...", self.K, g)
        tangent = np.broadcast_to(self.K.reshape((d, d) + (1,) * len(pts)), (d, d) + pts)
        return Response(flux=flux, tangent=tangent)


class NonlinearConductivity(OracleBase):
    """Power-law (p-Laplacian type) conduction ``q = k(|g|) g``.

    ``k(|g|) = k0 (reg^2 + |g|^2)^((p - 2) / 2)``, so ``q ~ k0 |g|^(p-2) g``
    for ``|g| >> reg``; ``p = 2`` is linear conduction with ``k = k0``.

    Parameters
    ----------
    k0 : float
        Conductivity scale [W/(m K) (m/K)^(p-2)], > 0.
    p : float
        Power-law exponent, > 1 (p < 2 shear-thinning-like, p > 2 thickening).
    dim : int
        Space dimension, 1, 2 or 3 (default 2).
    reg : float
        Regularisation of ``|g|`` [K/m], >= 0 and > 0 when ``p < 2`` (default
        1e-6): keeps ``k`` finite at ``g = 0``.
    backend : {"numba", "numpy"}
        Per-point numba kernel (default) or the vectorised numpy reference.

    Notes
    -----
    With ``s = reg^2 + |g|^2`` the exact tangent is, shape ``(d, d, *pts)``::

        dq_i/dg_j = k (delta_ij + (p - 2) g_i g_j / s),

    symmetric positive definite for ``p > 1`` (eigenvalues ``k`` and
    ``k (reg^2 + (p - 1)|g|^2) / s``). Shapes: ``g`` and ``flux`` ``(d, *pts)``.
    ``info["conductivity"]`` holds ``k`` ``(*pts)``. No history.
    """

    measure = "gradient"

    def __init__(
        self,
        k0: float,
        p: float,
        dim: int = 2,
        reg: float = 1e-6,
        backend: str = "numba",
    ):
        name = type(self).__name__
        self.k0 = c.positive(name, "conductivity scale", "k0", k0)
        self.p = c.real(name, "power-law exponent", "p", p)
        if not self.p > 1.0:
            raise ValueError(f"{name}: power-law exponent p must be > 1, got {p!r}")
        self.reg = c.non_negative(name, "regularisation", "reg", reg)
        if self.p < 2.0 and self.reg == 0.0:
            raise ValueError(
                f"{name}: regularisation reg must be > 0 when p < 2 (p={self.p}), got {reg!r}"
            )
        self.dim = c.dimension(name, dim, (1, 2, 3))
        self.backend = c.backend(name, backend)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(k0={self.k0!r}, p={self.p!r}, dim={self.dim}, "
            f"reg={self.reg!r}, backend={self.backend!r})"
        )

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: dict | None = None
    ) -> Response:
        """Flux ``(d, *pts)``, tangent ``(d, d, *pts)`` and ``info["conductivity"]``."""
        pts = self.check_input(g)
        g = np.asarray(g, dtype=float)
        if self.backend == "numba":
            gf = c.points_first(g, 1)
            n, d = gf.shape
            q = np.empty((n, d))
            a = np.empty((n, d, d))
            k = np.empty(n)
            _power_law_kernel(gf, self.k0, self.p, self.reg, q, a, k)
            return Response(
                flux=c.points_last(q, pts),
                tangent=c.points_last(a, pts),
                info={"conductivity": k.reshape(pts)},
            )
        return self._evaluate_numpy(g, pts)

    def _evaluate_numpy(self, g: np.ndarray, pts: tuple[int, ...]) -> Response:
        d = self.dim
        s = self.reg**2 + np.einsum("i...,i...->...", g, g)
        k = self.k0 * s ** (0.5 * (self.p - 2.0))
        flux = k * g
        gg = np.einsum("i...,j...->ij...", g, g)
        ratio = np.divide(gg, s, out=np.zeros_like(gg), where=s > 0.0)
        tangent = k * (c.eye_like(d, len(pts)) + (self.p - 2.0) * ratio)
        return Response(flux=flux, tangent=tangent, info={"conductivity": np.asarray(k)})


@numba.njit(cache=True)
def _power_law_kernel(g, k0, p, reg, q, a, k):  # pragma: no cover - compiled
    """Per-point power law; ``g (n, d)`` -> ``q (n, d)``, ``a (n, d, d)``, ``k (n,)``."""
    n, d = g.shape
    for m in range(n):
        s = reg * reg
        for i in range(d):
            s += g[m, i] * g[m, i]
        km = k0 * s ** (0.5 * (p - 2.0))
        k[m] = km
        inv_s = 1.0 / s if s > 0.0 else 0.0
        for i in range(d):
            q[m, i] = km * g[m, i]
            for j in range(d):
                a[m, i, j] = km * (p - 2.0) * g[m, i] * g[m, j] * inv_s
            a[m, i, i] += km
