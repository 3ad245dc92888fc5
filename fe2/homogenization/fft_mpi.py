"""Distributed FFT voxel cells: the effective tensor of a cell larger than one machine.

The periodic voxel FE problem of :mod:`fe2.homogenization.fft` (same elements, Gauss
points, reference medium and preconditioner), with the grid split over the ranks of an
MPI communicator into slabs along ``x_0`` or, in 3D, pencils along ``x_0`` and ``x_1``,
and the FFTs of the preconditioner distributed by ``mpi4py-fft``
(:class:`mpi4py_fft.PFFT`, the same decomposition):

* every rank owns the nodes of its block and the voxels whose lower corner it owns; the
  gather of voxel corner values receives the first node plane of the next block along
  every split axis (one axis after the other, so diagonal corners arrive too), and the
  scatter sends its extra planes back (one ``Sendrecv`` per split axis, periodic rings);
* conjugate gradients with the dot products reduced over the ranks;
* every rank ends with the same effective tensor.

Linear phases (constant tangents: conductivities, small-strain elasticity) only: this is
for the effective tensor of cells whose fields do not fit one machine. Run under MPI::

    mpiexec -n 4 python script.py     # script.py calls distributed_effective_tensor

Needs ``mpi4py`` and ``mpi4py-fft`` (FFTW: Debian ``libfftw3-dev`` to build it). Every
rank holds the phase image (one integer per voxel), the solver's fields only for its slab.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fe2.homogenization.cells import Cell
from fe2.homogenization.fft import (
    circulant_symbol,
    element_matrix,
    invert_symbol,
    load_cases,
    reference_tangent,
    voxel_gradients,
)

__all__ = ["DistributedResult", "distributed_effective_tensor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedResult:
    """Effective tensor of a distributed FFT solve (the same on every rank).

    Attributes
    ----------
    tensor : ndarray (*idx, *idx)
        Effective conductivity ``(d, d)`` or stiffness ``(d, d, d, d)``.
    hill_mandel_form : ndarray (nH, nH)
        Hill–Mandel form of the solved load cases (``w_a . r_c / |Y|``).
    iterations : tuple of int
        CG iterations per independent load case.
    converged : bool
        Every load case met the tolerance.
    ranks : int
        MPI processes.
    local_shape : tuple of int
        Voxels of this rank's block.
    """

    tensor: np.ndarray
    hill_mandel_form: np.ndarray
    iterations: tuple[int, ...]
    converged: bool
    ranks: int
    local_shape: tuple[int, ...]


class _Slab:
    """The periodic voxel operator on this rank's slab (internal)."""

    def __init__(self, cell: Cell, phases: Sequence[Any], comm: Any, decomposition: str):
        from mpi4py_fft import PFFT

        self.comm = comm
        mats = list(phases)
        measure = mats[0].measure
        self.measure = measure
        img = np.asarray(cell.image)
        d = self.d = cell.dim
        self.n = tuple(int(k) for k in img.shape)
        if decomposition == "slab" and self.n[0] < comm.size:
            raise ValueError(
                f"distributed_effective_tensor: {comm.size} ranks but only {self.n[0]} voxel "
                "planes along x_0; use at most one rank per plane (or pencils in 3D)"
            )
        self.h = np.asarray(cell.size) / np.asarray(self.n)
        self.c = 1 if measure == "gradient" else d
        self.ishape = (d,) if measure == "gradient" else (d, d)
        self.nA = int(np.prod(self.ishape))
        self.nqp = 2**d
        self.dxq = float(np.prod(self.h)) / self.nqp
        self.volume = cell.volume
        self.B, _ = voxel_gradients(measure, self.h)
        self.nloc = self.B.shape[2]
        self.corners = [tuple(int(x) for x in np.unravel_index(a, (2,) * d))
                        for a in range(2**d)]
        self.S, self.Q = load_cases(measure, d)
        grid = (-1,) if decomposition == "slab" else (-1, -1)
        self.fft = PFFT(comm, self.n, axes=tuple(range(d)), dtype=float, grid=grid)
        real, spec = self.fft.local_slice(False), self.fft.local_slice(True)
        self.lshape = tuple(s.stop - s.start for s in real)
        if comm.allreduce(min(self.lshape)) < 1:
            raise ValueError(
                f"distributed_effective_tensor: {comm.size} ranks leave a rank without voxels "
                f"on the {self.n} grid ({decomposition}s); use fewer ranks"
            )
        # neighbours along every axis: (sub-communicator, previous, next), None if not split
        self.neighbours = []
        for sub in self.fft.subcomm:
            self.neighbours.append(None if sub.size == 1 else
                                   (sub, (sub.rank - 1) % sub.size, (sub.rank + 1) % sub.size))
        self.nel = int(np.prod(self.lshape))
        local = img[real]
        # constant tangents per phase (virgin state, zero input)
        zero = np.zeros(self.ishape + (1, 1))
        if measure == "deformation_gradient":
            zero += np.eye(d)[:, :, None, None]
        tangents = []
        for p, mat in enumerate(mats):
            st = mat.initial_state((1, 1)) if hasattr(mat, "initial_state") else None
            if st:
                raise ValueError(
                    f"distributed_effective_tensor: phases[{p}] {type(mat).__name__} has "
                    "history; only linear phases (constant tangents) are distributed"
                )
            tangents.append(np.asarray(mat.evaluate(zero).tangent, dtype=float)
                            .reshape(self.nA, self.nA))
        self.T_ref = reference_tangent(tangents, measure, d)
        flat = local.ravel()
        self.ops = []
        Bq = self.B.transpose(1, 0, 2)
        for p, T in enumerate(tangents):
            idx = np.flatnonzero(flat == p)
            if idx.size:
                self.ops.append((idx, T, element_matrix(self.B, T, self.dxq),
                                 self.dxq * np.einsum("qAl,AB->lB", Bq, T), p))
        sizes = np.array([op[0].size for op in self.ops])
        self.base = int(np.argmax(sizes)) if sizes.size else None
        freqs = [np.fft.fftfreq(k) for k in self.n[:-1]] + [np.fft.rfftfreq(self.n[-1])]
        freqs = [f[s] for f, s in zip(freqs, spec, strict=True)]
        # the phase filling at least half the cell (the same on all ranks) is applied to
        # the whole grid through its Fourier symbol, the others as corrections
        counts = comm.allreduce(np.bincount(flat, minlength=len(mats)))
        major = int(np.argmax(counts))
        self.major_sym = None
        if 2 * counts[major] >= int(np.prod(self.n)):
            self.major_sym = circulant_symbol(element_matrix(self.B, tangents[major], self.dxq),
                                              self.c, freqs)
            self.major = major
            self.major_K = element_matrix(self.B, tangents[major], self.dxq)
            # corner nodes of the other phases' voxels in the extended block (flat indices)
            eshape = tuple(k + 1 for k in self.lshape)
            self.corner_ext = {}
            for idx, _, _, _, p in self.ops:
                if p == major:
                    continue
                multi = np.unravel_index(idx, self.lshape)
                self.corner_ext[p] = np.stack([
                    np.ravel_multi_index(tuple(m + a for m, a in zip(multi, corner,
                                                                     strict=True)), eshape)
                    for corner in self.corners])
        has_zero = all(s.start == 0 for s in spec)
        sym = circulant_symbol(element_matrix(self.B, self.T_ref, self.dxq), self.c, freqs)
        self.inv = invert_symbol(sym, zero=has_zero)

    # .............................................................. communication

    def dot(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(self.comm.allreduce(float(a @ b)))

    def gather(self, w: np.ndarray) -> np.ndarray:
        """Corner values ``(nloc, n_el)`` of the local voxels from local nodes ``w``.

        The block is extended by the first node plane of the next block along every axis
        (a periodic wrap when the axis is not split), one axis after the other, so the
        diagonal corners arrive too.
        """
        c = self.c
        ext = self.extend(w)
        U = np.empty((len(self.corners), c) + self.lshape)
        for a, corner in enumerate(self.corners):
            U[a] = ext[(slice(None),) + tuple(slice(k, k + n) for k, n in
                                              zip(corner, self.lshape, strict=True))]
        return U.reshape(self.nloc, self.nel)

    def extend(self, w: np.ndarray) -> np.ndarray:
        """Local nodes ``w`` extended by one node plane along every axis ``(c, *(n_loc + 1))``."""
        ext = w.reshape((self.c,) + self.lshape)
        for k, nb in enumerate(self.neighbours):
            first = np.ascontiguousarray(np.take(ext, [0], axis=k + 1))
            if nb is not None:
                sub, prev, nxt = nb
                halo = np.empty_like(first)
                sub.Sendrecv(first, dest=prev, recvbuf=halo, source=nxt)
                first = halo
            ext = np.concatenate([ext, first], axis=k + 1)
        return ext

    def scatter(self, F: np.ndarray) -> tuple[np.ndarray, float]:
        """Local nodal forces from element vectors ``F (nloc, n_el)``, and a global scale.

        The adjoint of :meth:`gather`: the extra plane along every axis (last axis first)
        is sent to the next block and added to its first plane.
        """
        c = self.c
        F = F.reshape((len(self.corners), c) + self.lshape)
        out = np.zeros((c,) + tuple(k + 1 for k in self.lshape))
        for a, corner in enumerate(self.corners):
            out[(slice(None),) + tuple(slice(k, k + n) for k, n in
                                       zip(corner, self.lshape, strict=True))] += F[a]
        scale = float(np.sqrt(self.comm.allreduce(float(np.sum(out * out)))))
        return self.fold(out), scale

    def fold(self, out: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`extend`: forces ``(c, *(n_loc + 1))`` -> local nodes ``(N_loc,)``."""
        d = self.d
        for k in reversed(range(d)):
            n = self.lshape[k]
            last = np.ascontiguousarray(np.take(out, [n], axis=k + 1))
            nb = self.neighbours[k]
            if nb is not None:
                sub, prev, nxt = nb
                recv = np.empty_like(last)
                sub.Sendrecv(last, dest=nxt, recvbuf=recv, source=prev)
                last = recv
            keep = [slice(None)] * (d + 1)
            keep[k + 1] = slice(0, n)
            out = out[tuple(keep)]
            first = [slice(None)] * (d + 1)
            first[k + 1] = slice(0, 1)
            out[tuple(first)] += last
        return np.ascontiguousarray(out).reshape(-1)

    # .............................................................. operator

    def apply_fourier(self, w: np.ndarray) -> np.ndarray:
        """``K w``: the majority phase through its symbol, the others as corrections."""
        c, nc = self.c, len(self.corners)
        f = self.circulant(self.major_sym, w)
        if not self.corner_ext:
            return f
        ext = self.extend(w).reshape(c, -1)
        out = np.zeros((c, ext.shape[1]))
        for idx, _, Ke, _, p in self.ops:
            if p == self.major:
                continue
            cn = self.corner_ext[p]
            Ue = ext[:, cn].transpose(1, 0, 2).reshape(self.nloc, idx.size)
            dF = ((Ke - self.major_K) @ Ue).reshape(nc, c, idx.size)
            for i in range(c):
                out[i] += np.bincount(cn.ravel(), weights=dF[:, i, :].ravel(),
                                      minlength=ext.shape[1])
        return f + self.fold(out.reshape((c,) + tuple(k + 1 for k in self.lshape)))

    def apply(self, w: np.ndarray, H: np.ndarray | None = None, norm: bool = False):
        """``K w`` plus the force of the affine gradient ``H (nH,)`` on the local nodes."""
        U = self.gather(w)
        Hs = None
        if H is not None:
            Hs = np.asarray(H, dtype=float).ravel()
            if self.measure == "strain":
                Hm = Hs.reshape(self.d, self.d)
                Hs = (0.5 * (Hm + Hm.T)).ravel()
        _, _, Kb, Kab, _ = self.ops[self.base]
        F = Kb @ U
        if Hs is not None:
            F += (Kab @ Hs)[:, None]
        for k, (idx, _, Ke, Ka, _) in enumerate(self.ops):
            if k == self.base:
                continue
            dF = (Ke - Kb) @ np.take(U, idx, axis=1)
            if Hs is not None:
                dF += ((Ka - Kab) @ Hs)[:, None]
            F[:, idx] += dF
        f, scale = self.scatter(F)
        return (f, scale) if norm else f

    def mean_flux(self, w: np.ndarray, H: np.ndarray) -> np.ndarray:
        """Volume average ``(nA,)`` of ``T : (H + grad w)`` over the whole cell."""
        U = self.gather(w)
        Bf = self.B.reshape(self.nA * self.nqp, self.nloc)
        Hs = np.asarray(H, dtype=float).ravel()
        if self.measure == "strain":
            Hm = Hs.reshape(self.d, self.d)
            Hs = (0.5 * (Hm + Hm.T)).ravel()
        q = np.zeros(self.nA)
        for idx, T, _, _, _ in self.ops:
            gm = (Bf @ np.take(U, idx, axis=1).sum(axis=1)).reshape(self.nA, self.nqp).sum(axis=1)
            q += T @ (gm + self.nqp * idx.size * Hs)
        return self.comm.allreduce(q) * self.dxq / self.volume

    def circulant(self, sym: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Apply the block-circulant operator of the local symbol ``sym`` to local ``r``."""
        c = self.c
        rl = r.reshape((c,) + self.lshape)
        R = [self.fft.forward(np.ascontiguousarray(rl[i])).copy() for i in range(c)]
        out = np.empty_like(rl)
        for i in range(c):
            Z = sym[i, 0] * R[0]
            for j in range(1, c):
                Z += sym[i, j] * R[j]
            out[i] = self.fft.backward(Z)
        return out.reshape(-1)

    def precondition(self, r: np.ndarray) -> np.ndarray:
        return self.circulant(self.inv, r)

    def pcg(self, b: np.ndarray, rtol: float, atol: float, maxiter: int
            ) -> tuple[np.ndarray, int, bool]:
        """Preconditioned CG, ``|r| <= max(rtol |b|, atol)`` (global norms)."""
        x = np.zeros_like(b)
        tol = max(rtol * np.sqrt(self.dot(b, b)), atol)
        r = b.copy()
        if np.sqrt(self.dot(r, r)) <= tol:
            return x, 0, True
        z = self.precondition(r)
        p = z.copy()
        rz = self.dot(r, z)
        op = self.apply_fourier if self.major_sym is not None else self.apply
        for k in range(1, maxiter + 1):
            Ap = op(p)
            alpha = rz / self.dot(p, Ap)
            x += alpha * p
            r -= alpha * Ap
            if np.sqrt(self.dot(r, r)) <= tol:
                return x, k, True
            z = self.precondition(r)
            rz_new = self.dot(r, z)
            p = z + (rz_new / rz) * p
            rz = rz_new
        return x, maxiter, False


def distributed_effective_tensor(
    cell: Cell,
    phases: Sequence[Any],
    comm: Any = None,
    rtol: float = 1e-8,
    maxiter: int = 2000,
    decomposition: str = "slab",
) -> DistributedResult:
    """Effective tensor of a periodic voxel cell, distributed over the ranks of ``comm``.

    Parameters
    ----------
    cell : Cell
        Voxel cell (``cells.from_image``); the same on every rank.
    phases : sequence of oracles
        Linear phases (``LinearConductivity``, ``LinearElastic``), one per phase id.
    comm : mpi4py communicator, optional
        Default ``MPI.COMM_WORLD``.
    rtol : float
        Relative residual of every load case's CG solve.
    maxiter : int
        CG iteration cap per load case.
    decomposition : {"slab", "pencil"}
        Split the grid along ``x_0`` (at most ``n_0`` ranks) or, in 3D, along ``x_0``
        and ``x_1`` on a 2D process grid (pencils: up to ``n_0 n_1`` ranks).

    Returns
    -------
    DistributedResult
        The same on every rank; equal to ``RVE(cell, phases, method="fft")
        .effective_tensor()`` to the solver tolerance.
    """
    from mpi4py import MPI

    comm = MPI.COMM_WORLD if comm is None else comm
    if not isinstance(cell, Cell) or cell.image is None:
        raise ValueError(
            f"distributed_effective_tensor: cell must be a voxel Cell (cells.from_image), "
            f"got {cell!r}"
        )
    ids = np.unique(cell.image)
    if ids.max() >= len(phases):
        raise ValueError(
            f"distributed_effective_tensor: the cell has phase id {int(ids.max())} but phases "
            f"has {len(phases)} materials"
        )
    if decomposition not in ("slab", "pencil") or (decomposition == "pencil"
                                                    and cell.dim != 3):
        raise ValueError(
            f"distributed_effective_tensor: decomposition must be 'slab' or, for 3D cells, "
            f"'pencil', got {decomposition!r} for a {cell.dim}D cell"
        )
    slab = _Slab(cell, phases, comm, decomposition)
    S, Q = slab.S, slab.Q
    nc = S.shape[1]
    N = slab.c * slab.nel
    W = np.zeros((N, nc))
    R = np.zeros((N, nc))
    Sig = np.zeros((slab.nA, nc))
    its, ok = [], True
    for k in range(nc):
        H = S[:, k]
        b, scale = slab.apply(np.zeros(N), H, norm=True)
        x, it, conv = slab.pcg(-b, rtol, 1e-3 * rtol * scale, maxiter)
        its.append(it)
        ok &= conv
        W[:, k] = x
        R[:, k] = slab.apply(x, H)
        Sig[:, k] = slab.mean_flux(x, H)
    Mc = comm.allreduce(W.T @ R) / slab.volume
    Tc = S.T @ Sig + Mc
    T = Q.T @ (0.5 * (Tc + Tc.T)) @ Q
    if not ok and comm.rank == 0:
        log.warning("distributed_effective_tensor: a load case stopped above rtol %.1e", rtol)
    return DistributedResult(
        tensor=T.reshape(slab.ishape * 2),
        hill_mandel_form=Q.T @ Mc @ Q,
        iterations=tuple(its),
        converged=bool(ok),
        ranks=comm.size,
        local_shape=slab.lshape,
    )
