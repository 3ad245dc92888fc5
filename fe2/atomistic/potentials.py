"""Pair potentials for the lattice, atomistic and quasicontinuum models.

Each potential is a function ``phi(r)`` of the distance ``r`` between two atoms,
with analytic first and second radial derivatives:

========================  =========================================================
:class:`LennardJones`     ``4 eps ((sigma/r)^12 - (sigma/r)^6)``, truncated at ``cutoff``
:class:`Morse`            ``D (exp(-2 alpha (r - r0)) - 2 exp(-alpha (r - r0)))``, truncated
:class:`HarmonicSpring`   ``k / 2 (r - r0)^2`` on nearest-neighbour bonds only
========================  =========================================================

Truncated potentials are shifted so that the energy is continuous at the cutoff
(``shift="energy"``: ``phi(r) - phi(rc)``), optionally also the force
(``shift="force"``: ``phi(r) - phi(rc) - (r - rc) phi'(rc)``), or left as they are
(``shift="none"``). Beyond the cutoff ``phi = phi' = phi'' = 0``.

The :class:`HarmonicSpring` is *bonded*: it acts on the nearest-neighbour bonds
of the reference lattice whatever their current length (no cutoff), which is
how a spring network is meant.

The vectorized methods (:meth:`PairPotential.energy`, ...) take any array of
distances ``r`` and return arrays of its shape. The numba kernels of the lattice
and atomistic models call :func:`pair` with the potential's integer ``kind`` and
parameter vector ``params``, so one compiled kernel serves every potential.

>>> lj = LennardJones(epsilon=1.0, sigma=1.0, cutoff=2.5, shift="none")
>>> round(float(lj.energy(2.0 ** (1.0 / 6.0))), 12)
-1.0
"""

from __future__ import annotations

import math

import numpy as np

from fe2.atomistic.kernels import pair, pair_array

__all__ = [
    "PairPotential",
    "LennardJones",
    "Morse",
    "HarmonicSpring",
    "pair",
    "SHIFTS",
]

SHIFTS: tuple[str, ...] = ("none", "energy", "force")

# integer codes of the potentials in the numba kernels
LJ, MORSE, HARMONIC = 0, 1, 2
# layout of ``params``: three shape parameters, the cutoff, the shift ``c0 + c1 r``
N_PARAMS = 6


def _positive(owner: str, name: str, value: object, desc: str) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: {desc} {name} must be a real number, got {value!r}") from None
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{owner}: {desc} {name} must be finite and > 0, got {value!r}")
    return v


# ---------------------------------------------------------------- numba core


def pair_numpy(kind: int, prm: np.ndarray, r: np.ndarray):
    """Numpy reference of :func:`pair` (same formulas, written independently)."""
    r = np.asarray(r, dtype=float)
    rc = prm[3]
    if kind == LJ:
        eps, sig = prm[0], prm[1]
        x = (sig / r) ** 6
        p0 = 4 * eps * (x**2 - x)
        p1 = 24 * eps * (x - 2 * x**2) / r
        p2 = 24 * eps * (26 * x**2 - 7 * x) / r**2
    elif kind == MORSE:
        D, a, r0 = prm[0], prm[1], prm[2]
        e = np.exp(-a * (r - r0))
        p0 = D * ((1 - e) ** 2 - 1)
        p1 = 2 * D * a * e * (1 - e)
        p2 = 2 * D * a**2 * e * (2 * e - 1)
    else:
        p0 = 0.5 * prm[0] * (r - prm[1]) ** 2
        p1 = prm[0] * (r - prm[1])
        p2 = np.full_like(r, prm[0])
    inside = r < rc
    p0 = np.where(inside, p0 - prm[4] - prm[5] * r, 0.0)
    p1 = np.where(inside, p1 - prm[5], 0.0)
    p2 = np.where(inside, p2, 0.0)
    return p0, p1, p2


# ---------------------------------------------------------------- classes


class PairPotential:
    """A radial pair potential ``phi(r)`` with analytic derivatives.

    Attributes
    ----------
    kind : int
        Code of the formula in the numba kernels.
    params : ndarray
        ``(6,)``: three shape parameters, the cutoff, the shift constants.
    cutoff : float
        Interaction range (``inf`` for a bonded potential).
    bonded : bool
        True when the potential acts on fixed nearest-neighbour bonds.
    r_min : float
        Distance of the minimum of the (unshifted) pair energy.
    """

    kind: int = LJ
    bonded: bool = False

    def __init__(self, shape: tuple[float, float, float], cutoff: float, shift: str):
        if shift not in SHIFTS:
            raise ValueError(
                f"{type(self).__name__}: shift must be one of {', '.join(map(repr, SHIFTS))}, "
                f"got {shift!r}"
            )
        self.shift = shift
        self.cutoff = float(cutoff)
        prm = np.zeros(N_PARAMS)
        prm[:3] = shape
        prm[3] = 2.0 * cutoff
        if shift != "none" and math.isfinite(cutoff):
            p0, p1, _ = pair_numpy(self.kind, prm, np.array([cutoff]))
            c0, c1 = float(p0[0]), float(p1[0]) if shift == "force" else 0.0
            prm[4] = c0 - c1 * cutoff
            prm[5] = c1
        prm[3] = self.cutoff
        self.params = prm

    # numpy-facing API -------------------------------------------------------
    def evaluate(self, r: np.ndarray, backend: str = "numba"):
        """``(phi, phi', phi'')`` at distances ``r`` (any shape), each of the shape of ``r``."""
        r = np.asarray(r, dtype=float)
        if backend == "numpy":
            return pair_numpy(self.kind, self.params, r)
        if backend != "numba":
            raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
        flat = np.ascontiguousarray(r.ravel())
        out = [np.empty_like(flat) for _ in range(3)]
        pair_array(self.kind, self.params, flat, *out)
        return tuple(o.reshape(r.shape) for o in out)

    def energy(self, r: np.ndarray) -> np.ndarray:
        """Pair energy ``phi(r)``, shape of ``r``."""
        return self.evaluate(r)[0]

    def derivative(self, r: np.ndarray) -> np.ndarray:
        """``phi'(r)`` (minus the repulsive force), shape of ``r``."""
        return self.evaluate(r)[1]

    def second_derivative(self, r: np.ndarray) -> np.ndarray:
        """``phi''(r)``, shape of ``r``."""
        return self.evaluate(r)[2]


class LennardJones(PairPotential):
    """Lennard-Jones 12-6 potential ``4 eps ((sigma/r)^12 - (sigma/r)^6)``.

    Parameters
    ----------
    epsilon : float
        Well depth [energy], > 0.
    sigma : float
        Distance at which the untruncated energy is zero [length], > 0.
    cutoff : float
        Truncation radius [length], > sigma (typically 2.5 sigma).
    shift : {"energy", "force", "none"}
        Continuity made at the cutoff (see module docs).
    """

    kind = LJ

    def __init__(self, epsilon: float = 1.0, sigma: float = 1.0, cutoff: float = 2.5,
                 shift: str = "energy"):
        name = type(self).__name__
        self.epsilon = _positive(name, "epsilon", epsilon, "well depth")
        self.sigma = _positive(name, "sigma", sigma, "length")
        rc = _positive(name, "cutoff", cutoff, "cutoff radius")
        if rc <= self.sigma:
            raise ValueError(
                f"{name}: cutoff must be > sigma = {self.sigma!r} (typically 2.5 sigma), "
                f"got {cutoff!r}"
            )
        self.r_min = 2.0 ** (1.0 / 6.0) * self.sigma
        super().__init__((self.epsilon, self.sigma, 0.0), rc, shift)

    def __repr__(self) -> str:
        return (f"LennardJones(epsilon={self.epsilon!r}, sigma={self.sigma!r}, "
                f"cutoff={self.cutoff!r}, shift={self.shift!r})")


class Morse(PairPotential):
    """Morse potential ``D (exp(-2 alpha (r - r0)) - 2 exp(-alpha (r - r0)))``.

    Parameters
    ----------
    D : float
        Well depth [energy], > 0.
    alpha : float
        Inverse width [1/length], > 0.
    r0 : float
        Distance of the minimum [length], > 0.
    cutoff : float
        Truncation radius [length], > r0.
    shift : {"energy", "force", "none"}
        Continuity made at the cutoff.
    """

    kind = MORSE

    def __init__(self, D: float = 1.0, alpha: float = 1.0, r0: float = 1.0, cutoff: float = 3.0,
                 shift: str = "energy"):
        name = type(self).__name__
        self.D = _positive(name, "D", D, "well depth")
        self.alpha = _positive(name, "alpha", alpha, "inverse width")
        self.r0 = _positive(name, "r0", r0, "equilibrium distance")
        rc = _positive(name, "cutoff", cutoff, "cutoff radius")
        if rc <= self.r0:
            raise ValueError(f"{name}: cutoff must be > r0 = {self.r0!r}, got {cutoff!r}")
        self.r_min = self.r0
        super().__init__((self.D, self.alpha, self.r0), rc, shift)

    def __repr__(self) -> str:
        return (f"Morse(D={self.D!r}, alpha={self.alpha!r}, r0={self.r0!r}, "
                f"cutoff={self.cutoff!r}, shift={self.shift!r})")


class HarmonicSpring(PairPotential):
    """Harmonic spring ``k / 2 (r - r0)^2`` on the nearest-neighbour bonds of the lattice.

    Parameters
    ----------
    k : float
        Spring stiffness [energy / length^2], > 0.
    r0 : float
        Rest length [length], > 0.

    The bonds are those of the reference configuration (first neighbour shell);
    they act whatever their current length, so ``cutoff`` is ``inf``.
    """

    kind = HARMONIC
    bonded = True

    def __init__(self, k: float = 1.0, r0: float = 1.0):
        name = type(self).__name__
        self.k = _positive(name, "k", k, "stiffness")
        self.r0 = _positive(name, "r0", r0, "rest length")
        self.r_min = self.r0
        super().__init__((self.k, self.r0, 0.0), math.inf, "none")

    def __repr__(self) -> str:
        return f"HarmonicSpring(k={self.k!r}, r0={self.r0!r})"


def check_potential(owner: str, potential: object) -> PairPotential:
    """``potential`` if it is a :class:`PairPotential`, else a ValueError."""
    if not isinstance(potential, PairPotential):
        raise ValueError(
            f"{owner}: potential must be a LennardJones, Morse or HarmonicSpring instance, "
            f"got {type(potential).__name__}"
        )
    return potential
