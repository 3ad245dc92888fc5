"""RVE micro oracle: homogenized flux and tangent from a unit-cell boundary-value problem.

Given a macro input ``G`` at a point (a temperature gradient, a small strain,
or a deformation gradient ``F``) the micro field on the cell ``Y`` is split as

    u(x) = H (x - x_c) + w(x),   H = G (gradient, strain) or F - I,

and the fluctuation ``w`` solves ``div flux(measure(u)) = 0`` in ``Y`` with one
of three boundary conditions (``bc``):

* ``"kubc"``: ``w = 0`` on the boundary (affine / kinematic uniform BC);
* ``"periodic"``: ``w`` periodic (opposite boundary dofs paired by their
  coordinates modulo the box size, corners tied), one corner fixed against
  the rigid translation;
* ``"tubc"``: uniform traction / flux: ``w`` is free except for the
  constraints ``<grad w> = 0`` (the macro input is the volume average of the
  micro gradient) and a zero boundary mean of ``w`` (no translation; it
  does not change strains or fluxes), imposed by Lagrange
  multipliers; no node is pinned. Small strain constrains the full
  ``<grad w>`` (its skew part removes the rigid rotations).

With the flux vector ``f = int grad(phi)^T flux`` and the matrix
``A (N, n_H)`` of the affine fields (``u = A h``, ``h = vec(H)``) the
homogenized flux and tangent are

    <flux> = A^T f / |Y|,
    T_hom  = A^T K (A + dW/dh) / |Y|,   dW/dh = -P (P^T K P)^-1 P^T K A,

where ``P`` maps reduced to full fluctuation dofs (KUBC / periodic) or the
same with the multiplier rows appended (TUBC; both from
:mod:`fe2.homogenization.constraints`, shared with FE-HMM): the static condensation of
the converged micro stiffness ``K``, one factorization and ``n_H``
right-hand sides. Averages are over the box volume ``|Y|``.

Shapes follow :mod:`fe2.oracle`: tensor indices first, macro points last.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import skfem

from fe2.fem import GradientOperator, check_jacobians, element_for
from fe2.homogenization.averages import hill_mandel, hill_mandel_form, volume_average
from fe2.homogenization.cells import Cell
from fe2.homogenization.constraints import KINDS, ConstrainedSystem, micro_constraints
from fe2.homogenization.fft import VoxelFFT, load_cases
from fe2.homogenization.fingerprint import fingerprint
from fe2.homogenization.micro_output import write_micro_solution
from fe2.linalg import FactorKrylov
from fe2.materials import LinearConductivity, LinearElastic
from fe2.oracle import OracleBase, OracleError, Response

__all__ = ["RVE", "MicroSolution", "BOUNDARY_CONDITIONS", "METHODS"]

log = logging.getLogger(__name__)

BOUNDARY_CONDITIONS: tuple[str, ...] = KINDS
METHODS: tuple[str, ...] = ("sparse", "fft")
_ETA_MAX = 1e-3  # largest relative tolerance of an inexact micro Newton step's linear solve
_COND_RTOL = 1e-8  # relative tolerance of the condensation solves (symmetric K)
_MEASURES = ("gradient", "strain", "deformation_gradient")
_LINEAR = (LinearConductivity, LinearElastic)

State = dict[str, np.ndarray]


# ---------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class MicroSolution:
    """Micro fields of one solved cell (from :meth:`RVE.solve`).

    Attributes
    ----------
    basis : skfem.CellBasis
        Basis of the micro problem (elements sorted by phase).
    phase : ndarray (n_el,)
        Phase id of every element.
    u, w : ndarray (N,)
        Total field and fluctuation dofs (temperature or displacement).
    measure : ndarray (*idx, n_el, n_qp)
        Micro input at the quadrature points (gradient, strain or F).
    flux : ndarray (*idx, n_el, n_qp)
        Micro flux / stress.
    dx : ndarray (n_el, n_qp)
        Quadrature weights times Jacobians.
    volume : float
        Box volume ``|Y|``.
    macro_input, macro_flux : ndarray (*idx,)
        Imposed macro input (solved components included under mixed control)
        and the averaged flux.
    tangent : ndarray (*idx, *idx)
        Homogenized consistent tangent.
    iterations : int
        Micro Newton iterations.
    converged : bool
    hill_mandel : float
        ``|<flux : measure> - <flux> : <measure>|``.
    state : dict
        Trial history of this point (arrays without macro point axes).
    """

    basis: Any
    phase: np.ndarray
    u: np.ndarray
    w: np.ndarray
    measure: np.ndarray
    flux: np.ndarray
    dx: np.ndarray
    volume: float
    macro_input: np.ndarray
    macro_flux: np.ndarray
    tangent: np.ndarray
    iterations: int
    converged: bool
    hill_mandel: float
    state: State

    def average(self, field: np.ndarray) -> np.ndarray:
        """Box average ``(1/|Y|) int field`` of a quadrature field ``(*idx, n_el, n_qp)``."""
        return volume_average(field, self.dx, self.volume)


class _MicroFailure(Exception):
    """A material rejected the starting point of a micro solve (internal)."""


@dataclass
class _Point:
    """Result of one micro solve (internal)."""

    flux: np.ndarray  # (nH,)
    tangent: np.ndarray  # (nH, nH)
    w: np.ndarray  # (N,)
    hist: State
    iterations: int
    converged: bool
    hill_mandel: float
    measure: np.ndarray | None = None
    qflux: np.ndarray | None = None
    predicted: bool = False  # accepted from the elastic predictor (no Newton iteration)
    dW: np.ndarray | None = None  # (N, nH) condensation fluctuations at the last iterate
    K: sp.csr_matrix | None = None  # (N, N) micro stiffness at the last iterate
    krylov: int = 0  # Krylov iterations (method="fft")


def _linear_solve(
    m: _Micro, A: sp.csr_matrix, b: np.ndarray, rtol: float | None = None
) -> np.ndarray:
    """Solve with the micro solver; a singular matrix fails the micro solve (internal).

    ``rtol``: relative residual the caller accepts, passed on to solvers that take it
    (``solver.inexact`` true, as :class:`fe2.linalg.FactorKrylov`); other solvers solve to
    their own tolerance.
    """
    try:
        if rtol is not None and getattr(m.solver, "inexact", False):
            return m.solver(A, b, rtol=rtol)
        return m.solver(A, b)
    except RuntimeError as err:  # fe2.linalg.SolverError, SuperLU "exactly singular"
        raise _MicroFailure(f"singular micro stiffness: {err}") from err


def _forcing(rn: float, rn_prev: float | None, tol: float, eta_max: float) -> float:
    """Relative tolerance of an inexact Newton step (internal).

    Eisenstat–Walker's second choice ``0.9 (rn / rn_prev)^2``, at most ``eta_max``,
    and never tighter than needed to reach the Newton tolerance ``tol`` with this
    step (``0.5 tol / rn``).
    """
    eta = eta_max if rn_prev is None else min(eta_max, 0.9 * (rn / rn_prev) ** 2)
    return max(eta, 0.5 * tol / rn)


def _major_symmetric(tangent: np.ndarray, k: int) -> bool:
    """Whether a tangent ``(*idx, *idx, n_el, n_qp)`` (``k`` = len(idx)) is major-symmetric."""
    n = int(np.prod(tangent.shape[:k]))
    t = tangent.reshape(n, n, -1)
    return bool(np.allclose(t, t.transpose(1, 0, 2), rtol=1e-12, atol=1e-14 * np.abs(t).max()))


def _default_solver() -> FactorKrylov:
    """Linear solver of the micro problems (see :class:`fe2.linalg.FactorKrylov`)."""
    return FactorKrylov()


# ---------------------------------------------------------------- discretisation


class _Micro:
    """Everything built from the cell once: mesh, basis, operators, constraints, solver."""

    def __init__(self, rve: RVE):
        cell: Cell = rve.cell
        mesh, phase = cell.to_mesh()
        order = np.argsort(phase, kind="stable")
        kw = {"sort_t": False} if isinstance(mesh, skfem.MeshTri1) else {}
        t = np.ascontiguousarray(np.asarray(mesh.t)[:, order])
        mesh = type(mesh)(np.ascontiguousarray(mesh.p), t, **kw)
        self.mesh = mesh
        self.phase = np.asarray(phase)[order]
        bounds = np.searchsorted(self.phase, np.arange(len(rve.phases) + 1))
        self.slices = [slice(int(bounds[p]), int(bounds[p + 1])) for p in range(len(rve.phases))]
        vector = rve.measure != "gradient"
        elem = element_for(mesh, rve.order, vector)
        if rve.intorder is not None:
            basis = skfem.Basis(mesh, elem, intorder=rve.intorder)
        elif isinstance(mesh, skfem.MeshTri1) and rve.order == 1:
            quad = (np.array([[1.0 / 3.0], [1.0 / 3.0]]), np.array([0.5]))
            basis = skfem.Basis(mesh, elem, quadrature=quad)
        elif isinstance(mesh, skfem.MeshTri1 | skfem.MeshTet1):
            # gradients of degree order - 1: their products are exact at 2 (order - 1)
            basis = skfem.Basis(mesh, elem, intorder=2 * (rve.order - 1))
        else:
            basis = skfem.Basis(mesh, elem, intorder=2 * rve.order)
        check_jacobians(basis, where=f"RVE cell {cell.description or ''}".strip())
        self.basis = basis
        self.op = GradientOperator(basis, rve.measure)
        self.nel, self.nqp = self.op.nel, self.op.nqp
        self.N = basis.N
        self.volume = cell.volume
        d = cell.dim
        self.d = d
        self.ishape = (d,) if not vector else (d, d)
        self.nH = int(np.prod(self.ishape))
        X = np.asarray(basis.doflocs)
        self.X = X
        xc = cell.center
        self.comp_dofs = basis.split_indices() if vector else [np.arange(self.N)]
        A = np.zeros((self.N, self.nH))
        if not vector:
            A[:, :] = (X - xc[:, None]).T
        else:
            for i, idx in enumerate(self.comp_dofs):
                for j in range(d):
                    A[idx, i * d + j] = X[j, idx] - xc[j]
        self.A = A
        # independent load cases: h = S c, c = Q h (small strain: c are the d (d + 1) / 2
        # symmetric unit strains, S Q h = sym(h); otherwise S = Q = I)
        self.load_cases = load_cases(rve.measure, d)
        # virgin micro history, per field (*idx, n_el, n_qp)
        self.hist0: State = {}
        self.fields: list[tuple[str, ...]] = []
        for p, mat in enumerate(rve.phases):
            n_p = self.slices[p].stop - self.slices[p].start
            init = mat.initial_state((n_p, self.nqp)) if hasattr(mat, "initial_state") else None
            names = tuple(init) if init else ()
            self.fields.append(names)
            for k in names:
                v = np.asarray(init[k], dtype=float)
                shape = v.shape[:-2] + (self.nel, self.nqp)
                if k in self.hist0 and self.hist0[k].shape != shape:
                    raise ValueError(
                        f"RVE: phases share the history field {k!r} with different shapes "
                        f"{self.hist0[k].shape[:-2]} and {v.shape[:-2]}"
                    )
                if k not in self.hist0:
                    self.hist0[k] = np.zeros(shape)
                self.hist0[k][..., self.slices[p], :] = v
        # constraints
        self.bc = rve.bc
        # the fixed CSR pattern of the stiffness (no assembly: a zero matrix on the pattern)
        pat = self.op.pattern
        self.pattern_K = sp.csr_matrix(
            (np.zeros(pat.nnz), pat.indices, pat.indptr), shape=(self.N, self.N)
        )
        self.constraints = micro_constraints(basis, rve.bc, origin=cell.origin, size=cell.size)
        self.rmap = self.constraints.rmap
        self.system: ConstrainedSystem | None = None
        self.solver = (rve.solver or _default_solver)()

    def ensure_system(self, K0: sp.csr_matrix) -> ConstrainedSystem:
        """Build the constrained system once, scaling multiplier rows to the stiffness ``K0``."""
        if self.system is None:
            diag = np.abs(K0.diagonal())
            scale = float(diag.mean()) if diag.size and diag.mean() > 0 else 1.0
            self.system = ConstrainedSystem.for_matrix(self.constraints.scaled(scale),
                                                       self.pattern_K)
        return self.system


# ---------------------------------------------------------------- the oracle


class RVE(OracleBase):
    """Micro oracle solving a unit-cell problem at every macro point.

    Parameters
    ----------
    cell : Cell
        Unit cell from :mod:`fe2.homogenization.cells`.
    phases : sequence of oracles
        One material per phase id (``phases[k]`` fills the elements of phase
        ``k``), all with the same measure and the cell's dimension:
        conductivities (``"gradient"``), ``LinearElastic`` / ``J2Plasticity``
        (``"strain"``) or ``NeoHookean`` / ``SaintVenantKirchhoff``
        (``"deformation_gradient"``). The RVE takes that measure.
    bc : {"periodic", "kubc", "tubc"}
        Boundary condition of the fluctuation (see the module docs).
    order : int
        Lagrange element order, 1 or 2.
    intorder : int, optional
        Quadrature order (default: exact for the stiffness of affine cells;
        one point for linear triangles and tetrahedra).
    mixed : array_like of bool, optional
        Mask of shape ``input_shape``: components where the macro *flux* is
        prescribed instead of the input (e.g. uniaxial stress: every
        component but ``[0, 0]``). Symmetric for ``"strain"``.
    mixed_flux : array_like, optional
        Prescribed flux values at the masked components (default 0).
    rtol : float
        Micro Newton tolerance: equilibrium residual below ``rtol`` times the
        norm of the internal force vector; the same relative tolerance is
        used for the mixed-control loop.
    max_iter : int
        Micro Newton iterations per solve.
    solver : callable, optional
        Zero-argument factory of a linear solver ``solve(A, b)`` with ``b``
        ``(n,)`` or ``(n, k)``, e.g. :func:`fe2.linalg.scipy_direct`. Default
        :class:`fe2.linalg.FactorKrylov`: CHOLMOD sparse Cholesky (SuperLU for
        non-symmetric or indefinite systems) with a fill-reducing ordering computed
        once and reused across Newton steps and macro points (the pattern is fixed);
        within one micro solve its factors precondition GMRES for the later
        Newton matrices and the condensation. A solver with a ``reset()``
        method has it called at the start of every micro solve; one with
        ``inexact = True`` is called as ``solve(A, b, rtol=...)`` for the
        inexact Newton steps. Cells of more than ~1e5 3D DOFs: use
        ``lambda: fe2.linalg.petsc_krylov("micro_")``.
    executor : concurrent.futures.Executor, optional
        When given, :meth:`evaluate` splits the macro points into chunks run
        through :func:`fe2.oracle.evaluate` on it (process pools welcome: the
        RVE pickles without its caches).
    chunk_size : int, optional
        Points per chunk with ``executor``.
    predictor : {None, "elastic"}
        Every micro Newton iteration starts from the committed fluctuation
        plus the cell's linear response to the macro increment,
        ``w = w_c + dW_el (h - h_c)``, with ``dW_el`` from the one
        factorization behind :meth:`effective_tensor` (the linearization at
        zero input and virgin history). With ``"elastic"`` (measure
        ``"strain"``, not with ``mixed``) the prediction is moreover
        accepted, without any micro solve, when every phase answers
        there with exactly the tangent of the virgin cell (no micro point
        yields) and the micro residual already meets ``rtol``: the converged
        micro state of the Newton iteration, to its tolerance, with the
        elastic homogenized tangent. Otherwise the Newton iteration starts
        from the predicted fluctuation (the sub-stepping fallback still from
        the committed one). Same converged answers to ``rtol``; fewer
        micro solves while points stay elastic (loading below yield, elastic
        unloading). ``info["predicted"]`` marks the
        accepted points. No effect on cells with linear phases (already one
        solve in all).
    method : {"sparse", "fft"}
        ``"sparse"``: assemble the micro stiffness and solve with ``solver``.
        ``"fft"``: voxel cells with ``bc="periodic"`` and ``order=1`` only; the same
        finite-element problem (same elements, quadrature and answers to the solver
        tolerance) solved matrix-free by conjugate gradients preconditioned with the
        FFT-diagonalised operator of a homogeneous reference medium (FANS, see
        :mod:`fe2.homogenization.fft`); memory and time O(N log N) per iteration.
        Fluctuations are stored at the periodic voxel nodes with zero mean;
        ``info["krylov_iterations"]`` counts the conjugate-gradient iterations
        behind every answer (linear cells: those of the one linearization that all
        points share).

    Notes
    -----
    ``evaluate(g, x=None, state=None)`` returns, for ``g (*idx, *pts)``:

    * ``flux (*idx, *pts)``: volume-averaged flux / Cauchy stress / PK1;
    * ``tangent (*idx, *idx, *pts)``: consistent homogenized tangent by static
      condensation of the converged micro stiffness (with ``mixed``: the
      tangent of the flux at fixed prescribed components; masked rows and
      columns are zero);
    * ``state``: None when every phase is linear (then the answer is
      ``T_eff : g`` with the effective tensor of one factorization), else
      the trial micro history:

      - ``"fluctuation"``: ``(N, *pts)``, the micro fluctuation dofs (warm start);
      - ``"macro_input"``: ``(*idx, *pts)``, the input of the solve (with
        ``mixed``: the solved components), start of the sub-stepping fallback;
      - every history field of the phases, e.g. J2's ``"eps_p"``
        ``(3, 3, n_el, n_qp, *pts)``, ``"alpha"`` ``(n_el, n_qp, *pts)``,
        ``"beta"``, over all micro elements (sorted by phase; zeros in
        phases without that field);
    * ``info``: ``"iterations"`` (micro Newton iterations), ``"hill_mandel"``
      ``|<flux : measure> - <flux> : <measure>|``, ``"converged"`` (bool),
      all of shape ``pts``.

    A micro solve that fails from the warm start is retried by sub-stepping
    the macro input from the committed ``"macro_input"``; a point that still
    fails is reported with ``converged = False`` (and a warning). A point
    whose micro problem cannot be solved at all (a phase rejects every
    sub-step, a singular micro stiffness) raises :class:`~fe2.oracle.OracleError`
    with the attributes ``point`` (index in the point axes of this call),
    ``macro_input`` ``(*idx,)`` and ``reason`` (the failure without the
    location), so that a macro solver can name the point in its own numbering.

    Identical RVEs (same :meth:`fingerprint`) give identical answers; a macro
    :class:`~fe2.macro.Problem` shares one object between its subdomains.

    Examples
    --------
    >>> from fe2.materials import LinearConductivity
    >>> from fe2.homogenization import RVE, cells
    >>> rve = RVE(cells.laminate([0.5, 0.5]), [LinearConductivity(1.0), LinearConductivity(3.0)])
    >>> K = rve.effective_tensor()
    >>> round(float(K[0, 0]), 12), round(float(K[1, 1]), 12)   # harmonic, arithmetic means
    (1.5, 2.0)
    """

    def __init__(
        self,
        cell: Cell,
        phases: Sequence[Any],
        bc: str = "periodic",
        *,
        order: int = 1,
        intorder: int | None = None,
        mixed: np.ndarray | None = None,
        mixed_flux: np.ndarray | None = None,
        rtol: float = 1e-10,
        max_iter: int = 25,
        solver: Callable[[], Callable] | None = None,
        executor: Any = None,
        chunk_size: int | None = None,
        predictor: str | None = None,
        method: str = "sparse",
    ):
        if not isinstance(cell, Cell):
            raise ValueError(
                "RVE: cell must be a fe2.homogenization.cells.Cell (e.g. cells.from_image(array)), "
                f"got {type(cell).__name__}"
            )
        self.cell = cell
        if isinstance(phases, str) or not isinstance(phases, Sequence) or len(phases) == 0:
            raise ValueError(
                f"RVE: phases must be a non-empty list of materials indexed by phase id, "
                f"got {phases!r}"
            )
        self.phases = list(phases)
        measures = []
        for k, mat in enumerate(self.phases):
            if not hasattr(mat, "evaluate") or not hasattr(mat, "measure"):
                raise ValueError(f"RVE: phases[{k}] = {mat!r} is not a material oracle")
            measures.append(mat.measure)
        if len(set(measures)) > 1:
            listing = ", ".join(
                f"phases[{k}] {type(m).__name__}: {m.measure!r}" for k, m in enumerate(self.phases)
            )
            raise ValueError(
                f"RVE: all phases must share one measure, got a mix ({listing}); combine "
                "conductivities, small-strain or finite-strain materials only among themselves"
            )
        if measures[0] not in _MEASURES:
            raise ValueError(
                f"RVE: phase measure {measures[0]!r} is not supported; expected one of "
                f"{', '.join(_MEASURES)}"
            )
        self.measure = measures[0]
        self.dim = cell.dim
        for k, mat in enumerate(self.phases):
            if int(getattr(mat, "dim", -1)) != cell.dim:
                raise ValueError(
                    f"RVE: phases[{k}] {mat!r} has dim {getattr(mat, 'dim', None)}, but the "
                    f"cell is {cell.dim}D"
                )
        ids = np.unique(cell.image if cell.image is not None else cell.phase)
        missing = ids[ids >= len(self.phases)]
        if missing.size:
            raise ValueError(
                f"RVE: the cell has phase id {int(missing[0])} but phases has "
                f"{len(self.phases)} materials (ids 0..{len(self.phases) - 1}); give one "
                "material per phase id"
            )
        if bc not in BOUNDARY_CONDITIONS:
            raise ValueError(
                f"RVE: bc must be one of {', '.join(map(repr, BOUNDARY_CONDITIONS))}, got {bc!r}"
            )
        self.bc = bc
        if order not in (1, 2):
            raise ValueError(f"RVE: order must be 1 or 2, got {order!r}")
        self.order = int(order)
        self.intorder = intorder
        if not (isinstance(rtol, float | int) and 0 < rtol < 1):
            raise ValueError(f"RVE: rtol must be in (0, 1), got {rtol!r}")
        self.rtol = float(rtol)
        if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
            raise ValueError(f"RVE: max_iter must be an integer >= 1, got {max_iter!r}")
        self.max_iter = max_iter
        self.solver = solver
        self.executor = executor
        self.chunk_size = chunk_size
        self.linear = all(isinstance(m, _LINEAR) for m in self.phases)
        self.mixed, self.mixed_flux = self._check_mixed(mixed, mixed_flux)
        if predictor not in (None, "elastic"):
            raise ValueError(f"RVE: predictor must be None or 'elastic', got {predictor!r}")
        if predictor == "elastic" and (self.measure != "strain" or self.mixed is not None):
            why = "mixed control" if self.measure == "strain" else f"measure {self.measure!r}"
            raise ValueError(
                f"RVE: predictor='elastic' needs small-strain phases (measure 'strain') without "
                f"mixed control; this cell has {why}"
            )
        self.predictor = predictor
        if method not in METHODS:
            raise ValueError(f"RVE: method must be one of {', '.join(map(repr, METHODS))}, "
                             f"got {method!r}")
        if method == "fft":
            bad = [
                (cell.kind != "voxel", f"a voxel cell (cells.from_image), got {cell!r}"),
                (bc != "periodic", f"bc='periodic', got {bc!r}"),
                (order != 1, f"order=1 (trilinear voxels), got {order!r}"),
                (intorder not in (None, 2), f"the 2^d Gauss rule (intorder None or 2), "
                                            f"got {intorder!r}"),
                (solver is not None, "no solver factory (it applies to method='sparse')"),
                (predictor is not None, "predictor=None"),
            ]
            for cond, what in bad:
                if cond:
                    raise ValueError(f"RVE: method='fft' needs {what}")
        self.method = method
        self._lin: tuple[np.ndarray, np.ndarray] | None = None
        # fluctuation per unit affine gradient (N, nH) and phase tangents (*idx, *idx, n_el,
        # n_qp) of the linearization, for the elastic predictor
        self._lin_fields: tuple[np.ndarray, np.ndarray] | None = None
        self._lin_krylov = 0  # Krylov iterations of the linearization (method="fft")
        self._local = threading.local()
        self._micro()  # validate the mesh and the boundary conditions now

    # .............................................................. plumbing

    def __repr__(self) -> str:
        mats = ", ".join(type(m).__name__ for m in self.phases)
        return f"RVE({self.cell!r}, phases=[{mats}], bc={self.bc!r}, measure={self.measure!r})"

    def fingerprint(self) -> str:
        """Content hash (hex) of everything that determines the answers.

        Covers the micro mesh and phase ids, the phase materials (type and
        all attributes), ``bc``, ``order``, ``intorder``, ``mixed``, ``rtol``,
        ``max_iter``, ``predictor`` and the solver factory; not the executor.
        Callables (a phase's user function, the solver factory) are hashed by
        their code, defaults and closure values, not by name; an object whose
        content cannot be inspected is hashed by identity (so it is shared only
        with itself). Equal fingerprints mean interchangeable oracles.
        """
        m = self._micro()
        if self.method == "fft":
            geometry: tuple = ("fft", np.asarray(self.cell.image))
        else:
            geometry = (type(m.mesh).__name__, np.asarray(m.mesh.p), np.asarray(m.mesh.t))
        return fingerprint(
            type(self).__qualname__, self.measure, self.bc, self.order, self.intorder,
            self.rtol, self.max_iter, self.predictor, self.mixed, self.mixed_flux,
            self.solver, tuple(self.cell.size), self.cell.origin, *geometry, m.phase,
            self.phases,
        )

    def __getstate__(self) -> dict:
        if self.linear and self._lin is None:
            # one cell solve here, shipped to every worker, instead of one per chunk
            self._linearization()
        st = self.__dict__.copy()
        del st["_local"]  # bases, operators, factorizations: rebuilt lazily
        st["executor"] = None
        return st

    def __setstate__(self, st: dict) -> None:
        self.__dict__.update(st)
        self._local = threading.local()

    def _micro(self) -> _Micro:
        """The discretisation and solver caches of this thread (built on first use)."""
        m = getattr(self._local, "m", None)
        if m is None:
            if self.method == "fft":
                m = self._local.m = VoxelFFT(self.cell, self.phases, self.measure)
            else:
                m = self._local.m = _Micro(self)
        return m

    def _check_mixed(self, mixed, mixed_flux):
        if mixed is None:
            if mixed_flux is not None:
                raise ValueError("RVE: mixed_flux needs a mixed mask")
            return None, None
        ishape = self.input_shape
        mask = np.asarray(mixed)
        if mask.shape != ishape or mask.dtype != bool:
            raise ValueError(
                f"RVE: mixed must be a bool mask of shape {ishape} (components with prescribed "
                f"flux), got {mask.dtype} array of shape {mask.shape}"
            )
        if self.measure == "strain" and not np.array_equal(mask, mask.T):
            raise ValueError(
                f"RVE: mixed mask must be symmetric for measure 'strain', got {mask.tolist()}"
            )
        vals = np.zeros(ishape) if mixed_flux is None else np.asarray(mixed_flux, dtype=float)
        if vals.shape != ishape:
            raise ValueError(f"RVE: mixed_flux must have shape {ishape}, got {vals.shape}")
        if not mask.any():
            return None, None
        return mask.copy(), vals

    # .............................................................. micro physics

    def _to_h(self, g: np.ndarray) -> np.ndarray:
        """Macro input ``(*idx,)`` -> affine gradient ``h (nH,)``."""
        h = np.array(g, dtype=float).reshape(-1)
        if self.measure == "deformation_gradient":
            h -= np.eye(self.dim).ravel()
        return h

    def _zero_input(self) -> np.ndarray:
        if self.measure == "deformation_gradient":
            return np.eye(self.dim)
        return np.zeros(self.input_shape)

    def _materials(self, m: _Micro, gq: np.ndarray, hist_c: State):
        """Flux, tangent and trial history of all phases at micro input ``gq (*idx, n_el, n_qp)``.

        Elements are sorted by phase, so every phase is a slice (views, no copies).
        """
        flux = np.empty(gq.shape)
        tangent = np.empty(m.ishape + gq.shape)
        new = {k: v.copy() for k, v in hist_c.items()}
        for p, mat in enumerate(self.phases):
            sl = m.slices[p]
            if sl.stop == sl.start:
                continue
            st = {k: hist_c[k][..., sl, :] for k in m.fields[p]} or None
            r = mat.evaluate(gq[..., sl, :], state=st)
            flux[..., sl, :] = r.flux
            tangent[..., sl, :] = r.tangent
            if r.state:
                for k, v in r.state.items():
                    new[k][..., sl, :] = v
        return flux, tangent, new

    def _newton(self, m: _Micro, h: np.ndarray, hist_c: State, w0: np.ndarray) -> _Point:
        """Micro Newton at affine gradient ``h`` from the fluctuation ``w0``."""
        if self.method == "fft":
            try:
                p = m.newton(h, hist_c, w0, self.rtol, self.max_iter, _forcing)
            except OracleError as err:
                raise _MicroFailure(str(err)) from err
            return _Point(p.flux, p.tangent, p.w, p.hist, p.iterations, p.converged,
                          p.hill_mandel, p.measure, p.qflux, dW=p.dW, krylov=p.krylov)
        u_aff = m.A @ h
        reset = getattr(m.solver, "reset", None)
        if reset is not None:
            reset()  # factor reuse stays within this solve: answers independent of history
        w = np.array(w0, dtype=float)
        gq = m.op.measure(u_aff + w)
        try:
            flux, tangent, hist = self._materials(m, gq, hist_c)
        except OracleError as err:
            raise _MicroFailure(str(err)) from err
        f = m.op.internal_force(flux)
        it = 0
        converged = False
        K_cur = None  # stiffness of the current ``tangent`` once assembled (assemble once)
        if m.system is None:
            K_cur = m.op.stiffness(tangent)
            m.ensure_system(K_cur)
        system = m.system
        rn_prev = None
        while True:
            rn = system.residual_norm(f, w)
            tol = self.rtol * np.linalg.norm(f)
            if rn <= tol or rn == 0.0:
                converged = True
                break
            if it >= self.max_iter:
                break
            K = K_cur if K_cur is not None else m.op.stiffness(tangent)
            K_cur = None
            # the linear residual may be eta * rn (relative to the right-hand side, which for
            # TUBC also holds the multipliers' reactions)
            b = system.rhs(f, w)
            eta = _forcing(rn, rn_prev, tol, _ETA_MAX) * rn / max(np.linalg.norm(b), 1e-300)
            rn_prev = rn
            dw = system.expand(_linear_solve(m, system.matrix(K), b, rtol=eta))
            step = 1.0
            for _ in range(10):
                try:
                    wt = w + step * dw
                    gq = m.op.measure(u_aff + wt)
                    flux, tangent, hist = self._materials(m, gq, hist_c)
                    break
                except OracleError as err:
                    log.debug("micro Newton: %s; halving the step", err)
                    step *= 0.5
            else:
                break
            w = wt
            f = m.op.internal_force(flux)
            it += 1
        # static condensation at the last iterate, one right-hand side per independent
        # load case (small strain: the symmetric unit strains; skew parts cause no fluctuation)
        K = K_cur if K_cur is not None else m.op.stiffness(tangent)
        KA = K @ m.A
        S, Q = m.load_cases
        # symmetric K without multipliers: the energy form U^T K U of the condensed tangent
        # has an error quadratic in the solve's (K-norm) error, so a looser solve suffices
        sym = system.m == 0 and _major_symmetric(tangent, len(m.ishape))
        rtol_c = _COND_RTOL if sym else None
        dW = system.expand(
            _linear_solve(m, system.matrix(K), system.rhs(KA @ S, None), rtol=rtol_c)
        ) @ Q
        V = m.volume
        U = m.A + dW
        T = (U.T @ (K @ U) if sym else m.A.T @ (KA + K @ dW)) / V
        Sigma = m.A.T @ f / V
        hm = hill_mandel(flux, gq, m.op.dx, V).residual
        return _Point(Sigma, T, w, hist, it, converged, hm, gq, flux, dW=dW, K=K)

    def _solve_point(
        self, m: _Micro, h: np.ndarray, hist_c: State, w0: np.ndarray, h_prev: np.ndarray | None,
        fields: bool = False,
    ) -> _Point:
        """One micro solve; linear cells in closed form unless ``fields``; sub-stepping fallback."""
        if self.linear and not fields:
            C, M = self._linearization()
            return _Point(C @ h, C, w0, hist_c, 0, True, abs(float(h @ M @ h)))
        w_start = w0
        if self.predictor == "elastic" and h_prev is not None and not self.linear:
            pred, w_start = self._elastic_prediction(m, h, hist_c, w0, h_prev)
            if pred is not None:
                return pred
        elif h_prev is not None and not np.array_equal(h, h_prev):
            # start from the committed fluctuation plus the cell's linear response to the
            # increment (the first Newton step with the virgin stiffness, precomputed once)
            try:
                w_start = self._predicted(w0, h, h_prev)
            except ValueError as err:  # no linearization at zero input: start from w0
                log.debug("RVE: no predicted start (%s)", err)
        try:
            r: _Point | None = self._newton(m, h, hist_c, w_start)
            failure = ""
        except _MicroFailure as err:
            r, failure = None, str(err)
        if (r is not None and r.converged) or h_prev is None or np.array_equal(h, h_prev):
            if r is None:
                raise OracleError(f"RVE: micro solve failed: {failure}")
            return r
        iters = 0 if r is None else r.iterations
        for nsub in (2, 4, 8, 16):
            w = w0
            ok = True
            for s in range(1, nsub + 1):
                try:
                    rs = self._newton(m, h_prev + s / nsub * (h - h_prev), hist_c, w)
                except _MicroFailure as err:
                    ok, failure = False, str(err)
                    break
                iters += rs.iterations
                if not rs.converged:
                    ok = False
                    break
                w = rs.w
            if ok:
                log.debug("micro solve converged with %d sub-steps", nsub)
                rs.iterations = iters
                return rs
        if r is None:
            raise OracleError(f"RVE: micro solve failed, also with 16 sub-steps: {failure}")
        r.iterations = iters
        return r

    def _mixed_point(
        self, m: _Micro, g: np.ndarray, hist_c: State, w0: np.ndarray, g_prev: np.ndarray | None,
        fields: bool = False,
    ) -> tuple[_Point, np.ndarray]:
        """Solve with mixed control; returns the point result and the full macro input."""
        h_prev = None if g_prev is None else self._to_h(g_prev)
        if self.mixed is None:
            return self._solve_point(m, self._to_h(g), hist_c, w0, h_prev, fields), g
        mask = self.mixed
        # unknowns: masked independent components; D maps them to input increments
        cols, rows = [], []
        for idx in zip(*np.nonzero(mask), strict=True):
            if self.measure == "strain" and idx[0] > idx[1]:
                continue
            col = np.zeros(self.input_shape)
            col[idx] = 1.0
            if self.measure == "strain":
                col[idx[::-1]] = 1.0
            cols.append(col.ravel())
            rows.append(int(np.ravel_multi_index(idx, self.input_shape)))
        D = np.array(cols).T  # (nH, nU)
        rows = np.asarray(rows)
        target = self.mixed_flux.ravel()[rows]
        x = np.array(g, dtype=float)
        if g_prev is not None:
            x[mask] = np.asarray(g_prev)[mask]
        x = x.ravel()
        w = w0
        iters = 0
        for _ in range(self.max_iter):
            r = self._solve_point(m, self._to_h(x.reshape(self.input_shape)), hist_c, w, h_prev,
                                  fields)
            iters += r.iterations
            w = r.w
            res = r.flux[rows] - target
            scale = max(np.abs(r.flux).max(), np.abs(r.tangent).max() * np.abs(x).max(), 1e-300)
            if np.abs(res).max() <= self.rtol * scale or not r.converged:
                break
            J = r.tangent[rows] @ D
            x = x - D @ np.linalg.solve(J, res)
        else:
            r.converged = False
        # tangent at fixed prescribed flux: condense the masked unknowns
        T = r.tangent
        J = T[rows] @ D
        Tc = T - (T @ D) @ np.linalg.solve(J, T[rows])
        Tc[:, mask.ravel()] = 0.0
        r.tangent = Tc
        r.iterations = iters
        return r, x.reshape(self.input_shape)

    def _linearization(self) -> tuple[np.ndarray, np.ndarray]:
        """Tangent at zero input and virgin state ``(nH, nH)``, and its Hill–Mandel form.

        The form ``(nH, nH)`` is :func:`~fe2.homogenization.averages.hill_mandel_form` of
        the linearized cell's unit load cases.
        """
        if self._lin is None and self.method == "fft":
            m = self._micro()
            try:
                p = m.linearization(self.linear)
            except OracleError as err:
                raise ValueError(f"RVE: the cell problem at zero input fails: {err}") from err
            self._lin = (p.tangent, p.hm_form)
            self._lin_fields = (p.dW, None)
            self._lin_krylov = p.krylov
        if self._lin is None:
            m = self._micro()
            h = np.zeros(m.nH)
            try:
                r = self._newton(m, h, m.hist0, np.zeros(m.N))
                tq = self._materials(m, m.op.measure(np.zeros(m.N)), m.hist0)[1]
                if r.iterations == 0:  # Newton stayed at w = 0: its condensation is this one
                    K, dW = r.K, r.dW
                else:
                    K = m.op.stiffness(tq)
                    system = m.ensure_system(K)
                    S, Q = m.load_cases
                    dW = system.expand(
                        _linear_solve(m, system.matrix(K), system.rhs(K @ m.A @ S, None))
                    ) @ Q
                U = m.A + dW
            except _MicroFailure as err:
                raise ValueError(f"RVE: the cell problem at zero input fails: {err}") from err
            # Hill–Mandel form of the linear response: M[a, b] = <q_a : g_b> - <q_a> : <g_b>
            # for the micro fields of the unit inputs (residual at input h: |h^T M h|)
            g0 = m.op.measure(np.zeros(m.N))
            gU = np.stack([m.op.measure(U[:, a]) - g0 for a in range(m.nH)])
            k = len(m.ishape)
            qU = np.einsum(tq, list(range(2 * k + 2)), gU, [2 * k + 2] + list(range(k, 2 * k + 2)),
                           [2 * k + 2] + list(range(k)) + [2 * k, 2 * k + 1])
            M = hill_mandel_form(qU, gU, m.op.dx, m.volume)
            self._lin = (r.tangent, M)
            self._lin_fields = (np.asarray(dW), tq)
        return self._lin

    def _predicted(self, w: np.ndarray, h: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
        """Fluctuation ``w (N,)`` plus the cell's linear response to ``h - h_prev``."""
        self._linearization()
        if self._lin_fields[0] is None:  # linear FFT cells keep no fluctuation fields
            return w
        return w + self._lin_fields[0] @ (h - h_prev)

    def _elastic_prediction(
        self, m: _Micro, h: np.ndarray, hist_c: State, w_c: np.ndarray, h_c: np.ndarray
    ) -> tuple[_Point | None, np.ndarray]:
        """Committed state plus the elastic response to ``h - h_c``: (point or None, fluctuation).

        Accepted only when the phase tangents at the predicted micro strain
        equal those of the linearization exactly (so the condensed tangent is
        the linearization's) and the equilibrium residual meets ``rtol``, the
        convergence test of :meth:`_newton`; otherwise the point is None and
        the predicted fluctuation is the Newton starting point.
        """
        C, _ = self._linearization()
        tq = self._lin_fields[1]
        w = self._predicted(w_c, h, h_c)
        gq = m.op.measure(m.A @ h + w)
        try:
            flux, tangent, hist = self._materials(m, gq, hist_c)
        except OracleError:
            return None, w_c
        if not np.array_equal(tangent, tq):
            return None, w
        f = m.op.internal_force(flux)
        system = m.system if m.system is not None else m.ensure_system(m.op.stiffness(tangent))
        rn = system.residual_norm(f, w)
        if not (rn <= self.rtol * np.linalg.norm(f) or rn == 0.0):
            return None, w
        Sigma = m.A.T @ f / m.volume
        hm = hill_mandel(flux, gq, m.op.dx, m.volume).residual
        return _Point(Sigma, C.copy(), w, hist, 0, True, hm, gq, flux, predicted=True), w

    # .............................................................. public API

    def effective_tensor(self) -> np.ndarray:
        """Effective (homogenized) tensor of the cell at zero input.

        For linear phases this is the effective conductivity ``(d, d)`` or
        stiffness ``(d, d, d, d)`` of the chosen boundary condition; for
        nonlinear phases, the homogenized tangent at zero macro input and
        virgin history (``F = I`` for finite strain: the linearised
        stiffness ``dP/dF``). One factorization of the micro stiffness serves
        all load cases.
        """
        C, _ = self._linearization()
        return C.reshape(self.input_shape * 2).copy()

    def initial_state(self, pts: tuple[int, ...]) -> State | None:
        """History before loading, arrays with point axes ``pts`` last; None for linear cells.

        Fields: ``"fluctuation" (N, *pts)``, ``"macro_input" (*idx, *pts)`` and
        the phases' history fields over all micro quadrature points
        ``(*f, n_el, n_qp, *pts)``.
        """
        if self.linear:
            return None
        m = self._micro()
        pts = tuple(pts)
        one = (1,) * len(pts)
        st = {
            "fluctuation": np.zeros((m.N,) + pts),
            "macro_input": np.broadcast_to(
                self._zero_input().reshape(self.input_shape + one), self.input_shape + pts
            ).copy(),
        }
        for k, v in m.hist0.items():
            st[k] = np.broadcast_to(v.reshape(v.shape + one), v.shape + pts).copy()
        return st

    def _point_state(self, state: State | None, p: int | None) -> tuple[State, np.ndarray, Any]:
        """Committed history, fluctuation and macro input of point ``p`` (None: no point axes)."""
        m = self._micro()
        if state is None:
            return m.hist0, np.zeros(m.N), None if self.linear else self._zero_input()
        take = (lambda v: v) if p is None else (lambda v: v[..., p])
        missing = [k for k in ("fluctuation", *m.hist0) if k not in state]
        if missing:
            raise OracleError(
                f"RVE: state lacks field(s) {', '.join(map(repr, missing))}; use "
                "RVE.initial_state(pts) for the layout"
            )
        hist = {k: np.asarray(take(state[k]), dtype=float) for k in m.hist0}
        w0 = np.asarray(take(state["fluctuation"]), dtype=float)
        if w0.shape != (m.N,):
            raise OracleError(
                f"RVE: state field 'fluctuation' has {w0.shape} per point, expected ({m.N},)"
            )
        g_prev = take(state["macro_input"]) if "macro_input" in state else None
        return hist, w0, g_prev

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: State | None = None
    ) -> Response:
        """Homogenized flux and tangent at macro inputs ``g (*idx, *pts)`` (see class notes)."""
        pts = self.check_input(g)
        if self.executor is not None:
            from fe2.oracle import evaluate as batch_evaluate

            serial = copy.copy(self)
            serial.executor = None
            return batch_evaluate(
                serial, g, x=x, state=state, executor=self.executor, chunk_size=self.chunk_size
            )
        g = np.asarray(g, dtype=float)
        ishape = self.input_shape
        npts = int(np.prod(pts)) if pts else 1
        gf = g.reshape(ishape + (npts,))
        m = self._micro()
        if self.linear and self.mixed is None:
            C, M = self._linearization()
            h = np.stack([self._to_h(gf[..., p]) for p in range(npts)], axis=-1)
            flux = (C @ h).reshape(ishape + pts)
            tangent = np.broadcast_to(C.reshape(ishape * 2 + (1,) * len(pts)), ishape * 2 + pts)
            hm = np.abs(np.einsum("ip,ij,jp->p", h, M, h)).reshape(pts)
            info = {
                "iterations": np.zeros(pts, dtype=np.int64),
                "hill_mandel": hm,
                "converged": np.ones(pts, dtype=bool),
            }
            if self.method == "fft":
                info["krylov_iterations"] = np.full(pts, self._lin_krylov, dtype=np.int64)
            return Response(flux=flux, tangent=tangent, state=None, info=info)
        if state is not None:
            state = {k: np.asarray(v).reshape(np.shape(v)[: np.ndim(v) - len(pts)] + (npts,))
                     for k, v in state.items()}
        flux = np.empty((m.nH, npts))
        tangent = np.empty((m.nH, m.nH, npts))
        iters = np.zeros(npts, dtype=np.int64)
        krylov = np.zeros(npts, dtype=np.int64)
        hm = np.zeros(npts)
        conv = np.zeros(npts, dtype=bool)
        predicted = np.zeros(npts, dtype=bool)
        new: State | None = None if self.linear else self.initial_state((npts,))
        for p in range(npts):
            hist, w0, g_prev = self._point_state(state, p)
            try:
                r, g_used = self._mixed_point(m, gf[..., p], hist, w0, g_prev)
            except OracleError as err:
                where = tuple(int(i) for i in np.unravel_index(p, pts)) if pts else ()
                located = OracleError(
                    f"{err} (macro point {where}, input "
                    f"{np.array2string(gf[..., p].ravel(), precision=5)})"
                )
                located.point = where
                located.macro_input = gf[..., p].copy()
                located.reason = str(err)
                raise located from err
            flux[:, p] = r.flux
            tangent[:, :, p] = r.tangent
            iters[p], hm[p], conv[p] = r.iterations, r.hill_mandel, r.converged
            krylov[p] = r.krylov
            predicted[p] = r.predicted
            if new is not None:
                new["fluctuation"][:, p] = r.w
                new["macro_input"][..., p] = g_used
                for k, v in r.hist.items():
                    new[k][..., p] = v
        if not conv.all():
            first = np.unravel_index(int(np.argmin(conv)), pts) if pts else ()
            log.warning(
                "RVE: micro solve did not converge at %d of %d points, first at %s",
                int((~conv).sum()), npts, tuple(int(i) for i in first),
            )
        if new is not None:
            new = {k: v.reshape(v.shape[:-1] + pts) for k, v in new.items()}
        info = {
            "iterations": iters.reshape(pts),
            "hill_mandel": hm.reshape(pts),
            "converged": conv.reshape(pts),
        }
        if self.predictor is not None:
            info["predicted"] = predicted.reshape(pts)
        if self.method == "fft":
            info["krylov_iterations"] = krylov.reshape(pts)
        return Response(
            flux=flux.reshape(ishape + pts),
            tangent=tangent.reshape(ishape * 2 + pts),
            state=new,
            info=info,
        )

    def solve(self, g: np.ndarray, state: State | None = None) -> MicroSolution:
        """Solve the cell at one macro input ``g`` ``(*idx,)`` and return the micro fields.

        ``state`` is the committed history of this one point (the arrays of
        :meth:`initial_state` without point axes), or None.
        """
        g = np.asarray(g, dtype=float)
        self.check_input(g)
        if g.shape != self.input_shape:
            raise ValueError(
                f"RVE.solve: g must be one macro input of shape {self.input_shape}, got {g.shape}"
            )
        m = self._micro()
        hist, w0, g_prev = self._point_state(state, None)
        r, g_used = self._mixed_point(m, g, hist, w0, g_prev, fields=True)
        st = {"fluctuation": r.w.copy(), "macro_input": np.array(g_used), **r.hist}
        if self.method == "fft":  # fields on the scikit-fem basis of the voxel mesh
            mesh, _ = self.cell.to_mesh()
            basis = skfem.Basis(mesh, element_for(mesh, 1, self.measure != "gradient"),
                                intorder=2)
            u, w, measure, qflux, phase = m.to_basis(basis, self._to_h(g_used), r.w,
                                                     r.measure, r.qflux)
            dx = np.asarray(basis.dx)
        else:
            basis, phase, dx = m.basis, m.phase, np.asarray(m.op.dx)
            u, w, measure, qflux = m.A @ self._to_h(g_used) + r.w, r.w.copy(), r.measure, r.qflux
        return MicroSolution(
            basis=basis,
            phase=phase,
            u=u,
            w=w,
            measure=measure,
            flux=qflux,
            dx=dx,
            volume=m.volume,
            macro_input=np.array(g_used),
            macro_flux=r.flux.reshape(self.input_shape),
            tangent=r.tangent.reshape(self.input_shape * 2),
            iterations=r.iterations,
            converged=r.converged,
            hill_mandel=r.hill_mandel,
            state=st,
        )

    def write_vtu(
        self,
        path: str | PathLike,
        g: np.ndarray,
        state: State | None = None,
        points: Sequence[tuple[int, ...]] | None = None,
    ) -> list[Path]:
        """Write the micro fields of chosen macro points as VTU files for ParaView.

        Parameters
        ----------
        path : path
            Output file. For a batch ``g (*idx, *pts)`` one file per chosen
            point, named ``<stem>_<i>_<j>.vtu`` after the point index.
        g : ndarray
            One macro input ``(*idx,)`` or a batch ``(*idx, *pts)``.
        state : dict, optional
            Committed history (with the point axes of ``g``).
        points : sequence of tuple, optional
            Point indices to write (default: all).

        Returns
        -------
        list of Path
            The files written. Point data: ``"u"`` (temperature) or
            ``"displacement"``, and ``"fluctuation"``; cell data: ``"phase"``,
            element averages of the micro measure (``"gradient"``,
            ``"strain"``, ``"deformation_gradient"``) and flux (``"flux"``,
            ``"stress"``, ``"first_piola_kirchhoff"``).
        """
        g = np.asarray(g, dtype=float)
        pts = self.check_input(g)
        path = Path(path)
        if not pts:
            jobs = [((), path)]
        else:
            chosen = list(np.ndindex(*pts)) if points is None else [tuple(p) for p in points]
            jobs = []
            for p in chosen:
                if len(p) != len(pts) or any(not 0 <= i < n for i, n in zip(p, pts, strict=True)):
                    raise ValueError(f"RVE.write_vtu: point {p} is outside the batch {pts}")
                name = "_".join(str(i) for i in p)
                jobs.append((p, path.with_name(f"{path.stem}_{name}{path.suffix or '.vtu'}")))
        out = []
        for p, fname in jobs:
            st = None if state is None else {k: np.asarray(v)[(...,) + p] for k, v in state.items()}
            out.append(write_micro_solution(fname, self.solve(g[(...,) + p], st), self.measure))
        return out
