"""Quasicontinuum: local (Cauchy–Born finite elements) and cluster-based (Knap–Ortiz).

Both describe a crystal by a few *representative atoms* (rep atoms), the nodes
of a linear finite-element mesh whose elements are larger than the lattice
spacing; every other atom follows by interpolation, ``x_a = sum_I N_I(X_a) x_I``.

Local QC
    :class:`LocalQC` is the finite-strain macro :class:`~fe2.macro.Problem` with
    the :class:`~fe2.atomistic.lattice.CauchyBorn` oracle on a mesh whose nodes are
    lattice sites (:func:`lattice_mesh`): the energy is ``int W(F) dV``.

Cluster QC
    :class:`ClusterQC` samples the *atomistic* energy on clusters ``C_I`` of
    atoms around each rep atom (all atoms within ``cluster_radius`` of ``X_I``
    whose nearest rep atom is ``I``, so clusters never overlap and shrink to
    the rep atom itself where the mesh is fully refined)::

        E_QC = sum_I n_I sum_{a in C_I} E_a,    E_a = 1/2 sum_b phi(|x_b - x_a|)

    The weights ``n_I`` make the rule exact for the shape functions,
    ``sum_I n_I sum_{a in C_I} N_J(X_a) = sum_a N_J(X_a)`` for every ``J``
    (Knap & Ortiz, J. Mech. Phys. Solids 49, 2001), or with ``weights="lumped"``
    ``n_I = sum_a N_I(X_a) / |C_I|``. With ``w_a = n_I`` on the cluster atoms
    the energy is the weighted pair sum ``sum_ab (w_a + w_b) / 2 phi(r_ab)``, so
    forces and stiffness are those of the weighted atoms projected on the rep
    atoms: ``f = Phi^T f_atoms``, ``K = Phi^T K_atoms Phi``. A ``cluster_radius``
    of 0 is the node-based rule; a radius larger than the elements sums over
    every atom (then only the interpolation error remains).

The unknowns are the rep-atom displacements ``w_I`` relative to the affine map
``F X``: ``x_a = F X_a + sum_I N_I(X_a) w_I``. A fully periodic crystal uses a
periodic mesh (Delaunay of the rep atoms tiled over the neighbouring boxes) and
the deformed box ``F H0``; rep atom 0 is held (rigid translation). A crystal
with free boundaries needs its hull atoms as rep atoms.

Adaptivity (:func:`refine`): the deformation gradient is constant per element;
elements across whose faces it jumps by more than ``tol`` (Frobenius norm) get
the lattice sites of the next finer level (spacing halved) as new rep atoms,
down to full atomistic resolution. :func:`initial_rep_atoms` starts from a coarse
grid plus every atom near a defect (atoms that miss nearest neighbours).
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from scipy.spatial import ConvexHull, Delaunay, cKDTree

from fe2.atomistic.kernels import block_positions, locate, pair_coefficients, project_hessian
from fe2.atomistic.lattice import CauchyBorn, Crystal
from fe2.atomistic.neighbours import NeighbourList, build_pairs
from fe2.atomistic.potentials import PairPotential, check_potential
from fe2.atomistic.system import minimize_energy, pair_energy

__all__ = [
    "lattice_mesh",
    "LocalQC",
    "ClusterQC",
    "QCResult",
    "defect_atoms",
    "initial_rep_atoms",
    "refine",
    "adaptive_qc",
    "compare",
]

log = logging.getLogger(__name__)

# small fixed perturbation of the metric used for the Delaunay triangulation
_TIE_BREAK = np.array([[0.0, 3.1e-4, 1.7e-4], [0.0, 2.3e-4, 4.3e-4], [0.0, 0.0, 1.3e-4]])

# ---------------------------------------------------------------- local QC


def lattice_mesh(
    cb: CauchyBorn, n_cells: int | Sequence[int], spacing: int = 1
) -> skfem.Mesh:
    """Linear mesh of a block of ``n_cells`` lattice cells whose nodes are lattice sites.

    2D: a parallelogram spanned by ``n_cells[k]`` copies of the cell vectors (a
    rectangle for ``square``), triangles with vertices every ``spacing`` cells
    (lattice triangles for ``triangular``). 3D: a box of conventional cubes cut
    into tetrahedra, vertices at cube corners every ``spacing`` cells. Boundaries
    ``left, right, bottom, top`` (and ``front, back`` in 3D) are tagged.
    """
    lat, a = cb.lattice, cb.lattice_constant
    d = lat.dim
    n = (n_cells,) * d if isinstance(n_cells, int | np.integer) else tuple(n_cells)
    if len(n) != d or any(int(k) < 1 for k in n):
        raise ValueError(f"lattice_mesh: n_cells must be {d} positive ints, got {n_cells!r}")
    s = int(spacing)
    if s < 1 or any(k % s for k in n):
        raise ValueError(
            f"lattice_mesh: spacing must be a positive divisor of every n_cells {n}, "
            f"got {spacing!r}"
        )
    axes = [np.arange(0, k + 1, s, dtype=float) for k in n]
    if d == 3:
        mesh = skfem.MeshTet.init_tensor(*axes).with_defaults()
        return mesh.scaled(a * np.abs(np.diag(lat.cell)))
    ni, nj = len(axes[0]), len(axes[1])
    I, J = np.meshgrid(axes[0], axes[1], indexing="ij")
    idx = np.vstack([I.ravel(), J.ravel()])
    p = a * (lat.cell.T @ idx)
    node = np.arange(ni * nj).reshape(ni, nj)
    n00, n10 = node[:-1, :-1].ravel(), node[1:, :-1].ravel()
    n01, n11 = node[:-1, 1:].ravel(), node[1:, 1:].ravel()
    t = np.hstack([np.vstack([n00, n10, n01]), np.vstack([n10, n11, n01])])
    mesh = skfem.MeshTri(p, t)
    back = np.linalg.inv(a * lat.cell.T)

    def side(k, v):
        return lambda x: np.isclose(np.einsum("ij,j...->i...", back, x)[k], v)

    return mesh.with_boundaries({"left": side(0, 0), "right": side(0, n[0]),
                                 "bottom": side(1, 0), "top": side(1, n[1])})


class LocalQC:
    """Local quasicontinuum: finite-strain FE with the Cauchy–Born oracle.

    Parameters
    ----------
    cb : CauchyBorn
        The lattice oracle (its lattice constant fixes the reference lattice).
    n_cells : int or sequence of int
        Size of the block in cells.
    spacing : int
        Element size in cells: the rep atoms are every ``spacing``-th site.
    order : int
        Lagrange order of the elements (1: nodes are rep atoms).

    Attributes
    ----------
    problem : fe2.macro.Problem
        Finite-strain problem; add boundary conditions and call ``solve``.
    """

    def __init__(self, cb: CauchyBorn, n_cells, spacing: int = 1, order: int = 1):
        from fe2.macro import Problem

        if not isinstance(cb, CauchyBorn):
            raise ValueError(f"LocalQC: cb must be a CauchyBorn oracle, got {type(cb).__name__}")
        self.cb = cb
        self.mesh = lattice_mesh(cb, n_cells, spacing)
        self.problem = Problem(self.mesh, cb, kind="finite_strain", order=order, name="LocalQC")

    @property
    def n_rep_atoms(self) -> int:
        """Number of mesh vertices (rep atoms)."""
        return int(self.mesh.nvertices)

    def volume(self) -> float:
        """Reference volume (area in 2D) of the mesh."""
        return float(np.sum(self.problem.basis.dx))

    def energy(self, u: np.ndarray | None = None) -> float:
        """``int W(F) dV`` for the dof vector ``u`` (default: the current solution)."""
        u = self.problem.u if u is None else u
        F = self.problem.op.measure(u)
        return float(np.sum(self.cb.energy(F) * self.problem.basis.dx))

    def prescribe_affine(self, F: np.ndarray) -> LocalQC:
        """Dirichlet ``u = (F - I) X`` (scaled by the load factor) on every boundary."""
        G = np.asarray(F, dtype=float) - np.eye(self.cb.dim)
        for name in self.mesh.boundaries:
            self.problem.dirichlet(name, lambda x, t, G=G: t * np.einsum("ij,j...->i...", G, x))
        return self


# ---------------------------------------------------------------- cluster QC


@dataclass(frozen=True)
class QCResult:
    """A relaxed cluster-QC configuration.

    Attributes
    ----------
    w : ndarray
        ``(n_rep, d)`` rep-atom displacements relative to ``F X``.
    positions : ndarray
        ``(n_atoms, d)`` interpolated positions of all atoms.
    energy : float
        Cluster-rule energy ``E_QC``.
    max_force : float
        Largest free rep-atom force component.
    iterations : int
    converged : bool
    seconds : float
    n_rep : int
    n_dofs : int
        Free degrees of freedom.
    """

    w: np.ndarray
    positions: np.ndarray
    energy: float
    max_force: float
    iterations: int
    converged: bool
    seconds: float
    n_rep: int
    n_dofs: int


class ClusterQC:
    """Cluster-based quasicontinuum (Knap–Ortiz summation rule).

    Parameters
    ----------
    crystal : Crystal
        The full crystal (a simple lattice; vacancies allowed), fully periodic
        or with free boundaries.
    potential : PairPotential
        The atomistic potential.
    rep_atoms : array of int
        Indices of the representative atoms (atom 0 is added when periodic).
    F : ndarray, optional
        ``(d, d)`` affine part of the deformation (default identity).
    cluster_radius : float
        Radius of the summation clusters [length], >= 0.
    weights : {"exact", "lumped"}
        Cluster weights (see module docs).
    fixed : array of int, optional
        Atom indices (rep atoms) held at ``F X`` (free boundaries).
    skin : float, optional
        Verlet skin of the neighbour list (default ``0.3 cutoff``).
    """

    def __init__(
        self,
        crystal: Crystal,
        potential: PairPotential,
        rep_atoms: Sequence[int] | np.ndarray,
        F: np.ndarray | None = None,
        cluster_radius: float = 0.0,
        weights: Literal["exact", "lumped"] = "exact",
        fixed: Sequence[int] | np.ndarray | None = None,
        skin: float | None = None,
    ):
        name = type(self).__name__
        if not isinstance(crystal, Crystal):
            raise ValueError(f"{name}: crystal must be a Crystal, got {type(crystal).__name__}")
        if crystal.lattice.n_basis != 1:
            raise ValueError(
                f"{name}: the lattice {crystal.lattice.name!r} has {crystal.lattice.n_basis} atoms "
                f"per primitive cell; cluster QC interpolates simple lattices only"
            )
        self.crystal = crystal
        self.potential = check_potential(name, potential)
        if potential.bonded:
            raise ValueError(f"{name}: use a potential with a cutoff (LennardJones or Morse)")
        d = crystal.dim
        self.dim = d
        self.F = np.eye(d) if F is None else np.array(F, dtype=float)
        if self.F.shape != (d, d):
            raise ValueError(f"{name}: F must have shape ({d}, {d}), got {self.F.shape}")
        if not (math.isfinite(cluster_radius) and cluster_radius >= 0):
            raise ValueError(f"{name}: cluster_radius must be >= 0, got {cluster_radius!r}")
        self.cluster_radius = float(cluster_radius)
        if weights not in ("exact", "lumped"):
            raise ValueError(f"{name}: weights must be 'exact' or 'lumped', got {weights!r}")
        self.weights = weights
        per = crystal.periodic
        if any(per) and not all(per):
            raise ValueError(f"{name}: mixed periodicity {per} is not supported")
        self.periodic = all(per)
        rep = np.unique(np.asarray(rep_atoms, dtype=np.int64))
        n = crystal.n_atoms
        if rep.size == 0 or rep[0] < 0 or rep[-1] >= n:
            raise ValueError(f"{name}: rep_atoms must be atom indices in [0, {n}), got "
                             f"{rep.size} indices")
        if self.periodic and rep[0] != 0:
            rep = np.concatenate([[0], rep])
        self.rep = rep
        self.n_rep = len(rep)
        self._rep_of_atom = np.full(n, -1, dtype=np.int64)
        self._rep_of_atom[rep] = np.arange(self.n_rep)
        if fixed is None:
            fixed_rep = np.array([0] if self.periodic else [], dtype=np.int64)
        else:
            fx = np.asarray(fixed, dtype=np.int64)
            fixed_rep = self._rep_of_atom[fx]
            if np.any(fixed_rep < 0):
                raise ValueError(f"{name}: fixed atoms must be rep atoms; atom "
                                 f"{int(fx[np.argmax(fixed_rep < 0)])} is not")
        self.fixed_rep = np.unique(fixed_rep)
        self._build_mesh()
        self._build_clusters()
        sk = 0.3 * potential.cutoff if skin is None else float(skin)
        self._nl = NeighbourList(potential.cutoff, sk, crystal.periodic,
                                 active=self.atom_weight != 0)
        self.box = self.F @ crystal.box
        self._pattern: tuple | None = None
        free = np.ones(self.n_rep, dtype=bool)
        free[self.fixed_rep] = False
        self.free = np.where(np.repeat(free, d))[0]

    # ------------------------------------------------------------------ mesh
    def _build_mesh(self) -> None:
        cr, d = self.crystal, self.dim
        XR = cr.positions[self.rep]
        H0 = cr.box
        if self.periodic:
            imgs = np.array(list(itertools.product((-1, 0, 1), repeat=d)), dtype=np.int64)
            pts = np.concatenate([XR + H0 @ m for m in imgs])
            pid = np.tile(np.arange(self.n_rep), len(imgs))
            pim = np.repeat(imgs, self.n_rep, axis=0)
        else:
            pts, pid = XR, np.arange(self.n_rep)
            pim = np.zeros((self.n_rep, d), dtype=np.int64)
        # a fixed generic linear map breaks the ties of cocircular lattice points the same
        # way in every periodic image, so that the tiled triangulation is consistent
        self._skew = np.eye(d) + _TIE_BREAK[:d, :d]
        tri = Delaunay(pts @ self._skew.T)
        simp = tri.simplices
        vol = _simplex_volumes(pts[simp])
        scale = np.median(vol)
        ok = vol > 1e-9 * scale
        Hinv = np.linalg.inv(H0)
        if self.periodic:
            cen = pts[simp].mean(axis=1) @ Hinv.T
            shift = np.floor(cen + 1e-9).astype(np.int64)
            keep = ok & np.all(shift == 0, axis=1)
        else:
            shift = np.zeros((len(simp), d), dtype=np.int64)
            keep = ok
        kept = np.where(keep)[0]
        self.elements = pid[simp[kept]]  # (n_el, d+1) rep indices
        self.element_images = pim[simp[kept]]  # (n_el, d+1, d) periodic image of each vertex
        self.element_X = pts[simp[kept]]  # (n_el, d+1, d) reference vertex positions
        total = float(vol[kept].sum())
        expect = abs(np.linalg.det(H0)) if self.periodic else float(ConvexHull(XR).volume)
        if abs(total - expect) > 1e-8 * expect:
            raise ValueError(
                f"ClusterQC: the rep-atom mesh covers {total:.6g} instead of {expect:.6g}; "
                f"the rep atoms are too sparse for a periodic Delaunay mesh"
            )
        # shape-function gradients per element (constant): (n_el, d+1, d)
        Xe = self.element_X
        D = Xe[:, 1:, :] - Xe[:, :1, :]  # (n_el, d, d) rows: edge vectors
        Dinv = np.linalg.inv(D)  # columns: dlambda_{1..d} / dX
        G = np.empty_like(Xe)
        G[:, 1:, :] = np.swapaxes(Dinv, 1, 2)
        G[:, 0, :] = -G[:, 1:, :].sum(axis=1)
        self.grad_N = G
        # locate every atom
        X = cr.positions
        Xs = np.ascontiguousarray(X @ self._skew.T)
        s = _locate(Xs, np.ascontiguousarray(tri.points[simp]), tri.transform, 1e-9)
        if np.any(s < 0):
            bad = int(np.argmax(s < 0))
            raise ValueError(
                f"ClusterQC: atom {bad} at {X[bad]} lies outside the rep-atom mesh; "
                f"include the hull atoms as rep atoms"
            )
        T = tri.transform[s]  # (n, d+1, d)
        lam = np.einsum("nij,nj->ni", T[:, :d, :], Xs - T[:, d, :])
        bary = np.hstack([lam, 1.0 - lam.sum(axis=1, keepdims=True)])
        ids = pid[simp[s]]
        n = cr.n_atoms
        isrep = self._rep_of_atom >= 0
        bary[isrep] = 0.0
        ids[isrep] = self._rep_of_atom[isrep][:, None]
        bary[isrep, 0] = 1.0
        rows = np.repeat(np.arange(n), d + 1)
        self.Phi = sp.csr_matrix((bary.ravel(), (rows, ids.ravel())), shape=(n, self.n_rep))
        self.Phi.eliminate_zeros()
        # the simplex holding an atom may be an image of a kept element: canonical keys match
        us, inv = np.unique(s, return_inverse=True)
        ka = _vertex_codes(pid[simp[us]], pim[simp[us]] - shift[us][:, None, :])
        kk = _vertex_codes(self.elements, self.element_images)
        _, where = np.unique(np.vstack([kk, ka]), axis=0, return_inverse=True)
        where = where.ravel()
        lookup = np.full(where.max() + 1, -1, dtype=np.int64)
        lookup[where[: len(kk)]] = np.arange(len(kk))
        atom_el = lookup[where[len(kk):]][inv.ravel()]
        self.atom_element = atom_el

    # ------------------------------------------------------------------ clusters
    def _build_clusters(self) -> None:
        cr, d = self.crystal, self.dim
        XR = cr.positions[self.rep]
        if self.periodic:
            imgs = np.array(list(itertools.product((-1, 0, 1), repeat=d)), dtype=np.int64)
            pts = np.concatenate([XR + cr.box @ m for m in imgs])
            pid = np.tile(np.arange(self.n_rep), len(imgs))
        else:
            pts, pid = XR, np.arange(self.n_rep)
        dist, k = cKDTree(pts).query(cr.positions)
        owner = pid[k]
        owner[self.rep] = np.arange(self.n_rep)
        dist[self.rep] = 0.0
        tol = 1e-9 * cr.lattice_constant
        member = dist <= self.cluster_radius + tol
        self.cluster_of_atom = np.where(member, owner, -1)
        size = np.bincount(owner[member], minlength=self.n_rep)
        n = cr.n_atoms
        b = np.asarray(self.Phi.sum(axis=0)).ravel()  # sum_a N_J(X_a)
        if self.weights == "lumped":
            nI = b / size
        else:
            C = sp.csr_matrix((np.ones(int(member.sum())), (np.where(member)[0], owner[member])),
                              shape=(n, self.n_rep))
            M = (self.Phi.T @ C).tocsc()
            nI = spla.spsolve(M, b)
            res = np.linalg.norm(M @ nI - b) / np.linalg.norm(b)
            if not res < 1e-8:
                raise ValueError(
                    f"ClusterQC: cluster weights are ill-determined (residual {res:.1e})"
                )
        if np.any(nI <= 0):
            log.info("ClusterQC: %d non-positive cluster weights", int((nI <= 0).sum()))
        self.node_weight = nI
        self.cluster_size = size
        self.atom_weight = np.where(member, nI[owner], 0.0)

    # ------------------------------------------------------------------ energy
    @property
    def n_sampling_atoms(self) -> int:
        """Atoms with a nonzero summation weight."""
        return int(np.count_nonzero(self.atom_weight))

    def positions(self, w: np.ndarray | None = None) -> np.ndarray:
        """Interpolated positions ``(n_atoms, d)`` of all atoms for rep displacements ``w``."""
        x = self.crystal.positions @ self.F.T
        if w is not None:
            x = x + self.Phi @ np.asarray(w, dtype=float).reshape(self.n_rep, self.dim)
        return x

    def _atoms(self, w, hessian):
        x = np.ascontiguousarray(self.positions(w))
        pairs = self._nl.update(x, self.box)
        pi, pj, _ = pairs
        omega = 0.5 * (self.atom_weight[pi] + self.atom_weight[pj])
        if not hessian:
            return pair_energy(self.potential, x, pairs, self.box, omega)
        E, g, K = pair_energy(self.potential, x, pairs, self.box, omega, blocks=True)
        return E, g, self._project(pairs, K)

    def _project(self, pairs, K: np.ndarray) -> sp.csr_matrix:
        """``Phi^T K_atoms Phi`` from per-pair blocks ``K (np, d, d)`` (pattern cached per list)."""
        d, nrep = self.dim, self.n_rep
        if self._pattern is None or self._pattern[0] is not pairs:
            pi, pj, _ = pairs
            width = 2 * (d + 1)
            cI = np.zeros((len(pi), width), dtype=np.int64)
            cv = np.zeros((len(pi), width))
            cn = np.zeros(len(pi), dtype=np.int64)
            P = self.Phi
            pair_coefficients(pi, pj, P.indptr.astype(np.int64), P.indices.astype(np.int64),
                              P.data, width, cI, cv, cn)
            # block pattern of Phi^T K Phi: the structure of B^T B, B = pair -> rep atoms
            valid = np.arange(width)[None, :] < cn[:, None]
            B = sp.csr_matrix((np.ones(int(valid.sum())), (np.nonzero(valid)[0], cI[valid])),
                              shape=(len(pi), nrep))
            S = (B.T @ B).tocsr()
            S.sort_indices()
            indptr = S.indptr.astype(np.int64)
            cols = S.indices.astype(np.int64)
            pos = np.zeros((len(pi), width, width), dtype=np.int64)
            block_positions(cI, cn, indptr, cols, pos)
            self._pattern = (pairs, cv, cn, pos, cols, indptr)
        _, cv, cn, pos, cols, indptr = self._pattern
        blocks = np.empty((len(cols), d, d))
        project_hessian(K, cv, cn, pos, blocks)
        return sp.bsr_matrix((blocks, cols, indptr), shape=(nrep * d, nrep * d)).tocsr()

    def energy(self, w: np.ndarray | None = None) -> float:
        """Cluster-rule energy ``E_QC``."""
        return self._atoms(w, False)[0]

    def energy_and_gradient(self, w: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """``E_QC`` and ``dE_QC/dw (n_rep, d)`` (minus the rep-atom forces)."""
        E, g, _ = self._atoms(w, False)
        return E, np.asarray(self.Phi.T @ g)

    def hessian(self, w: np.ndarray | None = None) -> sp.csr_matrix:
        """Stiffness ``Phi^T K_atoms Phi`` ``(n_rep d, n_rep d)``, dof ``I * d + k``."""
        return self._atoms(w, True)[2]

    def element_F(self, w: np.ndarray | None = None) -> np.ndarray:
        """Deformation gradient per element ``(n_el, d, d)``."""
        Fe = np.broadcast_to(self.F, (len(self.elements), self.dim, self.dim)).copy()
        if w is not None:
            W = np.asarray(w, dtype=float).reshape(self.n_rep, self.dim)
            Fe += np.einsum("evi,evJ->eiJ", W[self.elements], self.grad_N)
        return Fe

    def relax(
        self,
        w0: np.ndarray | None = None,
        method: Literal["newton", "lbfgs"] = "newton",
        gtol: float = 1e-10,
        max_iter: int = 100,
    ) -> QCResult:
        """Minimize ``E_QC`` over the free rep atoms from ``w0`` (default zero)."""
        d = self.dim
        w = np.zeros(self.n_rep * d) if w0 is None else np.array(w0, dtype=float).ravel()
        free = self.free

        def full(wf):
            v = w.copy()
            v[free] = wf
            return v

        def fg(wf):
            E, g = self.energy_and_gradient(full(wf))
            return E, g.ravel()[free]

        def hess(wf):
            return self.hessian(full(wf))[free][:, free]

        wf, E, gmax, it, ok, dt = minimize_energy(fg, hess, w[free], method, gtol, max_iter)
        wfull = full(wf).reshape(self.n_rep, d)
        return QCResult(wfull, self.positions(wfull), E, gmax, it, ok, dt, self.n_rep, len(free))


def _locate(points: np.ndarray, verts: np.ndarray, transform: np.ndarray, tol: float) -> np.ndarray:
    """Simplex containing each point (-1 if none), by a uniform grid of simplex bounding boxes.

    ``verts (m, d+1, d)`` simplex vertices, ``transform`` scipy's barycentric
    transform. Of several simplices (a point on a face) the one where the point is
    deepest inside wins.
    """
    lo = verts.min(axis=1)
    hi = verts.max(axis=1)
    size = float(np.median(np.max(hi - lo, axis=1)))
    glo = np.minimum(lo.min(axis=0), points.min(axis=0)) - 1e-9
    ghi = np.maximum(hi.max(axis=0), points.max(axis=0)) + 1e-9
    ncell = np.maximum(1, np.ceil((ghi - glo) / size).astype(np.int64))
    return locate(points, transform, lo, hi, glo, size, ncell, tol)


def _vertex_codes(ids: np.ndarray, img: np.ndarray) -> np.ndarray:
    """Sorted integer codes ``(m, k)`` of simplices given vertex ids ``(m, k)`` and images."""
    d = img.shape[-1]
    enc = np.zeros(ids.shape, dtype=np.int64)
    for k in range(d):
        enc = enc * 7 + (img[..., k] + 3)
    return np.sort(ids.astype(np.int64) * 7**d + enc, axis=1)


def _simplex_volumes(P: np.ndarray) -> np.ndarray:
    """Volumes of simplices ``P (m, d+1, d)``."""
    d = P.shape[-1]
    D = P[:, 1:, :] - P[:, :1, :]
    return np.abs(np.linalg.det(D)) / math.factorial(d)


# ---------------------------------------------------------------- rep atoms and adaptivity


def defect_atoms(crystal: Crystal) -> np.ndarray:
    """Atoms with fewer nearest neighbours than the perfect lattice (vacancies, surfaces)."""
    lat = crystal.lattice
    radius = lat.bond_radius() * crystal.lattice_constant
    pi, pj, _ = build_pairs(crystal.positions, radius, crystal.box, crystal.periodic)
    z = np.bincount(pi, minlength=crystal.n_atoms) + np.bincount(pj, minlength=crystal.n_atoms)
    return np.where(z < lat.coordination)[0]


def initial_rep_atoms(
    crystal: Crystal,
    spacing: int,
    core_radius: float = 0.0,
    centers: np.ndarray | None = None,
) -> np.ndarray:
    """Coarse rep atoms every ``spacing`` cells plus all atoms within ``core_radius`` of defects.

    ``centers``: atom indices around which to refine fully (default
    :func:`defect_atoms`, restricted to interior defects for free boundaries).
    Hull atoms are added for a crystal with free boundaries.
    """
    s = int(spacing)
    if s < 1:
        raise ValueError(f"initial_rep_atoms: spacing must be >= 1, got {spacing!r}")
    grid = np.where(np.all(crystal.cells % s == 0, axis=1) & (crystal.basis_index == 0))[0]
    reps = [grid]
    if not all(crystal.periodic):
        reps.append(ConvexHull(crystal.positions).vertices)
    if centers is None:
        centers = defect_atoms(crystal) if all(crystal.periodic) else np.zeros(0, dtype=np.int64)
    if core_radius > 0 and len(centers):
        tree_pts = crystal.positions
        for cidx in np.asarray(centers):
            reps.append(crystal.within(tree_pts[cidx], core_radius))
    return np.unique(np.concatenate(reps))


def refine(qc: ClusterQC, w: np.ndarray | None, tol: float) -> tuple[np.ndarray, int]:
    """Rep atoms after one adaptive refinement, and the number of marked elements.

    An element is marked when ``|F_e - F_e'|`` (Frobenius) exceeds ``tol`` for a
    face neighbour ``e'``. A marked element of longest edge ``h`` gets the sites
    it contains on the grid of spacing ``2^floor(log2(h / 2 l))`` cells (``l`` the
    shortest cell vector), i.e. the next finer level, down to every site.
    """
    if not tol > 0:
        raise ValueError(f"refine: tol must be > 0, got {tol!r}")
    Fe = qc.element_F(w)
    d = qc.dim
    ne = len(Fe)
    codes, owner = [], []
    for skip in range(d + 1):
        loc = [v for v in range(d + 1) if v != skip]
        ids = qc.elements[:, loc]
        img = qc.element_images[:, loc]
        # images relative to the face vertex of smallest id: the same in every periodic copy
        ref = np.argmin(ids, axis=1)
        img = img - img[np.arange(ne), ref][:, None, :]
        codes.append(_vertex_codes(ids, img))
        owner.append(np.arange(ne))
    codes = np.vstack(codes)
    owner = np.concatenate(owner)
    _, inv, cnt = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    order = np.argsort(inv, kind="stable")
    shared = cnt[inv[order]] == 2
    pairs = owner[order][shared].reshape(-1, 2)
    jump = np.linalg.norm(Fe[pairs[:, 0]] - Fe[pairs[:, 1]], axis=(1, 2))
    marked = np.zeros(ne, dtype=bool)
    big = pairs[jump > tol]
    marked[big[:, 0]] = True
    marked[big[:, 1]] = True
    cr = qc.crystal
    ell = float(np.min(np.linalg.norm(cr.lattice.cell, axis=1))) * cr.lattice_constant
    Xe = qc.element_X
    edges = [np.linalg.norm(Xe[:, i] - Xe[:, j], axis=1)
             for i in range(d + 1) for j in range(i + 1, d + 1)]
    h = np.max(edges, axis=0)
    new = [qc.rep]
    for e in np.where(marked)[0]:
        ratio = h[e] / (2.0 * ell)
        if ratio < 1.0 - 1e-9:
            continue
        step = 2 ** int(math.floor(math.log2(ratio + 1e-9)))
        atoms = np.where(qc.atom_element == e)[0]
        sel = atoms[np.all(cr.cells[atoms] % step == 0, axis=1)]
        new.append(sel)
    reps = np.unique(np.concatenate(new))
    return reps, int(marked.sum())


def adaptive_qc(
    crystal: Crystal,
    potential: PairPotential,
    rep_atoms: np.ndarray,
    F: np.ndarray | None = None,
    tol: float = 1e-2,
    cluster_radius: float = 0.0,
    max_cycles: int = 8,
    **kwargs,
) -> list[tuple[ClusterQC, QCResult]]:
    """Solve, refine where ``F`` jumps by more than ``tol``, repeat until nothing is marked.

    Returns ``[(qc, result), ...]`` of every cycle; the last is the adapted
    solution. Keyword arguments go to :class:`ClusterQC`.
    """
    history = []
    reps = np.asarray(rep_atoms)
    w0 = None
    for cycle in range(max_cycles + 1):
        qc = ClusterQC(crystal, potential, reps, F, cluster_radius, **kwargs)
        if w0 is not None:
            # warm start: interpolate the previous solution at the new rep atoms
            w0 = history[-1][1].positions[qc.rep] - crystal.positions[qc.rep] @ qc.F.T
        t0 = time.perf_counter()
        res = qc.relax(w0)
        log.info("adaptive QC cycle %d: %d rep atoms, E=%.10g (%.2fs)", cycle, qc.n_rep,
                 res.energy, time.perf_counter() - t0)
        history.append((qc, res))
        new, nmarked = refine(qc, res.w, tol)
        if len(new) == len(qc.rep):
            break
        reps = new
        w0 = True
    return history


def compare(result: QCResult, reference: np.ndarray, reference_energy: float) -> dict:
    """Errors of a QC result against full atomistics: energy and displacements of all atoms.

    Returns ``energy_error`` (``E_QC - E_atom``), ``max_displacement_error`` and
    ``rms_displacement_error`` [length], ``n_rep`` and ``n_dofs``.
    """
    du = result.positions - reference
    return {
        "energy_error": float(result.energy - reference_energy),
        "max_displacement_error": float(np.max(np.linalg.norm(du, axis=1))),
        "rms_displacement_error": float(np.sqrt(np.mean(np.sum(du**2, axis=1)))),
        "n_rep": result.n_rep,
        "n_dofs": result.n_dofs,
    }
