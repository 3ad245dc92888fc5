"""Shared helpers of the materials: parameter checks and the numba point adapter.

Parameter checks raise :class:`ValueError` with a one-line message naming the
material, the parameter, its value and what was expected. The adapter moves the
point axes of an array in scikit-fem's layout ``(*idx, *pts)`` to one leading
flattened axis ``(n, *idx)`` for a per-point numba kernel, and back.
"""

from __future__ import annotations

import math

import numpy as np

BACKENDS: tuple[str, ...] = ("numba", "numpy")


def real(owner: str, desc: str, name: str, value: object) -> float:
    """``value`` as a finite float, else ValueError naming ``owner.name``."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {desc} {name} must be a real number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{owner}: {desc} {name} must be finite, got {value!r}")
    return v


def positive(owner: str, desc: str, name: str, value: object) -> float:
    """``value`` as a float > 0, else ValueError."""
    v = real(owner, desc, name, value)
    if not v > 0.0:
        raise ValueError(f"{owner}: {desc} {name} must be > 0, got {value!r}")
    return v


def non_negative(owner: str, desc: str, name: str, value: object) -> float:
    """``value`` as a float >= 0, else ValueError."""
    v = real(owner, desc, name, value)
    if not v >= 0.0:
        raise ValueError(f"{owner}: {desc} {name} must be >= 0, got {value!r}")
    return v


def young_poisson(owner: str, E: object, nu: object) -> tuple[float, float]:
    """Check Young's modulus ``E > 0`` and Poisson's ratio ``-1 < nu < 0.5``."""
    E_ = positive(owner, "Young's modulus", "E", E)
    nu_ = real(owner, "Poisson's ratio", "nu", nu)
    if not -1.0 < nu_ < 0.5:
        raise ValueError(f"{owner}: Poisson's ratio nu must be in (-1, 0.5), got {nu!r}")
    return E_, nu_


def dimension(owner: str, dim: object, allowed: tuple[int, ...] = (2, 3)) -> int:
    """Check the space dimension ``dim`` is one of ``allowed``."""
    if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or int(dim) not in allowed:
        raise ValueError(
            f"{owner}: dimension dim must be one of {', '.join(map(str, allowed))}, got {dim!r}"
        )
    return int(dim)


def backend(owner: str, value: object) -> str:
    """Check the computational backend name."""
    if value not in BACKENDS:
        raise ValueError(
            f"{owner}: backend must be one of {', '.join(repr(b) for b in BACKENDS)}, got {value!r}"
        )
    return str(value)


# ---------------------------------------------------------------- numba point adapter


def points_first(a: np.ndarray, nidx: int) -> np.ndarray:
    """``(*idx, *pts)`` to a C-contiguous ``(n, *idx)`` with ``n = prod(pts)``."""
    idx = a.shape[:nidx]
    n = math.prod(a.shape[nidx:])
    return np.ascontiguousarray(np.moveaxis(a.reshape(idx + (n,)), -1, 0), dtype=float)


def points_last(a: np.ndarray, pts: tuple[int, ...]) -> np.ndarray:
    """``(n, *idx)`` back to a C-contiguous ``(*idx, *pts)``; inverse of :func:`points_first`."""
    return np.ascontiguousarray(np.moveaxis(a, 0, -1)).reshape(a.shape[1:] + tuple(pts))


def expand(a: np.ndarray, nidx: int) -> np.ndarray:
    """Prepend ``nidx`` unit axes so that a ``pts`` array broadcasts against ``(*idx, *pts)``."""
    return np.asarray(a)[(None,) * nidx]


def eye_like(d: int, npts_axes: int) -> np.ndarray:
    """Identity ``(d, d)`` with ``npts_axes`` trailing unit axes."""
    return np.eye(d).reshape((d, d) + (1,) * npts_axes)
