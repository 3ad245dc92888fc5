"""Dense-fluid shock tube with molecular-dynamics fluxes, with and without tabulation.

The macro model is the 1D Euler system solved by the Nessyahu–Tadmor scheme; the flux
comes from :class:`fe2.gas.MolecularDynamicsFlux` (a Lennard-Jones box equilibrated at
each state), either directly (one MD run per cell and flux evaluation) or through
:class:`fe2.gas.TabulatedFlux` (MD runs only for new thermodynamic states). The
reference is the same scheme on the same grid and time steps (``max_dt`` below every
CFL limit) with the published Johnson–Zollweg–Gubbins equation of state
(:class:`fe2.gas.EOSFlux`). Error: the L1 difference of the density from the reference,
relative to the L1 size of the density variation.

Riemann problem in reduced Lennard-Jones units on a tube of length 20 sigma: left
``(rho, u, T) = (0.6, 0, 3.0)``, right ``(0.3, 0, 2.0)``, both supercritical.

Parts, all measured in this run:

1. the ``--cells`` tube (400) to ``--t-end`` with tabulation: MD runs, wall time, error;
   the MD runs the direct method would make equal the number of flux queries;
2. the direct method and tabulation on a ``--direct-cells`` tube (40) to
   ``--direct-t-end``, where the direct method is affordable: MD runs, wall time, error;
3. one batch of distinct MD states, serial against a process pool.

Usage::

    python bench/gas.py [--cells 400] [--t-end 1.0] [--particles 128] [--workers 2]
                        [--direct-cells 40] [--direct-t-end 0.3] [--tol 0.02]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from _common import note

from fe2.atomistic.eos import LennardJonesEOS
from fe2.gas import EOSFlux, MolecularDynamicsFlux, TabulatedFlux, evolve
from fe2.oracle import evaluate as oracle_evaluate
from fe2.parallel import make_executor

LENGTH = 20.0
JZG = LennardJonesEOS("jzg")


def initial(n: int) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    rho = np.where(x < 0.5, 0.6, 0.3)
    T = np.where(x < 0.5, 3.0, 2.0)
    return np.stack([rho, 0.0 * rho, rho * JZG.energy(rho, T)])


def rel_error(U, ref) -> float:
    return float(np.abs(U[0] - ref[0]).sum() / np.abs(ref[0] - 0.3).sum())


def md_oracle(args, seed=0):
    return MolecularDynamicsFlux(n_particles=args.particles, skin=0.3, seed=seed,
                                 equilibration_steps=args.eq_steps,
                                 production_steps=args.prod_steps)


def tube(n, t_end, flux, args, executor=None):
    t0 = time.perf_counter()
    dx = LENGTH / n
    r = evolve(initial(n), dx, t_end, flux, bc="outflow", max_dt=args.max_dt_per_dx * dx,
               executor=executor)
    return r, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cells", type=int, default=400)
    ap.add_argument("--t-end", type=float, default=1.0)
    ap.add_argument("--direct-cells", type=int, default=40)
    ap.add_argument("--direct-t-end", type=float, default=0.3)
    ap.add_argument("--particles", type=int, default=128)
    ap.add_argument("--eq-steps", type=int, default=400)
    ap.add_argument("--prod-steps", type=int, default=1200)
    ap.add_argument("--tol", type=float, default=0.02)
    ap.add_argument("--max-dt-per-dx", type=float, default=0.02,
                    help="max_dt / dx, below the CFL limit of every flux here")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    print(f"# fe2 gas benchmark: {platform.node()}, {os.cpu_count()} CPUs, "
          f"MD N={args.particles}, {args.eq_steps}+{args.prod_steps} steps, "
          f"tol={args.tol}, max_dt/dx={args.max_dt_per_dx}, workers={args.workers}")
    pool = make_executor("process", workers=args.workers)
    try:
        # 1. the large tube with tabulation (MD runs in the pool), against the EOS run
        note(f"EOS reference, {args.cells} cells")
        ref, t_ref = tube(args.cells, args.t_end, EOSFlux(), args)
        tab = TabulatedFlux(md_oracle(args), tol=args.tol, executor=pool)
        note(f"MD + tabulation, {args.cells} cells")
        run, t_tab = tube(args.cells, args.t_end, tab, args)
        assert run.steps == ref.steps
        q, s = tab.stats["queries"], tab.stats["micro_states"]
        print(f"\n## {args.cells}-cell tube to t = {args.t_end} ({run.steps} steps)")
        print("| method | MD runs | wall [s] | density L1 error vs EOS run |")
        print("|---|---:|---:|---:|")
        print(f"| EOS (reference) | 0 | {t_ref:.1f} | 0 |")
        print(f"| MD + tabulation | {s} | {t_tab:.1f} | {rel_error(run.U, ref.U):.4f} |")
        print(f"| MD direct (not run) | {q} | - | - |")
        print(f"\nMD runs cut by tabulation: {q / s:.0f}x ({q} queries, {s} states)")

        # 2. direct MD where it is affordable, against tabulation on the same tube
        n, t_end = args.direct_cells, args.direct_t_end
        ref2, _ = tube(n, t_end, EOSFlux(), args)
        note(f"MD direct, {n} cells (process pool)")
        run_d, t_d = tube(n, t_end, md_oracle(args), args, executor=pool)
        note(f"MD + tabulation, {n} cells")
        tab2 = TabulatedFlux(md_oracle(args), tol=args.tol, executor=pool)
        run_t, t_t = tube(n, t_end, tab2, args)
        assert run_d.steps == run_t.steps == ref2.steps
        direct_runs = tab2.stats["queries"]  # same grid and steps: one MD run per query
        print(f"\n## {n}-cell tube to t = {t_end} ({run_d.steps} steps)")
        print("| method | MD runs | wall [s] | density L1 error vs EOS run |")
        print("|---|---:|---:|---:|")
        print(f"| MD direct (pool) | {direct_runs} | {t_d:.1f} | "
              f"{rel_error(run_d.U, ref2.U):.4f} |")
        print(f"| MD + tabulation | {tab2.stats['micro_states']} | {t_t:.1f} | "
              f"{rel_error(run_t.U, ref2.U):.4f} |")
        print(f"\nMD runs cut by tabulation: {direct_runs / tab2.stats['micro_states']:.0f}x")

        # 3. serial vs process pool on one batch of distinct states
        rho = np.linspace(0.3, 0.6, args.batch)
        T = np.linspace(2.0, 3.0, args.batch)
        U = np.stack([rho, 0 * rho, rho * JZG.energy(rho, T)])
        md = md_oracle(args)
        t0 = time.perf_counter()
        oracle_evaluate(md, U)
        t_serial = time.perf_counter() - t0
        t0 = time.perf_counter()
        oracle_evaluate(md, U, executor=pool)
        t_pool = time.perf_counter() - t0
        print(f"\n## {args.batch} MD runs: serial {t_serial:.2f} s, process pool "
              f"({args.workers} workers) {t_pool:.2f} s, speed-up {t_serial / t_pool:.2f}x "
              f"({t_serial / args.batch:.3f} s per MD run)")
    finally:
        pool.shutdown()


if __name__ == "__main__":
    main()
