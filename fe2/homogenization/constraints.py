"""Micro boundary conditions of a cell or sampling box, and the constrained system they make.

One implementation for the RVE (:class:`fe2.homogenization.RVE`, ``bc``) and FE-HMM
(:class:`fe2.homogenization.HMMSampler`, ``coupling``). A fluctuation field ``w``
(the ``N`` dofs of a scikit-fem basis on the box ``origin + [0, size]``) is
constrained by one of

==============  ====================  ==================================================
kind            aliases               fluctuation space
==============  ====================  ==================================================
``periodic``                          ``w`` periodic: a dof on a face ``x_a = origin_a +
                                      size_a`` equals its partner on ``x_a = origin_a``
                                      (paired by coordinates, corners tied), the
                                      ``origin`` corner pinned (no rigid translation)
``kubc``        ``dirichlet``,        ``w = 0`` on the boundary (affine / kinematic
                ``affine``            uniform boundary condition)
``tubc``        ``neumann``,          ``w`` free; Lagrange multipliers impose
                ``traction``          ``int grad w = 0`` (full gradient, also for
                                      vectors: removes rigid rotations) and a zero
                                      boundary mean of ``w`` (no translation; changes no
                                      gradient or flux)
==============  ====================  ==================================================

:func:`micro_constraints` returns the map (:class:`MicroConstraints`): ``rmap (N,)``,
the reduced index of every full dof (-1: fixed to zero; periodic partners share one),
i.e. ``P (N, n_red)`` with ``P[i, rmap[i]] = 1``, and the multiplier rows
``C (m, N)`` (``tubc``; nonzero on boundary dofs only, since ``int grad w =
int_boundary w n``). :class:`ConstrainedSystem` is the reduced (``m = 0``) or
bordered system

    [[P^T K P, P^T C^T],
     [C P,     0      ]]

with a CSR pattern fixed once from the stiffness pattern (a global CSR matrix or the
element dofs) and the linear map from stiffness entries to its data, so that a new
stiffness (a Newton step, another macro point) costs one sparse product.

>>> import numpy as np, skfem
>>> mesh = skfem.MeshQuad.init_tensor(np.linspace(0, 1, 5), np.linspace(0, 1, 5))
>>> basis = skfem.Basis(mesh, skfem.ElementQuad1())
>>> pc = micro_constraints(basis, "periodic")
>>> (pc.N, pc.n_red, pc.m)          # 25 nodes, 16 periodic classes, one corner pinned
(25, 15, 0)
>>> w = pc.expand(np.arange(1.0, 16.0))
>>> bool(np.allclose(w[basis.get_dofs(lambda x: x[0] == 1).all()],
...                  w[basis.get_dofs(lambda x: x[0] == 0).all()]))
True
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import skfem
from scipy.spatial import cKDTree

from fe2.fem import GradientOperator

__all__ = ["KINDS", "ALIASES", "MicroConstraints", "micro_constraints", "ConstrainedSystem"]

log = logging.getLogger(__name__)

KINDS: tuple[str, ...] = ("periodic", "kubc", "tubc")
ALIASES: dict[str, str] = {
    "dirichlet": "kubc", "affine": "kubc", "neumann": "tubc", "traction": "tubc",
}
_DROP = 1e-12  # entries of a multiplier row below this times its largest are round-off


@dataclass(frozen=True, eq=False)
class MicroConstraints:
    """Constraint map of a fluctuation field (from :func:`micro_constraints`).

    Attributes
    ----------
    kind : {"periodic", "kubc", "tubc"}
    rmap : ndarray (N,) of int64
        Reduced index of every full dof; -1 for dofs fixed to zero.
    C : ndarray (m, N) or None
        Multiplier rows (``tubc``): ``C w = 0``. Unscaled rows are the integrals
        ``int grad w`` (units of length^(d-1)) and ``int_boundary w``.
    """

    kind: str
    rmap: np.ndarray
    C: np.ndarray | None

    @property
    def N(self) -> int:
        """Full dofs."""
        return int(self.rmap.size)

    @property
    def n_red(self) -> int:
        """Reduced dofs (columns of ``P``)."""
        return int(self.rmap.max()) + 1

    @property
    def m(self) -> int:
        """Multipliers (rows of ``C``)."""
        return 0 if self.C is None else int(self.C.shape[0])

    @property
    def P(self) -> sp.csr_matrix:
        """``(N, n_red)`` 0/1 matrix from reduced to full dofs."""
        keep = np.flatnonzero(self.rmap >= 0)
        return sp.csr_matrix(
            (np.ones(keep.size), (keep, self.rmap[keep])), shape=(self.N, self.n_red)
        )

    def expand(self, x: np.ndarray) -> np.ndarray:
        """Full field ``P x`` ``(N, *k)`` from reduced values ``x (n_red, *k)``."""
        x = np.asarray(x)
        out = np.zeros((self.N,) + x.shape[1:], dtype=x.dtype)
        keep = self.rmap >= 0
        out[keep] = x[self.rmap[keep]]
        return out

    def scaled(self, scale: float) -> MicroConstraints:
        """The same constraints with every multiplier row scaled to largest entry ``scale``.

        A scale of the order of the stiffness entries keeps the bordered matrix
        well conditioned; the solution ``w`` does not depend on it.
        """
        if self.C is None:
            return self
        C = self.C * (float(scale) / np.abs(self.C).max(axis=1))[:, None]
        return MicroConstraints(self.kind, self.rmap, C)


def micro_constraints(
    basis: skfem.CellBasis,
    kind: str,
    *,
    origin: np.ndarray | None = None,
    size: np.ndarray | None = None,
) -> MicroConstraints:
    """Constraint map of the fluctuation of ``basis`` on a box (see the module docs).

    Parameters
    ----------
    basis : skfem.CellBasis
        Lagrange basis (scalar, or ``ElementVector`` for displacements) on a mesh
        filling the box.
    kind : str
        One of :data:`KINDS` or an alias in :data:`ALIASES` (FE-HMM's couplings
        ``"dirichlet"``, ``"neumann"``).
    origin, size : array_like (d,), optional
        The box ``origin + [0, size]`` [length]; default the bounding box of the
        mesh. Used by ``periodic`` only.

    Raises
    ------
    ValueError
        Unknown ``kind``; ``periodic`` on a mesh whose opposite boundary nodes do
        not match (naming the first node without a partner) or without a node at
        the ``origin`` corner.
    """
    if kind not in KINDS:
        if kind not in ALIASES:
            raise ValueError(
                f"micro_constraints: kind must be one of {', '.join(map(repr, KINDS))} or "
                f"{', '.join(map(repr, ALIASES))}, got {kind!r}"
            )
        kind = ALIASES[kind]
    N = basis.N
    vector = isinstance(basis.elem, skfem.ElementVector)
    comps = basis.split_indices() if vector else [np.arange(N)]
    if kind == "kubc":
        fixed = np.asarray(basis.get_dofs().all())
        rmap = np.full(N, -1, dtype=np.int64)
        free = np.setdiff1d(np.arange(N), fixed)
        rmap[free] = np.arange(free.size)
        return MicroConstraints(kind, rmap, None)
    if kind == "periodic":
        p = np.asarray(basis.mesh.p)
        lo = p.min(axis=1) if origin is None else np.asarray(origin, dtype=float)
        L = p.max(axis=1) - lo if size is None else np.asarray(size, dtype=float)
        return MicroConstraints(kind, _periodic_map(basis, comps, lo, L), None)
    # tubc: int grad w = 0 (every component of the full gradient) and int_boundary w = 0
    d = basis.mesh.dim()
    ishape = (d, d) if vector else (d,)
    gop = GradientOperator(basis, "deformation_gradient" if vector else "gradient")
    unit = np.zeros(ishape + gop.points_shape)
    rows = []
    for idx in np.ndindex(*ishape):
        unit[...] = 0.0
        unit[idx] = 1.0
        rows.append(gop.internal_force(unit))
    fb = skfem.FacetBasis(basis.mesh, basis.elem)
    if vector:
        for i in range(d):
            rows.append(skfem.asm(skfem.LinearForm(lambda v, w, i=i: v[i]), fb))
    else:
        rows.append(skfem.asm(skfem.LinearForm(lambda v, w: v), fb))
    C = np.asarray(rows)
    # interior dofs contribute nothing to int grad w = int_boundary w n; drop round-off
    C[np.abs(C) < _DROP * np.abs(C).max(axis=1, keepdims=True)] = 0.0
    return MicroConstraints(kind, np.arange(N, dtype=np.int64), C)


def _periodic_map(basis: skfem.CellBasis, comps: list[np.ndarray], lo: np.ndarray,
                  L: np.ndarray) -> np.ndarray:
    """``rmap`` of periodic fluctuations: partners by coordinates, ``lo`` corner pinned."""
    X = np.asarray(basis.doflocs)
    N, d = basis.N, X.shape[0]
    tol = 1e-7 * L.max()
    on_lo = np.abs(X - lo[:, None]) < tol
    on_hi = np.abs(X - (lo + L)[:, None]) < tol
    canon = np.where(on_hi, lo[:, None], X)
    master = np.arange(N)
    pinned = []
    for idx in comps:
        tree = cKDTree(X[:, idx].T)
        slaves = idx[on_hi[:, idx].any(axis=0)]
        if slaves.size:
            dist, j = tree.query(canon[:, slaves].T)
            bad = np.flatnonzero(dist > tol)
            if bad.size:
                s = int(slaves[bad[0]])
                raise ValueError(_unmatched(basis, s, canon[:, s], bad.size, tol))
            master[slaves] = idx[j]
        for a in range(d):
            src = idx[on_lo[a, idx]]
            target = X[:, src].copy()
            target[a] += L[a]
            dist, _ = tree.query(target.T)
            bad = np.flatnonzero(dist > tol)
            if bad.size:
                s = int(src[bad[0]])
                raise ValueError(_unmatched(basis, s, target[:, bad[0]], bad.size, tol))
        corner = idx[on_lo[:, idx].all(axis=0)]
        if corner.size != 1:
            raise ValueError(
                f"periodic bc: expected one node at the box corner {lo.tolist()}, "
                f"found {corner.size}"
            )
        pinned.append(int(corner[0]))
    rmap = np.full(N, -1, dtype=np.int64)
    masters = np.setdiff1d(np.flatnonzero(master == np.arange(N)), pinned)
    rmap[masters] = np.arange(masters.size)
    return rmap[master]


def _unmatched(basis: skfem.CellBasis, dof: int, target: np.ndarray, count: int,
               tol: float) -> str:
    nodal = np.asarray(basis.nodal_dofs)
    hit = np.argwhere(nodal == dof)
    what = f"mesh node {int(hit[0, 1])}" if hit.size else f"dof {dof}"
    x = ", ".join(f"{v:.6g}" for v in np.asarray(basis.doflocs)[:, dof])
    t = ", ".join(f"{v:.6g}" for v in target)
    return (
        f"periodic bc: boundary nodes do not match: {what} at ({x}) has no partner at "
        f"({t}) on the opposite face (tolerance {tol:.1e}; {count} such nodes); periodic "
        "conditions need a mesh whose opposite boundary nodes match"
    )


class ConstrainedSystem:
    """Reduced or bordered system ``[[P^T K P, P^T C^T], [C P, 0]]`` with a fixed CSR pattern.

    Built from the full-dof positions ``(rows, cols)`` of the stiffness entries that
    will be supplied (any order, repeats summed): the entries of a global CSR matrix
    (:meth:`for_matrix`) or of the element matrices (:meth:`for_elements`).

    Attributes
    ----------
    constraints : MicroConstraints
    n_red, m, n : int
        Reduced dofs, multipliers, system size ``n_red + m``.
    indptr, indices : ndarray
        CSR structure of the ``(n, n)`` system (sorted columns, no duplicates).
    keys : ndarray (nnz,) of int64
        Flat position ``row * n + col`` of every stored entry (for dense batches).
    nnz : int
    assembly : scipy.sparse.csr_matrix (nnz, n_entries)
        0/1 map from the stiffness entries to the system data (fixed dofs dropped,
        periodic partners summed).
    const : ndarray (nnz,)
        The constant multiplier part (``C P`` and its transpose).
    element_loads : scipy.sparse.csr_matrix (n, n_el * nb) or None
        Map of element load entries ``(e, i)`` to ``[P^T F; 0]`` (:meth:`for_elements`).
    """

    def __init__(self, constraints: MicroConstraints, rows: np.ndarray, cols: np.ndarray):
        c = constraints
        rmap = c.rmap
        self.constraints = c
        self.N, self.n_red, self.m = c.N, c.n_red, c.m
        self.n = n = self.n_red + self.m
        self.P = c.P
        self.PT = self.P.T.tocsr()
        rr, rc = rmap[rows], rmap[cols]
        keep = (rr >= 0) & (rc >= 0)
        keys = [rr[keep].astype(np.int64) * n + rc[keep]]
        cdata = np.zeros(0)
        if c.C is not None:
            a, j = np.nonzero(c.C)
            ri = self.n_red + a.astype(np.int64)
            cj = rmap[j].astype(np.int64)
            ok = cj >= 0
            ri, cj, vals = ri[ok], cj[ok], c.C[a[ok], j[ok]]
            keys += [ri * n + cj, cj * n + ri]
            cdata = np.concatenate([vals, vals])
        uniq, inv = np.unique(np.concatenate(keys), return_inverse=True)
        inv = inv.ravel()
        nk = int(keep.sum())
        self.keys = uniq
        self.nnz = int(uniq.size)
        self.n_entries = int(rows.size)
        self.assembly = sp.csr_matrix(
            (np.ones(nk), (inv[:nk], np.flatnonzero(keep))), shape=(self.nnz, rows.size)
        )
        self.const = np.bincount(inv[nk:], weights=cdata, minlength=self.nnz)
        self.indices = (uniq % n).astype(np.int32)
        self.indptr = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(np.bincount(uniq // n, minlength=n), out=self.indptr[1:])
        self._CCt_inv = None if c.C is None else np.linalg.inv(c.C @ c.C.T)
        self.element_loads: sp.csr_matrix | None = None

    @classmethod
    def for_matrix(cls, constraints: MicroConstraints, K: sp.csr_matrix) -> ConstrainedSystem:
        """System for full stiffness matrices with the CSR pattern of ``K (N, N)``.

        :meth:`matrix` then takes any ``K`` of that pattern (same ``indptr``/``indices``).
        """
        K = sp.csr_matrix(K)
        rows = np.repeat(np.arange(K.shape[0]), np.diff(K.indptr))
        return cls(constraints, rows, np.asarray(K.indices))

    @classmethod
    def for_elements(cls, constraints: MicroConstraints,
                     element_dofs: np.ndarray) -> ConstrainedSystem:
        """System for element matrices ``(n_el, nb, nb)`` flattened row-major.

        ``element_dofs (nb, n_el)`` (scikit-fem's ``basis.element_dofs``). Also builds
        :attr:`element_loads`, the map of element load vectors to the system rows.
        """
        edofs = np.asarray(element_dofs).T  # (nel, nb)
        nb = edofs.shape[1]
        rows = np.repeat(edofs, nb, axis=1).ravel()
        cols = np.tile(edofs, (1, nb)).ravel()
        system = cls(constraints, rows, cols)
        ri = constraints.rmap[edofs].ravel()
        ok = ri >= 0
        system.element_loads = sp.csr_matrix(
            (np.ones(int(ok.sum())), (ri[ok], np.flatnonzero(ok))), shape=(system.n, edofs.size)
        )
        return system

    def data(self, entries: np.ndarray) -> np.ndarray:
        """System data ``(nnz, *k)`` for stiffness entries ``(n_entries, *k)``."""
        out = self.assembly @ entries
        return out + self.const.reshape((-1,) + (1,) * (out.ndim - 1))

    def matrix(self, K: sp.csr_matrix | np.ndarray) -> sp.csr_matrix:
        """The ``(n, n)`` system for a full stiffness or its entries; the same CSR pattern.

        ``K``: a CSR matrix ``(N, N)`` with the pattern given to :meth:`for_matrix`, or
        the stiffness entries ``(n_entries,)`` in the order of the constructor.
        """
        entries = K.data if sp.issparse(K) else np.asarray(K)
        if entries.shape != (self.n_entries,):
            raise ValueError(
                f"ConstrainedSystem.matrix: got {entries.shape[0]} stiffness entries, the "
                f"pattern has {self.n_entries}"
            )
        return sp.csr_matrix((self.data(entries), self.indices, self.indptr),
                             shape=(self.n, self.n))

    def rhs(self, F: np.ndarray, w: np.ndarray | None) -> np.ndarray:
        """``-[P^T F; C w]`` for ``F (N,)`` or ``(N, k)`` (``w`` None: zero constraint part)."""
        top = self.PT @ F
        if self.m == 0:
            return -top
        C = self.constraints.C
        bot = np.zeros((self.m,) + F.shape[1:]) if w is None else C @ w
        return -np.concatenate([top, bot], axis=0)

    def expand(self, x: np.ndarray) -> np.ndarray:
        """Full fluctuation ``P x[:n_red]`` ``(N, *k)`` from a system solution ``(n, *k)``."""
        return self.P @ x[: self.n_red]

    def residual_norm(self, f: np.ndarray, w: np.ndarray) -> float:
        """Norm of the equilibrium residual of internal force ``f (N,)`` at ``w (N,)``.

        ``|P^T f|``; with multipliers the residual with the best multipliers
        (least squares) combined with the constraint violation ``|C w|``.
        """
        if self.m == 0:
            return float(np.linalg.norm(self.PT @ f))
        C = self.constraints.C
        lam = self._CCt_inv @ (C @ f)
        return float(np.hypot(np.linalg.norm(f - C.T @ lam), np.linalg.norm(C @ w)))
