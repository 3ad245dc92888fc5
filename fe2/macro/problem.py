"""Macro problems on scikit-fem meshes, driven by oracles.

One class, :class:`Problem`, covers the three macro measures:

=================  ==========================  ===============================
``kind``           unknown / oracle measure    weak form (reference config)
=================  ==========================  ===============================
``scalar``         u, ``gradient``             ``int q(grad u) . grad v = int f v + int g v``
``small_strain``   u (vector), ``strain``      ``int sigma(eps(u)) : eps(v) = int b.v + int t.v``
``finite_strain``  u (vector), ``F = I+grad u``  ``int P(F) : grad v = int b.v + int t.v``
=================  ==========================  ===============================

At each Newton iterate the oracle(s) get the measure at *all* quadrature points
in one batched call (optionally split across an executor) and return flux and
consistent tangent; :class:`fe2.fem.GradientOperator` turns them into the
internal force and the tangent matrix with a fixed sparsity pattern.

Loads are scaled by the load factor ``t`` in ``(0, 1]`` (constants are multiplied
by ``t``; callables are called as ``value(x, t)``). A step whose Newton iteration
fails (no convergence, an oracle error such as an inverted element, a micro solve
reported as not converged) is rolled back and retried with half the increment.
The quadrature state is committed only after a converged step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import skfem
from skfem import LinearForm

from ..fem import GradientOperator, check_jacobians, element_for
from ..oracle import OracleError, QuadratureState, Response
from ..oracle import evaluate as evaluate_oracle

__all__ = [
    "Problem",
    "NewtonOptions",
    "StepRecord",
    "Solution",
    "ConvergenceError",
    "StepFailure",
]

log = logging.getLogger(__name__)

Kind = Literal["scalar", "small_strain", "finite_strain"]
_MEASURE = {"scalar": "gradient", "small_strain": "strain", "finite_strain": "deformation_gradient"}


class ConvergenceError(RuntimeError):
    """The load stepping could not reach the requested load factor."""


class StepFailure(RuntimeError):
    """One load step failed (Newton or an oracle); the solver cuts back."""


@dataclass(frozen=True)
class NewtonOptions:
    """Newton iteration and load-stepping controls.

    Attributes
    ----------
    rtol, atol : float
        Converged when ``|r_free| <= rtol * max(|f_ext|, |f_int|) + atol``.
    max_iter : int
        Newton iterations per load step before a cut-back.
    steps : int
        Initial number of equal load increments to reach ``t = 1``.
    max_cutbacks : int
        Halvings of a failing increment before giving up.
    grow : float
        After a step that converged in few iterations, the next increment is
        multiplied by ``grow`` (never beyond the initial increment).
    """

    rtol: float = 1e-9
    atol: float = 1e-12
    max_iter: int = 25
    steps: int = 1
    max_cutbacks: int = 8
    grow: float = 1.5

    def __post_init__(self):
        for name in ("rtol", "atol"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"NewtonOptions.{name} must be >= 0, got {getattr(self, name)}")
        for name in ("max_iter", "steps"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"NewtonOptions.{name} must be >= 1, got {getattr(self, name)}")
        if self.max_cutbacks < 0:
            raise ValueError(f"NewtonOptions.max_cutbacks must be >= 0, got {self.max_cutbacks}")


@dataclass(frozen=True)
class StepRecord:
    """A converged load step: load factor, Newton iterations and residual norms."""

    t: float
    iterations: int
    residuals: tuple[float, ...]
    cutbacks: int
    seconds: float


@dataclass
class Solution:
    """Result of :meth:`Problem.solve`.

    Attributes
    ----------
    u : ndarray
        Dof vector ``(N,)`` at the last converged step.
    steps : list of StepRecord
        One per converged load step.
    reactions : dict of str to ndarray
        For each boundary asked for, ``(n_steps, n_comp)`` total reaction force
        (or flux) at each converged step.
    """

    u: np.ndarray
    steps: list[StepRecord] = field(default_factory=list)
    reactions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def load_factors(self) -> np.ndarray:
        """Load factor of each converged step."""
        return np.array([s.t for s in self.steps])


@dataclass
class _Region:
    name: str
    elements: np.ndarray
    oracle: Any
    state: QuadratureState


@dataclass
class _Load:
    kind: str  # "dirichlet", "neumann", "body"
    where: str | None
    value: Any
    components: tuple[int, ...] | None = None
    dofs: list[np.ndarray] | None = None
    basis: Any = None


def _scaled(value: Any, x: np.ndarray, t: float, ncomp: int, what: str) -> np.ndarray:
    """Evaluate a load ``value`` at points ``x`` ``(d, *p)`` -> ``(ncomp, *p)``."""
    if callable(value):
        out = np.asarray(value(x, t), dtype=float)
    else:
        out = t * np.asarray(value, dtype=float)
    pts = x.shape[1:]
    if out.ndim == 0:
        out = np.broadcast_to(out, (ncomp,) + pts)
    elif out.shape == (ncomp,):
        out = np.broadcast_to(out.reshape((ncomp,) + (1,) * len(pts)), (ncomp,) + pts)
    elif ncomp == 1 and out.shape == pts:
        out = out[None]
    if out.shape != (ncomp,) + pts:
        raise ValueError(f"{what}: value has shape {out.shape}, expected ({ncomp},) or {pts}")
    return out


class Problem:
    """A macro boundary-value problem answered by one or more oracles.

    Parameters
    ----------
    mesh : skfem.Mesh
        Tri, quad, tet or hex mesh (``mesh.boundaries`` / ``mesh.subdomains``
        name the tagged parts; see :func:`fe2.io.read_mesh`).
    oracle : Oracle or dict of str to Oracle
        One oracle for the whole body, or one per subdomain name (every element
        must belong to exactly one of them).
    kind : {"scalar", "small_strain", "finite_strain"}
        The macro measure (see module docs).
    order : {1, 2}
        Lagrange order of the macro element.
    intorder : int, optional
        Quadrature order (default: scikit-fem's default for the element).
    solver : callable, optional
        ``solve(A, b) -> x`` from :mod:`fe2.linalg` (default SciPy direct).
    executor : concurrent.futures.Executor, optional
        Where the oracle evaluations run (default: serially, in this process).
    chunk_size : int, optional
        Points per chunk sent to the executor.
    name : str
        Used in error messages (e.g. the mesh file).
    """

    def __init__(
        self,
        mesh: skfem.Mesh,
        oracle: Any,
        kind: Kind = "small_strain",
        order: int = 1,
        intorder: int | None = None,
        solver: Callable | None = None,
        executor: Executor | None = None,
        chunk_size: int | None = None,
        name: str = "mesh",
    ):
        if kind not in _MEASURE:
            raise ValueError(f"unknown problem kind {kind!r}; expected one of {list(_MEASURE)}")
        self.mesh = mesh
        self.kind = kind
        self.name = name
        self.dim = mesh.dim()
        self.order = order
        self.vector = kind != "scalar"
        self.element = element_for(mesh, order, self.vector)
        self.basis = skfem.Basis(mesh, self.element, intorder=intorder)
        check_jacobians(self.basis, where=name)
        self.op = GradientOperator(self.basis, _MEASURE[kind])
        self.ncomp = self.dim if self.vector else 1
        if solver is None:
            from ..linalg import scipy_direct

            solver = scipy_direct()
        self.solver = solver
        self.executor = executor
        self.chunk_size = chunk_size
        self.regions = self._make_regions(oracle)
        self.loads: list[_Load] = []
        self.u = np.zeros(self.basis.N)
        self.t = 0.0
        self.last_response: Response | None = None
        self._fixed: np.ndarray | None = None
        self._converged: tuple | None = None  # (f_int, tangent, response) at self.u
        self._trial_converged: tuple | None = None

    # ------------------------------------------------------------------ set-up
    def _make_regions(self, oracle: Any) -> list[_Region]:
        pts_q = self.op.nqp
        if isinstance(oracle, Mapping):
            regions, owner = [], np.full(self.mesh.nelements, -1)
            for n, (sub, orc) in enumerate(oracle.items()):
                els = self.subdomain(sub)
                clash = els[owner[els] >= 0]
                if len(clash):
                    raise ValueError(
                        f"{self.name}: element {int(clash[0])} is in subdomain {sub!r} and in "
                        f"{regions[owner[clash[0]]].name!r}; give each element one oracle"
                    )
                owner[els] = n
                regions.append(_Region(sub, els, orc, None))  # type: ignore[arg-type]
            missing = np.where(owner < 0)[0]
            if len(missing):
                raise ValueError(
                    f"{self.name}: {len(missing)} elements (first: {int(missing[0])}) belong to "
                    f"none of the subdomains {list(oracle)}; known subdomains: "
                    f"{sorted(self.mesh.subdomains or {})}"
                )
        else:
            regions = [_Region("all", np.arange(self.mesh.nelements), oracle, None)]  # type: ignore[arg-type]
        want = _MEASURE[self.kind]
        for r in regions:
            m = getattr(r.oracle, "measure", None)
            if m != want:
                raise ValueError(
                    f"oracle {type(r.oracle).__name__} for {r.name!r} has measure {m!r}, "
                    f"but a {self.kind} problem needs {want!r}"
                )
            if getattr(r.oracle, "dim", self.dim) != self.dim:
                raise ValueError(
                    f"oracle {type(r.oracle).__name__} for {r.name!r} is {r.oracle.dim}D "
                    f"but {self.name} is {self.dim}D"
                )
            r.state = QuadratureState.for_oracle(r.oracle, (len(r.elements), pts_q))
        return regions

    def boundary(self, name: str) -> np.ndarray:
        """Facet indices of a named boundary; a clear error for an unknown name."""
        known = self.mesh.boundaries or {}
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise KeyError(f"unknown boundary {name!r} in {self.name}; known: {names}")
        return np.asarray(known[name])

    def subdomain(self, name: str) -> np.ndarray:
        """Element indices of a named subdomain; a clear error for an unknown name."""
        known = self.mesh.subdomains or {}
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise KeyError(f"unknown subdomain {name!r} in {self.name}; known: {names}")
        return np.asarray(known[name])

    def _component_dofs(self, facets: np.ndarray, components: tuple[int, ...] | None):
        dofs = self.basis.get_dofs(facets=facets)
        if not self.vector:
            return [dofs.all()], (0,)
        comps = tuple(range(self.dim)) if components is None else tuple(components)
        for c in comps:
            if not 0 <= c < self.dim:
                raise ValueError(f"component {c} out of range for a {self.dim}D problem")
        return [dofs.all([f"u^{c + 1}"]) for c in comps], comps

    def dirichlet(
        self, boundary: str, value: Any = 0.0, components: tuple[int, ...] | None = None
    ) -> Problem:
        """Prescribe ``u`` (or chosen components) on a named boundary.

        ``value``: a number or a ``(n_comp,)`` sequence (scaled by the load
        factor), or ``value(x, t)`` with ``x`` ``(d, n)`` returning ``(n,)`` or
        ``(n_comp, n)``. Returns the problem, so calls chain.
        """
        facets = self.boundary(boundary)
        dofs, comps = self._component_dofs(facets, components)
        self.loads.append(_Load("dirichlet", boundary, value, comps, dofs))
        self._fixed = None
        return self

    def neumann(self, boundary: str, value: Any) -> Problem:
        """Prescribe a traction (vector problems) or ``g = q . n = (K grad u) . n`` (scalar).

        ``value``: as in :meth:`dirichlet`; for vector problems ``(d,)``. In
        finite strain the traction is a dead load per reference area.
        """
        facets = self.boundary(boundary)
        fb = skfem.FacetBasis(self.mesh, self.element, facets=facets)
        self.loads.append(_Load("neumann", boundary, value, basis=fb))
        return self

    def body_load(self, value: Any, subdomain: str | None = None) -> Problem:
        """Body force (vector problems) or source ``f`` (scalar) per reference volume."""
        if subdomain is None:
            cb = self.basis
        else:
            cb = skfem.Basis(self.mesh, self.element, elements=self.subdomain(subdomain))
        self.loads.append(_Load("body", subdomain, value, basis=cb))
        return self

    # ------------------------------------------------------------------ pieces
    def _external_force(self, t: float) -> np.ndarray:
        f = np.zeros(self.basis.N)
        for ld in self.loads:
            if ld.kind not in ("neumann", "body"):
                continue
            b = ld.basis
            x = b.global_coordinates().value
            val = _scaled(ld.value, x, t, self.ncomp, f"{ld.kind} load on {ld.where or 'body'}")
            if self.vector:
                form = LinearForm(lambda v, w: np.einsum("i...,i...->...", w["g"], v))
            else:
                val = val[0]
                form = LinearForm(lambda v, w: w["g"] * v)
            f += form.assemble(b, g=val)
        return f

    def _dirichlet_values(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        dofs_all, vals_all = [], []
        for ld in self.loads:
            if ld.kind != "dirichlet":
                continue
            for c, dofs in zip(ld.components, ld.dofs, strict=True):
                dofs = np.asarray(dofs, dtype=np.int64)
                x = self.basis.doflocs[:, dofs]
                val = _scaled(ld.value, x, t, len(ld.components), f"Dirichlet on {ld.where}")
                k = ld.components.index(c)
                dofs_all.append(dofs)
                vals_all.append(val[k])
        if not dofs_all:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate(dofs_all), np.concatenate(vals_all)

    def fixed_dofs(self) -> np.ndarray:
        """Indices of all Dirichlet dofs."""
        if self._fixed is None:
            self._fixed = np.unique(self._dirichlet_values(0.0)[0])
        return self._fixed

    def _evaluate(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, Response]:
        """Measure, then flux, tangent and merged response at all quadrature points."""
        g = self.op.measure(u)
        flux = np.empty_like(g)
        tangent = np.empty(g.shape[:-2] + g.shape[:-2] + g.shape[-2:])
        info: dict[str, np.ndarray] = {}
        trials = []
        for r in self.regions:
            gr = g[..., r.elements, :]
            try:
                resp = evaluate_oracle(
                    r.oracle,
                    gr,
                    x=None if not _wants_x(r.oracle) else self._coords(r.elements),
                    state=r.state.committed,
                    executor=self.executor,
                    chunk_size=self.chunk_size,
                )
            except OracleError as err:
                raise StepFailure(f"oracle for {r.name!r}: {err}") from err
            if resp.tangent is None:
                raise StepFailure(f"oracle for {r.name!r} returned no tangent")
            conv = resp.info.get("converged")
            if conv is not None and not np.all(conv):
                e, q = np.unravel_index(int(np.argmin(conv)), conv.shape)
                el = int(r.elements[e])
                raise StepFailure(
                    f"micro solve did not converge at {int((~np.asarray(conv)).sum())} points; "
                    f"first: element {el}, quadrature point {int(q)}, "
                    f"{_MEASURE[self.kind]} {np.array2string(gr[..., e, q].ravel(), precision=4)}"
                )
            flux[..., r.elements, :] = resp.flux
            tangent[..., r.elements, :] = resp.tangent
            for k, v in resp.info.items():
                v = np.asarray(v)
                if k not in info:
                    info[k] = np.zeros((self.mesh.nelements, self.op.nqp), dtype=v.dtype)
                info[k][r.elements] = v
            trials.append(resp.state)
        bad = ~np.isfinite(flux)
        if bad.any():
            raise StepFailure("non-finite flux returned by an oracle")
        return flux, tangent, Response(flux=flux, tangent=tangent, state=trials, info=info)

    def _coords(self, elements: np.ndarray) -> np.ndarray:
        return self.basis.global_coordinates().value[:, elements, :]

    # ------------------------------------------------------------------ solve
    def newton(self, t: float, u0: np.ndarray, opts: NewtonOptions) -> tuple[np.ndarray, list]:
        """Newton iteration at load factor ``t`` from ``u0``; raises StepFailure."""
        D, uD = self._dirichlet_values(t)
        fixed = self.fixed_dofs()
        free = np.setdiff1d(np.arange(self.basis.N), fixed)
        u = u0.copy()
        dD = np.zeros(self.basis.N)
        dD[D] = uD - u0[D]
        pending = bool(np.any(dD != 0.0))  # Dirichlet increment still to apply
        fext = self._external_force(t)
        residuals = []
        # the converged state of the last step (same u0) seeds the predictor: its
        # algorithmic tangent, and no repeated oracle evaluation
        cached = self._converged if u0 is self.u else None
        for it in range(opts.max_iter + 1):
            if it == 0 and cached is not None:
                fint, tangent, resp = cached
            else:
                flux, tangent, resp = self._evaluate(u)
                fint = self.op.internal_force(flux)
            r = fint - fext
            rn = float(np.linalg.norm(r[free]))
            ref = max(float(np.linalg.norm(fext)), float(np.linalg.norm(fint)), 1e-300)
            residuals.append(rn)
            log.debug("t=%.4g it=%d |r|=%.3e ref=%.3e", t, it, rn, ref)
            if not np.isfinite(rn):
                raise StepFailure(f"non-finite residual at iteration {it}")
            if not pending and rn <= opts.rtol * ref + opts.atol:
                self.last_response = resp
                self._last_fint = fint
                self._last_fext = fext
                self._trial_converged = (fint, tangent, resp)
                return u, residuals
            if it == opts.max_iter:
                break
            K = self.op.stiffness(tangent)
            rhs = -r[free]
            if pending:
                # consistent predictor: linearize about u0 with the Dirichlet increment
                rhs -= K[free][:, fixed] @ dD[fixed]
            u[free] += self.solver(K[free][:, free], rhs)
            if pending:
                u[D] = uD
                pending = False
        history = ", ".join(f"{x:.1e}" for x in residuals[-4:])
        raise StepFailure(
            f"Newton did not converge in {opts.max_iter} iterations at load factor {t:.4g} "
            f"(residual {residuals[-1]:.3e}, history {history})"
        )

    def solve(
        self,
        newton: NewtonOptions | None = None,
        reactions: tuple[str, ...] = (),
        callback: Callable[[Problem, StepRecord], None] | None = None,
        t_end: float = 1.0,
    ) -> Solution:
        """Load-step from the current load factor to ``t_end`` with Newton and cut-back.

        Parameters
        ----------
        newton : NewtonOptions
            Tolerances and stepping (default: one step, tight tolerances).
        reactions : tuple of str
            Boundary names whose reaction force is recorded at each step.
        callback : callable
            Called as ``callback(problem, record)`` after each converged step
            (write output, checkpoints).
        t_end : float
            Final load factor (default 1).

        Raises
        ------
        ConvergenceError
            If a step fails after ``max_cutbacks`` halvings; the problem keeps
            the last converged solution and committed state.
        """
        opts = newton or NewtonOptions()
        for name in reactions:
            self.boundary(name)
        sol = Solution(u=self.u)
        react: dict[str, list] = {name: [] for name in reactions}
        dt0 = (t_end - self.t) / opts.steps
        dt = dt0
        cut = 0
        while self.t < t_end - 1e-12:
            t_new = min(self.t + dt, t_end)
            t0 = time.perf_counter()
            try:
                u_new, res = self.newton(t_new, self.u, opts)
            except StepFailure as err:
                for r in self.regions:
                    r.state.rollback()
                cut += 1
                log.warning("step to t=%.4g failed (%s); cutting back (%d)", t_new, err, cut)
                if cut > opts.max_cutbacks:
                    raise ConvergenceError(
                        f"load step to t={t_new:.4g} failed after {opts.max_cutbacks} cut-backs "
                        f"(last converged t={self.t:.4g}): {err}"
                    ) from err
                dt *= 0.5
                continue
            self.u = u_new
            self.t = t_new
            self._converged = self._trial_converged
            for r, st in zip(self.regions, self.last_response.state, strict=True):
                r.state.set_trial(st)
                r.state.commit()
            rec = StepRecord(t_new, len(res) - 1, tuple(res), cut, time.perf_counter() - t0)
            sol.steps.append(rec)
            for name in reactions:
                react[name].append(self.reaction(name))
            log.info(
                "step %d: t=%.4g converged in %d Newton iterations (%.2fs)",
                len(sol.steps), t_new, rec.iterations, rec.seconds,
            )
            if callback is not None:
                callback(self, rec)
            cut = 0
            if rec.iterations <= max(2, opts.max_iter // 4):
                dt = min(dt * opts.grow, dt0)
        sol.u = self.u
        sol.reactions = {k: np.array(v) for k, v in react.items()}
        return sol

    # ------------------------------------------------------------------ post
    def reaction(self, boundary: str) -> np.ndarray:
        """Total reaction on a boundary at the last converged step, ``(n_comp,)``.

        Vector problems: the force ``int sigma n`` (``P N`` in finite strain)
        the support exerts on the body. Scalar problems: ``int q . n`` with
        ``q = K grad u`` and ``n`` the outward normal. Computed as the sum of
        internal minus external nodal forces over the boundary dofs.
        """
        facets = self.boundary(boundary)
        dofs, _ = self._component_dofs(facets, None)
        r = self._last_fint - self._last_fext
        return np.array([r[np.asarray(d, dtype=np.int64)].sum() for d in dofs])

    def quadrature_data(self) -> dict[str, np.ndarray]:
        """Flux, measure and diagnostics at quadrature points of the last step."""
        if self.last_response is None:
            return {}
        out = {"flux": self.last_response.flux, "measure": self.op.measure(self.u)}
        out.update(self.last_response.info)
        for r in self.regions:
            for k, v in (r.state.committed or {}).items():
                arr = out.setdefault(
                    "state_" + k, np.zeros(v.shape[:-2] + (self.mesh.nelements, self.op.nqp))
                )
                arr[..., r.elements, :] = v
        return out

    def vertex_values(self, u: np.ndarray | None = None) -> np.ndarray:
        """Nodal values at mesh vertices: ``(n_vertices,)`` or ``(n_vertices, d)``."""
        u = self.u if u is None else u
        if self.vector:
            return np.stack(
                [u[self.basis.nodal_dofs[c]] for c in range(self.dim)], axis=1
            )
        return u[self.basis.nodal_dofs[0]]


def _wants_x(oracle: Any) -> bool:
    return bool(getattr(oracle, "needs_coordinates", False))
