"""Ensembles of stochastic simulations: the direct SSA and the nested SSA.

:func:`ssa` runs Gillespie's direct method (numba kernel, propensities compiled from
the stoichiometry arrays); :func:`nested_ssa` runs the nested SSA of E, Liu and
Vanden-Eijnden (J. Chem. Phys. 123, 194107, 2005): an outer SSA over the slow
reactions whose propensities are averaged over ``inner_runs`` replicas of the
fast-only SSA, each run for ``inner_time`` from the current state.

Runs are independent. Run ``k`` draws from its own generator, seeded with the ``k``-th
child of ``numpy.random.SeedSequence(seed)``, so an ensemble is the same whatever the
executor and the chunking. Chunks of runs go through :func:`fe2.parallel.run_chunks`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from fe2.io import Progress
from fe2.parallel import executor_workers, run_chunks

from .kernels import direct_run, inner_average, nested_run, pack
from .network import NetworkError, ReactionNetwork

__all__ = ["SSAResult", "ssa", "nested_ssa", "averaged_rates", "choose_fast", "choose_leap",
           "FAST_RATIO", "LEAP_MIN_COUNT", "LEAP_TOL"]

log = logging.getLogger(__name__)

#: default ratio of :func:`choose_fast`: a reaction is fast when its rate magnitude is at
#: least this fraction of the largest one
FAST_RATIO = 1e-3

#: default population threshold of :func:`choose_leap`: a fast reaction is leaped when
#: each of its reactants has at least this many molecules (and no other fast reaction
#: changes them)
LEAP_MIN_COUNT = 10_000

#: default bound on the expected relative change of a leap reactant per outer step
#: (the ``epsilon`` of Cao, Gillespie & Petzold's step selection)
LEAP_TOL = 0.01


@dataclass(frozen=True)
class SSAResult:
    """An ensemble of trajectories.

    Attributes
    ----------
    species : tuple of str
        Column names of the state arrays.
    final : ndarray, shape (runs, n_species), int64
        State at ``t_end`` of every run.
    t_end : float
    times : ndarray, shape (n_t,) or None
        Record times of ``paths``.
    paths : ndarray, shape (runs, n_t, n_species) or None
        State at each record time (right-continuous).
    events : ndarray, shape (runs,), int64
        Reactions fired per run (direct SSA: all; nested SSA: slow reactions of the
        outer SSA).
    inner_events : ndarray, shape (runs,), int64 or None
        Nested SSA: fast reactions fired by all inner replicas of each run.
    rejected : ndarray, shape (runs,), int64 or None
        Nested SSA: slow reactions drawn but not applied because the carried state
        lacked a reactant (should be rare; see :func:`nested_ssa`).
    leap_events : ndarray, shape (runs,), int64 or None
        Nested SSA: firings of the leaped reactions (tau-leaping in the outer loop).
    method : str
        ``"direct"`` or ``"nested"``.
    params : dict
        The arguments of the run (seed, runs, inner_runs, inner_time, fast flags).
    seconds : float
        Wall time of the ensemble.
    """

    species: tuple[str, ...]
    final: np.ndarray
    t_end: float
    times: np.ndarray | None = None
    paths: np.ndarray | None = None
    events: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    inner_events: np.ndarray | None = None
    rejected: np.ndarray | None = None
    leap_events: np.ndarray | None = None
    method: str = "direct"
    params: Mapping = field(default_factory=dict)
    seconds: float = float("nan")

    @property
    def runs(self) -> int:
        """Number of trajectories."""
        return int(self.final.shape[0])

    def column(self, name: str) -> np.ndarray:
        """Final counts of species ``name``, shape (runs,)."""
        if name not in self.species:
            raise NetworkError(f"unknown species {name!r}; known: {', '.join(self.species)}")
        return self.final[:, self.species.index(name)]

    def mean(self, name: str) -> float:
        """Ensemble mean of the final count of ``name``."""
        return float(self.column(name).mean())

    def var(self, name: str) -> float:
        """Ensemble variance (ddof=1) of the final count of ``name``."""
        return float(self.column(name).var(ddof=1))

    def stderr(self, name: str) -> float:
        """Standard error of :meth:`mean`."""
        return math.sqrt(self.var(name) / self.runs)

    @property
    def total_events(self) -> int:
        """Reactions simulated one by one (outer plus inner for the nested SSA).

        The leaped firings, drawn in bulk, are in ``leap_events``.
        """
        inner = 0 if self.inner_events is None else int(self.inner_events.sum())
        return int(self.events.sum()) + inner

    def summary(self) -> dict:
        """JSON-ready scalars: method, runs, t_end, per-species mean/var, event counts."""
        d = {"method": self.method, "runs": self.runs, "t_end": self.t_end,
             "seconds": self.seconds, "events": int(self.events.sum()),
             "inner_events": None if self.inner_events is None
             else int(self.inner_events.sum()),
             "rejected": None if self.rejected is None else int(self.rejected.sum()),
             "leap_events": None if self.leap_events is None
             else int(self.leap_events.sum()),
             "params": {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                        for k, v in self.params.items()},
             "mean": {s: float(m) for s, m in zip(self.species, self.final.mean(0),
                                                  strict=True)},
             "var": {s: float(v) for s, v in zip(self.species,
                                                 self.final.var(0, ddof=min(1, self.runs - 1)),
                                                 strict=True)}}
        return d


# ---------------------------------------------------------------- argument checks


def _check_common(network, x0, t_end, runs, record, where):
    if not isinstance(network, ReactionNetwork):
        raise NetworkError(f"{where}: network must be a ReactionNetwork, got "
                           f"{type(network).__name__}")
    x = network.x0(x0)
    if isinstance(t_end, bool) or not isinstance(t_end, int | float | np.number) \
            or not math.isfinite(t_end) or t_end <= 0:
        raise NetworkError(f"{where}: t_end must be a finite number > 0, got {t_end!r}")
    if isinstance(runs, bool) or not isinstance(runs, int | np.integer) or runs < 1:
        raise NetworkError(f"{where}: runs must be an integer >= 1, got {runs!r}")
    if record is None:
        times = np.zeros(0)
    elif isinstance(record, int | np.integer) and not isinstance(record, bool):
        if record < 2:
            raise NetworkError(f"{where}: record must be >= 2 points or an array of "
                               f"times, got {record!r}")
        times = np.linspace(0.0, float(t_end), int(record))
    else:
        times = np.asarray(record, dtype=float).ravel()
        if times.size == 0 or np.any(np.diff(times) <= 0) or times[0] < 0 \
                or times[-1] > t_end or not np.all(np.isfinite(times)):
            raise NetworkError(f"{where}: record times must be increasing, within "
                               f"[0, t_end={t_end}], got {record!r}")
    return x, float(t_end), int(runs), times


def _seeds(seed, runs: int) -> list[np.random.SeedSequence]:
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return ss.spawn(runs)


def _chunks(runs: int, executor: Executor | None, chunk: int | None) -> list[range]:
    if chunk is None:
        chunk = max(1, math.ceil(runs / (8 * executor_workers(executor))))
    elif isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1:
        raise NetworkError(f"chunk must be an integer >= 1 (runs per task), got {chunk!r}")
    return [range(i, min(i + chunk, runs)) for i in range(0, runs, chunk)]


# ---------------------------------------------------------------- chunk tasks


def _direct_chunk(arrays, x0, t_end, seeds, times, max_events):
    n_sp = x0.size
    final = np.empty((len(seeds), n_sp), dtype=np.int64)
    paths = np.empty((len(seeds), times.size, n_sp), dtype=np.int64)
    events = np.empty(len(seeds), dtype=np.int64)
    for k, s in enumerate(seeds):
        x = x0.copy()
        ev, t = direct_run(x, t_end, *arrays, np.random.default_rng(s), times, paths[k],
                           max_events)
        if t < t_end:
            raise RuntimeError(f"ssa: run stopped at t = {t:.6g} < t_end = {t_end:.6g} "
                               f"after max_events = {max_events} events")
        final[k] = x
        events[k] = ev
    return final, paths, events


def _nested_chunk(fast_pack, slow_pack, sdep, leap_pack, leap_tol, x0, t_end, seeds, times,
                  inner_runs, inner_time, max_events):
    n_sp = x0.size
    final = np.empty((len(seeds), n_sp), dtype=np.int64)
    paths = np.empty((len(seeds), times.size, n_sp), dtype=np.int64)
    counts = np.empty((4, len(seeds)), dtype=np.int64)  # outer, inner, rejected, leaped
    for k, s in enumerate(seeds):
        x = x0.copy()
        *c, t = nested_run(x, t_end, inner_runs, inner_time, fast_pack, slow_pack, sdep,
                           leap_pack, leap_tol, np.random.default_rng(s), times, paths[k],
                           max_events)
        if t < t_end:
            raise RuntimeError(f"nested_ssa: run stopped at t = {t:.6g} < t_end = "
                               f"{t_end:.6g} after max_events = {max_events} outer events")
        final[k], counts[:, k] = x, c
    return final, paths, *counts


def _ensemble(task, chunks, n_seeds_at, runs, executor, progress, desc):
    """Run the chunk tasks with a progress bar.

    Returns ``(seconds, final, paths or None, counters)``, the counters (each shape
    (runs,)) in the order the task returns them.
    """
    import time

    t0 = time.perf_counter()
    with Progress(total=runs, desc=desc, unit="run",
                  enabled=runs > 1000 if progress is None else progress) as bar:
        parts = run_chunks(task, chunks, executor,
                           on_done=lambda done, n: bar.advance(
                               len(chunks[done - 1][n_seeds_at])))
    seconds = time.perf_counter() - t0
    cols = [np.concatenate(c) for c in zip(*parts, strict=True)]
    paths = cols[1] if cols[1].shape[1] else None
    return seconds, cols[0], paths, cols[2:]


# ---------------------------------------------------------------- public API


def ssa(network: ReactionNetwork, x0=None, t_end: float = 1.0, runs: int = 1,
        seed=None, executor: Executor | None = None, record=None, *,
        chunk: int | None = None, max_events: int = 0,
        progress: bool | None = None) -> SSAResult:
    """Gillespie's direct method: ``runs`` independent trajectories from ``x0`` to ``t_end``.

    Parameters
    ----------
    network : ReactionNetwork
        The reactions (all of them are simulated).
    x0 : dict, sequence or None
        Initial counts (see :meth:`ReactionNetwork.x0`; None: the network's ``initial``).
    t_end : float
        Final time (units of 1 / rate constant).
    runs : int
        Number of trajectories.
    seed : int, SeedSequence or None
        Root of the per-run streams (run ``k``: ``SeedSequence(seed).spawn(runs)[k]``).
    executor : Executor, optional
        Any executor (:func:`fe2.parallel.make_executor`); None runs here.
    record : int or array, optional
        Record the state at ``record`` equally spaced times in [0, t_end], or at the
        given increasing times; the result then has ``times`` and ``paths``.
    chunk : int, optional
        Runs per task (default: about eight tasks per worker). Results do not depend on it.
    max_events : int
        Safety limit of events per run (0: none); a run that reaches it raises.
    progress : bool, optional
        Progress bar / lines (:class:`fe2.io.Progress`); default: on for ensembles of
        more than 1000 runs.

    Returns
    -------
    SSAResult
    """
    x, t_end, runs, times = _check_common(network, x0, t_end, runs, record, "ssa")
    arrays = pack(network)
    seeds = _seeds(seed, runs)
    chunks = [(arrays, x, t_end, [seeds[i] for i in r], times, int(max_events))
              for r in _chunks(runs, executor, chunk)]
    seconds, final, paths, (events,) = _ensemble(_direct_chunk, chunks, 3, runs, executor,
                                                 progress, "ssa")
    return SSAResult(network.species, final, t_end, times if times.size else None, paths,
                     events, method="direct",
                     params={"seed": _seed_repr(seed), "runs": runs, "x0": x.tolist()},
                     seconds=seconds)


def _seed_repr(seed):
    if isinstance(seed, np.random.SeedSequence):
        return str(seed.entropy)
    return seed if seed is None or isinstance(seed, int) else str(seed)


def choose_fast(network: ReactionNetwork, x0=None, ratio: float = FAST_RATIO) -> np.ndarray:
    """Fast reactions by rate magnitude: flags of shape (n_reactions,).

    The magnitude of reaction ``i`` is its propensity at ``x0`` with every reactant count
    raised to at least its coefficient, ``m_i = c_i prod_j binom(max(x_j, nu_ij), nu_ij)``
    (so a reaction whose reactant is absent at ``x0`` still has a scale). Reaction ``i`` is
    fast when ``m_i >= ratio * max_k m_k``.
    """
    if not (isinstance(ratio, int | float) and 0 < ratio < 1):
        raise NetworkError(f"choose_fast: ratio must be in (0, 1), got {ratio!r}")
    x = network.x0(x0).astype(float)
    idx, order = network.reactant_arrays()
    xs = np.broadcast_to(x, (network.n_reactions, x.size)).copy()
    for i in range(network.n_reactions):
        for j, n in zip(idx[i], order[i], strict=True):
            if j >= 0:
                xs[i, j] = max(xs[i, j], n)
    m = np.array([network.propensities(xs[i])[i] for i in range(network.n_reactions)])
    return m >= ratio * m.max()


def _fast_flags(network, x0, fast):
    if fast is None:
        flags = network.fast
    elif isinstance(fast, str):
        if fast != "auto":
            raise NetworkError(f"nested_ssa: fast must be None, 'auto', a ratio in (0, 1) "
                               f"or {network.n_reactions} flags, got {fast!r}")
        flags = choose_fast(network, x0)
    elif isinstance(fast, float):
        flags = choose_fast(network, x0, fast)
    else:
        flags = np.asarray(fast, dtype=bool).ravel()
        if flags.size != network.n_reactions:
            raise NetworkError(f"nested_ssa: fast must have {network.n_reactions} flags "
                               f"(one per reaction), got {flags.size}")
    if not flags.any():
        raise NetworkError("nested_ssa: no fast reaction (set Reaction.fast, or pass "
                           "fast='auto' or flags)")
    if flags.all():
        raise NetworkError("nested_ssa: every reaction is fast; at least one must be slow")
    return flags


def choose_leap(network: ReactionNetwork, x0=None, fast=None,
                min_count: int = LEAP_MIN_COUNT) -> np.ndarray:
    """Fast reactions whose speed comes from a large population: flags (n_reactions,).

    A reaction flagged fast in ``fast`` (default: the network's flags) is leaped when

    * it has reactants and each has at least ``min_count`` molecules at ``x0``, and
    * no other fast reaction changes any of its reactants.

    Such a reaction has a large propensity because its reactant population is large,
    not because of a fast per-molecule rate inside a fast equilibrium: it does not relax
    to a quasi-equilibrium in the inner SSA (e.g. the irreversible ``Protein ->
    Unfolded`` of the heat-shock model, per-molecule rate 0.2 on 5e6 molecules), so
    :func:`nested_ssa` advances it by tau-leaping over each outer step instead, where
    its relative change per step is small (bounded by ``leap_tol``).
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int | float | np.number) \
            or not min_count >= 1:
        raise NetworkError(f"choose_leap: min_count must be a number >= 1, got {min_count!r}")
    x = network.x0(x0)
    flags = network.fast if fast is None else np.asarray(fast, dtype=bool).ravel()
    idx, _ = network.reactant_arrays()
    nu = network.stoichiometry
    leap = np.zeros(network.n_reactions, dtype=bool)
    for i in np.flatnonzero(flags):
        reac = idx[i][idx[i] >= 0]
        if reac.size == 0 or np.any(x[reac] < min_count):
            continue
        others = flags.copy()
        others[i] = False
        leap[i] = not np.any(nu[others][:, reac] != 0)
    return leap


def _leap_flags(network, x0, fast_flags, leap):
    if leap is None:
        return np.zeros(network.n_reactions, dtype=bool)
    if isinstance(leap, str):
        if leap != "auto":
            raise NetworkError(f"nested_ssa: leap must be None, 'auto', a population "
                               f"threshold or {network.n_reactions} flags, got {leap!r}")
        return choose_leap(network, x0, fast_flags)
    if isinstance(leap, int | float | np.number) and not isinstance(leap, bool):
        return choose_leap(network, x0, fast_flags, leap)
    flags = np.asarray(leap, dtype=bool).ravel()
    if flags.size != network.n_reactions:
        raise NetworkError(f"nested_ssa: leap must have {network.n_reactions} flags "
                           f"(one per reaction), got {flags.size}")
    return flags


def _leap_pack(network, leap):
    """Kernel arrays of the leap reactions (:func:`fe2.kinetics.kernels.nested_run`)."""
    rates, ridx, rord, cidx, cval, _ = pack(network, leap)
    nu = network.stoichiometry[leap]
    hidx = np.unique(ridx[ridx >= 0]).astype(np.int64)
    hnu = np.ascontiguousarray(nu[:, hidx].T, dtype=float)
    # first order and consuming its reactant: binomial firings (kernels._leap)
    lbin = np.array([ridx[q, 0] >= 0 and rord[q, 0] == 1
                     and (ridx.shape[1] == 1 or ridx[q, 1] < 0)
                     and nu[q, ridx[q, 0]] == -1 for q in range(rates.size)], dtype=np.bool_)
    return rates, ridx, rord, cidx, cval, hidx, hnu.reshape(hidx.size, rates.size), lbin


def _split(network, flags, leap=None):
    """Kernel arrays of the fast and slow reactions (leap ones, if given, in neither)."""
    slow = ~flags if leap is None else ~flags & ~leap
    if leap is not None:
        flags = flags & ~leap
    fast_pack = pack(network, flags)
    slow_pack = pack(network, slow)
    # slow reactions whose propensity involves a species changed by a fast reaction
    changed_by_fast = (network.stoichiometry[flags] != 0).any(axis=0)
    sdep = np.array([any(changed_by_fast[j] for j in row if j >= 0) for row in slow_pack[1]],
                    dtype=np.bool_)
    return fast_pack, slow_pack, sdep


def averaged_rates(network: ReactionNetwork, x, inner_runs: int, inner_time: float,
                   seed=None, fast=None) -> tuple[np.ndarray, np.ndarray, int]:
    """The estimator of the nested SSA alone: averaged slow propensities at state ``x``.

    ``abar_j = (1/N) sum_k (1/T_f) int_0^T_f a_j(z_k(s)) ds`` over ``N = inner_runs``
    replicas ``z_k`` of the fast-only SSA started at ``x`` (see :func:`nested_ssa`).

    Returns
    -------
    abar : ndarray, shape (n_slow,)
        Averaged propensities of the slow reactions (per unit time).
    slow : ndarray, shape (n_slow,), int
        Indices of the slow reactions in ``network.reactions``.
    events : int
        Fast events simulated.
    """
    x = network.x0(x)
    flags = _fast_flags(network, x, fast)
    fast_pack, slow_pack, sdep = _split(network, flags)
    acc = np.empty(int((~flags).sum()))
    rng = np.random.default_rng(seed)
    events = inner_average(x, int(inner_runs), float(inner_time), fast_pack, slow_pack,
                           sdep, rng, acc)
    return acc, np.flatnonzero(~flags), int(events)


def nested_ssa(network: ReactionNetwork, x0=None, t_end: float = 1.0, runs: int = 1,
               seed=None, inner_runs: int = 1, inner_time: float = 1e-3, fast=None,
               executor: Executor | None = None, record=None, *, chunk: int | None = None,
               max_events: int = 0, progress: bool | None = None, leap="auto",
               leap_tol: float = LEAP_TOL) -> SSAResult:
    """The nested SSA (E, Liu & Vanden-Eijnden 2005): ``runs`` trajectories to ``t_end``.

    Each outer step: run ``inner_runs`` independent replicas of the SSA of the fast
    reactions alone for ``inner_time`` from the current state ``x``; average each slow
    propensity over time and replicas, ``abar_j = (1/N) sum_k (1/T_f) int_0^T_f
    a_j(z_k(s)) ds``; draw the next slow reaction and its time with the rates ``abar``
    (one step of the direct method); the new state is the end state of the first replica
    plus the slow reaction's change. Fast reactions leave the slow variables (their
    invariants) unchanged, so the slow variables follow the averaged slow dynamics with
    error about ``1/(1 + T_f/eps) + 1/sqrt(N (1 + T_f/eps))`` (``eps``: relaxation time
    of the fast process).

    Hybrid outer loop: reactions that are fast only because their reactant populations
    are large (``leap``, by default :func:`choose_leap`) do not relax in the inner SSA;
    over each outer step of length ``h`` they fire ``Poisson(a_l(x) h)`` times
    (tau-leaping with the propensity at the start of the step; a first-order reaction
    ``c x`` fires ``Binomial(x, 1 - exp(-c h))`` times, exact while nothing else changes
    ``x``), the step being cut so that the expected relative change of each of their
    reactants is at most ``leap_tol`` (Cao, Gillespie & Petzold's bound).

    Parameters
    ----------
    network, x0, t_end, runs, seed, executor, record, chunk, progress
        As in :func:`ssa`.
    inner_runs : int
        Replicas ``N`` of the inner SSA per outer step (>= 1).
    inner_time : float
        Length ``T_f`` of each inner run (> 0, same time unit as ``t_end``).
    fast : None, "auto", float or sequence of bool
        Fast reactions: None, the networks' ``fast`` flags; ``"auto"`` or a ratio,
        :func:`choose_fast` (magnitude >= ratio x the largest, default ratio
        :data:`FAST_RATIO`); or one flag per reaction.
    max_events : int
        Safety limit of outer events per run (0: none).
    leap : "auto", None, number or sequence of bool
        Reactions advanced by tau-leaping in the outer loop (removed from the fast and
        slow sets): ``"auto"``, :func:`choose_leap` with ``min_count =``
        :data:`LEAP_MIN_COUNT`; a number, the same with that ``min_count``; None, none;
        or one flag per reaction.
    leap_tol : float
        Bound on the expected relative change of a leap reactant per outer step (> 0).

    Returns
    -------
    SSAResult
        ``events``: outer (slow) events, ``inner_events``: fast events of the replicas,
        ``rejected``: slow events drawn while the carried state lacked a reactant,
        ``leap_events``: firings of the leaped reactions.
    """
    x, t_end, runs, times = _check_common(network, x0, t_end, runs, record, "nested_ssa")
    if isinstance(inner_runs, bool) or not isinstance(inner_runs, int | np.integer) \
            or inner_runs < 1:
        raise NetworkError(f"nested_ssa: inner_runs must be an integer >= 1, got "
                           f"{inner_runs!r}")
    if isinstance(inner_time, bool) or not isinstance(inner_time, int | float | np.number) \
            or not math.isfinite(inner_time) or inner_time <= 0:
        raise NetworkError(f"nested_ssa: inner_time must be a finite number > 0, got "
                           f"{inner_time!r}")
    if isinstance(leap_tol, bool) or not isinstance(leap_tol, int | float | np.number) \
            or not 0 < leap_tol < 1:
        raise NetworkError(f"nested_ssa: leap_tol must be in (0, 1), got {leap_tol!r}")
    flags = _fast_flags(network, x, fast)
    leap_flags = _leap_flags(network, x, flags, leap)
    if not (flags & ~leap_flags).any():
        raise NetworkError("nested_ssa: every fast reaction is leaped; at least one must "
                           "relax in the inner SSA (pass leap=None or fewer leap flags)")
    fast_pack, slow_pack, sdep = _split(network, flags, leap_flags)
    leap_pack = _leap_pack(network, leap_flags)
    if leap_flags.any():
        log.info("nested_ssa: leaping %s", "; ".join(
            str(network.reactions[i]) for i in np.flatnonzero(leap_flags)))
    seeds = _seeds(seed, runs)
    chunks = [(fast_pack, slow_pack, sdep, leap_pack, float(leap_tol), x, t_end,
               [seeds[i] for i in r], times, int(inner_runs), float(inner_time),
               int(max_events))
              for r in _chunks(runs, executor, chunk)]
    seconds, final, paths, (outer, inner, rejected, leaped) = _ensemble(
        _nested_chunk, chunks, 7, runs, executor, progress, "nested_ssa")
    if rejected.sum():
        # a warning when more than 0.1 % of the slow events could not be applied
        level = logging.WARNING if rejected.sum() > 1e-3 * max(outer.sum(), 1) else logging.INFO
        log.log(level, "nested_ssa: %d of %d slow events rejected (state lacked a reactant)",
                int(rejected.sum()), int(outer.sum()))
    return SSAResult(network.species, final, t_end, times if times.size else None, paths,
                     outer, inner, rejected, leaped, method="nested",
                     params={"seed": _seed_repr(seed), "runs": runs, "x0": x.tolist(),
                             "inner_runs": int(inner_runs), "inner_time": float(inner_time),
                             "fast": flags.tolist(), "leap": leap_flags.tolist(),
                             "leap_tol": float(leap_tol)},
                     seconds=seconds)

