"""Allen–Cahn and Cahn–Hilliard on scikit-fem meshes (P1/P2 Lagrange, 2D and 3D).

Equations (``M`` mobility, ``psi`` a :class:`~fe2.phasefield.energies.FreeEnergy`):

* :class:`AllenCahn` (non-conserved ``phi``)::

      d phi / dt = M (lap phi - psi'(phi) / eps^2),
      F = int |grad phi|^2 / 2 + psi(phi) / eps^2 dV,

  so that ``d phi/dt = -M dF/dphi``. With the double well ``(phi^2 - 1)^2 / 4`` the
  interface is ``tanh(x / (sqrt(2) eps))`` and moves by mean curvature, normal speed
  ``V = -M kappa`` (``kappa`` the sum of principal curvatures): a circle of radius ``R``
  obeys ``R^2 = R_0^2 - 2 M t``, a sphere ``R^2 = R_0^2 - 4 M t``.
* :class:`CahnHilliard` (conserved ``c``), in the mixed form::

      d c / dt = div(M grad mu),   mu = psi'(c) - kappa lap c,
      F = int psi(c) + kappa |grad c|^2 / 2 dV

  (the form of PFHub benchmark 1).

Time stepping: first-order convex splitting (Eyre 1998) ``psi = (psi + L c^2/2) - L
c^2/2`` with ``L = free_energy.convexify``, the convex part and the gradient term implicit,
the concave part explicit. It is unconditionally energy stable: ``F(c^{n+1}) <= F(c^n)``
for every step size, and for Cahn–Hilliard the mass is conserved exactly (to the round-off
of the linear solves). Each step solves its nonlinear system by Newton's method (the
Allen–Cahn Jacobian is symmetric positive definite: CHOLMOD; the mixed Cahn–Hilliard one is
not symmetric: by default GMRES on the ``mu`` Schur complement; ``solver="petsc"``:
PETSc fieldsplit, :mod:`fe2.phasefield.petsc`). The step size adapts to the change per
step (:mod:`fe2.phasefield.stepping`). ``CahnHilliard(scheme="implicit")`` drops the
splitting (backward Euler, ``L = 0``): convex splitting slows interface motion at large
steps, backward Euler does not, so long coarsening runs take hundreds of steps with
``norm="rms"``; its energy decrease is observed, not guaranteed.

``CahnHilliard(scheme="sav")`` is the second-order, linear Crank–Nicolson scalar
auxiliary variable scheme of :class:`fe2.phasefield.SpectralCahnHilliard` (Shen, Xu &
Yang, J. Comput. Phys. 353 (2018) 407-416; same extrapolation ``c_bar = c_n + (dt_n / 2
dt_{n-1}) (c_n - c_{n-1})``, stabiliser ``S``, relaxation of Jiang, Zhang & Zhao 2022,
``energy_rise`` rejection) in the finite-element mixed form: with ``A = kappa K + S M``
(``M``, ``K`` the mass and stiffness matrices), ``b_i = int (psi'(c_bar) - S c_bar) v_i
dV / sqrt(E_1(c_bar) + C_0)``, ``E_1 = int psi(c) - S c^2 / 2 dV`` and ``g = (r_{n+1} +
r_n) / 2``::

    M (c_{n+1} - c_n) + tau K mu = 0,   M mu - A (c_{n+1} + c_n) / 2 = g b,
    r_{n+1} - r_n = b . (c_{n+1} - c_n) / 2,

so ``E~ = c^T A c / 2 + r^2 - C_0`` falls by ``tau mu^T K mu`` at every step for every
step size. The block matrix ``[[M, tau K], [-A / 2, M]]`` depends on ``dt`` only: it is
factorised (SuperLU) once per distinct step size and reused; a step is two solves with
it (``c = p + g q``) and a scalar equation for ``g``. Adaptive steps are rounded down to
powers of ``2^(1/4)`` (``step_ladder``, :mod:`fe2.phasefield.stepping`) so that few
distinct steps occur (PFHub 1a on 50 x 50 to ``t = 1e6``: 154 factorisations for 1,123
steps). The mass is conserved to round-off (``1^T K = 0``).

:class:`AllenCahn` also takes a source term ``s(x, t)``, Dirichlet values ``g(x, t)`` on
named or predicate-selected boundaries and periodicity along chosen axes only
(``periodic_axes``), as PFHub benchmark 7 needs (:func:`fe2.phasefield.benchmarks.pfhub7_run`).

Boundaries: ``bc="no-flux"`` (natural: ``grad phi . n = 0`` and ``grad mu . n = 0``) or
``bc="periodic"`` on a box mesh whose opposite boundary nodes match, by the same node
matching as the RVE (:func:`fe2.homogenization.constraints.micro_constraints`), without
its pinned corner.

Quadrature of degree ``4 * order`` integrates quartic free energies of the finite-element
field exactly on simplices and tensor-product cells.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import skfem
from scipy.spatial import cKDTree

from fe2.fem import check_jacobians, element_for
from fe2.homogenization.constraints import micro_constraints
from fe2.linalg import SolverError, SparseCholesky, cholmod_available, factorize, make_solver
from fe2.phasefield.energies import FreeEnergy, double_well, polynomial, positive_number
from fe2.phasefield.stepping import PhaseFieldResult, StepFailed, integrate

__all__ = ["AllenCahn", "CahnHilliard", "BOUNDARY_CONDITIONS", "SCHEMES"]

log = logging.getLogger(__name__)

BOUNDARY_CONDITIONS = ("no-flux", "periodic")
_GMRES_RTOL = 1e-6  # relative tolerance of the Schur-complement GMRES in each Newton update
_MESHES = (skfem.MeshTri1, skfem.MeshQuad1, skfem.MeshTet1, skfem.MeshHex1)
#: Time schemes of :class:`CahnHilliard`.
SCHEMES = ("convex", "implicit", "sav")
_SAV_CACHE = 8  # factorised SAV block matrices kept (by step size)
_SAV_LADDER = 2.0 ** 0.25  # adaptive SAV steps are powers of this (stepping.integrate)


class _SAVState(NamedTuple):
    """CN-SAV state of :class:`CahnHilliard`: ``c, mu (N,)``, ``r``, previous ``c``, step."""

    c: np.ndarray
    mu: np.ndarray
    r: float
    c_prev: np.ndarray | None = None
    h_prev: float = 0.0


class _Discretization:
    """Basis, mass and stiffness matrices, weighted-mass assembly and the periodic map."""

    def __init__(self, owner: str, mesh: skfem.Mesh, order: int, bc: str,
                 periodic_axes=None, dirichlet=None):
        if not isinstance(mesh, _MESHES):
            raise ValueError(
                f"{owner}: mesh must be a linear scikit-fem MeshTri1, MeshQuad1, MeshTet1 or "
                f"MeshHex1, got {type(mesh).__name__}"
            )
        if isinstance(order, bool) or order not in (1, 2):
            raise ValueError(f"{owner}: order must be 1 or 2, got {order!r}")
        if bc not in BOUNDARY_CONDITIONS:
            raise ValueError(f"{owner}: bc must be one of {BOUNDARY_CONDITIONS}, got {bc!r}")
        basis = skfem.Basis(mesh, element_for(mesh, order, False), intorder=4 * order)
        check_jacobians(basis, where=owner)
        self.basis, self.mesh, self.bc, self.N = basis, mesh, bc, basis.N
        nb = basis.Nbfun
        self.phi = np.stack([np.asarray(basis.basis[i][0]) for i in range(nb)])
        self.dofs = np.asarray(basis.element_dofs)  # (nb, nel)
        self.dx = np.asarray(basis.dx)  # (nel, nqp)
        N = self.N
        rows = np.broadcast_to(self.dofs.T[:, :, None], (self.dofs.shape[1], nb, nb))
        cols = np.broadcast_to(self.dofs.T[:, None, :], rows.shape)
        keys, self._inv = np.unique((rows.astype(np.int64) * N + cols).ravel(),
                                    return_inverse=True)
        self._indices = (keys % N).astype(np.int32)
        self._indptr = np.concatenate([[0], np.cumsum(np.bincount(keys // N, minlength=N))])
        self.mass = self.weighted_mass(np.ones_like(self.dx))
        self.stiffness = skfem.asm(skfem.BilinearForm(
            lambda u, v, w: skfem.helpers.dot(u.grad, v.grad)), basis).tocsr()
        self.lumped = np.asarray(self.mass.sum(axis=1)).ravel()
        dim = mesh.p.shape[0]
        if periodic_axes is not None:
            axes = tuple(sorted({int(a) for a in np.atleast_1d(periodic_axes)}))
            if bc != "periodic" or not axes or any(a < 0 or a >= dim for a in axes):
                raise ValueError(f"{owner}: periodic_axes must be axes in 0..{dim - 1} with "
                                 f"bc='periodic', got {periodic_axes!r} with bc={bc!r}")
        else:
            axes = tuple(range(dim)) if bc == "periodic" else ()
        self.dirichlet = self._dirichlet_dofs(owner, dirichlet)
        if bc == "periodic" and axes == tuple(range(dim)) and not self.dirichlet:
            rmap = micro_constraints(basis, "periodic").rmap.copy()
            rmap[rmap < 0] = rmap.max() + 1  # the RVE pins the corner class; free it
        elif axes or self.dirichlet:
            rmap = _periodic_map(owner, np.asarray(basis.doflocs), axes)
            fixed = np.zeros(N, dtype=bool)
            for dofs, _ in self.dirichlet:
                fixed[dofs] = True
            if np.any(fixed[np.isin(rmap, rmap[fixed])] != True):  # noqa: E712
                raise ValueError(f"{owner}: dirichlet boundaries and periodic partners "
                                 "overlap only partly (fix whole periodic classes)")
            rmap = np.where(fixed, -1, rmap)
            _, rmap[~fixed] = np.unique(rmap[~fixed], return_inverse=True)
        else:
            rmap = None
        if rmap is None:
            self.rmap, self.P, self.free = None, None, None
            self.first = np.arange(N)
        else:
            self.rmap = rmap
            self.free = np.flatnonzero(rmap >= 0)
            n = int(rmap[self.free].max()) + 1
            self.P = sp.csr_matrix((np.ones(self.free.size), (self.free, rmap[self.free])),
                                   shape=(N, n))
            self.count = np.bincount(rmap[self.free], minlength=n).astype(float)
            self.first = self.free[np.unique(rmap[self.free], return_index=True)[1]]
        self.n = self.N if self.P is None else self.P.shape[1]

    def _dirichlet_dofs(self, owner: str, dirichlet) -> list:
        """``[(dofs, value)]`` of ``{boundary: value}`` (value a number or ``g(x, t)``)."""
        if dirichlet is None:
            return []
        if not isinstance(dirichlet, dict) or not dirichlet:
            raise ValueError(f"{owner}: dirichlet must be a dict {{boundary: value}}, got "
                             f"{dirichlet!r}")
        out = []
        for name, value in dirichlet.items():
            if callable(name):
                facets = self.mesh.facets_satisfying(name)
            elif isinstance(name, str) and self.mesh.boundaries and name in self.mesh.boundaries:
                facets = self.mesh.boundaries[name]
            else:
                raise ValueError(
                    f"{owner}: dirichlet boundary {name!r} is neither a predicate f(x) nor a "
                    f"named boundary of the mesh ({sorted(self.mesh.boundaries or [])})")
            dofs = np.asarray(self.basis.get_dofs(facets).all())
            if dofs.size == 0:
                raise ValueError(f"{owner}: dirichlet boundary {name!r} has no dofs")
            if not callable(value):
                try:
                    v = float(value)
                except (TypeError, ValueError):
                    v = float("nan")
                if not np.isfinite(v):
                    raise ValueError(f"{owner}: dirichlet value on {name!r} must be a finite "
                                     f"number or g(x, t), got {value!r}")
                value = v
            out.append((dofs, value))
        return out

    def boundary_values(self, t: float) -> np.ndarray | None:
        """Dirichlet values ``(N,)`` at time ``t`` (zeros off the Dirichlet dofs)."""
        if not self.dirichlet:
            return None
        u = np.zeros(self.N)
        x = np.asarray(self.basis.doflocs)
        for dofs, value in self.dirichlet:
            u[dofs] = value(x[:, dofs], t) if callable(value) else value
        return u

    # ------------------------------------------------------------------ fields
    def at_points(self, u: np.ndarray) -> np.ndarray:
        """Values at the quadrature points ``(nel, nqp)`` of dof values ``u (N,)``."""
        return np.einsum("ieq,ie->eq", self.phi, u[self.dofs])

    def load(self, f: np.ndarray) -> np.ndarray:
        """``int f v_i dV`` ``(N,)`` of quadrature values ``f (nel, nqp)``."""
        loc = np.einsum("ieq,eq->ie", self.phi, f * self.dx)
        return np.bincount(self.dofs.ravel(), weights=loc.ravel(), minlength=self.N)

    def weighted_mass(self, w: np.ndarray) -> sp.csr_matrix:
        """``int w u_j v_i dV`` ``(N, N)`` CSR of quadrature values ``w (nel, nqp)``."""
        loc = np.einsum("ieq,jeq,eq->eij", self.phi, self.phi, w * self.dx, optimize=True)
        data = np.bincount(self._inv, weights=loc.ravel(), minlength=self._indices.size)
        return sp.csr_matrix((data, self._indices, self._indptr), shape=(self.N, self.N))

    def integral(self, f: np.ndarray) -> float:
        """``int f dV`` of quadrature values ``f (nel, nqp)``."""
        return float(np.sum(f * self.dx))

    # ------------------------------------------------------------------ constraints
    def reduce_vec(self, r: np.ndarray) -> np.ndarray:
        """Reduced residual ``P^T r`` (periodic partners summed, Dirichlet dofs dropped)."""
        if self.P is None:
            return r
        return np.bincount(self.rmap[self.free], weights=r[self.free], minlength=self.n)

    def reduce_mat(self, A: sp.csr_matrix) -> sp.csr_matrix:
        """Reduced matrix ``P^T A P``."""
        return A if self.P is None else (self.P.T @ A @ self.P).tocsr()

    def expand(self, x: np.ndarray, boundary: np.ndarray | None = None) -> np.ndarray:
        """Full dof values ``P x`` (+ the Dirichlet values ``boundary (N,)``)."""
        if self.P is None:
            return x
        u = np.zeros(self.N) if boundary is None else boundary.copy()
        u[self.free] = x[self.rmap[self.free]]
        return u

    def restrict(self, u: np.ndarray) -> np.ndarray:
        """Reduced unknowns ``(n,)`` of full dof values (one dof per class)."""
        return u[self.first]

    def initial(self, owner: str, phi0: Any) -> np.ndarray:
        """Dof values ``(N,)`` of an initial field: an array or a callable ``f(x (d, N))``."""
        if callable(phi0):
            phi0 = phi0(np.asarray(self.basis.doflocs))
        u = np.asarray(phi0, dtype=float)
        if u.shape != (self.N,):
            raise ValueError(
                f"{owner}.solve: phi0 must have one value per dof, shape ({self.N},), "
                f"got {u.shape}"
            )
        if not np.all(np.isfinite(u)):
            i = int(np.flatnonzero(~np.isfinite(u))[0])
            raise ValueError(f"{owner}.solve: phi0 is not finite at dof {i} ({u[i]!r})")
        if self.P is not None:  # periodic partners share one value (their mean)
            u = self.expand(self.reduce_vec(u) / self.count, self.boundary_values(0.0))
        return u


def _periodic_map(owner: str, x: np.ndarray, axes: tuple) -> np.ndarray:
    """Class of every dof ``(N,)`` when the box faces normal to ``axes`` are identified.

    A dof on the upper face of an axis is matched (:class:`scipy.spatial.cKDTree`, to
    ``1e-8`` of the box size) to the dof on the lower face with the same other
    coordinates; edge and corner dofs follow the chain to one class.
    """
    N = x.shape[1]
    parent = np.arange(N)
    lo, hi = x.min(axis=1), x.max(axis=1)
    tol = 1e-8 * float(np.max(hi - lo))
    for a in axes:
        low = np.flatnonzero(np.abs(x[a] - lo[a]) <= tol)
        up = np.flatnonzero(np.abs(x[a] - hi[a]) <= tol)
        shifted = x[:, up].copy()
        shifted[a] = lo[a]
        dist, j = cKDTree(x[:, low].T).query(shifted.T)
        if low.size != up.size or np.any(dist > tol):
            i = int(up[np.argmax(dist)]) if up.size else 0
            raise ValueError(f"{owner}: periodic along axis {a} needs matching nodes on the "
                             f"opposite faces; dof {i} at {x[:, i]} has no partner")
        parent[up] = low[j]
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            break
        parent = nxt
    return np.unique(parent, return_inverse=True)[1].astype(np.int64)


def _solver(owner: str, solver: str | Callable | None, spd: bool) -> Callable:
    if solver is None:
        solver = "cholesky" if spd and cholmod_available() else "scipy"
    if isinstance(solver, str):
        if solver == "cholesky" and not spd:
            raise ValueError(f"{owner}: the mixed system is not symmetric; 'cholesky' cannot "
                             "solve it (use 'scipy')")
        return make_solver(solver)
    if not callable(solver):
        raise ValueError(f"{owner}: solver must be a name for fe2.linalg.make_solver or a "
                         f"callable solve(A, b), got {solver!r}")
    return solver


def _converged(size: float, previous: float | None, tol: float) -> bool:
    """Newton stop: the update, or the error left after it, is below ``tol``.

    With the contraction ``theta = size / previous`` the error left after an update of
    ``size`` is at most ``theta / (1 - theta) size`` (linear convergence bound), which
    saves the confirming iteration once Newton converges fast.
    """
    if size <= tol:
        return True
    if previous is None or previous <= 0:
        return False
    theta = size / previous
    return theta < 0.5 and theta / (1 - theta) * size <= tol


class _Counter:
    """GMRES callback counting iterations."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, _residual: float) -> None:
        self.n += 1


def _factor(A: sp.csr_matrix):
    """A factorization of the SPD ``A`` with ``.solve(b)``: CHOLMOD, else SuperLU."""
    if cholmod_available():
        return SparseCholesky(A).factor(A)
    return factorize(A)


def _energy(owner: str, f: FreeEnergy | None, default: FreeEnergy) -> FreeEnergy:
    if f is None:
        return default
    if not isinstance(f, FreeEnergy):
        raise ValueError(
            f"{owner}: free_energy must be a fe2.phasefield FreeEnergy (double_well(), "
            f"polynomial(), free_energy(psi, dpsi, d2psi)), got {f!r}"
        )
    return f


class _FESolver:
    """Shared parts of the finite-element phase-field solvers."""

    name = "phasefield"

    def __init__(self, mesh, order, bc, free_energy, default, solver, spd, newton_tol,
                 max_newton, periodic_axes=None, dirichlet=None):
        self.disc = _Discretization(self.name, mesh, order, bc, periodic_axes, dirichlet)
        self.free_energy = _energy(self.name, free_energy, default)
        self.linear_solver = _solver(self.name, solver, spd)
        self.newton_tol = positive_number(self.name, "newton_tol", newton_tol)
        self.max_newton = int(max_newton)

    @property
    def basis(self) -> skfem.CellBasis:
        """The scikit-fem basis of the order parameter."""
        return self.disc.basis

    @property
    def mesh(self) -> skfem.Mesh:
        return self.disc.mesh

    def mass(self, state: Any) -> float:
        """``int phi dV``."""
        return float(self.disc.lumped @ self.order_parameter(state))

    def _newton(self, x: np.ndarray, residual: Callable, what: str) -> tuple[np.ndarray, int]:
        """Newton on the reduced unknowns ``x``: ``residual(x) -> (r, J)``."""
        prev = None
        for it in range(1, self.max_newton + 1):
            r, J = residual(x)
            try:
                dx = self.linear_solver(J, -r)
            except SolverError as err:
                raise StepFailed(f"{what}: linear solve failed: {err}") from err
            x = x + dx
            size = float(np.abs(dx).max())
            if _converged(size, prev, self.newton_tol):
                return x, it
            prev = size
        raise StepFailed(f"{what}: Newton did not converge in {self.max_newton} iterations "
                         f"(last update {float(np.abs(dx).max()):.3e} > newton_tol "
                         f"{self.newton_tol:.1e})")

    def solve(self, phi0: Any, t_end: float, dt: float | None = None,
              callback: Callable | None = None, save_every: int | None = None, *,
              change_tol: float | None = None, error_tol: float | None = None,
              dt_max: float | None = None, adaptive: bool = True,
              progress: bool = False, norm: str = "max") -> PhaseFieldResult:
        """Integrate from ``phi0`` at ``t = 0`` to ``t_end``.

        Parameters
        ----------
        phi0 : ndarray (N,) or callable
            Initial order parameter: dof values, or ``f(x)`` of the dof coordinates
            ``x (d, N)`` returning ``(N,)``.
        t_end : float
            Final time [time].
        dt : float, optional
            (Initial) step; default from the initial rate of change and ``change_tol``.
        callback : callable, optional
            ``callback(t, phi (N,), info: dict) -> bool | None`` after every step;
            False stops.
        save_every : int, optional
            Keep the field every that many steps (always the first and last).
        change_tol : float, optional
            Target ``max |phi_new - phi_old|`` per step (default 2.5 % of the free
            energy's ``sample`` range).
        error_tol : float, optional
            Target local error estimate per step ``max |phi_new - phi_old - r (phi_old -
            phi_older)|`` relative to the spread ``max phi - min phi`` (default 1e-3); see
            :mod:`fe2.phasefield.stepping`.
        dt_max : float, optional
            Largest step.
        adaptive : bool
            Adapt the step to ``change_tol`` (default); False: fixed ``dt``.
        progress : bool
            Show a progress bar (:class:`fe2.io.Progress`).
        norm : {"max", "rms"}
            Norm of the change and of the error estimate (see
            :func:`fe2.phasefield.stepping.integrate`).
        """
        state = self._initial_state(self.disc.initial(self.name, phi0))
        lo, hi = self.free_energy.sample
        tol = 0.025 * (hi - lo) if change_tol is None else change_tol
        return integrate(self, state, t_end, dt, callback, save_every, tol, dt_max, adaptive,
                         progress, self.name, error_tol, norm)


class AllenCahn(_FESolver):
    """Allen–Cahn ``d phi/dt = M (lap phi - psi'(phi)/eps^2)`` (see the module docs).

    Parameters
    ----------
    mesh : skfem.Mesh
        ``MeshTri1``, ``MeshQuad1``, ``MeshTet1`` or ``MeshHex1``.
    epsilon : float
        Interface width parameter [length] (profile ``tanh(x / (sqrt(2) eps))`` for the
        default double well).
    mobility : float
        ``M`` [length^2 / time].
    order : {1, 2}
        Lagrange degree.
    free_energy : FreeEnergy, optional
        Default :func:`~fe2.phasefield.energies.double_well` ``(phi^2 - 1)^2 / 4``.
    bc : {"no-flux", "periodic"}
    solver : str or callable, optional
        Linear solver (:func:`fe2.linalg.make_solver` name or ``solve(A, b)``); default
        CHOLMOD when available, else SuperLU.
    periodic_axes : sequence of int, optional
        With ``bc="periodic"``: only these axes are periodic (default all); the other
        faces are no-flux unless ``dirichlet`` fixes them.
    dirichlet : dict, optional
        ``{boundary: value}``: a boundary is a name in ``mesh.boundaries`` or a predicate
        ``f(x (d, n)) -> bool (n,)`` of facet midpoints; a value is a number or ``g(x (d,
        n), t) -> (n,)`` at the dof coordinates (imposed at the end of each step).
    source : callable, optional
        ``s(x (d, nel, nqp), t) -> (nel, nqp)``, added to the right-hand side: ``d phi/dt
        = M (lap phi - psi'(phi)/eps^2) + s``, evaluated at the end of each step (implicit
        Euler), e.g. the manufactured-solution source of PFHub benchmark 7
        (:mod:`fe2.phasefield.benchmarks`).

    Examples
    --------
    >>> import numpy as np, skfem
    >>> m = skfem.MeshQuad.init_tensor(np.linspace(0, 1, 9), np.linspace(0, 1, 9))
    >>> ac = AllenCahn(m, epsilon=0.1)
    >>> res = ac.solve(lambda x: np.tanh((x[0] - 0.5) / 0.14), t_end=0.01)
    >>> bool(res.energy_increases() == 0)
    True
    """

    name = "AllenCahn"

    def __init__(self, mesh: skfem.Mesh, epsilon: float, mobility: float = 1.0, order: int = 1,
                 free_energy: FreeEnergy | None = None, *, bc: str = "no-flux",
                 solver: str | Callable | None = None, newton_tol: float = 1e-10,
                 max_newton: int = 12, periodic_axes=None, dirichlet: dict | None = None,
                 source: Callable | None = None):
        self.epsilon = positive_number(self.name, "epsilon", epsilon)
        self.mobility = positive_number(self.name, "mobility", mobility)
        if source is not None and not callable(source):
            raise ValueError(f"{self.name}: source must be a callable s(x, t), got {source!r}")
        super().__init__(mesh, order, bc, free_energy, double_well(), solver, True, newton_tol,
                         max_newton, periodic_axes, dirichlet)
        self.source = source
        self.needs_time = source is not None or any(
            callable(v) for _, v in self.disc.dirichlet)
        self._qpoints = (np.asarray(self.disc.basis.mapping.F(self.disc.basis.X))
                         if source is not None else None)

    def _initial_state(self, phi: np.ndarray) -> np.ndarray:
        return phi

    def order_parameter(self, state: np.ndarray) -> np.ndarray:
        """The field ``phi (N,)`` of a state."""
        return state

    def energy(self, phi: np.ndarray) -> float:
        """``F = int |grad phi|^2/2 + psi(phi)/eps^2 dV``."""
        d, f = self.disc, self.free_energy
        return float(0.5 * phi @ (d.stiffness @ phi)
                     + d.integral(f.psi(d.at_points(phi))) / self.epsilon ** 2)

    def rate(self, phi: np.ndarray) -> float:
        """``max |d phi/dt|`` (lumped mass), for the first step size."""
        d = self.disc
        g = d.stiffness @ phi + d.load(self.free_energy.dpsi(d.at_points(phi))) / self.epsilon**2
        return float(np.abs(self.mobility * d.reduce_vec(g) / d.reduce_vec(d.lumped)).max())

    def step(self, phi_n: np.ndarray, dt: float, t: float = 0.0) -> tuple[np.ndarray, int]:
        """One convex-splitting step of size ``dt`` from time ``t``: ``(phi, newton its)``."""
        d, f = self.disc, self.free_energy
        a, L = self.mobility / self.epsilon ** 2, f.convexify
        A = d.mass / dt + self.mobility * d.stiffness + (a * L) * d.mass
        Mn = d.mass @ phi_n
        rhs = Mn / dt + (a * L) * Mn
        if self.source is not None:
            rhs = rhs + d.load(self.source(self._qpoints, t + dt))
        g = d.boundary_values(t + dt)

        def residual(x):
            phi = d.expand(x, g)
            q = d.at_points(phi)
            r = A @ phi - rhs + a * d.load(f.dpsi(q))
            J = A + a * d.weighted_mass(f.d2psi(q))
            return d.reduce_vec(r), d.reduce_mat(J)

        x, its = self._newton(d.restrict(phi_n), residual, "AllenCahn step")
        return d.expand(x, g), its


class CahnHilliard(_FESolver):
    """Cahn–Hilliard ``dc/dt = div(M grad mu)``, ``mu = psi'(c) - kappa lap c`` (mixed form).

    Parameters
    ----------
    mesh : skfem.Mesh
        ``MeshTri1``, ``MeshQuad1``, ``MeshTet1`` or ``MeshHex1``.
    kappa : float
        Gradient energy coefficient [energy / length].
    mobility : float
        ``M`` [length^2 / (energy time)] (times volume).
    free_energy : FreeEnergy, optional
        Default :func:`~fe2.phasefield.energies.polynomial` with PFHub benchmark 1's
        ``rho = 5, ca = 0.3, cb = 0.7``.
    order : {1, 2}
        Lagrange degree of ``c`` and ``mu``.
    bc : {"no-flux", "periodic"}
    solver : str or callable, optional
        Default (None): the Newton update by GMRES on the ``mu`` Schur complement with
        CHOLMOD factors (mass matrix, factorised Schur preconditioner). ``"petsc"``:
        FGMRES on the whole block system with PETSc's Schur ``PCFIELDSPLIT`` and an
        algebraic-multigrid Schur preconditioner, nothing factorised, for large meshes
        (:mod:`fe2.phasefield.petsc`). Another name for :func:`fe2.linalg.make_solver`
        or a callable ``solve(A, b)``: a direct solve of the whole mixed system.
    periodic_axes : sequence of int, optional
        With ``bc="periodic"``: only these axes are periodic (default all).
    scheme : {"convex", "implicit"}
        ``"convex"`` (default): convex splitting, energy stable for every step.
        ``"implicit"``: backward Euler (the whole ``psi'`` implicit): no lag of the
        interface motion at large steps, for long coarsening runs with ``norm="rms"``
        (PFHub 1a on 50 x 50 to ``t = 1e6`` in 614 steps, none raising ``F``); energy
        decrease observed, not guaranteed.
        ``"sav"``: second-order Crank–Nicolson scalar auxiliary variable scheme (module
        docs), linear, unconditionally stable in its modified energy; one SuperLU
        factorisation per distinct step size (``solver`` is not used), two solves per step.
    relaxation : float in [0, 1] or None
        SAV: relaxation ``eta`` of ``r`` towards ``sqrt(E_1 + C_0)`` (None: plain SAV).
    sav_constant : float, optional
        SAV: ``C_0 > 0`` [energy] (default: the domain volume times ``0.1 x`` the range of
        ``psi - S c^2 / 2`` over ``free_energy.sample``, plus its negative part).
    sav_stabilizer : float, optional
        SAV: ``S >= 0`` [energy / volume] treated implicitly (default ``lipschitz / 2``).
    energy_rise : float or None
        SAV, adaptive steps: a step that raises the true ``F`` by more than
        ``energy_rise |F|`` is rejected and retried at half the step (None: no check).

    Examples
    --------
    >>> import numpy as np, skfem
    >>> m = skfem.MeshQuad.init_tensor(np.linspace(0, 20, 11), np.linspace(0, 20, 11))
    >>> ch = CahnHilliard(m, kappa=2.0, mobility=5.0)
    >>> res = ch.solve(lambda x: 0.5 + 0.05 * np.cos(0.3 * x[0]), t_end=1.0)
    >>> bool(abs(res.mass[-1] - res.mass[0]) < 1e-12 * res.mass[0])
    True
    """

    name = "CahnHilliard"

    def __init__(self, mesh: skfem.Mesh, kappa: float, mobility: float,
                 free_energy: FreeEnergy | None = None, order: int = 1, *,
                 bc: str = "no-flux", solver: str | Callable | None = None,
                 newton_tol: float = 1e-10, max_newton: int = 12, periodic_axes=None,
                 scheme: str = "convex", relaxation: float | None = 0.95,
                 sav_constant: float | None = None, sav_stabilizer: float | None = None,
                 energy_rise: float | None = 1e-4):
        if scheme not in SCHEMES:
            raise ValueError(f"{self.name}: scheme must be 'convex' or 'implicit' or 'sav', "
                             f"got {scheme!r}")
        self.scheme = scheme
        self.kappa = positive_number(self.name, "kappa", kappa)
        self.mobility = positive_number(self.name, "mobility", mobility)
        petsc = isinstance(solver, str) and solver == "petsc"
        super().__init__(mesh, order, bc, free_energy, polynomial(),
                         "scipy" if petsc or solver is None else solver, False,
                         newton_tol, max_newton, periodic_axes)
        d = self.disc
        # the explicit part L c of the convex splitting; 0: backward Euler (scheme="implicit")
        self._split = self.free_energy.convexify if scheme == "convex" else 0.0
        self._direct = None if solver is None or petsc else self.linear_solver
        self._Mr, self._Kr = d.reduce_mat(d.mass), d.reduce_mat(d.stiffness)
        self._Mfac = _factor(self._Mr) if solver is None else None
        self.petsc_solver = None
        if petsc:
            from fe2.phasefield.petsc import PetscMixedSolver

            self.petsc_solver = PetscMixedSolver(self._Mr, self._Kr, self.kappa)
        self._schur_key, self._schur, self._symbolic = None, None, None
        self._gmres_its: list[int] = []
        self._first = d.first
        self._sav_lu: dict[float, Any] = {}
        self.sav_factorizations = 0
        self._setup_sav(relaxation, sav_constant, sav_stabilizer, energy_rise)

    # --- Crank–Nicolson scalar auxiliary variable scheme (module docs) ---------------

    def _setup_sav(self, relaxation, sav_constant, sav_stabilizer, energy_rise) -> None:
        if relaxation is not None and (isinstance(relaxation, bool) or not (
                isinstance(relaxation, int | float) and 0.0 <= relaxation <= 1.0)):
            raise ValueError(f"{self.name}: relaxation must be None or a number in [0, 1], "
                             f"got {relaxation!r}")
        self.relaxation = None if relaxation is None else float(relaxation)
        self.sav_stabilizer = (0.5 * self.free_energy.lipschitz if sav_stabilizer is None
                               else float(sav_stabilizer))
        if not (np.isfinite(self.sav_stabilizer) and self.sav_stabilizer >= 0):
            raise ValueError(f"{self.name}: sav_stabilizer must be a finite number >= 0, "
                             f"got {sav_stabilizer!r}")
        if sav_constant is None:
            # E_1 + C_0 >= 0.1 V (range of psi over sample) while c stays in sample
            lo, hi = self.free_energy.sample
            x = np.linspace(lo, hi, 2001)
            p = self.free_energy.psi(x) - 0.5 * self.sav_stabilizer * x * x
            sav_constant = float(self.disc.lumped.sum()) * (
                max(0.0, -float(p.min())) + 0.1 * float(p.max() - p.min()))
        self.sav_constant = positive_number(self.name, "sav_constant", sav_constant)
        self.energy_rise = (None if energy_rise is None
                            else positive_number(self.name, "energy_rise", energy_rise))
        S = self.sav_stabilizer
        self._sav_A = (self.kappa * self._Kr + S * self._Mr).tocsr()

    @property
    def max_step_growth(self) -> float:
        """Largest ratio of consecutive adaptive steps: 1.25 for SAV, else 2."""
        return 1.25 if self.scheme == "sav" else 2.0

    @property
    def has_modified_energy(self) -> bool:
        """True for ``scheme="sav"``: results then carry ``modified_energy``."""
        return self.scheme == "sav"

    @property
    def step_ladder(self) -> float | None:
        """SAV: adaptive steps are powers of ``2^(1/4)`` (factorisations reused); else None."""
        return _SAV_LADDER if self.scheme == "sav" else None

    def _sav_e1(self, c: np.ndarray) -> float:
        """``E_1(c) + C_0`` [energy] of full dof values ``c (N,)``; must be > 0."""
        d = self.disc
        q = d.at_points(c)
        e = d.integral(self.free_energy.psi(q) - 0.5 * self.sav_stabilizer * q * q) \
            + self.sav_constant
        if not e > 0:
            raise StepFailed(f"{self.name} SAV: E_1 + C_0 = {e:.4g} <= 0 (raise sav_constant)")
        return e

    def modified_energy(self, state) -> float:
        """SAV energy ``kappa c^T K c / 2 + S c^T M c / 2 + r^2 - C_0`` (``F`` otherwise)."""
        if not isinstance(state, _SAVState):
            return self.energy(state)
        c = state.c
        d = self.disc
        return float(0.5 * c @ (self.kappa * (d.stiffness @ c)
                                + self.sav_stabilizer * (d.mass @ c))
                     + state.r ** 2 - self.sav_constant)

    def _sav_factor(self, tau: float):
        """LU of ``[[M, tau K], [-A / 2, M]]`` (reduced), cached by ``tau``."""
        lu = self._sav_lu.get(tau)
        if lu is None:
            J = sp.bmat([[self._Mr, tau * self._Kr], [-0.5 * self._sav_A, self._Mr]],
                        format="csc")
            # minimum degree on A^T + A: 3x less fill and time than COLAMD on this block
            lu = factorize(J, permc_spec="MMD_AT_PLUS_A")
            self.sav_factorizations += 1
            if len(self._sav_lu) >= _SAV_CACHE:
                self._sav_lu.pop(next(iter(self._sav_lu)))
            self._sav_lu[tau] = lu
        return lu

    def _sav_step(self, s: _SAVState, dt: float) -> tuple[_SAVState, int]:
        """One Crank–Nicolson SAV step (module docs), relaxed if ``relaxation`` is set."""
        d, f, S = self.disc, self.free_energy, self.sav_stabilizer
        tau, n = self.mobility * dt, self.disc.n
        c = s.c
        cbar = c if s.c_prev is None else c + (0.5 * dt / s.h_prev) * (c - s.c_prev)
        qb = d.at_points(cbar)
        b = d.reduce_vec(d.load(f.dpsi(qb) - S * qb)) / np.sqrt(self._sav_e1(cbar))
        lu = self._sav_factor(tau)
        x = d.restrict(c)
        try:
            P = lu.solve(np.concatenate([self._Mr @ x, 0.5 * (self._sav_A @ x)]))
            Q = lu.solve(np.concatenate([np.zeros(n), b]))
        except SolverError as err:
            raise StepFailed(f"{self.name} SAV: linear solve failed: {err}") from err
        p, q = P[:n], Q[:n]
        g = (s.r + 0.25 * float(b @ (p - x))) / (1.0 - 0.25 * float(b @ q))
        x_new = p + g * q
        mu = P[n:] + g * Q[n:]
        r_new = s.r + 0.5 * float(b @ (x_new - x))
        c_new = d.expand(x_new)
        if self.relaxation is not None:
            # relaxed SAV (Jiang, Zhang & Zhao 2022): pull r towards sqrt(E_1(c) + C_0)
            # as far as the modified energy still falls by (1 - eta) tau mu^T K mu
            R = np.sqrt(self._sav_e1(c_new))
            diss = tau * float(mu @ (self._Kr @ mu))
            qa, qb2 = (r_new - R) ** 2, 2.0 * R * (r_new - R)
            qc = R * R - r_new * r_new - self.relaxation * diss
            if qc <= 0.0:
                r_new = R
            elif qa > 0.0:
                xi = (-qb2 - np.sqrt(max(qb2 * qb2 - 4.0 * qa * qc, 0.0))) / (2.0 * qa)
                xi = min(max(xi, 0.0), 1.0)
                r_new = xi * r_new + (1.0 - xi) * R
        return _SAVState(c_new, d.expand(mu), float(r_new), c, dt), 2

    def _chemical_potential(self, c: np.ndarray) -> np.ndarray:
        """``mu (N,)``: the L2 projection of ``psi'(c) - kappa lap c`` (lumped mass)."""
        d = self.disc
        g = d.load(self.free_energy.dpsi(d.at_points(c))) + self.kappa * (d.stiffness @ c)
        return d.expand(d.reduce_vec(g) / d.reduce_vec(d.lumped))

    def _initial_state(self, c: np.ndarray) -> tuple:
        """``(c, mu, dc/dt, dmu/dt)``; the rates of the last step feed the Newton predictor.

        ``scheme="sav"``: ``(c, mu, r, c_prev, dt_prev)`` with ``r = sqrt(E_1(c) + C_0)``.
        """
        if self.scheme == "sav":
            return _SAVState(c, self._chemical_potential(c), float(np.sqrt(self._sav_e1(c))))
        z = np.zeros_like(c)
        return c, self._chemical_potential(c), z, z

    def order_parameter(self, state: tuple) -> np.ndarray:
        """The concentration ``c (N,)`` of a state ``(c, mu, dc/dt, dmu/dt)``."""
        return state[0]

    def chemical_potential(self, state: tuple) -> np.ndarray:
        """The chemical potential ``mu (N,)`` of a state ``(c, mu, dc/dt, dmu/dt)``."""
        return state[1]

    def energy(self, state) -> float:
        """``F = int psi(c) + kappa |grad c|^2 / 2 dV``."""
        c = self.order_parameter(state)
        d = self.disc
        return float(d.integral(self.free_energy.psi(d.at_points(c)))
                     + 0.5 * self.kappa * c @ (d.stiffness @ c))

    def rate(self, state) -> float:
        """``max |dc/dt|`` (lumped mass), for the first step size."""
        d = self.disc
        mu = self._chemical_potential(self.order_parameter(state))
        return float(np.abs(self.mobility * d.reduce_vec(d.stiffness @ mu)
                            / d.reduce_vec(d.lumped)).max())

    def step(self, state, dt: float):
        """One convex-splitting step of size ``dt``; returns ``(state, newton iterations)``.

        ``state = (c, mu, dc/dt, dmu/dt)`` (the rates of the step, the Newton predictor of
        the next one).
        """
        if self.scheme == "sav":
            return self._sav_step(state, dt)
        if self._direct is not None:
            return self._step_direct(state, dt)
        d, f = self.disc, self.free_energy
        c_n, mu_n = state[0], state[1]
        L, kap, tau = self._split, self.kappa, dt * self.mobility
        Mr, Kr, Mfac = self._Mr, self._Kr, self._Mfac
        w = L + float(np.sum(f.d2psi(d.at_points(c_n)) * d.dx) / np.sum(d.dx))
        if self.petsc_solver is None:
            Sa, Sb = self._schur_preconditioner(tau, max(w, 0.0))
        else:
            mass_row = np.asarray(Mr.sum(axis=0)).ravel()  # 1^T M
        n = d.n
        Mcn = d.reduce_vec(d.mass @ c_n)
        first = self._first
        # predictor: the previous step's rate (zero at the start)
        x = np.concatenate([(c_n + dt * state[2])[first], (mu_n + dt * state[3])[first]])
        prev = None
        gm = self._gmres_its
        for it in range(1, self.max_newton + 1):
            c, mu = x[:n], x[n:]
            q = d.at_points(d.expand(c))
            A = (L * Mr + kap * Kr + d.reduce_mat(d.weighted_mass(f.d2psi(q)))).tocsr()
            # residuals of  M (c - c_n) + tau K mu = 0,  M mu - N(c) - L M (c - c_n) - kappa K c = 0
            Mc = Mr @ c
            r1 = Mc - Mcn + tau * (Kr @ mu)
            r2 = Mr @ mu - d.reduce_vec(d.load(f.dpsi(q))) - L * (Mc - Mcn) - kap * (Kr @ c)
            # Newton system [[M, tau K], [-A, M]] [dc, dmu] = [-r1, -r2]: Schur complement in
            # mu, S = M + tau A M^-1 K, by GMRES; dc = M^-1 (-r1 - tau K dmu) then conserves
            # mass exactly whatever the GMRES accuracy (1^T K = 0)
            f1, g = -r1, -r2
            if self.petsc_solver is not None:
                try:
                    dc, dmu = self.petsc_solver.solve(A, tau, max(w, 0.0), f1, g)
                except SolverError as err:
                    raise StepFailed(str(err)) from err
                # mass exactly: 1^T M dc = 1^T f1 (1^T K = 0), whatever the FGMRES residual
                dc = dc + (f1.sum() - mass_row @ dc) / mass_row.sum()
            else:
                rhs = g + A @ Mfac.solve(f1)
                S = spla.LinearOperator(
                    (n, n), dtype=float,
                    matvec=lambda y, A=A: Mr @ y + tau * (A @ Mfac.solve(Kr @ y)))
                P = spla.LinearOperator((n, n), dtype=float,
                                        matvec=lambda y: Sb.solve(Mr @ Sa.solve(y)))
                count = _Counter()
                dmu, info = spla.gmres(S, rhs, M=P, rtol=_GMRES_RTOL, atol=0.0, restart=60,
                                       maxiter=10, callback=count, callback_type="pr_norm")
                gm.append(count.n)
                if info != 0:
                    raise StepFailed(f"CahnHilliard step: GMRES on the Schur complement did "
                                     f"not converge (info {info}, {count.n} iterations)")
                dc = Mfac.solve(f1 - tau * (Kr @ dmu))
            x = x + np.concatenate([dc, dmu])
            size = max(float(np.abs(dc).max()), float(np.abs(dmu).max()))
            if _converged(size, prev, self.newton_tol):
                c_new, mu_new = d.expand(x[:n]), d.expand(x[n:])
                return (c_new, mu_new, (c_new - c_n) / dt, (mu_new - mu_n) / dt), it
            prev = size
        raise StepFailed(f"CahnHilliard step: Newton did not converge in {self.max_newton} "
                         f"iterations (last update {float(np.abs(dc).max()):.3e})")

    def _schur_preconditioner(self, tau: float, w: float):
        """Factors of ``M + a K`` and ``M + b K``: ``S ~ (M + a K) M^-1 (M + b K)``.

        ``a b = tau kappa`` and ``a + b = max(2 sqrt(tau kappa), tau w)`` match the
        ``K M^-1 K`` and ``K`` terms of the Schur complement ``M + tau (kappa K + L M + J)
        M^-1 K`` with ``J ~ (w - L) M``, ``w`` the mean of ``psi'' + L`` (Boyanova et al.
        2012 for ``J = 0``). Kept while ``tau`` and ``tau w`` stay within a factor 2 of
        the values it was made for (one symbolic analysis per run).
        """
        key = (tau, max(tau * w, 2.0 * np.sqrt(tau * self.kappa)))
        if self._schur_key is not None and all(
                abs(np.log(k / k0)) < np.log(2.0) for k, k0 in zip(key, self._schur_key,
                                                                     strict=True)):
            return self._schur
        s = key[1]
        disc = np.sqrt(max(s * s - 4.0 * tau * self.kappa, 0.0))
        a, b = 0.5 * (s + disc), 0.5 * (s - disc)
        Aa, Ab = (self._Mr + a * self._Kr).tocsr(), (self._Mr + b * self._Kr).tocsr()
        if cholmod_available():
            if self._symbolic is None:
                self._symbolic = SparseCholesky(Aa)
            self._schur = (self._symbolic.factor(Aa), self._symbolic.factor(Ab))
        else:
            self._schur = (factorize(Aa), factorize(Ab))
        self._schur_key = key
        return self._schur

    def _step_direct(self, state, dt: float):
        """The same step with a direct solver of the whole mixed Newton system."""
        d, f = self.disc, self.free_energy
        c_n, mu_n = state[0], state[1]
        L, kap = self._split, self.kappa
        Mm, K = d.mass, d.stiffness
        B = (L * Mm + kap * K).tocsr()
        Mcn = Mm @ c_n
        top = sp.hstack([Mm, (dt * self.mobility) * K])
        n = d.n

        def residual(x):
            c, mu = d.expand(x[:n]), d.expand(x[n:])
            q = d.at_points(c)
            r1 = Mm @ c - Mcn + (dt * self.mobility) * (K @ mu)
            r2 = Mm @ mu - d.load(f.dpsi(q)) - B @ c + L * Mcn
            J = sp.vstack([top, sp.hstack([-(B + d.weighted_mass(f.d2psi(q))), Mm])])
            if d.P is not None:
                Pb = sp.block_diag([d.P, d.P]).tocsr()
                J = Pb.T @ J @ Pb
            return np.concatenate([d.reduce_vec(r1), d.reduce_vec(r2)]), J.tocsr()

        first = self._first
        x0 = np.concatenate([(c_n + dt * state[2])[first], (mu_n + dt * state[3])[first]])
        x, its = self._newton(x0, residual, "CahnHilliard step")
        c_new, mu_new = d.expand(x[:n]), d.expand(x[n:])
        return (c_new, mu_new, (c_new - c_n) / dt, (mu_new - mu_n) / dt), its
