"""Finite-strain hyperelasticity: Saint Venant–Kirchhoff and compressible neo-Hookean.

Measure ``"deformation_gradient"``: the input is ``F`` of shape
``(d, d, *pts)`` (``F_iJ``, spatial index first), the flux the first
Piola–Kirchhoff stress ``P_iJ`` ``(d, d, *pts)`` [units of ``E``] and the
tangent ``A_iJkL = dP_iJ / dF_kL`` ``(d, d, d, d, *pts)``. ``dim = 2`` is plane
strain (``F_33 = 1``, ``F_i3 = F_3i = 0``) with the same formulas in two
dimensions. The Lamé constants come from ``E`` and ``nu`` as in 3D, so both
laws linearise at ``F = I`` to :class:`fe2.materials.LinearElastic`.
"""

from __future__ import annotations

import numba
import numpy as np

from fe2.materials import common as c
from fe2.oracle import OracleBase, OracleError, Response
from fe2.tensors import det, inv, lame

__all__ = ["SaintVenantKirchhoff", "NeoHookean"]


class _Hyperelastic(OracleBase):
    """Common constructor of the isotropic hyperelastic laws."""

    measure = "deformation_gradient"

    def __init__(self, E: float, nu: float, dim: int = 3, backend: str = "numba"):
        name = type(self).__name__
        self.E, self.nu = c.young_poisson(name, E, nu)
        self.dim = c.dimension(name, dim)
        self.backend = c.backend(name, backend)
        lam, mu = lame(self.E, self.nu)
        self.lam, self.mu = float(lam), float(mu)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(E={self.E!r}, nu={self.nu!r}, dim={self.dim}, "
            f"backend={self.backend!r})"
        )

    def _run_kernel(self, kernel, F: np.ndarray, pts: tuple[int, ...]):
        """Adapter: ``F (d, d, *pts)`` -> kernel on ``(n, d, d)`` -> ``P``, ``A``, extra."""
        Ff = c.points_first(F, 2)
        n, d, _ = Ff.shape
        P = np.empty((n, d, d))
        A = np.empty((n, d, d, d, d))
        extra = np.empty(n)
        kernel(Ff, self.lam, self.mu, P, A, extra)
        return c.points_last(P, pts), c.points_last(A, pts), extra.reshape(pts)


class SaintVenantKirchhoff(_Hyperelastic):
    """Saint Venant–Kirchhoff: Hooke's law between Green–Lagrange strain and PK2 stress.

    Parameters
    ----------
    E : float
        Young's modulus [Pa], > 0.
    nu : float
        Poisson's ratio, in (-1, 0.5).
    dim : int
        3, or 2 for plane strain.
    backend : {"numba", "numpy"}
        Per-point numba kernel (default) or the vectorised numpy reference.

    Notes
    -----
    With ``E = (F^T F - I) / 2`` and ``S = lam tr(E) I + 2 mu E``::

        W = lam / 2 tr(E)^2 + mu E : E
        P = F S
        A_iJkL = d_ik S_JL + lam F_iJ F_kL + mu ((F F^T)_ik d_JL + F_iL F_kJ)

    Shapes: ``F``, ``P`` ``(d, d, *pts)``, ``A`` ``(d, d, d, d, *pts)``,
    ``W`` ``(*pts)`` [energy per reference volume, units of ``E``]. The law is
    not polyconvex and loses ellipticity in strong compression. No history.
    """

    def energy(self, F: np.ndarray) -> np.ndarray:
        """Strain energy per reference volume ``W`` ``(*pts)`` at ``F`` ``(d, d, *pts)``."""
        self.check_input(F)
        F = np.asarray(F, dtype=float)
        Egl = self._green_lagrange(F)
        trE = np.einsum("ii...->...", Egl)
        return 0.5 * self.lam * trE**2 + self.mu * np.einsum("ij...,ij...->...", Egl, Egl)

    def _green_lagrange(self, F: np.ndarray) -> np.ndarray:
        C = np.einsum("kI...,kJ...->IJ...", F, F)
        return 0.5 * (C - c.eye_like(self.dim, F.ndim - 2))

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: dict | None = None
    ) -> Response:
        """PK1 stress ``(d, d, *pts)`` and tangent ``(d, d, d, d, *pts)`` at ``F (d, d, *pts)``."""
        pts = self.check_input(g)
        F = np.asarray(g, dtype=float)
        if self.backend == "numba":
            P, A, _ = self._run_kernel(_svk_kernel, F, pts)
            return Response(flux=P, tangent=A)
        d = self.dim
        eye = np.eye(d)
        Egl = self._green_lagrange(F)
        S = self.lam * np.einsum("ii...->...", Egl) * c.eye_like(d, len(pts)) + 2.0 * self.mu * Egl
        P = np.einsum("iK...,KJ...->iJ...", F, S)
        FFt = np.einsum("iM...,kM...->ik...", F, F)
        A = (
            np.einsum("ik,JL...->iJkL...", eye, S)
            + self.lam * np.einsum("iJ...,kL...->iJkL...", F, F)
            + self.mu * np.einsum("ik...,JL->iJkL...", FFt, eye)
            + self.mu * np.einsum("iL...,kJ...->iJkL...", F, F)
        )
        return Response(flux=P, tangent=A)


class NeoHookean(_Hyperelastic):
    """Compressible neo-Hookean solid.

    Parameters
    ----------
    E : float
        Young's modulus [Pa], > 0 (small-strain limit).
    nu : float
        Poisson's ratio, in (-1, 0.5).
    dim : int
        3, or 2 for plane strain (``F_33 = 1``: the same formulas with ``d = 2``).
    backend : {"numba", "numpy"}
        Per-point numba kernel (default) or the vectorised numpy reference.

    Notes
    -----
    With ``J = det F`` and ``F^-T`` the inverse transpose::

        W = mu / 2 (tr(F^T F) - d) - mu ln J + lam / 2 (ln J)^2
        P = mu (F - F^-T) + lam ln J F^-T
        A_iJkL = mu d_ik d_JL + (mu - lam ln J) F^-1_Jk F^-1_Li + lam F^-1_Ji F^-1_Lk

    Shapes: ``F``, ``P`` ``(d, d, *pts)``, ``A`` ``(d, d, d, d, *pts)``,
    ``W`` ``(*pts)`` [energy per reference volume, units of ``E``];
    ``info["J"]`` holds ``J`` ``(*pts)``. No history.

    Raises
    ------
    OracleError
        When ``J <= 0`` at any point (the message gives the number of such
        points, the first point index and its ``J``), so that a macro solver
        can cut back its load step.
    """

    def _check_J(self, J: np.ndarray, pts: tuple[int, ...]) -> None:
        bad = ~(J > 0.0)
        if np.any(bad):
            flat = int(np.argmax(bad.ravel()))
            first = tuple(int(i) for i in np.unravel_index(flat, pts)) if pts else ()
            raise OracleError(
                f"{type(self).__name__}: non-positive J = det F at {int(bad.sum())} of "
                f"{int(bad.size)} points, first at point index {first} with "
                f"J = {float(J.ravel()[flat]):.6g}; expected J > 0"
            )

    def energy(self, F: np.ndarray) -> np.ndarray:
        """Strain energy per reference volume ``W`` ``(*pts)`` at ``F`` ``(d, d, *pts)``."""
        pts = self.check_input(F)
        F = np.asarray(F, dtype=float)
        J = det(F)
        self._check_J(J, pts)
        lnJ = np.log(J)
        trC = np.einsum("kI...,kI...->...", F, F)
        return 0.5 * self.mu * (trC - self.dim) - self.mu * lnJ + 0.5 * self.lam * lnJ**2

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: dict | None = None
    ) -> Response:
        """PK1 stress ``(d, d, *pts)``, tangent ``(d, d, d, d, *pts)``, ``info["J"]``."""
        pts = self.check_input(g)
        F = np.asarray(g, dtype=float)
        if self.backend == "numba":
            P, A, J = self._run_kernel(_neo_hookean_kernel, F, pts)
            self._check_J(J, pts)
            return Response(flux=P, tangent=A, info={"J": J})
        d = self.dim
        J = det(F)
        self._check_J(J, pts)
        Fi = inv(F)  # Fi[J, i] = F^-1_Ji
        FiT = np.swapaxes(Fi, 0, 1)
        lnJ = np.log(J)
        P = self.mu * (F - FiT) + self.lam * lnJ * FiT
        eye = np.eye(d)
        A = (
            self.mu * np.einsum("ik,JL->iJkL", eye, eye).reshape((d,) * 4 + (1,) * len(pts))
            + (self.mu - self.lam * lnJ) * np.einsum("Jk...,Li...->iJkL...", Fi, Fi)
            + self.lam * np.einsum("Ji...,Lk...->iJkL...", Fi, Fi)
        )
        return Response(flux=P, tangent=A, info={"J": np.asarray(J)})


# ---------------------------------------------------------------- numba kernels


@numba.njit(cache=True)
def _det_inv(F, Fi):  # pragma: no cover - compiled
    """Determinant of a 2x2 or 3x3 ``F``; writes ``F^-1`` into ``Fi`` when it is nonzero."""
    d = F.shape[0]
    if d == 2:
        J = F[0, 0] * F[1, 1] - F[0, 1] * F[1, 0]
        if J != 0.0:
            Fi[0, 0] = F[1, 1] / J
            Fi[0, 1] = -F[0, 1] / J
            Fi[1, 0] = -F[1, 0] / J
            Fi[1, 1] = F[0, 0] / J
        return J
    c00 = F[1, 1] * F[2, 2] - F[1, 2] * F[2, 1]
    c01 = F[1, 2] * F[2, 0] - F[1, 0] * F[2, 2]
    c02 = F[1, 0] * F[2, 1] - F[1, 1] * F[2, 0]
    J = F[0, 0] * c00 + F[0, 1] * c01 + F[0, 2] * c02
    if J != 0.0:
        Fi[0, 0] = c00 / J
        Fi[1, 0] = c01 / J
        Fi[2, 0] = c02 / J
        Fi[0, 1] = (F[0, 2] * F[2, 1] - F[0, 1] * F[2, 2]) / J
        Fi[1, 1] = (F[0, 0] * F[2, 2] - F[0, 2] * F[2, 0]) / J
        Fi[2, 1] = (F[0, 1] * F[2, 0] - F[0, 0] * F[2, 1]) / J
        Fi[0, 2] = (F[0, 1] * F[1, 2] - F[0, 2] * F[1, 1]) / J
        Fi[1, 2] = (F[0, 2] * F[1, 0] - F[0, 0] * F[1, 2]) / J
        Fi[2, 2] = (F[0, 0] * F[1, 1] - F[0, 1] * F[1, 0]) / J
    return J


@numba.njit(cache=True)
def _neo_hookean_kernel(F, lam, mu, P, A, Jout):  # pragma: no cover - compiled
    """Per point: ``F (n, d, d)`` -> ``P (n, d, d)``, ``A (n, d, d, d, d)``, ``J (n,)``.

    Points with ``J <= 0`` get NaN stress and tangent; the caller raises.
    """
    n, d, _ = F.shape
    Fi = np.empty((d, d))
    for m in range(n):
        J = _det_inv(F[m], Fi)
        Jout[m] = J
        if not J > 0.0:
            P[m] = np.nan
            A[m] = np.nan
            continue
        lnJ = np.log(J)
        cc = mu - lam * lnJ
        for i in range(d):
            for jj in range(d):
                P[m, i, jj] = mu * F[m, i, jj] + (lam * lnJ - mu) * Fi[jj, i]
                for k in range(d):
                    for ll in range(d):
                        a = cc * Fi[jj, k] * Fi[ll, i] + lam * Fi[jj, i] * Fi[ll, k]
                        if i == k and jj == ll:
                            a += mu
                        A[m, i, jj, k, ll] = a


@numba.njit(cache=True)
def _svk_kernel(F, lam, mu, P, A, W):  # pragma: no cover - compiled
    """Per point: ``F (n, d, d)`` -> ``P (n, d, d)``, ``A (n, d, d, d, d)``, ``W (n,)``."""
    n, d, _ = F.shape
    E = np.empty((d, d))
    S = np.empty((d, d))
    FFt = np.empty((d, d))
    for m in range(n):
        trE = 0.0
        EE = 0.0
        for a in range(d):
            for b in range(d):
                s = 0.0
                t = 0.0
                for k in range(d):
                    s += F[m, k, a] * F[m, k, b]
                    t += F[m, a, k] * F[m, b, k]
                E[a, b] = 0.5 * s
                FFt[a, b] = t
            E[a, a] -= 0.5
            trE += E[a, a]
        for a in range(d):
            for b in range(d):
                S[a, b] = 2.0 * mu * E[a, b]
                EE += E[a, b] * E[a, b]
            S[a, a] += lam * trE
        W[m] = 0.5 * lam * trE * trE + mu * EE
        for i in range(d):
            for jj in range(d):
                s = 0.0
                for k in range(d):
                    s += F[m, i, k] * S[k, jj]
                P[m, i, jj] = s
                for k in range(d):
                    for ll in range(d):
                        a = lam * F[m, i, jj] * F[m, k, ll] + mu * F[m, i, ll] * F[m, k, jj]
                        if i == k:
                            a += S[jj, ll]
                        if jj == ll:
                            a += mu * FFt[i, k]
                        A[m, i, jj, k, ll] = a
