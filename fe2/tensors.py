"""Tensor helpers: Voigt/Mandel maps, identity tensors, invariants.

All arrays follow one layout: tensor indices first, point axes last, e.g. a
stress field is ``(d, d, *pts)`` and a tangent ``(d, d, d, d, *pts)`` where
``pts`` is scikit-fem's ``(n_elements, n_qp)`` or any other point shape.
``det``, ``inv``, ``trace``, ``ddot`` and ``transpose`` are scikit-fem's
(:mod:`skfem.helpers`, same layout), re-exported here; the Voigt/Mandel maps and
the isotropic constants are fe2's.
"""

from __future__ import annotations

import numpy as np
from skfem.helpers import ddot, det, eye, inv, trace, transpose

__all__ = [
    "voigt_pairs",
    "identity2",
    "identity4_sym",
    "identity4",
    "sym",
    "trace",
    "dev",
    "det",
    "inv",
    "ddot",
    "transpose",
    "to_voigt",
    "from_voigt",
    "to_mandel",
    "from_mandel",
    "tensor4_to_voigt",
    "voigt_to_tensor4",
    "tensor4_to_mandel",
    "mandel_to_tensor4",
    "isotropic_stiffness",
    "lame",
    "plane_stress_lame",
    "quadratic_form",
]


def voigt_pairs(d: int) -> list[tuple[int, int]]:
    """Index pairs of the Voigt order: 11, 22, 33, 23, 13, 12 in 3D and 11, 22, 12 in 2D."""
    if d == 2:
        return [(0, 0), (1, 1), (0, 1)]
    if d == 3:
        return [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    raise ValueError(f"dimension must be 2 or 3, got {d}")


def identity2(d: int) -> np.ndarray:
    """Second-order identity, shape ``(d, d)``."""
    return np.eye(d)


def identity4(d: int) -> np.ndarray:
    """Fourth-order identity ``I_ijkl = delta_ik delta_jl``, shape ``(d, d, d, d)``."""
    eye = np.eye(d)
    return np.einsum("ik,jl->ijkl", eye, eye)


def identity4_sym(d: int) -> np.ndarray:
    """Symmetric fourth-order identity ``(delta_ik delta_jl + delta_il delta_jk) / 2``."""
    eye = np.eye(d)
    return 0.5 * (np.einsum("ik,jl->ijkl", eye, eye) + np.einsum("il,jk->ijkl", eye, eye))


def sym(a: np.ndarray) -> np.ndarray:
    """Symmetric part of a second-order field ``(d, d, *pts)``."""
    return 0.5 * (a + transpose(a))


def dev(a: np.ndarray) -> np.ndarray:
    """Deviatoric part of ``(d, d, *pts)`` (with respect to the d-dimensional trace)."""
    return a - eye(trace(a) / a.shape[0], a.shape[0])


def _voigt_weights(d: int, kind: str) -> np.ndarray:
    pairs = voigt_pairs(d)
    w = np.ones(len(pairs))
    for n, (i, j) in enumerate(pairs):
        if i != j:
            w[n] = {"stress": 1.0, "strain": 2.0, "mandel": np.sqrt(2.0)}[kind]
    return w


def to_voigt(a: np.ndarray, kind: str = "stress") -> np.ndarray:
    """Symmetric ``(d, d, *pts)`` to Voigt ``(n, *pts)``; ``kind='strain'`` doubles shears."""
    d = a.shape[0]
    w = _voigt_weights(d, kind).reshape((-1,) + (1,) * (a.ndim - 2))
    return np.stack([a[i, j] for i, j in voigt_pairs(d)]) * w


def from_voigt(v: np.ndarray, kind: str = "stress") -> np.ndarray:
    """Voigt ``(n, *pts)`` to symmetric ``(d, d, *pts)``; inverse of :func:`to_voigt`."""
    n = v.shape[0]
    d = {3: 2, 6: 3}.get(n)
    if d is None:
        raise ValueError(f"Voigt vector must have 3 or 6 rows, got {n}")
    w = _voigt_weights(d, kind).reshape((-1,) + (1,) * (v.ndim - 1))
    v = v / w
    out = np.empty((d, d) + v.shape[1:], dtype=v.dtype)
    for n_, (i, j) in enumerate(voigt_pairs(d)):
        out[i, j] = v[n_]
        out[j, i] = v[n_]
    return out


def to_mandel(a: np.ndarray) -> np.ndarray:
    """Symmetric ``(d, d, *pts)`` to Mandel ``(n, *pts)`` (shears times sqrt 2)."""
    return to_voigt(a, "mandel")


def from_mandel(v: np.ndarray) -> np.ndarray:
    """Mandel ``(n, *pts)`` to symmetric ``(d, d, *pts)``."""
    return from_voigt(v, "mandel")


def tensor4_to_voigt(c: np.ndarray) -> np.ndarray:
    """Minor-symmetric ``(d, d, d, d, *pts)`` to the Voigt matrix ``(n, n, *pts)`` (no weights)."""
    d = c.shape[0]
    pairs = voigt_pairs(d)
    return np.array([[c[i, j, k, l] for (k, l) in pairs] for (i, j) in pairs])


def voigt_to_tensor4(m: np.ndarray) -> np.ndarray:
    """Voigt matrix ``(n, n, *pts)`` to the minor-symmetric ``(d, d, d, d, *pts)``."""
    n = m.shape[0]
    d = {3: 2, 6: 3}.get(n)
    if d is None or m.shape[1] != n:
        raise ValueError(f"Voigt matrix must be 3x3 or 6x6, got {m.shape[:2]}")
    pairs = voigt_pairs(d)
    out = np.empty((d, d, d, d) + m.shape[2:], dtype=m.dtype)
    for a, (i, j) in enumerate(pairs):
        for b, (k, l) in enumerate(pairs):
            for ii, jj in {(i, j), (j, i)}:
                for kk, ll in {(k, l), (l, k)}:
                    out[ii, jj, kk, ll] = m[a, b]
    return out


def tensor4_to_mandel(c: np.ndarray) -> np.ndarray:
    """Minor-symmetric ``(d, d, d, d, *pts)`` to the Mandel matrix ``(n, n, *pts)``."""
    d = c.shape[0]
    w = _voigt_weights(d, "mandel").reshape((-1,) + (1,) * (c.ndim - 4))
    m = tensor4_to_voigt(c)
    return m * w[:, None] * w[None, :]


def mandel_to_tensor4(m: np.ndarray) -> np.ndarray:
    """Mandel matrix ``(n, n, *pts)`` to the minor-symmetric tensor ``(d, d, d, d, *pts)``."""
    n = m.shape[0]
    d = {3: 2, 6: 3}[n]
    w = _voigt_weights(d, "mandel").reshape((-1,) + (1,) * (m.ndim - 2))
    return voigt_to_tensor4(m / (w[:, None] * w[None, :]))


def lame(E: float, nu: float) -> tuple[float, float]:
    """Lamé constants ``(lambda, mu)`` from Young's modulus and Poisson's ratio.

    Valid in 3D and plane strain.
    """
    return E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), E / (2.0 * (1.0 + nu))


def plane_stress_lame(E: float, nu: float) -> tuple[float, float]:
    """Effective 2D Lamé constants for plane stress: ``lambda* = 2 lambda mu / (lambda + 2 mu)``."""
    lam, mu = lame(E, nu)
    return 2.0 * lam * mu / (lam + 2.0 * mu), mu


def isotropic_stiffness(lam: float, mu: float, d: int) -> np.ndarray:
    """Isotropic stiffness ``lambda I x I + 2 mu I_sym``, shape ``(d, d, d, d)``."""
    eye = np.eye(d)
    return lam * np.einsum("ij,kl->ijkl", eye, eye) + 2.0 * mu * identity4_sym(d)


def quadratic_form(c: np.ndarray, e: np.ndarray) -> float:
    """``e : C : e`` for a tensor of order 2 (``e`` a vector) or order 4 (``e`` a matrix)."""
    if c.ndim == 2:
        return float(e @ c @ e)
    return float(np.einsum("ij,ijkl,kl->", e, c, e))
