"""Crystal lattices and the Cauchy–Born oracle.

Lattices
--------
A :class:`Lattice` is a Bravais lattice (primitive vectors ``a_i``, rows of
``primitive``, in units of the lattice constant ``a``) with a basis of atoms
per primitive cell, plus a (conventional) cell used to build finite crystals:

==============  ====  =====================================  ========================
name            dim   primitive cell                          basis / conventional
==============  ====  =====================================  ========================
``square``      2     ``(1, 0), (0, 1)``                     1 atom
``triangular``  2     ``(1, 0), (1/2, sqrt 3/2)``            1 atom (hexagonal)
``honeycomb``   2     triangular                             2 atoms (graphene-like)
``sc``          3     cube                                   1 atom
``fcc``         3     ``(0, 1/2, 1/2)`` and permutations     1 atom; cube with 4
``bcc``         3     ``(-1/2, 1/2, 1/2)`` and permutations  1 atom; cube with 2
``diamond``     3     fcc                                    2 atoms; cube with 8
==============  ====  =====================================  ========================

``honeycomb`` and ``diamond`` are multilattices: their inner shifts (the
displacement of each sublattice relative to sublattice 0) are relaxed for every
``F`` (the extended Cauchy–Born rule).

Cauchy–Born oracle
------------------
For a pair potential ``phi`` the energy per reference volume of the lattice
deformed homogeneously by ``F`` with inner shifts ``p_b`` (``p_0 = 0``) is::

    W(F, p) = 1 / (2 V0) sum_{a, b, R} phi(|F dX_abR + p_b - p_a|),
    dX_abR  = R + X_b - X_a   (0 < |dX| , sum over the neighbours of each basis atom a)

with ``V0`` the reference volume of the primitive cell. With ``r = F dX + p_b - p_a``,
``beta = phi'(r) / r`` and ``alpha = (phi''(r) - beta) / r^2``::

    P_iJ    = dW/dF_iJ        = 1/(2 V0) sum beta r_i dX_J
    W_FF    = d2W/dF_iJ dF_kL = 1/(2 V0) sum (alpha r_i r_k + beta d_ik) dX_J dX_L
    W_Fs, W_ss                  the same blocks with d r / d p_b = +I, d r / d p_a = -I

The shifts solve ``dW/dp = 0`` (Newton per point), so ``P = dW/dF`` at fixed
``p`` and the tangent is the condensed ``A = W_FF - W_Fs W_ss^-1 W_sF``. Each
unordered bond appears once in the kernels (its reverse gives the same
contribution), with weight ``1/V0``.

Neighbour shells are built once for the radius ``cutoff / min_stretch``; at each
evaluation the smallest stretch ``sqrt(lambda_min(F^T F))`` proves that no shell
outside the list enters the cutoff, else an :class:`~fe2.oracle.OracleError`
names the point (the macro solver then cuts back its load step).

>>> from fe2.atomistic.potentials import LennardJones
>>> cb = CauchyBorn("fcc", LennardJones(1.0, 1.0, 2.5))
>>> round(cb.lattice_constant, 4)
1.5496
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from fe2.atomistic.kernels import cb_multi, cb_simple
from fe2.atomistic.potentials import PairPotential, check_potential, pair_numpy
from fe2.materials import common as c
from fe2.oracle import OracleBase, OracleError, Response
from fe2.tensors import tensor4_to_voigt

__all__ = [
    "LATTICES",
    "Lattice",
    "Crystal",
    "get_lattice",
    "CauchyBorn",
]

log = logging.getLogger(__name__)

_S3 = math.sqrt(3.0)
_FCC_PRIM = [[0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]
_FCC_CUBE = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]

_DEFS: dict[str, dict] = {
    "square": dict(primitive=[[1.0, 0.0], [0.0, 1.0]], basis=[[0.0, 0.0]]),
    "triangular": dict(primitive=[[1.0, 0.0], [0.5, _S3 / 2]], basis=[[0.0, 0.0]]),
    "honeycomb": dict(
        primitive=[[1.0, 0.0], [0.5, _S3 / 2]], basis=[[0.0, 0.0], [0.5, _S3 / 6]]
    ),
    "sc": dict(primitive=np.eye(3).tolist(), basis=[[0.0, 0.0, 0.0]]),
    "fcc": dict(primitive=_FCC_PRIM, basis=[[0.0, 0.0, 0.0]], cell=np.eye(3), cell_basis=_FCC_CUBE),
    "bcc": dict(
        primitive=[[-0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.5, 0.5, -0.5]],
        basis=[[0.0, 0.0, 0.0]],
        cell=np.eye(3),
        cell_basis=[[0.0, 0.0, 0.0], [0.5, 0.5, 0.5]],
    ),
    "diamond": dict(
        primitive=_FCC_PRIM,
        basis=[[0.0, 0.0, 0.0], [0.25, 0.25, 0.25]],
        cell=np.eye(3),
        cell_basis=_FCC_CUBE + [[x + 0.25 for x in v] for v in _FCC_CUBE],
    ),
}

LATTICES: tuple[str, ...] = tuple(_DEFS)


# ---------------------------------------------------------------- lattices


@dataclass(frozen=True, eq=False)
class Lattice:
    """A Bravais lattice with a basis, in units of the lattice constant.

    Attributes
    ----------
    name : str
        One of :data:`LATTICES` (or a user name).
    primitive : ndarray
        ``(d, d)``: row ``i`` is the primitive vector ``a_i``.
    basis : ndarray
        ``(nb, d)``: Cartesian positions of the atoms of one primitive cell.
    cell : ndarray
        ``(d, d)``: rows are the vectors of the cell used to build crystals.
    cell_basis : ndarray
        ``(nc, d)``: atom positions in that cell.
    """

    name: str
    primitive: np.ndarray
    basis: np.ndarray
    cell: np.ndarray
    cell_basis: np.ndarray

    @property
    def dim(self) -> int:
        """Space dimension."""
        return int(self.primitive.shape[0])

    @property
    def n_basis(self) -> int:
        """Atoms per primitive cell (1 for a simple lattice)."""
        return int(self.basis.shape[0])

    @property
    def volume(self) -> float:
        """Volume (area in 2D) of the primitive cell for ``a = 1``."""
        return float(abs(np.linalg.det(self.primitive)))

    def bonds(self, radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unordered bonds shorter than ``radius`` (units of ``a``), each once.

        Returns ``dX (n, d)`` (from atom ``ia`` of the cell at the origin to atom
        ``ib`` of the cell at ``R``: ``R + X_ib - X_ia``), ``ia (n,)``, ``ib (n,)``.
        Of a bond and its reverse only the one with ``ia < ib``, or ``ia == ib``
        and ``R`` lexicographically positive, is kept.
        """
        A = self.primitive
        Ainv = np.linalg.inv(A)
        spread = max(
            float(np.linalg.norm(xb - xa)) for xa in self.basis for xb in self.basis
        )
        nmax = [int(math.ceil((radius + spread) * np.linalg.norm(Ainv[:, k]))) + 1
                for k in range(self.dim)]
        grid = np.array(list(itertools.product(*[range(-n, n + 1) for n in nmax])), dtype=float)
        R = grid @ A
        out_dx, out_a, out_b = [], [], []
        pos = np.array([_lex_positive(g) for g in grid])
        for a in range(self.n_basis):
            for b in range(a, self.n_basis):
                dx = R + self.basis[b] - self.basis[a]
                r = np.linalg.norm(dx, axis=1)
                keep = (r < radius) & (r > 1e-12)
                if a == b:
                    keep &= pos
                out_dx.append(dx[keep])
                out_a.append(np.full(int(keep.sum()), a))
                out_b.append(np.full(int(keep.sum()), b))
        dX = np.concatenate(out_dx)
        order = np.argsort(np.linalg.norm(dX, axis=1), kind="stable")
        return (np.ascontiguousarray(dX[order]), np.concatenate(out_a)[order],
                np.concatenate(out_b)[order])

    def shells(self, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Distinct bond lengths below ``radius`` and the number of neighbours per atom in each."""
        dX, _, _ = self.bonds(radius)
        r = np.round(np.linalg.norm(dX, axis=1), 10)
        radii, counts = np.unique(r, return_counts=True)
        return radii, 2 * counts / self.n_basis

    @property
    def nearest_neighbour_distance(self) -> float:
        """Length of the shortest bond for ``a = 1``."""
        return float(self.shells(2.0)[0][0])

    @property
    def coordination(self) -> int:
        """Number of nearest neighbours of an atom."""
        return int(round(self.shells(2.0)[1][0]))

    def bond_radius(self) -> float:
        """A radius between the first and second neighbour shells (units of ``a``)."""
        radii = self.shells(3.0)[0]
        return float(0.5 * (radii[0] + radii[1]))

    def crystal(
        self,
        n_cells: int | Sequence[int],
        lattice_constant: float = 1.0,
        periodic: bool | Sequence[bool] = True,
    ) -> Crystal:
        """A block of ``n_cells`` (per axis) copies of :attr:`cell`.

        Atom order: cells in C order, then the atoms of :attr:`cell_basis`.
        """
        d = self.dim
        n = _int_tuple("Lattice.crystal", "n_cells", n_cells, d)
        a = c.positive("Lattice.crystal", "lattice constant", "lattice_constant", lattice_constant)
        per = _bool_tuple("Lattice.crystal", "periodic", periodic, d)
        idx = np.array(list(itertools.product(*[range(k) for k in n])), dtype=np.int64)
        nc = self.cell_basis.shape[0]
        cells = np.repeat(idx, nc, axis=0)
        bidx = np.tile(np.arange(nc), len(idx))
        X = a * (cells @ self.cell + self.cell_basis[bidx])
        box = (a * np.asarray(n)[:, None] * self.cell).T
        return Crystal(X, cells, bidx, box, per, self, a, n)


def _lex_positive(v: np.ndarray) -> bool:
    for x in v:
        if x > 0:
            return True
        if x < 0:
            return False
    return False


def _int_tuple(owner: str, name: str, value, d: int) -> tuple[int, ...]:
    v = (value,) * d if isinstance(value, int | np.integer) else tuple(value)
    if len(v) != d or any(not isinstance(k, int | np.integer) or k < 1 for k in v):
        raise ValueError(
            f"{owner}: {name} must be a positive int or {d} positive ints, got {value!r}"
        )
    return tuple(int(k) for k in v)


def _bool_tuple(owner: str, name: str, value, d: int) -> tuple[bool, ...]:
    v = (value,) * d if isinstance(value, bool | np.bool_) else tuple(value)
    if len(v) != d:
        raise ValueError(f"{owner}: {name} must be a bool or {d} bools, got {value!r}")
    return tuple(bool(k) for k in v)


def get_lattice(lattice: str | Lattice) -> Lattice:
    """The :class:`Lattice` of a name in :data:`LATTICES` (a Lattice passes through)."""
    if isinstance(lattice, Lattice):
        return lattice
    if lattice not in _DEFS:
        raise ValueError(
            f"unknown lattice {lattice!r}; expected one of {', '.join(map(repr, LATTICES))}"
        )
    df = _DEFS[lattice]
    prim = np.asarray(df["primitive"], dtype=float)
    basis = np.asarray(df["basis"], dtype=float)
    cell = np.asarray(df.get("cell", prim), dtype=float)
    cbasis = np.asarray(df.get("cell_basis", basis), dtype=float)
    return Lattice(str(lattice), prim, basis, cell, cbasis)


@dataclass(frozen=True, eq=False)
class Crystal:
    """A finite block of a lattice: reference atom positions and periodic box.

    Attributes
    ----------
    positions : ndarray
        ``(n, d)`` reference positions.
    cells : ndarray
        ``(n, d)`` integer index of the cell of each atom.
    basis_index : ndarray
        ``(n,)`` index of each atom in :attr:`Lattice.cell_basis`.
    box : ndarray
        ``(d, d)``: column ``k`` is the periodic vector along axis ``k``.
    periodic : tuple of bool
        Periodicity per box axis.
    lattice : Lattice
    lattice_constant : float
    n_cells : tuple of int
    """

    positions: np.ndarray
    cells: np.ndarray
    basis_index: np.ndarray
    box: np.ndarray
    periodic: tuple[bool, ...]
    lattice: Lattice
    lattice_constant: float
    n_cells: tuple[int, ...]

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return int(self.positions.shape[0])

    @property
    def dim(self) -> int:
        """Space dimension."""
        return int(self.positions.shape[1])

    def without(self, atoms: Sequence[int] | np.ndarray) -> Crystal:
        """The crystal with ``atoms`` (indices) removed, e.g. a vacancy cluster."""
        atoms = np.asarray(atoms, dtype=np.int64)
        if atoms.size and (atoms.min() < 0 or atoms.max() >= self.n_atoms):
            raise ValueError(f"Crystal.without: atom indices must be in [0, {self.n_atoms}), got "
                             f"{atoms.min()}..{atoms.max()}")
        keep = np.ones(self.n_atoms, dtype=bool)
        keep[atoms] = False
        return Crystal(self.positions[keep], self.cells[keep], self.basis_index[keep], self.box,
                       self.periodic, self.lattice, self.lattice_constant, self.n_cells)

    def within(self, center: Sequence[float], radius: float) -> np.ndarray:
        """Indices of the atoms within ``radius`` of ``center`` (minimum image when periodic)."""
        dx = self.positions - np.asarray(center, dtype=float)
        dx = self.minimum_image(dx)
        return np.where(np.linalg.norm(dx, axis=1) <= radius)[0]

    def minimum_image(self, dx: np.ndarray) -> np.ndarray:
        """Wrap difference vectors ``(m, d)`` to the nearest periodic image (box-fractional)."""
        if not any(self.periodic):
            return dx
        s = np.linalg.solve(self.box, dx.T).T
        for k, p in enumerate(self.periodic):
            if p:
                s[:, k] -= np.round(s[:, k])
        return s @ self.box.T


# ---------------------------------------------------------------- numba kernels


_STATUS = {
    1: "a neighbour shell outside the precomputed list may enter the cutoff (compression "
       "beyond min_stretch); build the oracle with a smaller min_stretch",
    2: "two atoms overlap (bond length ~ 0)",
    3: "the inner-shift relaxation did not converge",
}


class CauchyBorn(OracleBase):
    """Cauchy–Born oracle of a crystal lattice with a pair potential.

    Parameters
    ----------
    lattice : str or Lattice
        One of :data:`LATTICES` or a :class:`Lattice`.
    potential : PairPotential
        :class:`~fe2.atomistic.potentials.LennardJones`, ``Morse`` or ``HarmonicSpring``.
    lattice_constant : float, optional
        Reference lattice constant ``a`` [length]; default: the zero-stress value
        (:meth:`equilibrium_lattice_constant`).
    min_stretch : float
        Smallest principal stretch the precomputed neighbour shells cover, in
        ``(0, 1]``; a stronger compression raises :class:`~fe2.oracle.OracleError`.
    backend : {"numba", "numpy"}
        Per-point numba kernel (default) or the vectorized numpy reference.
    shift_tol : float
        Convergence of the inner-shift Newton iteration (step, relative to ``a``).
    max_shift_iterations : int
        Newton iterations of the inner-shift relaxation.

    Notes
    -----
    ``evaluate(F)`` with ``F (d, d, *pts)`` returns ``flux = P (d, d, *pts)``,
    ``tangent = A (d, d, d, d, *pts)``, ``info["energy"] = W (*pts)`` [energy per
    reference volume, area in 2D] and, for multilattices, ``info["converged"]``
    and ``info["shift_iterations"]``. No history.
    """

    measure = "deformation_gradient"

    def __init__(
        self,
        lattice: str | Lattice,
        potential: PairPotential,
        lattice_constant: float | None = None,
        min_stretch: float = 0.7,
        backend: str = "numba",
        shift_tol: float = 1e-12,
        max_shift_iterations: int = 50,
    ):
        name = type(self).__name__
        self.lattice = get_lattice(lattice)
        self.potential = check_potential(name, potential)
        self.dim = self.lattice.dim
        self.backend = c.backend(name, backend)
        ms = c.positive(name, "smallest stretch", "min_stretch", min_stretch)
        if ms > 1.0:
            raise ValueError(f"{name}: min_stretch must be in (0, 1], got {min_stretch!r}")
        self.min_stretch = ms
        self.shift_tol = c.positive(name, "tolerance", "shift_tol", shift_tol)
        if int(max_shift_iterations) < 1:
            raise ValueError(
                f"{name}: max_shift_iterations must be >= 1, got {max_shift_iterations!r}"
            )
        self.max_shift_iterations = int(max_shift_iterations)
        self._a_eq: float | None = None
        if lattice_constant is None:
            self._a_eq = _zero_stress_constant(self.lattice, self.potential)
            a = self._a_eq
        else:
            a = c.positive(name, "lattice constant", "lattice_constant", lattice_constant)
        self._setup(a)

    def _setup(self, a: float) -> None:
        lat, pot = self.lattice, self.potential
        self.lattice_constant = float(a)
        if pot.bonded:
            radius = lat.bond_radius()
            self.rnext = math.inf
        else:
            radius = pot.cutoff / self.min_stretch / a
            beyond = lat.bonds(radius * 1.5 + 1.0)[0]
            lengths = np.linalg.norm(beyond, axis=1)
            self.rnext = float(lengths[lengths >= radius].min()) * a
        dX, ia, ib = lat.bonds(radius)
        self.bond_vectors = np.ascontiguousarray(dX * a)
        self.ia, self.ib = ia.astype(np.int64), ib.astype(np.int64)
        self.cell_volume = lat.volume * a**self.dim
        self._scale = 1.0 / self.cell_volume
        d = self.dim
        self._sym = np.array([(i, k) for i in range(d) for k in range(i, d)], dtype=np.int64)
        self._upos = np.zeros((d, d), dtype=np.int64)
        for u, (i, k) in enumerate(self._sym):
            self._upos[i, k] = self._upos[k, i] = u
        self._dd = np.ascontiguousarray(
            self.bond_vectors[:, self._sym[:, 0]] * self.bond_vectors[:, self._sym[:, 1]]
        )
        self._tiny2 = (1e-6 * a) ** 2

    def __repr__(self) -> str:
        return (f"CauchyBorn({self.lattice.name!r}, {self.potential!r}, "
                f"lattice_constant={self.lattice_constant!r})")

    @property
    def n_bonds(self) -> int:
        """Number of unordered bonds per primitive cell in the precomputed list."""
        return int(self.bond_vectors.shape[0])

    @property
    def atomic_volume(self) -> float:
        """Reference volume (area in 2D) per atom."""
        return self.cell_volume / self.lattice.n_basis

    # ------------------------------------------------------------------ evaluation
    def _compute(self, F: np.ndarray, pts: tuple[int, ...], tangent: bool = True):
        Ff = c.points_first(F, 2)
        n, d = Ff.shape[0], self.dim
        nb = self.lattice.n_basis
        pot = self.potential
        if self.backend == "numpy":
            W, P, A, S, status, iters = _cb_numpy(self, Ff)
        else:
            W = np.empty(n)
            P = np.empty((n, d, d))
            A = np.empty((n, d, d, d, d))
            status = np.zeros(n, dtype=np.int64)
            S = np.zeros((n, nb, d))
            iters = np.zeros(n, dtype=np.int64)
            if nb == 1:
                cb_simple(Ff, self.bond_vectors, self._dd, self._sym, self._upos, pot.kind,
                           pot.params, pot.bonded, self._scale, self.rnext, self._tiny2,
                           W, P, A, status)
            else:
                cb_multi(Ff, self.bond_vectors, self.ia, self.ib, nb, pot.kind, pot.params,
                          pot.bonded, self._scale, self.rnext, self._tiny2, self.lattice_constant,
                          self.shift_tol * self.lattice_constant, self.max_shift_iterations,
                          W, P, A, S, status, iters)
        for code in (1, 2):
            bad = status == code
            if np.any(bad):
                first = int(np.argmax(bad))
                where = tuple(int(i) for i in np.unravel_index(first, pts)) if pts else ()
                raise OracleError(
                    f"CauchyBorn({self.lattice.name!r}): {_STATUS[code]} at {int(bad.sum())} of "
                    f"{n} points, first at point index {where} with F = "
                    f"{np.array2string(Ff[first].ravel(), precision=4)}"
                )
        info = {"energy": W.reshape(pts)}
        if nb > 1:
            info["converged"] = (status == 0).reshape(pts)
            info["shift_iterations"] = iters.reshape(pts)
        return W, P, A, S, info

    def energy(self, F: np.ndarray) -> np.ndarray:
        """Strain energy per reference volume ``W`` ``(*pts)`` at ``F`` ``(d, d, *pts)``."""
        pts = self.check_input(F)
        W, _, _, _, info = self._compute(np.asarray(F, dtype=float), pts)
        self._check_converged(info, pts)
        return W.reshape(pts)

    def inner_shifts(self, F: np.ndarray) -> np.ndarray:
        """Relaxed shifts of the sublattices ``(nb, d, *pts)`` (sublattice 0 has zero shift)."""
        pts = self.check_input(F)
        _, _, _, S, info = self._compute(np.asarray(F, dtype=float), pts)
        self._check_converged(info, pts)
        return c.points_last(S, pts)

    def _check_converged(self, info: dict, pts: tuple[int, ...]) -> None:
        conv = info.get("converged")
        if conv is not None and not np.all(conv):
            first = tuple(int(i) for i in np.unravel_index(int(np.argmin(conv)), pts))
            raise OracleError(
                f"CauchyBorn({self.lattice.name!r}): {_STATUS[3]} at {int((~conv).sum())} "
                f"points, first at point index {first}; raise max_shift_iterations"
            )

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: dict | None = None
    ) -> Response:
        """PK1 stress ``(d, d, *pts)``, tangent ``(d, d, d, d, *pts)``, ``info["energy"]``."""
        pts = self.check_input(g)
        _, P, A, _, info = self._compute(np.asarray(g, dtype=float), pts)
        return Response(flux=c.points_last(P, pts), tangent=c.points_last(A, pts), info=info)

    # ------------------------------------------------------------------ properties
    def equilibrium_lattice_constant(self) -> float:
        """Lattice constant at which the stress of the undeformed lattice vanishes."""
        if self._a_eq is None:
            self._a_eq = _zero_stress_constant(self.lattice, self.potential)
        return self._a_eq

    def elastic_constants(self) -> np.ndarray:
        """Voigt matrix of the elastic constants at the zero-stress lattice.

        Order 11, 22, 33, 23, 13, 12 in 3D and 11, 22, 12 in 2D; energy per
        reference volume (per area in 2D). At zero stress ``A_iJkL = C_iJkL``.
        """
        a_eq = self.equilibrium_lattice_constant()
        cb = self
        if abs(a_eq - self.lattice_constant) > 1e-12 * a_eq:
            cb = CauchyBorn(self.lattice, self.potential, a_eq, self.min_stretch, self.backend,
                            self.shift_tol, self.max_shift_iterations)
        A = cb.evaluate(np.eye(self.dim)[:, :, None]).tangent[..., 0]
        return tensor4_to_voigt(A)


def _zero_stress_constant(lattice: Lattice, potential: PairPotential) -> float:
    """Lattice constant with ``P(I) = 0``: the energy minimum over isotropic scalings."""
    guess = potential.r_min / lattice.nearest_neighbour_distance
    a0 = 0.6 * guess
    cb0 = CauchyBorn(lattice, potential, a0, min_stretch=1.0)
    d = lattice.dim
    eye = np.eye(d)
    s = np.linspace(1.0, 2.6, 801)
    W, _, _, _, info = cb0._compute(eye[:, :, None] * s, s.shape)
    W = np.where(info.get("converged", True), W, np.inf)  # skip unstable inner shifts
    k = int(np.argmin(W))
    if k == 0 or k == len(s) - 1:
        raise ValueError(
            f"no zero-stress lattice constant of {lattice.name!r} with {potential!r} between "
            f"{a0:.4g} and {2.6 * a0:.4g}; give lattice_constant explicitly"
        )

    def pressure(si: float) -> float:
        return float(np.trace(cb0.evaluate(si * eye[:, :, None]).flux[..., 0]))

    lo, hi = s[k - 1], s[k + 1]
    if pressure(lo) * pressure(hi) > 0:
        raise ValueError(
            f"the stress of {lattice.name!r} with {potential!r} does not change sign near its "
            f"energy minimum (discontinuous force at the cutoff?); use shift='force' or give "
            f"lattice_constant explicitly"
        )
    s_eq = float(brentq(pressure, lo, hi, xtol=1e-15, rtol=1e-15))
    r = cb0.evaluate(s_eq * eye[:, :, None])
    if np.max(np.abs(r.flux)) > 1e-8 * np.max(np.abs(r.tangent)):
        log.warning("%s with %r: the stress at the zero-pressure lattice constant is not "
                    "hydrostatic (max |P| = %.3g); the lattice has no spherical zero-stress state",
                    lattice.name, potential, float(np.max(np.abs(r.flux))))
    return s_eq * a0


def _cb_numpy(cb: CauchyBorn, Ff: np.ndarray):
    """Vectorized numpy reference of the numba kernels: ``F (n, d, d)`` -> W, P, A, S, status."""
    pot = cb.potential
    n, d = Ff.shape[0], cb.dim
    nb = cb.lattice.n_basis
    dX = cb.bond_vectors
    inc = np.zeros((dX.shape[0], nb))
    inc[np.arange(len(dX)), cb.ib] += 1.0
    inc[np.arange(len(dX)), cb.ia] -= 1.0
    p = np.zeros((n, nb, d))
    rc2 = pot.cutoff**2

    def bonds(p):
        r = np.einsum("niJ,bJ->nbi", Ff, dX) + np.einsum("bc,nci->nbi", inc, p)
        r2 = np.einsum("nbi,nbi->nb", r, r)
        inside = np.ones_like(r2, dtype=bool) if pot.bonded else r2 < rc2
        rl = np.sqrt(r2)
        phi, d1, d2 = pair_numpy(pot.kind, pot.params, rl)
        beta = np.where(inside, d1 / rl, 0.0)
        alpha = np.where(inside, (d2 - d1 / rl) / r2, 0.0)
        phi = np.where(inside, phi, 0.0)
        K = alpha[..., None, None] * r[..., :, None] * r[..., None, :] + beta[
            ..., None, None
        ] * np.eye(d)
        return r, phi, beta, K

    status = np.zeros(n, dtype=np.int64)
    iters = np.zeros(n, dtype=np.int64)
    sub = inc[:, 1:]
    if nb > 1:
        for it in range(cb.max_shift_iterations):
            r, phi, beta, K = bonds(p)
            g = np.einsum("bc,nbi->nci", sub, beta[..., None] * r).reshape(n, -1)
            H = np.einsum("bc,be,nbik->ncike", sub, sub, K).reshape(n, (nb - 1) * d, -1)
            dp = np.linalg.solve(H, -g[..., None])[..., 0]
            p[:, 1:] += dp.reshape(n, nb - 1, d)
            iters[:] = it + 1
            if np.max(np.abs(dp)) <= cb.shift_tol * cb.lattice_constant:
                break
        else:
            status[:] = 3
    r, phi, beta, K = bonds(p)
    s = cb._scale
    W = s * phi.sum(axis=1)
    P = s * np.einsum("nb,nbi,bJ->niJ", beta, r, dX)
    A = s * np.einsum("nbik,bJ,bL->niJkL", K, dX, dX)
    if nb > 1:
        H = np.einsum("bc,be,nbik->ncike", sub, sub, K).reshape(n, (nb - 1) * d, -1)
        Fs = np.einsum("bc,nbik,bJ->niJck", sub, K, dX).reshape(n, d * d, -1)
        corr = np.einsum("nas,nsb->nab", Fs, np.linalg.solve(H, np.swapaxes(Fs, 1, 2)))
        A = A - s * corr.reshape(n, d, d, d, d)
    return W, P, A, p, status, iters
