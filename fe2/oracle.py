"""The oracle contract: what a macro solver asks of a micro model.

An *oracle* maps a batch of macro inputs ``g`` (a gradient, a strain, a
deformation gradient, ...) at many points to the flux it lacks and the
consistent tangent. Arrays follow scikit-fem's layout: tensor indices first,
point axes last.

====================  ===================  ======================  ==========================
measure               input ``g``          ``Response.flux``       ``Response.tangent``
====================  ===================  ======================  ==========================
gradient              ``(d, *pts)``        heat flux ``(d, *pts)``  ``(d, d, *pts)``
strain                ``(d, d, *pts)``     Cauchy stress            ``(d, d, d, d, *pts)``
deformation_gradient  ``(d, d, *pts)``     first Piola–Kirchhoff    ``(d, d, d, d, *pts)``
conserved             ``(m, *pts)``        flux ``(d, m, *pts)``    ``(d, m, m, *pts)`` or None
velocity_gradient     ``(d, d, *pts)``     stress ``(d, d, *pts)``  ``(d, d, d, d, *pts)`` or None
====================  ===================  ======================  ==========================

The flux convention for ``gradient`` is ``q = K grad u`` (the macro problem
solves ``-div q = f``), so the tangent of a conductor is positive definite. For
``conserved`` (``U_t + div F(U) = 0``, :mod:`fe2.gas`) ``flux[k, i]`` is the flux of
conserved quantity ``i`` in direction ``k``, and ``info["wave_speed"]`` (``pts``) bounds
the signal speeds for the CFL step.

Oracles with measure ``velocity_gradient`` are micro models that evolve in time
(a dumbbell ensemble, a particle box): they take the macro time increment,
``evaluate(g, x=None, state=None, dt=None)``, and return the state advanced by
``dt``. :func:`evaluate` passes ``dt`` to the oracle only when it is given, so
static oracles, whose ``evaluate`` has no ``dt``, are unaffected.

History lives in a :class:`QuadratureState` owned by the macro solver: the
oracle receives the *committed* state and returns a *trial* state; the solver
commits it after a converged step and rolls it back after a failed one.

Micro solves at different points are independent, so :func:`evaluate` splits
the points into chunks and runs them through any
:class:`concurrent.futures.Executor` (serial when none is given).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from .parallel import Shipped, executor_workers, in_process, run_chunks

__all__ = [
    "MEASURES",
    "Measure",
    "Response",
    "Oracle",
    "OracleBase",
    "OracleError",
    "QuadratureState",
    "evaluate",
    "input_shape",
]

log = logging.getLogger(__name__)

Measure = Literal["gradient", "strain", "deformation_gradient", "conserved", "velocity_gradient"]
MEASURES: tuple[str, ...] = (
    "gradient",
    "strain",
    "deformation_gradient",
    "conserved",
    "velocity_gradient",
)

State = dict[str, np.ndarray]


class OracleError(ValueError):
    """Bad input to an oracle, or a micro solve that failed at identified points."""


@dataclass(frozen=True)
class Response:
    """What an oracle returns for a batch of points.

    Attributes
    ----------
    flux : ndarray
        Flux or stress, shape given by the oracle's measure (see module docs).
    tangent : ndarray or None
        Consistent derivative of ``flux`` with respect to the input.
    state : dict of str to ndarray, or None
        Trial history, each array with the point axes last.
    info : dict of str to ndarray
        Per-point diagnostics with shape ``pts``: e.g. ``"iterations"``,
        ``"hill_mandel"``, ``"converged"`` (bool).
    """

    flux: np.ndarray
    tangent: np.ndarray | None = None
    state: State | None = None
    info: dict[str, np.ndarray] = field(default_factory=dict)

    def converged(self) -> np.ndarray | None:
        """Boolean mask of converged points, or None when the oracle does not report it."""
        return self.info.get("converged")


@runtime_checkable
class Oracle(Protocol):
    """Anything with ``measure``, ``dim`` and a batched ``evaluate``."""

    measure: str
    dim: int

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: State | None = None
    ) -> Response:
        """Flux and tangent at every point of the batch."""
        ...


def input_shape(measure: str, dim: int, ncons: int | None = None) -> tuple[int, ...]:
    """Tensor shape of one point's input for ``measure`` in dimension ``dim``."""
    if measure == "gradient":
        return (dim,)
    if measure in ("strain", "deformation_gradient", "velocity_gradient"):
        return (dim, dim)
    if measure == "conserved":
        if ncons is None:
            raise ValueError("measure 'conserved' needs the number of conserved quantities")
        return (ncons,)
    raise ValueError(f"unknown measure {measure!r}; expected one of {', '.join(MEASURES)}")


class OracleBase:
    """Shared checks for oracles: declared sizes and input validation.

    Subclasses set ``measure`` and ``dim`` and implement ``evaluate``; those with
    history override :meth:`initial_state`.
    """

    measure: str = "strain"
    dim: int = 3

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one point's input."""
        return input_shape(self.measure, self.dim, getattr(self, "ncons", None))

    def initial_state(self, pts: tuple[int, ...]) -> State | None:
        """History before any loading, arrays with point axes ``pts`` last (None: no history)."""
        return None

    def check_input(self, g: np.ndarray) -> tuple[int, ...]:
        """Check the tensor axes of ``g`` and return the point shape."""
        g = np.asarray(g)
        ishape = self.input_shape
        if g.shape[: len(ishape)] != ishape:
            raise OracleError(
                f"{type(self).__name__} (measure {self.measure!r}, dim {self.dim}) expects input "
                f"of shape {ishape + ('*pts',)}, got {g.shape}"
            )
        pts = g.shape[len(ishape) :]
        finite = np.all(np.isfinite(g), axis=tuple(range(len(ishape))))
        if not np.all(finite):
            first = np.unravel_index(int(np.argmin(finite)), pts) if pts else ()
            raise OracleError(
                f"{type(self).__name__}: non-finite {self.measure} at {int((~finite).sum())} "
                f"points, first at point index {tuple(int(i) for i in first)}"
            )
        return pts

    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: State | None = None
    ) -> Response:  # pragma: no cover - abstract
        """Flux and tangent at every point of the batch."""
        raise NotImplementedError


class QuadratureState:
    """History at quadrature points with trial / commit / rollback.

    Parameters
    ----------
    initial : dict of str to ndarray or None
        Initial history, arrays with point axes last (from ``oracle.initial_state``).

    The macro solver passes :attr:`committed` to the oracle, stores the returned
    trial state with :meth:`set_trial`, then calls :meth:`commit` after a
    converged step or :meth:`rollback` after a failed one.
    """

    def __init__(self, initial: State | None):
        self._committed: State | None = _copy_state(initial)
        self._trial: State | None = _copy_state(initial)

    @classmethod
    def for_oracle(cls, oracle: Any, pts: tuple[int, ...]) -> QuadratureState:
        """State for ``oracle`` at points of shape ``pts``."""
        init = oracle.initial_state(pts) if hasattr(oracle, "initial_state") else None
        return cls(init)

    @property
    def committed(self) -> State | None:
        """History of the last converged step (read only by convention)."""
        return self._committed

    @property
    def trial(self) -> State | None:
        """History of the current iterate."""
        return self._trial

    def set_trial(self, state: State | None) -> None:
        """Store the trial history returned by the oracle."""
        if state is None:
            return
        if self._committed is not None:
            missing = set(self._committed) - set(state)
            if missing:
                raise OracleError(f"trial state lacks fields {sorted(missing)}")
        self._trial = {k: np.array(v, copy=True) for k, v in state.items()}

    def commit(self) -> None:
        """Accept the trial history after a converged step."""
        self._committed = _copy_state(self._trial)

    def rollback(self) -> None:
        """Discard the trial history after a failed step."""
        self._trial = _copy_state(self._committed)

    def as_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Committed history as a flat dict (for checkpoints and output)."""
        return {prefix + k: v for k, v in (self._committed or {}).items()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "") -> QuadratureState:
        """Inverse of :meth:`as_arrays`."""
        st = {k[len(prefix) :]: np.asarray(v) for k, v in arrays.items() if k.startswith(prefix)}
        return cls(st or None)


def _copy_state(state: State | None) -> State | None:
    if state is None:
        return None
    return {k: np.array(v, copy=True) for k, v in state.items()}


# ---------------------------------------------------------------- batched evaluation


def _split_points(a: np.ndarray | None, nidx: int, npts: int) -> np.ndarray | None:
    """Reshape ``(*idx, *pts)`` to ``(*idx, npts)``."""
    if a is None:
        return None
    a = np.asarray(a)
    return a.reshape(a.shape[:nidx] + (npts,))


def _state_split(state: State | None, pts: tuple[int, ...]) -> State | None:
    if state is None:
        return None
    npts = int(np.prod(pts))
    out = {}
    for k, v in state.items():
        v = np.asarray(v)
        nidx = v.ndim - len(pts)
        if v.shape[nidx:] != pts:
            raise OracleError(f"state field {k!r} has shape {v.shape}, expected (..., *{pts})")
        out[k] = v.reshape(v.shape[:nidx] + (npts,))
    return out


def _take(state: State | None, sl: slice) -> State | None:
    if state is None:
        return None
    return {k: v[..., sl] for k, v in state.items()}


def _call(oracle: Any, g: np.ndarray, x: np.ndarray | None, state: State | None,
          dt: float | None) -> Response:
    """``oracle.evaluate``, with ``dt`` only when given (static oracles take none)."""
    if dt is None:
        return oracle.evaluate(g, x=x, state=state)
    return oracle.evaluate(g, x=x, state=state, dt=dt)


def _evaluate_chunk(
    oracle: Any, offset: int, npts: int, g: np.ndarray, x: np.ndarray | None,
    state: State | None, dt: float | None = None,
) -> Response:
    """Evaluate one chunk (in a worker); ``oracle`` may be a :class:`fe2.parallel.Shipped`."""
    if isinstance(oracle, Shipped):
        oracle = oracle.load()
    try:
        return _call(oracle, g, x, state, dt)
    except OracleError as err:
        stop = offset + g.shape[-1] - 1
        raise OracleError(
            f"{err} [chunk of flat points {offset}..{stop} of {npts}; point indices above "
            "count from the chunk start]"
        ) from None


def _concat(parts: list[np.ndarray | None]) -> np.ndarray | None:
    if parts[0] is None:
        return None
    return np.concatenate(parts, axis=-1)


def _reshape_pts(a: np.ndarray | None, pts: tuple[int, ...]) -> np.ndarray | None:
    if a is None:
        return None
    return a.reshape(a.shape[:-1] + pts)


def evaluate(
    oracle: Any,
    g: np.ndarray,
    x: np.ndarray | None = None,
    state: State | None = None,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    window: int | None = None,
    dt: float | None = None,
) -> Response:
    """Evaluate ``oracle`` at all points, optionally in chunks through an executor.

    Parameters
    ----------
    oracle : Oracle
        Any object following the oracle contract (picklable when the executor
        runs in other processes).
    g : ndarray
        Input ``(*idx, *pts)``; ``idx`` is ``oracle.input_shape``.
    x : ndarray, optional
        Physical coordinates ``(d, *pts)``.
    state : dict, optional
        Committed history, arrays ``(..., *pts)``.
    executor : concurrent.futures.Executor, optional
        Where to run the chunks: any executor (process pool, ``MPIPoolExecutor``,
        a dask client's executor, :func:`fe2.parallel.make_executor`); serial in
        this process when None.
    chunk_size : int, optional
        Points per chunk. Default: all points in one call when serial, else
        about eight chunks per worker (dynamic load balancing: a worker that
        finishes takes the next chunk).
    on_chunk : callable, optional
        Called as ``on_chunk(done, total)`` after each chunk (progress).
    window : int, optional
        Chunks in flight at once (default two per worker).
    dt : float, optional
        Macro time increment for oracles that evolve in time (measure
        ``velocity_gradient``); passed to ``oracle.evaluate`` only when given.

    Returns
    -------
    Response
        With arrays shaped like a single call on all points; chunks are
        reassembled in point order, so the result does not depend on the
        executor or on the order in which chunks finish.

    Notes
    -----
    In other processes the oracle is pickled once per call and unpickled once
    per worker process (:class:`fe2.parallel.Shipped`), so its caches (e.g.
    an RVE's micro mesh and factorization pattern) are built once per worker.
    A worker that dies has its chunks re-run (see :func:`fe2.parallel.run_chunks`);
    an :class:`OracleError` in a chunk propagates, naming the chunk's points.
    """
    g = np.asarray(g, dtype=float)
    ishape = tuple(oracle.input_shape) if hasattr(oracle, "input_shape") else g.shape[:2]
    nidx = len(ishape)
    if g.shape[:nidx] != ishape:
        raise OracleError(
            f"{type(oracle).__name__} expects input of shape {ishape + ('*pts',)}, got {g.shape}"
        )
    pts = g.shape[nidx:]
    npts = int(np.prod(pts)) if pts else 1
    if dt is not None and not (np.isfinite(dt) and dt >= 0):
        raise ValueError(f"evaluate: dt must be a finite time increment >= 0, got {dt!r}")
    if (executor is None and chunk_size is None) or npts == 0:
        return _call(oracle, g, x, state, dt)
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer)
        or chunk_size < 1
    ):
        raise ValueError(f"evaluate: chunk_size must be an integer >= 1, got {chunk_size!r}")
    gf = _split_points(g, nidx, npts)
    xf = _split_points(x, 1, npts)
    sf = _state_split(state, pts)
    if chunk_size is None:
        chunk_size = max(1, -(-npts // (8 * executor_workers(executor))))
    bounds = [slice(i, min(i + chunk_size, npts)) for i in range(0, npts, chunk_size)]
    chunks = [
        (sl.start, npts, gf[..., sl], None if xf is None else xf[..., sl], _take(sf, sl), dt)
        for sl in bounds
    ]
    shipped = oracle if in_process(executor) else Shipped(oracle)
    results = run_chunks(
        partial(_evaluate_chunk, shipped),
        chunks,
        executor,
        local=partial(_evaluate_chunk, oracle),
        window=window,
        on_done=on_chunk,
    )
    return _gather(results, pts)


def _gather(results: list[Any], pts: tuple[int, ...]) -> Response:
    flux = _reshape_pts(_concat([r.flux for r in results]), pts)
    tangent = _reshape_pts(_concat([r.tangent for r in results]), pts)
    state = None
    if results[0].state is not None:
        state = {
            k: _reshape_pts(_concat([r.state[k] for r in results]), pts)
            for k in results[0].state
        }
    info = {
        k: _reshape_pts(_concat([np.asarray(r.info[k]) for r in results]), pts)
        for k in results[0].info
    }
    return Response(flux=flux, tangent=tangent, state=state, info=info)
