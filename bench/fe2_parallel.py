"""Scale-out of micro solves: wall time vs workers for a batch of nonlinear RVE evaluations.

The batch is what one macro Newton iteration of an FE² run asks for: ``--points``
macro strains (random, symmetric, |eps| up to ``--strain``) applied from the committed
state of a first load step, each solved on a periodic fibre cell (gmsh mesh, one
circular fibre of volume fraction 0.3): an elastic fibre (E = 10) in a J2 elastic-plastic
matrix (E = 1, nu = 0.3, sigma_y = 0.004, H_iso = 0.1), plane strain. Most points yield, so
every point is a micro Newton solve (4-6 iterations, one sparse factorization each).

Executors (all through ``fe2.oracle.evaluate``; ``fe2.parallel.make_executor`` builds
them): ``serial`` (one in-process call, the reference), a local process pool with 1 and
2 workers, a dask ``LocalCluster`` with 2 single-threaded workers and an MPI pool
(``mpi4py.futures.MPIPoolExecutor``, 2 spawned workers, MPICH wheel). For each:
``start`` = creating the executor, ``first`` = the first evaluation (workers import fe2
and unpickle the RVE), ``wall`` = best of ``--repeat`` further evaluations of the same
batch (steady state of a macro Newton loop), micro solves per second = points / wall,
speed-up = serial wall / wall, and the largest difference from the serial answer
(flux, tangent, state).

Usage::

    python bench/fe2_parallel.py                      # 64 points, about 1-2 minutes
    python bench/fe2_parallel.py --points 128 --mesh-size 0.04 --skip mpi
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import time

import numpy as np
from _common import cases, note


def build(mesh_size: float):
    from fe2.homogenization import RVE, cells
    from fe2.materials import J2Plasticity, LinearElastic

    cell = cells.circular_inclusion(0.3, mesh_size=mesh_size)
    mats = [J2Plasticity(1.0, 0.3, 0.004, H_iso=0.1, dim=2),
            LinearElastic(10.0, 0.2, plane="strain")]
    return RVE(cell, mats, bc="periodic")


def batch(rve, n: int, strain: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    e = rng.uniform(-strain, strain, (2, 2, n))
    e = 0.5 * (e + e.transpose(1, 0, 2))
    st = rve.evaluate(0.5 * e, state=rve.initial_state((n,))).state  # committed step 1
    return e, st


def max_diff(r, ref) -> float:
    d = [np.abs(r.flux - ref.flux).max(), np.abs(r.tangent - ref.tangent).max()]
    d += [np.abs(r.state[k] - ref.state[k]).max() for k in ref.state]
    return float(max(d))


def _autogroup_nice() -> int | None:
    try:
        with open("/proc/self/autogroup") as f:
            return int(f.read().split()[-1])
    except (OSError, ValueError):
        return None


def _same_priority(nice: int | None) -> None:
    """MPI worker initializer: join the parent's CPU priority.

    mpiexec starts workers in a session of their own, hence (Linux autogroup
    scheduling) in a CPU-share group of their own, while process-pool and dask
    workers share the parent's group; on a shared machine that alone changes the
    timings, so the MPI workers take the parent's autogroup priority.
    """
    if nice is not None and nice != _autogroup_nice():
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(nice))
        except OSError:
            pass


def run(kind: str, workers: int, rve, e, st, repeat: int, chunk_size: int | None):
    from fe2.oracle import evaluate
    from fe2.parallel import make_executor

    t0 = time.perf_counter()
    opts = {}
    if kind == "mpi":
        opts = {"initializer": _same_priority, "initargs": (_autogroup_nice(),)}
    ex = None if kind == "serial" else make_executor(kind, workers=workers, **opts)
    t1 = time.perf_counter()
    try:
        r = evaluate(rve, e, state=st, executor=ex, chunk_size=chunk_size)
        t2 = time.perf_counter()
        walls = []
        for _ in range(repeat):
            s = time.perf_counter()
            r = evaluate(rve, e, state=st, executor=ex, chunk_size=chunk_size)
            walls.append(time.perf_counter() - s)
    finally:
        if ex is not None:
            ex.shutdown()
    return {"start": t1 - t0, "first": t2 - t1, "wall": min(walls), "response": r}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--points", type=int, default=64)
    p.add_argument("--mesh-size", type=float, default=0.05)
    p.add_argument("--strain", type=float, default=0.01)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--chunk-size", type=int, default=None)
    p.add_argument("--skip", nargs="*", default=[], help="executor kinds to leave out")
    args = p.parse_args(argv)

    import dask
    import mpi4py
    import scipy

    load0 = os.getloadavg()[0]
    rve = build(args.mesh_size)
    e, st = batch(rve, args.points, args.strain)
    plan = [("serial", 1), ("process", 1), ("process", 2), ("dask", 2), ("mpi", 2)]
    plan = [(k, w) for k, w in plan if k not in args.skip]
    rows = []
    ref = None
    for kind, workers in cases(plan, "bench/fe2_parallel.py", lambda c: f"{c[0]} x{c[1]}"):
        res = run(kind, workers, rve, e, st, args.repeat, args.chunk_size)
        if ref is None:
            ref = res["response"]
        res["diff"] = max_diff(res["response"], ref)
        rows.append((kind, workers, res))
        note(f"  {kind} x{workers}: {res['wall']:.2f} s")

    m = rve._micro()
    iters = ref.info["iterations"]
    yielded = int((ref.state["alpha"] > 0).any(axis=(0, 1)).sum())
    print(f"# fe2 parallel micro solves, {datetime.date.today()}, {platform.processor() or ''} "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, numpy {np.__version__}, "
          f"scipy {scipy.__version__}, dask {dask.__version__}, mpi4py {mpi4py.__version__}")
    print(f"# RVE: periodic fibre cell, {m.N} micro dofs; batch of {args.points} points, "
          f"micro Newton iterations per point {iters.min()}-{iters.max()} "
          f"(mean {iters.mean():.1f}); yielded at {yielded} of {args.points} points")
    print(f"# load average (1 min) at start {load0:.2f}, at end {os.getloadavg()[0]:.2f} "
          f"(other processes on the machine share its {os.cpu_count()} CPUs)")
    serial = rows[0][2]["wall"]
    print("| executor | workers | start [s] | first call [s] | wall [s] | micro solves/s | "
          "speed-up vs serial | max diff vs serial |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for kind, workers, r in rows:
        print(f"| {kind} | {workers} | {r['start']:.2f} | {r['first']:.2f} | {r['wall']:.2f} | "
              f"{args.points / r['wall']:.1f} | {serial / r['wall']:.2f} | {r['diff']:.1e} |")


if __name__ == "__main__":
    main()
