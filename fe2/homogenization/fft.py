"""FFT-preconditioned, matrix-free solver of periodic voxel cells (FANS).

The same finite-element problem as the sparse path of :class:`fe2.homogenization.RVE`
on a voxel cell with ``bc="periodic"`` (bilinear quadrilaterals / trilinear hexahedra,
one per voxel, 2^d Gauss points, periodic fluctuation), solved without assembling a
matrix (Leuschner & Fritzen 2018, "Fourier-Accelerated Nodal Solvers (FANS) for
homogenization problems", Comput. Mech. 62):

* the unknowns are the fluctuation values at the ``n_0 n_1 [n_2]`` periodic nodes,
  ``w (c, n_0, n_1[, n_2])`` flattened, ``c`` = 1 (temperature) or ``d``
  (displacement); the macro input enters as the constant gradient ``H``;
* the linearised operator ``K w = sum_e B^T T B w_e`` is applied element by element:
  a gather of the ``2^d`` corner values of every voxel (slices of a periodically padded
  array), one matrix product with the element matrix of each phase whose tangent is
  constant (``(2^d c) x (2^d c)``), or gradient -> tangent -> ``B^T`` at the
  quadrature points of phases whose tangent varies, and a scatter;
* conjugate gradients (:func:`scipy.sparse.linalg.cg`; GMRES for a tangent without
  major symmetry) preconditioned by the same discretisation with a homogeneous
  reference tangent ``T_ref``: on a periodic voxel grid that operator is
  block-circulant, so :func:`scipy.fft.rfftn` diagonalises it into one ``c x c``
  Hermitian block per frequency, inverted once; the zero frequency (rigid translation)
  is set to zero, which keeps every iterate at zero mean.

Reference medium: CG converges at a rate set by the spread of the generalised
eigenvalues of ``(T(x), T_ref)`` over the cell, which is invariant under scaling
``T_ref``; only its *shape* matters. We take the mean of the phases' virgin tangents each
normalised by its scale ``s_p = tr T_p / n``, times the geometric mean
``sqrt(s_min s_max)`` of the scales: for two isotropic conductivities this is
``sqrt(k_1 k_2) I`` and the condition number is the contrast ``k_max / k_min``; for
isotropic elastic phases the reference Poisson ratio lies between the phases'. A phase
with a zero (or indefinite) tangent, a pore, is refused: the periodic FE problem is
singular there (model voids as a soft phase).

Newton–Krylov for nonlinear and history-dependent phases: inexact Newton steps with the
caller's forcing terms, CG with the same preconditioner (fixed at the virgin reference
tangent), the homogenized tangent from one linearised solve per independent load case,
as the sparse path's static condensation.

:class:`VoxelFFT` is the engine behind ``RVE(cell, phases, method="fft")``;
:mod:`fe2.homogenization.fft_mpi` distributes the same solver over MPI ranks for cells
larger than one machine.

A voxel laminate (layers normal to ``x_1``, fractions 0.3 and 0.7): the arithmetic mean
along the layers, the harmonic mean across them.

>>> import numpy as np
>>> from fe2.homogenization import RVE, cells
>>> from fe2.materials import LinearConductivity
>>> img = np.zeros((4, 10), dtype=int)
>>> img[:, 3:] = 1
>>> rve = RVE(cells.from_image(img), [LinearConductivity(1.0), LinearConductivity(4.0)],
...           method="fft")
>>> K = rve.effective_tensor()
>>> round(float(K[0, 0]), 6), round(float(K[1, 1]), 6)
(3.1, 2.105263)
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
import scipy.sparse.linalg as spla

from fe2.homogenization.averages import hill_mandel, volume_average
from fe2.homogenization.cells import Cell
from fe2.oracle import OracleError

__all__ = [
    "VoxelFFT",
    "FFTPoint",
    "load_cases",
    "reference_tangent",
    "voxel_gradients",
    "element_matrix",
    "circulant_symbol",
    "invert_symbol",
]

log = logging.getLogger(__name__)

State = dict[str, np.ndarray]
_WORKERS = -1  # scipy.fft threads: all cores
_ETA_MAX = 1e-3  # loosest relative tolerance of an inexact Newton step


def load_cases(measure: str, d: int) -> tuple[np.ndarray, np.ndarray]:
    """Independent unit load cases ``h = S c``, ``c = Q h`` of a measure in ``d`` dimensions.

    Returns ``S (nH, nc)`` and ``Q (nc, nH)`` with ``nH`` the flattened input size. Small
    strain: the ``d (d + 1) / 2`` symmetric unit strains (``S Q h = sym h``: the skew part
    of ``h`` causes no fluctuation); otherwise ``S = Q = I``.
    """
    if measure == "gradient":
        return np.eye(d), np.eye(d)
    nH = d * d
    if measure != "strain":
        return np.eye(nH), np.eye(nH)
    pairs = [(i, j) for i in range(d) for j in range(i, d)]
    S = np.zeros((nH, len(pairs)))
    Q = np.zeros((len(pairs), nH))
    for k, (i, j) in enumerate(pairs):
        S[[i * d + j, j * d + i], k] = 1.0
        Q[k, [i * d + j, j * d + i]] = 0.5 if i != j else 1.0
    return S, Q


def _sym_basis(d: int) -> np.ndarray:
    """Orthonormal basis of the symmetric ``d x d`` tensors, flattened ``(d * d, d (d+1)/2)``."""
    cols = []
    for i in range(d):
        for j in range(i, d):
            v = np.zeros((d, d))
            v[i, j] = v[j, i] = 1.0
            cols.append((v / np.linalg.norm(v)).ravel())
    return np.array(cols).T


def reference_tangent(
    tangents: Sequence[np.ndarray], measure: str, d: int
) -> np.ndarray:
    """Reference tangent ``(nA, nA)`` of the FFT preconditioner from phase tangents.

    ``tangents``: one ``(nA, nA)`` tangent per phase (virgin state, zero input). Returns
    ``sqrt(s_min s_max) mean_p(T_p / s_p)`` with ``s_p = tr T_p / nA`` (see the module
    notes). Raises ValueError naming the phase whose tangent is not positive definite
    (on symmetric tensors for small and finite strain): a pore or an unstable phase.
    """
    V = _sym_basis(d) if measure != "gradient" else np.eye(d)
    scales = []
    for p, T in enumerate(tangents):
        Ts = V.T @ (0.5 * (T + T.T)) @ V
        ev = np.linalg.eigvalsh(Ts)
        if not (ev.max() > 0 and ev.min() > 1e-12 * ev.max()):
            raise ValueError(
                f"FFT RVE: phase {p} has a tangent that is not positive definite at zero input "
                f"and virgin history (eigenvalues {np.array2string(ev, precision=3)}); a "
                "porous (zero-stiffness) phase makes the periodic FE problem singular: model "
                "voids as a soft phase (e.g. 1e-4 times the matrix stiffness)"
            )
        scales.append(float(np.trace(Ts)) / Ts.shape[0])
    s = np.array(scales)
    shape = sum(T / sp_ for T, sp_ in zip(tangents, s, strict=True)) / len(tangents)
    return np.sqrt(s.min() * s.max()) * shape


def voxel_gradients(measure: str, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Measure of the bilinear / trilinear voxel at its 2^d Gauss points.

    Returns ``B (nA, nqp, nloc)`` (measure component ``A`` at Gauss point ``q`` of local
    dof ``l = corner * c + component``, corners in ``itertools.product((0, 1), repeat=d)``
    order) and the Gauss points in the unit voxel ``(nqp, d)``. ``h (d,)``: voxel size.
    """
    h = np.asarray(h, dtype=float)
    d = h.size
    c = 1 if measure == "gradient" else d
    corners = list(itertools.product((0, 1), repeat=d))
    g = np.array([0.5 - 0.5 / np.sqrt(3.0), 0.5 + 0.5 / np.sqrt(3.0)])
    qps = list(itertools.product(g, repeat=d))
    dN = np.zeros((d, len(qps), len(corners)))  # dN_a / dx_j at Gauss point q
    for q, xi in enumerate(qps):
        for a, corner in enumerate(corners):
            f = [(x if ak else 1.0 - x) for x, ak in zip(xi, corner, strict=True)]
            for j in range(d):
                df = (2.0 * corner[j] - 1.0) / h[j]
                dN[j, q, a] = df * np.prod([f[k] for k in range(d) if k != j])
    if c == 1:
        return dN, np.array(qps)
    B = np.zeros((d, d, len(qps), len(corners), c))
    for i in range(d):
        B[i, :, :, :, i] = dN
    if measure == "strain":
        B = 0.5 * (B + B.transpose(1, 0, 2, 3, 4))
    return B.reshape(d * d, len(qps), len(corners) * c), np.array(qps)


def element_matrix(B: np.ndarray, T: np.ndarray, dxq: float) -> np.ndarray:
    """Voxel stiffness ``sum_q dxq B_q^T T B_q`` ``(nloc, nloc)`` of a constant tangent ``T``."""
    Bq = B.transpose(1, 0, 2)
    return dxq * np.einsum("qAl,AB,qBm->lm", Bq, T, Bq)


def circulant_symbol(Ke: np.ndarray, c: int, freqs: Sequence[np.ndarray]) -> np.ndarray:
    """Fourier symbol ``(c, c, *fshape)`` of the periodic operator of one voxel matrix ``Ke``.

    On the periodic grid ``(K u)(x) = sum_ab Ke[a, b] u(x - a + b)`` (corners ``a, b``),
    so the symbol is ``sum_ab Ke[a, b] exp(i theta . (b - a))``, ``theta_k = 2 pi f_k``
    with the frequencies ``freqs[k]`` (cycles per voxel, e.g. a slice of
    :func:`numpy.fft.fftfreq`; :func:`numpy.fft.rfftfreq` on the last axis).
    """
    d = len(freqs)
    corners = list(itertools.product((0, 1), repeat=d))
    K4 = Ke.reshape(len(corners), c, len(corners), c)
    # group corner pairs by offset b - a in {-1, 0, 1}^d
    Kd: dict[tuple[int, ...], np.ndarray] = {}
    for a, ca in enumerate(corners):
        for b, cb in enumerate(corners):
            off = tuple(int(y - x) for x, y in zip(ca, cb, strict=True))
            Kd[off] = Kd.get(off, 0.0) + K4[a, :, b, :]
    fshape = tuple(len(f) for f in freqs)
    sym = np.zeros((c, c) + fshape, dtype=complex)
    for off, K in Kd.items():
        ph = np.ones(fshape, dtype=complex)
        for k, (o, f) in enumerate(zip(off, freqs, strict=True)):
            if o:
                shp = [1] * d
                shp[k] = len(f)
                ph = ph * np.exp(2j * np.pi * o * np.asarray(f)).reshape(shp)
        sym += K[:, :, *([None] * d)] * ph
    return sym


def invert_symbol(sym: np.ndarray, zero: bool) -> np.ndarray:
    """Per-frequency inverse of a symbol ``(c, c, *fshape)``.

    ``zero``: the array's first entry is the zero frequency, whose block (the rigid
    translation) is set to zero.
    """
    c, d = sym.shape[0], sym.ndim - 2
    at0 = (slice(None), slice(None)) + (0,) * d
    if zero:
        sym = sym.copy()
        sym[at0] = np.eye(c)
    if c == 1:
        inv = 1.0 / sym
    else:
        inv = np.moveaxis(np.linalg.inv(np.moveaxis(sym, (0, 1), (-2, -1))), (-2, -1), (0, 1))
    if zero:
        inv[at0] = 0.0
    return np.ascontiguousarray(inv)


@dataclass
class FFTPoint:
    """Result of one FFT micro solve (see :meth:`VoxelFFT.newton`).

    Attributes
    ----------
    flux : ndarray (nH,)
        Volume-averaged flux.
    tangent : ndarray (nH, nH)
        Homogenized consistent tangent.
    w : ndarray (N,)
        Fluctuation at the periodic nodes ``(c, n_0, n_1[, n_2])`` flattened, zero mean.
    hist : dict
        Trial history ``(*f, n_el, n_qp)`` (elements sorted by phase).
    iterations, converged, hill_mandel :
        Newton iterations, convergence flag, ``|<q : g> - <q> : <g>|``.
    krylov : int
        Krylov (CG/GMRES) iterations of this solve, condensation included.
    measure, qflux : ndarray (*idx, n_el, n_qp) or None
        Micro input and flux at the quadrature points (elements sorted by phase).
    dW : ndarray (N, nH) or None
        Fluctuation per unit affine gradient at the last iterate.
    hm_form : ndarray (nH, nH)
        Hill–Mandel form of the linearised cell, ``M[a, b] = <q_a : g_b> - <q_a> : <g_b>``.
    """

    flux: np.ndarray
    tangent: np.ndarray
    w: np.ndarray
    hist: State
    iterations: int
    converged: bool
    hill_mandel: float
    krylov: int
    measure: np.ndarray | None = None
    qflux: np.ndarray | None = None
    dW: np.ndarray | None = None
    hm_form: np.ndarray | None = None


class VoxelFFT:
    """Periodic voxel FE discretisation with an FFT-preconditioned matrix-free solver.

    Parameters
    ----------
    cell : Cell
        Voxel cell (``cell.image`` of phase ids ``(n_0, n_1[, n_2])``).
    phases : sequence of material oracles
        One per phase id, all with ``measure``.
    measure : {"gradient", "strain", "deformation_gradient"}
    krylov_rtol : float
        Relative residual of the condensation (load-case) solves.
    krylov_maxiter : int
        Iteration cap of every Krylov solve.

    Attributes
    ----------
    N : int
        Unknowns ``c prod(n)``.
    nel, nqp : int
        Voxels and Gauss points per voxel (``2^d``).
    phase : ndarray (n_el,)
        Phase of every element in the sorted order used by all quadrature arrays.
    order : ndarray (n_el,)
        Voxel (C-order) index of every sorted element.
    hist0 : dict
        Virgin history ``(*f, n_el, n_qp)``.
    """

    def __init__(
        self,
        cell: Cell,
        phases: Sequence[Any],
        measure: str,
        krylov_rtol: float = 1e-8,
        krylov_maxiter: int = 2000,
    ):
        if cell.image is None:
            raise ValueError(
                f"FFT RVE: method='fft' needs a voxel cell (cells.from_image, "
                f"cells.checkerboard), got a meshed cell {cell!r}"
            )
        img = np.asarray(cell.image)
        self.cell = cell
        self.phases = list(phases)
        self.measure = measure
        d = self.d = cell.dim
        self.n = tuple(int(k) for k in img.shape)
        self.h = np.asarray(cell.size) / np.asarray(self.n)
        self.c = 1 if measure == "gradient" else d
        self.ishape = (d,) if measure == "gradient" else (d, d)
        self.nA = self.nH = int(np.prod(self.ishape))
        self.nel = int(np.prod(self.n))
        self.nqp = 2**d
        self.N = self.c * self.nel
        self.volume = cell.volume
        self.dxq = float(np.prod(self.h)) / self.nqp  # weight of every Gauss point
        self.krylov_rtol = krylov_rtol
        self.krylov_maxiter = krylov_maxiter
        # elements sorted by phase (the layout of quadrature arrays and history)
        ph = img.ravel()
        self.order = np.argsort(ph, kind="stable")
        self.phase = ph[self.order]
        bounds = np.searchsorted(self.phase, np.arange(len(self.phases) + 1))
        self.slices = [slice(int(bounds[p]), int(bounds[p + 1])) for p in range(len(self.phases))]
        self.index = [self.order[s] for s in self.slices]  # voxel indices of every phase
        self.corners = list(itertools.product((0, 1), repeat=d))
        self.nloc = len(self.corners) * self.c
        self.B, self.qp_ref = voxel_gradients(measure, self.h)  # (nA, nqp, nloc), (nqp, d)
        # basis of the measure's range (small strain: symmetric tensors) and B in it
        self._Mv = _sym_basis(d) if measure == "strain" else np.eye(self.nA)
        self._Bv = np.einsum("Aa,Aql->aql", self._Mv, self.B).reshape(-1, self.nloc)
        self.S, self.Q = load_cases(measure, d)
        self.hist0, self.fields = self._virgin_history()
        self._dx: np.ndarray | None = None
        self._prec: np.ndarray | None = None
        self._ops: list | None = None
        self._base_sym: np.ndarray | None = None
        self._sym_cache: tuple[bytes, np.ndarray] | None = None
        self._cn: dict[int, np.ndarray] = {}
        T0 = self._virgin_tangents()
        self.T_ref = reference_tangent(T0, measure, d)

    # ............................................................ discretisation

    def _virgin_history(self) -> tuple[State, list[tuple[str, ...]]]:
        hist0: State = {}
        fields: list[tuple[str, ...]] = []
        for p, mat in enumerate(self.phases):
            n_p = self.slices[p].stop - self.slices[p].start
            init = mat.initial_state((n_p, self.nqp)) if hasattr(mat, "initial_state") else None
            names = tuple(init) if init else ()
            fields.append(names)
            for k in names:
                v = np.asarray(init[k], dtype=float)
                shape = v.shape[:-2] + (self.nel, self.nqp)
                if k in hist0 and hist0[k].shape != shape:
                    raise ValueError(
                        f"RVE: phases share the history field {k!r} with different shapes "
                        f"{hist0[k].shape[:-2]} and {v.shape[:-2]}"
                    )
                if k not in hist0:
                    hist0[k] = np.zeros(shape)
                hist0[k][..., self.slices[p], :] = v
        return hist0, fields

    def _zero_measure(self, npts: tuple[int, ...]) -> np.ndarray:
        g = np.zeros(self.ishape + npts)
        if self.measure == "deformation_gradient":
            g += np.eye(self.d).reshape((self.d, self.d) + (1,) * len(npts))
        return g

    def _virgin_tangents(self) -> list[np.ndarray]:
        """Tangent ``(nA, nA)`` of every phase at zero input and virgin history."""
        out = []
        for mat in self.phases:
            st = mat.initial_state((1, 1)) if hasattr(mat, "initial_state") else None
            r = mat.evaluate(self._zero_measure((1, 1)), state=st)
            out.append(np.asarray(r.tangent, dtype=float).reshape(self.nA, self.nA))
        return out

    @property
    def dx(self) -> np.ndarray:
        """Quadrature weights times Jacobians ``(n_el, n_qp)`` (all equal)."""
        if self._dx is None:
            self._dx = np.full((self.nel, self.nqp), self.dxq)
        return self._dx

    def _sym(self, H: np.ndarray) -> np.ndarray:
        """Affine measure part ``(nA,)`` of a macro gradient ``h (nH,)``."""
        if self.measure == "strain":
            Hm = H.reshape(self.d, self.d)
            return (0.5 * (Hm + Hm.T)).ravel()
        return np.asarray(H, dtype=float).ravel()

    def gather(self, w: np.ndarray) -> np.ndarray:
        """Corner values of every voxel ``(nloc, n_el)`` (voxel order) from ``w (N,)``."""
        c, d = self.c, self.d
        u = np.pad(w.reshape((c,) + self.n), [(0, 0)] + [(0, 1)] * d, mode="wrap")
        U = np.empty((len(self.corners), c) + self.n)
        for a, corner in enumerate(self.corners):
            U[a] = u[(slice(None),) + tuple(slice(k, k + n) for k, n in zip(corner, self.n,
                                                                             strict=True))]
        return U.reshape(self.nloc, self.nel)

    def scatter(self, F: np.ndarray) -> tuple[np.ndarray, float]:
        """Sum element vectors ``F (nloc, n_el)`` into nodal forces.

        Returns the periodic (folded) vector ``(N,)`` and the norm of the unfolded one on
        the ``(n + 1)^d`` grid (the sparse path's full force vector).
        """
        c, d = self.c, self.d
        F = F.reshape((len(self.corners), c) + self.n)
        out = np.zeros((c,) + tuple(k + 1 for k in self.n))
        for a, corner in enumerate(self.corners):
            out[(slice(None),) + tuple(slice(k, k + n) for k, n in zip(corner, self.n,
                                                                       strict=True))] += F[a]
        norm = float(np.linalg.norm(out))
        for ax in range(1, d + 1):
            n = self.n[ax - 1]
            first = [slice(None)] * (d + 1)
            last = [slice(None)] * (d + 1)
            first[ax], last[ax] = 0, n
            out[tuple(first)] += out[tuple(last)]
            keep = [slice(None)] * (d + 1)
            keep[ax] = slice(0, n)
            out = out[tuple(keep)]
        return np.ascontiguousarray(out).reshape(-1), norm

    def measure_field(self, h: np.ndarray, w: np.ndarray) -> np.ndarray:
        """Micro input ``(*idx, n_el, n_qp)`` (sorted elements) of ``h (nH,)`` and ``w (N,)``."""
        U = self.gather(w)
        G = (self.B.reshape(self.nA * self.nqp, self.nloc) @ U).reshape(self.nA, self.nqp,
                                                                          self.nel)
        G += self._sym(h)[:, None, None]
        G = np.take(G, self.order, axis=2).transpose(0, 2, 1)
        g = np.ascontiguousarray(G).reshape(self.ishape + (self.nel, self.nqp))
        if self.measure == "deformation_gradient":
            g += np.eye(self.d)[:, :, None, None]
        return g

    def internal_force(self, flux: np.ndarray) -> tuple[np.ndarray, float]:
        """``f = sum_q dx B^T flux`` ``(N,)`` and the unfolded norm, flux ``(*idx, n_el, n_qp)``."""
        fl = np.asarray(flux, dtype=float).reshape(self.nA, self.nel, self.nqp)
        fg = np.empty((self.nA, self.nqp, self.nel))
        fg[:, :, self.order] = fl.transpose(0, 2, 1)
        F = self.B.reshape(self.nA * self.nqp, self.nloc).T @ fg.reshape(-1, self.nel)
        return self.scatter(F * self.dxq)

    # ............................................................ linearised operator

    def set_tangent(self, tangents: Sequence[np.ndarray]) -> None:
        """Set the linearised operator from per-phase tangents.

        ``tangents[p]``: ``(nA, nA)`` (constant over phase ``p``) or
        ``(*idx, *idx, n_p, n_qp)`` over the phase's (sorted) elements.
        """
        Bq = self.B.transpose(1, 0, 2)  # (nqp, nA, nloc)
        ops = []
        for p, T in enumerate(tangents):
            idx = self.index[p]
            if idx.size == 0:
                continue
            T = np.asarray(T, dtype=float)
            if T.ndim == 2:
                Ke = element_matrix(self.B, T, self.dxq)
                Ka = self.dxq * np.einsum("qAl,AB->lB", Bq, T)  # affine part (nloc, nA)
                ops.append(("const", idx, T, Ke, Ka, p))
            else:
                # per-point tangents on the symmetric part only for small strain (6 x 6
                # instead of 9 x 9: the measure and B are symmetric), points last
                M = self._Mv
                Tq = np.einsum("Aa,ABeq,Bb->abqe", M, T.reshape(self.nA, self.nA, idx.size,
                                                                 self.nqp), M, optimize=True)
                ops.append(("var", idx, np.ascontiguousarray(Tq), None, None, p))
        self._ops = ops
        self._full = len(ops) == 1 and ops[0][1].size == self.nel
        # the largest phase of constant tangent is applied to all voxels by one matrix
        # product; the others as corrections on their voxels (fewer gathers and scatters)
        # (not when a phase of varying tangent is larger: then each phase on its own voxels)
        const = [k for k, op in enumerate(ops) if op[0] == "const"]
        var = max((op[1].size for op in ops if op[0] == "var"), default=0)
        self._base = max(const, key=lambda k: ops[k][1].size) if const else None
        if self._base is not None and ops[self._base][1].size < var:
            self._base = None
        # when it fills at least half the cell: through its Fourier symbol (two FFTs instead
        # of the gather, matrix product and scatter over all voxels)
        self._base_sym = None
        if self._base is not None and ops[self._base][1].size >= self.nel // 2:
            Tb = ops[self._base][2]
            key = Tb.tobytes()
            if self._sym_cache is None or self._sym_cache[0] != key:
                self._sym_cache = (key, self._symbol(Tb))
            self._base_sym = self._sym_cache[1]

    def _corner_nodes(self, p: int) -> np.ndarray:
        """Flat periodic node index of every corner of the voxels of phase ``p`` ``(2^d, n_p)``."""
        cn = self._cn.get(p)
        if cn is None:
            multi = np.unravel_index(self.index[p], self.n)
            cn = np.stack([
                np.ravel_multi_index(tuple((m + a) % n for m, a, n in zip(multi, corner, self.n,
                                                                          strict=True)), self.n)
                for corner in self.corners
            ])
            self._cn[p] = cn
        return cn

    def _apply_fourier(self, w: np.ndarray) -> np.ndarray:
        """``K w``: the base phase by its symbol on the whole grid, the others corrected."""
        c, nc = self.c, len(self.corners)
        f = self._circulant(self._base_sym, w).reshape(c, self.nel)
        W = w.reshape(c, self.nel)
        Kb = self._ops[self._base][3]
        for k, (kind, idx, T, Ke, _, p) in enumerate(self._ops):
            if k == self._base:
                continue
            cn = self._corner_nodes(p)
            Ue = W[:, cn].transpose(1, 0, 2).reshape(self.nloc, idx.size)
            if kind == "const":
                dF = (Ke - Kb) @ Ue
            else:
                dF = self._var_force(T, Ue, None) - Kb @ Ue
            dF = dF.reshape(nc, c, idx.size)
            flat = cn.ravel()
            for i in range(c):
                f[i] += np.bincount(flat, weights=dF[:, i, :].ravel(), minlength=self.nel)
        return f.reshape(-1)

    def apply(self, w: np.ndarray) -> np.ndarray:
        """Linearised operator ``K w`` ``(N,)`` (set by :meth:`set_tangent`)."""
        if self._base_sym is not None:
            return self._apply_fourier(w)
        return self._apply(w)

    def _apply(self, w: np.ndarray, H: np.ndarray | None = None, norm: bool = False):
        """``K w`` plus the force of the affine gradient ``H`` ``(N,)``.

        With ``norm``: also the unfolded norm (see :meth:`scatter`).
        """
        U = self.gather(w)
        Hs = None if H is None else self._sym(H)
        Kb = Kab = None
        if self._base is not None:
            _, _, _, Kb, Kab, _ = self._ops[self._base]
            F = Kb @ U
            if Hs is not None:
                F += (Kab @ Hs)[:, None]
        else:
            F = np.zeros((self.nloc, self.nel))
        for k, (kind, idx, T, Ke, Ka, _) in enumerate(self._ops):
            if k == self._base:
                continue
            Ue = np.take(U, idx, axis=1)
            if kind == "const":
                dF = (Ke if Kb is None else Ke - Kb) @ Ue
                if Hs is not None:
                    dF += ((Ka if Kab is None else Ka - Kab) @ Hs)[:, None]
            else:
                dF = self._var_force(T, Ue, Hs)
                if Kb is not None:
                    dF -= Kb @ Ue
                    if Hs is not None:
                        dF -= (Kab @ Hs)[:, None]
            F[:, idx] += dF
        f, fn = self.scatter(F)
        return (f, fn) if norm else f

    def _mean_flux(self, w: np.ndarray, H: np.ndarray) -> np.ndarray:
        """Volume average ``(nA,)`` of the linearised flux ``T : (H + grad w)``."""
        U = self.gather(w)
        Bf = self.B.reshape(self.nA * self.nqp, self.nloc)
        Hs = self._sym(H)
        qsum = np.zeros(self.nA)
        for kind, idx, T, _, _, _ in self._ops:
            Ue = U if self._full else np.take(U, idx, axis=1)
            if kind == "const":
                gm = (Bf @ Ue.sum(axis=1)).reshape(self.nA, self.nqp).sum(axis=1)
                qsum += T @ (gm + self.nqp * idx.size * Hs)
            else:
                G = (self._Bv @ Ue).reshape(-1, self.nqp, idx.size)
                G += (self._Mv.T @ Hs)[:, None, None]
                qsum += self._Mv @ np.einsum("ABqe,Bqe->A", T, G)
        return qsum * self.dxq / self.volume

    def _var_force(self, T: np.ndarray, Ue: np.ndarray, Hs: np.ndarray | None) -> np.ndarray:
        """Element forces ``(nloc, n_e)`` of per-point tangents ``T (nv, nv, nqp, n_e)``."""
        G = (self._Bv @ Ue).reshape(-1, self.nqp, Ue.shape[1])
        if Hs is not None:
            G += (self._Mv.T @ Hs)[:, None, None]
        q = np.einsum("ABqe,Bqe->Aqe", T, G)
        return self.dxq * (self._Bv.T @ q.reshape(-1, Ue.shape[1]))

    # ............................................................ preconditioner

    def _freqs(self) -> list[np.ndarray]:
        return [np.fft.fftfreq(k) for k in self.n[:-1]] + [np.fft.rfftfreq(self.n[-1])]

    def _symbol(self, T: np.ndarray) -> np.ndarray:
        """Fourier symbol ``(c, c, *fshape)`` of the operator of a homogeneous tangent ``T``."""
        return circulant_symbol(element_matrix(self.B, T, self.dxq), self.c, self._freqs())

    def _preconditioner(self) -> np.ndarray:
        """Inverse symbol ``(c, c, *fshape)`` of the reference operator (zero at frequency 0)."""
        if self._prec is None:
            self._prec = invert_symbol(self._symbol(self.T_ref), zero=True)
        return self._prec

    def _circulant(self, sym: np.ndarray, r: np.ndarray) -> np.ndarray:
        """Apply the block-circulant operator of symbol ``sym (c, c, *fshape)`` to ``r (N,)``."""
        c, d = self.c, self.d
        axes = tuple(range(1, d + 1))
        R = scipy.fft.rfftn(r.reshape((c,) + self.n), axes=axes, workers=_WORKERS)
        Z = np.empty_like(R)
        for i in range(c):
            np.multiply(sym[i, 0], R[0], out=Z[i])
            for j in range(1, c):
                Z[i] += sym[i, j] * R[j]
        return scipy.fft.irfftn(Z, s=self.n, axes=axes, workers=_WORKERS).reshape(-1)

    def precondition(self, r: np.ndarray) -> np.ndarray:
        """Apply the inverse reference operator to a residual ``r (N,)`` (zero-mean result)."""
        return self._circulant(self._preconditioner(), r)

    def krylov(self, b: np.ndarray, rtol: float, symmetric: bool = True, atol: float = 0.0
               ) -> tuple[np.ndarray, int, bool]:
        """Solve ``K x = b`` (zero-mean ``x``) by preconditioned CG (GMRES if not symmetric).

        Stops at ``|K x - b| <= max(rtol |b|, atol)``. Returns the solution ``(N,)``, the
        iterations and whether the tolerance was met.
        """
        N = self.N
        A = spla.LinearOperator((N, N), matvec=self.apply, dtype=float)
        M = spla.LinearOperator((N, N), matvec=self.precondition, dtype=float)
        count = [0]

        def cb(_):
            count[0] += 1

        if np.linalg.norm(b) <= atol or not np.any(b):
            return np.zeros(N), 0, True
        if symmetric:
            x, info = spla.cg(A, b, rtol=rtol, atol=atol, maxiter=self.krylov_maxiter, M=M,
                              callback=cb)
        else:
            x, info = spla.gmres(A, b, rtol=rtol, atol=atol, restart=60,
                                 maxiter=max(1, self.krylov_maxiter // 60), M=M,
                                 callback=cb, callback_type="pr_norm")
        if info != 0:
            log.warning("FFT RVE: Krylov solve stopped after %d iterations above rtol %.1e",
                        count[0], rtol)
        return x, count[0], info == 0

    # ............................................................ micro solve

    def evaluate_phases(self, gq: np.ndarray, hist_c: State
                        ) -> tuple[np.ndarray, list[np.ndarray], State]:
        """Flux ``(*idx, n_el, n_qp)``, per-phase tangents and trial history at ``gq``.

        A phase whose tangent is the same at all its points gives ``(nA, nA)`` (element
        matrices), otherwise ``(*idx, *idx, n_p, n_qp)``. Raises OracleError from a phase.
        """
        flux = np.empty(gq.shape)
        tangents: list[np.ndarray] = []
        new = {k: v.copy() for k, v in hist_c.items()}
        for p, mat in enumerate(self.phases):
            sl = self.slices[p]
            if sl.stop == sl.start:
                tangents.append(np.zeros((self.nA, self.nA)))
                continue
            st = {k: hist_c[k][..., sl, :] for k in self.fields[p]} or None
            r = mat.evaluate(gq[..., sl, :], state=st)
            flux[..., sl, :] = r.flux
            t = np.asarray(r.tangent, dtype=float).reshape(self.nA, self.nA, -1)
            if (t.strides[-1] == 0) or np.all(t == t[:, :, :1]):
                tangents.append(np.array(t[:, :, 0]))
            else:
                tangents.append(np.asarray(r.tangent, dtype=float))
            if r.state:
                for k, v in r.state.items():
                    new[k][..., sl, :] = v
        return flux, tangents, new

    @staticmethod
    def _symmetric(tangents: Sequence[np.ndarray], nA: int) -> bool:
        for T in tangents:
            t = T.reshape(nA, nA, -1)
            scale = np.abs(t).max()
            if scale > 0 and not np.allclose(t, t.transpose(1, 0, 2), rtol=1e-12,
                                             atol=1e-14 * scale):
                return False
        return True

    def condense(self, tangents: Sequence[np.ndarray], keep_fields: bool = True
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
        """Homogenized tangent of the linearised cell, one solve per independent load case.

        Returns ``T (nH, nH)``, the Hill–Mandel form ``M (nH, nH)`` of the linearised cell,
        the fluctuations per unit affine gradient ``dW (N, nH)`` (None unless
        ``keep_fields``) and the Krylov iterations. Symmetric tangents: the energy form
        ``T6[a, c] = <g_a : T : g_c> = H_a : <q_c> + w_a . r_c / |Y|`` (error quadratic in
        the solve's), ``M[a, c] = w_a . r_c / |Y|`` (``r_c``: residual of case ``c``).
        """
        self.set_tangent(tangents)
        sym = self._symmetric(tangents, self.nA)
        S, Q = self.S, self.Q
        nc = S.shape[1]
        W = np.zeros((self.N, nc))
        R = np.zeros((self.N, nc))
        Sig = np.zeros((self.nA, nc))
        its = 0
        for k in range(nc):
            H = S[:, k]
            b, scale = self._apply(np.zeros(self.N), H, norm=True)
            rtol = self.krylov_rtol if sym else 1e-2 * self.krylov_rtol
            # a homogeneous cell has b = 0 up to round-off: nothing to solve
            x, it, _ = self.krylov(-b, rtol, sym, atol=1e-3 * rtol * scale)
            its += it
            W[:, k] = x
            R[:, k] = self._apply(x, H)
            Sig[:, k] = self._mean_flux(x, H)
        Mc = W.T @ R / self.volume  # (nc, nc): M[a, c] = w_a . r_c / |Y|
        if sym:
            Tc = S.T @ Sig + Mc
            Tc = 0.5 * (Tc + Tc.T)
            T = Q.T @ Tc @ Q
        else:
            T = Sig @ Q
        M = Q.T @ Mc @ Q
        dW = W @ Q if keep_fields else None
        return T, M, dW, its

    def linearization(self, all_linear: bool) -> FFTPoint:
        """Tangent, Hill–Mandel form and ``dW`` at zero input and virgin history.

        ``all_linear``: every phase has a constant tangent (then no quadrature fields are
        built: 128^3 elastic cells fit in memory).
        """
        if all_linear:
            T, M, dW, its = self.condense(self._virgin_tangents(), keep_fields=False)
            return FFTPoint(np.zeros(self.nH), T, np.zeros(self.N), self.hist0, 0, True, 0.0,
                            its, dW=dW, hm_form=M)
        return self.newton(np.zeros(self.nH), self.hist0, np.zeros(self.N), rtol=1e-10,
                           max_iter=1, forcing=lambda *a: _ETA_MAX)

    def newton(
        self,
        h: np.ndarray,
        hist_c: State,
        w0: np.ndarray,
        rtol: float,
        max_iter: int,
        forcing: Callable[[float, float | None, float, float], float],
    ) -> FFTPoint:
        """Micro Newton–Krylov at affine gradient ``h (nH,)`` from the fluctuation ``w0 (N,)``.

        Converged when the periodic residual is below ``rtol`` times the norm of the
        unfolded internal force vector (the sparse path's test). ``forcing(rn, rn_prev,
        tol, eta_max)`` gives the relative tolerance of every inexact step. The first
        evaluation's OracleError propagates; later ones halve the step.
        """
        w = np.array(w0, dtype=float)
        gq = self.measure_field(h, w)
        flux, tangents, hist = self.evaluate_phases(gq, hist_c)
        f, fnorm = self.internal_force(flux)
        it = kry = 0
        converged = False
        rn_prev = None
        while True:
            rn = float(np.linalg.norm(f))
            tol = rtol * fnorm
            if rn <= tol or rn == 0.0:
                converged = True
                break
            if it >= max_iter:
                break
            self.set_tangent(tangents)
            eta = forcing(rn, rn_prev, tol, _ETA_MAX)
            rn_prev = rn
            dw, k, _ = self.krylov(-f, eta, self._symmetric(tangents, self.nA))
            kry += k
            step = 1.0
            for _ in range(10):
                try:
                    wt = w + step * dw
                    gq = self.measure_field(h, wt)
                    flux, tangents, hist = self.evaluate_phases(gq, hist_c)
                    break
                except OracleError as err:
                    log.debug("FFT micro Newton: %s; halving the step", err)
                    step *= 0.5
            else:
                break
            w = wt
            f, fnorm = self.internal_force(flux)
            it += 1
        T, M, dW, k = self.condense(tangents)
        kry += k
        Sigma = volume_average(flux, self.dx, self.volume).ravel()
        hm = hill_mandel(flux, gq, self.dx, self.volume).residual
        return FFTPoint(Sigma, T, w, hist, it, converged, hm, kry, gq, flux, dW, M)

    # ............................................................ fields on a mesh

    def to_basis(self, basis: Any, h: np.ndarray, w: np.ndarray, measure: np.ndarray,
                 flux: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                            np.ndarray]:
        """Fields of a solve on the scikit-fem basis of ``cell.to_mesh()``.

        Returns ``u (N_b,)``, ``w (N_b,)`` (basis dofs, total and fluctuation), ``measure``,
        ``flux`` ``(*idx, n_el, n_qp)`` in the basis' element and quadrature-point order,
        and the phase of every basis element ``(n_el,)``.
        """
        d, c = self.d, self.c
        lo = np.asarray(self.cell.origin)
        xc = np.asarray(self.cell.center)
        X = np.asarray(basis.doflocs)  # (d, N_b)
        node = np.rint((X - lo[:, None]) / self.h[:, None]).astype(np.int64)
        node %= np.asarray(self.n)[:, None]
        flat = np.ravel_multi_index(tuple(node), self.n)
        wg = w.reshape(c, self.nel)
        Hm = np.asarray(h, dtype=float).reshape((1, d) if c == 1 else (d, d))
        if c == 1:
            comp = np.zeros(basis.N, dtype=np.int64)
        else:
            comp = np.empty(basis.N, dtype=np.int64)
            for i, idx in enumerate(basis.split_indices()):
                comp[idx] = i
        wb = wg[comp, flat]
        ub = wb + np.einsum("nj,jn->n", Hm[comp], X - xc[:, None])
        # elements: voxel of each basis element, Gauss point of each basis quadrature point
        xq = np.asarray(basis.mapping.F(basis.X))  # (d, n_el, n_qp)
        cen = xq.mean(axis=2)
        vox = np.floor((cen - lo[:, None]) / self.h[:, None]).astype(np.int64)
        vox = np.clip(vox, 0, np.asarray(self.n)[:, None] - 1)
        vflat = np.ravel_multi_index(tuple(vox), self.n)
        pos = np.empty(self.nel, dtype=np.int64)
        pos[self.order] = np.arange(self.nel)
        e_sorted = pos[vflat]  # (n_el_b,)
        xi = (xq - (lo[:, None] + vox * self.h[:, None])[:, :, None]) / self.h[:, None, None]
        dist = np.linalg.norm(xi[:, :, :, None] - self.qp_ref.T[:, None, None, :], axis=0)
        q = np.argmin(dist, axis=2)  # (n_el_b, n_qp_b)
        if dist.min(axis=2).max() > 1e-6:
            raise ValueError("FFT RVE: the basis quadrature is not the 2^d Gauss rule")
        mb = measure[..., e_sorted[:, None], q]
        fb = flux[..., e_sorted[:, None], q]
        return ub, wb, mb, fb, self.phase[e_sorted]
