"""Finite-element kernels (numba, one pass over the elements) on top of scikit-fem bases.

The macro problems and the RVE solvers both need the same three operations for
a gradient-type weak form, given flux and tangent arrays at the quadrature
points (typically straight from an oracle):

* the field measure at the quadrature points (``grad u``, ``sym grad u`` or
  ``F = I + grad u``), :meth:`GradientOperator.measure`;
* the internal force vector ``r_i = sum_q w_q G_i(q) : flux(q)``;
* the tangent matrix ``K_ij = sum_q w_q G_i(q) : T(q) : G_j(q)``.

``G_i`` is the gradient of local basis function ``i``: ``(d, n_el, n_qp)`` for
scalar elements, ``(d, d, n_el, n_qp)`` for vector elements. The CSR pattern is
built once, so every re-assembly produces a matrix with the same ``indptr`` /
``indices`` (the direct solvers reuse their symbolic analysis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp
import skfem

__all__ = ["GradientOperator", "Pattern", "element_for", "check_jacobians"]


# numba kernels: one pass over the elements, no (n_el, n_qp, nb, nb) temporaries.
# G (n_el, n_qp, nb, nA): basis gradients; dofs (nb, n_el); dx (n_el, n_qp).


@numba.njit(cache=True)
def _pattern_kernel(dofs, n):
    """CSR pattern of the element couplings and the CSR position of every element entry.

    ``dofs (n_el, nb)``; returns ``indptr (n + 1,)``, sorted ``indices (nnz,)`` and
    ``scatter (n_el * nb * nb,)`` with entry ``(e, i, j)`` at ``(e * nb + i) * nb + j``.
    O(nnz) with a marker array (no global sort).
    """
    nel, nb = dofs.shape
    start = np.zeros(n + 1, np.int64)  # dof -> elements incidence
    for e in range(nel):
        for i in range(nb):
            start[dofs[e, i] + 1] += 1
    for k in range(n):
        start[k + 1] += start[k]
    inc = np.empty(start[n], np.int64)
    fill = start[:n].copy()
    for e in range(nel):
        for i in range(nb):
            d = dofs[e, i]
            inc[fill[d]] = e
            fill[d] += 1
    marker = np.full(n, -1, np.int64)
    indptr = np.zeros(n + 1, np.int64)
    for r in range(n):
        c = 0
        for k in range(start[r], start[r + 1]):
            for j in range(nb):
                col = dofs[inc[k], j]
                if marker[col] != r:
                    marker[col] = r
                    c += 1
        indptr[r + 1] = indptr[r] + c
    indices = np.empty(indptr[n], np.int64)
    marker[:] = -1
    for r in range(n):
        p = indptr[r]
        for k in range(start[r], start[r + 1]):
            for j in range(nb):
                col = dofs[inc[k], j]
                if marker[col] != r:
                    marker[col] = r
                    indices[p] = col
                    p += 1
        indices[indptr[r] : indptr[r + 1]].sort()
    scatter = np.empty(nel * nb * nb, np.int64)
    for e in range(nel):
        for i in range(nb):
            r = dofs[e, i]
            lo = indptr[r]
            row = indices[lo : indptr[r + 1]]
            for j in range(nb):
                scatter[(e * nb + i) * nb + j] = lo + np.searchsorted(row, dofs[e, j])
    return indptr, indices, scatter


@numba.njit(cache=True)
def _measure_kernel(G, dofs, u, out):  # out (nA, n_el, n_qp)
    nel, nqp, nb, nA = G.shape
    ue = np.empty(nb)
    for e in range(nel):
        for i in range(nb):
            ue[i] = u[dofs[i, e]]
        for q in range(nqp):
            for a in range(nA):
                s = 0.0
                for i in range(nb):
                    s += G[e, q, i, a] * ue[i]
                out[a, e, q] = s


@numba.njit(cache=True)
def _force_kernel(G, dofs, flux, dx, r):  # flux (nA, n_el, n_qp); r (N,) accumulated
    nel, nqp, nb, nA = G.shape
    fq = np.empty(nA)
    for e in range(nel):
        for q in range(nqp):
            w = dx[e, q]
            for a in range(nA):
                fq[a] = flux[a, e, q] * w
            for i in range(nb):
                s = 0.0
                for a in range(nA):
                    s += G[e, q, i, a] * fq[a]
                r[dofs[i, e]] += s


@numba.njit(cache=True)
def _stiffness_kernel(G, T, dx, scatter, data):  # T (nA, nA, n_el, n_qp); data (nnz,) accumulated
    nel, nqp, nb, nA = G.shape
    GT = np.empty((nb, nA))
    ke = np.empty((nb, nb))
    for e in range(nel):
        ke[:, :] = 0.0
        for q in range(nqp):
            w = dx[e, q]
            for i in range(nb):
                for b in range(nA):
                    s = 0.0
                    for a in range(nA):
                        s += G[e, q, i, a] * T[a, b, e, q]
                    GT[i, b] = s * w
            for i in range(nb):
                for j in range(nb):
                    s = 0.0
                    for b in range(nA):
                        s += GT[i, b] * G[e, q, j, b]
                    ke[i, j] += s
        base = e * nb * nb
        for i in range(nb):
            for j in range(nb):
                data[scatter[base + i * nb + j]] += ke[i, j]

_ELEMENTS = {
    ("MeshTri1", 1): "ElementTriP1",
    ("MeshTri1", 2): "ElementTriP2",
    ("MeshQuad1", 1): "ElementQuad1",
    ("MeshQuad1", 2): "ElementQuad2",
    ("MeshTet1", 1): "ElementTetP1",
    ("MeshTet1", 2): "ElementTetP2",
    ("MeshHex1", 1): "ElementHex1",
    ("MeshHex1", 2): "ElementHex2",
}


def element_for(mesh: skfem.Mesh, order: int, vector: bool) -> skfem.Element:
    """Lagrange element of ``order`` (1 or 2) for ``mesh``; an ``ElementVector`` if ``vector``."""
    key = (type(mesh).__name__, int(order))
    if key not in _ELEMENTS:
        known = sorted({k[0] for k in _ELEMENTS})
        raise ValueError(
            f"no Lagrange element of order {order} for {type(mesh).__name__}; "
            f"supported meshes: {', '.join(known)} with order 1 or 2"
        )
    elem = getattr(skfem, _ELEMENTS[key])()
    return skfem.ElementVector(elem) if vector else elem


def check_jacobians(basis: skfem.CellBasis, where: str = "mesh") -> None:
    """Raise ``ValueError`` naming the first degenerate element (Jacobian ~ 0 or sign change).

    Consistently clockwise elements are fine for scikit-fem (it integrates with
    ``|det J|``); an element whose Jacobian vanishes or changes sign inside it
    is folded or collapsed and cannot be integrated.
    """
    detdf = basis.mapping.detDF(basis.X)
    scale = float(np.median(np.abs(detdf))) or 1.0
    small = np.min(np.abs(detdf), axis=1) <= 1e-12 * scale
    folded = np.min(detdf, axis=1) * np.max(detdf, axis=1) < 0
    bad = np.where(small | folded)[0]
    if len(bad):
        e = int(bad[0])
        raise ValueError(
            f"{where}: {len(bad)} degenerate or folded elements, first is element {e} "
            f"(Jacobian between {float(np.min(detdf[e])):.3e} and {float(np.max(detdf[e])):.3e}, "
            f"expected nonzero and of one sign)"
        )


@dataclass(frozen=True)
class Pattern:
    """CSR sparsity pattern of an assembled operator and its scatter map.

    Attributes
    ----------
    indptr, indices
        CSR structure of the ``(N, N)`` matrix (sorted column indices, no duplicates).
    scatter
        ``(n_el * nb * nb,)``: position in the CSR data of each element matrix entry
        ``(e, i, j)``, row-major.
    nnz
        Stored entries.
    """

    indptr: np.ndarray
    indices: np.ndarray
    scatter: np.ndarray
    nnz: int


class GradientOperator:
    """Gradient-type operator of a scikit-fem basis with a fixed sparsity pattern.

    Parameters
    ----------
    basis : skfem.CellBasis
        Scalar or vector Lagrange basis.
    kind : {"gradient", "strain", "deformation_gradient"}
        What :meth:`measure` returns: ``grad u`` ``(d, *q)``, ``sym grad u``
        ``(d, d, *q)`` or ``I + grad u`` ``(d, d, *q)``, with ``q = (n_el, n_qp)``.
    """

    def __init__(self, basis: skfem.CellBasis, kind: str):
        if kind not in ("gradient", "strain", "deformation_gradient"):
            raise ValueError(f"unknown operator kind {kind!r}")
        self.basis = basis
        self.kind = kind
        self.nb = basis.Nbfun
        self.nel = basis.nelems
        self.nqp = basis.X.shape[-1]
        self.ndofs = basis.N
        self.dim = basis.mesh.dim()
        self.idx_shape = np.shape(basis.basis[0][0].grad)[:-2]  # (d,) or (d, d)
        self.nA = int(np.prod(self.idx_shape))
        # points-first layout (n_el, n_qp, nb, nA), filled one basis function at a time
        # (no temporaries of the whole array: it is GBs on large 3D cells)
        self._gradients = np.empty((self.nel, self.nqp, self.nb, self.nA))
        for i in range(self.nb):
            g = np.asarray(basis.basis[i][0].grad)
            if kind == "strain":
                g = 0.5 * (g + np.swapaxes(g, 0, 1))
            self._gradients[:, :, i, :] = g.reshape(self.nA, self.nel, self.nqp).transpose(1, 2, 0)
        self.dx = np.ascontiguousarray(basis.dx, dtype=float)  # (n_el, n_qp)
        self.element_dofs = np.ascontiguousarray(basis.element_dofs, dtype=np.int64)  # (nb, n_el)
        self._pattern: Pattern | None = None

    @property
    def points_shape(self) -> tuple[int, int]:
        """``(n_el, n_qp)``."""
        return (self.nel, self.nqp)

    def measure(self, u: np.ndarray) -> np.ndarray:
        """Field measure at quadrature points from the dof vector ``u`` ``(N,)``."""
        u = np.asarray(u, dtype=float)
        if u.shape != (self.ndofs,):
            raise ValueError(f"measure: dof vector has shape {u.shape}, expected ({self.ndofs},)")
        g = np.empty((self.nA, self.nel, self.nqp))
        _measure_kernel(self._gradients, self.element_dofs, u, g)
        g = g.reshape(self.idx_shape + (self.nel, self.nqp))
        if self.kind == "deformation_gradient":
            g = g + np.eye(self.dim)[:, :, None, None]
        return g

    def internal_force(self, flux: np.ndarray) -> np.ndarray:
        """``r_i = sum_q dx G_i : flux``; ``flux`` is ``(*idx, n_el, n_qp)``; returns ``(N,)``."""
        f = np.asarray(flux, dtype=float).reshape(self.nA, self.nel, self.nqp)
        r = np.zeros(self.ndofs)
        _force_kernel(self._gradients, self.element_dofs, f, self.dx, r)
        return r

    @property
    def gradients(self) -> np.ndarray:
        """Basis-function measures ``(n_el, n_qp, nb, nA)`` (points first; read only).

        ``nA`` is the flattened tensor size of :meth:`measure` (``d`` or ``d * d``):
        ``measure(u)[A, e, q] = sum_i gradients[e, q, i, A] u[element_dofs[i, e]]``
        (plus the identity for ``"deformation_gradient"``).
        """
        view = self._gradients.view()
        view.flags.writeable = False
        return view

    @property
    def pattern(self) -> Pattern:
        """The CSR pattern of :meth:`stiffness` (built once, O(nnz), by a numba kernel)."""
        if self._pattern is None:
            dofs = np.ascontiguousarray(self.element_dofs.T, dtype=np.int64)  # (n_el, nb)
            indptr, indices, scatter = _pattern_kernel(dofs, self.ndofs)
            nnz = int(indptr[-1])
            itype = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
            self._pattern = Pattern(indptr.astype(itype), indices.astype(itype), scatter, nnz)
        return self._pattern

    def stiffness(self, tangent: np.ndarray) -> sp.csr_matrix:
        """Assemble ``K`` for tangent ``(*idx, *idx, n_el, n_qp)``; same pattern every call."""
        p = self.pattern
        data = np.zeros(p.nnz)
        t = np.asarray(tangent, dtype=float).reshape(self.nA, self.nA, self.nel, self.nqp)
        _stiffness_kernel(self._gradients, t, self.dx, p.scatter, data)
        return sp.csr_matrix((data, p.indices, p.indptr), shape=(self.ndofs, self.ndofs))
