"""FMM-HMM (fe2.fmm) against the resolved density: cost and error versus eps.

Problem: phi(x) = integral q(y, y/eps) / |x - y| dy on the unit cube with
q(y, z) = rho(y) (1 + 0.5 cos 2 pi z1 + 0.3 cos(2 pi (z2 + z3) + 0.7)), rho the unit-mass
Gaussian of width sigma = 0.08 at the cube's centre. Targets: M points on the sphere of
radius 0.9 about the centre (outside the cube, whose corners are at 0.866). Reference:
the exact potential of the resolved density (closed form, ModulatedGaussian.potential).

Methods:
- direct: resolved quadrature (one cell per period, 4^3 midpoint points per cell,
  (4/eps)^3 sources) summed directly (fmm3dpy l3ddir, O(N M));
- fmm-resolved: the same sources summed by the FMM (lfmm3d, precision 1e-8);
- fmm-hmm: a macro midpoint rule of 24^3 points with charges from the cell-averaged
  density (4^3 samples per point), summed by the FMM (precision 1e-8); the number of
  sources does not depend on eps.

A second table puts the targets inside the support (ball of radius sigma about the centre,
where the density oscillates): FMM-HMM with its near-field correction, cell estimator
(error = the homogenization error, ~ eps^2) and kernel estimator (samples of the resolved
density only, 3 convolved one-period boxes, 3 samples per period: adds its filter error
~ eps^2).

Every number is measured in this run (wall-clock seconds, OMP_NUM_THREADS as set by the
caller; the RESULTS.md figures use 1 thread). Writes fmm_bench.csv/.json and
fmm_bench.png into --out. Usage:

    OMP_NUM_THREADS=1 python bench/fmm.py [--eps 4 8 16 32] [--hmm-eps 64 1000 100000]
        [--targets 1000] [--inside 100] [--out bench_out/fmm]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from fe2.fmm import (
    ModulatedGaussian,
    OscillatingDensity,
    direct_potential,
    fmm_hmm_potential,
    plot_error_cost,
    resolved_potential,
    write_results,
)

G = ModulatedGaussian(center=(0.5, 0.5, 0.5), sigma=0.08)
BOX = [[0.0, 1.0]] * 3


def inside(a) -> list[dict]:
    """FMM-HMM at targets inside the support: error vs eps for both estimators."""
    rng = np.random.default_rng(1)
    u = rng.normal(size=(3, a.inside))
    x = 0.5 + G.sigma * u / np.linalg.norm(u, axis=0) * rng.random(a.inside) ** (1 / 3)
    phi0 = G.averaged_potential(x)
    print(f"\n## Targets inside the support ({a.inside} in the ball of radius sigma), "
          "FMM-HMM with near-field correction, 21^3 macro points\n")
    print("| 1/eps | estimator | seconds | rms error vs exact | rms |phi_eps - phi_0| | "
          "rms error / eps^2 |")
    print("|---:|---|---:|---:|---:|---:|")
    rows = []
    for inv in (8, 16, 32, 64, 128, 256):
        eps = 1.0 / inv
        d = OscillatingDensity(G.q, eps, BOX)
        exact = G.potential(x, eps)
        hom = float(np.sqrt(np.mean((exact - phi0) ** 2)))
        for est, samples in (("cell", 4), ("kernel", 3)):
            t0 = time.perf_counter()
            r = fmm_hmm_potential(d, x, macro_order=7, macro_cells=3, macro_rule="midpoint",
                                  fmm_eps=1e-8, estimator=est, samples=samples)
            sec = time.perf_counter() - t0
            err = float(np.sqrt(np.mean((r.phi - exact) ** 2)))
            rows.append({"method": f"fmm-hmm-inside-{est}", "eps": eps,
                         "n_sources": r.n_sources, "seconds": sec, "error": err,
                         "homogenization": hom})
            print(f"| {inv:g} | {est} | {sec:.2f} | {err:.2e} | {hom:.2e} | "
                  f"{err / eps**2:.3g} |", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eps", type=float, nargs="+", default=[4, 8, 16, 32],
                    help="1/eps values for all three methods")
    ap.add_argument("--hmm-eps", type=float, nargs="+", default=[64, 1000, 100000],
                    help="1/eps values for FMM-HMM only (resolved: too many sources)")
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--inside", type=int, default=100, help="targets inside the support")
    ap.add_argument("--out", default="bench_out/fmm")
    ap.add_argument("--skip-direct-above", type=float, default=32,
                    help="largest 1/eps for the direct sum")
    a = ap.parse_args()
    u = np.random.default_rng(0).normal(size=(3, a.targets))
    targets = 0.5 + 0.9 * u / np.linalg.norm(u, axis=0)
    print(f"# FMM-HMM vs resolved density ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, "
          f"{a.targets} targets)\n")
    print("| 1/eps | method | sources | seconds | of which the sum | max error vs exact | "
          "max |phi_eps - phi_0| |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    rows = []
    phi0 = G.averaged_potential(targets)
    pots = {"phi_0": phi0}
    for inv in sorted(set(a.eps) | set(a.hmm_eps)):
        eps = 1.0 / inv
        d = OscillatingDensity(G.q, eps, BOX)
        exact = G.potential(targets, eps)
        hom = float(np.max(np.abs(exact - phi0)))
        runs = [("fmm-hmm", lambda d=d: fmm_hmm_potential(
            d, targets, macro_order=24, macro_cells=1, macro_rule="midpoint", fmm_eps=1e-8))]
        if inv in a.eps:
            runs.append(("fmm-resolved",
                         lambda d=d: resolved_potential(d, targets, order=4, fmm_eps=1e-8)))
            if inv <= a.skip_direct_above:
                runs.append(("direct", lambda d=d: direct_potential(d, targets, order=4)))
        for name, fn in runs:
            t0 = time.perf_counter()
            r = fn()
            sec = time.perf_counter() - t0
            err = float(np.max(np.abs(r.phi - exact)))
            rows.append({"method": name, "eps": eps, "n_sources": r.n_sources,
                         "seconds": sec, "error": err, "homogenization": hom})
            print(f"| {inv:g} | {name} | {r.n_sources:,} | {sec:.3f} | {r.sum_seconds:.3f} | "
                  f"{err:.2e} | {hom:.2e} |", flush=True)
            if name == "fmm-hmm" and inv in a.eps:
                pots[f"phi_eps_{inv:g}"] = exact
    print("\n## Ratios measured in this run (seconds / seconds of fmm-hmm at the same eps)\n")
    print("| 1/eps | direct / fmm-hmm | fmm-resolved / fmm-hmm | sources resolved / hmm |")
    print("|---:|---:|---:|---:|")
    for inv in sorted(a.eps):
        by = {r["method"]: r for r in rows if r["eps"] == 1.0 / inv}
        h = by["fmm-hmm"]
        dr = by.get("direct")
        print(f"| {inv:g} | {dr['seconds'] / h['seconds']:.2g} |" if dr else f"| {inv:g} | - |",
              f"{by['fmm-resolved']['seconds'] / h['seconds']:.2g} | "
              f"{by['fmm-resolved']['n_sources'] / h['n_sources']:.2g} |")
    inside_rows = inside(a)
    rows += inside_rows
    paths = write_results(rows, a.out, "fmm_bench", targets=targets, potentials=pots,
                          meta={"sigma": G.sigma, "modes": G.modes,
                                "omp_threads": os.environ.get("OMP_NUM_THREADS")})
    png = plot_error_cost(rows, os.path.join(a.out, "fmm_bench.png"))
    print("\nwrote", ", ".join(map(str, (*paths, png))))


if __name__ == "__main__":
    main()
