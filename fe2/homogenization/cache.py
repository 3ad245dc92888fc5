"""An explicit evaluation cache: skip points whose input and history did not change.

:class:`EvaluationCache` wraps any oracle (typically an :class:`~fe2.homogenization.RVE`
with nonlinear phases) and remembers, for every point of the last batch, the
input, the coordinates, the committed state it was given and the answer. At
the next call it hands the wrapped oracle only the points where any of these
changed and copies the remembered answer at the others. With ``rtol = 0``
(the default) "unchanged" means bitwise equal, so a hit returns exactly what
the oracle returned for the same question; the committed state is always
compared exactly.

There is one slot per point position ("since the last evaluation"): the
cache is meant for a macro solver asking about the same quadrature points
again and again. When the point shape changes the cache starts afresh.

Where hits come from: re-evaluating an unchanged configuration (a Newton
attempt restarted from the iterate the failed one started from, output and
post-processing, a repeated solve, parameter sweeps that revisit inputs)
and points whose input does not change (unloaded or clamped parts). Inside
a converging macro Newton iteration every iterate moves every point, so
the hit rate there is near zero with exact equality. ``rtol > 0`` answers
nearby inputs with a stale answer: inside a Newton loop that stalls the
iteration (the residual stops following the update; measured: cut-backs
and a different load path), so keep it for repeated queries outside such
loops. Exact equality is the default because it never changes an answer.

The cache lives where it is called: it is not shipped to executor workers.
A macro :class:`~fe2.macro.Problem` calls :meth:`EvaluationCache.evaluate_batch`,
which sends only the misses through :func:`fe2.oracle.evaluate` with the
problem's executor.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from fe2.oracle import Response
from fe2.oracle import evaluate as batch_evaluate

__all__ = ["EvaluationCache", "CacheStats"]

State = dict[str, np.ndarray]


@dataclass
class CacheStats:
    """Counters of an :class:`EvaluationCache` since construction (or :meth:`reset`).

    Attributes
    ----------
    calls : int
        Batches evaluated.
    hits, misses : int
        Points answered from the cache / by the wrapped oracle.
    last_hits, last_misses : int
        The same for the last batch.
    """

    calls: int = 0
    hits: int = 0
    misses: int = 0
    last_hits: int = 0
    last_misses: int = 0

    @property
    def hit_rate(self) -> float:
        """``hits / (hits + misses)`` (0 before any call)."""
        n = self.hits + self.misses
        return self.hits / n if n else 0.0

    @property
    def last_hit_rate(self) -> float:
        """Hit rate of the last batch (0 before any call)."""
        n = self.last_hits + self.last_misses
        return self.last_hits / n if n else 0.0

    def reset(self) -> None:
        """Zero all counters."""
        self.calls = self.hits = self.misses = self.last_hits = self.last_misses = 0

    def to_dict(self) -> dict[str, float]:
        """Counters and rates as a plain dict (for ``summary.json``)."""
        return {"calls": self.calls, "hits": self.hits, "misses": self.misses,
                "hit_rate": self.hit_rate, "last_hit_rate": self.last_hit_rate}


class EvaluationCache:
    """Oracle wrapper answering unchanged points from the last evaluation.

    Parameters
    ----------
    oracle : Oracle
        The wrapped oracle; its ``measure``, ``dim``, ``input_shape``,
        ``initial_state`` and ``needs_coordinates`` are passed through.
    rtol : float
        A point is a hit when ``max|g - g_last| <= rtol * max|g_last|`` over
        its tensor components (``rtol = 0``: bitwise equal input), its
        coordinates are equal and every field of its committed state is
        bitwise equal to the one of the last evaluation. Not for use with
        ``rtol > 0`` inside Newton iterations (see the module notes).

    Attributes
    ----------
    stats : CacheStats
        Hit and miss counters.

    Notes
    -----
    ``evaluate(g, x=None, state=None)`` returns the wrapped oracle's
    :class:`~fe2.oracle.Response` with one more ``info`` field,
    ``"cache_hit"`` (bool, shape ``pts``). The remembered arrays (input,
    committed state, answer) take about twice the memory of one response
    plus one state. Pickling drops them (a copy sent to a worker starts
    empty).

    Examples
    --------
    >>> import numpy as np
    >>> from fe2.materials import LinearElastic
    >>> cache = EvaluationCache(LinearElastic(1.0, 0.3, plane="strain"))
    >>> e = np.zeros((2, 2, 5)); e[0, 0] = 0.01
    >>> a = cache.evaluate(e); b = cache.evaluate(e)
    >>> cache.stats.last_hit_rate, bool(np.array_equal(a.flux, b.flux))
    (1.0, True)
    """

    def __init__(self, oracle: Any, rtol: float = 0.0):
        if not hasattr(oracle, "evaluate") or not hasattr(oracle, "measure"):
            raise ValueError(f"EvaluationCache: {oracle!r} is not an oracle (no evaluate/measure)")
        if isinstance(rtol, bool) or not isinstance(rtol, int | float) or not 0 <= rtol < 1:
            raise ValueError(f"EvaluationCache: rtol must be a number in [0, 1), got {rtol!r}")
        self.oracle = oracle
        self.rtol = float(rtol)
        self.stats = CacheStats()
        self._last: dict[str, Any] | None = None

    # ---------------------------------------------------------------- pass-through
    @property
    def measure(self) -> str:
        """Measure of the wrapped oracle."""
        return self.oracle.measure

    @property
    def dim(self) -> int:
        """Dimension of the wrapped oracle."""
        return self.oracle.dim

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Tensor shape of one point's input."""
        from fe2.oracle import input_shape

        shape = getattr(self.oracle, "input_shape", None)
        if shape is not None:
            return tuple(shape)
        return input_shape(self.measure, self.dim, getattr(self.oracle, "ncons", None))

    @property
    def needs_coordinates(self) -> bool:
        """Whether the wrapped oracle wants the point coordinates."""
        return bool(getattr(self.oracle, "needs_coordinates", False))

    def initial_state(self, pts: tuple[int, ...]) -> State | None:
        """History before loading of the wrapped oracle (None: no history)."""
        init = getattr(self.oracle, "initial_state", None)
        return None if init is None else init(pts)

    def clear(self) -> None:
        """Forget the remembered evaluation (counters stay)."""
        self._last = None

    def __repr__(self) -> str:
        return f"EvaluationCache({self.oracle!r}, rtol={self.rtol})"

    def __getstate__(self) -> dict:
        st = self.__dict__.copy()
        st["_last"] = None
        return st

    # ---------------------------------------------------------------- evaluation
    def evaluate(
        self, g: np.ndarray, x: np.ndarray | None = None, state: State | None = None
    ) -> Response:
        """Answer at inputs ``g (*idx, *pts)``; the wrapped oracle sees only the misses."""
        return self.evaluate_batch(g, x=x, state=state)

    def evaluate_batch(
        self,
        g: np.ndarray,
        x: np.ndarray | None = None,
        state: State | None = None,
        executor: Executor | None = None,
        chunk_size: int | None = None,
    ) -> Response:
        """As :meth:`evaluate`, the misses through :func:`fe2.oracle.evaluate` on ``executor``.

        Parameters
        ----------
        g : ndarray
            Inputs ``(*idx, *pts)``.
        x : ndarray, optional
            Coordinates ``(d, *pts)``.
        state : dict, optional
            Committed history, arrays ``(..., *pts)``.
        executor, chunk_size
            Passed to :func:`fe2.oracle.evaluate` for the missed points.
        """
        g = np.asarray(g, dtype=float)
        nidx = len(self.input_shape)
        pts = g.shape[nidx:]
        hit = self._hits(g, x, state, pts)
        miss = ~hit
        nmiss = int(miss.sum())
        if nmiss == 0:
            resp = None
        elif nmiss == miss.size:
            resp = batch_evaluate(self.oracle, g, x=x, state=state, executor=executor,
                                  chunk_size=chunk_size)
        else:
            resp = batch_evaluate(
                self.oracle,
                g[..., miss],
                x=None if x is None else np.asarray(x)[..., miss],
                state=None if state is None else {k: np.asarray(v)[..., miss]
                                                  for k, v in state.items()},
                executor=executor,
                chunk_size=chunk_size,
            )
        out = self._merge(resp, miss, pts)
        self._last = {
            "pts": pts,
            "g": g.copy(),
            "x": None if x is None else np.array(x, dtype=float),
            "state": None if state is None else {k: np.array(v) for k, v in state.items()},
            "flux": out.flux.copy(),
            "tangent": None if out.tangent is None else out.tangent.copy(),
            "trial": None if out.state is None else {k: v.copy() for k, v in out.state.items()},
            "info": {k: np.array(v) for k, v in out.info.items() if k != "cache_hit"},
        }
        nhit = miss.size - nmiss
        self.stats.calls += 1
        self.stats.hits += nhit
        self.stats.misses += nmiss
        self.stats.last_hits, self.stats.last_misses = nhit, nmiss
        return out

    def _hits(self, g: np.ndarray, x: Any, state: Mapping | None, pts: tuple) -> np.ndarray:
        """Boolean ``pts`` mask of points whose question equals the remembered one."""
        last = self._last
        if last is None or last["pts"] != pts or (state is None) != (last["state"] is None):
            return np.zeros(pts, dtype=bool)
        if (x is None) != (last["x"] is None):
            return np.zeros(pts, dtype=bool)
        axes = tuple(range(g.ndim - len(pts)))
        gl = last["g"]
        if self.rtol == 0.0:
            hit = np.all(g == gl, axis=axes)
        else:
            hit = np.max(np.abs(g - gl), axis=axes) <= self.rtol * np.max(np.abs(gl), axis=axes)
        if x is not None:
            x = np.asarray(x, dtype=float)
            if x.shape != last["x"].shape:
                return np.zeros(pts, dtype=bool)
            hit &= np.all(x == last["x"], axis=tuple(range(x.ndim - len(pts))))
        if state is not None:
            if set(state) != set(last["state"]):
                return np.zeros(pts, dtype=bool)
            for k, v in state.items():
                v, vl = np.asarray(v), last["state"][k]
                if v.shape != vl.shape:
                    return np.zeros(pts, dtype=bool)
                hit &= np.all(v == vl, axis=tuple(range(v.ndim - len(pts))))
        return hit

    def _merge(self, resp: Response | None, miss: np.ndarray, pts: tuple) -> Response:
        """Remembered answers at the hits, ``resp`` (answers at the misses) elsewhere."""
        last = self._last
        if resp is not None and miss.all():
            info = dict(resp.info)
            info["cache_hit"] = np.zeros(pts, dtype=bool)
            return Response(flux=resp.flux, tangent=resp.tangent, state=resp.state, info=info)

        def put(old: np.ndarray | None, new: np.ndarray | None) -> np.ndarray | None:
            if old is None:
                return None
            out = np.array(old, copy=True)
            if new is not None:
                out[..., miss] = new
            return out

        flux = put(last["flux"], None if resp is None else resp.flux)
        tangent = put(last["tangent"], None if resp is None else resp.tangent)
        trial = None
        if last["trial"] is not None:
            trial = {k: put(v, None if resp is None or resp.state is None else resp.state[k])
                     for k, v in last["trial"].items()}
        info = {}
        for k, v in last["info"].items():
            new = None if resp is None else resp.info.get(k)
            info[k] = put(v, None if new is None else np.asarray(new))
        info["cache_hit"] = ~miss
        return Response(flux=flux, tangent=tangent, state=trial, info=info)
