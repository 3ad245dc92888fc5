"""Executors for batched evaluation: chunked dispatch, load balancing, lost workers.

Micro solves at different points are independent, so :func:`fe2.oracle.evaluate`
cuts a batch into chunks and runs them through any
:class:`concurrent.futures.Executor`. This module holds the machinery:

* :func:`make_executor` builds an executor that fe2 *owns* (and may restart):
  ``"serial"`` (in this process), ``"thread"``, ``"process"`` (a local
  :class:`~concurrent.futures.ProcessPoolExecutor`), ``"mpi"``
  (:class:`mpi4py.futures.MPIPoolExecutor`) or ``"dask"`` (a
  ``dask.distributed`` ``LocalCluster``, or a running scheduler, through
  ``Client.get_executor()``). Close it with ``shutdown()`` or a ``with`` block.
* :func:`run_chunks` submits many small chunks with a bounded number in flight
  (about two per worker): a worker that finishes takes the next chunk, so
  points that take longer never stall a queue of work assigned in advance.
  Results come back in chunk order, whatever the completion order, so the
  answer is bitwise the same for every executor.
* A chunk whose worker died (:class:`~concurrent.futures.BrokenExecutor`, e.g.
  ``BrokenProcessPool``; dask's ``KilledWorker``; :class:`WorkerLostError`) is
  run again: on a restarted pool when fe2 owns the executor, otherwise in this
  process (with a warning). Any other exception raised in a chunk, e.g.
  :class:`fe2.oracle.OracleError`, propagates unchanged and is never retried.
* Worker processes of ``"process"`` and ``"mpi"`` run a single-threaded BLAS by
  default (``blas_threads=1``, as dask's workers do), so that ``n`` workers on
  ``n`` cores do not oversubscribe them.

MPI needs the ``mpiexec`` of the MPI library mpi4py was built for. With the
``mpich`` wheel (``pip install "fe2[parallel]"``) it sits next to the Python
executable; :func:`make_executor` puts that folder on ``PATH`` so that
``MPIPoolExecutor`` can spawn workers from a plain ``python`` process. Under
``mpiexec -n N python -m mpi4py.futures script.py`` the pool is the other
``N - 1`` ranks instead.

Examples
--------
>>> from fe2.parallel import make_executor, run_chunks
>>> with make_executor("serial") as ex:
...     run_chunks(pow, [(2, 3), (3, 2)], ex)
[8, 9]
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import shutil
import sys
import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    BrokenExecutor,
    Executor,
    Future,
    ThreadPoolExecutor,
    wait,
)
from pathlib import Path
from typing import Any

__all__ = [
    "EXECUTOR_KINDS",
    "ManagedExecutor",
    "SerialExecutor",
    "Shipped",
    "WorkerLostError",
    "executor_workers",
    "in_process",
    "is_worker_loss",
    "make_executor",
    "mpiexec_path",
    "run_chunks",
]

log = logging.getLogger(__name__)

EXECUTOR_KINDS: tuple[str, ...] = ("serial", "thread", "process", "mpi", "dask")

# exception class names (anywhere in the MRO) that mean "the worker is gone", from
# libraries fe2 does not import at module level
_LOSS_NAMES = frozenset({"KilledWorker", "WorkerLostError"})


class WorkerLostError(RuntimeError):
    """A worker process (or its host) was lost while it ran a chunk.

    Raise it from an executor adapter to have the chunk re-run elsewhere;
    :func:`run_chunks` raises it itself when a chunk keeps losing its worker.
    """


def is_worker_loss(err: BaseException) -> bool:
    """True when ``err`` says a worker died rather than that the task failed.

    Recognised: :class:`concurrent.futures.BrokenExecutor` and subclasses
    (``BrokenProcessPool``, ``BrokenThreadPool``, mpi4py's broken pool),
    :class:`WorkerLostError`, and dask's ``KilledWorker``.
    """
    if isinstance(err, BrokenExecutor | WorkerLostError):
        return True
    return any(c.__name__ in _LOSS_NAMES for c in type(err).__mro__)


# ---------------------------------------------------------------- executors


class SerialExecutor(Executor):
    """Runs each task at ``submit``, in this process (the reference executor)."""

    max_workers = 1

    def __init__(self):
        self._shutdown = False

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        """Run ``fn(*args, **kwargs)`` now and return its finished future."""
        if self._shutdown:
            raise RuntimeError("cannot submit to a SerialExecutor after shutdown")
        fut: Future = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - delivered through the future
            fut.set_exception(err)
        return fut

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse further tasks."""
        self._shutdown = True


class ManagedExecutor(Executor):
    """An executor that fe2 created and owns: it can restart it and must close it.

    Made by :func:`make_executor`; forwards ``submit`` to the executor built by
    ``factory`` and releases everything (pool, cluster, client) at
    :meth:`shutdown`.

    Parameters
    ----------
    kind : str
        One of :data:`EXECUTOR_KINDS` (for messages).
    workers : int
        Number of workers.
    factory : callable
        ``factory() -> (executor, close)``; ``close()`` frees what the executor
        needs besides itself (a dask cluster), or is None.
    restartable : bool
        Whether :meth:`restart` may build a new executor after a worker died.
    """

    def __init__(
        self,
        kind: str,
        workers: int,
        factory: Callable[[], tuple[Executor, Callable[[], None] | None]],
        restartable: bool = True,
    ):
        self.kind = kind
        self.workers = int(workers)
        self.restartable = restartable
        self.restarts = 0
        self._factory = factory
        self._lock = threading.Lock()
        self._closed = False
        self._inner, self._close = factory()

    @property
    def max_workers(self) -> int:
        """Number of workers (used to size chunks and the in-flight window)."""
        return self.workers

    @property
    def inner(self) -> Executor:
        """The executor that runs the tasks now."""
        return self._inner

    def __repr__(self) -> str:
        return f"ManagedExecutor(kind={self.kind!r}, workers={self.workers})"

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        """Forward to the current executor."""
        if self._closed:
            raise RuntimeError(f"{self!r} is shut down")
        return self._inner.submit(fn, *args, **kwargs)

    def restart(self) -> None:
        """Replace a broken executor by a new one of the same kind and size."""
        if not self.restartable:
            raise RuntimeError(f"{self!r} cannot be restarted")
        with self._lock:
            old, close = self._inner, self._close
            self._release(old, close, wait=False)
            self._inner, self._close = self._factory()
            self.restarts += 1
        log.warning("%r: restarted after a lost worker (restart %d)", self, self.restarts)

    @staticmethod
    def _release(ex: Executor, close: Callable[[], None] | None, wait: bool) -> None:
        try:
            try:
                ex.shutdown(wait=wait, cancel_futures=not wait)
            except TypeError:  # dask's ClientExecutor.shutdown(wait) only
                ex.shutdown(wait=wait)
        except Exception as err:  # noqa: BLE001 - a broken pool may fail to close
            log.debug("closing %r: %s", ex, err)
        if close is not None:
            close()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut down the executor and free its cluster; safe to call twice."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._release(self._inner, self._close, wait=wait and not cancel_futures)

    close = shutdown


def mpiexec_path() -> str | None:
    """The ``mpiexec`` to use: next to the Python executable (mpich wheel), else on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    return shutil.which("mpiexec")


def _check_workers(kind: str, workers: Any) -> int:
    if workers is None:
        return 1 if kind == "serial" else max(1, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"make_executor: workers must be an integer >= 1, got {workers!r}")
    return int(workers)


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _thread_env(blas_threads: int | None) -> dict[str, str]:
    """Thread-count variables for worker processes (those the user has not set)."""
    if blas_threads is None:
        return {}
    if isinstance(blas_threads, bool) or not isinstance(blas_threads, int) or blas_threads < 1:
        raise ValueError(
            f"make_executor: blas_threads must be an integer >= 1 or None, got {blas_threads!r}"
        )
    return {k: str(blas_threads) for k in _THREAD_VARS if k not in os.environ}


def _process_factory(workers: int, start_method: str, preload: Sequence[str], env: dict):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context(start_method)
    if start_method == "forkserver" and preload:
        ctx.set_forkserver_preload(list(preload))  # used when the server first starts

    def factory():
        if start_method == "forkserver":
            # the fork server (one per process, started once) and every worker forked from
            # it inherit this environment: BLAS loads with `blas_threads` threads
            from multiprocessing import forkserver

            saved = dict(os.environ)
            os.environ.update(env)
            try:
                forkserver.ensure_running()
            finally:
                os.environ.clear()
                os.environ.update(saved)
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                   initializer=_ignore_sigint), None

    return factory


def _ignore_sigint() -> None:
    """Worker initializer: ignore Ctrl-C.

    The parent handles it (one message, the checkpoint kept); workers would each print a
    traceback.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _mpi_factory(workers: int, options: dict, env: dict):
    try:
        from mpi4py.futures import MPIPoolExecutor
        from mpi4py.futures import _core as mpi_core
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "executor 'mpi' needs mpi4py and an MPI library: pip install 'fe2[parallel]' "
            f"(mpi4py + the mpich wheel); import failed: {err}"
        ) from err
    shared = mpi_core.SharedPool is not None  # under `mpiexec -n N python -m mpi4py.futures`
    if not shared:
        exe = mpiexec_path()
        if exe is None:
            raise RuntimeError(
                "executor 'mpi': no mpiexec found next to the Python executable or on PATH; "
                "install the mpich wheel (pip install 'fe2[parallel]') or an MPI library"
            )
        folder = str(Path(exe).parent)
        path = os.environ.get("PATH", "")
        if folder not in path.split(os.pathsep):
            # MPICH's singleton init spawns workers through the `mpiexec` on PATH
            os.environ["PATH"] = folder + (os.pathsep + path if path else "")
            log.info("executor 'mpi': added %s to PATH for MPI spawn", folder)
        options.setdefault("python_exe", sys.executable)
    if env:
        options["env"] = {**env, **options.get("env", {})}  # set before workers import numpy

    def factory():
        ex = MPIPoolExecutor(max_workers=workers, **options)
        return ex, None

    return factory, shared


def _dask_factory(workers: int, options: dict):
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError as err:  # pragma: no cover - depends on the install
        raise ImportError(
            "executor 'dask' needs dask.distributed: pip install 'fe2[parallel]'; "
            f"import failed: {err}"
        ) from err
    address = options.pop("address", None)

    def factory():
        if address is not None:
            client = Client(address)
            return client.get_executor(pure=False), client.close
        kw = {
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            "silence_logs": logging.WARNING,
        }
        kw.update(options)
        # dask's nannies export MALLOC_TRIM_THRESHOLD_=65536 to the workers (and into this
        # process's environment): it disables glibc's adaptive mmap threshold and makes the
        # allocation-heavy micro solves ~1.6x slower; unset it, and keep os.environ as it was
        saved = dict(os.environ)
        try:
            with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
                                  None}):
                cluster = LocalCluster(**kw)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        client = Client(cluster)

        def close():
            client.close()
            cluster.close()

        return client.get_executor(pure=False), close

    return factory


def make_executor(kind: str = "serial", workers: int | None = None, **options: Any):
    """An executor owned by fe2, to pass to :func:`fe2.oracle.evaluate` or a Problem.

    Parameters
    ----------
    kind : {"serial", "thread", "process", "mpi", "dask"}
        ``"process"``: local process pool (start method ``start_method``,
        default ``"forkserver"`` with fe2 preloaded: safe when threads exist,
        quick to start); ``"mpi"``: ``MPIPoolExecutor`` (spawns ``workers``
        processes, or uses the world's other ranks under
        ``python -m mpi4py.futures``; further keyword options go to it);
        ``"dask"``: a ``LocalCluster`` of ``workers`` single-threaded worker
        processes (keyword options go to ``LocalCluster``), or the running
        scheduler at ``address=...``.
    workers : int, optional
        Number of workers, >= 1 (default: the number of CPUs; 1 for serial).
    **options
        ``"process"``: ``start_method``, ``preload`` (modules the fork server
        imports); ``"mpi"``: ``MPIPoolExecutor`` keywords; ``"dask"``:
        ``address`` or ``LocalCluster`` keywords. ``"process"`` and ``"mpi"``:
        ``blas_threads`` (default 1, as dask does): BLAS/OpenMP threads per
        worker, set through ``OMP_NUM_THREADS`` etc. where the user has not set
        them (None: leave the environment alone). Several workers each running
        a multi-threaded BLAS on the same cores slow each other down.

    Notes
    -----
    ``"process"`` (forkserver or spawn) and ``"mpi"`` start workers that import
    the main script again: keep a script's work under
    ``if __name__ == "__main__":``.

    Returns
    -------
    ManagedExecutor
        Close it with ``shutdown()`` (or use it in a ``with`` block).
    """
    if kind not in EXECUTOR_KINDS:
        raise ValueError(
            f"make_executor: kind must be one of {', '.join(map(repr, EXECUTOR_KINDS))}, "
            f"got {kind!r}"
        )
    n = _check_workers(kind, workers)
    opts = dict(options)
    if kind == "serial":
        _no_options(kind, opts)
        return ManagedExecutor(kind, 1, lambda: (SerialExecutor(), None))
    if kind == "thread":
        _no_options(kind, opts)
        return ManagedExecutor(kind, n, lambda: (ThreadPoolExecutor(n), None))
    env = _thread_env(opts.pop("blas_threads", 1)) if kind in ("process", "mpi") else {}
    if kind == "process":
        start = opts.pop("start_method", "forkserver")
        preload = opts.pop("preload", ("fe2.oracle", "fe2.parallel", "fe2.homogenization"))
        _no_options(kind, opts)
        return ManagedExecutor(kind, n, _process_factory(n, start, preload, env))
    if kind == "mpi":
        factory, shared = _mpi_factory(n, opts, env)
        ex = ManagedExecutor(kind, n, factory, restartable=not shared)
        if shared:
            ex.workers = max(1, ex.inner.num_workers)
        return ex
    return ManagedExecutor(kind, n, _dask_factory(n, opts))


def _no_options(kind: str, opts: dict) -> None:
    if opts:
        raise ValueError(f"make_executor: kind {kind!r} takes no options, got {sorted(opts)}")


def executor_workers(executor: Executor | None) -> int:
    """Best guess of the number of workers behind ``executor`` (1 for None)."""
    if executor is None:
        return 1
    for attr in ("max_workers", "_max_workers"):
        n = getattr(executor, attr, None)
        if isinstance(n, int) and n > 0:
            return n
    client = getattr(executor, "_client", None)  # dask ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # noqa: BLE001 - a best guess
            pass
    return max(1, os.cpu_count() or 1)


def in_process(executor: Executor | None) -> bool:
    """True when tasks run in this process (no pickling needed)."""
    ex = executor.inner if isinstance(executor, ManagedExecutor) else executor
    return ex is None or isinstance(ex, SerialExecutor | ThreadPoolExecutor)


# ---------------------------------------------------------------- shipping objects


_WORKER_OBJECTS: OrderedDict[str, Any] = OrderedDict()
_WORKER_LOCK = threading.Lock()
_WORKER_KEEP = 4


class Shipped:
    """An object pickled once in the parent and unpickled once per worker process.

    Submitting a large oracle (an RVE with its micro mesh) with every chunk
    would rebuild its caches for every chunk. ``Shipped(obj)`` carries the
    pickle and its content hash; :meth:`load` in a worker returns the object
    unpickled by the first chunk that reached that process (up to four
    objects are kept per process, least recently used dropped). The object
    must be a pure function of its inputs, as oracles are by contract.
    """

    __slots__ = ("blob", "key")

    def __init__(self, obj: Any):
        self.blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        self.key = hashlib.blake2b(self.blob, digest_size=16).hexdigest()

    def __getstate__(self):
        return (self.blob, self.key)

    def __setstate__(self, st):
        self.blob, self.key = st

    def load(self) -> Any:
        """The object, unpickled at most once per process."""
        with _WORKER_LOCK:
            obj = _WORKER_OBJECTS.get(self.key)
            if obj is not None:
                _WORKER_OBJECTS.move_to_end(self.key)
                return obj
        obj = pickle.loads(self.blob)
        with _WORKER_LOCK:
            _WORKER_OBJECTS[self.key] = obj
            while len(_WORKER_OBJECTS) > _WORKER_KEEP:
                _WORKER_OBJECTS.popitem(last=False)
        return obj


# ---------------------------------------------------------------- chunked dispatch


def run_chunks(
    task: Callable[..., Any],
    chunks: Sequence[tuple],
    executor: Executor | None,
    *,
    local: Callable[..., Any] | None = None,
    window: int | None = None,
    on_done: Callable[[int, int], None] | None = None,
    max_retries: int = 2,
) -> list[Any]:
    """Run ``task(*chunk)`` for every chunk and return the results in chunk order.

    Parameters
    ----------
    task : callable
        Picklable when the executor runs in other processes.
    chunks : sequence of tuple
        Arguments of each call.
    executor : Executor or None
        None runs everything here, in order.
    local : callable, optional
        In-process equivalent of ``task`` (same results), used when a foreign
        executor broke and the remaining chunks run here. Default ``task``.
    window : int, optional
        Chunks in flight at once (default: two per worker). New chunks are
        submitted as earlier ones finish, so a slow chunk delays only its own
        worker.
    on_done : callable, optional
        ``on_done(done, total)`` after each finished chunk.
    max_retries : int
        How often one chunk may lose its worker before :class:`WorkerLostError`.

    Returns
    -------
    list
        ``[task(*chunks[0]), task(*chunks[1]), ...]``.

    Notes
    -----
    A lost worker (:func:`is_worker_loss`) sends its chunks back to the queue.
    A broken executor is restarted when it is a :class:`ManagedExecutor`
    (fe2 owns it); otherwise the remaining chunks run in this process with
    ``local`` and a warning. Other exceptions cancel the chunks in flight and
    propagate unchanged.
    """
    n = len(chunks)
    local = task if local is None else local
    results: list[Any] = [None] * n
    if executor is None:
        for i, args in enumerate(chunks):
            results[i] = local(*args)
            if on_done:
                on_done(i + 1, n)
        return results
    if window is None:
        window = 2 * executor_workers(executor)
    window = max(1, int(window))
    pending: deque[int] = deque(range(n))
    inflight: dict[Future, int] = {}
    lost_count = [0] * n
    done_count = 0
    here = False  # the executor broke and is not ours: finish in this process

    def finish(i: int, value: Any) -> None:
        nonlocal done_count
        results[i] = value
        done_count += 1
        if on_done:
            on_done(done_count, n)

    def collect(when: str, lost: list) -> None:
        """Wait for chunks in flight (``when``); record results, append worker losses."""
        finished, _ = wait(list(inflight), return_when=when)
        for fut in sorted(finished, key=inflight.__getitem__):
            i = inflight.pop(fut)
            err = fut.exception()
            if err is None:
                finish(i, fut.result())
            elif is_worker_loss(err):
                lost.append((i, err))
            else:
                raise err

    try:
        while pending or inflight:
            if here:
                while pending:
                    i = pending.popleft()
                    finish(i, local(*chunks[i]))
                break
            lost: list[tuple[int, BaseException]] = []
            while pending and len(inflight) < window:
                i = pending.popleft()
                try:
                    inflight[executor.submit(task, *chunks[i])] = i
                except Exception as err:
                    if not is_worker_loss(err):
                        raise
                    lost.append((i, err))
                    break
            if not lost:
                collect(FIRST_COMPLETED, lost)
            if not lost:
                continue
            broken = any(isinstance(e, BrokenExecutor) for _, e in lost)
            if broken:  # every chunk in flight is lost with the pool; collect them
                collect(ALL_COMPLETED, lost)
            ids = sorted(i for i, _ in lost)
            for i in ids:
                lost_count[i] += 1
                if lost_count[i] > max_retries:
                    raise WorkerLostError(
                        f"chunk {i} of {n} lost its worker {lost_count[i]} times "
                        f"(last: {type(lost[0][1]).__name__}: {lost[0][1]}); a worker dies on "
                        "these points"
                    )
            pending.extendleft(reversed(ids))
            cause = f"{type(lost[0][1]).__name__}: {lost[0][1]}"
            if broken and isinstance(executor, ManagedExecutor) and executor.restartable:
                log.warning("%d chunk(s) lost their worker (%s); restarting %r and re-running "
                            "them", len(ids), cause, executor)
                executor.restart()
            elif broken:
                log.warning("executor %r broke (%s); running the remaining %d chunk(s) in this "
                            "process", executor, cause, len(pending))
                here = True
            else:
                log.warning("%d chunk(s) lost their worker (%s); re-submitting them",
                            len(ids), cause)
    finally:
        for fut in inflight:
            fut.cancel()
    return results
