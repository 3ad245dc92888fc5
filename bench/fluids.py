"""fe2.fluids: cost of the MAC projection solver and of the dumbbell micro models.

1. Time per macro step of the Newtonian lid-driven cavity against the grid size (CN
   viscosity, CHOLMOD pressure factor), and the Newtonian cavity at Re = 100 on 128^2 run
   to steady state (wall time, steps, deviation from Ghia et al.).
2. Time per macro step of a cavity whose stress comes from Hookean dumbbells, against the
   grid size and the dumbbells per point; the micro share of the step (oracle evaluation
   time / step time); serial vs a process pool (``fe2.parallel.make_executor``).
3. A cavity whose stress comes from molecular dynamics (SLLOD boxes of 108 atoms in
   deforming cells, one per cell): time per macro step, serial vs a process pool, where
   the micro work per point is large and its state small.

Every number is measured in this run (wall-clock seconds, median over steps). Usage:

    python bench/fluids.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from fe2.fluids import HookeanDumbbells, MACGrid, NavierStokes2D, lid_driven_cavity
from fe2.fluids.reference import GHIA_U, GHIA_V, GHIA_X, GHIA_Y
from fe2.oracle import evaluate
from fe2.parallel import make_executor


def per_step(solver: NavierStokes2D, steps: int, warm: int = 3) -> tuple[float, float]:
    """Median seconds per macro step and of its oracle evaluation (same state, same dt)."""
    s = solver.initial_state()
    dt = 0.2 / solver.grid.nx
    for _ in range(warm):
        solver.step(s, dt)
    tstep, tmicro = [], []
    g = solver.grid
    for _ in range(steps):
        if solver.oracle is not None:
            L = g.velocity_gradient(s.U, s.V)
            t0 = time.perf_counter()
            evaluate(solver.oracle, L, state=s.micro.committed, dt=dt,
                     executor=solver.executor, chunk_size=solver.chunk_size)
            tmicro.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        solver.step(s, dt)
        tstep.append(time.perf_counter() - t0)
    return float(np.median(tstep)), float(np.median(tmicro)) if tmicro else 0.0


def cavity(n: int, stress=None, executor=None, chunk_size=None) -> NavierStokes2D:
    grid = MACGrid(n, n, wall_speed=(0.0, 1.0))
    if stress is None:
        return NavierStokes2D(grid, density=1.0, viscosity=0.01)
    return NavierStokes2D(grid, density=100.0 * stress.zero_shear_viscosity, stress=stress,
                          executor=executor, chunk_size=chunk_size)


def newtonian(quick: bool) -> None:
    print("\n## Newtonian cavity: time per macro step vs grid\n")
    print("| grid | unknowns (p) | ms per step |")
    print("|---|---:|---:|")
    for n in ([32, 64, 128] if quick else [32, 64, 128, 256, 512]):
        t, _ = per_step(cavity(n), 10 if n <= 256 else 4)
        print(f"| {n}^2 | {n * n:,} | {1e3 * t:.2f} |", flush=True)
    n = 64 if quick else 128
    t0 = time.perf_counter()
    r = lid_driven_cavity(100, n, steady_tol=1e-5)
    wall = time.perf_counter() - t0
    y, u = r.centerline_u()
    x, v = r.centerline_v()
    dev = max(np.abs(np.interp(GHIA_Y[::-1], y, u)[::-1] - GHIA_U[100]).max(),
              np.abs(np.interp(GHIA_X[::-1], x, v)[::-1] - GHIA_V[100]).max())
    print(f"\nRe = 100 cavity {n}^2 to steady state (max |du/dt| < 1e-5): {r.steps} steps, "
          f"t = {r.t:.1f}, {wall:.1f} s ({1e3 * wall / r.steps:.2f} ms/step), max centreline "
          f"deviation from Ghia {dev:.4f}")


def dumbbells(quick: bool) -> None:
    print("\n## Cavity with Hookean dumbbells (lam = 0.1, 1 micro step per macro step): "
          "time per macro step\n")
    print("| grid | dumbbells per point | ms per step | micro share | "
          "dumbbell-steps per second |")
    print("|---|---:|---:|---:|---:|")
    grids = [16, 32] if quick else [16, 32, 64]
    Ns = [100, 1000] if quick else [100, 1000, 4000]
    for n in grids:
        for N in Ns:
            if n * n * N > 4096 * 4000 // (4 if quick else 1):
                continue
            o = HookeanDumbbells(N, 0.1, 0.005, seed=0, eta_s=0.005, micro_steps=1)
            t, tm = per_step(cavity(n, o), 5)
            print(f"| {n}^2 | {N} | {1e3 * t:.1f} | {tm / t:.0%} | {n * n * N / tm:.3g} |",
                  flush=True)
    print("\n## Serial vs process pool (oracle evaluation of one macro step)\n")
    workers = min(2, os.cpu_count() or 1)
    print(f"| grid | dumbbells per point | serial [ms] | pool of {workers} [ms] | speed-up |")
    print("|---|---:|---:|---:|---:|")
    cases = [(32, 1000)] if quick else [(32, 1000), (64, 1000), (64, 4000)]
    with make_executor("process", workers=workers) as pool:
        for n, N in cases:
            o = HookeanDumbbells(N, 0.1, 0.005, seed=0, eta_s=0.005, micro_steps=1)
            _, ts = per_step(cavity(n, o), 3)
            _, tp = per_step(cavity(n, o, executor=pool, chunk_size=n * n // (2 * workers)), 3)
            print(f"| {n}^2 | {N} | {1e3 * ts:.1f} | {1e3 * tp:.1f} | {ts / tp:.2f}x |",
                  flush=True)


def nemd(quick: bool) -> None:
    from fe2.fluids import LennardJonesNEMD

    workers = min(2, os.cpu_count() or 1)
    print("\n## Cavity whose stress comes from molecular dynamics (SLLOD boxes of 108 atoms, "
          "deforming cells, one box per cell): time per macro step, serial vs process pool\n")
    print(f"| grid | MD steps per macro step | serial [s] | micro share | pool of {workers} [s] "
          "| speed-up | state shipped per step |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    cases = [(4, 40)] if quick else [(4, 60), (6, 60), (8, 100)]
    tu = 0.05
    for n, steps in cases:
        o = LennardJonesNEMD(0.8, 1.0, 108, cutoff=2.0, cell="deforming", micro_steps=steps,
                             time_unit=tu, stress_unit=10.0, viscosity_estimate=1.0, seed=1)
        o.equilibrated()  # the start box, made once and shipped with the oracle

        def solver(ex=None, o=o, n=n):
            grid = MACGrid(n, n, wall_speed=(0.0, lambda x: 16.0 * x**2 * (1.0 - x) ** 2))
            return NavierStokes2D(grid, density=2.0, stress=o, dt=0.05, executor=ex,
                                  chunk_size=max(1, n * n // (2 * workers)) if ex else None)

        ts, tm = per_step(solver(), 5, warm=2)
        with make_executor("process", workers=workers) as pool:
            tp, _ = per_step(solver(pool), 5, warm=2)
        shipped = 2 * n * n * (2 * 108 * 3 + 6) * 8  # x, p, box and counters, there and back
        print(f"| {n}^2 | {steps} | {ts:.2f} | {tm / ts:.0%} | {tp:.2f} | {ts / tp:.2f}x | "
              f"{shipped / 1e6:.2f} MB |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only")
    args = ap.parse_args()
    print(f"# fe2.fluids benchmark ({platform.node()}, {platform.processor() or 'cpu'}, "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    newtonian(args.quick)
    dumbbells(args.quick)
    nemd(args.quick)


if __name__ == "__main__":
    main()
