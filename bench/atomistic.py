"""Atomistic micro models: Cauchy–Born throughput and quasicontinuum vs full atomistics.

Part 1, Cauchy–Born. ``W + P + A`` evaluations per second of
``fe2.atomistic.lattice.CauchyBorn`` (one core, numba kernel, no threading) for LJ
FCC with cutoff 2.5 sigma (target >= 1e5 per second), measured through the
oracle call ``evaluate`` (with the layout adapter) and for the bare kernel, and
against the vectorized numpy twin; also triangular LJ and the honeycomb
multilattice (inner-shift relaxation + condensation per point).

Part 2, defect problem. A periodic triangular LJ crystal (rc = 2.5 sigma, zero-stress
lattice constant) of ``n x n`` sites with a hexagonal cluster of 7 vacancies at the
centre, stretched by ``F = diag(1.03, 1)``. Reference: full atomistic Newton
relaxation (``AtomisticSystem.relax``, max force <= 1e-9). Cluster QC (Knap–Ortiz
summation rule, exact weights) on a coarse mesh (every 16th site) fully refined
within 2.5 a of the defect, for several cluster radii, then adaptive refinement
(threshold on the jump of F between neighbouring elements) with exact summation.
Errors: ``E_QC - E_atom`` and the displacement error of all atoms (interpolated
positions vs relaxed atomistic positions); dofs saved = 1 - QC dofs / atomistic dofs.

Usage::

    python bench/atomistic.py                 # n = 128 (16 377 atoms), 2e5 CB points
    python bench/atomistic.py --n 64 --points 50000
"""

from __future__ import annotations

import argparse
import datetime
import platform
import time

import numba
import numpy as np
import scipy
from _common import cases

from fe2.atomistic.kernels import cb_simple
from fe2.atomistic.lattice import CauchyBorn
from fe2.atomistic.potentials import LennardJones
from fe2.atomistic.qc import ClusterQC, adaptive_qc, compare, initial_rep_atoms
from fe2.atomistic.system import AtomisticSystem
from fe2.materials import common as c


def best_of(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def cb_throughput(npts: int) -> None:
    lj = LennardJones(1.0, 1.0, 2.5)
    rng = np.random.default_rng(0)
    print("## Cauchy–Born W + P + A evaluations per second (one core)\n")
    print(f"{'lattice':<12}{'bonds':>6}{'points':>9}{'evaluate/s':>13}{'kernel/s':>12}"
          f"{'numpy/s':>11}{'numba/numpy':>13}")
    for name in cases(("fcc", "triangular", "honeycomb"), "bench/atomistic.py Cauchy-Born"):
        cb = CauchyBorn(name, lj)
        d = cb.dim
        n = npts if name != "honeycomb" else npts // 4
        F = np.eye(d)[:, :, None] + 0.02 * rng.standard_normal((d, d, n))
        cb.evaluate(F[..., :8])  # compile / load the cache
        t_eval = best_of(lambda cb=cb, F=F: cb.evaluate(F))
        kern = np.nan
        if cb.lattice.n_basis == 1:
            Ff = c.points_first(F, 2)
            W, P = np.empty(n), np.empty((n, d, d))
            A, st = np.empty((n, d, d, d, d)), np.zeros(n, dtype=np.int64)
            pot = cb.potential

            def run(cb=cb, Ff=Ff, W=W, P=P, A=A, st=st, pot=pot):
                cb_simple(Ff, cb.bond_vectors, cb._dd, cb._sym, cb._upos, pot.kind, pot.params,
                          pot.bonded, cb._scale, cb.rnext, cb._tiny2, W, P, A, st)

            kern = n / best_of(run)
        twin = CauchyBorn(name, lj, cb.lattice_constant, backend="numpy")
        m = min(n, 2000)
        t_np = best_of(lambda twin=twin, F=F, m=m: twin.evaluate(F[..., :m]), repeat=2)
        print(f"{name:<12}{cb.n_bonds:>6}{n:>9}{n / t_eval:>13.3e}{kern:>12.3e}"
              f"{m / t_np:>11.3e}{(n / t_eval) / (m / t_np):>13.1f}")
    print()


def vacancy_crystal(cb, n):
    cr = cb.lattice.crystal(n, cb.lattice_constant)
    return cr.without(cr.within(cr.box @ np.full(cb.dim, 0.5), 1.01 * cb.lattice_constant))


def defect_study(n: int) -> None:
    lj = LennardJones(1.0, 1.0, 2.5)
    cb = CauchyBorn("triangular", lj)
    a = cb.lattice_constant
    cr = vacancy_crystal(cb, n)
    F = np.diag([1.03, 1.0])
    sysm = AtomisticSystem.from_crystal(cr, lj, F)
    x0 = cr.positions @ F.T
    small = vacancy_crystal(cb, 12)  # load the compiled kernels before timing
    AtomisticSystem.from_crystal(small, lj, F).relax(small.positions @ F.T)
    ClusterQC(small, lj, initial_rep_atoms(small, 4, 2 * a), F).relax()
    t0 = time.perf_counter()
    ref = sysm.relax(x0, gtol=1e-9)
    t_atom = time.perf_counter() - t0
    t0 = time.perf_counter()
    lb = sysm.relax(x0, method="lbfgs", gtol=1e-6, max_iter=400)
    t_lbfgs = time.perf_counter() - t0
    E_hom = sysm.energy(x0)
    dofs_atom = 2 * (cr.n_atoms - 1)
    print(f"## Vacancy cluster in a {n} x {n} triangular LJ crystal ({cr.n_atoms} atoms, "
          f"{dofs_atom} dofs), F = diag(1.03, 1)\n")
    print(f"full atomistics, Newton (max force {ref.max_force:.1e}): {ref.iterations} iterations, "
          f"{t_atom:.2f} s; L-BFGS to max force {lb.max_force:.1e}: {lb.iterations} iterations, "
          f"{t_lbfgs:.2f} s (|E - E_newton| = {abs(lb.energy - ref.energy):.1e})")
    print(f"relaxation energy E_atom - E(F X) = {ref.energy - E_hom:.4f} eps, "
          f"max displacement from F X = {np.max(np.abs(ref.positions - x0)):.4f} sigma\n")
    reps0 = initial_rep_atoms(cr, 16, 2.5 * a)
    print(f"{'cluster r/a':>11}{'tol':>8}{'cycles':>7}{'rep':>7}{'sampled':>9}{'dofs saved':>11}"
          f"{'E_QC-E_atom':>13}{'max|du|':>10}{'rms|du|':>10}{'time s':>8}{'speed-up':>9}")

    def row(rc, tol):
        t0 = time.perf_counter()
        if tol is None:
            qc = ClusterQC(cr, lj, reps0, F, cluster_radius=rc * a)
            res, ncyc = qc.relax(), 0
        else:
            hist = adaptive_qc(cr, lj, reps0, F, tol=tol, cluster_radius=rc * a)
            (qc, res), ncyc = hist[-1], len(hist) - 1
        dt = time.perf_counter() - t0
        e = compare(res, ref.positions, ref.energy)
        rcs = "all" if rc >= 100 else f"{rc:g}"
        print(f"{rcs:>11}{'-' if tol is None else f'{tol:g}':>8}{ncyc:>7}{qc.n_rep:>7}"
              f"{qc.n_sampling_atoms:>9}{1 - e['n_dofs'] / dofs_atom:>11.1%}"
              f"{e['energy_error']:>13.3e}{e['max_displacement_error']:>10.2e}"
              f"{e['rms_displacement_error']:>10.2e}{dt:>8.2f}{t_atom / dt:>9.1f}")

    for rc in (0.0, 1.0, 2.0, 4.0, 100.0):
        row(rc, None)
    for tol in (1e-2, 3e-3, 1e-3):
        row(100.0, tol)
    for tol in (3e-3, 1e-3):
        row(4.0, tol)
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=128, help="crystal size (sites per side)")
    ap.add_argument("--points", type=int, default=200_000, help="CB batch size")
    args = ap.parse_args()
    print(f"# bench/atomistic.py, {datetime.date.today()}, {platform.processor() or 'cpu'}, "
          f"Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} numba threads (kernels "
          f"serial)\n")
    cb_throughput(args.points)
    defect_study(args.n)


if __name__ == "__main__":
    main()
