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
The quadrature state is committed only after a converged step. The run ends
with :class:`ConvergenceError` (one line naming the failing elements,
quadrature points and inputs) when one step fails ``max_cutbacks`` times in a
row, when a cut-back would go below ``NewtonOptions.min_increment``, or after
``max_total_cutbacks`` failed attempts in all, so a failure that persists at
a few points ends the run instead of creeping towards its load.

FE²: any oracle, including :class:`fe2.homogenization.RVE` at every quadrature point.
The Newton iteration uses the oracle's consistent (for an RVE: homogenized,
statically condensed) tangent; micro histories are the regions'
:class:`~fe2.oracle.QuadratureState` (the oracle gets the committed one,
its trial answer is committed with the macro step); a micro solve that fails
(raises :class:`~fe2.oracle.OracleError` or reports ``converged`` False) fails
the step, which is cut back, and the message names the global element, the
quadrature point and the macro input there. Identical RVEs (equal
``fingerprint()``) in several subdomains are replaced by one shared object.
Work counters (oracle calls, points, micro iterations, cache hits of an
:class:`fe2.homogenization.EvaluationCache`) go into each :class:`StepRecord`.

Checkpoints: :meth:`Problem.save_checkpoint` writes the macro solution, all
committed quadrature states, the converged response that seeds the next
predictor and the load-stepping state to one ``.npz`` (atomically);
:meth:`Problem.load_checkpoint` restores them into a problem built the same
way, and the next :meth:`Problem.solve` continues with the saved step size,
so a resumed run repeats the arithmetic of an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import skfem
from skfem import LinearForm

from ..fem import GradientOperator, check_jacobians, element_for
from ..io import Progress
from ..linalg import SolverError
from ..oracle import OracleError, QuadratureState, Response
from ..oracle import evaluate as evaluate_oracle

__all__ = [
    "Problem",
    "NewtonOptions",
    "StepRecord",
    "Solution",
    "ConvergenceError",
    "StepFailure",
    "CheckpointError",
]

log = logging.getLogger(__name__)

Kind = Literal["scalar", "small_strain", "finite_strain"]
_MEASURE = {"scalar": "gradient", "small_strain": "strain", "finite_strain": "deformation_gradient"}


class ConvergenceError(RuntimeError):
    """The load stepping could not reach the requested load factor.

    Attributes
    ----------
    points : tuple of (int, int, str, int)
        The failing points seen over the run: ``(element, quadrature point,
        last macro input, failed attempts there)`` in the global numbering,
        most frequent first; empty when no failure could be located.
    """

    def __init__(self, message: str, points: tuple = ()):
        super().__init__(message)
        self.points = tuple(points)


class StepFailure(RuntimeError):
    """One load step failed (Newton or an oracle); the solver cuts back.

    Attributes
    ----------
    points : tuple of (int, int, str)
        Where an oracle failed: ``(element, quadrature point, macro input)``
        in the global numbering (empty for a Newton or linear-solver failure).
    """

    def __init__(self, message: str, points: tuple = ()):
        super().__init__(message)
        self.points = tuple(points)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read or does not belong to this problem."""


@dataclass(frozen=True)
class NewtonOptions:
    """Newton iteration and load-stepping controls.

    Every field is checked at construction: a wrong type or value raises a
    one-line ``ValueError`` naming the field, the value and what is expected
    (numbers must be numbers: booleans and strings are refused).

    Attributes
    ----------
    rtol, atol : float
        Converged when ``|r_free| <= rtol * max(|f_ext|, |f_int|) + atol``;
        finite, ``>= 0``, not both 0.
    max_iter : int
        Newton iterations per load step before a cut-back (``>= 1``).
    steps : int
        Initial number of equal load increments to reach ``t_end`` (``>= 1``).
    max_cutbacks : int
        Halvings of a failing increment in a row before giving up (``>= 0``).
    grow : float
        After a step that converged in few iterations, the next increment is
        multiplied by ``grow`` (never beyond the initial increment); finite,
        ``>= 1`` (1: never grow again after a cut-back).
    line_search : int
        Backtracking halvings per Newton iteration (0: plain Newton, the
        default; at most 30). With ``n > 0`` a Newton step that does not
        reduce the residual norm by the Armijo factor ``1 - 1e-4 alpha`` is
        halved up to ``n`` times (each try is one oracle evaluation); it
        breaks the oscillating iterates plasticity can show with large
        increments.
    min_increment : float, optional
        Smallest load-factor increment tried; a cut-back below it ends the
        run with :class:`ConvergenceError`. Default (None):
        ``dt0 * 2**-max_cutbacks`` with ``dt0 = (t_end - t_start) / steps``
        the initial increment, i.e. the increment after ``max_cutbacks``
        halvings of the first one. Finite, ``> 0``.
    max_total_cutbacks : int
        Failed attempts (cut-backs) allowed over one :meth:`Problem.solve`
        (a resumed run continues the count of its checkpoint); one more ends
        the run with :class:`ConvergenceError` naming the failing points
        (``>= 0``, default 100).
    """

    rtol: float = 1e-9
    atol: float = 1e-12
    max_iter: int = 25
    steps: int = 1
    max_cutbacks: int = 8
    grow: float = 1.5
    line_search: int = 0
    min_increment: float | None = None
    max_total_cutbacks: int = 100

    def __post_init__(self):
        for name in ("rtol", "atol"):
            _check_number(name, getattr(self, name), 0.0, ">= 0")
        if self.rtol == 0 and self.atol == 0:
            raise ValueError(
                "NewtonOptions.rtol and atol are both 0; expected at least one > 0 "
                "(no residual is exactly zero in floating point)"
            )
        _check_number("grow", self.grow, 1.0, ">= 1")
        if self.min_increment is not None:
            _check_number("min_increment", self.min_increment, 0.0, "> 0", strict=True)
        for name, low in (("max_iter", 1), ("steps", 1), ("max_cutbacks", 0),
                          ("line_search", 0), ("max_total_cutbacks", 0)):
            _check_int(name, getattr(self, name), low)
        if self.line_search > 30:
            raise ValueError(
                f"NewtonOptions.line_search must be an integer in 0..30 (halvings), got "
                f"{self.line_search!r}"
            )

    def smallest_increment(self, dt0: float) -> float:
        """The minimum increment for a run whose initial increment is ``dt0``."""
        if self.min_increment is not None:
            return float(self.min_increment)
        return dt0 * 2.0 ** -self.max_cutbacks


def _check_number(name: str, value: Any, low: float, what: str, strict: bool = False) -> None:
    """A finite real number (not a bool or a string) with ``value >= low`` (``>`` if strict)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(
            f"NewtonOptions.{name} must be a number {what}, got {value!r} "
            f"({type(value).__name__})"
        )
    if not np.isfinite(value):
        raise ValueError(f"NewtonOptions.{name} must be a finite number {what}, got {value!r}")
    if value < low or (strict and value == low):
        raise ValueError(f"NewtonOptions.{name} must be {what}, got {value!r}")


def _check_int(name: str, value: Any, low: int) -> None:
    """An integer (not a bool, not a float) with ``value >= low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(
            f"NewtonOptions.{name} must be an integer >= {low}, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < low:
        raise ValueError(f"NewtonOptions.{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True)
class StepRecord:
    """A converged load step: load factor, Newton iterations, residual norms and work.

    The work counters include the failed attempts (cut-backs) since the
    previous converged step.

    Attributes
    ----------
    t : float
        Load factor reached.
    iterations : int
        Newton iterations of the converged attempt.
    residuals : tuple of float
        Free-dof residual norm at each iterate of the converged attempt.
    cutbacks : int
        Failed attempts before it.
    seconds : float
        Wall time of the step (all attempts).
    evaluations : int
        Oracle calls (one per region and Newton iterate).
    points : int
        Quadrature points asked for, summed over the calls.
    micro_iterations : int
        Sum of the oracles' ``info["iterations"]`` (micro Newton iterations),
        not counting cache hits.
    cache_hits, cache_misses : int
        Points answered from / passed through an evaluation cache
        (:class:`fe2.homogenization.EvaluationCache`); zero without one.
    """

    t: float
    iterations: int
    residuals: tuple[float, ...]
    cutbacks: int
    seconds: float
    evaluations: int = 0
    points: int = 0
    micro_iterations: int = 0
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def cache_hit_rate(self) -> float | None:
        """``cache_hits / (cache_hits + cache_misses)``; None without a cache."""
        n = self.cache_hits + self.cache_misses
        return self.cache_hits / n if n else None

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready) with ``cache_hit_rate`` added."""
        d = asdict(self)
        d["residuals"] = list(self.residuals)
        d["cache_hit_rate"] = self.cache_hit_rate
        return d


#: failing points a StepFailure / ConvergenceError message or record keeps
_MAX_POINTS = 5
_COUNTERS = ("evaluations", "points", "micro_iterations", "cache_hits", "cache_misses")
_CHECKPOINT_FORMAT = "fe2-checkpoint-1"


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


def _check_value(value: Any, what: str, ncomp: int, unit: str) -> None:
    """A load value: callable, or finite real number(s), scalar or ``(ncomp,)``."""
    if callable(value):
        return
    if isinstance(value, np.ndarray):
        flat = value.ravel().tolist()
    else:
        flat = list(value) if isinstance(value, tuple | list) else [value]
    if np.ndim(value) > 1 or any(
        isinstance(v, bool | np.bool_) or not isinstance(v, int | float | np.integer | np.floating)
        for v in flat
    ):
        raise ValueError(
            f"{what} must be a number, {ncomp} numbers or a callable value(x, t), got {value!r}"
        )
    if not all(np.isfinite(v) for v in flat):
        raise ValueError(f"{what} must be finite, got {value!r}")
    if np.ndim(value) == 1 and len(flat) != ncomp:
        raise ValueError(
            f"{what} has {len(flat)} values for {ncomp} {unit}, got {value!r}"
        )


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
    if not np.all(np.isfinite(out)):
        i = np.argwhere(~np.isfinite(out))[0]
        raise ValueError(
            f"{what}: value(x, t={t:.6g}) is not finite ({out[tuple(i)]}) at "
            f"x = {np.array2string(x[(slice(None), *i[1:])], precision=6)}"
        )
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
        if isinstance(order, bool) or order not in (1, 2):
            raise ValueError(f"{name}: order must be 1 or 2, got {order!r}")
        for arg, val in (("intorder", intorder), ("chunk_size", chunk_size)):
            if val is not None and (isinstance(val, bool) or not isinstance(val, int | np.integer)
                                    or val < 1):
                raise ValueError(f"{name}: {arg} must be an integer >= 1, got {val!r}")
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
        self._last_fint: np.ndarray | None = None
        self._last_fext: np.ndarray | None = None
        # load stepping after the last converged step (for checkpoints), and the one
        # restored from a checkpoint, consumed by the next solve()
        self._stepping: dict | None = None
        self._resume_stepping: dict | None = None
        #: running totals of the work counters of :class:`StepRecord`
        self.counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        #: converged load steps so far (over all solve calls, and before a checkpoint)
        self.steps_done = 0
        self._progress: Progress | None = None  # set by solve(progress=...) while it runs
        self._progress_mark = (0.0, 0)  # (time, micro solves) at the start of the solve

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
        _share_identical_oracles(regions)
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

    def _components(self, components: Any, where: str) -> tuple[int, ...]:
        """Checked component indices: distinct integers ``0 .. dim-1`` (``(0,)`` if scalar)."""
        if components is None:
            return tuple(range(self.dim)) if self.vector else (0,)
        n = self.ncomp
        if isinstance(components, int | np.integer) and not isinstance(components, bool):
            comps = (components,)
        elif isinstance(components, str) or not isinstance(components, tuple | list | np.ndarray):
            comps = None
        else:
            comps = tuple(components)
        expect = (f"distinct integers 0..{n - 1} (axes of the {self.dim}D problem)"
                  if self.vector else "0 (a scalar problem has one component)")
        bad = comps is None or not comps or any(
            isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= c < n
            for c in comps)
        if bad:
            raise ValueError(f"{where} must be {expect}, got {components!r}")
        comps = tuple(int(c) for c in comps)
        twice = [c for c in set(comps) if comps.count(c) > 1]
        if twice:
            raise ValueError(
                f"{where} must be {expect}, got {components!r} "
                f"(component {twice[0]} repeats)"
            )
        return comps

    def component_dofs(self, facets: np.ndarray, components: tuple[int, ...] | None,
                       where: str = "boundary") -> tuple[list[np.ndarray], tuple[int, ...]]:
        """Degrees of freedom of the chosen components on ``facets``.

        ``facets``: facet indices ``(n,)``; ``components``: vector components (None: all).
        Returns one dof array per component and the components (``(0,)`` for scalar
        problems). Bad components raise ``ValueError`` naming ``where``.
        """
        comps = self._components(components, f"components on {where}")
        dofs = self.basis.get_dofs(facets=facets)
        if not self.vector:
            return [dofs.all()], (0,)
        return [dofs.all([f"u^{c + 1}"]) for c in comps], comps

    def dirichlet(
        self, boundary: str, value: Any = 0.0, components: tuple[int, ...] | None = None
    ) -> Problem:
        """Prescribe ``u`` (or chosen components) on a named boundary.

        ``value``: a number or a ``(n_comp,)`` sequence (scaled by the load
        factor), or ``value(x, t)`` with ``x`` ``(d, n)`` returning ``(n,)`` or
        ``(n_comp, n)``. ``components``: distinct axis indices ``0 .. d-1``
        (default all). Returns the problem, so calls chain.

        Raises
        ------
        KeyError
            Unknown boundary name (the message lists the known ones).
        ValueError
            A constant value that is not finite numbers or has the wrong
            length, or bad component indices; the message names the boundary.
        """
        facets = self.boundary(boundary)
        comps = self._components(components, f"Dirichlet components on {boundary!r}")
        _check_value(value, f"Dirichlet value on {boundary!r}", len(comps),
                     "components" if self.vector else "component")
        dofs, comps = self.component_dofs(facets, comps)
        self.loads.append(_Load("dirichlet", boundary, value, comps, dofs))
        self._fixed = None
        return self

    def neumann(self, boundary: str, value: Any) -> Problem:
        """Prescribe a traction (vector problems) or ``g = q . n = (K grad u) . n`` (scalar).

        ``value``: as in :meth:`dirichlet`; for vector problems ``(d,)``. In
        finite strain the traction is a dead load per reference area. Errors
        as in :meth:`dirichlet`.
        """
        facets = self.boundary(boundary)
        _check_value(value, f"Neumann value on {boundary!r}", self.ncomp, "components")
        fb = skfem.FacetBasis(self.mesh, self.element, facets=facets)
        self.loads.append(_Load("neumann", boundary, value, basis=fb))
        return self

    def body_load(self, value: Any, subdomain: str | None = None) -> Problem:
        """Body force (vector problems) or source ``f`` (scalar) per reference volume.

        ``value``: as in :meth:`neumann`. Errors as in :meth:`dirichlet`.
        """
        what = "body load" if subdomain is None else f"body load on subdomain {subdomain!r}"
        if subdomain is None:
            _check_value(value, what, self.ncomp, "components")
            cb = self.basis
        else:
            els = self.subdomain(subdomain)
            _check_value(value, what, self.ncomp, "components")
            cb = skfem.Basis(self.mesh, self.element, elements=els)
        self.loads.append(_Load("body", subdomain, value, basis=cb))
        return self

    # ------------------------------------------------------------------ pieces
    def _external_force(self, t: float) -> np.ndarray:
        f = np.zeros(self.basis.N)
        for ld in self.loads:
            if ld.kind not in ("neumann", "body"):
                continue
            b = ld.basis
            x = np.asarray(b.global_coordinates())
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
        """Measure, then flux, tangent and merged response at all quadrature points.

        Raises :class:`StepFailure` when an oracle fails or reports a point as
        not converged, naming the global element, quadrature point and input.
        """
        g = self.op.measure(u)
        flux = np.empty_like(g)
        tangent = np.empty(g.shape[:-2] + g.shape[:-2] + g.shape[-2:])
        info: dict[str, np.ndarray] = {}
        trials = []
        for r in self.regions:
            gr = g[..., r.elements, :]
            x = None if not _wants_x(r.oracle) else self._coords(r.elements)
            batch = getattr(r.oracle, "evaluate_batch", None)
            try:
                if callable(batch):  # e.g. an evaluation cache: it dispatches its misses itself
                    resp = batch(gr, x=x, state=r.state.committed, executor=self.executor,
                                 chunk_size=self.chunk_size)
                else:
                    resp = evaluate_oracle(r.oracle, gr, x=x, state=r.state.committed,
                                           executor=self.executor, chunk_size=self.chunk_size)
            except OracleError as err:
                msg, loc = self._oracle_failure(r, gr, err)
                pts = () if loc is None else (self._point(r, gr, *loc),)
                raise StepFailure(msg, pts) from err
            self._count(resp, gr.shape[-2:])
            if resp.tangent is None:
                raise StepFailure(f"oracle for {r.name!r} returned no tangent")
            conv = resp.info.get("converged")
            if conv is not None and not np.all(conv):
                conv = np.asarray(conv, dtype=bool)
                failed = np.argwhere(~conv)
                e, q = failed[0]
                raise StepFailure(
                    f"micro solve did not converge at {len(failed)} of {conv.size} "
                    f"points{_in(r)}; first: {self._where(r, gr, e, q)}",
                    tuple(self._point(r, gr, e, q) for e, q in failed[:_MAX_POINTS]),
                )
            bad = ~np.all(np.isfinite(resp.flux), axis=tuple(range(resp.flux.ndim - 2)))
            if bad.any():
                failed = np.argwhere(bad)
                e, q = failed[0]
                raise StepFailure(
                    f"non-finite flux returned by the oracle at {int(bad.sum())} points{_in(r)}; "
                    f"first: {self._where(r, gr, e, q)}",
                    tuple(self._point(r, gr, e, q) for e, q in failed[:_MAX_POINTS]),
                )
            flux[..., r.elements, :] = resp.flux
            tangent[..., r.elements, :] = resp.tangent
            for k, v in resp.info.items():
                v = np.asarray(v)
                if k not in info:
                    info[k] = np.zeros((self.mesh.nelements, self.op.nqp), dtype=v.dtype)
                info[k][r.elements] = v
            trials.append(resp.state)
        return flux, tangent, Response(flux=flux, tangent=tangent, state=trials, info=info)

    def _point(self, r: _Region, gr: np.ndarray, e: int, q: int) -> tuple[int, int, str]:
        """``(global element, quadrature point, "<measure> [...]")`` of a region-local point."""
        return (int(r.elements[e]), int(q),
                f"{_MEASURE[self.kind]} {np.array2string(gr[..., e, q].ravel(), precision=6)}")

    def _where(self, r: _Region, gr: np.ndarray, e: int, q: int) -> str:
        """``element E, quadrature point Q, <measure> [...]`` in the global numbering."""
        return _describe(self._point(r, gr, e, q))

    def _oracle_failure(self, r: _Region, gr: np.ndarray, err: OracleError
                        ) -> tuple[str, tuple[int, int] | None]:
        """Message for an oracle that raised: the failing point in the global numbering.

        The region-local point comes from ``err.point`` (set by
        :class:`fe2.homogenization.RVE`) when the region went in one call; else from
        the RVE's message ``(macro point ...)``, counted from the chunk start
        noted by :func:`fe2.oracle.evaluate`; else from ``err.macro_input``
        (the first point with that input). Returns the message and the
        region-local ``(e, q)`` (None when the point is unknown).
        """
        nidx = gr.ndim - 2
        whole = self.executor is None and self.chunk_size is None
        loc = None
        point = getattr(err, "point", None)
        if whole and point is not None and len(point) == 2:
            loc = (int(point[0]), int(point[1]))
        if loc is None:
            loc = _location_from_message(str(err), gr.shape[-2:], whole)
        val = getattr(err, "macro_input", None)
        if loc is None and val is not None and np.shape(val) == gr.shape[:nidx]:
            val = np.asarray(val, dtype=float).reshape(gr.shape[:nidx] + (1, 1))
            hit = np.argwhere(np.all(gr == val, axis=tuple(range(nidx))))
            if len(hit):
                loc = (int(hit[0][0]), int(hit[0][1]))
        if loc is None:
            hint = "" if r.name == "all" or not whole else (
                f" (point indices count within subdomain {r.name!r})"
            )
            return f"oracle for {r.name!r} failed: {err}{hint}", None
        reason = getattr(err, "reason", None) or _MACRO_POINT.split(str(err))[0].rstrip()
        return f"micro solve failed{_in(r)} at {self._where(r, gr, *loc)}: {reason}", loc

    def _count(self, resp: Response, pts: tuple[int, ...]) -> None:
        n = int(np.prod(pts))
        c = self.counters
        c["evaluations"] += 1
        c["points"] += n
        hit = resp.info.get("cache_hit")
        hits = 0 if hit is None else int(np.count_nonzero(hit))
        if hit is not None:
            c["cache_hits"] += hits
            c["cache_misses"] += n - hits
        its = resp.info.get("iterations")
        if its is not None:
            its = np.asarray(its)
            c["micro_iterations"] += int(its.sum() if hit is None else its[~np.asarray(hit)].sum())

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
        searched = None  # (fint, tangent, resp) at u, evaluated by the line search
        for it in range(opts.max_iter + 1):
            if it == 0 and cached is not None:
                fint, tangent, resp = cached
            elif searched is not None:
                fint, tangent, resp = searched
                searched = None
            else:
                flux, tangent, resp = self._evaluate(u)
                fint = self.op.internal_force(flux)
            r = fint - fext
            rn = float(np.linalg.norm(r[free]))
            ref = max(float(np.linalg.norm(fext)), float(np.linalg.norm(fint)), 1e-300)
            residuals.append(rn)
            log.debug("t=%.4g it=%d |r|=%.3e ref=%.3e", t, it, rn, ref)
            if self._progress is not None:
                self._progress.status(step=self.steps_done + 1, t=t, newton=it, residual=rn,
                                      micro_per_s=self._micro_rate())
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
            try:
                du = self.solver(K[free][:, free], rhs)
            except (SolverError, np.linalg.LinAlgError) as err:
                # e.g. a singular tangent at a limit state: a failed step, not a crash
                raise StepFailure(
                    f"linear solve failed at Newton iteration {it}, load factor {t:.4g}: {err}"
                ) from err
            if pending or opts.line_search == 0:
                u[free] += du
                if pending:
                    u[D] = uD
                    pending = False
                continue
            searched = self._line_search(u, free, du, fext, rn, opts.line_search)
        history = ", ".join(f"{x:.1e}" for x in residuals[-4:])
        raise StepFailure(
            f"Newton did not converge in {opts.max_iter} iterations at load factor {t:.4g} "
            f"(residual {residuals[-1]:.3e}, history {history})"
        )

    def _line_search(self, u, free, du, fext, rn, halvings):
        """Backtrack ``u[free] += alpha du`` (in place) until the residual drops (Armijo).

        Returns ``(fint, tangent, response)`` at the accepted ``u``. If no
        halving reduces the residual, the smallest step is kept (the Newton
        loop, then the cut-back, decide).
        """
        u0 = u[free].copy()
        alpha = 1.0
        for k in range(halvings + 1):
            u[free] = u0 + alpha * du
            try:
                flux, tangent, resp = self._evaluate(u)
            except StepFailure:
                if k == halvings:
                    raise
                alpha *= 0.5
                continue
            fint = self.op.internal_force(flux)
            trial = float(np.linalg.norm((fint - fext)[free]))
            if trial <= (1.0 - 1e-4 * alpha) * rn or k == halvings:
                if k:
                    log.debug("line search: step %.3g, |r| %.3e -> %.3e", alpha, rn, trial)
                return fint, tangent, resp
            alpha *= 0.5
        raise AssertionError("unreachable")  # pragma: no cover

    def solve(
        self,
        newton: NewtonOptions | None = None,
        reactions: tuple[str, ...] = (),
        callback: Callable[[Problem, StepRecord], None] | None = None,
        t_end: float = 1.0,
        progress: bool | Progress = False,
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
        progress : bool or fe2.io.Progress
            Show progress (default False: quiet): True makes a
            :class:`fe2.io.Progress` over the load-factor range, a bar with the
            load step, Newton iteration, micro solves (oracle points evaluated,
            cache hits excluded) per second and the estimated time left on a
            terminal, one log line per converged step otherwise. A
            ``Progress`` instance (e.g. with ``total=1`` shared by several
            ``solve`` calls) is advanced by each converged increment and left
            open. Progress output never changes the results.

        Raises
        ------
        ConvergenceError
            If a step fails after ``max_cutbacks`` halvings in a row, if a
            cut-back would go below ``min_increment``, or after more than
            ``max_total_cutbacks`` failed attempts; the message names the
            failing points (element, quadrature point, macro input; also in
            ``err.points``). The problem keeps the last converged solution
            and committed state.
        ValueError
            ``t_end`` not a finite number, or below the current load factor.

        Notes
        -----
        After :meth:`load_checkpoint`, the first call with the same ``t_end``
        continues with the saved increment (and the saved initial increment
        as the growth limit) instead of ``(t_end - t) / steps``.
        """
        opts = newton or NewtonOptions()
        if not isinstance(opts, NewtonOptions):
            raise ValueError(f"newton must be a NewtonOptions, got {type(opts).__name__}")
        if isinstance(t_end, bool) or not isinstance(t_end, int | float | np.integer | np.floating
                                                         ) or not np.isfinite(t_end):
            raise ValueError(f"t_end must be a finite number, got {t_end!r}")
        if t_end < self.t - 1e-12:
            raise ValueError(
                f"t_end {t_end:g} is below the current load factor {self.t:g}; the load "
                "stepping only goes forward"
            )
        for name in reactions:
            self.boundary(name)
        if isinstance(progress, Progress):
            bar, own = progress, False
        elif isinstance(progress, bool | np.bool_):
            bar = Progress(total=float(t_end - self.t), desc=self.name, unit="load",
                           enabled=bool(progress), integer=False)
            own = True
        else:
            raise ValueError(f"progress must be a bool or a fe2.io.Progress, got {progress!r}")
        self._progress = bar if bar.enabled else None
        self._progress_mark = (time.perf_counter(), self._micro_solves())
        try:
            return self._solve(opts, reactions, callback, t_end)
        finally:
            self._progress = None
            if own:
                bar.close()

    def _micro_solves(self) -> int:
        """Oracle points evaluated so far, cache hits excluded."""
        return self.counters["points"] - self.counters["cache_hits"]

    def _micro_rate(self) -> float:
        """Micro solves per second since the start of the running solve."""
        t0, n0 = self._progress_mark
        dt = time.perf_counter() - t0
        return (self._micro_solves() - n0) / dt if dt > 0 else 0.0

    def _solve(self, opts: NewtonOptions, reactions: tuple[str, ...],
               callback: Callable[[Problem, StepRecord], None] | None, t_end: float
               ) -> Solution:
        """The load stepping of :meth:`solve` (arguments checked)."""
        sol = Solution(u=self.u)
        react: dict[str, list] = {name: [] for name in reactions}
        saved, self._resume_stepping = self._resume_stepping, None
        total = 0  # failed attempts over the run (continued from a checkpoint)
        if saved is not None and saved.get("t_end") == t_end:
            dt0, dt = float(saved["dt0"]), float(saved["dt"])
            total = int(saved.get("cutbacks", 0))
        else:
            dt0 = (t_end - self.t) / opts.steps
            dt = dt0
        dt_min = opts.smallest_increment(dt0)
        failures: dict[tuple[int, int], list] = {}  # (element, qp) -> [attempts, input]
        cut = 0
        mark = dict(self.counters)
        t0 = time.perf_counter()
        while self.t < t_end - 1e-12:
            t_new = min(self.t + dt, t_end)
            try:
                u_new, res = self.newton(t_new, self.u, opts)
            except StepFailure as err:
                for r in self.regions:
                    r.state.rollback()
                cut += 1
                total += 1
                for e, q, value in err.points:
                    rec_pt = failures.setdefault((e, q), [0, value])
                    rec_pt[0] += 1
                    rec_pt[1] = value
                log.warning("step to t=%.4g failed (%s); cutting back (%d)", t_new, err, cut)
                why = None
                if total > opts.max_total_cutbacks:
                    why = (f"{total} cut-backs in total (max_total_cutbacks "
                           f"{opts.max_total_cutbacks})")
                elif cut > opts.max_cutbacks:
                    why = (f"load step to t={t_new:.4g} failed after {opts.max_cutbacks} "
                           "cut-backs")
                elif 0.5 * dt < dt_min * (1.0 - 1e-9):
                    why = (f"load step to t={t_new:.4g} failed and its half increment "
                           f"{0.5 * dt:.3g} is below the minimum increment {dt_min:.3g}")
                if why is not None:
                    raise self._stopped(why, t_end, total, failures, err) from err
                dt *= 0.5
                continue
            t_prev = self.t
            self.u = u_new
            self.t = t_new
            self._converged = self._trial_converged
            for r, st in zip(self.regions, self.last_response.state, strict=True):
                r.state.set_trial(st)
                r.state.commit()
            work = {k: self.counters[k] - mark[k] for k in _COUNTERS}
            rec = StepRecord(t_new, len(res) - 1, tuple(res), cut, time.perf_counter() - t0,
                             **work)
            mark = dict(self.counters)
            self.steps_done += 1
            sol.steps.append(rec)
            for name in reactions:
                react[name].append(self.reaction(name))
            hits = "" if rec.cache_hit_rate is None else f", cache hits {rec.cache_hit_rate:.0%}"
            log.info(
                "step %d: t=%.4g converged in %d Newton iterations (%.2fs%s)",
                self.steps_done, t_new, rec.iterations, rec.seconds, hits,
            )
            if self._progress is not None:
                self._progress.advance(
                    t_new - t_prev, f"step {self.steps_done}: t={t_new:.4g} converged",
                    newton=rec.iterations, cutbacks=cut or None,
                    micro_per_s=self._micro_rate())
            cut = 0
            if rec.iterations <= max(2, opts.max_iter // 4):
                dt = min(dt * opts.grow, dt0)
            self._stepping = {"dt": dt, "dt0": dt0, "t_end": t_end, "steps": self.steps_done,
                              "cutbacks": total}
            if callback is not None:
                callback(self, rec)
            t0 = time.perf_counter()
        sol.u = self.u
        sol.reactions = {k: np.array(v) for k, v in react.items()}
        return sol

    def _stopped(self, why: str, t_end: float, total: int,
                 failures: dict[tuple[int, int], list], err: StepFailure) -> ConvergenceError:
        """The one-line error that ends a run: why, where it stopped, the failing points."""
        pts = sorted(((e, q, v[1], v[0]) for (e, q), v in failures.items()),
                     key=lambda p: (-p[3], p[0], p[1]))
        if pts:
            shown = "; ".join(f"{_describe(p)} ({p[3]} of {total} failed attempts)"
                              for p in pts[:_MAX_POINTS])
            more = f" and {len(pts) - _MAX_POINTS} more" if len(pts) > _MAX_POINTS else ""
            where = f"; failing points: {shown}{more}"
        else:
            where = ""
        msg = (f"{why} (last converged t={self.t:.6g} of {t_end:g}){where}; last failure: "
               f"{err}")
        return ConvergenceError(" ".join(msg.split()), points=tuple(pts))

    # ------------------------------------------------------------------ checkpoints
    def _layout(self) -> dict[str, Any]:
        """What a checkpoint must match: kind, element, mesh, regions, state fields."""
        return {
            "mesh": f"{type(self.mesh).__name__}, {self.mesh.nvertices} vertices, "
                    f"{self.mesh.nelements} elements, sha {_sha(self.mesh.p, self.mesh.t)}",
            "kind": self.kind,
            "dim": self.dim,
            "order": self.order,
            "element": type(self.element).__name__,
            "dofs": int(self.basis.N),
            "quadrature_points": int(self.op.nqp),
            "regions": [
                {"name": r.name, "elements": int(len(r.elements)), "sha": _sha(r.elements),
                 "state": _state_fields(r.state)}
                for r in self.regions
            ],
        }

    def save_checkpoint(self, path: str | os.PathLike, meta: Mapping[str, Any] | None = None
                        ) -> Path:
        """Write the state after the last converged step to ``path`` (``.npz``), atomically.

        Saved: the dof vector ``u (N,)``, the load factor, every region's
        committed quadrature state, the converged internal force, flux,
        tangent and diagnostics (the predictor of the next step), the
        external force (reactions) and the load-stepping state, plus a layout
        record (mesh hash, element, regions, state fields) that
        :meth:`load_checkpoint` checks, and ``meta``: any JSON-serialisable
        dict of the caller (e.g. step records of a case run).

        The file is written to a temporary name in the same folder, flushed
        to disk and renamed over ``path``: a run killed meanwhile leaves the
        previous checkpoint intact.

        Returns
        -------
        Path
            ``path``.
        """
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "format": np.array(_CHECKPOINT_FORMAT),
            "layout": np.array(json.dumps(self._layout())),
            "meta": np.array(json.dumps(dict(meta or {}))),
            "stepping": np.array(json.dumps(self._stepping)),
            "t": np.array(self.t),
            "u": self.u,
        }
        for i, r in enumerate(self.regions):
            arrays.update(r.state.as_arrays(prefix=f"state{i}/"))
        if self._converged is not None:
            fint, tangent, resp = self._converged
            arrays.update({"conv/fint": fint, "conv/tangent": tangent, "conv/flux": resp.flux,
                           "conv/fext": self._last_fext})
            arrays.update({f"conv/info/{k}": np.asarray(v) for k, v in resp.info.items()})
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        finally:
            if tmp.exists():
                tmp.unlink()
        return path

    def load_checkpoint(self, path: str | os.PathLike) -> dict[str, Any]:
        """Restore a checkpoint of :meth:`save_checkpoint` into this problem.

        The problem must be built as the one that wrote it (same mesh,
        element, kind, subdomains and oracles' state layout); loads and
        solver options are the caller's business. The next :meth:`solve`
        continues the load stepping where the checkpoint left it.

        Returns
        -------
        dict
            The ``meta`` dict stored with the checkpoint.

        Raises
        ------
        CheckpointError
            Unreadable file, or one written for a different problem; the
            message names the file and the first difference.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except FileNotFoundError as err:
            raise CheckpointError(f"checkpoint {path} not found") from err
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise CheckpointError(f"checkpoint {path} is not a readable .npz file: {err}") from err
        if "format" not in arrays or str(arrays["format"]) != _CHECKPOINT_FORMAT:
            found = str(arrays["format"]) if "format" in arrays else "no format record"
            raise CheckpointError(
                f"checkpoint {path} is not an fe2 checkpoint (expected format "
                f"{_CHECKPOINT_FORMAT!r}, found {found!r})"
            )
        saved, here = json.loads(str(arrays["layout"])), self._layout()
        diff = _first_difference(saved, here)
        if diff is not None:
            key, a, b = diff
            raise CheckpointError(
                f"checkpoint {path} does not match this problem ({self.name}): {key} is {b} "
                f"here but {a} in the checkpoint"
            )
        self.u = np.array(arrays["u"], dtype=float)
        self.t = float(arrays["t"])
        states = []
        for i, r in enumerate(self.regions):
            prefix = f"state{i}/"
            r.state = QuadratureState.from_arrays(
                {k: v for k, v in arrays.items() if k.startswith(prefix)}, prefix=prefix
            )
            states.append(r.state.committed)
        if "conv/fint" in arrays:
            info = {k[len("conv/info/"):]: v for k, v in arrays.items()
                    if k.startswith("conv/info/")}
            resp = Response(flux=arrays["conv/flux"], tangent=arrays["conv/tangent"],
                            state=states, info=info)
            self._converged = (arrays["conv/fint"], arrays["conv/tangent"], resp)
            self._trial_converged = self._converged
            self.last_response = resp
            self._last_fint = arrays["conv/fint"]
            self._last_fext = arrays["conv/fext"]
        else:
            self._converged = self._trial_converged = self.last_response = None
        self._stepping = json.loads(str(arrays["stepping"]))
        self._resume_stepping = self._stepping
        self.steps_done = int((self._stepping or {}).get("steps", 0))
        log.info("%s: resumed from %s at load factor %.6g", self.name, path, self.t)
        return json.loads(str(arrays["meta"]))

    # ------------------------------------------------------------------ post
    def reaction(self, boundary: str) -> np.ndarray:
        """Total reaction on a boundary at the last converged step, ``(n_comp,)``.

        Vector problems: the force ``int sigma n`` (``P N`` in finite strain)
        the support exerts on the body. Scalar problems: ``int q . n`` with
        ``q = K grad u`` and ``n`` the outward normal. Computed as the sum of
        internal minus external nodal forces over the boundary dofs.
        """
        facets = self.boundary(boundary)
        dofs, _ = self.component_dofs(facets, None)
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


def _describe(point: tuple[int, int, str]) -> str:
    """``element E, quadrature point Q, <measure> [...]``."""
    e, q, value = point[:3]
    return f"element {e}, quadrature point {q}, {value}"


def _in(r: _Region) -> str:
    return "" if r.name == "all" else f" in subdomain {r.name!r}"


def _wants_x(oracle: Any) -> bool:
    return bool(getattr(oracle, "needs_coordinates", False))


# "(macro point (i, j), input [...])" of fe2.homogenization.RVE, and the chunk note of
# fe2.oracle.evaluate
_MACRO_POINT = re.compile(r"\s*\(macro point \(([\d, ]*)\)")
_CHUNK = re.compile(r"\[chunk of flat points (\d+)\.\.")


def _location_from_message(msg: str, pts: tuple[int, int], whole: bool
                           ) -> tuple[int, int] | None:
    """Region-local ``(e, q)`` from an RVE error message (also one re-raised for a chunk).

    With ``[chunk of flat points a..]`` the point index is a flat index counted
    from ``a``; without, it is ``(e, q)`` (or a flat index), trusted only when
    the region went in one call (``whole``).
    """
    m = _MACRO_POINT.search(msg)
    if m is None or (not whole and _CHUNK.search(msg) is None):
        return None
    idx = [int(i) for i in m.group(1).replace(" ", "").split(",") if i]
    c = _CHUNK.search(msg)
    if c is not None and len(idx) == 1:
        flat = int(c.group(1)) + idx[0]
    elif c is None and len(idx) == 2:
        return (idx[0], idx[1]) if idx[0] < pts[0] and idx[1] < pts[1] else None
    elif c is None and len(idx) == 1:
        flat = idx[0]
    else:
        return None
    if not 0 <= flat < pts[0] * pts[1]:
        return None
    e, q = np.unravel_index(flat, pts)
    return int(e), int(q)


def _share_identical_oracles(regions: list[_Region]) -> None:
    """Give regions whose oracles have equal ``fingerprint()`` one shared object.

    Identical RVEs then share one micro discretisation, one linearization
    (linear cells: one solve per distinct microstructure) and one solver cache.
    """
    seen: dict[str, Any] = {}
    for r in regions:
        fp = getattr(r.oracle, "fingerprint", None)
        if not callable(fp):
            continue
        key = f"{type(r.oracle).__qualname__}:{fp()}"
        first = seen.setdefault(key, r.oracle)
        if first is not r.oracle:
            log.info("subdomain %r: oracle identical to an earlier one; sharing it", r.name)
            r.oracle = first


def _first_difference(a: Any, b: Any, key: str = "layout") -> tuple[str, Any, Any] | None:
    """First differing entry of two JSON-like records: (dotted key, a value, b value)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            d = _first_difference(a.get(k), b.get(k), f"{key}.{k}")
            if d is not None:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = _first_difference(x, y, f"{key}[{i}]")
            if d is not None:
                return d
        return None
    return None if a == b else (key, a, b)


def _state_fields(state: QuadratureState) -> dict[str, list[int]]:
    return {k: list(np.shape(v)) for k, v in (state.committed or {}).items()}


def _sha(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
