"""Classical bounds on effective properties: Voigt, Reuss, Hashin–Shtrikman.

* :func:`voigt_bound` / :func:`reuss_bound`: arithmetic / harmonic means of
  scalars, conductivity tensors ``(d, d)`` or stiffness tensors
  ``(d, d, d, d)`` (minor-symmetric; inverted in Mandel form). In the sense of
  quadratic forms ``Voigt >= T_eff >= Reuss`` for any microstructure.
* :func:`hashin_shtrikman`: bounds on the conductivity of an isotropic
  composite of isotropic phases (any number of phases, d = 2 or 3).
* :func:`hashin_shtrikman_elastic`: bounds on the bulk and shear moduli of an
  isotropic composite of isotropic phases (Walpole's form, which is the HS
  pair for well-ordered phases). In 2D the moduli are those of plane strain:
  bulk ``kappa = lambda + mu``, shear ``mu``.
* :func:`isotropic_moduli`: bulk and shear moduli of the isotropic projection
  of a stiffness tensor, to compare an effective tensor with the bounds.

>>> b = hashin_shtrikman([1.0, 10.0], [0.5, 0.5], dim=2)
>>> round(b.lower, 6), round(b.upper, 6)
(2.384615, 4.193548)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fe2.tensors import mandel_to_tensor4, tensor4_to_mandel

__all__ = [
    "Bounds",
    "voigt_bound",
    "reuss_bound",
    "hashin_shtrikman",
    "hashin_shtrikman_elastic",
    "isotropic_moduli",
]


@dataclass(frozen=True)
class Bounds:
    """A lower and an upper bound on a scalar property."""

    lower: float
    upper: float

    def contains(self, value: float, rtol: float = 0.0) -> bool:
        """``lower (1 - rtol) <= value <= upper (1 + rtol)``."""
        return self.lower * (1.0 - rtol) <= value <= self.upper * (1.0 + rtol)

    def to_tuple(self) -> tuple[float, float]:
        """``(lower, upper)``."""
        return (self.lower, self.upper)


def _fractions(fractions: Sequence[float], n: int) -> np.ndarray:
    f = np.asarray(fractions, dtype=float)
    if f.shape != (n,):
        raise ValueError(f"fractions must have one entry per phase ({n}), got shape {f.shape}")
    if np.any(f < 0) or not np.isclose(f.sum(), 1.0, rtol=0, atol=1e-8):
        raise ValueError(f"fractions must be >= 0 and sum to 1, got {f.tolist()}")
    return f


def _values(values, name: str = "values") -> np.ndarray:
    v = np.asarray(values, dtype=float)
    if v.ndim not in (1, 3, 5):
        raise ValueError(
            f"{name} must be a list of scalars, of (d, d) or of (d, d, d, d) tensors, got "
            f"shape {v.shape}"
        )
    return v


def voigt_bound(values, fractions: Sequence[float]):
    """Arithmetic mean ``sum f_i v_i`` of scalars or tensors ``(n_phases, ...)``."""
    v = _values(values)
    f = _fractions(fractions, v.shape[0])
    out = np.tensordot(f, v, axes=1)
    return float(out) if v.ndim == 1 else out


def reuss_bound(values, fractions: Sequence[float]):
    """Harmonic mean ``(sum f_i v_i^-1)^-1`` of scalars, ``(d, d)`` or ``(d, d, d, d)`` tensors."""
    v = _values(values)
    f = _fractions(fractions, v.shape[0])
    if v.ndim == 1:
        return float(1.0 / np.sum(f / v))
    if v.ndim == 3:
        return np.linalg.inv(np.tensordot(f, np.linalg.inv(v), axes=1))
    mandel = np.array([tensor4_to_mandel(c) for c in v])
    return mandel_to_tensor4(np.linalg.inv(np.tensordot(f, np.linalg.inv(mandel), axes=1)))


def _dim(dim: int) -> int:
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return int(dim)


def hashin_shtrikman(
    conductivities: Sequence[float], fractions: Sequence[float], dim: int
) -> Bounds:
    """Hashin–Shtrikman bounds on the conductivity of an isotropic multiphase composite.

    With ``L(k0) = (sum f_i / (k_i + (d-1) k0))^-1 - (d-1) k0`` the bounds are
    ``L(k_min) <= k_eff <= L(k_max)``.

    Parameters
    ----------
    conductivities : sequence of float
        Isotropic phase conductivities, > 0.
    fractions : sequence of float
        Volume fractions (sum 1).
    dim : int
        2 or 3.
    """
    k = np.asarray(conductivities, dtype=float)
    f = _fractions(fractions, k.size)
    d = _dim(dim)
    if np.any(k <= 0):
        raise ValueError(f"conductivities must be > 0, got {k.tolist()}")

    def L(k0: float) -> float:
        return float(1.0 / np.sum(f / (k + (d - 1) * k0)) - (d - 1) * k0)

    return Bounds(L(k.min()), L(k.max()))


def hashin_shtrikman_elastic(
    bulk: Sequence[float], shear: Sequence[float], fractions: Sequence[float], dim: int
) -> tuple[Bounds, Bounds]:
    """Hashin–Shtrikman (Walpole) bounds on the bulk and shear moduli of an isotropic composite.

    Parameters
    ----------
    bulk, shear : sequence of float
        Phase bulk moduli (3D ``lambda + 2 mu / 3``; 2D plane strain
        ``lambda + mu``) and shear moduli ``mu``.
    fractions : sequence of float
        Volume fractions (sum 1).
    dim : int
        2 (plane strain) or 3.

    Returns
    -------
    (Bounds, Bounds)
        Bulk and shear bounds. With ``a = 4/3`` (3D) or 1 (2D)::

            K(mu0) = (sum f_i / (K_i + a mu0))^-1 - a mu0
            G(z) = (sum f_i / (mu_i + z))^-1 - z,
            z = mu0 (9 K0 + 8 mu0) / (6 (K0 + 2 mu0))   (3D)
            z = mu0 K0 / (K0 + 2 mu0)                    (2D)

        lower bounds at the minimum moduli, upper at the maximum ones.
    """
    K = np.asarray(bulk, dtype=float)
    G = np.asarray(shear, dtype=float)
    if K.shape != G.shape:
        raise ValueError(f"bulk and shear need one value per phase, got {K.shape} and {G.shape}")
    f = _fractions(fractions, K.size)
    d = _dim(dim)
    if np.any(K <= 0) or np.any(G <= 0):
        raise ValueError(f"moduli must be > 0, got bulk {K.tolist()}, shear {G.shape}")
    a = 4.0 / 3.0 if d == 3 else 1.0

    def kb(mu0: float) -> float:
        return float(1.0 / np.sum(f / (K + a * mu0)) - a * mu0)

    def zeta(k0: float, mu0: float) -> float:
        if d == 3:
            return mu0 * (9.0 * k0 + 8.0 * mu0) / (6.0 * (k0 + 2.0 * mu0))
        return mu0 * k0 / (k0 + 2.0 * mu0)

    def gb(z: float) -> float:
        return float(1.0 / np.sum(f / (G + z)) - z)

    return (
        Bounds(kb(G.min()), kb(G.max())),
        Bounds(gb(zeta(K.min(), G.min())), gb(zeta(K.max(), G.max()))),
    )


def isotropic_moduli(C: np.ndarray) -> tuple[float, float]:
    """Bulk and shear moduli of the isotropic projection of a stiffness ``(d, d, d, d)``.

    ``K = 1 : C : 1 / d^2`` and ``mu = C :: J / (d (d + 1) - 2)`` with the
    deviatoric projector ``J = I_sym - 1 x 1 / d``; exact for isotropic ``C``
    (``lambda 1 x 1 + 2 mu I_sym``: ``K = lambda + 2 mu / d``).
    """
    C = np.asarray(C, dtype=float)
    d = C.shape[0]
    if C.shape != (d,) * 4 or d not in (2, 3):
        raise ValueError(f"C must have shape (d, d, d, d) with d = 2 or 3, got {C.shape}")
    eye = np.eye(d)
    bulk = float(np.einsum("iijj->", C)) / d**2
    isym = 0.5 * (np.einsum("ik,jl->ijkl", eye, eye) + np.einsum("il,jk->ijkl", eye, eye))
    J = isym - np.einsum("ij,kl->ijkl", eye, eye) / d
    shear = float(np.einsum("ijkl,ijkl->", C, J)) / (d * (d + 1) - 2)
    return bulk, shear
