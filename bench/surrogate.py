"""FE² of the demo's plate with a neo-Hookean fibre-composite RVE, with and without a surrogate.

The macro problem is the demo's quarter plate with a hole
(``meshes/demo/plate_with_hole_coarse.msh``, 131 triangles, P2, three quadrature points
per triangle: 393 RVEs; symmetry supports on ``left`` and ``bottom``, the ``right`` edge
pulled to ``u_x = u_max``) at **finite strain** (measure ``deformation_gradient``, first
Piola–Kirchhoff stress). Every quadrature point is answered by a periodic voxel RVE with one
centred circular fibre (:func:`fe2.demo.fibre_cell`, fibre fraction about 0.45) whose two
phases are compressible neo-Hookean solids in plane strain (matrix E = 3500, nu = 0.35;
fibre E = 72000, nu = 0.22; MPa).

Three runs of the same load steps:

1. **RVE**: every macro Newton iteration solves all 393 RVEs.
2. **AdaptiveSurrogate(RVE)**: a Gaussian process trained offline on a scrambled Sobol
   design over a box of displacement gradients ``H = F - I``, then on the fly
   (:class:`fe2.surrogate.AdaptiveSurrogate`); points whose relative predictive std
   exceeds ``tol`` go to the RVE. The box is that of the ``H`` met by a cheap pre-run of
   the same plate with a homogeneous neo-Hookean solid (E and nu from the RVE's effective
   tangent at F = I, one RVE solve), widened by 25 % of its range on each side; it does
   not use the FE² answers.
3. **AdaptiveSurrogate(RVE) on the fly only**: no design; the model learns from its
   fallbacks only, adding them to the GP by extending its Cholesky factor between
   hyperparameter re-optimisations (:meth:`fe2.surrogate.GaussianProcess.add`).
4. with ``--compare-refit``: run 3 again with ``incremental=False`` (a full Cholesky
   refactorisation at every learning round, the behaviour before the update), so the
   two wall times are measured in one run; the CPU time of the process (less sensitive
   to other jobs on a shared machine) and the time inside the GP's ``fit``/``add`` are
   printed for both.

Printed (ratios measured in this run): micro solves (RVE solves; for the surrogate the
design, the effective-tangent solve and the fallbacks), wall time (the surrogate's
includes the pre-run and the training), the largest relative difference of the reaction of
the pulled edge over the load–displacement curve, macro Newton iterations per step and
the observed Newton constants ``max r_{k+1} / r_k^2`` (quadratic convergence).

Usage::

    python bench/surrogate.py [--voxels 10] [--steps 10] [--u-max 0.15] [--tol 3e-3]
                              [--design 128] [--no-gradients] [--compare-refit]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from _common import note

from fe2.demo import MESH, fibre_cell
from fe2.homogenization import RVE
from fe2.io import read_mesh
from fe2.macro import NewtonOptions, Problem
from fe2.materials import NeoHookean
from fe2.surrogate import AdaptiveSurrogate, sample_box

MATRIX = (3500.0, 0.35)
FIBRE = (72000.0, 0.22)


def plate(oracle, u_max: float) -> Problem:
    """The demo's plate at finite strain with ``oracle``; ``u_x = t u_max`` on ``right``."""
    prob = Problem(read_mesh(MESH), oracle, kind="finite_strain", order=2, intorder=2,
                   name=MESH.name)
    prob.dirichlet("left", 0.0, (0,)).dirichlet("bottom", 0.0, (1,))
    prob.dirichlet("right", u_max, (0,))
    return prob


def run(oracle, u_max: float, steps: int, keep_h: bool = False):
    """Load-step the plate; reactions ``(steps,)``, records, seconds, H seen ``(4, n)``."""
    prob = plate(oracle, u_max)
    seen = []

    def cb(p, rec):
        if keep_h:
            F = p.op.measure(p.u)
            seen.append((F - np.eye(2)[:, :, None, None]).reshape(4, -1))

    t0 = time.perf_counter()
    sol = prob.solve(NewtonOptions(rtol=1e-8, atol=1e-12, steps=steps, max_iter=15),
                     reactions=("right",), callback=cb)
    sec = time.perf_counter() - t0
    react = sol.reactions["right"][:, 0]
    return react, sol.steps, sec, (np.hstack(seen) if keep_h else None)


def timed_gp(sur) -> list[float]:
    """Accumulate the seconds spent in ``sur.gp.fit`` and ``sur.gp.add`` (a one-item list)."""
    acc = [0.0]
    for name in ("fit", "add"):
        f = getattr(sur.gp, name)

        def wrapped(*args, _f=f, **kw):
            t0 = time.perf_counter()
            try:
                return _f(*args, **kw)
            finally:
                acc[0] += time.perf_counter() - t0

        setattr(sur.gp, name, wrapped)
    return acc


def newton_constant(residuals, floor: float) -> float:
    """``max r_{k+1} / r_k^2`` over the iterations after the predictor with ``r_{k+1} > floor``."""
    r = np.asarray(residuals[1:])
    c = [b / a**2 for a, b in zip(r[:-1], r[1:], strict=True) if b > floor]
    return max(c) if c else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voxels", type=int, default=10, help="voxels per RVE edge")
    ap.add_argument("--steps", type=int, default=10, help="load steps")
    ap.add_argument("--u-max", type=float, default=0.15, help="u_x of the right edge")
    ap.add_argument("--tol", type=float, default=3e-3, help="surrogate's relative std")
    ap.add_argument("--design", type=int, default=128, help="Sobol design points")
    ap.add_argument("--no-gradients", action="store_true",
                    help="train on the fluxes only (not on the RVE tangents)")
    ap.add_argument("--compare-refit", action="store_true",
                    help="also run on the fly with full refits (incremental=False)")
    a = ap.parse_args()
    phases = [NeoHookean(*MATRIX, dim=2), NeoHookean(*FIBRE, dim=2)]
    cell = fibre_cell(a.voxels, 0.45)
    note(f"plate {MESH.name}, P2, 393 RVEs of {a.voxels}x{a.voxels} voxels, "
         f"{a.steps} steps to u_max = {a.u_max}")

    # 1. the RVE alone
    rve = RVE(cell, phases, bc="periodic")
    r_ref, st_ref, t_ref, _ = run(rve, a.u_max, a.steps)
    n_ref = sum(s.points for s in st_ref)
    note(f"RVE: {n_ref} micro solves, {t_ref:.0f} s")

    # 2. the surrogate: box from a homogeneous pre-run, Sobol design, then on the fly
    t0 = time.perf_counter()
    rve2 = RVE(cell, phases, bc="periodic")
    A = np.asarray(rve2.evaluate(np.eye(2)[:, :, None]).tangent)[..., 0]
    lam, mu = A[0, 0, 1, 1], 0.5 * (A[0, 0, 0, 0] - A[0, 0, 1, 1])
    E, nu = mu * (3 * lam + 2 * mu) / (lam + mu), lam / (2 * (lam + mu))
    _, _, _, H = run(NeoHookean(E, nu, dim=2, backend="numpy"), a.u_max, a.steps,
                     keep_h=True)
    lo, hi = H.min(axis=1), H.max(axis=1)
    pad = 0.25 * (hi - lo) + 1e-4
    design = sample_box((lo - pad).reshape(2, 2), (hi + pad).reshape(2, 2), a.design)
    design = design + np.eye(2)[:, :, None]
    sur = AdaptiveSurrogate(rve2, tol=a.tol, gradients=not a.no_gradients)
    sur.fit(design)
    t_fit = time.perf_counter() - t0
    note(f"surrogate: pre-run (E = {E:.0f}, nu = {nu:.3f}) and fit to {a.design} points, "
         f"{t_fit:.0f} s")
    box = ", ".join(f"[{x:.3f}, {y:.3f}]" for x, y in zip(lo - pad, hi + pad, strict=True))
    r_s, st_s, t_s, _ = run(sur, a.u_max, a.steps)
    n_s = 1 + a.design + sur.stats["oracle_calls"]
    dev = np.abs(r_s / r_ref - 1.0)
    note(f"surrogate: {n_s} micro solves, {t_fit + t_s:.0f} s")

    # 3. on the fly only: no design, the model learns from the fallbacks
    def on_the_fly(incremental: bool):
        s = AdaptiveSurrogate(RVE(cell, phases, bc="periodic"), tol=a.tol,
                              gradients=not a.no_gradients, incremental=incremental)
        t_gp = timed_gp(s)
        c0 = time.process_time()
        r, st, t, _ = run(s, a.u_max, a.steps)
        cpu = time.process_time() - c0
        note(f"on the fly (incremental={incremental}): {s.stats['oracle_calls']} micro "
             f"solves, {t:.0f} s, CPU {cpu:.0f} s ({t_gp[0]:.1f} s in GP fit/add)")
        return s, r, st, t, t_gp[0], cpu

    fly, r_f, st_f, t_f, gp_f, cpu_f = on_the_fly(True)
    n_f = fly.stats["oracle_calls"]
    dev_f = np.abs(r_f / r_ref - 1.0)
    full = on_the_fly(False) if a.compare_refit else None
    # GP round-off (see GaussianProcess): the mean carries about 1e-10 relative, and the
    # macro residual it leaves was 0.9-2e-7 of a reaction of 1e3 between code versions
    floor = 1e-9 * float(np.abs(r_ref).max())

    print(f"\nFE² plate with a hole at finite strain, neo-Hookean fibre composite "
          f"({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
    print(f"{a.steps} load steps to u_x = {a.u_max}; RVE {a.voxels}x{a.voxels} voxels; "
          f"surrogate tol = {a.tol:g}, Sobol design {a.design}, "
          f"gradients {'off' if a.no_gradients else 'on'}; design box of H = F - I "
          f"(H11, H12, H21, H22): {box}\n")
    print("| run | micro solves | wall time [s] | Newton iterations per step | "
          "max r_k+1 / r_k^2 | max reaction difference |")
    print("|---|---|---|---|---|---|")
    print(f"| RVE | {n_ref} | {t_ref:.1f} | {' '.join(str(s.iterations) for s in st_ref)} | "
          f"{max(newton_constant(s.residuals, floor) for s in st_ref):.3g} | - |")
    print(f"| AdaptiveSurrogate(RVE), Sobol design | {n_s} (1 + {a.design} design + "
          f"{sur.stats['oracle_calls']} fallbacks) | {t_fit + t_s:.1f} ({t_fit:.1f} pre-run "
          f"and fit) | {' '.join(str(s.iterations) for s in st_s)} | "
          f"{max(newton_constant(s.residuals, floor) for s in st_s):.3g} | {dev.max():.2e} |")
    print(f"| AdaptiveSurrogate(RVE), on the fly only | {n_f} | {t_f:.1f} | "
          f"{' '.join(str(s.iterations) for s in st_f)} | "
          f"{max(newton_constant(s.residuals, floor) for s in st_f):.3g} | "
          f"{dev_f.max():.2e} |")
    if full is not None:
        fl, r_x, st_x, t_x, gp_x, cpu_x = full
        print(f"| AdaptiveSurrogate(RVE), on the fly only, full refits (incremental=False) | "
              f"{fl.stats['oracle_calls']} | {t_x:.1f} | "
              f"{' '.join(str(s.iterations) for s in st_x)} | "
              f"{max(newton_constant(s.residuals, floor) for s in st_x):.3g} | "
              f"{np.abs(r_x / r_ref - 1.0).max():.2e} |")
        print(f"\non the fly, Cholesky update against full refits: wall time {t_x:.1f} s -> "
              f"{t_f:.1f} s ({t_x / t_f:.2f}x), CPU time of this process {cpu_x:.1f} s -> "
              f"{cpu_f:.1f} s ({cpu_x / cpu_f:.2f}x), time in GP fit/add {gp_x:.1f} s -> "
              f"{gp_f:.1f} s ({gp_x / max(gp_f, 1e-9):.1f}x); largest relative difference "
              f"of the two reaction curves {np.abs(r_f / r_x - 1.0).max():.1e}; micro solves "
              f"{fl.stats['oracle_calls']} and {n_f}")
    print(f"\nSobol design: micro solves RVE / surrogate {n_ref / n_s:.1f}x, wall time "
          f"{t_ref / (t_fit + t_s):.1f}x; model answers {sur.stats['surrogate_calls']}, "
          f"training points {sur.stats['training_points']}")
    print(f"on the fly only: micro solves RVE / surrogate {n_ref / n_f:.1f}x, wall time "
          f"{t_ref / t_f:.1f}x; model answers {fly.stats['surrogate_calls']}, training "
          f"points {fly.stats['training_points']}")
    print(f"Newton constants over r_k+1 > {floor:.1e} (1e-9 of the largest reaction: the "
          "GP mean's round-off)")
    print(f"final reaction {r_ref[-1]:.6g} (RVE), {r_s[-1]:.6g} (design), {r_f[-1]:.6g} "
          "(on the fly)\n")
    print("| load factor | reaction RVE | rel. diff. design | rel. diff. on the fly | "
          "residuals RVE | residuals design | residuals on the fly |")
    print("|---|---|---|---|---|---|---|")
    for k, s in enumerate(st_ref):
        h = [" ".join(f"{x:.1e}" for x in st[k].residuals[1:]) for st in (st_ref, st_s, st_f)]
        print(f"| {s.t:.2f} | {r_ref[k]:.6g} | {dev[k]:.2e} | {dev_f[k]:.2e} | {h[0]} | "
              f"{h[1]} | {h[2]} |")


if __name__ == "__main__":
    main()
